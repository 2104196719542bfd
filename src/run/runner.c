/*-------------------------------------------------------------------------
 *
 * runner.c
 *	  What apply, status and rollback do: compare a folder with the
 *	  tracking table, check everything that can be checked before running
 *	  anything, then run the scripts in order and record them.
 *
 * All of it runs inside one SPI connection opened by the caller
 * (functions.c); each migration's scripts are read and parsed in a memory
 * context reset after it, so memory does not grow with their number.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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

#include "compat.h"

#include "pg_migrate.h"

typedef struct RunPlan
{
	MigrationSet *set;
	bool	   *is_applied;		/* by index in set */
	FailedMigration **failed;	/* by index: its latest attempt, if failed */
	int			last;			/* index of the last migration to run */
	MemoryContext per_migration;	/* reset after each migration */
} RunPlan;

/* How a migration's up script is run */
typedef enum RunMode
{
	MODE_APPLY,					/* in the caller's transaction: apply() */
	MODE_RUN					/* in a transaction of its own, or the worker */
} RunMode;

static FailedMigration **failed_by_index(const MigrationSet *set);
static int	target_index(const MigrationSet *set, const bool *is_applied,
						 const char *target);
static bool transient_failure(const char *sqlstate);
static void refuse_failed_again(const Migration *m, const FailedMigration *f,
								bool retry, RunMode mode);
static Script down_script(const AppliedMigration *am, bool commits,
						  bool *no_transaction);
static StatementList *prepare_down(const Script *down, bool no_transaction);
static List *rollback_targets(const char *name, bool commits);
static void rollback_migrations(const char *name);
static void emit(ResultSink *sink, const char *name, const char *action,
				 int64 duration_us);
static void execute_in_transaction(const Script *script,
								   const StatementList *stmts,
								   bool retry_statements);
static void deferred_constraints_callback(void *arg);
static void check_deferred_constraints(const Migration *m);
static int64 apply_one(const MigrationSet *set, const Migration *m,
					   const LoadedMigration *lm, RunMode mode);
static int	compare_status_rows(const void *a, const void *b);

/*
 * Which of the folder's migrations are applied, by index.  Marks those
 * that the format's own tool recorded in its table as adopted.
 */
bool *
applied_flags(MigrationSet *set, List *applied)
{
	bool	   *flags = palloc0(sizeof(bool) * Max(set->count, 1));
	ListCell   *lc;

	foreach(lc, applied)
	{
		AppliedMigration *am = lfirst(lc);
		Migration  *m = source_find(set, am->name);

		/* a repeatable migration is pending again once it changed */
		if (m && !(m->repeatable && strcmp(m->checksum, am->checksum) != 0))
			flags[m - set->items] = true;
	}

	/* what the tool itself applied (drizzle-orm, dbmate...) counts too */
	interop_adopt(set, flags);
	return flags;
}

static void
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

/* The latest failed attempt of each of the folder's migrations, by index */
static FailedMigration **
failed_by_index(const MigrationSet *set)
{
	FailedMigration **failed = palloc0(sizeof(FailedMigration *) * Max(set->count, 1));
	ListCell   *lc;

	foreach(lc, tracking_failures())
	{
		FailedMigration *f = lfirst(lc);
		Migration  *m = source_find(set, f->name);

		if (m)
			failed[m - set->items] = f;
	}
	return failed;
}

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

/*
 * Failures a migration gets over by itself when run again: a lock or
 * statement that timed out or was cancelled, a deadlock, a serialization
 * failure, a shutdown, a lost connection, no free worker slot.
 */
static bool
transient_failure(const char *sqlstate)
{
	static const char *const codes[] = {"55P03", "40P01", "40001", "57014"};

	if (sqlstate == NULL)
		return true;
	for (int i = 0; i < lengthof(codes); i++)
		if (strcmp(sqlstate, codes[i]) == 0)
			return true;
	return strncmp(sqlstate, "57P", 3) == 0 || strncmp(sqlstate, "08", 2) == 0 ||
		strncmp(sqlstate, "53", 2) == 0;
}

