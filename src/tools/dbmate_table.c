/*-------------------------------------------------------------------------
 *
 * dbmate_table.c
 *	  Sharing dbmate's tracking table, schema_migrations(version), so that a
 *	  team switching from dbmate keeps its history, and dbmate still agrees
 *	  with pg_migrate afterwards.
 *
 * dbmate keeps one row per applied migration, holding the leading digits
 * of its file name as written ("20240101120000"), and compares them as
 * strings.  It inserts the row in the migration's transaction and deletes
 * it on rollback; pg_migrate does the same.  dbmate looks for the table in
 * the current schema (or the first schema of its URL's search_path, or
 * the schema given with --migrations-table), and creates it before it
 * runs the first migration: pg_migrate does the same.
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

#define COL_VERSION 0

static void dbmate_adopt(ToolTable *t, MigrationSet *set, const bool *applied);
static bool dbmate_record(ToolTable *t, const MigrationSet *set,
						  const Migration *m);
static bool dbmate_forget(ToolTable *t, const AppliedMigration *am);
static void dbmate_create(const char *schema, const char *name);

static const ToolTableSpec dbmate_table = {
	"dbmate", NULL, "schema_migrations",
	"(version varchar PRIMARY KEY)",
	"version varchar",
	true,
	1, {{"version", VARCHAROID, TEXTOID}}
};

const ToolInterop dbmate_interop = {
	"dbmate", &dbmate_table, dbmate_create, dbmate_adopt, dbmate_record, dbmate_forget, NULL
};

/*
 * Create the table as dbmate's postgres driver does before it runs the
 * first migration (qualified type names and IF NOT EXISTS: see
 * golang_create).
 */
static void
dbmate_create(const char *schema, const char *name)
{
	spi_run(psprintf("CREATE TABLE IF NOT EXISTS %s ("
					 " version pg_catalog.varchar(128) PRIMARY KEY)",
					 quote_qualified_identifier(schema, name)),
			0, NULL, NULL, NULL, SPI_OK_UTILITY);
}

static const char *
migration_version(const Migration *m)
{
	return m->version;
}

/* What dbmate applied: the migrations whose version has a row */
static void
dbmate_adopt(ToolTable *t, MigrationSet *set, const bool *applied)
{
	keyed_rows_adopt(t, COL_VERSION, set, applied, migration_version);
}

/* dbmate's InsertMigration(): a row for the version */
static bool
dbmate_record(ToolTable *t, const MigrationSet *set, const Migration *m)
{
	static const int columns[1] = {COL_VERSION};
	static const Oid types[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(m->version);
	return keyed_rows_record(t, COL_VERSION, m->version, 1, columns, types,
							 values);
}

/* dbmate's DeleteMigration(): the version's row goes */
static bool
dbmate_forget(ToolTable *t, const AppliedMigration *am)
{
	return keyed_rows_forget(t, COL_VERSION, am->version);
}
