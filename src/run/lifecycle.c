/*-------------------------------------------------------------------------
 *
 * lifecycle.c
 *	  What people do with a migration tool besides applying and rolling
 *	  back: record a migration as applied without running it
 *	  (mark_applied), adopt a database whose schema already exists
 *	  (baseline), delete a record without undoing it (forget), record an
 *	  edited file as it is now (accept), tell whether a database is up to
 *	  date with a folder (check), and acknowledge a change made outside
 *	  migrations that is meant to stay (accept_drift).
 *
 * Without these, people edit the tracking tables by hand.  Each function
 * that writes does so under the run lock, like apply, and logs what it did
 * in migrate.history; it keeps the folder's own tool's table in step
 * (drizzle-orm's, dbmate's, golang-migrate's), so that the tool agrees.  check only reads, as
 * status does, and so neither waits for a run nor refuses on a standby.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/xact.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "util/compat.h"
#include "run/run.h"

/* Names listed per state in migrate.check()'s error, before "and N more" */
#define CHECK_LIST_MAX 10

/* The migrations of one state, for migrate.check()'s error */
typedef struct StateList
{
	const char *state;
	int			count;
	StringInfoData names;
} StateList;

static void emit_row(ResultSink *sink, const char *name, const char *action);
static Migration *find_in_folder(const MigrationSet *set, const char *name);
static void load_current(const MigrationSet *set, Migration *m,
						 LoadedMigration *lm);
static void record_without_running(const MigrationSet *set, Migration *m,
								   const char *action);
static void warn_drizzle_skips(const MigrationSet *set, const Migration *m);
static int	baseline_end(const MigrationSet *set, const char *up_to);
static void check_may_replace_scripts(const AppliedMigration *am);

/*
 * What every function that writes the tracking tables does first: refuse
 * where nothing may be written, then wait for any run in progress and make
 * sure its work is visible.  capture.c's too.
 */
void
begin_write(const char *function)
{
	PreventCommandIfReadOnly(function);
	PreventCommandDuringRecovery(function);
	take_run_lock(false);
	tracking_check_snapshot(function);
}

static void
emit_row(ResultSink *sink, const char *name, const char *action)
{
	Datum		values[2];
	bool		nulls[2] = {false, false};

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(action);
	tuplestore_putvalues(sink->store, sink->desc, values, nulls);
}

static Migration *
find_in_folder(const MigrationSet *set, const char *name)
{
	Migration  *m = source_find(set, name);

	if (m == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("migration \"%s\" is not in folder \"%s\"",
						name, set->dir),
				 errhint("Name the migration as migrate.status() lists it: its file name without the up/down suffix and .sql.")));
	return m;
}

/*
 * Read a migration's scripts as they are now, down script included, and
 * make its checksum that of the up script read: what is recorded must be
 * what was hashed, even if the file changed since source_load().
 */
static void
load_current(const MigrationSet *set, Migration *m, LoadedMigration *lm)
{
	migration_load(set, m, lm, true);
	checksum_hex(lm->up.sql, strlen(lm->up.sql), m->checksum);
}

/*
 * Record a migration as applied without running it, as apply would have
 * recorded it (scripts, checksum, transaction mode, format), and write
 * the folder's own tool's table as apply would.
 */
static void
record_without_running(const MigrationSet *set, Migration *m,
					   const char *action)
{
	LoadedMigration lm;

	load_current(set, m, &lm);
	tracking_record_apply(set, m, &lm, m->checksum, 0, action, 0);
	/* the tool's table it may create is the migration's */
	ddl_log_mark(m->name, set->folder->source, true);
	interop_record(set, m);
	ddl_log_unmark();
}

/*
 * drizzle-orm's migrator runs only the journal entries newer than its
 * newest row: recording a migration while earlier ones are pending makes
 * it skip them.  pg_migrate still applies them; say so before the app's
 * migrator is trusted with the folder.
 */
