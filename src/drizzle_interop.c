/*-------------------------------------------------------------------------
 *
 * drizzle_interop.c
 *	  Sharing drizzle-orm's own tracking table, drizzle.__drizzle_migrations,
 *	  so that an app still calling drizzle-orm's migrate() at startup and
 *	  pg_migrate agree on what is applied.
 *
 * drizzle-orm records each migration as (hash, created_at): the SHA-256 hex
 * of the whole .sql file and the journal entry's "when", and treats as
 * pending every entry whose "when" is greater than the largest created_at.
 * We write rows exactly so, and adopt the rows it wrote by hash.  The table
 * belongs to the application, so it is read and written as the caller.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "pg_migrate.h"

static bool drizzle_table_exists(void);
static void run_query(const char *sql, int nargs, Oid *types, Datum *values,
					  int expected);

static void
run_query(const char *sql, int nargs, Oid *types, Datum *values, int expected)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL,
										   false, 0);

	/* SPI leaves us in its procedure context, which lives for the call */
	MemoryContextSwitchTo(cxt);
	if (rc != expected)
		elog(ERROR, "drizzle tracking query failed: %s", SPI_result_code_string(rc));
}

static bool
drizzle_table_exists(void)
{
	bool		exists;
	bool		isnull;

	run_query("SELECT pg_catalog.to_regclass('drizzle.__drizzle_migrations') IS NOT NULL",
			  0, NULL, NULL, SPI_OK_SELECT);
	exists = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return exists;
}

/* The hashes drizzle-orm (or we) recorded, or NIL when there is no table */
List *
drizzle_applied_hashes(void)
{
	List	   *hashes = NIL;

	if (!drizzle_table_exists())
		return NIL;
	run_query("SELECT hash FROM drizzle.__drizzle_migrations", 0, NULL, NULL,
			  SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
		hashes = lappend(hashes, SPI_getvalue(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 1));
	SPI_freetuptable(SPI_tuptable);
	return hashes;
}

/*
 * Record an applied migration as drizzle-orm's migrator would, creating its
 * schema and table as it does when they are missing.
 */
void
drizzle_record(const char *checksum, int64 created_at)
{
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];

	if (!drizzle_table_exists())
	{
		run_query("CREATE SCHEMA IF NOT EXISTS drizzle", 0, NULL, NULL, SPI_OK_UTILITY);
		run_query("CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations ("
				  " id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)",
				  0, NULL, NULL, SPI_OK_UTILITY);
	}
	values[0] = CStringGetTextDatum(checksum);
	values[1] = Int64GetDatum(created_at);
	run_query("INSERT INTO drizzle.__drizzle_migrations (hash, created_at) "
			  "SELECT $1, $2 WHERE NOT EXISTS (SELECT FROM drizzle.__drizzle_migrations"
			  " WHERE hash OPERATOR(pg_catalog.=) $1)",
			  2, types, values, SPI_OK_INSERT);
}

/* Remove a rolled-back migration's row, so that drizzle-orm sees it pending */
void
drizzle_forget(const char *checksum)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	if (!drizzle_table_exists())
		return;
	values[0] = CStringGetTextDatum(checksum);
	run_query("DELETE FROM drizzle.__drizzle_migrations WHERE hash OPERATOR(pg_catalog.=) $1",
			  1, types, values, SPI_OK_DELETE);
}
