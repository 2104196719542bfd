/*-------------------------------------------------------------------------
 *
 * detached.c
 *	  Runs the server owns: migrate.start() queues a run as a row of
 *	  migrate.run_jobs (its kind and arguments) and starts a background
 *	  worker of its own that performs it, so that the run goes on when its
 *	  caller disconnects; migrate.wait(), migrate.cancel() and
 *	  migrate.resume() act on it, and migrate.runs shows it.
 *
 * The worker logs in as the role that started the run (as the
 * no-transaction worker does, see worker.c), takes over the caller's
 * settings, and runs the kind's statement (CALL migrate.run(...)) at top
 * level, nonatomic, exactly as a client's CALL: the run commits after each
 * migration and starts the no-transaction worker for the migrations that
 * need it.  It needs no shared_preload_libraries: it is a dynamic worker.
 *
 * A run's progress and its messages are in a DSM segment (exec/progress.c)
 * that migrate.start() creates and pins, so that it exists from the
 * moment the row is committed until the worker is done and unpins it;
 * after a crash or restart every segment is gone, and a run the row says
 * is queued or running whose segment does not attach was interrupted.
 *
 * The worker waits for the transaction that queued the run (or resumed
 * it) to end: a start inside BEGIN ... COMMIT runs only once committed,
 * and not at all if rolled back.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "util/compat.h"
#include "run/run.h"

#define RUN_WORKER_TYPE		"pg_migrate run"

/* What the worker is told, in bgw_extra */
typedef struct DetachedArgs
{
	int64		run_id;
	uint32		handle;			/* its progress segment */
	Oid			database;
	Oid			role;			/* who started the run: it runs as them */
	Oid			login_role;		/* who logs in when role cannot */
	bool		log_in_as_role;
	TransactionId xid;			/* the transaction that queued it */
} DetachedArgs;

/* A row of migrate.run_jobs, as far as these functions need it */
typedef struct RunRow
{
	int64		run_id;
	char	   *kind;
	char	   *state;
	Oid			started_by;
	Oid			login_role;
	uint32		handle;
	char	   *error_sqlstate;
	char	   *error;
	char	   *error_detail;
	char	   *error_hint;
	char	   *error_context;
} RunRow;

PGDLLEXPORT void migrate_run_worker_main(Datum arg);

/*
 * What the worker takes over from the caller beside what a fleet's workers
 * take over (worker.c): the timeouts, which a run's no-transaction worker
 * gets from migrate.lock_timeout and migrate.statement_timeout instead
 */
static const char *const run_timeouts[] = {"lock_timeout", "statement_timeout"};

static emit_log_hook_type previous_emit_log_hook = NULL;
static int	server_log_level = WARNING;	/* log_min_messages, as it was */
static bool segment_unpinned = false;

/* The caller's settings, as a JSON object */
static char *
settings_json(void)
{
	StringInfoData buf;
	Size		len;
	char	   *pairs = worker_serialize_settings(&len, true);

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (const char *p = pairs; *p;)
	{
		const char *value = p + strlen(p) + 1;

		if (buf.len > 1)
			appendStringInfoChar(&buf, ',');
		escape_json(&buf, p);
		appendStringInfoChar(&buf, ':');
		escape_json(&buf, value);
		p = value + strlen(value) + 1;
	}
	for (int i = 0; i < lengthof(run_timeouts); i++)
	{
		if (buf.len > 1)
			appendStringInfoChar(&buf, ',');
		escape_json(&buf, run_timeouts[i]);
		appendStringInfoChar(&buf, ':');
		escape_json(&buf, GetConfigOption(run_timeouts[i], false, false));
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

static char *
column_text(int col)
{
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col);
}

/* The run's row, or false when there is none */
static bool
read_row(int64 run_id, RunRow *row)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	char	   *handle;

	run_tracking_query("SELECT kind, state, started_by, login_role, progress_handle,"
				" error_sqlstate, error, error_detail, error_hint, error_context"
				" FROM migrate.run_jobs WHERE run_id OPERATOR(pg_catalog.=) $1",
				1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return false;
	row->run_id = run_id;
	row->kind = column_text(1);
	row->state = column_text(2);
	row->started_by = atooid(column_text(3));
	row->login_role = atooid(column_text(4));
	handle = column_text(5);
	row->handle = handle ? (uint32) strtoul(handle, NULL, 10) : 0;
	row->error_sqlstate = column_text(6);
	row->error = column_text(7);
	row->error_detail = column_text(8);
	row->error_hint = column_text(9);
	row->error_context = column_text(10);
	SPI_freetuptable(SPI_tuptable);
	return true;
}

/*
 * The run's row, for a caller who may act on it: its role, a member of
 * it, or a superuser.
 */
static void
read_own_row(int64 run_id, RunRow *row, const char *action)
{
	if (!read_row(run_id, row))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("run %lld does not exist", (long long) run_id),
				 errhint("migrate.runs lists the runs you may see.")));
	if (!has_privs_of_role(GetUserId(), row->started_by))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s run %lld", action,
						(long long) run_id),
				 errdetail("Run %lld was started by role \"%s\".",
						   (long long) run_id,
						   GetUserNameFromId(row->started_by, true) ?
						   GetUserNameFromId(row->started_by, true) : "?"),
				 errhint("Only that role, its members and superusers may %s it.",
						 action)));
}

