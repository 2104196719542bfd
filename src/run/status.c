/*-------------------------------------------------------------------------
 *
 * status.c
 *	  migrate.status(): each migration of a folder and of the tracking
 *	  table, with its state.
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

/* What status says of an applied migration's down script */
static const char *
applied_down(const AppliedMigration *am)
{
	if (!am->has_down)
		return NULL;
	if (!am->down_generated)
		return "written";
	return am->partial_count > 0 ? "partial" : "generated";
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
	List	   *applied;
	StatusRow  *rows;
	int			nrows = 0;
	ListCell   *lc;
	MemoryContext per_migration;

	if (folder == NULL)
	{
		applied = tracking_applied();
		rows = palloc(sizeof(StatusRow) * Max(list_length(applied), 1));
		foreach(lc, applied)
		{
			AppliedMigration *am = lfirst(lc);

			rows[nrows++] = (StatusRow)
			{
				am->name, am->version, "applied", am->applied_at, true,
					am->checksum, am->repeatable, applied_down(am)
			};
		}
	}
	else
	{
		AppliedSet	as;
		MigrationSet *set;
		bool	   *is_applied;
		FailedMigration **failed;

		applied_set_load(&as, folder, format, DEBUG1, NULL, NULL);
		set = as.set;
		applied = as.applied;
		is_applied = as.is_applied;
		failed = failed_by_index(set);

		rows = palloc(sizeof(StatusRow) * (set->count + list_length(applied) + 1));
		per_migration = AllocSetContextCreate(CurrentMemoryContext,
											  "pg_migrate migration",
											  ALLOCSET_DEFAULT_SIZES);
		for (int i = 0; i < set->count; i++)
		{
			Migration  *m = &set->items[i];
			const char *state = m->adopted ? "applied" :
				failed[i] ? "failed" : "pending";
			const char *down = NULL;

			/* a pending migration whose rollback would fail says so */
			if (!is_applied[i] && !m->adopted)
			{
				MemoryContext old = MemoryContextSwitchTo(per_migration);
				LoadedMigration lm;

				migration_load(set, m, &lm, true);
				warn_broken_down(m, &lm);
				if (lm.down.sql != NULL)
					down = "written";
				MemoryContextSwitchTo(old);
				MemoryContextReset(per_migration);
			}

			if (!is_applied[i])
				rows[nrows++] = (StatusRow)
				{
					m->name, m->version, state, 0, false, m->checksum,
						m->repeatable, down
				};
		}
		foreach(lc, applied)
		{
			AppliedMigration *am = lfirst(lc);
			Migration  *m = as.match[foreach_current_index(lc)];
			const char *state = "missing";

			if (m && !is_applied[m - set->items])
				continue;		/* a changed repeatable: listed as pending */
			if (m)
				state = strcmp(m->checksum, am->checksum) == 0 ? "applied" : "modified";
			rows[nrows++] = (StatusRow)
			{
				am->name, am->version, state, am->applied_at, true,
					m ? m->checksum : am->checksum, am->repeatable,
					applied_down(am)
			};
		}
		qsort(rows, nrows, sizeof(StatusRow), compare_status_rows);
	}
	*count = nrows;
	return rows;
}

/*
 * The drifted objects as "type identity (change)", comma separated, the
 * first max of them and how many more
 */
char *
drift_list(List *drifted, int max)
{
	StringInfoData buf;
	ListCell   *lc;
	int			n = 0;

	initStringInfo(&buf);
	foreach(lc, drifted)
	{
		DriftedObject *d = lfirst(lc);

		if (n++ == max)
		{
			appendStringInfo(&buf, " and %d more", list_length(drifted) - max);
			break;
		}
		appendStringInfo(&buf, "%s%s %s (%s)", n > 1 ? ", " : "",
						 d->object_type, d->object_identity, d->change);
	}
	return buf.data;
}

/*
 * migrate.drift(): one row per object changed since the last migration,
 * with who changed it and when where the DDL log knows (fingerprint.c);
 * DDL that bypassed the event triggers has no row there, and stays null.
 */
