/*-------------------------------------------------------------------------
 *
 * functions.c
 *	  The SQL-callable functions: argument handling, the SPI connection and
 *	  the result set around the work done in run/ and preflight/.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "run/run.h"

PG_FUNCTION_INFO_V1(migrate_apply);
PG_FUNCTION_INFO_V1(migrate_status);
PG_FUNCTION_INFO_V1(migrate_rollback);
PG_FUNCTION_INFO_V1(migrate_run);
PG_FUNCTION_INFO_V1(migrate_apply_files);
PG_FUNCTION_INFO_V1(migrate_status_files);
PG_FUNCTION_INFO_V1(migrate_run_files);
PG_FUNCTION_INFO_V1(migrate_run_rollback);
PG_FUNCTION_INFO_V1(migrate_retry);
PG_FUNCTION_INFO_V1(migrate_mark_applied);
PG_FUNCTION_INFO_V1(migrate_mark_applied_files);
PG_FUNCTION_INFO_V1(migrate_baseline);
PG_FUNCTION_INFO_V1(migrate_baseline_files);
PG_FUNCTION_INFO_V1(migrate_forget);
PG_FUNCTION_INFO_V1(migrate_accept);
PG_FUNCTION_INFO_V1(migrate_accept_files);
PG_FUNCTION_INFO_V1(migrate_check);
PG_FUNCTION_INFO_V1(migrate_check_files);
PG_FUNCTION_INFO_V1(migrate_lint);
PG_FUNCTION_INFO_V1(migrate_lint_files);
PG_FUNCTION_INFO_V1(migrate_plan);
PG_FUNCTION_INFO_V1(migrate_plan_files);
PG_FUNCTION_INFO_V1(migrate_verify);
PG_FUNCTION_INFO_V1(migrate_verify_files);
PG_FUNCTION_INFO_V1(migrate_drift);
PG_FUNCTION_INFO_V1(migrate_accept_drift);
PG_FUNCTION_INFO_V1(migrate_capture);
PG_FUNCTION_INFO_V1(migrate_capture_files);
PG_FUNCTION_INFO_V1(migrate_down_script);
PG_FUNCTION_INFO_V1(migrate_purge_archive);
PG_FUNCTION_INFO_V1(migrate_start);
PG_FUNCTION_INFO_V1(migrate_start_files);
PG_FUNCTION_INFO_V1(migrate_start_tenants);
PG_FUNCTION_INFO_V1(migrate_start_tenants_files);
PG_FUNCTION_INFO_V1(migrate_wait);
PG_FUNCTION_INFO_V1(migrate_cancel);
PG_FUNCTION_INFO_V1(migrate_resume);
PG_FUNCTION_INFO_V1(migrate_run_progress);
PG_FUNCTION_INFO_V1(migrate_run_tenants);
PG_FUNCTION_INFO_V1(migrate_run_tenants_files);
PG_FUNCTION_INFO_V1(migrate_tenant_status);
PG_FUNCTION_INFO_V1(migrate_tenant_status_files);
PG_FUNCTION_INFO_V1(migrate_use_tenant);
PG_FUNCTION_INFO_V1(migrate_test_database);
PG_FUNCTION_INFO_V1(migrate_test_database_files);
PG_FUNCTION_INFO_V1(migrate_drop_test_databases);

static void init_result(FunctionCallInfo fcinfo, ResultSink *sink);
static void connect_spi(int options);
static char *text_arg(FunctionCallInfo fcinfo, int n, const char *argname);

/*
 * Set up a materialized result set in the per-query context.  Written out
 * rather than using InitMaterializedSRF(), which only exists from 16 on.
 */
static void
init_result(FunctionCallInfo fcinfo, ResultSink *sink)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old;
	TupleDesc	desc;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	sink->desc = CreateTupleDescCopy(desc);
	sink->store = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(old);

	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = sink->store;
	rsinfo->setDesc = sink->desc;
}

static void
connect_spi(int options)
{
	int			rc = SPI_connect_ext(options);

	if (rc != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
}

/* A text argument as a C string; NULL stays NULL unless argname is given */
static char *
text_arg(FunctionCallInfo fcinfo, int n, const char *argname)
{
	if (PG_ARGISNULL(n))
	{
		if (argname)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument \"%s\" must not be null", argname)));
		return NULL;
	}
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* The folder named by a dir argument, or NULL */
static const Folder *
dir_arg(FunctionCallInfo fcinfo, int n, const char *argname)
{
	char	   *dir = text_arg(fcinfo, n, argname);

	return dir ? folder_on_disk(dir) : NULL;
}

