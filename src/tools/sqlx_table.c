/*-------------------------------------------------------------------------
 *
 * sqlx_table.c
 *	  Sharing sqlx's tracking table, _sqlx_migrations, so that a team
 *	  switching from sqlx keeps its history, and sqlx's migrator (often run
 *	  by the application at startup) still agrees with pg_migrate.
 *
 * sqlx keeps one row per applied migration: (version, description,
 * installed_on, success, checksum, execution_time), the checksum being
 * the SHA-384 of the up script's file as bytes.  It inserts the row with
 * success true in the migration's transaction (execution_time -1, set to
 * the duration after the commit), and deletes it when it reverts the
 * migration.  A row with success false is a migration that failed
 * half-way (sqlx's older versions wrote one first): sqlx refuses to go on
 * ("dirty"), and pg_migrate refuses as well.  sqlx looks for the table in
 * the current schema, and creates it before running the first migration:
 * pg_migrate does the same.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "exec/exec.h"
#include "tools/tools.h"

#define COL_VERSION 0
#define COL_DESCRIPTION 1
#define COL_SUCCESS 2
#define COL_CHECKSUM 3
#define COL_EXECUTION_TIME 4

static void sqlx_create(const char *schema, const char *name);
static void sqlx_adopt(ToolTable *t, MigrationSet *set, const bool *applied);
static bool sqlx_record(ToolTable *t, const MigrationSet *set,
						const Migration *m);
static bool sqlx_forget(ToolTable *t, const AppliedMigration *am);
static void sqlx_check(ToolTable *t);

static const ToolTableSpec sqlx_table = {
	"sqlx", NULL, "_sqlx_migrations",
	"(version bigint PRIMARY KEY, description text NOT NULL,"
	" installed_on timestamptz NOT NULL DEFAULT now(),"
	" success boolean NOT NULL, checksum bytea NOT NULL,"
	" execution_time bigint NOT NULL)",
	"version bigint, description text, success boolean, checksum bytea and execution_time bigint",
	true,
	5, {{"version", INT8OID}, {"description", TEXTOID, VARCHAROID},
	{"success", BOOLOID}, {"checksum", BYTEAOID}, {"execution_time", INT8OID}}
};

const ToolInterop sqlx_interop = {
	"sqlx", &sqlx_table, sqlx_create, sqlx_adopt, sqlx_record, sqlx_forget,
	sqlx_check
};

/*
 * Create the table as sqlx's postgres driver does before it runs the
 * first migration (qualified type names and IF NOT EXISTS: see
 * golang_create).
 */
static void
sqlx_create(const char *schema, const char *name)
{
	spi_run(psprintf("CREATE TABLE IF NOT EXISTS %s ("
					 " version pg_catalog.int8 PRIMARY KEY,"
					 " description pg_catalog.text NOT NULL,"
					 " installed_on pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),"
					 " success pg_catalog.bool NOT NULL,"
					 " checksum pg_catalog.bytea NOT NULL,"
					 " execution_time pg_catalog.int8 NOT NULL)",
					 quote_qualified_identifier(schema, name)),
			0, NULL, NULL, NULL, SPI_OK_UTILITY);
}

/*
 * The table's rows, refusing one that failed, as sqlx's migrator does
 * (its error "Dirty").
 */
static List *
read_rows(ToolTable *t)
{
	List	   *rows = tool_table_rows(t);
	ListCell   *lc;

	foreach(lc, rows)
	{
		ToolRow    *row = lfirst(lc);

		if (row->values[COL_VERSION] && row->values[COL_SUCCESS] &&
			strcmp(row->values[COL_SUCCESS], "f") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("sqlx's tracking table \"%s\" marks version %s as dirty",
							t->qualified, row->values[COL_VERSION]),
					 errdetail("sqlx records success = false for a migration that failed half-way: the database might hold part of migration %s.",
							   row->values[COL_VERSION]),
					 errhint("Find out what the failed migration changed, then complete or undo it by hand, and record it as sqlx would: UPDATE %s SET success = true WHERE version = %s when it is applied now, or DELETE FROM %s WHERE version = %s when it is not.",
							 t->qualified, row->values[COL_VERSION],
							 t->qualified, row->values[COL_VERSION])));
	}
	return rows;
}