/*
 * Refuse to run again a migration whose latest attempt failed, while its
 * file is unchanged: a scheduled run would otherwise execute it, take its
 * locks and fail the same way every time.  The refusal is logged once,
 * not at every attempt.  Transient failures are retried by themselves.
 */
static void
refuse_failed_again(const Migration *m, const FailedMigration *f, bool retry,
					RunMode mode)
{
	if (f == NULL || retry || f->checksum == NULL ||
		strcmp(f->checksum, m->checksum) != 0 || transient_failure(f->sqlstate))
		return;
	if (mode == MODE_RUN && !f->refusal_logged)
	{
		tracking_record_action("refused", m->name, m->checksum);
		COMPAT_SPI_COMMIT();
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("migration \"%s\" failed before and its file has not changed", m->name),
			 f->line > 0 ?
			 errdetail_plural("It failed at %s in file \"%s\", line %d, with SQLSTATE %s: %s (%d attempt).",
							  "It failed at %s in file \"%s\", line %d, with SQLSTATE %s: %s (%d attempts in a row).",
							  f->attempts, timestamptz_to_str(f->failed_at),
							  f->file ? f->file : m->up_file, f->line,
							  f->sqlstate, f->message, f->attempts) :
			 errdetail_plural("It failed at %s in file \"%s\" with SQLSTATE %s: %s (%d attempt).",
							  "It failed at %s in file \"%s\" with SQLSTATE %s: %s (%d attempts in a row).",
							  f->attempts, timestamptz_to_str(f->failed_at),
							  f->file ? f->file : m->up_file,
							  f->sqlstate, f->message, f->attempts),
			 errhint("Fix the file and run again; to run it again as it is, call migrate.retry('%s') or pass retry => true.",
					 m->name)));
}

/*
 * Everything apply and run check before running anything: the folder, the
 * drift, and every pending script parsed and checked (see checks.c).  The
 * problems of all files are collected and reported together; only
 * parsing and checking run between a problem's PG_TRY and its catch, so
 * nothing but memory needs cleaning up and no subtransaction is needed.
 */
