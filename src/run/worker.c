/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  Running a "-- migrate:no-transaction" migration in a dynamic
 *	  background worker, where each statement is a top-level statement in
 *	  autocommit, as psql would run it.
 *
 * CREATE INDEX CONCURRENTLY, VACUUM and friends refuse to run from SPI
 * ("cannot be executed from a function"), even in a nonatomic procedure.
 * A background worker connected to the same database can run them, the
 * way exec_simple_query() does.  It logs in as the role the script runs
 * as (the caller's current user for an up script, the role that applied
 * the migration for a down script), so that RESET ROLE or SET SESSION
 * AUTHORIZATION in the script cannot reach a role the caller's session
 * could (a superuser who SET ROLE to a deploy role, or rolls back).  The
 * caller hands the script over in a DSM segment and reads the worker's
 * notices and errors back from a shm_mq, rethrowing them as its own.
 *
 * The same worker, logged in and set up the same way, also migrates
 * tenants for migrate.run_tenants() (a fleet worker: run/tenants.c), each
 * with CALL migrate.run() as a top-level statement; such a segment holds
 * one queue per worker.  A tenant database's worker (run/tenant_databases.c)
 * is a fleet of one logged in to that database; it cannot write the
 * caller's tables, so it sends its tenant's outcome back on its queue.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "libpq/pqformat.h"
#include "libpq/pqmq.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"

#include "util/compat.h"
#include "run/run.h"

#define WORKER_MAGIC		0x70676d77	/* "pgmw" */
#define WORKER_QUEUE_SIZE	65536

/* shm_toc keys */
#define KEY_ARGS	1
#define KEY_SETTINGS 2
#define KEY_FILE	3
#define KEY_SQL		4
#define KEY_QUEUE	5
#define KEY_MARK	6
#define KEY_FLEET	7
#define KEY_FLEET_QUEUE 100		/* + the fleet worker's index */

/* What a worker is started for */
#define WORKER_SCRIPT	0		/* a no-transaction script */
#define WORKER_FLEET	1		/* tenants of migrate.run_tenants() */
#define WORKER_DATABASE	2		/* a tenant database of run_tenants() */
#define WORKER_SQL		3		/* statements in a database, for another
								 * module: worker_run_sql_in() */

/* What the worker needs to be the caller, in fixed-size form */
typedef struct WorkerArgs
{
	int			kind;			/* WORKER_SCRIPT, _FLEET, _DATABASE or _SQL */
	Oid			database;
	Oid			role;			/* who runs the script */
	bool		log_in_as_role; /* else log in as ours, then SET ROLE */
	Oid			authenticated_user;
	Oid			outer_user;
	bool		outer_is_superuser;
	Oid			current_user;
	int			sec_context;
	int			lock_timeout;
	bool		lock_timeout_defaulted; /* migrate.lock_timeout's built-in
										 * default, which CONCURRENTLY
										 * statements do without */
	int			statement_timeout;
	int			first_line;
	bool		generate_down;	/* send back the down script generated */
	bool		marked;			/* the script is a migration's (KEY_MARK:
								 * its name, then its source or "") */
	uint32		progress_handle;	/* the detached run's progress, or 0 */
	int64		progress_run_id;
	int			encoding;		/* the caller's database's */
	bool		bypass_allowconn;	/* log in where ALLOW_CONNECTIONS is
									 * false (WORKER_SQL) */
} WorkerArgs;

PGDLLEXPORT void migrate_worker_main(Datum arg);
PGDLLEXPORT void migrate_sql_worker_main(Datum arg);

/*
 * In the worker: the lock_timeout the caller passed when it is
 * migrate.lock_timeout's built-in default, else 0 (see run_top_level)
 */
static int	default_lock_timeout = 0;

/*
 * The caller's settings the worker takes over, besides the timeouts, so
 * that a statement means in the worker what it means in a transaction:
 * where names resolve; how literals and the statement's text are read
 * (dates, times, zones, intervals, backslashes, arrays, XML, "= NULL",
 * money and numbers, text search); what DDL creates (tablespaces, table
 * access method, TOAST compression, password hashing, the checks of
 * function bodies, createrole_self_grant from 16 on); which rows and
 * triggers data changes see (row_security, session_replication_role);
 * whether the DDL log sees the migration's DDL (session_replication_role,
 * event_triggers from 17 on, migrate.ddl_policy: the fingerprint trusts
 * the log's rows only when this session's settings let it, see
 * tracking/fingerprint.c); whose tracking rows it writes (migrate.tenant); how
 * PL/pgSQL resolves a name that is both a variable and a column; and what
 * an index build may use.  Output-only settings (extra_float_digits,
 * bytea_output, lc_messages) change no migration's effect and stay the
 * worker's.  A name this server does not know is skipped.
 */
static const char *const inherited_settings[] = {
	"search_path",
	"TimeZone", "timezone_abbreviations", "DateStyle", "IntervalStyle",
	"standard_conforming_strings", "backslash_quote", "array_nulls",
	"transform_null_equals", "xmloption", "lc_monetary", "lc_numeric",
	"lc_time", "default_text_search_config",
	"temp_tablespaces", "default_tablespace", "default_table_access_method",
	"default_toast_compression", "password_encryption",
	"check_function_bodies", "createrole_self_grant",
	"row_security", "session_replication_role",
	"plpgsql.variable_conflict", "migrate.ddl_policy", "event_triggers",
	"migrate.tenant",

	"maintenance_work_mem", "max_parallel_maintenance_workers", "work_mem"
};

static void terminate_worker(dsm_segment *seg, Datum arg);
static void append_migrate_settings(StringInfo buf);
static void put_string(shm_toc *toc, uint64 key, const char *s);
static void forward_messages(shm_mq_handle *mqh, const char *name,
							 ExecReport *report);
