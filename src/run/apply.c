/*-------------------------------------------------------------------------
 *
 * apply.c
 *	  migrate.apply(): every pending migration in the caller's transaction,
 *	  all or nothing.
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
 * migrate.apply(): every pending migration, in order, in the caller's
 * transaction.  Everything that can be checked is checked before the first
 * statement runs; a failure later rolls back with the caller's transaction.
 */
void
apply_folder(const Folder *folder, const RunOptions *opts, ResultSink *sink)
{
	RunQueue	queue;

	PreventCommandIfReadOnly("migrate.apply()");
	PreventCommandDuringRecovery("migrate.apply()");

	take_run_lock(false);
	tracking_check_snapshot("migrate.apply()");
	run_queue_prepare(&queue, folder, opts, MODE_APPLY);
	ddl_log_prune();
	purge_expired_archives();

	for (int i = 0; i <= queue.last; i++)
	{
		Migration  *m = &queue.set->items[i];
		MemoryContext old;
		LoadedMigration lm;
		ExecReport	report = {0};

		if (queue.is_applied[i])
			continue;
		refuse_failed_again(m, queue.failed[i], opts->retry, MODE_APPLY);
		old = MemoryContextSwitchTo(queue.per_migration);
		/* its DDL, and the tool's table it may create, are the migration's */
		ddl_log_mark(m->name, folder->source, true);
		if (m->adopted)
		{
			adopt_one(queue.set, m);
			emit(sink, m->name, "adopted", 0);
		}
		else
		{
			load_as_checked(queue.set, m, &lm);
			interop_prepare(queue.set);
			emit(sink, m->name, "applied", apply_one(queue.set, m, &lm, MODE_APPLY,
												  &report));
			if (script_may_bypass_log(&lm.up))
				queue.log_position = -1;
		}
		ddl_log_unmark();
		MemoryContextSwitchTo(old);
		MemoryContextReset(queue.per_migration);
	}
	run_queue_fingerprint(&queue);
}