/* Whether the run's worker is (or is about to be) at work */
static bool
run_alive(const RunRow *row)
{
	dsm_segment *seg;
	RunProgress *p;
	bool		alive;

	if (strcmp(row->state, "queued") != 0 && strcmp(row->state, "running") != 0)
		return false;
	if ((p = progress_attach(row->handle, row->run_id, &seg)) == NULL)
		return false;
	SpinLockAcquire(&p->mutex);
	alive = !p->s.done;
	SpinLockRelease(&p->mutex);
	if (seg)
		dsm_detach(seg);
	return alive;
}

/* The state a run is in: a queued or running one whose worker is gone was interrupted */
static const char *
effective_state(const RunRow *row)
{
	if ((strcmp(row->state, "queued") == 0 || strcmp(row->state, "running") == 0) &&
		!run_alive(row))
		return "interrupted";
	return row->state;
}

/*
 * Create the run's progress segment, record its handle, and start the
 * worker.  The segment is pinned only once the worker is registered: an
 * error before that frees it with the transaction.
 */
static void
launch(int64 run_id, Oid role, Oid login_role)
{
	dsm_segment *seg = progress_create(run_id, role);
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	DetachedArgs args;
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2];

	values[0] = Int64GetDatum(run_id);
	values[1] = Int64GetDatum((int64) dsm_segment_handle(seg));
	run_tracking_query("UPDATE migrate.run_jobs SET progress_handle = $2"
				" WHERE run_id OPERATOR(pg_catalog.=) $1",
				2, types, values, NULL, SPI_OK_UPDATE);

	memset(&args, 0, sizeof(args));
	args.run_id = run_id;
	args.handle = dsm_segment_handle(seg);
	args.database = MyDatabaseId;
	args.role = role;
	args.login_role = login_role;
	args.log_in_as_role = worker_can_log_in_as(role);
	args.xid = GetTopTransactionId();

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_migrate");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "migrate_run_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_migrate run %lld", (long long) run_id);
	snprintf(worker.bgw_type, BGW_MAXLEN, RUN_WORKER_TYPE);
	StaticAssertStmt(sizeof(DetachedArgs) <= BGW_EXTRALEN, "bgw_extra too small");
	memcpy(worker.bgw_extra, &args, sizeof(args));
	worker.bgw_notify_pid = 0;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a background worker for run %lld",
						(long long) run_id),
				 errdetail("A run started with migrate.start() or migrate.resume() runs in a background worker, and all %d worker slots are in use.",
						   max_worker_processes),
				 errhint("Raise max_worker_processes (this needs a restart), or retry when fewer background workers are running; CALL migrate.run() runs in your session and needs no slot.")));
	dsm_pin_segment(seg);
	/* pinned, it lives on without this mapping */
	dsm_detach(seg);
}

/*
 * migrate.start(): queue a run of the kind with these arguments (the
 * caller checked them, and its right to run them), or, when the same run
 * is queued or running already and the caller may see it, that run.
 */