static void run_top_level(const Statement *stmt, const char *sql,
						  ExecReport *report);
static dsm_segment *create_segment(const Script *script, Oid role,
								   bool generate_down, shm_mq **mq);
static BackgroundWorkerHandle *start_worker(const Migration *m, dsm_segment *seg,
											int index, int kind);

/*
 * Detaching from the segment (normal end, error, cancel, FATAL) stops the
 * worker, so that it never runs on orphaned.
 */
static void
terminate_worker(dsm_segment *seg, Datum arg)
{
	BackgroundWorkerHandle *handle = (BackgroundWorkerHandle *) DatumGetPointer(arg);

	TerminateBackgroundWorker(handle);
}

/*
 * A fleet's tenants are migrated as this session would migrate them: the
 * migrate.* settings it set (lock timeouts and retries, lint, down
 * scripts, archives) are the fleet's too, as "name\0value\0" pairs.
 */
static void
append_migrate_settings(StringInfo buf)
{
	int			count;
	struct config_generic **vars = compat_guc_variables(&count);

	for (int i = 0; i < count; i++)
	{
		const char *name = vars[i]->name;
		const char *value;
		bool		inherited = false;

		if (pg_strncasecmp(name, "migrate.", 8) != 0 ||
			vars[i]->source == PGC_S_DEFAULT ||
			(vars[i]->flags & GUC_CUSTOM_PLACEHOLDER))
			continue;
		for (int j = 0; j < lengthof(inherited_settings); j++)
			inherited |= pg_strcasecmp(name, inherited_settings[j]) == 0;
		if (inherited || (value = GetConfigOption(name, true, false)) == NULL)
			continue;
		appendBinaryStringInfo(buf, name, strlen(name) + 1);
		appendBinaryStringInfo(buf, value, strlen(value) + 1);
	}
}

/*
 * The inherited settings as "name\0value\0" pairs, ending with "\0"; with
 * fleet (a fleet, or a detached run: a session of its own), the caller's
 * migrate.* settings too, and client_min_messages
 */
char *
worker_serialize_settings(Size *len, bool fleet)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i <= lengthof(inherited_settings); i++)
	{
		/* a fleet's notices are the caller's: as many as it wants */
		const char *name = i < lengthof(inherited_settings) ?
			inherited_settings[i] : fleet ? "client_min_messages" : NULL;
		const char *value = name ? GetConfigOption(name, true, false) : NULL;

		/*
		 * A placeholder (plpgsql.* before PL/pgSQL is loaded here) holds a
		 * value nobody checked the caller's right to set: leave it out
		 */
		if (value == NULL ||
			(GetConfigOptionFlags(name, true) & GUC_CUSTOM_PLACEHOLDER))
			continue;
		appendBinaryStringInfo(&buf, name, strlen(name) + 1);
		appendBinaryStringInfo(&buf, value, strlen(value) + 1);
	}
	if (fleet)
		append_migrate_settings(&buf);
	appendStringInfoChar(&buf, '\0');
	*len = buf.len;
	return buf.data;
}

static void
put_string(shm_toc *toc, uint64 key, const char *s)
{
	char	   *dest = shm_toc_allocate(toc, strlen(s) + 1);

	strcpy(dest, s);
	shm_toc_insert(toc, key, dest);
}

/*
 * One message of a worker: its notice relayed to our client, its error
 * raised as our own; the failed line and generated down script of a
 * script's worker noted in report.  Returns whether it says the worker is
 * done.
 */
static bool relay_message(void *data, Size nbytes, ExecReport *report);
static bool relay_messages(shm_mq_handle *mqh, ExecReport *report);

/*
 * Relay the worker's notices to our client and its error as our own,
 * until it is done.  The line of a failed statement comes ahead of the
 * error, as a number, into report; so does the down script it generated,
 * ahead of its success.  Returns normally only when the worker reported
 * success.
 */
static bool
relay_message(void *data, Size nbytes, ExecReport *report)
{
	StringInfoData msg;
	char		msgtype;
	bool		done = false;

	initStringInfo(&msg);
	appendBinaryStringInfo(&msg, data, nbytes);
	msgtype = pq_getmsgbyte(&msg);
	if (msgtype == 'E' || msgtype == 'N')
	{
		ErrorData	edata;

		pq_parse_errornotice(&msg, &edata);
		/* a FATAL in the worker is an ERROR for us, not our own exit */
		edata.elevel = Min(edata.elevel, ERROR);
		ThrowErrorData(&edata);
	}
	else if (msgtype == 'L' && report)
		report->error_line = pq_getmsgint(&msg, 4);
	else if (msgtype == 'G' && report)
	{
		const char *partial;

		/* in the server's encoding, as the worker sent it */
		report->generated_down = pstrdup(pq_getmsgrawstring(&msg));
		partial = pq_getmsgrawstring(&msg);
		report->generated_partial = *partial ? pstrdup(partial) : NULL;
	}
	else if (msgtype == 'C')
		done = true;
	pfree(msg.data);
	return done;
}

/*
 * Relay a worker's messages until it detaches from its queue: whether it
 * said it was done, which a worker that died did not
 */
static bool
relay_messages(shm_mq_handle *mqh, ExecReport *report)
{
	bool		done = false;

	for (;;)
	{
		Size		nbytes;
		void	   *data;

		if (shm_mq_receive(mqh, &nbytes, &data, false) != SHM_MQ_SUCCESS)
			break;
		done |= relay_message(data, nbytes, report);
	}
	return done;
}

