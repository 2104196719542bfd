/*-------------------------------------------------------------------------
 *
 * sqitch_table.c
 *	  Sqitch's registry (schema "sqitch": changes, tags, dependencies,
 *	  events, projects, releases), read so that a team switching from Sqitch
 *	  keeps its history; and Sqitch's verify scripts, run after each change
 *	  pg_migrate deploys.
 *
 * sqitch.changes holds a row per deployed change (change_id, script_hash,
 * change, project, note, committed_at, committer and planner names and
 * emails); "sqitch revert" deletes it.  A reworked change is deployed once
 * per instance, in plan order: the first k instances of a change in the
 * plan are deployed when the project's rows hold k rows of that change.
 * A row's script_hash, the SHA-1 of the deploy script as deployed, that
 * differs from the script's now is warned of.  pg_migrate only reads the
 * registry: Sqitch's rows carry change IDs computed from the whole plan
 * (parents, planners, notes) and events that only Sqitch writes.
 *
 * The verify script runs after the deploy script, in the migration's
 * transaction, in a subtransaction rolled back afterwards (Sqitch's verify
 * scripts end with ROLLBACK); its error fails the migration, which is then
 * not applied.  Its own "BEGIN" ... "ROLLBACK" (or "COMMIT") wrapper is
 * left out.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"

#include "exec/exec.h"
#include "tools/tools.h"
#include "util/compat.h"

#define COL_SCRIPT_HASH 0
#define COL_CHANGE 1
#define COL_PROJECT 2
#define COL_COMMITTED_AT 3

static void sqitch_adopt(ToolTable *t, MigrationSet *set, const bool *applied);
static void sqitch_verify(const MigrationSet *set, const Migration *m);

static const ToolTableSpec sqitch_table = {
	"Sqitch", "sqitch", "changes",
	"(change_id text PRIMARY KEY, script_hash text, change text NOT NULL,"
	" project text NOT NULL, note text NOT NULL DEFAULT '',"
	" committed_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	" committer_name text NOT NULL, committer_email text NOT NULL,"
	" planned_at timestamptz NOT NULL, planner_name text NOT NULL,"
	" planner_email text NOT NULL)",
	"change_id text, script_hash text, change text, project text, committed_at timestamptz and the committer's and planner's names, emails and times",
	false,
	4, {{"script_hash", TEXTOID, VARCHAROID}, {"change", TEXTOID, VARCHAROID},
	{"project", TEXTOID, VARCHAROID}, {"committed_at", TIMESTAMPTZOID}}
};

const ToolInterop sqitch_interop = {
	"sqitch", &sqitch_table, NULL, sqitch_adopt, NULL, NULL, NULL,
	sqitch_verify
};

/* The change a migration is an instance of: its name up to '@' */
static char *
change_of(const Migration *m)
{
	return pnstrdup(m->name, strcspn(m->name, "@"));
}

static int
compare_rows_by_time(const ListCell *a, const ListCell *b)
{
	const ToolRow *ra = lfirst(a);
	const ToolRow *rb = lfirst(b);

	return strcmp(ra->values[COL_COMMITTED_AT] ? ra->values[COL_COMMITTED_AT] : "",
				  rb->values[COL_COMMITTED_AT] ? rb->values[COL_COMMITTED_AT] : "");
}

/* A deployed script that is not what Sqitch deployed: say so */
static void
warn_if_changed(const ToolTable *t, const MigrationSet *set,
				const Migration *m, const ToolRow *row)
{
	char	   *sql;
	char		hash[41];

	if (row->values[COL_SCRIPT_HASH] == NULL)
		return;
	sql = folder_read_file(set->folder, m->up_file, false);
	if (compat_sha1_hex(sql, strlen(sql), hash) &&
		strcmp(hash, row->values[COL_SCRIPT_HASH]) != 0)
		ereport(WARNING,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("deploy script \"%s\" changed after Sqitch deployed it", m->up_file),
				 errdetail("Sqitch's registry \"%s\" records script hash %s, and the script's SHA-1 is %s now.",
						   t->qualified, row->values[COL_SCRIPT_HASH], hash),
				 errhint("pg_migrate records it as applied as the file is now; restore the script as it was deployed if it was not meant to change, or rework the change with \"sqitch rework\".")));
	pfree(sql);
}