static void
plan_run(RunPlan *plan, const Folder *folder, const RunOptions *opts,
		 RunMode mode)
{
	List	   *applied;
	List	   *volatile problems = NIL;
	MemoryContext cxt = CurrentMemoryContext;

	plan->set = source_load(folder, opts->format, NOTICE);
	applied = tracking_applied();
	check_drift(plan->set, applied, opts->allow_drift);
	plan->is_applied = applied_flags(plan->set, applied);
	plan->failed = failed_by_index(plan->set);
	plan->last = target_index(plan->set, plan->is_applied, opts->target);
	plan->per_migration = AllocSetContextCreate(CurrentMemoryContext,
												"pg_migrate migration",
												ALLOCSET_DEFAULT_SIZES);

	for (int i = 0; i <= plan->last; i++)
	{
		Migration  *m = &plan->set->items[i];
		LoadedMigration lm;

		if (plan->is_applied[i])
			continue;
		MemoryContextSwitchTo(plan->per_migration);
		migration_load(plan->set, m, &lm, true);
		plain_note_down_file(plan->set, m);
		PG_TRY();
		{
			check_pending(plan->set, m, &lm, mode == MODE_APPLY);
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
		MemoryContextReset(plan->per_migration);
	}
	report_problems(plan->set, problems);
}

/*
 * Run a script's statements through SPI, with migrate.lock_timeout (when
 * set) in place of the session's lock_timeout while they run.  Whatever
 * the script changes of the settings (SET search_path, SET ROLE, RESET
 * ALL...) is undone afterwards, as when a transaction aborts: each
 * migration starts from the caller's settings and role, and the caller
 * gets them back.
 */
static void
execute_in_transaction(const Script *script, const StatementList *stmts,
					   bool retry_statements)
{
	int			nest = NewGUCNestLevel();

	if (migrate_lock_timeout > 0)
		(void) set_config_option("lock_timeout",
								 psprintf("%d", migrate_lock_timeout),
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	execute_script(script, stmts,
				   retry_statements && migrate_lock_retries > 0 ?
				   execute_spi_statement_retrying : execute_spi_statement);
	AtEOXact_GUC(false, nest);
}

static void
deferred_constraints_callback(void *arg)
{
	errcontext("deferred constraints checked at the end of migration \"%s\"",
			   ((const Migration *) arg)->name);
}

/*
 * Check the constraints a migration deferred before run() commits it, so
 * that a violation is that migration's failure (logged, shown as failed)
 * rather than an error of the commit that names no migration.
 */
static void
check_deferred_constraints(const Migration *m)
{
	ErrorContextCallback cb;

	cb.callback = deferred_constraints_callback;
	cb.arg = (void *) m;
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	spi_run("SET CONSTRAINTS ALL IMMEDIATE", 0, NULL, NULL, NULL, SPI_OK_UTILITY);
	error_context_stack = cb.previous;
}

/*
 * Run one migration's up script and record it, in the current transaction
 * (or, for a no-transaction migration, in the background worker, the
 * caller having committed).  Returns the duration in microseconds.
 */
static int64
apply_one(const MigrationSet *set, const Migration *m,
		  const LoadedMigration *lm, RunMode mode)
{
	StatementList *stmts;
	TimestampTz start;
	int64		duration;

	ereport(NOTICE, (errmsg("applying migration \"%s\"", m->name)));
	stmts = split_script(&lm->up, false, !m->no_transaction, NULL);
	script_check(&lm->up, stmts, m->no_transaction ? CHECK_NOTHING : CHECK_UP_SCRIPT);

	start = GetCurrentTimestamp();
	if (m->no_transaction)
	{
		/* plan_run() refused these for apply, and the file is unchanged */
		if (mode != MODE_RUN)
			elog(ERROR, "no-transaction migration \"%s\" in a transaction", m->name);
		worker_run_script(m, &lm->up, GetUserId());
	}
	else
	{
		execute_in_transaction(&lm->up, stmts, mode == MODE_APPLY);
		if (mode == MODE_RUN)
			check_deferred_constraints(m);
	}
	duration = GetCurrentTimestamp() - start;

	tracking_record_apply(set, m, lm, m->checksum, duration, "apply");
	/* keep the tool's own table in step, so the tool still agrees */
	interop_record(set, m);
	return duration;
}

/*
 * Record a migration that the format's own tool applied, without running
 * it: its table says so (interop_adopt).
 */
static void
adopt_one(const MigrationSet *set, const Migration *m)
{
	LoadedMigration lm;

	ereport(NOTICE,
			(errmsg("recording migration \"%s\", applied by %s", m->name,
					interop_tool(set))));
	ereport(DEBUG1,
			(errcode(ERRCODE_MIGRATE_TOOL),
			 errmsg_internal("migrations of this folder were applied by %s",
							 interop_tool(set)),
			 errdetail_internal("%s", interop_tool(set))));
	lock_retry_count = 0;
	load_as_checked(set, m, &lm);
	tracking_record_adopt(set, m, &lm);
}

/*
 * migrate.apply(): every pending migration, in order, in the caller's
 * transaction.  Everything that can be checked is checked before the first
 * statement runs; a failure later rolls back with the caller's transaction.
 */
void
run_apply(const Folder *folder, const RunOptions *opts, ResultSink *sink)
{
	RunPlan		plan;

	PreventCommandIfReadOnly("migrate.apply()");
	PreventCommandDuringRecovery("migrate.apply()");

	take_run_lock(false);
	tracking_check_snapshot("migrate.apply()");
	plan_run(&plan, folder, opts, MODE_APPLY);

	for (int i = 0; i <= plan.last; i++)
	{
		Migration  *m = &plan.set->items[i];
		MemoryContext old;
		LoadedMigration lm;

		if (plan.is_applied[i])
			continue;
		refuse_failed_again(m, plan.failed[i], opts->retry, MODE_APPLY);
		lock_retry_count = 0;
		old = MemoryContextSwitchTo(plan.per_migration);
		if (m->adopted)
		{
			adopt_one(plan.set, m);
			emit(sink, m->name, "adopted", 0);
		}
		else
		{
			load_as_checked(plan.set, m, &lm);
			interop_prepare(plan.set);
			emit(sink, m->name, "applied", apply_one(plan.set, m, &lm, MODE_APPLY));
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(plan.per_migration);
	}
}

/* One attempt at a migration of migrate.run(), in its subtransaction */
typedef struct RunAttempt
{
	const MigrationSet *set;
	const Migration *m;
	List	   *invalid_before; /* invalid indexes before a no-transaction one */
	LoadedMigration *lm;		/* its scripts, once read */
} RunAttempt;

static void
run_attempt(void *arg)
{
	RunAttempt *at = arg;

	at->lm = palloc(sizeof(LoadedMigration));
	load_as_checked(at->set, at->m, at->lm);
	(void) apply_one(at->set, at->m, at->lm, MODE_RUN);
	/* all its statements succeeded, but an index might not be usable */
	if (at->m->no_transaction &&
		indexes_left_invalid(&at->lm->up, at->invalid_before) != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("migration \"%s\" left an invalid index", at->m->name),
				 errdetail("An index the migration creates is invalid: an earlier attempt was interrupted, and CREATE INDEX ... IF NOT EXISTS skipped it rather than build it again.")));
}

/*
 * One migration of migrate.run(), in a subtransaction so that a failure
 * can be caught: the failure is then logged in a transaction of its own,
 * committed, and raised again.
 */
static void
run_one(const MigrationSet *set, const Migration *m)
{
	RunAttempt	at = {set, m, NIL, NULL};
	ErrorData  *edata;
	List	   *invalid;

	/* committed with the migration, or before the worker runs it */
	interop_prepare(set);
	if (m->no_transaction)
	{
		at.invalid_before = invalid_indexes();
		/* the worker must not wait for our snapshot: hold none */
		COMPAT_SPI_COMMIT();
	}

	lock_retry_count = 0;
	for (int attempt = 0;; attempt++)
	{
		/* no line is known until one of its statements fails */
		script_error_line = 0;
		at.lm = NULL;
		if ((edata = try_in_subtransaction(run_attempt, &at)) == NULL)
			return;

		/*
		 * A lock wait that timed out: the rollback released every lock the
		 * migration held, so the application's queries are not blocked
		 * while we wait to try the whole migration again.  The worker's
		 * statements commit one by one and are not run twice.  A cancel
		 * during the pause is the migration's failure.
		 */
		if (m->no_transaction || !lock_retry_pause_or_fail(&edata, attempt))
			break;
		FreeErrorData(edata);
	}

	/*
	 * A failure that is not transient also needs migrate.retry(), or the
	 * next run refuses the unchanged file: say so with the DROP INDEX.
	 */
	if (m->no_transaction && at.lm &&
		(invalid = indexes_left_invalid(&at.lm->up, at.invalid_before)) != NIL)
		edata->hint = transient_failure(unpack_sql_state(edata->sqlerrcode)) ?
			psprintf("Drop the invalid index the migration left before running it again: %s",
					 drop_index_commands(invalid)) :
			psprintf("Fix the cause of the error, then drop the invalid index the migration left and let the next run execute the migration again: %s SELECT migrate.retry(%s);",
					 drop_index_commands(invalid), quote_literal_cstr(m->name));
	tracking_record_failure(set, m, edata);
	COMPAT_SPI_COMMIT();
	ReThrowError(edata);
}

static void
run_migrations(const Folder *folder, const RunOptions *opts)
{
	RunPlan		plan;

	plan_run(&plan, folder, opts, MODE_RUN);

	for (int i = 0; i <= plan.last; i++)
	{
		Migration  *m = &plan.set->items[i];
		MemoryContext old;

		if (plan.is_applied[i])
			continue;
		refuse_failed_again(m, plan.failed[i], opts->retry, MODE_RUN);
		old = MemoryContextSwitchTo(plan.per_migration);
		if (m->adopted)
			adopt_one(plan.set, m);
		else
			run_one(plan.set, m);
		MemoryContextSwitchTo(old);
		MemoryContextReset(plan.per_migration);
		COMPAT_SPI_COMMIT();

		/*
		 * Only now is the migration applied for good.  A client cannot tell
		 * that from the NOTICE raised before it, which each lock retry
		 * raises again and a failure follows.
		 */
		ereport(DEBUG1,
				(errcode(m->adopted ? ERRCODE_MIGRATE_ADOPTED : ERRCODE_MIGRATE_COMMITTED),
				 errmsg_internal("migration \"%s\" committed", m->name),
				 errdetail_internal("%s", m->name)));
	}
}

/*
 * Take the run lock for the session of a procedure that commits.  It waits
 * holding no snapshot, not even the CALL's: a running migration's CREATE
 * INDEX CONCURRENTLY waits for every older snapshot, ours included.  The
 * commit after it gives the run a snapshot newer than the lock, which in
 * REPEATABLE READ too sees what a runner we waited for committed.
 */
static void
take_session_run_lock(void)
{
	COMPAT_SPI_COMMIT();
	take_run_lock(true);
	COMPAT_SPI_COMMIT();
}

/*
 * migrate.run(): like apply, but committing after each migration, and
 * running no-transaction migrations outside any transaction.  The caller
 * has checked that the call is nonatomic and connected SPI accordingly.
 * The run lock is session-level, as commits would release a transaction
 * one, so it is released here however the run ends.
 */
void
run_commits(const Folder *folder, const RunOptions *opts)
{
	PreventCommandIfReadOnly("migrate.run()");
	PreventCommandDuringRecovery("migrate.run()");

	take_session_run_lock();
	PG_TRY();
	{
		run_migrations(folder, opts);
	}
	PG_FINALLY();
	{
		release_run_lock();
	}
	PG_END_TRY();
}

/*
 * A stored down script as a Script, and whether it runs outside a
 * transaction block: only run_rollback() runs such down scripts, in the
 * background worker, as run() does up scripts.
 */
static Script
down_script(const AppliedMigration *am, bool commits, bool *no_transaction)
{
	Script		down = {psprintf("%s (down)", am->name), am->down_sql, 1};

	*no_transaction = commits &&
		script_has_directive(am->down_sql, "migrate:no-transaction");
	return down;
}

/* A stored down script's statements, checked for how it will run */
static StatementList *
prepare_down(const Script *down, bool no_transaction)
{
	StatementList *stmts = split_script(down, true, !no_transaction, NULL);

	script_check(down, stmts, no_transaction ? CHECK_NOTHING : CHECK_DOWN_SCRIPT);
	return stmts;
}

/*
 * Refuse a rollback that cannot be done whole, before undoing anything: a
 * migration without a down script, or whose down script would run with
 * privileges the caller cannot take on.  Each down script runs as the
 * role that applied the migration, never with more than that role had;
 * the session must be allowed to SET ROLE to it.
 */
static void
check_rollback_targets(const char *name, List *targets, bool commits)
{
	ListCell   *lc;

	foreach(lc, targets)
	{
		AppliedMigration *am = lfirst(lc);
		Oid			role;
		bool		no_transaction;

		if (!am->has_down)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("migration \"%s\" has no down script", am->name),
					 list_length(targets) > 1 ?
					 errdetail("Rolling back \"%s\" means undoing %d migrations, newest first; nothing was undone.",
							   name ? name : am->name, list_length(targets)) :
					 errdetail("Nothing was undone."),
					 errhint("A down script is stored when its migration is applied; undo \"%s\" by hand, then delete its row from migrate.migrations.",
							 am->name)));

		role = get_role_oid(am->applied_by, true);
		if (!OidIsValid(role))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("role \"%s\" that applied migration \"%s\" does not exist",
							am->applied_by, am->name),
					 errdetail("A down script runs as the role that applied its migration; nothing was undone."),
					 errhint("Create the role again, or undo \"%s\" by hand and delete its row from migrate.migrations.",
							 am->name)));
		if (!compat_can_set_role(GetSessionUserId(), role))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to roll back migration \"%s\"",
							am->name),
					 errdetail("Its down script runs as role \"%s\", which applied it, and session user \"%s\" cannot SET ROLE to it; nothing was undone.",
							   am->applied_by,
							   GetUserNameFromId(GetSessionUserId(), false)),
					 errhint("Roll it back as \"%s\", or as a member of that role.",
							 am->applied_by)));
		(void) down_script(am, commits, &no_transaction);
		if (no_transaction && !worker_can_log_in_as(role))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot roll back migration \"%s\" as role \"%s\", which cannot log in",
							am->name, am->applied_by),
					 errdetail("Its down script runs outside a transaction block, in a background worker that logs in as the role that applied the migration, and before PostgreSQL 17 a background worker cannot log in as a role without LOGIN; nothing was undone."),
					 errhint("Allow the role to log in for the rollback (ALTER ROLE %s LOGIN), or undo \"%s\" by hand and delete its row from migrate.migrations.",
							 quote_identifier(am->applied_by), am->name)));
	}
}