static void
forward_messages(shm_mq_handle *mqh, const char *name, ExecReport *report)
{
	report->error_line = 0;
	if (!relay_messages(mqh, report))
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("background worker running migration \"%s\" exited unexpectedly",
						name),
				 errhint("The server log might say why.")));
}

/*
 * Whether the worker can log in as role: from PostgreSQL 17 any role (the
 * login check can be bypassed), before only a role with LOGIN.
 */
bool
worker_can_log_in_as(Oid role)
{
	HeapTuple	tuple;
	bool		can_login;

	if (COMPAT_BGWORKER_ANY_ROLE != 0)
		return true;
	tuple = SearchSysCache1(AUTHOID, ObjectIdGetDatum(role));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for role %u", role);
	can_login = ((Form_pg_authid) GETSTRUCT(tuple))->rolcanlogin;
	ReleaseSysCache(tuple);
	return can_login;
}

/* Who the worker is to be: the caller, running what role runs */
static void
fill_args(WorkerArgs *args, int kind, Oid role)
{
	memset(args, 0, sizeof(WorkerArgs));
	args->kind = kind;
	args->database = MyDatabaseId;
	args->encoding = GetDatabaseEncoding();
	args->role = role;
	args->log_in_as_role = worker_can_log_in_as(role);
	args->authenticated_user = GetAuthenticatedUserId();
	args->outer_user = GetOuterUserId();
	args->outer_is_superuser = superuser_arg(args->outer_user);
	GetUserIdAndSecContext(&args->current_user, &args->sec_context);
}

/*
 * A DSM segment holding what the worker needs: who to be, the settings,
 * the script, and the queue its messages come back on.
 */
static dsm_segment *
create_segment(const Script *script, Oid role, bool generate_down, shm_mq **mq)
{
	shm_toc_estimator e;
	Size		size;
	dsm_segment *seg;
	shm_toc    *toc;
	WorkerArgs *args;
	Size		settings_len;
	char	   *settings = worker_serialize_settings(&settings_len, false);
	const char *mark_name;
	const char *mark_source;
	bool		marked = ddl_log_marked(&mark_name, &mark_source);
	StringInfoData mark;

	/* the migration the DDL log puts the script's DDL down to */
	initStringInfo(&mark);
	if (marked)
	{
		appendBinaryStringInfo(&mark, mark_name, strlen(mark_name) + 1);
		appendStringInfoString(&mark, mark_source ? mark_source : "");
	}

	shm_toc_initialize_estimator(&e);
	shm_toc_estimate_chunk(&e, sizeof(WorkerArgs));
	shm_toc_estimate_chunk(&e, settings_len);
	shm_toc_estimate_chunk(&e, strlen(script->file) + 1);
	shm_toc_estimate_chunk(&e, strlen(script->sql) + 1);
	shm_toc_estimate_chunk(&e, WORKER_QUEUE_SIZE);
	shm_toc_estimate_chunk(&e, mark.len + 1);
	shm_toc_estimate_keys(&e, 6);
	size = shm_toc_estimate(&e);

	seg = dsm_create(size, 0);
	toc = shm_toc_create(WORKER_MAGIC, dsm_segment_address(seg), size);

	args = shm_toc_allocate(toc, sizeof(WorkerArgs));
	fill_args(args, WORKER_SCRIPT, role);
	args->lock_timeout = migrate_lock_timeout_in_force(&args->lock_timeout_defaulted);
	if (args->lock_timeout == 0)
		args->lock_timeout = LockTimeout;
	args->statement_timeout = migrate_statement_timeout > 0 ?
		migrate_statement_timeout : StatementTimeout;
	args->first_line = script->first_line;
	args->generate_down = generate_down;
	args->marked = marked;
	args->progress_handle = run_progress ? run_progress_handle : 0;
	args->progress_run_id = run_progress ? run_progress->run_id : 0;
	shm_toc_insert(toc, KEY_ARGS, args);
	shm_toc_insert(toc, KEY_MARK,
				   memcpy(shm_toc_allocate(toc, mark.len + 1), mark.data, mark.len + 1));
	shm_toc_insert(toc, KEY_SETTINGS,
				   memcpy(shm_toc_allocate(toc, settings_len), settings, settings_len));
	put_string(toc, KEY_FILE, script->file);
	put_string(toc, KEY_SQL, script->sql);

	*mq = shm_mq_create(shm_toc_allocate(toc, WORKER_QUEUE_SIZE), WORKER_QUEUE_SIZE);
	shm_toc_insert(toc, KEY_QUEUE, *mq);
	shm_mq_set_receiver(*mq, MyProc);
	return seg;
}

/*
 * Register the worker for a segment.  The detach callback that stops the
 * worker uses the handle while an error aborts the (sub)transaction, so
 * the handle lives in the transaction's memory, freed only after that.
 */
