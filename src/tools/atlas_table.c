/*-------------------------------------------------------------------------
 *
 * atlas_table.c
 *	  Sharing Atlas's revisions table, atlas_schema_revisions, so that a
 *	  team switching from Atlas keeps its history, and "atlas migrate
 *	  apply" still agrees with pg_migrate afterwards.
 *
 * Atlas keeps a row per migration it ran (version, description, type,
 * applied, total, executed_at, execution_time, error, error_stmt, hash,
 * partial_hashes, operator_version), in schema "atlas_schema_revisions"
 * unless its URL names a schema.  As Atlas reads it, the row of the highest
 * version decides: every file of a version up to it is applied, unless
 * that row ran fewer statements than the file holds (applied < total): the
 * migration failed half-way, and Atlas would resume it at the statement
 * that failed.  pg_migrate refuses to go on then, as for golang-migrate's
 * dirty flag.
 *
 * After each migration pg_migrate applies it writes the row Atlas writes
 * (type 2, "execute"; applied = total = its statements; hash, the file's
 * hash in atlas.sum), and deletes it on rollback, when the table exists;
 * Atlas creates the table itself when it first runs.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "tools/tools.h"

#define COL_VERSION 0
#define COL_DESCRIPTION 1
#define COL_TYPE 2
#define COL_APPLIED 3
#define COL_TOTAL 4
#define COL_EXECUTED_AT 5
#define COL_EXECUTION_TIME 6
#define COL_HASH 7
#define COL_OPERATOR 8

static void atlas_adopt(ToolTable *t, MigrationSet *set, const bool *applied);
static bool atlas_record(ToolTable *t, const MigrationSet *set,
						 const Migration *m);
static bool atlas_forget(ToolTable *t, const AppliedMigration *am);
static void atlas_check(ToolTable *t);

static const ToolTableSpec atlas_table = {
	"Atlas", "atlas_schema_revisions", "atlas_schema_revisions",
	"(version varchar NOT NULL PRIMARY KEY, description varchar NOT NULL,"
	" type bigint NOT NULL DEFAULT 2, applied bigint NOT NULL DEFAULT 0,"
	" total bigint NOT NULL DEFAULT 0, executed_at timestamptz NOT NULL,"
	" execution_time bigint NOT NULL, error text, error_stmt text,"
	" hash varchar NOT NULL, partial_hashes jsonb,"
	" operator_version varchar NOT NULL)",
	"version varchar, description varchar, type bigint, applied bigint, total bigint, executed_at timestamptz, execution_time bigint, hash varchar and operator_version varchar",
	true,
	9, {{"version", VARCHAROID, TEXTOID}, {"description", VARCHAROID, TEXTOID},
		{"type", INT8OID, INT4OID}, {"applied", INT8OID, INT4OID},
		{"total", INT8OID, INT4OID}, {"executed_at", TIMESTAMPTZOID},
		{"execution_time", INT8OID}, {"hash", VARCHAROID, TEXTOID},
	{"operator_version", VARCHAROID, TEXTOID}}
};

const ToolInterop atlas_interop = {
	"atlas", &atlas_table, NULL, atlas_adopt, atlas_record, atlas_forget,
	atlas_check
};

/*
 * The row of the highest version (Atlas orders them as strings), or NULL;
 * refused when it ran part of its migration only.
 */
static const ToolRow *
last_revision(ToolTable *t)
{
	const ToolRow *last = NULL;
	ListCell   *lc;

	foreach(lc, tool_table_rows(t))
	{
		const ToolRow *row = lfirst(lc);

		if (row->values[COL_VERSION] &&
			(last == NULL ||
			 strcmp(row->values[COL_VERSION], last->values[COL_VERSION]) > 0))
			last = row;
	}
	if (last && last->values[COL_APPLIED] && last->values[COL_TOTAL] &&
		strcmp(last->values[COL_APPLIED], last->values[COL_TOTAL]) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("Atlas's revisions table \"%s\" marks version %s as partly applied",
						t->qualified, last->values[COL_VERSION]),
				 errdetail("Atlas ran %s of its %s statements: the migration failed half-way, and the database might hold part of it.",
						   last->values[COL_APPLIED], last->values[COL_TOTAL]),
				 errhint("Complete or undo the migration by hand, then record where the database is with \"atlas migrate set\", or by setting the row's applied to its total, or deleting it.")));
	return last;
}

/* What Atlas applied: every migration up to its last revision's version */
static void
atlas_adopt(ToolTable *t, MigrationSet *set, const bool *applied)
{
	const ToolRow *last = last_revision(t);

	for (int i = 0; last && i < set->count; i++)
		if (!applied[i] &&
			strcmp(set->items[i].version, last->values[COL_VERSION]) <= 0)
			set->items[i].adopted = true;
}

/* The file's hash as atlas.sum records it */
static char *
sum_hash(const MigrationSet *set, const Migration *m)
{
	char	   *sum = folder_read_file(set->folder, "atlas.sum", false);
	size_t		len = strlen(m->up_file);

	for (char *line = sum; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
	{
		if (strncmp(line, m->up_file, len) == 0 && line[len] == ' ')
		{
			char	   *h = strstr(line, "h1:");

			if (h)
				return pnstrdup(h + 3, strcspn(h + 3, "\r\n"));
		}
	}
	return pstrdup("");
}

/* Atlas's Executor.writeRevision() after a migration that ran whole */
static bool
atlas_record(ToolTable *t, const MigrationSet *set, const Migration *m)
{
	static const int columns[9] = {COL_VERSION, COL_DESCRIPTION, COL_TYPE,
		COL_APPLIED, COL_TOTAL, COL_EXECUTED_AT, COL_EXECUTION_TIME, COL_HASH,
	COL_OPERATOR};
	static const Oid types[9] = {TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID,
	TIMESTAMPTZOID, INT8OID, TEXTOID, TEXTOID};
	Datum		values[9];
	Script		script;
	int			statements;
	const char *description = strchr(m->name, '_');
	ListCell   *lc;

	foreach(lc, tool_table_rows(t))
	{
		const ToolRow *row = lfirst(lc);

		if (row->values[COL_VERSION] &&
			strcmp(row->values[COL_VERSION], m->version) == 0)
			return false;
	}
	load_script(set, m->up_file, &script);
	statements = script_split(&script)->count;

	values[0] = CStringGetTextDatum(m->version);
	values[1] = CStringGetTextDatum(description ? description + 1 : "");
	values[2] = Int64GetDatum(2);	/* RevisionTypeExecute */
	values[3] = Int64GetDatum(statements);
	values[4] = Int64GetDatum(statements);
	values[5] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	values[6] = Int64GetDatum((GetCurrentTimestamp() -
							   GetCurrentTransactionStartTimestamp()) * 1000);
	values[7] = CStringGetTextDatum(sum_hash(set, m));
	values[8] = CStringGetTextDatum("pg_migrate");
	tool_table_insert(t, 9, columns, types, values);
	return true;
}

/* "atlas migrate down" deletes the version's revision */
static bool
atlas_forget(ToolTable *t, const AppliedMigration *am)
{
	return keyed_rows_forget(t, COL_VERSION, am->version);
}

/* Refuse a revision applied in part, before a rollback undoes anything */
static void
atlas_check(ToolTable *t)
{
	(void) last_revision(t);
}
