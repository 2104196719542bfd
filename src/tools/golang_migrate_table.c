/*-------------------------------------------------------------------------
 *
 * golang_migrate_table.c
 *	  Sharing golang-migrate's tracking table, schema_migrations(version
 *	  bigint, dirty boolean), so that a team switching from golang-migrate
 *	  keeps its history, and golang-migrate still agrees with pg_migrate
 *	  afterwards.
 *
 * golang-migrate keeps one row: the version the database is at, every
 * migration up to it being applied, and whether that version is "dirty":
 * it writes (version, true) before running a migration and (version,
 * false) once it succeeded, so a dirty row means that a migration failed
 * half-way, and golang-migrate refuses to go on until someone has looked
 * (its "force" command clears the flag).  pg_migrate refuses as well.
 * Each write truncates the table and inserts the row (none for "no
 * version", after the first migration was rolled back); pg_migrate deletes
 * the rows and inserts the same one, which needs no lock that would stop
 * readers.  The table is looked for in the current schema, as
 * golang-migrate does (unless x-migrations-table says otherwise), and
 * created there before the first migration pg_migrate runs, as
 * golang-migrate creates it before running any.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "tools/tools.h"

#define COL_VERSION 0
#define COL_DIRTY 1

/* The table's one row, or none */
typedef struct GolangState
{
	bool		present;
	int64		version;
	List	   *rows;			/* as read, to delete them */
} GolangState;

static void golang_adopt(ToolTable *t, MigrationSet *set, const bool *applied);
static bool golang_record(ToolTable *t, const MigrationSet *set,
						  const Migration *m);
static bool golang_forget(ToolTable *t, const AppliedMigration *am);
static void golang_check(ToolTable *t);
static void golang_create(const char *schema, const char *name);

static const ToolTableSpec golang_table = {
	"golang-migrate", NULL, "schema_migrations",
	"(version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)",
	"version bigint and dirty boolean",
	true,
	2, {{"version", INT8OID}, {"dirty", BOOLOID}}
};

const ToolInterop golang_interop = {
	"golang-migrate", &golang_table, golang_create, golang_adopt, golang_record, golang_forget,
	golang_check
};

/*
 * Create the table as golang-migrate's postgres driver does before it runs
 * the first migration.  Type names are qualified, as the caller's
 * search_path might put others first; another session might create it
 * meanwhile: IF NOT EXISTS, and the caller checks what it finds.
 */
static void
golang_create(const char *schema, const char *name)
{
	spi_run(psprintf("CREATE TABLE IF NOT EXISTS %s ("
					 " version pg_catalog.int8 NOT NULL PRIMARY KEY,"
					 " dirty pg_catalog.bool NOT NULL)",
					 quote_qualified_identifier(schema, name)),
			0, NULL, NULL, NULL, SPI_OK_UTILITY);
}

/*
 * The version golang-migrate recorded, refusing a dirty one, and a table
 * of more than one row (golang-migrate would read any one of them).
 */
static GolangState
read_state(ToolTable *t)
{
	GolangState state = {false, 0, tool_table_rows(t)};
	ToolRow    *row;

	if (state.rows == NIL)
		return state;
	if (list_length(state.rows) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("golang-migrate's tracking table \"%s\" holds %d rows",
						t->qualified, list_length(state.rows)),
				 errdetail("golang-migrate keeps one row, holding the version the database is at, and would read any one of these."),
				 errhint("Delete every row but the one of the version the database is at.")));
	row = linitial(state.rows);
	/* both columns are NOT NULL as golang-migrate creates them */
	if (row->values[COL_VERSION] == NULL || row->values[COL_DIRTY] == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("golang-migrate's tracking table \"%s\" holds a null version or dirty flag",
						t->qualified),
				 errhint("Set the row to the version the database is at with UPDATE %s SET version = <that version>, dirty = false.",
						 t->qualified)));
	state.version = (int64) strtoll(row->values[COL_VERSION], NULL, 10);
	if (strcmp(row->values[COL_DIRTY], "t") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("golang-migrate's tracking table \"%s\" marks version %lld as dirty",
						t->qualified, (long long) state.version),
				 errdetail("golang-migrate marks a version dirty while a migration runs, and leaves it so when the migration fails: the database might hold part of migration %lld or of the one after it.",
						   (long long) state.version),
				 errhint("Find out what the failed migration changed, then complete or undo it by hand, and record the version the database is at, as golang-migrate's \"force\" command does, with UPDATE %s SET version = <that version>, dirty = false, or with DELETE FROM %s when no migration is applied.",
						 t->qualified, t->qualified)));
	/* golang-migrate writes no row for "no version", but reads -1 so */
	state.present = state.version >= 0;
	return state;
}

/* Replace the row by (version, false), or by none when !present */
static void
write_state(ToolTable *t, List *rows, bool present, int64 version)
{
	static const int columns[2] = {COL_VERSION, COL_DIRTY};
	static const Oid types[2] = {INT8OID, BOOLOID};
	Datum		values[2];
	ListCell   *lc;

	foreach(lc, rows)
		tool_table_delete(t, lfirst(lc));
	if (!present)
		return;
	values[0] = Int64GetDatum(version);
	values[1] = BoolGetDatum(false);
	tool_table_insert(t, 2, columns, types, values);
}

/* What golang-migrate applied: every migration up to its version */
static void
golang_adopt(ToolTable *t, MigrationSet *set, const bool *applied)
{
	GolangState state = read_state(t);

	for (int i = 0; state.present && i < set->count; i++)
	{
		int64		v;

		if (!applied[i] && tool_version_int64(set->items[i].version, &v) &&
			v <= state.version)
			set->items[i].adopted = true;
	}
}

/*
 * After m was applied, the table holds its version, as golang-migrate's
 * SetVersion() writes it; a migration applied out of order, below the
 * version already recorded, leaves it as it is.
 */
static bool
golang_record(ToolTable *t, const MigrationSet *set, const Migration *m)
{
	GolangState state = read_state(t);
	int64		v;

	if (!tool_version_int64(m->version, &v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("version %s of migration \"%s\" is out of range for golang-migrate's tracking table \"%s\"",
						m->version, m->name, t->qualified),
				 errhint("golang-migrate records versions as bigint; renumber the migration.")));
	if (state.present && v <= state.version)
		return false;
	write_state(t, state.rows, true, v);
	return true;
}

/*
 * After am was rolled back (and left migrate.migrations), the table holds
 * the highest version of golang-migrate migrations still applied, or no
 * row when none is: what golang-migrate's "down" writes.  It never goes
 * up: a version golang-migrate itself rolled back stays so.
 */
static bool
golang_forget(ToolTable *t, const AppliedMigration *am)
{
	GolangState state = read_state(t);
	bool		present = false;
	int64		version = 0;
	ListCell   *lc;

	if (!state.present)
		return false;
	foreach(lc, tracking_applied())
	{
		AppliedMigration *other = lfirst(lc);
		int64		v;

		if (other->format && strcmp(other->format, golang_format.name) == 0 &&
			tool_version_int64(other->version, &v) && (!present || v > version))
		{
			present = true;
			version = v;
		}
	}
	if (present && version >= state.version)
		return false;
	write_state(t, state.rows, present, version);
	return true;
}

/* Refuse a dirty version, or more than one row, as read_state() does */
static void
golang_check(ToolTable *t)
{
	(void) read_state(t);
}
