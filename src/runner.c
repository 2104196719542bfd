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
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pg_migrate.h"

typedef struct StatusRow
{
	const char *name;
	const char *version;
	const char *state;
	TimestampTz applied_at;
	bool		applied;
	const char *checksum;
} StatusRow;

static void lock_wait_callback(void *arg);
static void take_run_lock(void);
static bool *applied_flags(const MigrationSet *set, List *applied);
static void check_drift(const MigrationSet *set, List *applied, bool allow_drift);
static List *prepare_script(const Script *script, const char *what);
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
 * first to commit, then sees its work.  lock_timeout applies.
 */
static void
take_run_lock(void)
{
	ErrorContextCallback cb;

	cb.callback = lock_wait_callback;
	cb.arg = NULL;
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	DirectFunctionCall1(pg_advisory_xact_lock_int8,
						Int64GetDatum(MIGRATE_LOCK_KEY));
	error_context_stack = cb.previous;
}

/* Which of the folder's migrations are applied, by index */
static bool *
applied_flags(const MigrationSet *set, List *applied)
{
	bool	   *flags = palloc0(sizeof(bool) * Max(set->count, 1));
	ListCell   *lc;

	foreach(lc, applied)
	{
		Migration  *m = source_find(set, ((AppliedMigration *) lfirst(lc))->name);

		if (m)
			flags[m - set->items] = true;
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

		if (m && strcmp(m->checksum, am->checksum) == 0)
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
static List *
prepare_script(const Script *script, const char *what)
{
	List	   *stmts = script_split(script);

	if (stmts == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" contains no SQL statements", what,
						script->file),
				 strcmp(what, "down script") == 0 ?
				 errhint("Delete the file if the migration cannot be undone.") :
				 errhint("Add the migration's statements, or delete the file.")));
	script_check(script, stmts);
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
 * migrate.apply(): every pending migration, in order, in the caller's
 * transaction.  Everything that can be checked is checked before the first
 * statement runs; a failure later rolls back with the caller's transaction.
 */
void
run_apply(const char *dir, const char *format, bool allow_drift,
		  ResultSink *sink)
{
	MigrationSet *set;
	List	   *applied;
	bool	   *is_applied;
	MemoryContext per_migration,
				old;

	PreventCommandIfReadOnly("migrate.apply()");
	PreventCommandDuringRecovery("migrate.apply()");

	take_run_lock();
	set = source_load(dir, format);
	applied = tracking_applied();
	check_drift(set, applied, allow_drift);
	is_applied = applied_flags(set, applied);

	per_migration = AllocSetContextCreate(CurrentMemoryContext,
										  "pg_migrate migration",
										  ALLOCSET_DEFAULT_SIZES);

	/* first pass: parse and check every pending script, run nothing */
	for (int i = 0; i < set->count; i++)
	{
		Migration  *m = &set->items[i];
		LoadedMigration lm;

		if (is_applied[i])
			continue;
		old = MemoryContextSwitchTo(per_migration);
		migration_load(set, m, &lm);
		(void) prepare_script(&lm.up, "migration file");
		if (lm.down.sql)
			(void) prepare_script(&lm.down, "down script");
		if (lm.no_transaction)
			ereport(ERROR,
					(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
					 errmsg("migration \"%s\" cannot run inside a transaction", m->name),
					 errdetail("File \"%s\" is marked \"-- migrate:no-transaction\", and migrate.apply() runs every migration in the caller's transaction.",
							   m->up_file),
					 errhint("Apply the folder with CALL migrate.run(...), which runs such migrations outside a transaction block.")));
		MemoryContextSwitchTo(old);
		MemoryContextReset(per_migration);
	}

	/* second pass: run them */
	for (int i = 0; i < set->count; i++)
	{
		Migration  *m = &set->items[i];
		LoadedMigration lm;
		List	   *stmts;
		char		checksum[MIGRATE_CHECKSUM_LEN + 1];
		TimestampTz start;
		int64		duration;

		if (is_applied[i])
			continue;
		old = MemoryContextSwitchTo(per_migration);
		ereport(NOTICE, (errmsg("applying migration %s", m->name)));
		migration_load(set, m, &lm);
		checksum_hex(lm.up.sql, strlen(lm.up.sql), checksum);
		stmts = prepare_script(&lm.up, "migration file");

		start = GetCurrentTimestamp();
		execute_script(&lm.up, stmts);
		duration = GetCurrentTimestamp() - start;

		tracking_record_apply(set, m, &lm, checksum, duration);
		MemoryContextSwitchTo(old);
		emit(sink, m->name, "applied", duration);
		MemoryContextReset(per_migration);
	}
	MemoryContextDelete(per_migration);
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

	take_run_lock();
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
	foreach(lc, targets)
	{
		AppliedMigration *am = lfirst(lc);
		Script		down;
		List	   *stmts;
		TimestampTz start;
		int64		duration;

		old = MemoryContextSwitchTo(per_migration);
		ereport(NOTICE, (errmsg("rolling back migration %s", am->name)));
		down.file = psprintf("%s (down)", am->name);
		down.sql = am->down_sql;
		down.first_line = 1;
		stmts = prepare_script(&down, "down script");

		start = GetCurrentTimestamp();
		execute_script(&down, stmts);
		duration = GetCurrentTimestamp() - start;

		tracking_record_rollback(am->name, duration);
		MemoryContextSwitchTo(old);
		emit(sink, am->name, "rolled back", duration);
		MemoryContextReset(per_migration);
	}
	MemoryContextDelete(per_migration);
}

static int
compare_status_rows(const void *a, const void *b)
{
	const StatusRow *ra = a;
	const StatusRow *rb = b;
	int			c = version_cmp(ra->version, rb->version);

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
				am->name, am->version, "applied", am->applied_at, true, am->checksum
			};
		}
	}
	else
	{
		MigrationSet *set = source_load(dir, format);
		bool	   *is_applied = applied_flags(set, applied);

		rows = palloc(sizeof(StatusRow) * (set->count + list_length(applied) + 1));
		for (int i = 0; i < set->count; i++)
		{
			if (!is_applied[i])
				rows[nrows++] = (StatusRow)
				{
					set->items[i].name, set->items[i].version, "pending", 0, false,
						set->items[i].checksum
				};
		}
		foreach(lc, applied)
		{
			AppliedMigration *am = lfirst(lc);
			Migration  *m = source_find(set, am->name);
			const char *state = "missing";

			if (m)
				state = strcmp(m->checksum, am->checksum) == 0 ? "applied" : "modified";
			rows[nrows++] = (StatusRow)
			{
				am->name, am->version, state, am->applied_at, true,
					m ? m->checksum : am->checksum
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
