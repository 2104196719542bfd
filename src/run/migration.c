/*-------------------------------------------------------------------------
 *
 * migration.c
 *	  Running one pending migration's up script and recording it, or
 *	  recording one that the folder's tool applied (adopting it); and
 *	  running a script's statements inside the current transaction, as
 *	  apply, run and rollback do.
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

static void
generate_before(void *arg, const Statement *stmt, const char *sql)
{
	inverse_before(arg, stmt, sql);
}

static void
generate_after(void *arg, const Statement *stmt, const char *sql)
{
	inverse_after(arg, stmt, sql);
}

/*
 * Whether running m's up script generates its down script: when it has
 * none, is undone by rollback (not repeatable), and the tracking table can
 * say the down script was generated.  A no-transaction migration runs in
 * the background worker, which does not generate yet.
 */
static bool
generates_down(const Migration *m, const LoadedMigration *lm)
{
	return migrate_generate_down && lm->down.sql == NULL && !m->repeatable &&
		!m->no_transaction && tracking_stores_generated_down();
}

/*
 * Run a script's statements through SPI, with migrate.lock_timeout (when
 * set) in place of the session's lock_timeout while they run.  Whatever
 * the script changes of the settings (SET search_path, SET ROLE, RESET
 * ALL...) is undone afterwards, as when a transaction aborts: each
 * migration starts from the caller's settings and role, and the caller
 * gets them back.  With down, the statements' inverses are generated as
 * they run.
 */
void
execute_in_transaction(const Script *script, const StatementList *stmts,
					   bool retry_statements, DownGenerator *down,
					   ExecReport *report)
{
	int			nest = NewGUCNestLevel();
	StatementObserver observer = {generate_before, generate_after, down};

	if (migrate_lock_timeout > 0)
		(void) set_config_option("lock_timeout",
								 psprintf("%d", migrate_lock_timeout),
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	execute_script(script, stmts,
				   retry_statements && migrate_lock_retries > 0 ?
				   execute_spi_statement_retrying : execute_spi_statement,
				   down ? &observer : NULL, report);
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
 * caller having committed).  Returns the duration in microseconds; report
 * says what the script's run reported, its lock retries counted on from
 * what report held (run() retries whole migrations).
 */
int64
apply_one(const MigrationSet *set, const Migration *m,
		  const LoadedMigration *lm, RunMode mode, ExecReport *report)
{
	StatementList *stmts;
	TimestampTz start;
	int64		duration;
	DownGenerator *down = NULL;
	LoadedMigration recorded = *lm;

	ereport(NOTICE, (errmsg("applying migration \"%s\"", m->name)));
	stmts = script_split_to_run(&lm->up, false, !m->no_transaction, NULL);
	script_check(&lm->up, stmts, m->no_transaction ? CHECK_NOTHING : CHECK_UP_SCRIPT);

	start = GetCurrentTimestamp();
	if (m->no_transaction)
	{
		/* run_queue_prepare() refused these for apply, and the file is unchanged */
		if (mode != MODE_RUN)
			elog(ERROR, "no-transaction migration \"%s\" in a transaction", m->name);
		worker_run_script(m, &lm->up, GetUserId(), report);
	}
	else
	{
		if (generates_down(m, lm))
			down = inverse_start(lm->up.file, false);
		execute_in_transaction(&lm->up, stmts, mode == MODE_APPLY, down, report);
		if (mode == MODE_RUN)
			check_deferred_constraints(m);
	}
	duration = GetCurrentTimestamp() - start;

	/* stored like a written down script, saying it was generated */
	if (down)
	{
		recorded.down.file = psprintf("%s (generated down)", lm->up.file);
		recorded.down.sql = inverse_script(down);
		recorded.down.first_line = 1;
		recorded.down_generated = true;
		recorded.down_partial = inverse_partial_json(down);
	}
	tracking_record_apply(set, m, &recorded, m->checksum, duration, "apply",
						  report->lock_retries);
	/* keep the tool's own table in step, so the tool still agrees */
	interop_record(set, m);
	return duration;
}

/*
 * Record a migration that the format's own tool applied, without running
 * it: its table says so (interop_adopt).
 */
void
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
	load_as_checked(set, m, &lm);
	tracking_record_adopt(set, m, &lm);
}