static void
warn_drizzle_skips(const MigrationSet *set, const Migration *m)
{
	List	   *applied = tracking_applied();
	List	   *hashes = drizzle_applied_hashes();
	bool	   *recorded = palloc0(sizeof(bool) * Max(set->count, 1));
	ListCell   *lc;
	int			skipped = 0;
	const char *first = NULL;

	foreach(lc, applied)
	{
		Migration  *am = source_find(set, ((AppliedMigration *) lfirst(lc))->name);

		if (am)
			recorded[am - set->items] = true;
	}
	for (int i = 0; i < set->count; i++)
	{
		const Migration *e = &set->items[i];

		if (e == m || recorded[i] || e->created_at >= m->created_at ||
			string_list_member(hashes, e->checksum))
			continue;
		if (first == NULL)
			first = e->name;
		skipped++;
	}
	if (skipped > 0)
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg_plural("drizzle-orm's migrator will skip %d earlier migration that is not applied",
							   "drizzle-orm's migrator will skip %d earlier migrations that are not applied",
							   skipped, skipped),
				 errdetail("It runs only the migrations newer than the newest one recorded, which is now \"%s\"; \"%s\" is older and not applied.",
						   m->name, first),
				 errhint("Apply the earlier migrations with migrate.apply() or CALL migrate.run(), which run them in order, rather than with drizzle-orm's migrator.")));
}

/*
 * migrate.mark_applied(): record one migration of the folder as applied
 * without running it, history action "mark_applied".
 */
void
lifecycle_mark_applied(const Folder *folder, const char *format,
					   const char *name, ResultSink *sink)
{
	MigrationSet *set;
	Migration  *m;
	AppliedMigration *am;
	LoadedMigration lm;

	begin_write("migrate.mark_applied()");
	set = source_load(folder, format, NOTICE);
	m = find_in_folder(set, name);
	am = tracking_find(name);
	if (am)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("migration \"%s\" is already applied", name),
				 strcmp(am->checksum, m->checksum) == 0 ?
				 errdetail("It is recorded with the checksum its file has now.") :
				 errdetail("It is recorded with checksum %s, and file \"%s\" now has checksum %s.",
						   am->checksum, m->up_file, m->checksum),
				 strcmp(am->checksum, m->checksum) == 0 ? 0 :
				 errhint("To record the file as it is now, use migrate.accept().")));

	/* a down script that cannot run warns now, rather than at rollback */
	migration_load(set, m, &lm, true);
	warn_broken_down(m, &lm);
	if (set->format == &drizzle_format)
		warn_drizzle_skips(set, m);

	ereport(NOTICE,
			(errmsg("recording migration \"%s\" as applied without running it",
					m->name)));
	record_without_running(set, m, "mark_applied");
	/* the schema has what the migration makes: whoever made it */
	fingerprint_take(NIL);
	emit_row(sink, m->name, "marked applied");
}

/*
 * The index of the last migration a baseline up to up_to records: the
 * migration of that name, or the last one of that version.  Repeatable
 * migrations have no version and are never part of a baseline.
 */
static int
baseline_end(const MigrationSet *set, const char *up_to)
{
	Migration  *m = source_find(set, up_to);
	int			end = -1;

	if (m && m->repeatable)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a baseline cannot end at repeatable migration \"%s\"",
						up_to),
				 errdetail("A baseline records versioned migrations; repeatable ones run again at the next apply, as they do whenever they change."),
				 errhint("Name the last versioned migration the database already has, or its version.")));
	if (m)
		return m - set->items;

	if (isdigit((unsigned char) up_to[0]))
	{
		for (int i = 0; i < set->count; i++)
		{
			if (!set->items[i].repeatable &&
				version_cmp(set->items[i].version, up_to) == 0)
				end = i;
		}
	}
	if (end < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no migration of folder \"%s\" has the name or version \"%s\"",
						set->dir, up_to),
				 errhint("Name the last migration the database already has, or its version, as migrate.status() lists them.")));
	return end;
}

/*
 * migrate.baseline(): adopt a database whose schema already exists by
 * recording every versioned migration up to up_to as applied, without
 * running any, history action "baseline".  Only on a database with no
 * migration recorded: anything else is a repair, done one migration at a
 * time.
 */