/* What Sqitch deployed: per change, as many of its instances as rows */
static void
sqitch_adopt(ToolTable *t, MigrationSet *set, const bool *applied)
{
	char	   *project = sqitch_project(set);
	List	   *rows = NIL;
	ListCell   *lc;

	foreach(lc, tool_table_rows(t))
	{
		ToolRow    *row = lfirst(lc);

		if (row->values[COL_PROJECT] && row->values[COL_CHANGE] &&
			strcmp(row->values[COL_PROJECT], project) == 0)
			rows = lappend(rows, row);
	}
	list_sort(rows, compare_rows_by_time);

	/* the set is in plan order: the n-th instance takes the n-th row */
	for (int i = 0; i < set->count; i++)
	{
		Migration  *m = &set->items[i];
		char	   *change = change_of(m);
		int			instance = 0;
		int			n = 0;

		for (int k = 0; k < i; k++)
			if (strcmp(change_of(&set->items[k]), change) == 0)
				instance++;
		foreach(lc, rows)
		{
			ToolRow    *row = lfirst(lc);

			if (strcmp(row->values[COL_CHANGE], change) != 0 || n++ != instance)
				continue;
			if (!applied[i])
			{
				m->adopted = true;
				warn_if_changed(t, set, m, row);
			}
			break;
		}
	}
}

typedef struct VerifyCall
{
	const Script *script;
	const StatementList *statements;
} VerifyCall;

/* The verify script's statements; false: what they did is rolled back */
static bool
run_verify(void *arg)
{
	VerifyCall *call = arg;
	ExecReport	report;

	memset(&report, 0, sizeof(report));
	execute_script(call->script, call->statements, execute_spi_statement,
				   NULL, &report);
	return false;
}

/*
 * Run the change's verify script after its deploy script, in a
 * subtransaction rolled back afterwards; an error in it fails the
 * migration.
 */
static void
sqitch_verify(const MigrationSet *set, const Migration *m)
{
	Script		script;
	StatementList *all;
	StatementList run;
	VerifyCall	call;
	ErrorData  *edata;
	int			first = 0;
	int			last;

	script.file = sqitch_verify_file(m);
	script.sql = folder_read_file(set->folder, script.file, true);
	script.first_line = 1;
	if (script.sql == NULL)
		return;
	all = script_split(&script);
	last = all->count;
	if (last >= 2 && all->items[0].kind == STMT_WRAPPER_BEGIN)
	{
		char	   *end = script_statement_text(&script, &all->items[last - 1]);

		if (all->items[last - 1].kind == STMT_WRAPPER_COMMIT ||
			pg_strncasecmp(end + strspn(end, " \t\r\n"), "rollback", 8) == 0)
		{
			first = 1;
			last--;
		}
	}
	for (int i = first; i < last; i++)
		if (all->items[i].kind == STMT_TRANSACTION_CONTROL ||
			all->items[i].kind == STMT_WRAPPER_BEGIN ||
			all->items[i].kind == STMT_WRAPPER_COMMIT)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("verify script \"%s\" controls its transaction at line %d",
							script.file, all->items[i].line),
					 errdetail("pg_migrate runs a Sqitch verify script in the migration's transaction, and rolls back what it did; only a BEGIN at its start and a ROLLBACK or COMMIT at its end are left out."),
					 errhint("Remove the transaction control statement from the verify script.")));
	run.count = last - first;
	run.allocated = run.count;
	run.items = all->items + first;

	ereport(NOTICE,
			(errmsg("verifying migration \"%s\" with \"%s\"", m->name, script.file)));
	call.script = &script;
	call.statements = &run;
	edata = try_in_subtransaction_or_undo(run_verify, &call);
	if (edata)
		ReThrowError(edata);
}
