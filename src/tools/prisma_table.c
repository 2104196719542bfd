/*-------------------------------------------------------------------------
 *
 * prisma_table.c
 *	  Sharing Prisma Migrate's tracking table, _prisma_migrations, so that
 *	  a team switching from Prisma keeps its history, and "prisma migrate
 *	  deploy" still agrees with pg_migrate afterwards.
 *
 * Prisma logs each attempt at a migration as a row (id, checksum,
 * finished_at, migration_name, logs, rolled_back_at, started_at,
 * applied_steps_count): it inserts the row as the migration starts, and
 * sets finished_at once it succeeded.  A migration is applied when a row
 * of its name finished and was not rolled back.  A row that never finished
 * and was not rolled back is a failed migration, the database might hold
 * part of it: Prisma refuses to apply anything until someone resolved it
 * ("prisma migrate resolve --applied" or "--rolled-back", which sets
 * finished_at or rolled_back_at), and pg_migrate refuses as well, as it
 * does golang-migrate's dirty flag.
 *
 * The checksum is the SHA-256 hex of migration.sql, pg_migrate's own
 * checksum of the file, so pg_migrate writes the rows as Prisma does: a
 * finished row for each migration it applies, with a random UUID as id and
 * applied_steps_count 1; on rollback, the migration's rows are deleted, so
 * Prisma sees it pending.  Prisma looks for the table in the schema of its
 * connection URL ("?schema=", public by default), which is the current
 * schema as its connections set it, and creates it before the first
 * migration: pg_migrate does the same.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "exec/exec.h"
#include "tools/tools.h"

#define COL_ID 0
#define COL_CHECKSUM 1
#define COL_FINISHED_AT 2
#define COL_NAME 3
#define COL_ROLLED_BACK_AT 4
#define COL_STEPS 5

static void prisma_create(const char *schema, const char *name);
static void prisma_adopt(ToolTable *t, MigrationSet *set, const bool *applied);
static bool prisma_record(ToolTable *t, const MigrationSet *set,
						  const Migration *m);
static bool prisma_forget(ToolTable *t, const AppliedMigration *am);
static void prisma_check(ToolTable *t);

static const ToolTableSpec prisma_table = {
	"Prisma", NULL, "_prisma_migrations",
	"(id varchar(36) PRIMARY KEY NOT NULL, checksum varchar(64) NOT NULL,"
	" finished_at timestamptz, migration_name varchar(255) NOT NULL,"
	" logs text, rolled_back_at timestamptz,"
	" started_at timestamptz NOT NULL DEFAULT now(),"
	" applied_steps_count integer NOT NULL DEFAULT 0)",
	"id varchar, checksum varchar, finished_at timestamptz, migration_name varchar, rolled_back_at timestamptz and applied_steps_count integer",
	true,
	6, {{"id", VARCHAROID, TEXTOID}, {"checksum", VARCHAROID, TEXTOID},
	{"finished_at", TIMESTAMPTZOID, TIMESTAMPOID},
	{"migration_name", VARCHAROID, TEXTOID},
	{"rolled_back_at", TIMESTAMPTZOID, TIMESTAMPOID},
	{"applied_steps_count", INT4OID}}
};

const ToolInterop prisma_interop = {
	"prisma", &prisma_table, prisma_create, prisma_adopt, prisma_record,
	prisma_forget, prisma_check
};

/*
 * Create the table as Prisma's schema engine does before it applies the
 * first migration (qualified type names and IF NOT EXISTS: see
 * golang_create).
 */
static void
prisma_create(const char *schema, const char *name)
{
	spi_run(psprintf("CREATE TABLE IF NOT EXISTS %s ("
					 " id pg_catalog.varchar(36) PRIMARY KEY NOT NULL,"
					 " checksum pg_catalog.varchar(64) NOT NULL,"
					 " finished_at pg_catalog.timestamptz,"
					 " migration_name pg_catalog.varchar(255) NOT NULL,"
					 " logs pg_catalog.text,"
					 " rolled_back_at pg_catalog.timestamptz,"
					 " started_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),"
					 " applied_steps_count pg_catalog.int4 NOT NULL DEFAULT 0)",
					 quote_qualified_identifier(schema, name)),
			0, NULL, NULL, NULL, SPI_OK_UTILITY);
}

static bool
row_applied(const ToolRow *row)
{
	return row->values[COL_NAME] && row->values[COL_FINISHED_AT] &&
		row->values[COL_ROLLED_BACK_AT] == NULL;
}

/*
 * The table's rows, refusing one of a migration that failed and was not
 * resolved, as "prisma migrate deploy" does (its error P3009).
 */