void
lifecycle_baseline(const Folder *folder, const char *format,
				   const char *up_to, ResultSink *sink)
{
	MigrationSet *set;
	List	   *applied;
	int			end;
	MemoryContext per_migration;

	begin_write("migrate.baseline()");
	applied = tracking_applied();
	if (applied != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot baseline a database that already has migrations recorded"),
				 errdetail_plural("%d migration is recorded in migrate.migrations, the latest \"%s\"; nothing was recorded.",
								  "%d migrations are recorded in migrate.migrations, the latest \"%s\"; nothing was recorded.",
								  list_length(applied), list_length(applied),
								  ((AppliedMigration *) llast(applied))->name),
				 errhint("Record single migrations without running them with migrate.mark_applied(), or delete the records with migrate.forget() first.")));

	set = source_load(folder, format, NOTICE);
	end = baseline_end(set, up_to);

	per_migration = AllocSetContextCreate(CurrentMemoryContext,
										  "pg_migrate migration",
										  ALLOCSET_DEFAULT_SIZES);
	for (int i = 0; i <= end; i++)
	{
		Migration  *m = &set->items[i];
		MemoryContext old;

		if (m->repeatable)
			continue;
		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(per_migration);
		record_without_running(set, m, "baseline");
		MemoryContextSwitchTo(old);
		MemoryContextReset(per_migration);
		emit_row(sink, m->name, "baselined");
	}
	MemoryContextDelete(per_migration);
	/* the schema is what the migrations up to up_to make */
	fingerprint_take(NIL);
}

/*
 * migrate.forget(): delete a migration's record without running its down
 * script, history action "forget" with the checksum it had; the row in
 * its tool's own table too, as rollback does, so that both see it pending
 * again.
 */
void
lifecycle_forget(const char *name, ResultSink *sink)
{
	AppliedMigration *am;

	begin_write("migrate.forget()");
	am = tracking_forget(name);
	if (am == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("migration \"%s\" is not applied", name),
				 errhint("SELECT * FROM migrate.status() lists the applied migrations.")));
	interop_forget(am);
	emit_row(sink, am->name, "forgotten");
}

/*
 * migrate.purge_archive(): the archived data of migration dropped, or
 * without one what is past its retention; a row for each archive
 * (migration, kind, object, archive_name, rows, bytes)
 */
void
lifecycle_purge_archive(const char *migration, ResultSink *sink)
{
	ListCell   *lc;

	begin_write("migrate.purge_archive()");
	foreach(lc, archive_purge(migration))
	{
		ArchivedItem *item = lfirst(lc);
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		values[0] = CStringGetTextDatum(item->migration);
		values[1] = CStringGetTextDatum(item->kind);
		values[2] = CStringGetTextDatum(item->object);
		values[3] = CStringGetTextDatum(item->archive_name);
		values[4] = Int64GetDatum(item->rows);
		values[5] = Int64GetDatum(item->bytes);
		tuplestore_putvalues(sink->store, sink->desc, values, nulls);
	}
}

/*
 * Refuse to replace the stored scripts of a migration applied by a role
 * the caller cannot act as.  Its down script runs as that role at
 * rollback, whoever rolls back: otherwise a role allowed to call accept
 * could plant code for the superuser who applied a migration.  A role
 * that no longer exists is refused too, as rollback refuses it, until a
 * role of that name exists again.
 */
static void
check_may_replace_scripts(const AppliedMigration *am)
{
	Oid			role = get_role_oid(am->applied_by, true);

	if (OidIsValid(role) ? compat_can_set_role(GetUserId(), role) : superuser())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to accept migration \"%s\"", am->name),
			 errdetail("Its down script runs as role \"%s\", which applied it, and role \"%s\" cannot SET ROLE to it; nothing was recorded.",
					   am->applied_by,
					   GetUserNameFromId(GetUserId(), false)),
			 errhint("Accept it as \"%s\", or as a member of that role.",
					 am->applied_by)));
}

/*
 * migrate.accept(): record an applied migration's files as they are now,
 * after an edit made on purpose (a comment, line endings, a fixed down
 * script), so that drift stops failing.  Its place in the order, when and
 * by whom it was applied stay; history action "accept" keeps the new
 * checksum, and the one it replaces in its detail.
 */