static BackgroundWorkerHandle *
start_worker(const Migration *m, dsm_segment *seg, int index, int kind)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	MemoryContext old;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_migrate");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s",
			 kind == WORKER_SCRIPT ? "migrate_worker_main" :
			 kind == WORKER_FLEET ? "migrate_fleet_worker_main" :
			 kind == WORKER_SQL ? "migrate_sql_worker_main" :
			 "migrate_database_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_migrate worker for PID %d", MyProcPid);
	snprintf(worker.bgw_type, BGW_MAXLEN, MIGRATE_WORKER_TYPE);
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;
	/* which queue of a fleet's segment is its own */
	memcpy(worker.bgw_extra, &index, sizeof(index));

	/* a tenant database's segment outlives the caller's transactions */
	old = MemoryContextSwitchTo(kind == WORKER_DATABASE ? TopMemoryContext :
								CurTransactionContext);
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		/* worker_run_sql_in()'s caller says what the worker was for */
		if (kind == WORKER_SQL)
		{
			MemoryContextSwitchTo(old);
			return NULL;
		}
		if (kind == WORKER_DATABASE)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("could not start a background worker for a tenant database of migrate.run_tenants()"),
					 errdetail("Each tenant database is migrated by a background worker logged in to it, and all %d worker slots are in use.",
							   max_worker_processes),
					 errhint("Pass a smaller parallel, raise max_worker_processes (this needs a restart), or retry when fewer background workers are running.")));
		if (m == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("could not start background worker %d of migrate.run_tenants()",
							index + 1),
					 errdetail("Each of the parallel workers that migrate tenants is a background worker, and all %d worker slots are in use.",
							   max_worker_processes),
					 errhint("Pass a smaller parallel, raise max_worker_processes (this needs a restart), or retry when fewer background workers are running.")));
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a background worker for migration \"%s\"",
						m->name),
				 errdetail("A migration marked \"-- migrate:no-transaction\" runs in a background worker, and all %d worker slots are in use.",
						   max_worker_processes),
				 errhint("Raise max_worker_processes (this needs a restart), or retry when fewer background workers are running.")));
	}
	MemoryContextSwitchTo(old);
	on_dsm_detach(seg, terminate_worker, PointerGetDatum(handle));
	return handle;
}

/*
 * Run a no-transaction script in a background worker and wait for it.  The
 * caller must have committed and must hold no snapshot: CREATE INDEX
 * CONCURRENTLY waits for every transaction with an older snapshot, and
 * would wait forever on ours.  The line of a failed statement comes back
 * in report, and with generate_down, the down script the worker generated
 * as it ran the statements.
 */
void
worker_run_script(const Migration *m, const Script *script, Oid role,
				  bool generate_down, ExecReport *report)
{
	shm_mq	   *mq;
	dsm_segment *seg = create_segment(script, role, generate_down, &mq);
	BackgroundWorkerHandle *handle;
	shm_mq_handle *mqh;
	pid_t		pid;

	/* a catalog snapshot taken above would hold back our xmin just the same */
	InvalidateCatalogSnapshot();

	handle = start_worker(m, seg, 0, WORKER_SCRIPT);
	mqh = shm_mq_attach(mq, seg, handle);

	/*
	 * A short script can be done, and the worker gone, before its start is
	 * seen: what it did is in the queue all the same, and a worker that
	 * never started leaves the queue detached, which forward_messages()
	 * reports.
	 */
	if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_POSTMASTER_DIED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("background worker for migration \"%s\" did not start",
						m->name),
				 errdetail("The postmaster died.")));

	forward_messages(mqh, m->name, report);
	dsm_detach(seg);
	pfree(handle);
}

/*
 * The segment of a fleet of nworkers workers of the kind, logged in to
 * database, with shared_size bytes for the caller (run/tenants.c) to fill
 * before worker_fleet_launch(), returned.  Each worker is the caller, with
 * its settings, as a script's worker is.  A tenant database's segment is
 * the session's, not the transaction's: the caller commits each outcome
 * while the other databases' workers go on.
 */
static void *
create_fleet(WorkerFleet *fleet, int kind, Oid database, int nworkers,
			 Size shared_size)
{
	shm_toc_estimator e;
	Size		size;
	shm_toc    *toc;
	WorkerArgs *args;
	Size		settings_len;
	char	   *settings = worker_serialize_settings(&settings_len, true);
	void	   *shared;
	ResourceOwner owner = CurrentResourceOwner;

	shm_toc_initialize_estimator(&e);
	shm_toc_estimate_chunk(&e, sizeof(WorkerArgs));
	shm_toc_estimate_chunk(&e, settings_len);
	shm_toc_estimate_chunk(&e, shared_size);
	for (int i = 0; i < nworkers; i++)
		shm_toc_estimate_chunk(&e, WORKER_QUEUE_SIZE);
	shm_toc_estimate_keys(&e, 3 + nworkers);
	size = shm_toc_estimate(&e);

	memset(fleet, 0, sizeof(WorkerFleet));
	fleet->kind = kind;
	if (kind == WORKER_DATABASE)
		CurrentResourceOwner = NULL;
	fleet->seg = dsm_create(size, 0);
	CurrentResourceOwner = owner;
	fleet->nworkers = nworkers;
	fleet->queues = palloc0(sizeof(shm_mq_handle *) * nworkers);
	fleet->done = palloc0(sizeof(bool) * nworkers);
	fleet->mqs = palloc0(sizeof(shm_mq *) * nworkers);
	fleet->handles = palloc0(sizeof(BackgroundWorkerHandle *) * nworkers);
	toc = shm_toc_create(WORKER_MAGIC, dsm_segment_address(fleet->seg), size);

	args = shm_toc_allocate(toc, sizeof(WorkerArgs));
	fill_args(args, kind, GetUserId());
	args->database = database;
	/* the CALL migrate.run() of each tenant sets the migrations' own */
	args->lock_timeout = LockTimeout;
	args->statement_timeout = StatementTimeout;
	shm_toc_insert(toc, KEY_ARGS, args);
	shm_toc_insert(toc, KEY_SETTINGS,
				   memcpy(shm_toc_allocate(toc, settings_len), settings, settings_len));
	shared = shm_toc_allocate(toc, shared_size);
	shm_toc_insert(toc, KEY_FLEET, shared);
	for (int i = 0; i < nworkers; i++)
	{
		fleet->mqs[i] = shm_mq_create(shm_toc_allocate(toc, WORKER_QUEUE_SIZE),
									  WORKER_QUEUE_SIZE);
		shm_toc_insert(toc, KEY_FLEET_QUEUE + i, fleet->mqs[i]);
		shm_mq_set_receiver(fleet->mqs[i], MyProc);
	}
	return shared;
}

