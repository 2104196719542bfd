/*-------------------------------------------------------------------------
 *
 * run_lock.c
 *	  The run lock: one migration run at a time on a database, and how to
 *	  wait for it without deadlocking with the run that holds it.
 *
 * The lock is a heavyweight lock on the extension's own pg_extension row
 * (objsubid 1), not an advisory lock: a migration calling
 * pg_advisory_unlock_all() would release an advisory one, and a second
 * run would then run the same migrations.  apply, rollback, plan and the
 * functions that only write the tracking tables hold it for their
 * transaction, run and run_rollback for their session.  A tenant's run
 * (migrate.tenant set) takes its schema's lock instead (pg_namespace row,
 * the same objsubid): tenants migrate in parallel, each one run at a time.
 *
 * Waiting for it hides an edge from the deadlock detector.  A
 * no-transaction migration runs in the holder's background worker, and
 * its CREATE INDEX CONCURRENTLY waits for every transaction holding an
 * older snapshot, while the holder waits for its worker on a shared memory
 * queue, not on a lock.  A caller waiting for the run lock in a
 * transaction that holds a snapshot (apply, plan and the lifecycle
 * functions run in the caller's transaction, which must have one) would
 * wait for the run, and the run for it, forever, with the lock held.  So
 * a waiter waits in slices of half deadlock_timeout, and between two
 * slices looks whether the holder or a pg_migrate worker waits, directly
 * or through other sessions' locks, for it; if so, it gives up with
 * 40P01, before the deadlock detector could pick the run instead.  run
 * and run_rollback commit before they wait, so they hold no snapshot.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "util/compat.h"
#include "tracking/tracking.h"
#include "util/util.h"

#define RUN_LOCK_OBJSUBID	1

/* The lock to take, and for how long */
typedef struct LockRequest
{
	LOCKTAG		tag;
	bool		session;
} LockRequest;

/* A backend met while looking for a wait cycle, and where from */
typedef struct Reached
{
	int			pid;
	int			origin;			/* the run lock's holder, or a worker, that
								 * waits for it; 0 for a run lock waiter */
} Reached;

/* the session-level run lock this backend holds, for release_run_lock() */
static LOCKTAG session_lock;

static void lock_wait_callback(void *arg);
static void run_lock_tag(LOCKTAG *tag);
static void acquire(void *arg);
static ErrorData *wait_slice(LockRequest *req, int ms);
static bool granted_anyway(LOCKTAG *tag);
static bool is_migrate_worker(int pid);
static List *blocking_pids(int pid);
static Reached *reach(List **reached, int pid, int origin);
static bool was_reached(List *reached, int pid);
static void refuse_wait_cycle(const LOCKTAG *tag, bool session);
static void report_wait_cycle(int holder, int origin, int blocked,
							  bool session);

static void
lock_wait_callback(void *arg)
{
	errcontext("waiting for the pg_migrate lock: another migration run on this database holds it");
}

/*
 * The run lock's tag.  The catalog snapshot the lookup takes is dropped
 * at once: it would hold back our xmin, and with it a CREATE INDEX
 * CONCURRENTLY of the run we wait for.
 */
static void
run_lock_tag(LOCKTAG *tag)
{
	Oid			extension = get_extension_oid("pg_migrate", false);

	if (migrate_tenant && *migrate_tenant)
	{
		Oid			schema = tenant_schema_oid(migrate_tenant);

		InvalidateCatalogSnapshot();
		SET_LOCKTAG_OBJECT(*tag, MyDatabaseId, NamespaceRelationId, schema,
						   RUN_LOCK_OBJSUBID);
		return;
	}
	InvalidateCatalogSnapshot();
	SET_LOCKTAG_OBJECT(*tag, MyDatabaseId, ExtensionRelationId, extension,
					   RUN_LOCK_OBJSUBID);
}

/*
 * The schema of a tenant (migrate.tenant), or an error saying that it is
 * none
 */
Oid
tenant_schema_oid(const char *tenant)
{
	Oid			schema = get_namespace_oid(tenant, true);

	if (!OidIsValid(schema))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_SCHEMA_NAME),
				 errmsg("tenant \"%s\" is not a schema", tenant),
				 errdetail("A tenant is a schema of this database, whose migrations are tracked apart from the others'."),
				 errhint("Create the schema first, or RESET migrate.tenant to work on the database's own migrations.")));
	return schema;
}

