/*-------------------------------------------------------------------------
 *
 * lock_retry.c
 *	  Retrying a migration statement that could not get its lock in time.
 *
 * With a short migrate.lock_timeout, a migration never makes the
 * application's queries queue behind its lock request for longer than the
 * timeout; with migrate.lock_retries it still gets through, by trying
 * again after a pause that grows, with jitter so that several runners do
 * not retry in step.  In run(), whose migrations each run in a
 * subtransaction, the whole migration is retried, which also releases the
 * locks its earlier statements took; apply() and rollback(), which must
 * keep the migrations before it, retry the statement in a subtransaction
 * of its own.
 *
 * Retries are on by default (0.5) and bounded by their number and by the
 * time since the first attempt (migrate.lock_retry_max_time); after the
 * last one the run fails with an error that says what it waited for and
 * what to do.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "tcop/cmdtag.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "util/compat.h"
#include "exec/exec.h"

/* the pause never grows past this, whatever the number of retries */
#define MAX_PAUSE_MS 30000

/* "migration "name"" or "the migration", for messages */
static char *
migration_named(const ExecReport *report)
{
	return report->migration ?
		psprintf("migration \"%s\"", report->migration) :
		pstrdup("the migration");
}

/* "file.sql, line 3" or "file.sql", where the lock wait timed out */
static char *
lock_place(const ExecReport *report)
{
	if (report->file == NULL)
		return pstrdup("its script");
	return report->lock_line > 0 ?
		psprintf("%s, line %d", report->file, report->lock_line) :
		pstrdup(report->file);
}

/* " on table "t"" or "" */
static char *
lock_object(const ExecReport *report)
{
	return report->lock_relation[0] ?
		psprintf(" on table \"%s\"", report->lock_relation) : pstrdup("");
}

/* The lock_timeout the statement ran with, as SHOW would say it */
static char *
lock_timeout_shown(const ExecReport *report)
{
	int			ms = report->lock_timeout;

	if (ms > 0 && ms % 1000 == 0)
		return psprintf("%ds", ms / 1000);
	return psprintf("%dms", ms);
}

/*
 * The error after the last retry, in place of the last lock timeout's
 * (whose context, naming the file and line, it keeps): what waited for
 * what, how many times, what stopped the retries, and what to do.
 */
static void
give_up(ErrorData *edata, int attempt, bool out_of_time,
		const ExecReport *report)
{
	edata->message = psprintf("%s could not obtain a lock%s after %d attempts",
							  migration_named(report), lock_object(report),
							  attempt + 1);
	edata->detail = out_of_time ?
		psprintf("The statement at %s waited in vain for a lock at each attempt, for up to lock_timeout (%s) each time; no retry starts later than migrate.lock_retry_max_time (%s) after the first attempt.",
				 lock_place(report), lock_timeout_shown(report),
				 GetConfigOptionByName("migrate.lock_retry_max_time", NULL, false)) :
		psprintf("The statement at %s waited in vain for a lock at each attempt, for up to lock_timeout (%s) each time; migrate.lock_retries (%d) allows no more retries.",
				 lock_place(report), lock_timeout_shown(report),
				 migrate_lock_retries);
	edata->hint = pstrdup("Run the migration again at a quieter time, or raise migrate.lock_retry_max_time or migrate.lock_retries; pg_locks and pg_stat_activity show which sessions hold the lock.");
}

/*
 * Whether an error is one more retry of a lock wait away from success, and
 * if so, wait before it: NOTICE, then a pause of about delay * 2^attempt
 * (half of it to all of it, at random), interruptible, cut short so that
 * no retry starts more than migrate.lock_retry_max_time after started,
 * the first attempt's start.  The retry is counted in report, for the
 * migration's history row.  When retries are on and this was the last
 * one, edata becomes the error that says so (see give_up).
 */
bool
lock_retry_pause(ErrorData *edata, int attempt, TimestampTz started,
				 ExecReport *report)
{
	double		pause;
	long		ms;
	long		left = LONG_MAX;

	if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE ||
		migrate_lock_retries == 0)
		return false;
	if (migrate_lock_retry_max_time > 0)
		left = migrate_lock_retry_max_time -
			(long) ((GetCurrentTimestamp() - started) / 1000);
	if (attempt >= migrate_lock_retries || left <= 0)
	{
		give_up(edata, attempt, attempt < migrate_lock_retries, report);
		return false;
	}

	pause = (double) migrate_lock_retry_delay;
	for (int i = 0; i < attempt && pause < MAX_PAUSE_MS; i++)
		pause *= 2;
	pause = Min(pause, MAX_PAUSE_MS);
	ms = (long) (pause * (0.5 + 0.5 * compat_random_fraction()));
	ms = Min(ms, left);

	ereport(NOTICE,
			(errmsg("%s could not obtain a lock%s within lock_timeout (%s), retrying in %ld ms (retry %d of %d)",
					migration_named(report), lock_object(report),
					lock_timeout_shown(report),
					ms, attempt + 1, migrate_lock_retries),
			 errdetail("%s: %s", lock_place(report), edata->message)));
	report->lock_retries++;
	while (ms > 0)
	{
		TimestampTz start = GetCurrentTimestamp();

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		ms -= (long) ((GetCurrentTimestamp() - start) / 1000);
	}
	return true;
}