/* A fleet of nworkers workers for the tenant schemas of run_tenants() */
void *
worker_fleet_create(WorkerFleet *fleet, int nworkers, Size shared_size)
{
	return create_fleet(fleet, WORKER_FLEET, MyDatabaseId, nworkers,
						shared_size);
}

/*
 * The one worker of a tenant database, logged in to it: its error (it
 * could not log in) and its outcome (worker_fleet_report) are kept in the
 * fleet for the caller, not raised.  Only worker_fleet_end() detaches its
 * segment, which the caller must do on error too.
 */
void *
worker_database_create(WorkerFleet *fleet, Oid database, Size shared_size)
{
	return create_fleet(fleet, WORKER_DATABASE, database, 1, shared_size);
}

/*
 * Start the fleet's workers.  The caller holds no snapshot: a tenant's
 * no-transaction migration (CREATE INDEX CONCURRENTLY) would wait for it.
 */
void
worker_fleet_launch(WorkerFleet *fleet)
{
	InvalidateCatalogSnapshot();
	for (int i = 0; i < fleet->nworkers; i++)
	{
		fleet->handles[i] = start_worker(NULL, fleet->seg, i, fleet->kind);
		fleet->queues[i] = shm_mq_attach(fleet->mqs[i], fleet->seg,
										 fleet->handles[i]);
	}
}

/* A tenant database's outcome ('R'), as worker_fleet_report() sent it */
static void
read_outcome(StringInfo msg, TenantOutcome *o)
{
	const char *s;

	o->state = pstrdup(pq_getmsgrawstring(msg));
	o->migrations = pq_getmsgint(msg, 4);
	o->sqlerrcode = pq_getmsgint(msg, 4);
	o->line = pq_getmsgint(msg, 4);
	s = pq_getmsgrawstring(msg);
	o->message = *s ? pstrdup(s) : NULL;
	s = pq_getmsgrawstring(msg);
	o->detail = *s ? pstrdup(s) : NULL;
	s = pq_getmsgrawstring(msg);
	o->hint = *s ? pstrdup(s) : NULL;
	s = pq_getmsgrawstring(msg);
	o->file = *s ? pstrdup(s) : NULL;
	o->reported = true;
}

/*
 * One message of a fleet's worker i: a tenant database's outcome or error
 * kept, anything else relayed.  Returns whether the worker is done.
 */
static bool
fleet_message(WorkerFleet *fleet, void *data, Size nbytes)
{
	StringInfoData msg;
	char		msgtype = nbytes > 0 ? *(char *) data : '\0';

	if (fleet->kind != WORKER_DATABASE || (msgtype != 'R' && msgtype != 'E'))
		return relay_message(data, nbytes, NULL);
	initStringInfo(&msg);
	appendBinaryStringInfo(&msg, data, nbytes);
	(void) pq_getmsgbyte(&msg);
	if (msgtype == 'R')
		read_outcome(&msg, &fleet->outcome);
	else
	{
		fleet->error = palloc0(sizeof(ErrorData));
		pq_parse_errornotice(&msg, fleet->error);
		fleet->error->elevel = ERROR;
	}
	pfree(msg.data);
	return false;
}

/*
 * Relay the fleet's notices to our client, without waiting; true once
 * every worker is done.  A worker's own error (it could not log in, it was
 * terminated) is raised as ours, and ending our transaction stops the
 * others: the tenants' errors the workers catch, record and report as
 * warnings.  A tenant database's worker that ended on an error is done,
 * its error kept in fleet->error.
 */
bool
worker_fleet_poll(WorkerFleet *fleet)
{
	int			left = 0;
	bool		received = true;

	while (received)
	{
		received = false;
		left = 0;
		for (int i = 0; i < fleet->nworkers; i++)
		{
			Size		nbytes;
			void	   *data;
			shm_mq_result res;

			if (fleet->done[i])
				continue;
			res = shm_mq_receive(fleet->queues[i], &nbytes, &data, true);
			if (res == SHM_MQ_WOULD_BLOCK)
			{
				left++;
				continue;
			}
			if (res != SHM_MQ_SUCCESS && fleet->error)
			{
				fleet->done[i] = true;
				continue;
			}
			if (res != SHM_MQ_SUCCESS)
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("background worker %d of migrate.run_tenants() exited unexpectedly",
								i + 1),
						 errhint("The server log might say why; migrate.tenant_runs says which tenants it migrated.")));
			received = true;
			if (fleet_message(fleet, data, nbytes))
				fleet->done[i] = true;
			else
				left++;
		}
	}
	return left == 0;
}