/* The folder sent as a files argument, with the caller's source name */
static const Folder *
files_arg(FunctionCallInfo fcinfo, int n, int source_n)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"files\" must not be null")));
	return folder_sent(PG_GETARG_JSONB_P(n), text_arg(fcinfo, source_n, NULL));
}

/*
 * The options of apply and run: format, allow_drift, then target and retry
 * at the given argument positions (after source in the files forms).
 */
static RunOptions
run_options(FunctionCallInfo fcinfo, int target_n, int retry_n)
{
	RunOptions	opts;

	opts.format = text_arg(fcinfo, 1, "format");
	opts.allow_drift = PG_ARGISNULL(2) ? false : PG_GETARG_BOOL(2);
	/* version 0.1's SQL declares neither: the library outlives an update */
	opts.target = PG_NARGS() > target_n ? text_arg(fcinfo, target_n, NULL) : NULL;
	opts.retry = PG_NARGS() > retry_n && !PG_ARGISNULL(retry_n) &&
		PG_GETARG_BOOL(retry_n);
	return opts;
}

/*
 * The functions that return rows take one of three shapes of arguments;
 * each shape has one driver that reads them, sets up the result and SPI,
 * and calls the operation.
 */
typedef void (*folder_action) (const Folder *folder, const char *format,
							   ResultSink *sink);
typedef void (*folder_name_action) (const Folder *folder, const char *format,
									const char *name, ResultSink *sink);
typedef void (*name_action) (const char *name, ResultSink *sink);

/* (dir text | files jsonb, format text [, source text]) */
static Datum
folder_call(FunctionCallInfo fcinfo, const Folder *folder, folder_action action)
{
	char	   *format = text_arg(fcinfo, 1, "format");
	ResultSink	sink;

	init_result(fcinfo, &sink);
	connect_spi(0);
	action(folder, format, &sink);
	SPI_finish();
	return (Datum) 0;
}

/*
 * (dir text | files jsonb, name text, format text [, source text]): the
 * lifecycle functions that take a folder and a migration (or baseline's
 * up_to)
 */
static Datum
folder_name_call(FunctionCallInfo fcinfo, bool sent, const char *argname,
				 folder_name_action action)
{
	const Folder *folder = sent ? files_arg(fcinfo, 0, 3) : dir_arg(fcinfo, 0, "dir");
	char	   *name = text_arg(fcinfo, 1, argname);
	char	   *format = text_arg(fcinfo, 2, "format");
	ResultSink	sink;

	init_result(fcinfo, &sink);
	connect_spi(0);
	action(folder, format, name, &sink);
	SPI_finish();
	return (Datum) 0;
}

/* (name text): a NULL name is refused when argname is given */
static Datum
name_call(FunctionCallInfo fcinfo, const char *argname, name_action action)
{
	char	   *name = text_arg(fcinfo, 0, argname);
	ResultSink	sink;

	init_result(fcinfo, &sink);
	connect_spi(0);
	action(name, &sink);
	SPI_finish();
	return (Datum) 0;
}

static Datum
apply_call(FunctionCallInfo fcinfo, const Folder *folder, RunOptions opts)
{
	ResultSink	sink;

	init_result(fcinfo, &sink);
	connect_spi(0);
	apply_folder(folder, &opts, &sink);
	SPI_finish();
	return (Datum) 0;
}

/* migrate.apply(dir, format, allow_drift, target, retry) */
Datum
migrate_apply(PG_FUNCTION_ARGS)
{
	return apply_call(fcinfo, dir_arg(fcinfo, 0, "dir"),
					  run_options(fcinfo, 3, 4));
}

/* migrate.apply(files, format, allow_drift, source, target, retry) */
Datum
migrate_apply_files(PG_FUNCTION_ARGS)
{
	return apply_call(fcinfo, files_arg(fcinfo, 0, 3),
					  run_options(fcinfo, 4, 5));
}

/* migrate.status(dir text, format text) */
Datum
migrate_status(PG_FUNCTION_ARGS)
{
	return folder_call(fcinfo, dir_arg(fcinfo, 0, NULL), status_folder);
}

/* migrate.status(files jsonb, format text, source text) */
Datum
migrate_status_files(PG_FUNCTION_ARGS)
{
	return folder_call(fcinfo, files_arg(fcinfo, 0, 2), status_folder);
}

/*
 * migrate.rollback(name text, skip_partial boolean); before version 0.4
 * of the extension's SQL, migrate.rollback(name text)
 */
Datum
migrate_rollback(PG_FUNCTION_ARGS)
{
	char	   *name = text_arg(fcinfo, 0, NULL);
	bool		skip_partial = PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	ResultSink	sink;

	init_result(fcinfo, &sink);
	connect_spi(0);
	rollback_from(name, skip_partial, &sink);
	SPI_finish();
	return (Datum) 0;
}