static void
acquire(void *arg)
{
	LockRequest *req = arg;

	(void) LockAcquire(&req->tag, ExclusiveLock, req->session, false);
}

/*
 * Wait for the lock for at most ms milliseconds, in the lock's queue like
 * any waiter, under a lock_timeout of our own.  The subtransaction that a
 * timeout rolls back takes us out of the queue.  Returns NULL once the
 * lock is ours, else the error that ended the wait.
 */
static ErrorData *
wait_slice(LockRequest *req, int ms)
{
	int			nest = NewGUCNestLevel();
	ErrorData  *edata;

	(void) set_config_option("lock_timeout", psprintf("%d", ms),
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	edata = try_in_subtransaction(acquire, req);
	AtEOXact_GUC(false, nest);
	return edata;
}

/*
 * Whether a session-level wait that ended in an error got the lock all the
 * same.  lock_timeout can fire as the lock is granted, and its error, raised
 * after the grant, rolls back the subtransaction, which releases a
 * transaction's lock but not a session's: the next slice would then take
 * it a second time, and release_run_lock() would leave it held for the
 * rest of the session (a pooled or pg_cron session: every later run waits
 * forever).  Takes it again without waiting, and gives back the second
 * hold.
 */
static bool
granted_anyway(LOCKTAG *tag)
{
	LockAcquireResult result = LockAcquire(tag, ExclusiveLock, true, true);

	if (result == LOCKACQUIRE_NOT_AVAIL)
		return false;
	if (result != LOCKACQUIRE_OK)
		(void) LockRelease(tag, ExclusiveLock, true);
	return true;
}

/*
 * Serialise runs on this database: a second runner waits here for the
 * first to finish, then sees its work.  lock_timeout applies.  A waiter
 * gives up when the run it waits for waits for it (see the top of the
 * file).
 * With session, the lock outlives commits until release_run_lock();
 * otherwise it is the transaction's.  A standby writes nothing, so there
 * is nothing to serialise there.
 */
void
take_run_lock(bool session)
{
	LockRequest req;
	ErrorContextCallback cb;
	TimestampTz deadline = 0;

	if (RecoveryInProgress())
		return;
	run_lock_tag(&req.tag);
	req.session = session;
	if (session)
		session_lock = req.tag;
	if (LockAcquire(&req.tag, ExclusiveLock, session, true) != LOCKACQUIRE_NOT_AVAIL)
		return;

	if (LockTimeout > 0)
		deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), LockTimeout);
	cb.callback = lock_wait_callback;
	cb.arg = NULL;
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	for (;;)
	{
		int			slice = Max(DeadlockTimeout / 2, 1);
		bool		last = false;
		ErrorData  *edata;

		if (deadline != 0)
		{
			long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
															   deadline);

			if (left <= slice)
			{
				slice = Max(left, 1);
				last = true;
			}
		}
		if ((edata = wait_slice(&req, slice)) == NULL)
			break;
		if (session && granted_anyway(&req.tag))
		{
			if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
			{
				FreeErrorData(edata);
				break;
			}
			/* a cancel or another error: the lock goes back */
			(void) LockRelease(&req.tag, ExclusiveLock, true);
		}
		if (last || edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
		{
			error_context_stack = cb.previous;
			ReThrowError(edata);
		}
		FreeErrorData(edata);
		refuse_wait_cycle(&req.tag, session);
	}
	error_context_stack = cb.previous;
}

/* Release the session-level run lock that take_run_lock(true) took */
void
release_run_lock(void)
{
	if (!RecoveryInProgress())
		(void) LockRelease(&session_lock, ExclusiveLock, true);
}

/* Whether a backend is a worker running a no-transaction migration */
static bool
is_migrate_worker(int pid)
{
	const char *type = GetBackgroundWorkerTypeByPid(pid);

	return type != NULL && strcmp(type, MIGRATE_WORKER_TYPE) == 0;
}