int64
detached_start(const char *kind, Jsonb *args, const char *source,
			   bool *attached)
{
	Oid			types[6] = {TEXTOID, JSONBOID, OIDOID, INT8OID, TEXTOID, OIDOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	int64		run_id;

	PreventCommandIfReadOnly("migrate.start()");
	PreventCommandDuringRecovery("migrate.start()");

	/* one start at a time sees what the others queued */
	run_tracking_query("LOCK TABLE migrate.run_jobs IN SHARE ROW EXCLUSIVE MODE",
				0, NULL, NULL, NULL, SPI_OK_UTILITY);
	values[0] = CStringGetTextDatum(kind);
	values[1] = JsonbPGetDatum(args);
	run_tracking_query("SELECT run_id FROM migrate.run_jobs"
				" WHERE kind OPERATOR(pg_catalog.=) $1"
				" AND args OPERATOR(pg_catalog.=) $2"
				" AND state OPERATOR(pg_catalog.=) ANY ('{queued,running}')"
				" ORDER BY run_id DESC",
				2, types, values, NULL, SPI_OK_SELECT);
	{
		List	   *ids = spi_first_column();
		ListCell   *lc;

		foreach(lc, ids)
		{
			RunRow		row;

			run_id = strtoi64(lfirst(lc), NULL, 10);
			if (read_row(run_id, &row) &&
				has_privs_of_role(GetUserId(), row.started_by) &&
				run_alive(&row))
			{
				ereport(NOTICE,
						(errmsg("run %lld of the same folder and arguments is %s: attaching to it",
								(long long) run_id, row.state),
						 errdetail("A second start returns the run in progress rather than queue a duplicate.")));
				*attached = true;
				return run_id;
			}
		}
	}

	*attached = false;
	run_tracking_query("SELECT pg_catalog.nextval('migrate.run_id_seq')",
				0, NULL, NULL, NULL, SPI_OK_SELECT);
	run_id = strtoi64(column_text(1), NULL, 10);
	SPI_freetuptable(SPI_tuptable);

	values[2] = ObjectIdGetDatum(GetUserId());
	values[3] = Int64GetDatum(run_id);
	if (source)
		values[4] = CStringGetTextDatum(source);
	else
		nulls[4] = 'n';
	values[5] = ObjectIdGetDatum(GetAuthenticatedUserId());
	run_tracking_query("INSERT INTO migrate.run_jobs (run_id, kind, args, settings,"
				" source, started_by, login_role)"
				" VALUES ($4, $1, $2, $7::pg_catalog.jsonb, $5, $3, $6)",
				7, (Oid[]) {TEXTOID, JSONBOID, OIDOID, INT8OID, TEXTOID, OIDOID, TEXTOID},
				(Datum[]) {values[0], values[1], values[2], values[3], values[4],
				values[5], CStringGetTextDatum(settings_json())},
				(char[]) {' ', ' ', ' ', ' ', nulls[4], ' ', ' '},
				SPI_OK_INSERT);
	launch(run_id, GetUserId(), GetAuthenticatedUserId());
	return run_id;
}

/*
 * migrate.resume(): a run that failed, was cancelled or interrupted,
 * queued again with the same arguments, as the same role; it goes on
 * from the first migration not recorded, as any run does.
 */
void
detached_resume(int64 run_id)
{
	RunRow		row;
	const char *state;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};

	PreventCommandIfReadOnly("migrate.resume()");
	PreventCommandDuringRecovery("migrate.resume()");
	run_tracking_query("LOCK TABLE migrate.run_jobs IN SHARE ROW EXCLUSIVE MODE",
				0, NULL, NULL, NULL, SPI_OK_UTILITY);
	read_own_row(run_id, &row, "resume");
	state = effective_state(&row);
	if (strcmp(state, "queued") == 0 || strcmp(state, "running") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run %lld is still %s", (long long) run_id, state),
				 errhint("Wait for it with migrate.wait(%lld), or cancel it with migrate.cancel(%lld).",
						 (long long) run_id, (long long) run_id)));
	if (strcmp(state, "succeeded") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run %lld succeeded: there is nothing to resume",
						(long long) run_id),
				 errhint("Start a new run with migrate.start() to apply what was added since.")));
	if (strcmp(row.kind, "run") != 0 && strcmp(row.kind, "tenants") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("run %lld is of kind \"%s\", which this version cannot resume",
						(long long) run_id, row.kind)));
	run_tracking_query("UPDATE migrate.run_jobs SET state = 'queued',"
				" attempts = attempts OPERATOR(pg_catalog.+) 1,"
				" queued_at = pg_catalog.now(), started_at = NULL, finished_at = NULL,"
				" worker_pid = NULL, applied = NULL, migration = NULL,"
				" error_sqlstate = NULL, error = NULL, error_detail = NULL,"
				" error_hint = NULL, error_context = NULL, error_file = NULL,"
				" error_line = NULL"
				" WHERE run_id OPERATOR(pg_catalog.=) $1",
				1, types, values, NULL, SPI_OK_UPDATE);
	launch(run_id, row.started_by, row.login_role);
}

