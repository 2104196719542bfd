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
	MemoryContext per_migration;	/* reset after each migration */
} RunPlan;

typedef struct StatusRow
{
	const char *name;
	const char *version;
	const char *state;
	TimestampTz applied_at;
	bool		applied;
	const char *checksum;
	bool		repeatable;
} StatusRow;

static void lock_wait_callback(void *arg);
static void take_run_lock(bool session);
static bool *applied_flags(const MigrationSet *set, List *applied);
static void check_drift(const MigrationSet *set, List *applied, bool allow_drift);
static StatementList *prepare_script(const Script *script, const char *what,
									 TransactionCheck check);
static void emit(ResultSink *sink, const char *name, const char *action,
				 int64 duration_us);
static int	compare_status_rows(const void *a, const void *b);

static void
lock_wait_callback(void *arg)
{
	errcontext("waiting for the pg_migrate lock: another migration run on this database holds it");
}

/*
 * Serialise runs on this database: a second runner waits here for the
 * first to finish, then sees its work.  lock_timeout applies.  apply and
 * rollback take it for their transaction, run for its session.
 */
static void
take_run_lock(bool session)
{
	ErrorContextCallback cb;

	cb.callback = lock_wait_callback;
	cb.arg = NULL;
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	if (session)
		DirectFunctionCall1(pg_advisory_lock_int8,
							Int64GetDatum(MIGRATE_LOCK_KEY));
	else
		DirectFunctionCall1(pg_advisory_xact_lock_int8,
							Int64GetDatum(MIGRATE_LOCK_KEY));
	error_context_stack = cb.previous;
}

/*
 * Which of the folder's migrations are applied, by index.  Marks those
 * found in drizzle-orm's table as adopted.
 */
static bool *
applied_flags(const MigrationSet *set, List *applied)
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

	/* what drizzle-orm's own migrator applied counts as applied */
	if (set->format == &drizzle_format)
	{
		List	   *hashes = drizzle_applied_hashes();

		for (int i = 0; i < set->count; i++)
		{
			foreach(lc, hashes)
			{
				if (!flags[i] && strcmp(lfirst(lc), set->items[i].checksum) == 0)
					set->items[i].adopted = true;
			}
		}
	}
	return flags;
}

/*
 * Stop when an applied migration's file changed or disappeared: the schema
 * no longer matches the folder, and applying more on top of it hides that.
 */
static void
check_drift(const MigrationSet *set, List *applied, bool allow_drift)
{
	ListCell   *lc;
	StringInfoData others;
	const char *first_msg = NULL;
	const char *first_detail = NULL;
	int			ndrift = 0;

	initStringInfo(&others);
	foreach(lc, applied)
	{
		AppliedMigration *am = lfirst(lc);
		Migration  *m = source_find(set, am->name);
		char	   *msg,
				   *detail;

		if (m && (m->repeatable || strcmp(m->checksum, am->checksum) == 0))
			continue;
		if (m)
		{
			msg = psprintf("migration \"%s\" was modified after it was applied",
						   am->name);
			detail = psprintf("File \"%s\" has checksum %s, but %s was recorded when it was applied.",
							  m->up_file, m->checksum, am->checksum);
		}
		else
		{
			msg = psprintf("applied migration \"%s\" is missing from folder \"%s\"",
						   am->name, set->dir);
			detail = pstrdup("It is recorded as applied, but no file of that name is in the folder any more.");
		}

		if (allow_drift)
			ereport(WARNING,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg_internal("%s", msg),
					 errdetail_internal("%s", detail)));
		else if (ndrift == 0)
		{
			first_msg = msg;
			first_detail = detail;
		}
		else
			appendStringInfo(&others, "%s\"%s\"", ndrift > 1 ? ", " : "",
							 am->name);
		ndrift++;
	}

	if (ndrift > 0 && !allow_drift)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg_internal("%s", first_msg),
				 ndrift > 1 ?
				 errdetail_internal("%s %d more applied migrations have drifted too: %s.",
									first_detail, ndrift - 1, others.data) :
				 errdetail_internal("%s", first_detail),
				 errhint("Restore the file as it was applied, or pass allow_drift => true to apply pending migrations anyway; migrate.status() shows every drifted migration.")));
}