/*
 * Refuse an atomic call of a procedure that commits; alternative names
 * the function that does the same in the caller's transaction.  Only a
 * nonatomic call may commit: a CALL at top level, not inside a transaction
 * block or a function.  Forcing nonatomic SPI in an atomic call would
 * silently commit nothing, so the procedures refuse instead.
 */
static void
require_nonatomic(FunctionCallInfo fcinfo, const char *procedure,
				  const char *alternative)
{
	CallContext *call = (CallContext *) fcinfo->context;

	if (call == NULL || !IsA(call, CallContext) || call->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
				 errmsg("%s cannot run inside a transaction block", procedure),
				 errdetail("It commits after each migration, which only a CALL at top level can do."),
				 errhint("Run CALL %s on its own, outside BEGIN/COMMIT and not from a function; or use %s, which works in the current transaction.",
						 procedure, alternative)));
}

static void
run_call(FunctionCallInfo fcinfo, bool sent)
{
	const Folder *folder;
	RunOptions	opts;

	require_nonatomic(fcinfo, "migrate.run()", "SELECT * FROM migrate.apply(...)");
	folder = sent ? files_arg(fcinfo, 0, 3) : dir_arg(fcinfo, 0, "dir");
	opts = sent ? run_options(fcinfo, 4, 5) : run_options(fcinfo, 3, 4);
	connect_spi(SPI_OPT_NONATOMIC);
	run_folder(folder, &opts);
	SPI_finish();
}

/* CALL migrate.run(dir, format, allow_drift, target, retry) */
Datum
migrate_run(PG_FUNCTION_ARGS)
{
	run_call(fcinfo, false);
	PG_RETURN_VOID();
}

/* CALL migrate.run(files, format, allow_drift, source, target, retry) */
Datum
migrate_run_files(PG_FUNCTION_ARGS)
{
	run_call(fcinfo, true);
	PG_RETURN_VOID();
}

/* CALL migrate.run_rollback(name text, skip_partial boolean) */
Datum
migrate_run_rollback(PG_FUNCTION_ARGS)
{
	char	   *name = text_arg(fcinfo, 0, NULL);
	bool		skip_partial = PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);

	require_nonatomic(fcinfo, "migrate.run_rollback()",
					  "SELECT * FROM migrate.rollback(...)");
	connect_spi(SPI_OPT_NONATOMIC);
	run_rollback_from(name, skip_partial);
	SPI_finish();
	PG_RETURN_VOID();
}

/* migrate.retry(name text) */
Datum
migrate_retry(PG_FUNCTION_ARGS)
{
	char	   *name = text_arg(fcinfo, 0, "name");

	connect_spi(0);
	retry_migration(name);
	SPI_finish();
	PG_RETURN_VOID();
}

/* migrate.mark_applied(dir text, name text, format text) */
Datum
migrate_mark_applied(PG_FUNCTION_ARGS)
{
	return folder_name_call(fcinfo, false, "name", lifecycle_mark_applied);
}

/* migrate.mark_applied(files jsonb, name text, format text, source text) */
Datum
migrate_mark_applied_files(PG_FUNCTION_ARGS)
{
	return folder_name_call(fcinfo, true, "name", lifecycle_mark_applied);
}

/* migrate.baseline(dir text, up_to text, format text) */
Datum
migrate_baseline(PG_FUNCTION_ARGS)
{
	return folder_name_call(fcinfo, false, "up_to", lifecycle_baseline);
}

/* migrate.baseline(files jsonb, up_to text, format text, source text) */
Datum
migrate_baseline_files(PG_FUNCTION_ARGS)
{
	return folder_name_call(fcinfo, true, "up_to", lifecycle_baseline);
}

/* migrate.accept(dir text, name text, format text) */
Datum
migrate_accept(PG_FUNCTION_ARGS)
{
	return folder_name_call(fcinfo, false, "name", lifecycle_accept);
}

/* migrate.accept(files jsonb, name text, format text, source text) */
Datum
migrate_accept_files(PG_FUNCTION_ARGS)
{
	return folder_name_call(fcinfo, true, "name", lifecycle_accept);
}

/* migrate.forget(name text) */
Datum
migrate_forget(PG_FUNCTION_ARGS)
{
	return name_call(fcinfo, "name", lifecycle_forget);
}

/* migrate.purge_archive(migration text) */
Datum
migrate_purge_archive(PG_FUNCTION_ARGS)
{
	ResultSink	sink;
	char	   *migration = text_arg(fcinfo, 0, NULL);

	init_result(fcinfo, &sink);
	connect_spi(0);
	lifecycle_purge_archive(migration, &sink);
	SPI_finish();
	return (Datum) 0;
}