/*
 * Undo one migration with its stored down script, run as the role that
 * applied it, in a way the script cannot leave: the role that applied it
 * wrote the script, and whoever rolls it back (a superuser, often) must
 * not lend it more.  In the transaction, as a security-definer function
 * runs (SECURITY_LOCAL_USERID_CHANGE), so that the server refuses SET
 * ROLE, RESET ROLE and SET SESSION AUTHORIZATION in any form; a
 * transaction abort restores our own user.  With commits (run_rollback()),
 * a no-transaction down script runs in the background worker logged in as
 * that role, after a commit so that we hold no snapshot.
 */
static int64
rollback_one(const AppliedMigration *am, const char *caller, bool commits)
{
	bool		no_transaction;
	Script		down = down_script(am, commits, &no_transaction);
	StatementList *stmts;
	TimestampTz start;
	int64		duration;
	Oid			role = get_role_oid(am->applied_by, false);

	ereport(NOTICE, (errmsg("rolling back migration \"%s\"", am->name)));
	stmts = prepare_down(&down, no_transaction);
	lock_retry_count = 0;

	start = GetCurrentTimestamp();
	if (no_transaction)
	{
		Migration	m = {0};

		COMPAT_SPI_COMMIT();
		m.name = am->name;
		worker_run_script(&m, &down, role);
	}
	else
	{
		Oid			saved_user;
		int			saved_context;

		GetUserIdAndSecContext(&saved_user, &saved_context);
		SetUserIdAndSecContext(role, saved_context | SECURITY_LOCAL_USERID_CHANGE);
		execute_in_transaction(&down, stmts, true);
		SetUserIdAndSecContext(saved_user, saved_context);
	}
	duration = GetCurrentTimestamp() - start;

	tracking_record_rollback(am->name, duration, caller, am->applied_by);
	interop_forget(am);
	return duration;
}

