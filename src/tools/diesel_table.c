/*-------------------------------------------------------------------------
 *
 * diesel_table.c
 *	  Sharing Diesel's tracking table, __diesel_schema_migrations(version,
 *	  run_on), so that a team switching from Diesel keeps its history, and
 *	  Diesel (often run by the application at startup, with
 *	  embed_migrations!) still agrees with pg_migrate afterwards.
 *
 * Diesel keeps one row per applied migration, holding its version (the
 * folder's name up to the first "_", without dashes) as a string; it
 * inserts the row in the migration's transaction and deletes it on revert,
 * and pg_migrate does the same.  Diesel looks for the table in the current
 * schema, and creates it before running the first migration: pg_migrate
 * does the same.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "exec/exec.h"
#include "tools/tools.h"

#define COL_VERSION 0

static void diesel_create(const char *schema, const char *name);
static void diesel_adopt(ToolTable *t, MigrationSet *set, const bool *applied);
static bool diesel_record(ToolTable *t, const MigrationSet *set,
						  const Migration *m);
static bool diesel_forget(ToolTable *t, const AppliedMigration *am);

static const ToolTableSpec diesel_table = {
	"Diesel", NULL, "__diesel_schema_migrations",
	"(version varchar(50) PRIMARY KEY NOT NULL,"
	" run_on timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP)",
	"version varchar",
	true,
	1, {{"version", VARCHAROID, TEXTOID}}
};

const ToolInterop diesel_interop = {
	"diesel", &diesel_table, diesel_create, diesel_adopt, diesel_record,
	diesel_forget, NULL
};

/*
 * Create the table as Diesel's migration harness does before it runs the
 * first migration (qualified type names and IF NOT EXISTS: see
 * golang_create).
 */
static void
diesel_create(const char *schema, const char *name)
{
	spi_run(psprintf("CREATE TABLE IF NOT EXISTS %s ("
					 " version pg_catalog.varchar(50) PRIMARY KEY NOT NULL,"
					 " run_on pg_catalog.timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP)",
					 quote_qualified_identifier(schema, name)),
			0, NULL, NULL, NULL, SPI_OK_UTILITY);
}

/* Diesel's version of m, as its row holds it (m->version may be padded) */
static const char *
migration_version(const Migration *m)
{
	return diesel_version(m->name);
}

/* What Diesel applied: the migrations whose version has a row */
static void
diesel_adopt(ToolTable *t, MigrationSet *set, const bool *applied)
{
	keyed_rows_adopt(t, COL_VERSION, set, applied, migration_version);
}

/* Diesel's record of an applied migration: a row for its version */
static bool
diesel_record(ToolTable *t, const MigrationSet *set, const Migration *m)
{
	static const int columns[1] = {COL_VERSION};
	static const Oid types[1] = {TEXTOID};
	Datum		values[1];
	const char *version = migration_version(m);

	values[0] = CStringGetTextDatum(version);
	return keyed_rows_record(t, COL_VERSION, version, 1, columns, types,
							 values);
}

/* Diesel's revert: the version's row goes */
static bool
diesel_forget(ToolTable *t, const AppliedMigration *am)
{
	return keyed_rows_forget(t, COL_VERSION, diesel_version(am->name));
}