/* Split and check a script; an empty one is an error */
static StatementList *
prepare_script(const Script *script, const char *what, TransactionCheck check)
{
	StatementList *stmts = script_split(script);

	if (stmts->count == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" contains no SQL statements", what,
						script->file),
				 strcmp(what, "down script") == 0 ?
				 errhint("Delete the file if the migration cannot be undone.") :
				 errhint("Add the migration's statements, or delete the file.")));
	script_check(script, stmts, check);
	return stmts;
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

/*
 * Everything apply and run check before running anything: the folder, the
 * drift, and every pending script parsed and checked.  apply, which runs
 * in one transaction, also refuses no-transaction migrations here.
 */
static void
plan_run(RunPlan *plan, const char *dir, const char *format, bool allow_drift,
		 bool single_transaction)
{
	List	   *applied;

	plan->set = source_load(dir, format);
	applied = tracking_applied();
	check_drift(plan->set, applied, allow_drift);
	plan->is_applied = applied_flags(plan->set, applied);
	plan->per_migration = AllocSetContextCreate(CurrentMemoryContext,
												"pg_migrate migration",
												ALLOCSET_DEFAULT_SIZES);

	for (int i = 0; i < plan->set->count; i++)
	{
		Migration  *m = &plan->set->items[i];
		LoadedMigration lm;
		MemoryContext old;

		if (plan->is_applied[i] || m->adopted)
			continue;
		old = MemoryContextSwitchTo(plan->per_migration);
		migration_load(plan->set, m, &lm, true);
		if (lm.no_transaction && single_transaction)
			ereport(ERROR,
					(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
					 errmsg("migration \"%s\" cannot run inside a transaction", m->name),
					 errdetail("File \"%s\" is marked to run outside a transaction, and migrate.apply() runs every migration in the caller's transaction.",
							   m->up_file),
					 errhint("Apply the folder with CALL migrate.run(...), which runs such migrations outside a transaction block.")));
		(void) prepare_script(&lm.up, "migration file",
							 lm.no_transaction ? CHECK_NOTHING : CHECK_UP_SCRIPT);
		/* checked for transaction blocks when rollback runs it */
		if (lm.down.sql)
			(void) prepare_script(&lm.down, "down script", CHECK_NOTHING);
		m->no_transaction = lm.no_transaction;
		MemoryContextSwitchTo(old);
		MemoryContextReset(plan->per_migration);
	}
}

/*
 * Run a script's statements through SPI, with migrate.lock_timeout (when
 * set) in place of the session's lock_timeout while they run.
 */