/*
 * The migrations a rollback of name undoes, newest first, after refusing
 * before anything runs what cannot be done whole: a missing or broken
 * down script, a role the session cannot become.
 */
static List *
rollback_targets(const char *name, bool commits)
{
	List	   *targets = tracking_rollback_targets(name);

	if (targets == NIL && name)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("migration \"%s\" is not applied", name),
				 errhint("SELECT * FROM migrate.status() lists the applied migrations.")));
	if (targets == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no migration is applied, so there is nothing to roll back")));
	check_rollback_targets(name, targets, commits);
	/* the tools' tables they will be removed from */
	interop_check_forget(targets);
	return targets;
}

/*
 * migrate.rollback(): the stored down scripts of name and of everything
 * applied after it, newest first, in the caller's transaction.  Refuses
 * before running anything when one of them cannot be run.
 */
void
run_rollback(const char *name, ResultSink *sink)
{
	List	   *targets;
	ListCell   *lc;
	MemoryContext per_migration,
				old;
	const char *caller = GetUserNameFromId(GetUserId(), false);

	PreventCommandIfReadOnly("migrate.rollback()");
	PreventCommandDuringRecovery("migrate.rollback()");

	take_run_lock(false);
	tracking_check_snapshot("migrate.rollback()");
	targets = rollback_targets(name, false);
	per_migration = AllocSetContextCreate(CurrentMemoryContext,
										  "pg_migrate migration",
										  ALLOCSET_DEFAULT_SIZES);

	/* every down script parsed and checked before the first one runs */
	foreach(lc, targets)
	{
		bool		no_transaction;
		Script		down = down_script(lfirst(lc), false, &no_transaction);

		old = MemoryContextSwitchTo(per_migration);
		(void) prepare_down(&down, no_transaction);
		MemoryContextSwitchTo(old);
		MemoryContextReset(per_migration);
	}

	foreach(lc, targets)
	{
		AppliedMigration *am = lfirst(lc);

		old = MemoryContextSwitchTo(per_migration);
		emit(sink, am->name, "rolled back", rollback_one(am, caller, false));
		MemoryContextSwitchTo(old);
		MemoryContextReset(per_migration);
	}
	MemoryContextDelete(per_migration);
}