void
lifecycle_accept(const Folder *folder, const char *format, const char *name,
				 ResultSink *sink)
{
	MigrationSet *set;
	Migration  *m;
	AppliedMigration *am;
	LoadedMigration lm;

	begin_write("migrate.accept()");
	set = source_load(folder, format, NOTICE);
	m = find_in_folder(set, name);
	am = tracking_find(name);
	if (am == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("migration \"%s\" is not applied", name),
				 errdetail("Only the record of an applied migration can be accepted."),
				 errhint("Apply it with migrate.apply(), or record it as applied without running it with migrate.mark_applied().")));
	check_may_replace_scripts(am);

	load_current(set, m, &lm);
	if (strcmp(am->checksum, m->checksum) == 0 &&
		lm.no_transaction == am->no_transaction &&
		/* a generated down script stands for a folder that has none */
		(lm.down.sql == NULL ? am->down_sql == NULL || am->down_generated :
		 am->down_sql != NULL && strcmp(lm.down.sql, am->down_sql) == 0 &&
		 !am->down_generated))
	{
		ereport(NOTICE,
				(errmsg("migration \"%s\" is recorded as its files are now, so there is nothing to accept",
						m->name)));
		return;
	}
	warn_broken_down(m, &lm);

	tracking_record_accept(set, m, &lm, am->checksum);
	/* drizzle-orm keys its rows by the file's hash */
	if (set->format == &drizzle_format && strcmp(am->checksum, m->checksum) != 0)
	{
		interop_forget(am);
		ddl_log_mark(m->name, set->folder->source, true);
		interop_record(set, m);
		ddl_log_unmark();
	}
	emit_row(sink, m->name, "accepted");
}

static void
state_list_add(StateList *list, const char *name)
{
	if (list->count < CHECK_LIST_MAX)
		appendStringInfo(&list->names, "%s\"%s\"",
						 list->count > 0 ? ", " : "", name);
	list->count++;
}

/* One line of check's detail: "Pending (12): "a", "b", ... and 2 more." */
static void
state_list_append(StringInfo detail, const StateList *list)
{
	if (list->count == 0)
		return;
	if (detail->len > 0)
		appendStringInfoChar(detail, '\n');
	appendStringInfo(detail, "%s (%d): %s", list->state, list->count,
					 list->names.data);
	if (list->count > CHECK_LIST_MAX)
		appendStringInfo(detail, " and %d more", list->count - CHECK_LIST_MAX);
	appendStringInfoChar(detail, '.');
}

/*
 * migrate.check(): nothing when every migration of the folder is applied
 * as it is and the schema is as the last migration left it, else an error
 * listing what is pending, failed, modified or missing, and what changed
 * outside migrations (migrate.drift()), so that a pipeline step fails.
 * The states are migrate.status()'s.
 */
void
lifecycle_check(const Folder *folder, const char *format)
{
	int			nrows;
	StatusRow  *rows = status_rows(folder, format, &nrows);
	StateList	lists[4] = {
		{"Pending"}, {"Failed"}, {"Modified after they were applied"},
		{"Missing from the folder"}
	};
	StringInfoData detail;
	List	   *drifted = fingerprint_drift();
	bool		only_drift;

	for (int i = 0; i < 4; i++)
		initStringInfo(&lists[i].names);
	for (int i = 0; i < nrows; i++)
	{
		const char *state = rows[i].state;

		if (strcmp(state, "pending") == 0)
			state_list_add(&lists[0], rows[i].name);
		else if (strcmp(state, "failed") == 0)
			state_list_add(&lists[1], rows[i].name);
		else if (strcmp(state, "modified") == 0)
			state_list_add(&lists[2], rows[i].name);
		else if (strcmp(state, "missing") == 0)
			state_list_add(&lists[3], rows[i].name);
	}

	initStringInfo(&detail);
	for (int i = 0; i < 4; i++)
		state_list_append(&detail, &lists[i]);
	if (drifted != NIL)
		appendStringInfo(&detail, "%sChanged outside migrations (%d): %s.",
						 detail.len > 0 ? "\n" : "", list_length(drifted),
						 drift_list(drifted, CHECK_LIST_MAX));
	if (detail.len == 0)
		return;

	only_drift = lists[0].count + lists[1].count + lists[2].count +
		lists[3].count == 0;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 only_drift ?
			 errmsg("database schema changed outside migrations since the last migration of folder \"%s\"",
					folder->name) :
			 errmsg("database is not up to date with migrations folder \"%s\"",
					folder->name),
			 errdetail_internal("%s", detail.data),
			 only_drift ?
			 errhint("SELECT * FROM migrate.drift() shows what changed. Make the change in a migration, or undo it.") :
			 lists[2].count + lists[3].count > 0 ?
			 errhint("Restore modified and missing files, or record them as they are with migrate.accept() and migrate.forget(); apply pending migrations with CALL migrate.run().") :
			 errhint("Apply the pending migrations with CALL migrate.run() or migrate.apply(); migrate.status() shows each migration's state.")));
}