/*
 * migrate.cancel(): cancel the run's statement, as a client's Ctrl-C
 * cancels its own, and the run with it (a queued run does not start).
 * False when the run was not in progress.
 */
bool
detached_cancel(int64 run_id)
{
	RunRow		row;
	dsm_segment *seg;
	RunProgress *p;
	int			pid = 0;
	bool		done;

	read_own_row(run_id, &row, "cancel");
	if (strcmp(row.state, "queued") != 0 && strcmp(row.state, "running") != 0)
		return false;
	if ((p = progress_attach(row.handle, run_id, &seg)) == NULL)
		return false;
	SpinLockAcquire(&p->mutex);
	done = p->s.done;
	if (!done)
	{
		p->s.cancel_requested = true;
		pid = p->s.worker_pid;
	}
	SpinLockRelease(&p->mutex);
	/* the worker's SIGINT handler is a backend's: it cancels the statement */
	if (pid != 0)
		(void) kill(pid, SIGINT);
	if (seg)
		dsm_detach(seg);
	return !done;
}

/*
 * The live progress of a run for migrate.runs: false when its worker is
 * gone.  A caller without the privileges of the run's role learns only
 * whether it is alive (visible false).
 */
bool
detached_progress(int64 run_id, uint32 handle, RunProgressState *state,
				  bool *visible)
{
	dsm_segment *seg;
	RunProgress *p = progress_attach(handle, run_id, &seg);

	*visible = false;
	if (p == NULL)
		return false;
	progress_read(p, state);
	*visible = has_privs_of_role(GetUserId(), p->role);
	if (seg)
		dsm_detach(seg);
	return !state->done;
}

/* A message of the run, as the waiter's client will get it */
static void
append_field(StringInfo buf, const char *s)
{
	if (s == NULL)
		appendStringInfoChar(buf, '\0');
	else
	{
		appendStringInfoChar(buf, '\1');
		appendBinaryStringInfo(buf, s, strlen(s) + 1);
	}
}

static const char *
read_field(const char **cursor, const char *end)
{
	const char *s;

	if (*cursor >= end)
		return NULL;
	if (*(*cursor)++ == '\0')
		return NULL;
	s = *cursor;
	*cursor += strlen(s) + 1;
	return s;
}

/*
 * In the run's worker, every message it would send a client at
 * client_min_messages = debug1 goes into the progress segment's ring
 * instead (the worker has no client), for migrate.wait() to relay.  The
 * worker lowers log_min_messages to DEBUG1 so that such messages are
 * formatted at all (a worker without a client drops those the server log
 * does not want before any hook sees them); those below the server's
 * level are then kept out of its log here.
 */
static void
capture_message(ErrorData *edata)
{
	if (edata->elevel >= DEBUG1 && edata->elevel < ERROR &&
		edata->elevel != LOG && edata->elevel != LOG_SERVER_ONLY && run_progress)
	{
		StringInfoData buf;
		int32		fields[3] = {edata->elevel, edata->sqlerrcode, edata->lineno};

		initStringInfo(&buf);
		appendBinaryStringInfo(&buf, (char *) fields, sizeof(fields));
		append_field(&buf, edata->filename);
		append_field(&buf, edata->funcname);
		append_field(&buf, edata->message);
		append_field(&buf, edata->detail);
		append_field(&buf, edata->hint);
		append_field(&buf, edata->context);
		progress_write_message(buf.data, buf.len);
		pfree(buf.data);
	}
	/* the server log gets what it did before log_min_messages was lowered */
	if (edata->elevel < ERROR && edata->elevel != LOG &&
		edata->elevel != LOG_SERVER_ONLY && edata->elevel < server_log_level)
		edata->output_to_server = false;
	if (previous_emit_log_hook)
		previous_emit_log_hook(edata);
}