static List *
read_rows(ToolTable *t)
{
	List	   *rows = tool_table_rows(t);
	ListCell   *lc;

	foreach(lc, rows)
	{
		ToolRow    *row = lfirst(lc);
		const char *name = row->values[COL_NAME] ? row->values[COL_NAME] : "";

		if (row->values[COL_FINISHED_AT] == NULL &&
			row->values[COL_ROLLED_BACK_AT] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("Prisma's tracking table \"%s\" records migration \"%s\" as failed",
							t->qualified, name),
					 errdetail("Prisma records a migration as it starts and marks it finished once it succeeded: the database might hold part of migration \"%s\".",
							   name),
					 errhint("Find out what the failed migration changed, complete or undo it by hand, then resolve it as Prisma's \"migrate resolve\" does: UPDATE %s SET finished_at = now() WHERE migration_name = %s AND finished_at IS NULL when it is now applied, or SET rolled_back_at = now() when it is not.",
							 t->qualified, quote_literal_cstr(name))));
	}
	return rows;
}

/*
 * Whether sql matches Prisma's checksum: Prisma also accepts the file with
 * its line breaks as the other system writes them.
 */
static bool
checksum_matches(const char *sql, const char *recorded)
{
	char		sum[MIGRATE_CHECKSUM_LEN + 1];
	StringInfoData lf,
				crlf;

	checksum_hex(sql, strlen(sql), sum);
	if (strcmp(sum, recorded) == 0)
		return true;
	initStringInfo(&lf);
	initStringInfo(&crlf);
	for (const char *p = sql; *p; p++)
	{
		if (!(p[0] == '\r' && p[1] == '\n'))
			appendStringInfoChar(&lf, *p);
		if (*p == '\n')
			appendStringInfoChar(&crlf, '\r');
		appendStringInfoChar(&crlf, *p);
	}
	checksum_hex(lf.data, lf.len, sum);
	if (strcmp(sum, recorded) == 0)
		return true;
	checksum_hex(crlf.data, crlf.len, sum);
	return strcmp(sum, recorded) == 0;
}

/*
 * What Prisma applied: the migrations with a finished row.  One whose file
 * changed since is adopted with a warning, as pg_migrate records the file
 * as it is now ("prisma migrate dev" would ask to reset the database).
 */
static void
prisma_adopt(ToolTable *t, MigrationSet *set, const bool *applied)
{
	List	   *rows = read_rows(t);

	for (int i = 0; i < set->count; i++)
	{
		Migration  *m = &set->items[i];
		const ToolRow *found = NULL;
		ListCell   *lc;

		if (applied[i])
			continue;
		foreach(lc, rows)
		{
			const ToolRow *row = lfirst(lc);

			if (row_applied(row) && strcmp(row->values[COL_NAME], m->name) == 0)
				found = row;
		}
		if (found == NULL)
			continue;
		m->adopted = true;
		if (found->values[COL_CHECKSUM] &&
			strcmp(found->values[COL_CHECKSUM], m->checksum) != 0 &&
			!checksum_matches(folder_read_file(set->folder, m->up_file, false),
							  found->values[COL_CHECKSUM]))
			ereport(WARNING,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("migration \"%s\" changed after Prisma applied it", m->name),
					 errdetail("Prisma's tracking table \"%s\" records checksum %s, and file \"%s\" has checksum %s now.",
							   t->qualified, found->values[COL_CHECKSUM], m->up_file,
							   m->checksum),
					 errhint("pg_migrate records it as applied as the file is now; restore the file as it was applied if it was not meant to change.")));
	}
}

/* A version 4 UUID, as Prisma gives each row */
static char *
random_uuid(void)
{
	uint8		b[16];

	if (!pg_strong_random(b, sizeof(b)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random UUID")));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	return psprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
					b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
					b[10], b[11], b[12], b[13], b[14], b[15]);
}

/*
 * After m was applied: a finished row, as Prisma's schema engine leaves it
 * (started_at takes its default), unless one records it applied already.
 */
static bool
prisma_record(ToolTable *t, const MigrationSet *set, const Migration *m)
{
	static const int columns[5] = {COL_ID, COL_CHECKSUM, COL_FINISHED_AT,
	COL_NAME, COL_STEPS};
	static const Oid types[5] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID,
	INT4OID};
	Datum		values[5];
	ListCell   *lc;

	foreach(lc, read_rows(t))
	{
		const ToolRow *row = lfirst(lc);

		if (row_applied(row) && strcmp(row->values[COL_NAME], m->name) == 0)
			return false;
	}
	values[0] = CStringGetTextDatum(random_uuid());
	values[1] = CStringGetTextDatum(m->checksum);
	values[2] = TimestampTzGetDatum(GetCurrentTimestamp());
	values[3] = CStringGetTextDatum(m->name);
	values[4] = Int32GetDatum(1);
	tool_table_insert(t, 5, columns, types, values);
	return true;
}

/* After a rollback, the migration's rows go: Prisma sees it pending */
static bool
prisma_forget(ToolTable *t, const AppliedMigration *am)
{
	(void) read_rows(t);
	return keyed_rows_forget(t, COL_NAME, am->name);
}

/* Refuse a failed migration not resolved, as read_rows() does */
static void
prisma_check(ToolTable *t)
{
	(void) read_rows(t);
}
