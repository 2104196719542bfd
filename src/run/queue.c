/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  What apply and run do before running anything: compare the folder
 *	  with the tracking table, check every pending script, and find what
 *	  this run will execute (up to a target, refusing what failed before).
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "util/compat.h"
#include "run/run.h"

/*
 * The index of the last migration a run with target may run: the target,
 * named by its name or its version; the last of the folder without one.
 */
static int
target_index(const MigrationSet *set, const bool *is_applied, const char *target)
{
	const Migration *named;
	int			found = -1;

	if (target == NULL)
		return set->count - 1;

	/*
	 * A name names one migration, whatever the versions: date-named files
	 * ("2019-01-01-000001_a", "2019-01-02-000001_b") share version 2019.
	 */
	named = source_find(set, target);
	if (named)
		found = named - set->items;
	for (int i = 0; i < set->count && found < 0; i++)
	{
		const Migration *m = &set->items[i];

		if (!m->repeatable && version_cmp(m->version, target) == 0 &&
			isdigit((unsigned char) target[0]))
		{
			if (i + 1 < set->count && !set->items[i + 1].repeatable &&
				version_cmp(set->items[i + 1].version, target) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("target \"%s\" names more than one migration", target),
						 errdetail("Migrations \"%s\" and \"%s\" both have version %s.",
								   m->name, set->items[i + 1].name, m->version),
						 errhint("Name the target migration by its name.")));
			found = i;
		}
	}
	if (found < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("target migration \"%s\" is not in folder \"%s\"",
						target, set->dir),
				 errhint("Give the name (file stem) or the version of a migration of the folder.")));
	for (int i = found + 1; i < set->count; i++)
		if (is_applied[i] && !set->items[i].repeatable)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("target migration \"%s\" is behind migrations already applied",
							set->items[found].name),
					 errdetail("Migration \"%s\", after it, is applied.",
							   set->items[i].name),
					 errhint("To go back to \"%s\", roll back what came after it with migrate.rollback().",
							 set->items[found].name)));
	return found;
}

/* applied_set_load()'s check: drift refused (or warned of) first */
static void
check_drift_of(const MigrationSet *set, List *applied, void *arg)
{
	check_drift(set, applied, ((const RunOptions *) arg)->allow_drift);
}

/*
 * Everything apply and run check before running anything: the folder, the
 * drift, and every pending script parsed and checked (see preflight.c).  The
 * problems of all files are collected and reported together; only
 * parsing and checking run between a problem's PG_TRY and its catch, so
 * nothing but memory needs cleaning up and no subtransaction is needed.
 */
void
run_queue_prepare(RunQueue *queue, const Folder *folder,
				  const RunOptions *opts, RunMode mode)
{
	AppliedSet	as;
	List	   *volatile problems = NIL;
	MemoryContext cxt = CurrentMemoryContext;

	applied_set_load(&as, folder, opts->format, NOTICE, check_drift_of,
					 (void *) opts);
	queue->set = as.set;
	queue->is_applied = as.is_applied;
	queue->failed = failed_by_index(queue->set);
	queue->last = target_index(queue->set, queue->is_applied, opts->target);
	queue->per_migration = AllocSetContextCreate(CurrentMemoryContext,
												"pg_migrate migration",
												ALLOCSET_DEFAULT_SIZES);

	for (int i = 0; i <= queue->last; i++)
	{
		Migration  *m = &queue->set->items[i];
		LoadedMigration lm;

		if (queue->is_applied[i])
			continue;
		MemoryContextSwitchTo(queue->per_migration);
		migration_load(queue->set, m, &lm, true);
		plain_note_down_file(queue->set, m);
		PG_TRY();
		{
			check_pending(queue->set, m, &lm, mode == MODE_APPLY);
		}
		PG_CATCH();
		{
			CheckProblem *p;

			MemoryContextSwitchTo(cxt);
			p = palloc(sizeof(CheckProblem));
			p->file = m->up_file;
			p->line = script_check_line();
			p->edata = CopyErrorData();
			FlushErrorState();
			problems = lappend(problems, p);
		}
		PG_END_TRY();
		MemoryContextSwitchTo(cxt);
		MemoryContextReset(queue->per_migration);
	}
	report_problems(queue->set, problems);

	/*
	 * What changed outside migrations before this run stays drift after
	 * it: the fingerprint taken after the run keeps those objects' rows.
	 * What another tool applied (adopted now) is a migration's work, and
	 * the fingerprint then takes the whole schema.
	 */
	queue->runs_any = false;
	queue->adopts = false;
	for (int i = 0; i <= queue->last; i++)
	{
		if (queue->is_applied[i])
			continue;
		queue->runs_any = true;
		queue->adopts |= queue->set->items[i].adopted;
	}
	queue->drifted = queue->runs_any && !queue->adopts ? fingerprint_drift() : NIL;
	/* what the adopted migrations did, no log row says */
	queue->log_position = queue->runs_any && !queue->adopts ?
		fingerprint_log_position() : -1;
}

/*
 * The fingerprint after a run that applied or adopted migrations: after
 * apply's last one, in its transaction; in run(), in the transaction of
 * each migration, and in that which records a failure (a no-transaction
 * migration's statements that the worker committed stay).  Of the
 * schemas the migrations since the last take touched, where the DDL log
 * can tell.
 */
void
run_queue_fingerprint(RunQueue *queue)
{
	if (queue->runs_any)
		fingerprint_take_since(queue->drifted, &queue->log_position);
}

/*
 * Words of statements whose effect on the fingerprinted objects no DDL log
 * row records: REASSIGN OWNED and DROP OWNED (owners and privileges), ALTER
 * ROLE, USER or GROUP (a renamed role is in every owner and privilege it
 * has), and what turns the log off (ALTER EVENT TRIGGER,
 * session_replication_role, event_triggers, migrate.ddl_policy).  A space
 * stands for any white space.
 */
static const char *const unlogged_words[] = {
	"reassign owned", "drop owned", "alter role", "alter user", "alter group",
	"event trigger", "session_replication_role", "event_triggers",
	"ddl_policy"
};

/* Whether word, its spaces any run of white space, is at s (any case) */
static bool
word_at(const char *s, const char *word)
{
	for (; *word; word++)
	{
		if (*word == ' ')
		{
			if (!isspace((unsigned char) *s))
				return false;
			while (isspace((unsigned char) *s))
				s++;
		}
		else if (pg_tolower((unsigned char) *s++) != *word)
			return false;
	}
	return true;
}

/*
 * Whether a migration's script may change what the fingerprint holds
 * without a DDL log row saying where: then the fingerprint after it reads
 * every schema.  Read in the whole text, comments, DO blocks and function
 * bodies included, since EXECUTE can run anything: a word too many only
 * costs a whole read.
 */
bool
script_may_bypass_log(const Script *script)
{
	for (const char *s = script->sql; s && *s; s++)
	{
		char		c = pg_tolower((unsigned char) *s);

		for (int i = 0; i < lengthof(unlogged_words); i++)
			if (c == unlogged_words[i][0] && word_at(s, unlogged_words[i]))
				return true;
	}
	return false;
}

void
emit(ResultSink *sink, const char *name, const char *action, int64 duration_us)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = duration_us;
	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(action);
	values[2] = IntervalPGetDatum(iv);
	tuplestore_putvalues(sink->store, sink->desc, values, nulls);
}