static void
execute_in_transaction(const Script *script, StatementList *stmts)
{
	int			nest = NewGUCNestLevel();

	if (migrate_lock_timeout > 0)
		(void) set_config_option("lock_timeout",
								 psprintf("%d", migrate_lock_timeout),
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	execute_script(script, stmts, execute_spi_statement);
	AtEOXact_GUC(true, nest);
}

/*
 * Run one migration's up script and record it, in the current transaction
 * (or, for a no-transaction migration, in the background worker, the
 * caller having committed).  Returns the duration in microseconds.
 */
static int64
apply_one(const MigrationSet *set, const Migration *m)
{
	LoadedMigration lm;
	StatementList *stmts;
	char		checksum[MIGRATE_CHECKSUM_LEN + 1];
	TimestampTz start;
	int64		duration;

	ereport(NOTICE, (errmsg("applying migration %s", m->name)));
	migration_load(set, m, &lm, true);
	checksum_hex(lm.up.sql, strlen(lm.up.sql), checksum);
	stmts = prepare_script(&lm.up, "migration file",
						   lm.no_transaction ? CHECK_NOTHING : CHECK_UP_SCRIPT);

	start = GetCurrentTimestamp();
	if (lm.no_transaction)
		worker_run_script(m, &lm.up);
	else
		execute_in_transaction(&lm.up, stmts);
	duration = GetCurrentTimestamp() - start;

	tracking_record_apply(set, m, &lm, checksum, duration, "apply");
	if (set->format == &drizzle_format)
		drizzle_record(checksum, m->created_at);
	return duration;
}

/*
 * Record a migration that drizzle-orm's migrator applied, without running
 * it: it is in drizzle's table with the same hash.
 */
static void
adopt_one(const MigrationSet *set, const Migration *m)
{
	LoadedMigration lm;

	ereport(NOTICE,
			(errmsg("recording migration %s, applied by drizzle-orm", m->name)));
	migration_load(set, m, &lm, true);
	tracking_record_apply(set, m, &lm, m->checksum, 0, "adopt");
}

/*
 * migrate.apply(): every pending migration, in order, in the caller's
 * transaction.  Everything that can be checked is checked before the first
 * statement runs; a failure later rolls back with the caller's transaction.
 */
void
run_apply(const char *dir, const char *format, bool allow_drift,
		  ResultSink *sink)
{
	RunPlan		plan;

	PreventCommandIfReadOnly("migrate.apply()");
	PreventCommandDuringRecovery("migrate.apply()");

	take_run_lock(false);
	plan_run(&plan, dir, format, allow_drift, true);

	for (int i = 0; i < plan.set->count; i++)
	{
		Migration  *m = &plan.set->items[i];
		MemoryContext old;
		int64		duration;

		if (plan.is_applied[i])
			continue;
		old = MemoryContextSwitchTo(plan.per_migration);
		if (m->adopted)
		{
			adopt_one(plan.set, m);
			emit(sink, m->name, "adopted", 0);
		}
		else
		{
			duration = apply_one(plan.set, m);
			emit(sink, m->name, "applied", duration);
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(plan.per_migration);
	}
}

/*
 * Indexes left invalid, as a failed CREATE INDEX CONCURRENTLY leaves them,
 * as a list of qualified names.
 */
static List *
invalid_indexes(void)
{
	List	   *result = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	int			rc;

	rc = SPI_execute("SELECT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' "
					 "OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname) "
					 "FROM pg_catalog.pg_index i "
					 "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid "
					 "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
					 "WHERE NOT i.indisvalid ORDER BY 1",
					 true, 0);
	MemoryContextSwitchTo(cxt);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not list invalid indexes: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
		result = lappend(result, SPI_getvalue(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 1));
	SPI_freetuptable(SPI_tuptable);
	return result;
}

/* Point the error's hint at indexes the failed migration left invalid */
static void
hint_invalid_indexes(ErrorData *edata, List *before)
{
	List	   *after = invalid_indexes();
	StringInfoData drops;
	ListCell   *lc;

	initStringInfo(&drops);
	foreach(lc, after)
	{
		const char *index = lfirst(lc);
		bool		known = false;
		ListCell   *lc2;

		foreach(lc2, before)
			known = known || strcmp(lfirst(lc2), index) == 0;
		if (!known)
			appendStringInfo(&drops, " DROP INDEX CONCURRENTLY %s;", index);
	}
	if (drops.len == 0)
		return;
	edata->hint = psprintf("%s%sThe migration left an invalid index behind; drop it before retrying:%s",
						   edata->hint ? edata->hint : "",
						   edata->hint ? " " : "", drops.data);
}

/*
 * One migration of migrate.run(), in a subtransaction so that a failure
 * can be caught: the failure is then logged in a transaction of its own,
 * committed, and raised again.
 */
static int64
run_one(const MigrationSet *set, const Migration *m)
{
	bool		no_transaction = m->no_transaction;
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner;
	List	   *volatile invalid_before = NIL;
	int64		duration = 0;

	if (no_transaction)
	{
		invalid_before = invalid_indexes();
		/* the worker must not wait for our snapshot: hold none */
		COMPAT_SPI_COMMIT();
	}

	/* the transaction's, so taken after any commit above */
	owner = CurrentResourceOwner;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		duration = apply_one(set, m);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;

		if (no_transaction)
			hint_invalid_indexes(edata, invalid_before);
		tracking_record_failure(set, m, edata);
		COMPAT_SPI_COMMIT();
		ReThrowError(edata);
	}
	PG_END_TRY();

	return duration;
}

static void
run_migrations(const char *dir, const char *format, bool allow_drift)
{
	RunPlan		plan;

	plan_run(&plan, dir, format, allow_drift, false);

	for (int i = 0; i < plan.set->count; i++)
	{
		Migration  *m = &plan.set->items[i];
		MemoryContext old;

		if (plan.is_applied[i])
			continue;
		old = MemoryContextSwitchTo(plan.per_migration);
		if (m->adopted)
			adopt_one(plan.set, m);
		else
			(void) run_one(plan.set, m);
		MemoryContextSwitchTo(old);
		MemoryContextReset(plan.per_migration);
		COMPAT_SPI_COMMIT();
	}
}

/*
 * migrate.run(): like apply, but committing after each migration, and
 * running no-transaction migrations outside any transaction.  The caller
 * has checked that the call is nonatomic and connected SPI accordingly.
 * The run lock is session-level, as commits would release a transaction
 * one, so it is released here however the run ends.
 */
void
run_commits(const char *dir, const char *format, bool allow_drift)
{
	PreventCommandIfReadOnly("migrate.run()");
	PreventCommandDuringRecovery("migrate.run()");

	take_run_lock(true);
	PG_TRY();
	{
		run_migrations(dir, format, allow_drift);
	}
	PG_FINALLY();
	{
		DirectFunctionCall1(pg_advisory_unlock_int8,
							Int64GetDatum(MIGRATE_LOCK_KEY));
	}
	PG_END_TRY();
}

/*
 * migrate.rollback(): the stored down scripts of name and of everything
 * applied after it, newest first, in the caller's transaction.  Refuses
 * before running anything when one of them has no down script.
 */
void
run_rollback(const char *name, ResultSink *sink)
{
	List	   *targets;
	ListCell   *lc;
	MemoryContext per_migration,
				old;

	PreventCommandIfReadOnly("migrate.rollback()");
	PreventCommandDuringRecovery("migrate.rollback()");

	take_run_lock(false);
	targets = tracking_rollback_targets(name);
	if (targets == NIL && name)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("migration \"%s\" is not applied", name),
				 errhint("SELECT * FROM migrate.status() lists the applied migrations.")));
	if (targets == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no migration is applied, so there is nothing to roll back")));

	foreach(lc, targets)
	{
		AppliedMigration *am = lfirst(lc);

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
	}

	per_migration = AllocSetContextCreate(CurrentMemoryContext,
										  "pg_migrate migration",
										  ALLOCSET_DEFAULT_SIZES);

	/* every down script parsed and checked before the first one runs */
	foreach(lc, targets)
	{
		AppliedMigration *am = lfirst(lc);
		Script		down = {psprintf("%s (down)", am->name), am->down_sql, 1};

		old = MemoryContextSwitchTo(per_migration);
		(void) prepare_script(&down, "down script", CHECK_DOWN_SCRIPT);
		MemoryContextSwitchTo(old);
		MemoryContextReset(per_migration);
	}

	foreach(lc, targets)
	{
		AppliedMigration *am = lfirst(lc);
		Script		down;
		StatementList *stmts;
		TimestampTz start;
		int64		duration;

		old = MemoryContextSwitchTo(per_migration);
		ereport(NOTICE, (errmsg("rolling back migration %s", am->name)));
		down.file = psprintf("%s (down)", am->name);
		down.sql = am->down_sql;
		down.first_line = 1;
		stmts = prepare_script(&down, "down script", CHECK_DOWN_SCRIPT);

		start = GetCurrentTimestamp();
		execute_in_transaction(&down, stmts);
		duration = GetCurrentTimestamp() - start;

		tracking_record_rollback(am->name, duration);
		if (am->format && strcmp(am->format, drizzle_format.name) == 0)
			drizzle_forget(am->checksum);
		emit(sink, am->name, "rolled back", duration);
		MemoryContextSwitchTo(old);
		MemoryContextReset(per_migration);
	}
	MemoryContextDelete(per_migration);
}