/*
 * (name text, ids bigint[]) or (files jsonb, description text, ids
 * bigint[], format text, source text)
 */
static Datum
capture_call(FunctionCallInfo fcinfo, bool sent)
{
	const Folder *folder = sent ? files_arg(fcinfo, 0, 4) : NULL;
	char	   *name = text_arg(fcinfo, sent ? 1 : 0, sent ? "description" : "name");
	int			ids_n = sent ? 2 : 1;
	ArrayType  *ids = PG_ARGISNULL(ids_n) ? NULL : PG_GETARG_ARRAYTYPE_P(ids_n);
	char	   *format = sent ? text_arg(fcinfo, 3, "format") : "plain";
	ResultSink	sink;

	if (ids && array_contains_nulls(ids))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"ids\" must not contain nulls")));
	init_result(fcinfo, &sink);
	connect_spi(0);
	capture_migration(folder, format, name, ids, &sink);
	SPI_finish();
	return (Datum) 0;
}

/* migrate.capture(name text, ids bigint[]) */
Datum
migrate_capture(PG_FUNCTION_ARGS)
{
	return capture_call(fcinfo, false);
}

/* migrate.capture(files jsonb, description text, ids bigint[], format text, source text) */
Datum
migrate_capture_files(PG_FUNCTION_ARGS)
{
	return capture_call(fcinfo, true);
}

static void
check_folder(FunctionCallInfo fcinfo, const Folder *folder)
{
	char	   *format = text_arg(fcinfo, 1, "format");

	connect_spi(0);
	lifecycle_check(folder, format);
	SPI_finish();
}

/* migrate.check(dir text, format text) */
Datum
migrate_check(PG_FUNCTION_ARGS)
{
	check_folder(fcinfo, dir_arg(fcinfo, 0, "dir"));
	PG_RETURN_VOID();
}

/* migrate.check(files jsonb, format text, source text) */
Datum
migrate_check_files(PG_FUNCTION_ARGS)
{
	check_folder(fcinfo, files_arg(fcinfo, 0, 2));
	PG_RETURN_VOID();
}

/* migrate.lint(dir text, format text) */
Datum
migrate_lint(PG_FUNCTION_ARGS)
{
	return folder_call(fcinfo, dir_arg(fcinfo, 0, "dir"), lint_folder);
}

/* migrate.lint(files jsonb, format text, source text) */
Datum
migrate_lint_files(PG_FUNCTION_ARGS)
{
	return folder_call(fcinfo, files_arg(fcinfo, 0, 2), lint_folder);
}

/* migrate.plan(dir text, format text) */
Datum
migrate_plan(PG_FUNCTION_ARGS)
{
	return folder_call(fcinfo, dir_arg(fcinfo, 0, "dir"), plan_folder);
}

/* migrate.plan(files jsonb, format text, source text) */
Datum
migrate_plan_files(PG_FUNCTION_ARGS)
{
	return folder_call(fcinfo, files_arg(fcinfo, 0, 2), plan_folder);
}

/* migrate.verify(dir text, format text) */
Datum
migrate_verify(PG_FUNCTION_ARGS)
{
	return folder_call(fcinfo, dir_arg(fcinfo, 0, "dir"), verify_folder);
}

/* migrate.verify(files jsonb, format text, source text) */
Datum
migrate_verify_files(PG_FUNCTION_ARGS)
{
	return folder_call(fcinfo, files_arg(fcinfo, 0, 2), verify_folder);
}

/* migrate.drift() */
Datum
migrate_drift(PG_FUNCTION_ARGS)
{
	ResultSink	sink;

	init_result(fcinfo, &sink);
	connect_spi(0);
	drift_rows(&sink);
	SPI_finish();
	return (Datum) 0;
}

/* migrate.down_script(name text) */
Datum
migrate_down_script(PG_FUNCTION_ARGS)
{
	char	   *name = text_arg(fcinfo, 0, NULL);
	ResultSink	sink;

	init_result(fcinfo, &sink);
	connect_spi(0);
	down_script_row(name, &sink);
	SPI_finish();
	return (Datum) 0;
}

/*
 * migrate.accept_drift(objects text[]): the objects named, or all that
 * drifted when objects is NULL
 */
Datum
migrate_accept_drift(PG_FUNCTION_ARGS)
{
	ResultSink	sink;
	List	   *names = NIL;
	bool		all = PG_ARGISNULL(0);

	if (!all)
	{
		Datum	   *elems;
		bool	   *elem_nulls;
		int			n;

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), TEXTOID, -1, false,
						  TYPALIGN_INT, &elems, &elem_nulls, &n);
		for (int i = 0; i < n; i++)
		{
			if (elem_nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("argument \"objects\" must not contain nulls")));
			names = lappend(names, TextDatumGetCString(elems[i]));
		}
	}
	init_result(fcinfo, &sink);
	connect_spi(0);
	lifecycle_accept_drift(names, all, &sink);
	SPI_finish();
	return (Datum) 0;
}

