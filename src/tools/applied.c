/*-------------------------------------------------------------------------
 *
 * applied.c
 *	  Which of a folder's migrations are applied: recorded in
 *	  migrate.migrations, or applied by the folder's own tool, whose table
 *	  says so (adopted).
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "tools/tools.h"

/*
 * Which of the folder's migrations are applied, by index.  Marks those
 * that the format's own tool recorded in its table as adopted.
 */
bool *
applied_flags(MigrationSet *set, List *applied)
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

	/* what the tool itself applied (drizzle-orm, dbmate...) counts too */
	interop_adopt(set, flags);
	return flags;
}
