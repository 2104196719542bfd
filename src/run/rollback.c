/*-------------------------------------------------------------------------
 *
 * rollback.c
 *	  migrate.rollback(): the stored down scripts of a migration and of
 *	  everything applied after it, newest first, in the caller's transaction
 *	  or (the procedure form) each committed on its own.
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

/*
 * A stored down script as a Script, and whether it runs outside a
 * transaction block: only migrate.run_rollback() runs such down scripts,
 * in the background worker, as run() does up scripts.
 */
static Script
down_script(const AppliedMigration *am, bool commits, bool *no_transaction)
{
	Script		down = {psprintf("%s (down)", am->name), am->down_sql, 1};

	*no_transaction = commits &&
		script_has_directive(am->down_sql, "migrate:no-transaction");
	return down;
}

/*
 * Whether a stored down script has nothing to run: a generated one can
 * hold only comments, when the up script changed nothing a rollback must
 * undo (SET, ANALYZE) or nothing it can (its statements are listed as not
 * undone).  A written one is never blank: an empty file is no down script.
 */
static bool
nothing_to_run(const AppliedMigration *am)
{
	return am->down_generated && script_is_blank(am->down_sql);
}

/* A stored down script's statements, checked for how it will run */
static StatementList *
prepare_down(const Script *down, bool no_transaction)
{
	StatementList *stmts = script_split_to_run(down, true, !no_transaction, NULL);

	script_check(down, stmts, no_transaction ? CHECK_NOTHING : CHECK_DOWN_SCRIPT);
	return stmts;
}

/*
 * Refuse a rollback that cannot be done whole, before undoing anything: a
 * migration without a down script, or whose down script would run with
 * privileges the caller cannot take on.  Each down script runs as the
 * role that applied the migration, never with more than that role had;
 * the session must be allowed to SET ROLE to it.  A generated down script
 * that does not undo every statement of its migration is refused unless
 * skip_partial says to run what it does undo.
 */
static void
check_rollback_targets(const char *name, List *targets, bool commits,
					   bool skip_partial)
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
					 errhint("A down script is stored when its migration is applied; undo \"%s\" by hand, then drop its record with migrate.forget('%s').",
							 am->name, am->name)));

		if (am->down_generated && am->partial_count > 0 && !skip_partial)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("migration \"%s\" cannot be rolled back whole: its generated down script does not undo every statement",
							am->name),
					 am->partial_count > 1 ?
					 errdetail("%s, line %d: %s; and %d more (see down_partial in migrate.migrations). Nothing was undone.",
							   am->partial_file, am->partial_line, am->partial_reason,
							   am->partial_count - 1) :
					 errdetail("%s, line %d: %s. Nothing was undone.",
							   am->partial_file, am->partial_line, am->partial_reason),
					 errhint("Roll back with skip_partial => true to run what the generated down script does undo, or undo \"%s\" by hand, then drop its record with migrate.forget('%s').",
							 am->name, am->name)));

		role = get_role_oid(am->applied_by, true);
		if (!OidIsValid(role))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("role \"%s\" that applied migration \"%s\" does not exist",
							am->applied_by, am->name),
					 errdetail("A down script runs as the role that applied its migration; nothing was undone."),
					 errhint("Create the role again, or undo \"%s\" by hand, then drop its record with migrate.forget('%s').",
							 am->name, am->name)));
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
					 errhint("Allow the role to log in for the rollback (ALTER ROLE %s LOGIN), or undo \"%s\" by hand, then drop its record with migrate.forget('%s').",
							 quote_identifier(am->applied_by), am->name, am->name)));
	}
}