static void
rollback_migrations(const char *name)
{
	List	   *targets = rollback_targets(name, true);
	const char *caller = GetUserNameFromId(GetUserId(), false);
	ListCell   *lc;

	foreach(lc, targets)
	{
		bool		no_transaction;
		Script		down = down_script(lfirst(lc), true, &no_transaction);

		(void) prepare_down(&down, no_transaction);
	}
	foreach(lc, targets)
	{
		(void) rollback_one(lfirst(lc), caller, true);
		COMPAT_SPI_COMMIT();
	}
}

/*
 * CALL migrate.run_rollback(): like rollback, but committing after each
 * undone migration, so that a down script needing to run outside a
 * transaction block (DROP INDEX CONCURRENTLY) can, in the worker.  A
 * failure keeps what was undone before it.  The caller has checked that
 * the call is nonatomic.
 */
void
run_rollback_commits(const char *name)
{
	PreventCommandIfReadOnly("migrate.run_rollback()");
	PreventCommandDuringRecovery("migrate.run_rollback()");

	take_session_run_lock();
	PG_TRY();
	{
		rollback_migrations(name);
	}
	PG_FINALLY();
	{
		release_run_lock();
	}
	PG_END_TRY();
}

/*
 * migrate.retry(): let the next run execute a migration whose latest
 * attempt failed, although its file is unchanged.
 */