/*
 * The worker of a run started by start_name performs the procedure as the
 * role that started it: refuse at once what the worker would refuse.
 */
static void
require_execute(const char *procedure, const char *signature,
				const char *start_name)
{
	Datum		value = CStringGetTextDatum(psprintf("%s(%s)", procedure, signature));
	bool		isnull;

	spi_run("SELECT pg_catalog.has_function_privilege($1, 'EXECUTE')",
			1, (Oid[]) {TEXTOID}, &value, NULL, SPI_OK_SELECT);
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for procedure %s", procedure),
				 errdetail("A run started with %s calls %s() as the role that started it.",
						   start_name, procedure),
				 errhint("Grant the role EXECUTE on the procedure %s(%s).",
						 procedure, signature)));
}

/*
 * The tenant databases, arguments at and at + 1 (databases text[],
 * database_pattern text) when the SQL definition has them (0.6)
 */
static void
tenant_databases_args(FunctionCallInfo fcinfo, int at, ArrayType **databases,
					  const char **pattern)
{
	*databases = PG_NARGS() > at && !PG_ARGISNULL(at) ?
		PG_GETARG_ARRAYTYPE_P(at) : NULL;
	*pattern = PG_NARGS() > at + 1 ? text_arg(fcinfo, at + 1, NULL) : NULL;
}

/*
 * migrate.start(dir, format, allow_drift, target, retry),
 * migrate.start(files, format, allow_drift, source, target, retry), and
 * with tenants, migrate.start_tenants(dir | files, tenants, tenant_pattern,
 * tenant_query, parallel, canary, on_failure, then start's arguments, then
 * databases and database_pattern from 0.6): the
 * checks of run or run_tenants (the folder may be read, the caller may call
 * the procedure the worker will call as them), then the run queued for a
 * worker of its own (run/detached.c).  A tenant run's worker calls
 * run_tenants with the run's id, so that resuming it migrates the failed
 * and pending tenants only.
 */
