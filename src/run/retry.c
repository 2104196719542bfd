/*-------------------------------------------------------------------------
 *
 * retry.c
 *	  What a migration whose last attempt failed takes to run again: a
 *	  changed file, a transient failure, or migrate.retry().
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
 * Failures a migration gets over by itself when run again: a lock or
 * statement that timed out or was cancelled, a deadlock, a serialization
 * failure, a shutdown, a lost connection, no free worker slot.
 */
bool
transient_failure(const char *sqlstate)
{
	static const char *const codes[] = {"55P03", "40P01", "40001", "57014"};

	if (sqlstate == NULL)
		return true;
	for (int i = 0; i < lengthof(codes); i++)
		if (strcmp(sqlstate, codes[i]) == 0)
			return true;
	return strncmp(sqlstate, "57P", 3) == 0 || strncmp(sqlstate, "08", 2) == 0 ||
		strncmp(sqlstate, "53", 2) == 0;
}

/*
 * Refuse to run again a migration whose latest attempt failed, while its
 * file is unchanged: a scheduled run would otherwise execute it, take its
 * locks and fail the same way every time.  The refusal is logged once,
 * not at every attempt.  Transient failures are retried by themselves.
 */
void
refuse_failed_again(const Migration *m, const FailedMigration *f, bool retry,
					RunMode mode)
{
	if (f == NULL || retry || f->checksum == NULL ||
		strcmp(f->checksum, m->checksum) != 0 || transient_failure(f->sqlstate))
		return;
	if (mode == MODE_RUN && !f->refusal_logged)
	{
		tracking_record_action("refused", m->name, m->checksum);
		COMPAT_SPI_COMMIT();
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("migration \"%s\" failed before and its file has not changed", m->name),
			 f->line > 0 ?
			 errdetail_plural("It failed at %s in file \"%s\", line %d, with SQLSTATE %s: %s (%d attempt).",
							  "It failed at %s in file \"%s\", line %d, with SQLSTATE %s: %s (%d attempts in a row).",
							  f->attempts, timestamptz_to_str(f->failed_at),
							  f->file ? f->file : m->up_file, f->line,
							  f->sqlstate, f->message, f->attempts) :
			 errdetail_plural("It failed at %s in file \"%s\" with SQLSTATE %s: %s (%d attempt).",
							  "It failed at %s in file \"%s\" with SQLSTATE %s: %s (%d attempts in a row).",
							  f->attempts, timestamptz_to_str(f->failed_at),
							  f->file ? f->file : m->up_file,
							  f->sqlstate, f->message, f->attempts),
			 errhint("Fix the file and run again; to run it again as it is, call migrate.retry('%s') or pass retry => true.",
					 m->name)));
}

/*
 * migrate.retry(): let the next run execute a migration whose latest
 * attempt failed, although its file is unchanged.
 */
void
retry_migration(const char *name)
{
	ListCell   *lc;

	PreventCommandIfReadOnly("migrate.retry()");
	PreventCommandDuringRecovery("migrate.retry()");

	take_run_lock(false);
	foreach(lc, tracking_failures())
	{
		FailedMigration *f = lfirst(lc);

		if (strcmp(f->name, name) == 0)
		{
			tracking_record_action("retry", name, f->checksum);
			return;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("migration \"%s\" has no failed attempt to retry", name),
			 errhint("SELECT * FROM migrate.status(...) shows the failed migrations.")));
}