/* The backends that a backend waits for, as pg_blocking_pids() has them */
static List *
blocking_pids(int pid)
{
	ArrayType  *pids = DatumGetArrayTypeP(DirectFunctionCall1(pg_blocking_pids,
															  Int32GetDatum(pid)));
	Datum	   *elems;
	int			n;
	List	   *result = NIL;

	deconstruct_array(pids, INT4OID, sizeof(int32), true, TYPALIGN_INT,
					  &elems, NULL, &n);
	for (int i = 0; i < n; i++)
		result = lappend_int(result, DatumGetInt32(elems[i]));
	return result;
}

static Reached *
reach(List **reached, int pid, int origin)
{
	Reached    *r = palloc(sizeof(Reached));

	r->pid = pid;
	r->origin = origin;
	*reached = lappend(*reached, r);
	return r;
}

static bool
was_reached(List *reached, int pid)
{
	ListCell   *lc;

	foreach(lc, reached)
		if (((Reached *) lfirst(lc))->pid == pid)
			return true;
	return false;
}

/*
 * Give up waiting when the run we wait for waits for us: its holder, or a
 * pg_migrate worker (which only a run holding the lock starts), is
 * blocked, directly or through other backends, by this one.  Other
 * waiters for the run lock are not followed: they queue behind us only
 * because we came first, and look for themselves.
 */
static void
refuse_wait_cycle(const LOCKTAG *tag, bool session)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "pg_migrate run lock wait",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	LockData   *locks = GetLockStatusData();
	List	   *reached = NIL;	/* every backend met, with where from */
	List	   *todo = NIL;		/* those whose blockers are still to read */
	List	   *checked = NIL;	/* backends known not to be workers */
	int			holder = 0;

	for (int i = 0; i < locks->nelements; i++)
	{
		LockInstanceData *li = &locks->locks[i];

		if (memcmp(&li->locktag, tag, sizeof(LOCKTAG)) != 0)
			continue;
		if (li->holdMask != 0)
			holder = li->pid;
		else
			(void) reach(&reached, li->pid, 0);
	}
	(void) reach(&reached, MyProcPid, 0);
	if (holder != 0)
		todo = lappend(todo, reach(&reached, holder, holder));
	for (int i = 0; i < locks->nelements && holder != 0; i++)
	{
		int			pid = locks->locks[i].pid;

		if (was_reached(reached, pid) || list_member_int(checked, pid))
			continue;
		if (is_migrate_worker(pid))
			todo = lappend(todo, reach(&reached, pid, pid));
		else
			checked = lappend_int(checked, pid);
	}

	while (todo != NIL)
	{
		Reached    *r = linitial(todo);
		ListCell   *lc;

		todo = list_delete_first(todo);
		foreach(lc, blocking_pids(r->pid))
		{
			int			blocker = lfirst_int(lc);

			if (blocker == MyProcPid)
				report_wait_cycle(holder, r->origin, r->pid, session);
			if (!was_reached(reached, blocker))
				todo = lappend(todo, reach(&reached, blocker, r->origin));
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * The run lock's holder waits for us: through origin (itself, or its
 * worker) and blocked, the backend that waits for us.
 */
static void
report_wait_cycle(int holder, int origin, int blocked, bool session)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_DEADLOCK_DETECTED),
			 errmsg("deadlock detected while waiting for the pg_migrate run lock"),
			 origin == holder && blocked == holder ?
			 errdetail("Process %d holds the run lock and waits for this transaction.",
					   holder) :
			 origin == holder ?
			 errdetail("Process %d holds the run lock and waits for process %d, which waits for this transaction.",
					   holder, blocked) :
			 blocked == origin ?
			 errdetail("Process %d holds the run lock and waits for its background worker, process %d, which runs a no-transaction migration and waits for this transaction.",
					   holder, origin) :
			 errdetail("Process %d holds the run lock and waits for its background worker, process %d, which runs a no-transaction migration and waits for process %d, which waits for this transaction.",
					   holder, origin, blocked),
			 session ?
			 errhint("Retry when the run is done.") :
			 errhint("Retry when the run is done, or deploy with CALL migrate.run(), which waits for the lock without holding a snapshot.")));
}