/* Raise a message of the run's again, in the waiter */
static void
relay_message(const StringInfo msg)
{
	ErrorData	edata;
	int32		fields[3];
	const char *cursor = msg->data + sizeof(fields);
	const char *end = msg->data + msg->len;

	if (msg->len < sizeof(fields))
		return;
	memcpy(fields, msg->data, sizeof(fields));
	memset(&edata, 0, sizeof(edata));
	edata.elevel = fields[0];
	edata.sqlerrcode = fields[1];
	edata.lineno = fields[2];
	edata.filename = read_field(&cursor, end);
	edata.funcname = read_field(&cursor, end);
	edata.message = (char *) read_field(&cursor, end);
	edata.detail = (char *) read_field(&cursor, end);
	edata.hint = (char *) read_field(&cursor, end);
	edata.context = (char *) read_field(&cursor, end);
	if (edata.elevel >= ERROR || edata.message == NULL)
		return;
	ThrowErrorData(&edata);
}

/*
 * What a waiter in this session has relayed already, so that a wait with a
 * timeout, called again, goes on where the last one stopped.
 */
static int64 relayed_run = 0;
static uint32 relayed_handle = 0;
static uint64 relayed_pos = 0;

/*
 * migrate.wait(): relay the run's messages until it ends or the timeout
 * passes; its state then.  The caller connected SPI nonatomic.  With rethrow, a run that failed raises its
 * error here, as CALL migrate.run() would have.
 */
char *
detached_wait(int64 run_id, Interval *timeout, bool rethrow)
{
	RunRow		row;
	dsm_segment *seg = NULL;
	RunProgress *p;
	TimestampTz deadline = 0;
	StringInfoData msg;
	const char *state;

	read_own_row(run_id, &row, "wait for");
	/* wait holding no snapshot (see migrate_wait()) */
	COMPAT_SPI_COMMIT();
	InvalidateCatalogSnapshot();
	if (timeout)
		deadline = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
														   TimestampTzGetDatum(GetCurrentTimestamp()),
														   IntervalPGetDatum(timeout)));
	initStringInfo(&msg);
	p = progress_attach(row.handle, run_id, &seg);
	if (p && (relayed_run != run_id || relayed_handle != row.handle))
	{
		relayed_run = run_id;
		relayed_handle = row.handle;
		relayed_pos = 0;
	}
	while (p)
	{
		bool		done;

		while (progress_read_message(p, &relayed_pos, &msg))
			relay_message(&msg);
		SpinLockAcquire(&p->mutex);
		done = p->s.done;
		SpinLockRelease(&p->mutex);
		if (done)
		{
			while (progress_read_message(p, &relayed_pos, &msg))
				relay_message(&msg);
			break;
		}
		if (deadline != 0 && GetCurrentTimestamp() >= deadline)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	if (seg)
		dsm_detach(seg);

	/* the outcome, as the worker committed it before it said it was done */
	read_row(run_id, &row);
	state = effective_state(&row);
	if (rethrow && strcmp(state, "interrupted") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run %lld was interrupted", (long long) run_id),
				 errdetail("Its worker ended before the run did: the server crashed or restarted, or the worker was terminated."),
				 errhint("Resume it with migrate.resume(%lld): it goes on from the first migration not applied.",
						 (long long) run_id)));
	if (rethrow && (strcmp(state, "failed") == 0 || strcmp(state, "cancelled") == 0) &&
		row.error)
	{
		ErrorData	edata;

		memset(&edata, 0, sizeof(edata));
		edata.elevel = ERROR;
		edata.sqlerrcode = row.error_sqlstate && strlen(row.error_sqlstate) == 5 ?
			MAKE_SQLSTATE(row.error_sqlstate[0], row.error_sqlstate[1],
						  row.error_sqlstate[2], row.error_sqlstate[3],
						  row.error_sqlstate[4]) : ERRCODE_INTERNAL_ERROR;
		edata.message = row.error;
		edata.detail = row.error_detail;
		edata.hint = row.error_hint;
		edata.context = row.error_context;
		ThrowErrorData(&edata);
	}
	return pstrdup(state);
}

/* Unpin the progress segment as the worker leaves, however it leaves */
static void
unpin_segment(int code, Datum arg)
{
	if (!segment_unpinned)
	{
		segment_unpinned = true;
		dsm_unpin_segment((dsm_handle) DatumGetUInt32(arg));
	}
}

