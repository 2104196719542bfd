/*-------------------------------------------------------------------------
 *
 * run.c
 *	  migrate.run(): every pending migration, each committed on its own,
 *	  the no-transaction ones in the background worker; a failure is logged
 *	  and committed before it is raised.
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

#include "util/compat.h"
#include "run/run.h"

/* One attempt at a migration of migrate.run(), in its subtransaction */
typedef struct RunAttempt
{
	const MigrationSet *set;
	const Migration *m;
	List	   *invalid_before; /* invalid indexes before a no-transaction one */
	LoadedMigration *lm;		/* its scripts, once read */
	List	   *rebuilt;		/* invalid indexes dropped to build again */
	ExecReport	report;			/* lock retries of every attempt; the line
								 * of the last one's failure */
	bool		before_commit;	/* a drizzle migration's statements before
								 * its COMMIT (apply_before_commit()) */
	bool		in_worker;		/* the attempt runs in the worker */
} RunAttempt;

/*
 * The invalid indexes that a pending no-transaction migration's CREATE
 * INDEX statements name were left by an attempt at it that was cut short
 * (a crash or restart in the middle of CREATE INDEX CONCURRENTLY, a
 * cancel, a failure retried): the migration is not recorded, so they are
 * its own.  They are dropped, CONCURRENTLY in the worker as the migration's
 * own statements run, so that the migration builds them again rather than
 * skip them (IF NOT EXISTS) or fail (the name is taken).
 */
static void
drop_interrupted_indexes(RunAttempt *at)
{
	List	   *stale = indexes_created_invalid(&at->lm->up);
	Script		drop;
	ExecReport	report = {0};

	if (stale == NIL)
		return;
	drop.sql = drop_index_commands(stale);
	drop.file = at->lm->up.file;
	drop.first_line = 1;
	ereport(NOTICE,
			(errmsg("dropping the invalid index an interrupted attempt at migration \"%s\" left, to build it again",
					at->m->name),
			 errdetail("%s", drop.sql)));
	worker_run_script(at->m, &drop, GetUserId(), false, &report);
	at->rebuilt = list_concat(at->rebuilt, stale);
}

static void
run_attempt(void *arg)
{
	RunAttempt *at = arg;

	at->lm = palloc(sizeof(LoadedMigration));
	load_as_checked(at->set, at->m, at->lm);
	if (at->before_commit)
	{
		apply_before_commit(at->m, at->lm, &at->report);
		return;
	}
	if (at->in_worker)
		drop_interrupted_indexes(at);
	(void) apply_one(at->set, at->m, at->lm, MODE_RUN, &at->report);
	/* all its statements succeeded, but an index might not be usable */
	if (at->in_worker &&
		indexes_left_invalid(&at->lm->up, at->invalid_before) != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("migration \"%s\" left an invalid index", at->m->name),
				 errdetail("An index the migration creates is invalid: an earlier attempt was interrupted, and CREATE INDEX ... IF NOT EXISTS skipped it rather than build it again.")));
}

/*
 * Attempts at (a part of) a migration, each in a subtransaction: the
 * error of the last one, or NULL when one succeeded.
 *
 * A lock wait that timed out: the rollback released every lock the
 * migration held, so the application's queries are not blocked while we
 * wait to try the whole migration (or part) again.  The worker's
 * statements commit one by one and are not run twice.  A cancel during the
 * pause is the migration's failure.
 */
static ErrorData *
run_attempts(RunAttempt *at)
{
	TimestampTz started = GetCurrentTimestamp();
	ErrorData  *edata;

	for (int attempt = 0;; attempt++)
	{
		/* no line is known until one of its statements fails */
		at->report.error_line = 0;
		at->report.lock_line = 0;
		at->report.lock_timeout = 0;
		at->report.lock_relation[0] = '\0';
		at->report.migration = at->m->name;
		at->lm = NULL;
		if ((edata = try_in_subtransaction(run_attempt, at)) == NULL)
			return NULL;
		if (at->in_worker ||
			!lock_retry_pause_or_fail(&edata, attempt, started, &at->report))
			return edata;
		FreeErrorData(edata);
	}
}

/*
 * A failure after a drizzle migration's COMMIT leaves the statements
 * before it committed: the error says so, in the detail recorded with the
 * failure, and what running it again means.
 */
static void
explain_failure_after_commit(const Migration *m, ErrorData *edata)
{
	char	   *said = psprintf("The statements of file \"%s\" before its COMMIT at line %d committed; those after it ran one by one up to the one that failed, and the migration is not recorded as applied.",
								m->up_file, m->commit_line);
	const char *again = "Running it again runs the whole file again, as drizzle-orm would: the statements before the COMMIT must be safe to run again (IF NOT EXISTS).";

	edata->detail = edata->detail ? psprintf("%s\n%s", edata->detail, said) : said;
	if (edata->hint)
		edata->hint = psprintf("%s %s", edata->hint, again);
	else
		edata->hint = psprintf("Fix the cause of the error, then let the next run execute the migration again (with the file unchanged, SELECT migrate.retry(%s) first). %s",
							   quote_literal_cstr(m->name), again);
}