static Datum
start_call(FunctionCallInfo fcinfo, bool sent, bool tenants)
{
	int			k = tenants ? 6 : 0;	/* start's arguments follow the tenants' */
	const Folder *folder;
	RunOptions	opts;
	Datum		values[15];
	char		nulls[15];
	bool		isnull;
	int			at = (sent ? 6 : 5) + k;	/* databases, after retry */
	ArrayType  *databases = NULL;
	const char *database_pattern = NULL;
	bool		attached;
	Jsonb	   *args;
	int64		run_id;

	connect_spi(0);
	folder = sent ? files_arg(fcinfo, 0, 3 + k) : dir_arg(fcinfo, 0, "dir");
	opts.format = text_arg(fcinfo, 1 + k, "format");
	opts.allow_drift = !PG_ARGISNULL(2 + k) && PG_GETARG_BOOL(2 + k);
	opts.target = text_arg(fcinfo, (sent ? 4 : 3) + k, NULL);
	opts.retry = !PG_ARGISNULL((sent ? 5 : 4) + k) && PG_GETARG_BOOL((sent ? 5 : 4) + k);

	if (tenants && PG_NARGS() > at)
	{
		/* 0.6: run_tenants has the tenant databases too */
		tenant_databases_args(fcinfo, at, &databases, &database_pattern);
		require_execute("migrate.run_tenants", sent ?
						"jsonb, text[], text, text, integer, integer, text, bigint, text, boolean, text, text, boolean, text[], text" :
						"text, text[], text, text, integer, integer, text, bigint, text, boolean, text, boolean, text[], text",
						"migrate.start_tenants()");
	}
	else if (tenants)
		require_execute("migrate.run_tenants", sent ?
						"jsonb, text[], text, text, integer, integer, text, bigint, text, boolean, text, text, boolean" :
						"text, text[], text, text, integer, integer, text, bigint, text, boolean, text, boolean",
						"migrate.start_tenants()");
	else
		require_execute("migrate.run", sent ? "jsonb, text, boolean, text, text, boolean" :
						"text, text, boolean, text, boolean", "migrate.start()");

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(sent ? "files" : "dir");
	values[1] = CStringGetTextDatum(opts.format);
	values[2] = BoolGetDatum(opts.allow_drift);
	nulls[3] = opts.target ? ' ' : 'n';
	values[3] = opts.target ? CStringGetTextDatum(opts.target) : (Datum) 0;
	values[4] = BoolGetDatum(opts.retry);
	if (sent)
	{
		values[5] = JsonbPGetDatum(folder->files);
		nulls[6] = folder->source ? ' ' : 'n';
		values[6] = folder->source ? CStringGetTextDatum(folder->source) : (Datum) 0;
	}
	else
	{
		nulls[5] = 'n';
		values[6] = CStringGetTextDatum(folder->path);
	}
	/* tenants, tenant_pattern, tenant_query, parallel, canary, on_failure */
	for (int i = 1; i <= 6; i++)
	{
		nulls[6 + i] = !tenants || PG_ARGISNULL(i) ? 'n' : ' ';
		values[6 + i] = nulls[6 + i] == 'n' ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	if (tenants)
	{
		char	   *on_failure = text_arg(fcinfo, 6, "on_failure");

		if (strcmp(on_failure, "stop") != 0 && strcmp(on_failure, "continue") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized on_failure \"%s\"", on_failure),
					 errhint("on_failure is 'stop' (no tenant is started after one fails) or 'continue' (every tenant is tried).")));
	}
	/* the tenant databases, only when given: a run's args as before else */
	nulls[13] = databases ? ' ' : 'n';
	values[13] = databases ? PointerGetDatum(databases) : (Datum) 0;
	nulls[14] = database_pattern ? ' ' : 'n';
	values[14] = database_pattern ? CStringGetTextDatum(database_pattern) : (Datum) 0;
	spi_run("SELECT pg_catalog.jsonb_build_object('format', $2, 'allow_drift', $3,"
			" 'target', $4, 'retry', $5) OPERATOR(pg_catalog.||)"
			" CASE $1 WHEN 'files' THEN pg_catalog.jsonb_build_object('files', $6, 'source', $7)"
			" ELSE pg_catalog.jsonb_build_object('dir', $7) END OPERATOR(pg_catalog.||)"
			" CASE WHEN $13 IS NULL THEN '{}'::pg_catalog.jsonb"
			" ELSE pg_catalog.jsonb_build_object('tenants', $8, 'tenant_pattern', $9,"
			" 'tenant_query', $10, 'parallel', $11, 'canary', $12, 'on_failure', $13) END"
			" OPERATOR(pg_catalog.||) pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
			" 'databases', $14, 'database_pattern', $15))",
			15, (Oid[]) {TEXTOID, TEXTOID, BOOLOID, TEXTOID, BOOLOID, JSONBOID, TEXTOID,
			TEXTARRAYOID, TEXTOID, TEXTOID, INT4OID, INT4OID, TEXTOID, TEXTARRAYOID, TEXTOID},
			values, nulls, SPI_OK_SELECT);
	args = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 1, &isnull));
	run_id = detached_start(tenants ? "tenants" : "run", args,
							sent ? (folder->source ? folder->source : "files") :
							folder->path, &attached);
	SPI_finish();
	PG_RETURN_INT64(run_id);
}

Datum
migrate_start(PG_FUNCTION_ARGS)
{
	return start_call(fcinfo, false, false);
}

Datum
migrate_start_files(PG_FUNCTION_ARGS)
{
	return start_call(fcinfo, true, false);
}

Datum
migrate_start_tenants(PG_FUNCTION_ARGS)
{
	return start_call(fcinfo, false, true);
}

Datum
migrate_start_tenants_files(PG_FUNCTION_ARGS)
{
	return start_call(fcinfo, true, true);
}

static int64
run_id_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"run_id\" must not be null")));
	return PG_GETARG_INT64(0);
}

/*
 * CALL migrate.wait(run_id bigint, timeout interval, rethrow boolean,
 * INOUT state text): a procedure, so that it waits holding no snapshot:
 * the run's CREATE INDEX CONCURRENTLY waits for every transaction with an
 * older snapshot, a waiting SELECT's included, which would wait for it in
 * turn.
 */
Datum
migrate_wait(PG_FUNCTION_ARGS)
{
	int64		run_id = run_id_arg(fcinfo);
	Interval   *timeout = PG_ARGISNULL(1) ? NULL : PG_GETARG_INTERVAL_P(1);
	bool		rethrow = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	char	   *state;
	TupleDesc	desc;
	Datum		values[1];
	bool		nulls[1] = {false};

	require_nonatomic(fcinfo, "migrate.wait()", "SELECT state FROM migrate.runs");
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);
	connect_spi(SPI_OPT_NONATOMIC);
	state = detached_wait(run_id, timeout, rethrow);
	/* the state is SPI's memory, which SPI_finish frees */
	values[0] = CStringGetTextDatum(state);
	values[0] = SPI_datumTransfer(values[0], false, -1);
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/* migrate.cancel(run_id bigint) */
Datum
migrate_cancel(PG_FUNCTION_ARGS)
{
	int64		run_id = run_id_arg(fcinfo);
	bool		cancelled;

	connect_spi(0);
	cancelled = detached_cancel(run_id);
	SPI_finish();
	PG_RETURN_BOOL(cancelled);
}

