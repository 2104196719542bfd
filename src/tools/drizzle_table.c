/*-------------------------------------------------------------------------
 *
 * drizzle_table.c
 *	  Sharing drizzle-orm's own tracking table, drizzle.__drizzle_migrations,
 *	  so that an app still calling drizzle-orm's migrate() at startup and
 *	  pg_migrate agree on what is applied.
 *
 * drizzle-orm records each migration as (hash, created_at): the SHA-256 hex
 * of the whole .sql file and the journal entry's "when", and treats as
 * pending every entry whose "when" is greater than the largest created_at.
 * We write rows exactly so, and adopt the rows it wrote by hash.  Like
 * drizzle-orm's migrator, the first apply creates the schema and table
 * when they are missing.  tool_table.c checks the table before each use.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "tools/tools.h"

/* the columns of drizzle_table, by index */
#define COL_HASH 1
#define COL_CREATED_AT 2

static void drizzle_create(const char *schema, const char *name);
static void drizzle_adopt(ToolTable *t, MigrationSet *set, const bool *applied);
static bool drizzle_record(ToolTable *t, const MigrationSet *set,
						   const Migration *m);
static bool drizzle_forget(ToolTable *t, const AppliedMigration *am);

static const ToolTableSpec drizzle_table = {
	"drizzle-orm", "drizzle", "__drizzle_migrations",
	"(id serial PRIMARY KEY, hash text NOT NULL, created_at bigint)",
	"id serial, hash text and created_at bigint",
	true,
	3, {{"id", INT4OID}, {"hash", TEXTOID}, {"created_at", INT8OID}}
};

const ToolInterop drizzle_interop = {
	"drizzle", &drizzle_table, drizzle_create, drizzle_adopt, drizzle_record, drizzle_forget,
	NULL
};

/*
 * Create the schema and table as drizzle-orm's migrator does.  The type
 * names are qualified, as the caller's search_path might put another
 * "text" first.  Another session might create it meanwhile, whatever it
 * is: IF NOT EXISTS, and the caller checks what it finds afterwards.
 */
static void
drizzle_create(const char *schema, const char *name)
{
	spi_run(psprintf("CREATE SCHEMA IF NOT EXISTS %s", quote_identifier(schema)),
			0, NULL, NULL, NULL, SPI_OK_UTILITY);
	spi_run(psprintf("CREATE TABLE IF NOT EXISTS %s ("
					 " id serial PRIMARY KEY, hash pg_catalog.text NOT NULL,"
					 " created_at pg_catalog.int8)",
					 quote_qualified_identifier(schema, name)),
			0, NULL, NULL, NULL, SPI_OK_UTILITY);
}

/*
 * The hashes in drizzle-orm's table, or NIL when there is none: what its
 * migrator counts as applied (lifecycle.c warns from them).
 */
List *
drizzle_applied_hashes(void)
{
	ToolTable  *t = tool_table_open(&drizzle_table, false, NULL);
	List	   *hashes;

	if (t == NULL)
		return NIL;
	hashes = keyed_rows_keys(t, COL_HASH);
	tool_table_close(t);
	return hashes;
}

static const char *
migration_checksum(const Migration *m)
{
	return m->checksum;
}

/* What drizzle-orm's own migrator applied: the files of the hashes it wrote */
static void
drizzle_adopt(ToolTable *t, MigrationSet *set, const bool *applied)
{
	keyed_rows_adopt(t, COL_HASH, set, applied, migration_checksum);
}

/* Record an applied migration as drizzle-orm's migrator would */
static bool
drizzle_record(ToolTable *t, const MigrationSet *set, const Migration *m)
{
	static const int columns[2] = {COL_HASH, COL_CREATED_AT};
	static const Oid types[2] = {TEXTOID, INT8OID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(m->checksum);
	values[1] = Int64GetDatum(m->created_at);
	return keyed_rows_record(t, COL_HASH, m->checksum, 2, columns, types,
							 values);
}

/* Remove a rolled-back migration's row, so that drizzle-orm sees it pending */
static bool
drizzle_forget(ToolTable *t, const AppliedMigration *am)
{
	return keyed_rows_forget(t, COL_HASH, am->checksum);
}