static int
compare_status_rows(const void *a, const void *b)
{
	const StatusRow *ra = a;
	const StatusRow *rb = b;
	int			c;

	if (ra->repeatable != rb->repeatable)
		return ra->repeatable ? 1 : -1;
	c = version_cmp(ra->version, rb->version);
	return c != 0 ? c : strcmp(ra->name, rb->name);
}

/*
 * migrate.status(): the folder's migrations and the tracking table side by
 * side, by version.  Without a folder, the tracking table alone, in the
 * order the migrations were applied.
 */
void
run_status(const char *dir, const char *format, ResultSink *sink)
{
	List	   *applied = tracking_applied();
	StatusRow  *rows;
	int			nrows = 0;
	ListCell   *lc;

	if (dir == NULL)
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
		MigrationSet *set = source_load(dir, format);
		bool	   *is_applied = applied_flags(set, applied);
		bool	   *failed = palloc0(sizeof(bool) * Max(set->count, 1));

		foreach(lc, tracking_failed())
		{
			Migration  *m = source_find(set, lfirst(lc));

			if (m)
				failed[m - set->items] = true;
		}

		rows = palloc(sizeof(StatusRow) * (set->count + list_length(applied) + 1));
		for (int i = 0; i < set->count; i++)
		{
			Migration  *m = &set->items[i];
			const char *state = m->adopted ? "applied" :
				failed[i] ? "failed" : "pending";

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