/*
 * The statement a run of this kind performs, from its arguments: 'run'
 * calls migrate.run, 'tenants' migrate.run_tenants with the run's own id,
 * so that resuming the run migrates its failed and pending tenants only.
 */
static char *
kind_statement(const char *kind, Datum args, int64 run_id)
{
	Oid			types[2] = {JSONBOID, INT8OID};
	Datum		values[2] = {args, Int64GetDatum(run_id)};
	const char *query;
	char	   *sql;

	if (strcmp(kind, "run") == 0)
		query = "SELECT CASE WHEN $1 OPERATOR(pg_catalog.?) 'files' THEN"
			" pg_catalog.format('CALL migrate.run(files => %L::pg_catalog.jsonb,"
			" format => %L, allow_drift => %L::pg_catalog.bool, source => %L,"
			" target => %L, retry => %L::pg_catalog.bool)',"
			" $1 OPERATOR(pg_catalog.->>) 'files', $1 OPERATOR(pg_catalog.->>) 'format',"
			" $1 OPERATOR(pg_catalog.->>) 'allow_drift', $1 OPERATOR(pg_catalog.->>) 'source',"
			" $1 OPERATOR(pg_catalog.->>) 'target', $1 OPERATOR(pg_catalog.->>) 'retry')"
			" ELSE pg_catalog.format('CALL migrate.run(dir => %L, format => %L,"
			" allow_drift => %L::pg_catalog.bool, target => %L,"
			" retry => %L::pg_catalog.bool)',"
			" $1 OPERATOR(pg_catalog.->>) 'dir', $1 OPERATOR(pg_catalog.->>) 'format',"
			" $1 OPERATOR(pg_catalog.->>) 'allow_drift', $1 OPERATOR(pg_catalog.->>) 'target',"
			" $1 OPERATOR(pg_catalog.->>) 'retry') END";
	else if (strcmp(kind, "tenants") == 0)
		query = "SELECT pg_catalog.format('CALL migrate.run_tenants(%s,"
			" tenants => %L::pg_catalog.text[], tenant_pattern => %L, tenant_query => %L,"
			" parallel => %L::pg_catalog.int4, canary => %L::pg_catalog.int4,"
			" on_failure => %L, run_id => %s, format => %L,"
			" allow_drift => %L::pg_catalog.bool, target => %L, retry => %L::pg_catalog.bool%s)',"
			" CASE WHEN $1 OPERATOR(pg_catalog.?) 'files'"
			"  THEN pg_catalog.format('files => %L::pg_catalog.jsonb, source => %L',"
			"   $1 OPERATOR(pg_catalog.->>) 'files', $1 OPERATOR(pg_catalog.->>) 'source')"
			"  ELSE pg_catalog.format('dir => %L', $1 OPERATOR(pg_catalog.->>) 'dir') END,"
			" CASE pg_catalog.jsonb_typeof($1 OPERATOR(pg_catalog.->) 'tenants') WHEN 'array'"
			"  THEN ARRAY(SELECT pg_catalog.jsonb_array_elements_text($1 OPERATOR(pg_catalog.->) 'tenants'))::pg_catalog.text END,"
			" $1 OPERATOR(pg_catalog.->>) 'tenant_pattern', $1 OPERATOR(pg_catalog.->>) 'tenant_query',"
			" $1 OPERATOR(pg_catalog.->>) 'parallel', $1 OPERATOR(pg_catalog.->>) 'canary',"
			" $1 OPERATOR(pg_catalog.->>) 'on_failure', $2,"
			" $1 OPERATOR(pg_catalog.->>) 'format', $1 OPERATOR(pg_catalog.->>) 'allow_drift',"
			" $1 OPERATOR(pg_catalog.->>) 'target', $1 OPERATOR(pg_catalog.->>) 'retry',"
			/* the tenant databases (0.6), only when given */
			" CASE WHEN $1 OPERATOR(pg_catalog.?|) '{databases,database_pattern}'"
			"  THEN pg_catalog.format(', databases => %L::pg_catalog.text[], database_pattern => %L',"
			"   CASE pg_catalog.jsonb_typeof($1 OPERATOR(pg_catalog.->) 'databases') WHEN 'array'"
			"    THEN ARRAY(SELECT pg_catalog.jsonb_array_elements_text($1 OPERATOR(pg_catalog.->) 'databases'))::pg_catalog.text END,"
			"   $1 OPERATOR(pg_catalog.->>) 'database_pattern')"
			"  ELSE '' END)";
	else
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("runs of kind \"%s\" are not known to this version", kind)));
	spi_run(query, 2, types, values, NULL, SPI_OK_SELECT);
	sql = MemoryContextStrdup(TopMemoryContext, column_text(1));
	SPI_freetuptable(SPI_tuptable);
	return sql;
}