/* The row of a migration's version (compared as numbers), or NULL */
static const ToolRow *
row_of_version(List *rows, const char *version)
{
	ListCell   *lc;

	foreach(lc, rows)
	{
		const ToolRow *row = lfirst(lc);

		if (row->values[COL_VERSION] &&
			version_cmp(row->values[COL_VERSION], version) == 0)
			return row;
	}
	return NULL;
}

/*
 * sqlx's checksum of a migration's file, read again, as the table's output
 * shows a bytea; NULL when the file is no longer what the folder was
 * checked as (it changed meanwhile).
 */
static bytea *
file_checksum(const MigrationSet *set, const Migration *m)
{
	char	   *sql = folder_read_file(set->folder, m->up_file, false);
	char		sha[MIGRATE_CHECKSUM_LEN + 1];

	checksum_hex(sql, strlen(sql), sha);
	if (strcmp(sha, m->checksum) != 0)
		return NULL;
	return DatumGetByteaPP(DirectFunctionCall1(sha384_bytea,
											   PointerGetDatum(cstring_to_text(sql))));
}

/*
 * What sqlx applied: the versions with a row.  One whose file changed
 * since is adopted with a warning (sqlx's migrator would stop there), as
 * pg_migrate records the file as it is now.
 */
static void
sqlx_adopt(ToolTable *t, MigrationSet *set, const bool *applied)
{
	List	   *rows = read_rows(t);

	for (int i = 0; i < set->count; i++)
	{
		Migration  *m = &set->items[i];
		const ToolRow *row;
		bytea	   *sum;
		char	   *shown;

		if (applied[i] || (row = row_of_version(rows, m->version)) == NULL)
			continue;
		m->adopted = true;
		if (row->values[COL_CHECKSUM] == NULL ||
			(sum = file_checksum(set, m)) == NULL)
			continue;
		shown = DatumGetCString(DirectFunctionCall1(byteaout, PointerGetDatum(sum)));
		if (strcmp(shown, row->values[COL_CHECKSUM]) != 0)
			ereport(WARNING,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("migration \"%s\" changed after sqlx applied it", m->name),
					 errdetail("sqlx's tracking table \"%s\" records another checksum for version %s than the SHA-384 of file \"%s\" now.",
							   t->qualified, m->version, m->up_file),
					 errhint("pg_migrate records it as applied as the file is now, where sqlx would refuse it; restore the file as it was applied if it was not meant to change.")));
	}
}

/* sqlx's description of a migration: the name after the version, "_" as " " */
static char *
description(const Migration *m)
{
	const char *sep = strchr(m->name, '_');
	char	   *d = pstrdup(sep ? sep + 1 : "");

	for (char *p = d; *p; p++)
		if (*p == '_')
			*p = ' ';
	return d;
}

/* After m was applied: the row sqlx inserts in the migration's transaction */
static bool
sqlx_record(ToolTable *t, const MigrationSet *set, const Migration *m)
{
	static const int columns[5] = {COL_VERSION, COL_DESCRIPTION, COL_SUCCESS,
	COL_CHECKSUM, COL_EXECUTION_TIME};
	static const Oid types[5] = {INT8OID, TEXTOID, BOOLOID, BYTEAOID, INT8OID};
	Datum		values[5];
	bytea	   *sum;

	if (row_of_version(read_rows(t), m->version) != NULL)
		return false;
	sum = file_checksum(set, m);
	if (sum == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("migration file \"%s\" changed while it was applied", m->up_file),
				 errhint("Run the migrations again.")));
	values[0] = Int64GetDatum(strtoll(m->version, NULL, 10));
	values[1] = CStringGetTextDatum(description(m));
	values[2] = BoolGetDatum(true);
	values[3] = PointerGetDatum(sum);
	values[4] = Int64GetDatum(-1);
	tool_table_insert(t, 5, columns, types, values);
	return true;
}

/* sqlx's revert: the version's row goes */
static bool
sqlx_forget(ToolTable *t, const AppliedMigration *am)
{
	const ToolRow *row = row_of_version(read_rows(t), am->version);

	if (row == NULL)
		return false;
	tool_table_delete(t, row);
	return true;
}

/* Refuse a dirty version, as read_rows() does */
static void
sqlx_check(ToolTable *t)
{
	(void) read_rows(t);
}
