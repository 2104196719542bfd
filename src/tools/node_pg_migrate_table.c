/*-------------------------------------------------------------------------
 *
 * node_pg_migrate_table.c
 *	  Sharing node-pg-migrate's tracking table, pgmigrations(id, name,
 *	  run_on), so that a team switching from node-pg-migrate keeps its
 *	  history, and node-pg-migrate still agrees with pg_migrate afterwards.
 *
 * node-pg-migrate keeps one row per applied migration, holding its name
 * (the file name without extension) and when it ran; it inserts the row
 * in the migration's transaction ("INSERT ... (name, run_on) VALUES (...,
 * NOW())") and deletes the name's rows on rollback: pg_migrate does the
 * same.  Its legacy SQL loader names a ".up.sql" file "<name>.up": such a
 * row counts for the migration too.  The table is "pgmigrations" in schema
 * "public" (its --migrations-schema, else the first of its --schema, which
 * defaults to public), created before the first migration runs.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "tools/tools.h"

#define COL_NAME 1
#define COL_RUN_ON 2

static void npm_create(const char *schema, const char *name);
static void npm_adopt(ToolTable *t, MigrationSet *set, const bool *applied);
static bool npm_record(ToolTable *t, const MigrationSet *set,
					   const Migration *m);
static bool npm_forget(ToolTable *t, const AppliedMigration *am);

static const ToolTableSpec npm_table = {
	"node-pg-migrate", "public", "pgmigrations",
	"(id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)",
	"id serial, name varchar and run_on timestamp",
	true,
	3, {{"id", INT4OID}, {"name", VARCHAROID, TEXTOID}, {"run_on", TIMESTAMPOID}}
};

const ToolInterop node_pg_migrate_interop = {
	"node-pg-migrate", &npm_table, npm_create, npm_adopt, npm_record, npm_forget,
	NULL
};

/* As node-pg-migrate's ensureMigrationsTable() (types qualified) */
static void
npm_create(const char *schema, const char *name)
{
	spi_run(psprintf("CREATE TABLE IF NOT EXISTS %s ("
					 " id serial PRIMARY KEY,"
					 " name pg_catalog.varchar(255) NOT NULL,"
					 " run_on pg_catalog.timestamp NOT NULL)",
					 quote_qualified_identifier(schema, name)),
			0, NULL, NULL, NULL, SPI_OK_UTILITY);
}

/* What node-pg-migrate applied: the migrations whose name has a row */
static void
npm_adopt(ToolTable *t, MigrationSet *set, const bool *applied)
{
	List	   *names = keyed_rows_keys(t, COL_NAME);

	for (int i = 0; i < set->count; i++)
	{
		const Migration *m = &set->items[i];

		if (!applied[i] &&
			(string_list_member(names, m->name) ||
			 string_list_member(names, psprintf("%s.up", m->name))))
			set->items[i].adopted = true;
	}
}

/* The row node-pg-migrate inserts after running a migration up */
static bool
npm_record(ToolTable *t, const MigrationSet *set, const Migration *m)
{
	static const int columns[2] = {COL_NAME, COL_RUN_ON};
	static const Oid types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		values[2];

	if (string_list_member(keyed_rows_keys(t, COL_NAME),
						   psprintf("%s.up", m->name)))
		return false;
	values[0] = CStringGetTextDatum(m->name);
	values[1] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	return keyed_rows_record(t, COL_NAME, m->name, 2, columns, types, values);
}

/* node-pg-migrate's DELETE ... WHERE name = after running it down */
static bool
npm_forget(ToolTable *t, const AppliedMigration *am)
{
	bool		deleted = keyed_rows_forget(t, COL_NAME, am->name);

	return keyed_rows_forget(t, COL_NAME, psprintf("%s.up", am->name)) || deleted;
}