/* migrate.resume(run_id bigint) */
Datum
migrate_resume(PG_FUNCTION_ARGS)
{
	int64		run_id = run_id_arg(fcinfo);

	connect_spi(0);
	detached_resume(run_id);
	SPI_finish();
	PG_RETURN_INT64(run_id);
}

/*
 * migrate.run_progress(run_id bigint, handle bigint): the live part of a
 * row of migrate.runs, read from the run's progress segment; no row when
 * its worker is gone, only alive when the caller may not see its progress.
 */
Datum
migrate_run_progress(PG_FUNCTION_ARGS)
{
	ResultSink	sink;
	RunProgressState state;
	bool		visible;
	Datum		values[11];
	bool		nulls[11];

	init_result(fcinfo, &sink);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) ||
		!detached_progress(PG_GETARG_INT64(0), (uint32) PG_GETARG_INT64(1),
						   &state, &visible))
		return (Datum) 0;
	memset(nulls, !visible, sizeof(nulls));
	nulls[0] = false;
	values[0] = BoolGetDatum(true);
	values[1] = Int32GetDatum(state.worker_pid);
	values[2] = Int32GetDatum(state.statement_pid);
	nulls[3] = nulls[3] || state.migration[0] == '\0';
	values[3] = CStringGetTextDatum(state.migration);
	values[4] = Int32GetDatum(state.migration_number);
	values[5] = Int32GetDatum(state.migrations);
	nulls[6] = nulls[6] || state.statement_number == 0;
	values[6] = Int32GetDatum(state.statement_number);
	values[7] = Int32GetDatum(state.statements);
	nulls[8] = nulls[8] || state.line == 0;
	values[8] = Int32GetDatum(state.line);
	nulls[9] = nulls[9] || state.file[0] == '\0';
	values[9] = CStringGetTextDatum(state.file);
	values[10] = Int32GetDatum(state.applied);
	if (state.worker_pid == 0)
		nulls[1] = true;
	if (state.statement_pid == 0)
		nulls[2] = true;
	tuplestore_putvalues(sink.store, sink.desc, values, nulls);
	return (Datum) 0;
}

/*
 * The arguments of run_tenants and tenant_status: (dir text | files jsonb,
 * tenants text[], tenant_pattern text, tenant_query text, ...)
 */
static TenantsRequest
tenants_request(FunctionCallInfo fcinfo, bool sent)
{
	TenantsRequest req;

	memset(&req, 0, sizeof(req));
	if (sent)
	{
		if (PG_ARGISNULL(0))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument \"files\" must not be null")));
		req.files = PG_GETARG_JSONB_P(0);
	}
	else
		req.dir = text_arg(fcinfo, 0, "dir");
	req.tenants = PG_ARGISNULL(1) ? NULL : PG_GETARG_ARRAYTYPE_P(1);
	req.pattern = text_arg(fcinfo, 2, NULL);
	req.query = text_arg(fcinfo, 3, NULL);
	return req;
}

/*
 * CALL migrate.run_tenants(dir | files, tenants, tenant_pattern,
 * tenant_query, parallel, canary, on_failure, INOUT run_id, format,
 * allow_drift, [source,] target, retry, databases, database_pattern):
 * returns run_id
 */