/*
 * One migration of migrate.run(), in a subtransaction so that a failure
 * can be caught: the failure is then logged in a transaction of its own,
 * committed, and raised again.  A drizzle migration split at its COMMIT
 * runs in two parts: the statements before it, committed, then the rest
 * as a no-transaction migration runs, in the worker; it is recorded as
 * applied only when both ran.
 */
static void
run_one(RunQueue *queue, const Migration *m)
{
	const MigrationSet *set = queue->set;
	RunAttempt	at = {set, m, NIL, NULL, NIL, {0}, false, m->no_transaction};
	ErrorData  *edata = NULL;
	List	   *invalid;

	/*
	 * Its DDL, in this backend or the worker, and the tool's table it may
	 * create are the migration's; the mark lasts through the commits and
	 * the attempts' subtransactions
	 */
	ddl_log_mark(m->name, set->folder->source, true);
	/* committed with the migration, or before the worker runs it */
	interop_prepare(set);
	if (m->commit_line > 0)
	{
		at.before_commit = true;
		edata = run_attempts(&at);
		at.before_commit = false;
		/* then the rest, as the COMMIT made the first part for good */
		at.in_worker = edata == NULL;
	}
	if (edata == NULL && at.in_worker)
	{
		at.invalid_before = invalid_indexes();
		/* the worker must not wait for our snapshot: hold none */
		COMPAT_SPI_COMMIT();
	}
	if (edata == NULL && (edata = run_attempts(&at)) == NULL)
	{
		if (script_may_bypass_log(&at.lm->up))
			queue->log_position = -1;
		ddl_log_unmark();
		if (at.rebuilt != NIL)
			tracking_record_index_rebuilt(m->name, drop_index_commands(at.rebuilt));
		return;
	}

	/*
	 * A failure that is not transient also needs migrate.retry(), or the
	 * next run refuses the unchanged file.  The next run drops the invalid
	 * index the migration's CREATE INDEX left, and builds it again; one it
	 * does not name is the user's to drop.
	 */
	if (at.in_worker && at.lm &&
		(invalid = indexes_left_invalid(&at.lm->up, at.invalid_before)) != NIL)
	{
		List	   *own = indexes_created_invalid(&at.lm->up);
		List	   *others = NIL;
		ListCell   *lc;
		bool		transient = transient_failure(unpack_sql_state(edata->sqlerrcode));

		foreach(lc, invalid)
			if (!string_list_member(own, lfirst(lc)))
				others = lappend(others, lfirst(lc));
		if (others != NIL)
			edata->hint = transient ?
				psprintf("Drop the invalid index the migration left before running it again: %s",
						 drop_index_commands(others)) :
				psprintf("Fix the cause of the error, then drop the invalid index the migration left and let the next run execute the migration again: %s SELECT migrate.retry(%s);",
						 drop_index_commands(others), quote_literal_cstr(m->name));
		else
			edata->hint = transient ?
				pstrdup("The next run drops the invalid index the migration left and builds it again.") :
				psprintf("Fix the cause of the error, then let the next run execute the migration again with SELECT migrate.retry(%s); it drops the invalid index the migration left and builds it again.",
						 quote_literal_cstr(m->name));
	}
	if (m->commit_line > 0 && at.in_worker)
		explain_failure_after_commit(m, edata);
	ddl_log_unmark();
	if (at.rebuilt != NIL)
		tracking_record_index_rebuilt(m->name, drop_index_commands(at.rebuilt));
	tracking_record_failure(set, m, edata, at.report.error_line);

	/*
	 * The migrations before this one are committed.  What the worker's
	 * statements committed before one failed stays, and a failed statement
	 * leaves no DDL log row (an invalid index of CREATE INDEX CONCURRENTLY):
	 * the whole schema then.
	 */
	if (at.in_worker)
		queue->log_position = -1;
	run_queue_fingerprint(queue);
	COMPAT_SPI_COMMIT();
	ReThrowError(edata);
}

static void
run_migrations(const Folder *folder, const RunOptions *opts)
{
	RunQueue	queue;
	int			pending = 0;
	int			number = 0;

	run_queue_prepare(&queue, folder, opts, MODE_RUN);
	ddl_log_prune();
	purge_expired_archives();
	for (int i = 0; i <= queue.last; i++)
		pending += queue.is_applied[i] ? 0 : 1;

	for (int i = 0; i <= queue.last; i++)
	{
		Migration  *m = &queue.set->items[i];
		MemoryContext old;

		if (queue.is_applied[i])
			continue;
		progress_set_migration(++number, pending, m->name);
		refuse_failed_again(m, queue.failed[i], opts->retry, MODE_RUN);
		old = MemoryContextSwitchTo(queue.per_migration);
		if (m->adopted)
			adopt_one(queue.set, m);
		else
			run_one(&queue, m);
		MemoryContextSwitchTo(old);
		MemoryContextReset(queue.per_migration);
		/* committed with the migration: no drift between two of them */
		run_queue_fingerprint(&queue);
		COMPAT_SPI_COMMIT();
		progress_migration_done();

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
void
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
run_folder(const Folder *folder, const RunOptions *opts)
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