void
drift_rows(ResultSink *sink)
{
	List	   *drifted;
	ListCell   *lc;

	if (!fingerprint_taken())
		ereport(NOTICE,
				(errmsg("no fingerprint of the schema has been taken yet, so nothing can have drifted"),
				 errdetail("The fingerprint is taken after each migration: apply, run, rollback, baseline or mark_applied.")));
	drifted = fingerprint_drift();
	fingerprint_changed_by(drifted);
	foreach(lc, drifted)
	{
		DriftedObject *d = lfirst(lc);
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		values[0] = CStringGetTextDatum(d->object_type);
		values[1] = CStringGetTextDatum(d->object_identity);
		values[2] = CStringGetTextDatum(d->change);
		values[3] = CStringGetTextDatum(d->description);
		nulls[4] = d->changed_by == NULL;
		if (d->changed_by)
			values[4] = CStringGetTextDatum(d->changed_by);
		nulls[5] = TIMESTAMP_NOT_FINITE(d->changed_at);
		values[5] = TimestampTzGetDatum(d->changed_at);
		tuplestore_putvalues(sink->store, sink->desc, values, nulls);
	}
}

/*
 * migrate.status(), with a WARNING when the schema changed outside
 * migrations since the last one: status's rows are about the files, and
 * drift() lists the objects.
 */
void
status_folder(const Folder *folder, const char *format, ResultSink *sink)
{
	int			nrows;
	StatusRow  *rows = status_rows(folder, format, &nrows);
	List	   *drifted = fingerprint_drift();
	MemoryContext row_cxt;

	if (drifted != NIL)
		ereport(WARNING,
				(errmsg_plural("%d object changed outside migrations since the last migration",
							   "%d objects changed outside migrations since the last migration",
							   list_length(drifted), list_length(drifted)),
				 errdetail("%s.", drift_list(drifted, 10)),
				 errhint("SELECT * FROM migrate.drift() shows what changed. Make the change in a migration, or undo it.")));

	/* each row's datums in memory used again for the next row's */
	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_migrate status row",
									ALLOCSET_SMALL_SIZES);
	for (int i = 0; i < nrows; i++)
	{
		/* before version 0.4, status has no down column: it is left out */
		Datum		values[5];
		bool		nulls[5] = {false, false, !rows[i].applied, false,
		rows[i].down == NULL};
		MemoryContext old = MemoryContextSwitchTo(row_cxt);

		values[0] = CStringGetTextDatum(rows[i].name);
		values[1] = CStringGetTextDatum(rows[i].state);
		values[2] = TimestampTzGetDatum(rows[i].applied_at);
		values[3] = CStringGetTextDatum(rows[i].checksum);
		values[4] = rows[i].down ? CStringGetTextDatum(rows[i].down) : (Datum) 0;
		tuplestore_putvalues(sink->store, sink->desc, values, nulls);
		MemoryContextSwitchTo(old);
		MemoryContextReset(row_cxt);
	}
	MemoryContextDelete(row_cxt);
}

/*
 * migrate.down_script(): the down script recorded for an applied migration
 * (the latest one without a name), written or generated, with the
 * statements a generated one does not undo, so that it can be reviewed
 * and committed to the folder before anyone relies on it.
 */
void
down_script_row(const char *name, ResultSink *sink)
{
	AppliedMigration *am = NULL;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	const char *down;

	if (name == NULL)
	{
		List	   *applied = tracking_applied();
		ListCell   *lc;

		/* the one rollback() would undo: repeatable ones are not undone */
		foreach(lc, applied)
		{
			AppliedMigration *a = lfirst(lc);

			if (!a->repeatable)
				name = a->name;
		}
		if (name == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("no migration is applied"),
					 errhint("SELECT * FROM migrate.status() lists the applied migrations.")));
	}
	am = tracking_find(name);
	if (am == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("migration \"%s\" is not applied", name),
				 errdetail("A down script is recorded when a migration is applied: written in its folder, or generated as it runs."),
				 errhint("SELECT * FROM migrate.status() lists the applied migrations.")));

	down = am->down_sql == NULL ? NULL : !am->down_generated ? "written" :
		am->down_partial != NULL ? "partial" : "generated";
	values[0] = CStringGetTextDatum(am->name);
	nulls[1] = down == NULL;
	if (down)
		values[1] = CStringGetTextDatum(down);
	nulls[2] = am->down_partial == NULL;
	if (am->down_partial)
		values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(am->down_partial));
	nulls[3] = am->down_sql == NULL;
	if (am->down_sql)
		values[3] = CStringGetTextDatum(am->down_sql);
	tuplestore_putvalues(sink->store, sink->desc, values, nulls);
}