/*
 * The drifted object a name given to accept_drift() names: its identity
 * as drift() prints it, or its type and identity ("trigger t on
 * public.x") where one identity names two objects.  An error when none.
 */
static void
accept_drift_find(List *drifted, const char *name, bool *accepted)
{
	bool		found = false;
	int			i = 0;
	ListCell   *lc;

	foreach(lc, drifted)
	{
		DriftedObject *d = lfirst(lc);
		char	   *typed = psprintf("%s %s", d->object_type, d->object_identity);

		if (strcmp(d->object_identity, name) == 0 || strcmp(typed, name) == 0)
			found = accepted[i] = true;
		i++;
	}
	if (found)
		return;
	if (fingerprint_knows(name))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("object \"%s\" has not drifted", name),
				 errdetail("It is as the last migration left it; nothing was accepted."),
				 errhint("SELECT * FROM migrate.drift() lists the objects that changed since the last migration.")));
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("object \"%s\" does not exist", name),
			 errdetail("No object of the schemas migrations touch has that identity, now or at the last migration; nothing was accepted."),
			 errhint("Name the objects as migrate.drift() prints them in object_identity, for example public.users.email; SELECT * FROM migrate.drift() lists them.")));
}

/*
 * migrate.accept_drift(): acknowledge drift that is intended without
 * making a migration of it.  The fingerprint takes the accepted objects as
 * they are now (the others keep their rows, so that their drift still
 * shows), history logs action "accept_drift" for each with what changed,
 * and their out-of-band DDL log rows are marked accepted.
 */
void
lifecycle_accept_drift(List *names, bool all, ResultSink *sink)
{
	List	   *drifted;
	List	   *accepted = NIL;
	List	   *keep = NIL;
	bool	   *chosen;
	ListCell   *lc;
	int			i = 0;

	begin_write("migrate.accept_drift()");
	drifted = fingerprint_drift();
	chosen = palloc0(sizeof(bool) * Max(list_length(drifted), 1));
	if (all && drifted == NIL)
		ereport(NOTICE,
				(errmsg("nothing has changed outside migrations since the last migration, so there is no drift to accept")));
	foreach(lc, names)
		accept_drift_find(drifted, lfirst(lc), chosen);
	foreach(lc, drifted)
	{
		if (all || chosen[i++])
			accepted = lappend(accepted, lfirst(lc));
		else
			keep = lappend(keep, lfirst(lc));
	}
	if (accepted == NIL)
		return;

	fingerprint_accept(accepted, keep);
	foreach(lc, accepted)
	{
		DriftedObject *d = lfirst(lc);
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		tracking_record_drift_accepted(d->object_identity,
									   psprintf("%s %s: %s", d->object_type,
												d->change, d->description));
		values[0] = CStringGetTextDatum(d->object_type);
		values[1] = CStringGetTextDatum(d->object_identity);
		values[2] = CStringGetTextDatum(d->change);
		tuplestore_putvalues(sink->store, sink->desc, values, nulls);
	}
}