/*
 * Take the run over in the worker: wait for the transaction that queued it,
 * check that the row is still this worker's, mark it running and take over
 * the caller's settings.  NULL when there is nothing to run (rolled back,
 * or cancelled while queued).
 */
static char *
begin_run(const DetachedArgs *a, RunProgress *p)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(a->run_id), Int32GetDatum(MyProcPid)};
	char	   *sql = NULL;
	RunRow		row;
	bool		cancelled;

	StartTransactionCommand();
	if (TransactionIdIsValid(a->xid))
		XactLockTableWait(a->xid, NULL, NULL, XLTW_None);
	CommitTransactionCommand();

	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	SpinLockAcquire(&p->mutex);
	cancelled = p->s.cancel_requested;
	SpinLockRelease(&p->mutex);
	if (read_row(a->run_id, &row) && row.handle == a->handle &&
		strcmp(row.state, "queued") == 0)
	{
		if (cancelled)
			run_tracking_query("UPDATE migrate.run_jobs SET state = 'cancelled',"
						" finished_at = pg_catalog.clock_timestamp(), applied = 0,"
						" error_sqlstate = '57014', error = 'canceling statement due to user request'"
						" WHERE run_id OPERATOR(pg_catalog.=) $1",
						1, types, values, NULL, SPI_OK_UPDATE);
		else
		{
			Oid			jtypes[1] = {INT8OID};

			run_tracking_query("UPDATE migrate.run_jobs SET state = 'running',"
						" started_at = pg_catalog.clock_timestamp(), worker_pid = $2"
						" WHERE run_id OPERATOR(pg_catalog.=) $1",
						2, types, values, NULL, SPI_OK_UPDATE);
			run_tracking_query("SELECT args, settings FROM migrate.run_jobs"
						" WHERE run_id OPERATOR(pg_catalog.=) $1",
						1, jtypes, values, NULL, SPI_OK_SELECT);
			{
				bool		isnull;
				Datum		args = SPI_getbinval(SPI_tuptable->vals[0],
												 SPI_tuptable->tupdesc, 1, &isnull);
				Datum		settings = SPI_getbinval(SPI_tuptable->vals[0],
													 SPI_tuptable->tupdesc, 2, &isnull);
				Oid			stypes[1] = {JSONBOID};
				Datum		svalues[1] = {settings};

				sql = kind_statement(row.kind, args, a->run_id);
				spi_run("SELECT key, value FROM pg_catalog.jsonb_each_text($1)",
						1, stypes, svalues, NULL, SPI_OK_SELECT);
				for (uint64 i = 0; i < SPI_processed; i++)
				{
					char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
					char	   *value = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);

					/* as the caller had them; a superuser's value only if it was one's */
					SetConfigOption(name, value, PGC_SUSET, PGC_S_SESSION);
				}
			}
		}
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return sql;
}

