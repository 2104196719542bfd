/*-------------------------------------------------------------------------
 *
 * applied.c
 *	  Which of a folder's migrations are applied: recorded in
 *	  migrate.migrations, or applied by the folder's own tool, whose table
 *	  says so (adopted); and which failed at their latest attempt.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "tools/tools.h"

/*
 * Which of the folder's migrations are applied, by index, and which of
 * them each tracking row is.  Marks those that the format's own tool
 * recorded in its table as adopted.
 */
static void
applied_flags(AppliedSet *as)
{
	MigrationSet *set = as->set;
	bool	   *flags = palloc0(sizeof(bool) * Max(set->count, 1));
	Migration **match = palloc(sizeof(Migration *) *
							   Max(list_length(as->applied), 1));
	int			next = 0;
	ListCell   *lc;

	foreach(lc, as->applied)
	{
		AppliedMigration *am = lfirst(lc);
		Migration  *m = source_find_next(set, am->name, &next);

		match[foreach_current_index(lc)] = m;
		/* a repeatable migration is pending again once it changed */
		if (m && !(m->repeatable && strcmp(m->checksum, am->checksum) != 0))
			flags[m - set->items] = true;
	}

	/* what the tool itself applied (drizzle-orm, dbmate...) counts too */
	interop_adopt(set, flags);
	as->is_applied = flags;
	as->match = match;
}

/*
 * A folder's migration set (source_load() at elevel) beside the tracking
 * table, and which of them are applied.  check, when given, sees the set
 * and the tracking table's rows before the tool's table is read (apply
 * refuses drift before it).
 */
void
applied_set_load(AppliedSet *as, const Folder *folder, const char *format,
				 int elevel, applied_check check, void *arg)
{
	as->set = source_load(folder, format, elevel);
	as->applied = tracking_applied();
	if (check)
		check(as->set, as->applied, arg);
	applied_flags(as);
}

/* The latest failed attempt of each of the folder's migrations, by index */
FailedMigration **
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