typedef struct RetryPause
{
	ErrorData  *edata;
	int			attempt;
	TimestampTz started;
	ExecReport *report;
	bool		retry;
} RetryPause;

static void
pause_for_retry(void *arg)
{
	RetryPause *p = arg;

	p->retry = lock_retry_pause(p->edata, p->attempt, p->started, p->report);
}

/*
 * lock_retry_pause() for run(), which logs whatever ends a migration as
 * its failure: a cancel or a timeout during the pause replaces *edata
 * instead of being raised, and no retry follows.
 */
bool
lock_retry_pause_or_fail(ErrorData **edata, int attempt, TimestampTz started,
						 ExecReport *report)
{
	RetryPause	p = {*edata, attempt, started, report, false};
	ErrorData  *interrupted = try_in_subtransaction(pause_for_retry, &p);

	if (interrupted == NULL)
		return p.retry;
	FreeErrorData(*edata);
	*edata = interrupted;
	return false;
}

/*
 * Run fn(arg) in a subtransaction, released when fn returns true (what it
 * did is kept) and rolled back when it returns false (what it did is
 * undone, its locks released).  On error it is rolled back too, and the
 * error is returned, copied into the caller's memory context, for the
 * caller to retry, report or raise; NULL otherwise.  The caller's
 * resource owner and memory context are those it had before.
 */
ErrorData *
try_in_subtransaction_or_undo(bool (*fn) (void *arg), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		if (fn(arg))
			ReleaseCurrentSubTransaction();
		else
			RollbackAndReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return edata;
}

typedef struct KeptCall
{
	void		(*fn) (void *arg);
	void	   *arg;
} KeptCall;

static bool
call_and_keep(void *arg)
{
	KeptCall   *call = arg;

	call->fn(call->arg);
	return true;
}

/*
 * Run fn(arg) in a subtransaction, kept when it succeeds: see
 * try_in_subtransaction_or_undo().
 */
ErrorData *
try_in_subtransaction(void (*fn) (void *arg), void *arg)
{
	KeptCall	call = {fn, arg};

	return try_in_subtransaction_or_undo(call_and_keep, &call);
}

typedef struct StatementCall
{
	const Statement *stmt;
	const char *sql;
	ExecReport *report;
} StatementCall;

static void
call_statement(void *arg)
{
	StatementCall *call = arg;

	execute_spi_statement(call->stmt, call->sql, call->report);
}

/*
 * Whether a statement's own locks can make the application's queries
 * queue behind it, which is what retrying after a lock timeout is for.
 * INSERT, UPDATE, DELETE, MERGE and COPY take ROW EXCLUSIVE at most on
 * their tables, which the application's reads and writes do not conflict
 * with, and row locks, which only writers of the same rows wait for; a
 * seed file of such statements must not cost one subtransaction and one
 * transaction ID each.  Anything else may: DDL, LOCK, and a SELECT, DO or
 * CALL, which may run a function that takes locks.
 */
static bool
may_block_application(const Statement *stmt)
{
	CommandTag	tag = (CommandTag) stmt->tag;

	return !(tag == CMDTAG_INSERT || tag == CMDTAG_UPDATE ||
			 tag == CMDTAG_DELETE || tag == CMDTAG_COPY ||
			 COMPAT_IS_MERGE(tag));
}

/*
 * Run one statement through SPI in a subtransaction of its own, again
 * after a pause when it could not get its lock in time (apply, rollback).
 * A statement that cannot block the application runs as it is: if its
 * lock wait times out, the call fails as without retries.
 */
void
execute_spi_statement_retrying(const Statement *stmt, const char *sql,
							   ExecReport *report)
{
	StatementCall call = {stmt, sql, report};
	ErrorData  *edata;
	TimestampTz started = GetCurrentTimestamp();

	if (!may_block_application(stmt))
	{
		execute_spi_statement(stmt, sql, report);
		return;
	}
	for (int attempt = 0; (edata = try_in_subtransaction(call_statement, &call)) != NULL;
		 attempt++)
	{
		if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
			exec_note_lock_wait(report, sql, stmt->line);
		if (!lock_retry_pause(edata, attempt, started, report))
			ReThrowError(edata);
		FreeErrorData(edata);
	}
}