/* The run's outcome, into its row */
static void
finish_run(const DetachedArgs *a, RunProgress *p, ErrorData *edata)
{
	RunProgressState s;
	const char *state;
	Oid			types[9] = {INT8OID, TEXTOID, INT4OID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Oid			etypes[3] = {INT8OID, TEXTOID, INT4OID};
	Datum		evalues[3];
	char		enulls[3] = {' ', ' ', ' '};

	progress_read(p, &s);
	if (edata == NULL)
		state = "succeeded";
	else if (s.cancel_requested && edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		state = "cancelled";
	else
		state = "failed";

	values[0] = Int64GetDatum(a->run_id);
	values[1] = CStringGetTextDatum(state);
	values[2] = Int32GetDatum(s.applied);
	if (edata)
	{
		const char *fields[5] = {
			unpack_sql_state(edata->sqlerrcode), edata->message,
			edata->detail, edata->hint, edata->context
		};

		for (int i = 0; i < 5; i++)
		{
			if (fields[i])
				values[3 + i] = CStringGetTextDatum(fields[i]);
			else
				nulls[3 + i] = 'n';
		}
	}
	else
		for (int i = 3; i < 8; i++)
			nulls[i] = 'n';
	if (s.migration[0] != '\0')
		values[8] = CStringGetTextDatum(s.migration);
	else
		nulls[8] = 'n';

	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	run_tracking_query("UPDATE migrate.run_jobs SET state = $2, finished_at = pg_catalog.clock_timestamp(),"
				" applied = $3, error_sqlstate = $4, error = $5, error_detail = $6,"
				" error_hint = $7, error_context = $8, migration = $9"
				" WHERE run_id OPERATOR(pg_catalog.=) $1",
				9, types, values, nulls, SPI_OK_UPDATE);
	/* where it failed: the statement that was running */
	if (edata && s.file[0] != '\0' && edata->sqlerrcode != ERRCODE_QUERY_CANCELED)
	{
		evalues[0] = values[0];
		evalues[1] = CStringGetTextDatum(s.file);
		evalues[2] = Int32GetDatum(s.line);
		run_tracking_query("UPDATE migrate.run_jobs SET error_file = $2, error_line = $3"
					" WHERE run_id OPERATOR(pg_catalog.=) $1",
					3, etypes, evalues, enulls, SPI_OK_UPDATE);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* Entry point of a detached run's background worker */
void
migrate_run_worker_main(Datum arg)
{
	DetachedArgs a;
	dsm_segment *seg;
	RunProgress *p;
	MemoryContext cxt;
	ErrorData  *volatile edata = NULL;
	char	   *volatile sql = NULL;

	memcpy(&a, MyBgworkerEntry->bgw_extra, sizeof(a));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	CurrentResourceOwner = ResourceOwnerCreate(NULL, "pg_migrate run");
	if ((seg = dsm_attach(a.handle)) == NULL)
		proc_exit(0);
	dsm_pin_mapping(seg);
	p = dsm_segment_address(seg);
	if (p->run_id != a.run_id)
		proc_exit(0);
	before_shmem_exit(unpin_segment, UInt32GetDatum(a.handle));
	run_progress = p;
	run_progress_handle = a.handle;
	SpinLockAcquire(&p->mutex);
	p->s.worker_pid = MyProcPid;
	SpinLockRelease(&p->mutex);

	BackgroundWorkerInitializeConnectionByOid(a.database,
											  a.log_in_as_role ? a.role : a.login_role,
											  a.log_in_as_role ? COMPAT_BGWORKER_ANY_ROLE : 0);
	if (!a.log_in_as_role)
	{
		/* as the caller's session was: logged in as itself, SET ROLE */
		StartTransactionCommand();
		SetCurrentRoleId(a.role, superuser_arg(a.role));
		SetUserIdAndSecContext(a.role, 0);
		CommitTransactionCommand();
	}
	pgstat_report_appname(RUN_WORKER_TYPE);

	cxt = AllocSetContextCreate(TopMemoryContext, "pg_migrate run",
								ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		sql = begin_run(&a, p);
		if (sql)
		{
			/*
			 * The worker has no client: what a client would get goes to the
			 * progress segment, DEBUG1 included (the runner's messages for
			 * clients)
			 */
			server_log_level = log_min_messages;
			SetConfigOption("log_min_messages", "debug1", PGC_SUSET, PGC_S_SESSION);
			previous_emit_log_hook = emit_log_hook;
			emit_log_hook = capture_message;
			MemoryContextSwitchTo(cxt);
			worker_run_sql(sql);
		}
	}
	PG_CATCH();
	{
		/* the server log gets the run's error, as a client's would */
		emit_log_hook = previous_emit_log_hook;
		EmitErrorReport();
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		disable_all_timeouts(false);
		QueryCancelPending = false;
		debug_query_string = NULL;
	}
	PG_END_TRY();
	emit_log_hook = previous_emit_log_hook;
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(cxt);

	if (sql || edata)
		finish_run(&a, p, edata);
	/* the row holds the outcome: waiters read it */
	SpinLockAcquire(&p->mutex);
	p->s.done = true;
	SpinLockRelease(&p->mutex);
	unpin_segment(0, UInt32GetDatum(a.handle));
	proc_exit(0);
}
