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
					am->checksum, am->repeatable
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

	if (drifted != NIL)
		ereport(WARNING,
				(errmsg_plural("%d object changed outside migrations since the last migration",
							   "%d objects changed outside migrations since the last migration",
							   list_length(drifted), list_length(drifted)),
				 errdetail("%s.", drift_list(drifted, 10)),
				 errhint("SELECT * FROM migrate.drift() shows what changed. Make the change in a migration, or undo it.")));

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