static Datum
run_tenants_call(FunctionCallInfo fcinfo, bool sent)
{
	TenantsRequest req = tenants_request(fcinfo, sent);
	int			at = sent ? 11 : 10;	/* target */
	char	   *on_failure;
	TupleDesc	desc;
	Datum		result[1];
	int64		run_id;
	bool		nulls[1] = {false};

	require_nonatomic(fcinfo, "migrate.run_tenants()",
					  "CALL migrate.run() in each tenant's schema");
	req.parallel = PG_ARGISNULL(4) ? 1 : PG_GETARG_INT32(4);
	req.canary = PG_ARGISNULL(5) ? 0 : PG_GETARG_INT32(5);
	on_failure = text_arg(fcinfo, 6, "on_failure");
	if (strcmp(on_failure, "stop") != 0 && strcmp(on_failure, "continue") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized on_failure \"%s\"", on_failure),
				 errhint("on_failure is 'stop' (no tenant is started after one fails) or 'continue' (every tenant is tried).")));
	req.stop_on_failure = strcmp(on_failure, "stop") == 0;
	req.run_id = PG_ARGISNULL(7) ? 0 : PG_GETARG_INT64(7);
	if (!PG_ARGISNULL(7) && req.run_id <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("run_id must be positive")));
	req.opts.format = text_arg(fcinfo, 8, "format");
	req.opts.allow_drift = !PG_ARGISNULL(9) && PG_GETARG_BOOL(9);
	if (sent)
		req.source = text_arg(fcinfo, 10, NULL);
	req.opts.target = text_arg(fcinfo, at, NULL);
	req.opts.retry = !PG_ARGISNULL(at + 1) && PG_GETARG_BOOL(at + 1);
	tenant_databases_args(fcinfo, at + 2, &req.databases, &req.database_pattern);
	req.folder = sent ? folder_sent(req.files, req.source) :
		folder_on_disk(req.dir);

	connect_spi(SPI_OPT_NONATOMIC);
	run_id = run_tenants(&req);
	SPI_finish();
	/* not in SPI's memory: an int64 Datum is a pointer where not by value */
	result[0] = Int64GetDatum(run_id);

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);
	return HeapTupleGetDatum(heap_form_tuple(desc, result, nulls));
}

Datum
migrate_run_tenants(PG_FUNCTION_ARGS)
{
	return run_tenants_call(fcinfo, false);
}

Datum
migrate_run_tenants_files(PG_FUNCTION_ARGS)
{
	return run_tenants_call(fcinfo, true);
}

/* migrate.tenant_status(dir | files, tenants, tenant_pattern, tenant_query, format [, source]) */
static Datum
tenant_status_call(FunctionCallInfo fcinfo, bool sent)
{
	TenantsRequest req = tenants_request(fcinfo, sent);
	ResultSink	sink;

	req.opts.format = text_arg(fcinfo, 4, "format");
	if (sent)
		req.source = text_arg(fcinfo, 5, NULL);
	req.folder = sent ? folder_sent(req.files, req.source) :
		folder_on_disk(req.dir);
	init_result(fcinfo, &sink);
	connect_spi(0);
	tenant_status(&req, &sink);
	SPI_finish();
	return (Datum) 0;
}

Datum
migrate_tenant_status(PG_FUNCTION_ARGS)
{
	return tenant_status_call(fcinfo, false);
}

Datum
migrate_tenant_status_files(PG_FUNCTION_ARGS)
{
	return tenant_status_call(fcinfo, true);
}

/* migrate.use_tenant(tenant text, is_local boolean): the search_path set */
Datum
migrate_use_tenant(PG_FUNCTION_ARGS)
{
	char	   *tenant = text_arg(fcinfo, 0, NULL);
	bool		is_local = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);

	PG_RETURN_TEXT_P(cstring_to_text(use_tenant(tenant, is_local)));
}

/*
 * migrate.test_database(dir, format) and (files, format, source): the new
 * database's name, a connection string relative to the caller's, its
 * template, and whether it came from the pool
 */
static Datum
test_database_call(FunctionCallInfo fcinfo, const Folder *folder)
{
	char	   *format = text_arg(fcinfo, 1, "format");
	TestDatabase db;
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	MemoryContext caller = CurrentMemoryContext;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	connect_spi(0);
	test_database_create(folder, format, &db);
	/* the names may be in SPI's memory, which SPI_finish() frees */
	db.name = MemoryContextStrdup(caller, db.name);
	db.template_name = MemoryContextStrdup(caller, db.template_name);
	SPI_finish();
	values[0] = CStringGetTextDatum(db.name);
	values[1] = CStringGetTextDatum(psprintf("dbname=%s", db.name));
	values[2] = CStringGetTextDatum(db.template_name);
	values[3] = BoolGetDatum(db.from_pool);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
}

Datum
migrate_test_database(PG_FUNCTION_ARGS)
{
	return test_database_call(fcinfo, dir_arg(fcinfo, 0, "dir"));
}

Datum
migrate_test_database_files(PG_FUNCTION_ARGS)
{
	return test_database_call(fcinfo, files_arg(fcinfo, 0, 2));
}

/* migrate.drop_test_databases(template, older_than, templates): what it dropped */
Datum
migrate_drop_test_databases(PG_FUNCTION_ARGS)
{
	char	   *template = text_arg(fcinfo, 0, NULL);
	Interval   *older_than = PG_ARGISNULL(1) ? NULL : PG_GETARG_INTERVAL_P(1);
	bool		templates = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	ResultSink	sink;

	init_result(fcinfo, &sink);
	connect_spi(0);
	test_databases_drop(template, older_than, templates, &sink);
	SPI_finish();
	return (Datum) 0;
}