/* Relay the fleet's notices to our client until every worker is done */
void
worker_fleet_wait(WorkerFleet *fleet)
{
	while (!worker_fleet_poll(fleet))
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* Detach from the fleet's segment, which stops what is left of it */
void
worker_fleet_end(WorkerFleet *fleet)
{
	if (fleet->seg == NULL)
		return;
	dsm_detach(fleet->seg);
	fleet->seg = NULL;
	if (fleet->kind == WORKER_DATABASE)
		for (int i = 0; i < fleet->nworkers; i++)
			if (fleet->handles[i])
				pfree(fleet->handles[i]);
}

/*
 * In a fleet worker: one statement as a top-level command in its own
 * transaction, as a client's would be (CALL migrate.run(): nonatomic, it
 * commits after each migration).  Its error, copied into cxt, is returned
 * with the transaction aborted, so that the worker can record it and go on
 * to its next tenant; NULL when it succeeded.
 */
ErrorData *
worker_run_statement(const char *sql, MemoryContext cxt)
{
	ErrorData  *volatile edata = NULL;

	PG_TRY();
	{
		run_top_level(NULL, sql, NULL);
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		debug_query_string = NULL;
		disable_all_timeouts(false);
		QueryCancelPending = false;
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();
	return edata;
}

/*
 * One statement as a top-level command in its own transaction, as
 * exec_simple_query() would run it.  The statement is parsed again on its
 * own so that error positions are relative to its text.
 *
 * The parse, query and plan trees are made in the caller's per-statement
 * context (execute_script() resets it after each statement), not in the
 * transaction's: CREATE INDEX CONCURRENTLY, REINDEX and DROP INDEX
 * CONCURRENTLY, VACUUM and a procedure that commits end the transaction
 * and start new ones while the portal still walks those trees, as
 * exec_simple_query() keeps them in MessageContext for the same reason.
 * StartTransactionCommand() and CommitTransactionCommand() each switch
 * memory contexts, so the statement's context is made current again after
 * both.
 *
 * A CONCURRENTLY statement runs without lock_timeout when the timeout in
 * force is migrate.lock_timeout's built-in default, which is there to
 * keep the application's queries from queueing behind a lock request:
 * such a statement queues none, but waits for every older transaction,
 * and cut short it would leave an invalid index or a partition half
 * detached.  A timeout that was set (migrate.lock_timeout, the session's
 * lock_timeout, the script's own SET) applies to it as it is.
 */
static void
run_top_level(const Statement *stmt, const char *sql, ExecReport *report)
{
	worker_run_sql(sql);
}

/*
 * The statements of sql run as run_top_level() runs them, outside any
 * transaction: also what a detached run's worker runs (run/detached.c).
 */
void
worker_run_sql(const char *sql)
{
	MemoryContext stmt_cxt = CurrentMemoryContext;
	List	   *raw = compat_raw_parser(sql);
	ListCell   *lc;

	foreach(lc, raw)
	{
		RawStmt    *rs = lfirst_node(RawStmt, lc);
		bool		snapshot_set = false;
		List	   *querytrees;
		List	   *plans;
		Portal		portal;
		DestReceiver *receiver;
		QueryCompletion qc;
		bool		unbounded = default_lock_timeout > 0 &&
			LockTimeout == default_lock_timeout &&
			script_statement_concurrently(rs->stmt);

		/* what the server does for a client's statement */
		SetCurrentStatementStartTimestamp();
		debug_query_string = sql;
		pgstat_report_activity(STATE_RUNNING, sql);

		StartTransactionCommand();
		MemoryContextSwitchTo(stmt_cxt);
		if (unbounded)
			SetConfigOption("lock_timeout", "0", PGC_USERSET, PGC_S_SESSION);
		if (StatementTimeout > 0)
			enable_timeout_after(STATEMENT_TIMEOUT, StatementTimeout);

		if (analyze_requires_snapshot(rs))
		{
			PushActiveSnapshot(GetTransactionSnapshot());
			snapshot_set = true;
		}
		querytrees = compat_analyze_and_rewrite(rs, sql);
		plans = pg_plan_queries(querytrees, sql, CURSOR_OPT_PARALLEL_OK, NULL);
		if (snapshot_set)
			PopActiveSnapshot();

		portal = CreatePortal("", true, true);
		portal->visible = false;
		PortalDefineQuery(portal, NULL, sql,
						  CreateCommandTag(rs->stmt), plans, NULL);
		PortalStart(portal, NULL, 0, InvalidSnapshot);
		receiver = CreateDestReceiver(DestNone);
		InitializeQueryCompletion(&qc);
		compat_portal_run(portal, receiver, &qc);
		receiver->rDestroy(receiver);
		PortalDrop(portal, false);
		if (unbounded)
			SetConfigOption("lock_timeout", psprintf("%d", default_lock_timeout),
							PGC_USERSET, PGC_S_SESSION);

		disable_timeout(STATEMENT_TIMEOUT, false);
		CommitTransactionCommand();
		MemoryContextSwitchTo(stmt_cxt);
		debug_query_string = NULL;
	}
}

/*
 * Read the catalog for the down script being generated, before or after a
 * statement, in a transaction of its own: between the statements the
 * worker is in none, and one held over a statement would hold back
 * CREATE INDEX CONCURRENTLY.  What it keeps lives in the statement's
 * context (execute_script() resets it after the statement) or the
 * generator's.
 */
static void
generate_in_transaction(DownGenerator *g, const Statement *stmt,
						const char *sql, bool before)
{
	MemoryContext stmt_cxt = CurrentMemoryContext;

	StartTransactionCommand();
	MemoryContextSwitchTo(stmt_cxt);
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(stmt_cxt);
	if (before)
		inverse_before(g, stmt, sql);
	else
		inverse_after(g, stmt, sql);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(stmt_cxt);
}

static void
generate_before(void *arg, const Statement *stmt, const char *sql)
{
	generate_in_transaction(arg, stmt, sql, true);
}

static void
generate_after(void *arg, const Statement *stmt, const char *sql)
{
	generate_in_transaction(arg, stmt, sql, false);
}

/*
 * The start of both workers: attach to the caller's segment, send our
 * errors and notices to the caller's queue, and become the caller, logged
 * in as the role with the caller's settings.  Returns the segment's table
 * of contents.
 */
static shm_toc *
become_caller(Datum arg, WorkerArgs **argsp)
{
	dsm_segment *seg;
	shm_toc    *toc;
	WorkerArgs *args;
	shm_mq	   *mq;
	shm_mq_handle *mqh;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	CurrentResourceOwner = ResourceOwnerCreate(NULL, "pg_migrate worker");
	seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == NULL)
		elog(ERROR, "could not map dynamic shared memory segment");
	toc = shm_toc_attach(WORKER_MAGIC, dsm_segment_address(seg));
	if (toc == NULL)
		elog(ERROR, "bad magic number in dynamic shared memory segment");

	args = shm_toc_lookup(toc, KEY_ARGS, false);

	/* from here on, our errors and notices go to the caller */
	if (args->kind == WORKER_FLEET || args->kind == WORKER_DATABASE)
	{
		int			index;

		memcpy(&index, MyBgworkerEntry->bgw_extra, sizeof(index));
		mq = shm_toc_lookup(toc, KEY_FLEET_QUEUE + index, false);
	}
	else
		mq = shm_toc_lookup(toc, KEY_QUEUE, false);
	shm_mq_set_sender(mq, MyProc);
	mqh = shm_mq_attach(mq, seg, NULL);
	pq_redirect_to_shm_mq(seg, mqh);

	/* the statements' progress goes where the detached run's does */
	if (args->progress_handle != 0)
	{
		dsm_segment *progress_seg;

		run_progress = progress_attach(args->progress_handle,
									   args->progress_run_id, &progress_seg);
		if (progress_seg)
			dsm_pin_mapping(progress_seg);
	}

	/*
	 * Logged in as the role, the script can RESET ROLE only to it.  Before
	 * PostgreSQL 17 a role without LOGIN cannot be logged in as: an up
	 * script then runs as the caller's session does, SET ROLE to its
	 * current user (a down script is refused before it gets here).
	 */
	if (args->log_in_as_role)
		BackgroundWorkerInitializeConnectionByOid(args->database, args->role,
												  COMPAT_BGWORKER_ANY_ROLE |
												  (args->bypass_allowconn ? BGWORKER_BYPASS_ALLOWCONN : 0));
	else
		BackgroundWorkerInitializeConnectionByOid(args->database,
												  args->authenticated_user,
												  args->bypass_allowconn ? BGWORKER_BYPASS_ALLOWCONN : 0);
	/* messages travel in the server encoding, as the caller expects */
	SetClientEncoding(GetDatabaseEncoding());
	if (!args->log_in_as_role)
	{
		SetCurrentRoleId(args->outer_user, args->outer_is_superuser);
		SetUserIdAndSecContext(args->current_user, args->sec_context);
	}

	StartTransactionCommand();
	/* a tenant database's encoding may not be the caller's */
	if (args->encoding != GetDatabaseEncoding() &&
		PrepareClientEncoding(args->encoding) == 0)
		SetClientEncoding(args->encoding);
	for (const char *p = shm_toc_lookup(toc, KEY_SETTINGS, false); *p;)
	{
		const char *value = p + strlen(p) + 1;

		/*
		 * A tenant database's worker is a session of that database: the
		 * caller's search_path names the caller's schemas, and it migrates
		 * the database's own migrations
		 */
		if (args->kind == WORKER_DATABASE &&
			(strcmp(p, "search_path") == 0 || strcmp(p, "migrate.tenant") == 0))
		{
			p = value + strlen(value) + 1;
			continue;
		}

		/*
		 * As superuser context: session_replication_role is one, and the
		 * caller could only have values it was allowed to set
		 */
		SetConfigOption(p, value, PGC_SUSET, PGC_S_SESSION);
		p = value + strlen(value) + 1;
	}
	SetConfigOption("lock_timeout", psprintf("%d", args->lock_timeout),
					PGC_USERSET, PGC_S_SESSION);
	if (args->lock_timeout_defaulted)
		default_lock_timeout = args->lock_timeout;
	SetConfigOption("statement_timeout", psprintf("%d", args->statement_timeout),
					PGC_USERSET, PGC_S_SESSION);
	CommitTransactionCommand();
	*argsp = args;
	return toc;
}

/*
 * In a fleet worker (run/tenants.c's entry point): become the caller, and
 * return what the caller shares with the fleet
 */
void *
worker_fleet_join(Datum arg)
{
	WorkerArgs *args;
	shm_toc    *toc = become_caller(arg, &args);

	return shm_toc_lookup(toc, KEY_FLEET, false);
}

/*
 * In a tenant database's worker: the tenant's outcome, for the caller to
 * write into its migrate.tenant_runs
 */
void
worker_fleet_report(const TenantOutcome *o)
{
	StringInfoData msg;

	pq_beginmessage(&msg, 'R');
	pq_sendstring(&msg, o->state);
	pq_sendint32(&msg, o->migrations);
	pq_sendint32(&msg, o->sqlerrcode);
	pq_sendint32(&msg, o->line);
	pq_sendstring(&msg, o->message ? o->message : "");
	pq_sendstring(&msg, o->detail ? o->detail : "");
	pq_sendstring(&msg, o->hint ? o->hint : "");
	pq_sendstring(&msg, o->file ? o->file : "");
	pq_endmessage(&msg);
}

/* In a fleet worker: tell the caller that this worker is done */
void
worker_fleet_leave(void)
{
	StringInfoData done;

	pq_beginmessage(&done, 'C');
	pq_sendstring(&done, "done");
	pq_endmessage(&done);
}

/* Entry point of the background worker */
void
migrate_worker_main(Datum arg)
{
	shm_toc    *toc;
	WorkerArgs *args;
	Script		script;
	StatementList *stmts;
	MemoryContext cxt;
	ExecReport *report;
	StringInfoData done;
	DownGenerator *volatile down = NULL;
	StatementObserver observer;

	toc = become_caller(arg, &args);
	if (args->marked)
	{
		const char *name = shm_toc_lookup(toc, KEY_MARK, false);
		const char *source = name + strlen(name) + 1;

		ddl_log_mark(name, *source ? source : NULL, true);
	}

	cxt = AllocSetContextCreate(TopMemoryContext, "pg_migrate worker",
								ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);
	script.file = shm_toc_lookup(toc, KEY_FILE, false);
	script.sql = shm_toc_lookup(toc, KEY_SQL, false);
	script.first_line = args->first_line;
	stmts = script_split(&script);
	/* not a local: written in the PG_TRY below, read in its PG_CATCH */
	report = palloc0(sizeof(ExecReport));
	if (args->generate_down)
	{
		down = inverse_start(&script, true);
		/* what it drops is kept under the migration's name */
		if (args->marked)
			archive_begin(shm_toc_lookup(toc, KEY_MARK, false));
		observer.before = generate_before;
		observer.after = generate_after;
		observer.arg = down;
	}

	PG_TRY();
	{
		execute_script(&script, stmts, run_top_level,
					   down ? &observer : NULL, report);
	}
	PG_CATCH();
	{
		StringInfoData line;

		/* the error's file line, as a number, ahead of the error itself */
		pq_beginmessage(&line, 'L');
		pq_sendint32(&line, report->error_line);
		pq_endmessage(&line);
		PG_RE_THROW();
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);

	if (down)
	{
		StringInfoData generated;
		char	   *partial = inverse_partial_json(down);

		pq_beginmessage(&generated, 'G');
		pq_sendstring(&generated, inverse_script(down));
		pq_sendstring(&generated, partial ? partial : "");
		pq_endmessage(&generated);
	}

	/* tell the caller that every statement ran */
	pq_beginmessage(&done, 'C');
	pq_sendstring(&done, "done");
	pq_endmessage(&done);
}

/*
 * Run sql's statements at top level in a worker connected to database (a
 * database the caller made itself, which may not allow connections), as
 * role (the caller's current user, or a superuser for what only one may
 * do, logged in as it), with the caller's settings, and wait for it: for
 * CREATE DATABASE and DROP DATABASE, which no transaction may run, and
 * for what must happen in another database (run/testdb.c).  The worker's
 * notices are the caller's, its error is raised as the caller's own; what
 * the statements did is committed whatever the caller's transaction does
 * next.  false when no worker slot was free, for the caller to say why it
 * needed one.
 */
bool
worker_run_sql_in(Oid database, Oid role, bool as_superuser, const char *sql)
{
	shm_toc_estimator e;
	Size		size;
	dsm_segment *seg;
	shm_toc    *toc;
	WorkerArgs *args;
	Size		settings_len;
	char	   *settings = worker_serialize_settings(&settings_len, true);
	shm_mq	   *mq;
	shm_mq_handle *mqh;
	BackgroundWorkerHandle *handle;
	pid_t		pid;

	shm_toc_initialize_estimator(&e);
	shm_toc_estimate_chunk(&e, sizeof(WorkerArgs));
	shm_toc_estimate_chunk(&e, settings_len);
	shm_toc_estimate_chunk(&e, strlen(sql) + 1);
	shm_toc_estimate_chunk(&e, WORKER_QUEUE_SIZE);
	shm_toc_estimate_keys(&e, 4);
	size = shm_toc_estimate(&e);

	seg = dsm_create(size, 0);
	toc = shm_toc_create(WORKER_MAGIC, dsm_segment_address(seg), size);
	args = shm_toc_allocate(toc, sizeof(WorkerArgs));
	fill_args(args, WORKER_SQL, role);
	args->database = database;
	args->bypass_allowconn = true;
	/* a superuser's statements are the module's own: no SET ROLE detour */
	if (as_superuser)
		args->log_in_as_role = true;
	args->lock_timeout = LockTimeout;
	args->statement_timeout = StatementTimeout;
	shm_toc_insert(toc, KEY_ARGS, args);
	shm_toc_insert(toc, KEY_SETTINGS,
				   memcpy(shm_toc_allocate(toc, settings_len), settings, settings_len));
	put_string(toc, KEY_SQL, sql);
	mq = shm_mq_create(shm_toc_allocate(toc, WORKER_QUEUE_SIZE), WORKER_QUEUE_SIZE);
	shm_toc_insert(toc, KEY_QUEUE, mq);
	shm_mq_set_receiver(mq, MyProc);

	InvalidateCatalogSnapshot();
	handle = start_worker(NULL, seg, -1, WORKER_SQL);
	if (handle == NULL)
	{
		dsm_detach(seg);
		return false;
	}
	mqh = shm_mq_attach(mq, seg, handle);
	if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_POSTMASTER_DIED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("background worker did not start"),
				 errdetail("The postmaster died.")));
	if (!relay_messages(mqh, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("background worker in database \"%s\" exited unexpectedly",
						get_database_name(database) ? get_database_name(database) : "?"),
				 errhint("The server log might say why.")));
	dsm_detach(seg);
	pfree(handle);
	/* what the worker committed, this session's catalog lookups see */
	AcceptInvalidationMessages();
	InvalidateCatalogSnapshot();
	return true;
}

/* Entry point of worker_run_sql_in()'s worker */
void
migrate_sql_worker_main(Datum arg)
{
	WorkerArgs *args;
	shm_toc    *toc = become_caller(arg, &args);
	StringInfoData done;

	MemoryContextSwitchTo(AllocSetContextCreate(TopMemoryContext,
												"pg_migrate sql worker",
												ALLOCSET_DEFAULT_SIZES));
	worker_run_sql(shm_toc_lookup(toc, KEY_SQL, false));
	pgstat_report_activity(STATE_IDLE, NULL);
	pq_beginmessage(&done, 'C');
	pq_sendstring(&done, "done");
	pq_endmessage(&done);
}