/*
 * Undo one migration with its stored down script, run as the role that
 * applied it, in a way the script cannot leave: the role that applied it
 * wrote the script, and whoever rolls it back (a superuser, often) must
 * not lend it more.  In the transaction, as a security-definer function
 * runs (SECURITY_LOCAL_USERID_CHANGE), so that the server refuses SET
 * ROLE, RESET ROLE and SET SESSION AUTHORIZATION in any form; a
 * transaction abort restores our own user.  With commits
 * (migrate.run_rollback()), a no-transaction down script runs in the
 * background worker logged in as that role, after a commit so that we hold
 * no snapshot.
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
	ExecReport	report = {0};

	ereport(NOTICE, (errmsg("rolling back migration \"%s\"", am->name)));
	report.migration = am->name;
	if (nothing_to_run(am))
	{
		tracking_record_rollback(am->name, 0, caller, am->applied_by, 0);
		interop_forget(am);
		return 0;
	}
	stmts = prepare_down(&down, no_transaction);
	/* what the down script does is the migration's, in the worker too */
	ddl_log_mark(am->name, am->source, true);

	start = GetCurrentTimestamp();
	if (no_transaction)
	{
		Migration	m = {0};

		COMPAT_SPI_COMMIT();
		m.name = am->name;
		worker_run_script(&m, &down, role, false, &report);
	}
	else
	{
		Oid			saved_user;
		int			saved_context;

		GetUserIdAndSecContext(&saved_user, &saved_context);
		SetUserIdAndSecContext(role, saved_context | SECURITY_LOCAL_USERID_CHANGE);
		execute_in_transaction(&down, stmts, true, NULL, &report);
		SetUserIdAndSecContext(saved_user, saved_context);
	}
	duration = GetCurrentTimestamp() - start;
	ddl_log_unmark();
	/* the data its down script brought back is no longer kept */
	if (am->down_generated)
		archive_release(am->name, am->down_sql);

	tracking_record_rollback(am->name, duration, caller, am->applied_by,
							 report.lock_retries);
	interop_forget(am);
	return duration;
}

/*
 * The migrations a rollback of name undoes, newest first, after refusing
 * before anything runs what cannot be done whole: a missing or broken
 * down script, a role the session cannot become.
 */
static List *
rollback_targets(const char *name, bool commits, bool skip_partial)
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
	check_rollback_targets(name, targets, commits, skip_partial);
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
rollback_from(const char *name, bool skip_partial, ResultSink *sink)
{
	List	   *targets;
	List	   *drifted;
	int64		log_position;
	ListCell   *lc;
	MemoryContext per_migration,
				old;
	const char *caller = GetUserNameFromId(GetUserId(), false);

	PreventCommandIfReadOnly("migrate.rollback()");
	PreventCommandDuringRecovery("migrate.rollback()");

	take_run_lock(false);
	tracking_check_snapshot("migrate.rollback()");
	targets = rollback_targets(name, false, skip_partial);
	drifted = fingerprint_drift();
	log_position = fingerprint_log_position();
	per_migration = AllocSetContextCreate(CurrentMemoryContext,
										  "pg_migrate migration",
										  ALLOCSET_DEFAULT_SIZES);

	/* every down script parsed and checked before the first one runs */
	foreach(lc, targets)
	{
		bool		no_transaction;
		Script		down = down_script(lfirst(lc), false, &no_transaction);

		if (nothing_to_run(lfirst(lc)))
			continue;
		if (script_may_bypass_log(&down))
			log_position = -1;
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
	fingerprint_take_since(drifted, &log_position);
}

static void
rollback_migrations(const char *name, bool skip_partial)
{
	List	   *targets = rollback_targets(name, true, skip_partial);
	List	   *drifted = fingerprint_drift();
	int64		log_position = fingerprint_log_position();
	const char *caller = GetUserNameFromId(GetUserId(), false);
	bool	   *bypasses = palloc0(sizeof(bool) * Max(list_length(targets), 1));
	ListCell   *lc;

	foreach(lc, targets)
	{
		bool		no_transaction;
		Script		down = down_script(lfirst(lc), true, &no_transaction);

		bypasses[foreach_current_index(lc)] = script_may_bypass_log(&down);
		if (!nothing_to_run(lfirst(lc)))
			(void) prepare_down(&down, no_transaction);
	}
	foreach(lc, targets)
	{
		(void) rollback_one(lfirst(lc), caller, true);
		if (bypasses[foreach_current_index(lc)])
			log_position = -1;
		/* committed with the migration undone */
		fingerprint_take_since(drifted, &log_position);
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
run_rollback_from(const char *name, bool skip_partial)
{
	PreventCommandIfReadOnly("migrate.run_rollback()");
	PreventCommandDuringRecovery("migrate.run_rollback()");

	take_session_run_lock();
	PG_TRY();
	{
		rollback_migrations(name, skip_partial);
	}
	PG_FINALLY();
	{
		release_run_lock();
	}
	PG_END_TRY();
}