void
run_retry(const char *name)
{
	ListCell   *lc;

	PreventCommandIfReadOnly("migrate.retry()");
	PreventCommandDuringRecovery("migrate.retry()");

	take_run_lock(false);
	foreach(lc, tracking_failures())
	{
		FailedMigration *f = lfirst(lc);

		if (strcmp(f->name, name) == 0)
		{
			tracking_record_action("retry", name, f->checksum);
			return;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("migration \"%s\" has no failed attempt to retry", name),
			 errhint("SELECT * FROM migrate.status(...) shows the failed migrations.")));
}

static int
compare_status_rows(const void *a, const void *b)
{
	const StatusRow *ra = a;
	const StatusRow *rb = b;

	return migration_order_cmp(ra->repeatable, ra->version, ra->name,
							   rb->repeatable, rb->version, rb->name);
}

/*
 * The rows of migrate.status(): the folder's migrations and the tracking
 * table side by side, by version.  Without a folder, the tracking table
 * alone, in the order the migrations were applied.  migrate.check() reads
 * the same rows.
 */
StatusRow *
status_rows(const Folder *folder, const char *format, int *count)
{
	List	   *applied = tracking_applied();
	StatusRow  *rows;
	int			nrows = 0;
	ListCell   *lc;
	MemoryContext per_migration;

	if (folder == NULL)
	{
		rows = palloc(sizeof(StatusRow) * Max(list_length(applied), 1));
		foreach(lc, applied)
		{
			AppliedMigration *am = lfirst(lc);

			rows[nrows++] = (StatusRow)
			{
				am->name, am->version, "applied", am->applied_at, true,
					am->checksum, am->repeatable
			};
		}
	}
	else
	{
		MigrationSet *set = source_load(folder, format, DEBUG1);
		bool	   *is_applied = applied_flags(set, applied);
		bool	   *failed = palloc0(sizeof(bool) * Max(set->count, 1));

		foreach(lc, tracking_failures())
		{
			Migration  *m = source_find(set, ((FailedMigration *) lfirst(lc))->name);

			if (m)
				failed[m - set->items] = true;
		}

		rows = palloc(sizeof(StatusRow) * (set->count + list_length(applied) + 1));
		per_migration = AllocSetContextCreate(CurrentMemoryContext,
											  "pg_migrate migration",
											  ALLOCSET_DEFAULT_SIZES);
		for (int i = 0; i < set->count; i++)
		{
			Migration  *m = &set->items[i];
			const char *state = m->adopted ? "applied" :
				failed[i] ? "failed" : "pending";

			/* a pending migration whose rollback would fail says so */
			if (!is_applied[i] && !m->adopted)
			{
				MemoryContext old = MemoryContextSwitchTo(per_migration);
				LoadedMigration lm;

				migration_load(set, m, &lm, true);
				warn_broken_down(m, &lm);
				MemoryContextSwitchTo(old);
				MemoryContextReset(per_migration);
			}

			if (!is_applied[i])
				rows[nrows++] = (StatusRow)
				{
					m->name, m->version, state, 0, false, m->checksum,
						m->repeatable
				};
		}
		foreach(lc, applied)
		{
			AppliedMigration *am = lfirst(lc);
			Migration  *m = source_find(set, am->name);
			const char *state = "missing";

			if (m && !is_applied[m - set->items])
				continue;		/* a changed repeatable: listed as pending */
			if (m)
				state = strcmp(m->checksum, am->checksum) == 0 ? "applied" : "modified";
			rows[nrows++] = (StatusRow)
			{
				am->name, am->version, state, am->applied_at, true,
					m ? m->checksum : am->checksum, am->repeatable
			};
		}
		qsort(rows, nrows, sizeof(StatusRow), compare_status_rows);
	}
	*count = nrows;
	return rows;
}

/* migrate.status() */
void
run_status(const Folder *folder, const char *format, ResultSink *sink)
{
	int			nrows;
	StatusRow  *rows = status_rows(folder, format, &nrows);

	for (int i = 0; i < nrows; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, !rows[i].applied, false};

		values[0] = CStringGetTextDatum(rows[i].name);
		values[1] = CStringGetTextDatum(rows[i].state);
		values[2] = TimestampTzGetDatum(rows[i].applied_at);
		values[3] = CStringGetTextDatum(rows[i].checksum);
		tuplestore_putvalues(sink->store, sink->desc, values, nulls);
	}
}
