/*-------------------------------------------------------------------------
 *
 * tenants.c
 *	  Every tenant in one call: migrate.run_tenants() applies a folder to
 *	  many tenant schemas, canaries first, by parallel background workers,
 *	  with one outcome row per tenant in migrate.tenant_runs;
 *	  migrate.tenant_status() says where each tenant stands in one query;
 *	  migrate.use_tenant() points a session at one tenant.
 *
 * A tenant is a schema whose migrations are tracked apart: migrate.tenant
 * names it, and every query of the tracking tables keeps to its rows
 * (tracking.c), its run lock is its schema's (run_lock.c), and drift and
 * the fingerprint read its schema only (fingerprint.c).  A tenant is
 * migrated exactly as CALL migrate.run() migrates the database: the fleet
 * worker (worker.c) runs that CALL as a top-level statement, with
 * migrate.tenant set to the tenant and search_path to the tenant's schema
 * followed by the caller's path, and commits after each migration.  A
 * tenant's failure is caught in the worker, which aborts that tenant's
 * transaction as a backend does after a client's failed statement,
 * records the failure and goes on to the next tenant, or stops the fleet
 * (canaries, on_failure => 'stop').
 *
 * The caller inserts one pending row per tenant and commits before the
 * workers start; each worker commits its tenant's row as the tenant
 * starts and ends, so that migrate.tenant_runs shows the run as it goes.
 * Calling again with the same run_id migrates the tenants whose row is
 * failed or pending (or running, after a crash) and no other.
 *
 * Databases of the cluster are tenants too (tenant_databases.c): their
 * rows have tenant '' and the database's name.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "util/compat.h"
#include "run/run.h"

/*
 * What a fleet's workers share: the tenants of one phase (canaries, or the
 * others), the next one to take, and what became of them.  The data holds
 * count names of NAMEDATALEN bytes, then the CALL statement, then the
 * caller's search_path.
 */
typedef struct FleetShared
{
	slock_t		mutex;
	int64		run_id;
	int			count;
	int			next;
	bool		stop_on_failure;
	bool		stop;
	int			applied;
	int			failed;
	int			skipped;
	Size		call_offset;
	Size		path_offset;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} FleetShared;

/* The last of a tenant_runs row's columns a worker writes */
static const char *const tenant_running_query =
"UPDATE migrate.tenant_runs SET state = $3, started_at = pg_catalog.clock_timestamp(),"
" finished_at = CASE WHEN $3 OPERATOR(pg_catalog.=) 'skipped'"
"  THEN pg_catalog.clock_timestamp() END,"
" migrations = 0, sqlstate = NULL, file = NULL, line = NULL,"
" error = CASE WHEN $3 OPERATOR(pg_catalog.=) 'skipped'"
"  THEN 'schema ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident($2)"
"   OPERATOR(pg_catalog.||) ' does not exist' END"
" WHERE run_id OPERATOR(pg_catalog.=) $1"
" AND database OPERATOR(pg_catalog.=) pg_catalog.current_database()"
" AND tenant OPERATOR(pg_catalog.=) $2";

/*
 * A tenant's end: applied, or failed with the error and the file and line
 * that migrate.run() logged in the history for the failed migration.  The
 * migrations counted are those the tenant's history logged since it
 * started.
 */
static const char *const tenant_end_query =
"UPDATE migrate.tenant_runs r SET state = $3, finished_at = pg_catalog.clock_timestamp(),"
" sqlstate = $4, error = $5,"
" migrations = (SELECT pg_catalog.count(*) FROM migrate.history h"
"  WHERE h.tenant OPERATOR(pg_catalog.=) r.tenant"
"  AND h.action OPERATOR(pg_catalog.=) ANY ('{apply,adopt}')"
"  AND h.performed_at OPERATOR(pg_catalog.>=) r.started_at),"
" file = (SELECT h.file FROM migrate.history h"
"  WHERE $3 OPERATOR(pg_catalog.=) 'failed' AND h.tenant OPERATOR(pg_catalog.=) r.tenant"
"  AND h.action OPERATOR(pg_catalog.=) 'failure'"
"  AND h.performed_at OPERATOR(pg_catalog.>=) r.started_at ORDER BY h.id DESC LIMIT 1),"
" line = (SELECT h.line FROM migrate.history h"
"  WHERE $3 OPERATOR(pg_catalog.=) 'failed' AND h.tenant OPERATOR(pg_catalog.=) r.tenant"
"  AND h.action OPERATOR(pg_catalog.=) 'failure'"
"  AND h.performed_at OPERATOR(pg_catalog.>=) r.started_at ORDER BY h.id DESC LIMIT 1)"
" WHERE r.run_id OPERATOR(pg_catalog.=) $1"
" AND r.database OPERATOR(pg_catalog.=) pg_catalog.current_database()"
" AND r.tenant OPERATOR(pg_catalog.=) $2";

/*
 * Where each tenant ($1, in that order) stands with the folder's
 * migrations ($2, $3 of them): how many are applied, and failed (the
 * latest attempt failed), in two scans of the tracking tables whatever
 * the number of tenants.  Tenants and names are joined, not tested with
 * = ANY: under the generic plan (spi_run()) that test reads the whole
 * array for each row, 10,000 tenants times 10,000 rows.
 */
static const char *const tenant_status_query =
"WITH t AS (SELECT u.t, u.o FROM pg_catalog.unnest($1::pg_catalog.text[]) WITH ORDINALITY u(t, o)),"
" n AS (SELECT DISTINCT u.n FROM pg_catalog.unnest($2::pg_catalog.text[]) u(n)),"
" a AS (SELECT m.tenant, pg_catalog.count(*) AS n, pg_catalog.max(m.applied_at) AS last"
"  FROM migrate.migrations m JOIN t ON t.t OPERATOR(pg_catalog.=) m.tenant"
"  JOIN n ON n.n OPERATOR(pg_catalog.=) m.name"
"  GROUP BY m.tenant),"
" l AS (SELECT DISTINCT ON (h.tenant, h.name) h.tenant, h.name, h.action"
"  FROM migrate.history h JOIN t ON t.t OPERATOR(pg_catalog.=) h.tenant"
"  JOIN n ON n.n OPERATOR(pg_catalog.=) h.name"
"  WHERE h.action OPERATOR(pg_catalog.<>) 'refused'"
"  ORDER BY h.tenant, h.name, h.id DESC),"
" f AS (SELECT l.tenant, pg_catalog.count(*) AS n FROM l"
"  WHERE l.action OPERATOR(pg_catalog.=) 'failure' GROUP BY l.tenant)"
" SELECT t.t, coalesce(a.n, 0)::pg_catalog.int4,"
"  ($3 OPERATOR(pg_catalog.-) coalesce(a.n, 0) OPERATOR(pg_catalog.-) coalesce(f.n, 0))::pg_catalog.int4,"
"  coalesce(f.n, 0)::pg_catalog.int4, a.last"
" FROM t LEFT JOIN a ON a.tenant OPERATOR(pg_catalog.=) t.t"
" LEFT JOIN f ON f.tenant OPERATOR(pg_catalog.=) t.t"
" ORDER BY t.o";

static const char *
fleet_tenant(FleetShared *fs, int i)
{
	return fs->data + (Size) i * NAMEDATALEN;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Check the tenants: each a schema, none twice.  The schema is looked up
 * by its exact name, as migrate.tenant names it.
 */
static void
check_tenants(List *tenants)
{
	int			n = list_length(tenants);
	char	  **sorted = palloc(sizeof(char *) * Max(n, 1));
	int			i = 0;
	ListCell   *lc;

	foreach(lc, tenants)
	{
		char	   *t = lfirst(lc);

		if (*t == '\0' || strlen(t) >= NAMEDATALEN)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_SCHEMA_NAME),
					 errmsg("tenant \"%s\" is not a schema", t),
					 errdetail("A tenant is the name of a schema of this database.")));
		(void) tenant_schema_oid(t);
		sorted[i++] = t;
	}
	qsort(sorted, n, sizeof(char *), compare_names);
	for (i = 1; i < n; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tenant \"%s\" is named twice", sorted[i]),
					 errhint("Name each tenant once: a tenant is migrated once per run.")));
}

/*
 * The tenants named by exactly one of an array, a LIKE pattern on schema
 * names (system schemas and pg_migrate's own left out, sorted by name),
 * or a query run as the caller whose first column is the names, in the
 * order given.
 */
static List *
resolve_tenants(const TenantsRequest *req)
{
	int			given = (req->tenants != NULL) + (req->pattern != NULL) +
		(req->query != NULL) + (req->databases != NULL) +
		(req->database_pattern != NULL);
	List	   *result = NIL;

	if (given != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg(given == 0 ? "no tenants given" :
						"tenants given in more than one way"),
				 errhint("Pass exactly one of tenants (an array of schema names), tenant_pattern (a LIKE pattern on schema names), tenant_query (a query that returns schema names), databases (an array of database names) or database_pattern (a LIKE pattern on database names).")));
	if (req->databases || req->database_pattern)
		return tenant_databases_resolve(req);
	if (req->tenants)
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		deconstruct_array(req->tenants, TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
		{
			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("tenants must not hold a null")));
			result = lappend(result, TextDatumGetCString(elems[i]));
		}
	}
	else if (req->pattern)
	{
		Oid			types[1] = {TEXTOID};
		Datum		values[1] = {CStringGetTextDatum(req->pattern)};

		spi_run("SELECT n.nspname::pg_catalog.text FROM pg_catalog.pg_namespace n"
				" WHERE n.nspname::pg_catalog.text OPERATOR(pg_catalog.~~) $1"
				" AND n.nspname OPERATOR(pg_catalog.!~) '^pg_'"
				" AND n.nspname OPERATOR(pg_catalog.<>) ALL"
				" ('{information_schema,migrate,migrate_archive}'::pg_catalog.name[])"
				" ORDER BY n.nspname",
				1, types, values, NULL, SPI_OK_SELECT);
		result = spi_first_column();
	}
	else
	{
		int			rc = SPI_execute(req->query, false, 0);

		if (rc != SPI_OK_SELECT || SPI_tuptable == NULL ||
			SPI_tuptable->tupdesc->natts < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tenant_query must be a query that returns rows"),
					 errdetail("Its first column is taken for the tenants' schema names.")));
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			char	   *t = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

			if (t == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("tenant_query returned a null tenant")));
			result = lappend(result, t);
		}
	}
	if (result == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_SCHEMA_NAME),
				 errmsg("no tenant matched"),
				 errhint("SELECT nspname FROM pg_namespace lists the schemas of this database.")));
	check_tenants(result);
	return result;
}

/* The statement each tenant is migrated with, run's arguments as given */
static char *
call_statement(const TenantsRequest *req)
{
	StringInfoData buf;
	const RunOptions *o = &req->opts;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "CALL migrate.run(");
	if (req->dir)
		appendStringInfoString(&buf, quote_literal_cstr(req->dir));
	else
		appendStringInfo(&buf, "%s::pg_catalog.jsonb",
						 quote_literal_cstr(JsonbToCString(NULL, &req->files->root,
														   VARSIZE(req->files))));
	appendStringInfo(&buf, ", format => %s, allow_drift => %s",
					 quote_literal_cstr(o->format), o->allow_drift ? "true" : "false");
	if (req->files)
		appendStringInfo(&buf, ", source => %s",
						 req->source ? quote_literal_cstr(req->source) : "NULL");
	appendStringInfo(&buf, ", target => %s, retry => %s)",
					 o->target ? quote_literal_cstr(o->target) : "NULL",
					 o->retry ? "true" : "false");
	return buf.data;
}

/*
 * The tenants of this run still to migrate, canaries first: those of an
 * earlier call with the same run_id that are not applied, or, for a new
 * run, those the arguments name, recorded as pending (a pattern's
 * databases those that have the extension).  Sets *ncanary, and
 * *by_database when the tenants are databases.
 */
static List *
run_tenant_list(TenantsRequest *req, int *ncanary, bool *by_database)
{
	Oid			types[3] = {INT8OID, TEXTARRAYOID, INT4OID};
	Datum		values[3];
	List	   *canaries = NIL;
	List	   *others = NIL;
	List	   *tenants;

	values[0] = Int64GetDatum(req->run_id);
	/* a database tenant's row: tenant '', and the database's name */
	run_tracking_query("SELECT CASE tenant WHEN '' THEN database ELSE tenant END, canary,"
					   " state OPERATOR(pg_catalog.=) ANY ('{failed,pending,running}'),"
					   " tenant OPERATOR(pg_catalog.=) ''"
					   " FROM migrate.tenant_runs WHERE run_id OPERATOR(pg_catalog.=) $1"
					   " AND (database OPERATOR(pg_catalog.=) pg_catalog.current_database()"
					   "  OR tenant OPERATOR(pg_catalog.=) '')"
					   " ORDER BY position",
					   1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
	{
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			bool		isnull;
			char	   *t = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);

			*by_database = DatumGetBool(SPI_getbinval(tup, SPI_tuptable->tupdesc, 4, &isnull));
			if (!DatumGetBool(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull)))
				continue;
			if (DatumGetBool(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull)))
				canaries = lappend(canaries, t);
			else
				others = lappend(others, t);
		}
		SPI_freetuptable(SPI_tuptable);
		*ncanary = list_length(canaries);
		/* what failed is run again, its cause fixed: as retry => true */
		req->opts.retry = true;
		return list_concat(canaries, others);
	}
	SPI_freetuptable(SPI_tuptable);

	tenants = resolve_tenants(req);
	*by_database = req->databases || req->database_pattern;
	if (req->database_pattern)
		tenants = tenant_databases_probe(tenants, req->parallel);
	*ncanary = Min(req->canary, list_length(tenants));
	values[1] = util_text_array(tenants);
	values[2] = Int32GetDatum(*ncanary);
	if (*by_database)
		run_tracking_query("INSERT INTO migrate.tenant_runs (run_id, position, database, tenant, canary, started_by)"
						   " SELECT $1, u.o, u.t, '', u.o OPERATOR(pg_catalog.<=) $3, CURRENT_USER"
						   " FROM pg_catalog.unnest($2) WITH ORDINALITY u(t, o)",
						   3, types, values, NULL, SPI_OK_INSERT);
	else
		run_tracking_query("INSERT INTO migrate.tenant_runs (run_id, position, tenant, canary, started_by)"
						   " SELECT $1, u.o, u.t, u.o OPERATOR(pg_catalog.<=) $3, CURRENT_USER"
						   " FROM pg_catalog.unnest($2) WITH ORDINALITY u(t, o)",
						   3, types, values, NULL, SPI_OK_INSERT);
	return tenants;
}

/*
 * Migrate some tenants (those of list from first, count of them) with up
 * to parallel workers, and say what became of them.  Stops taking new
 * tenants after the first failure when stop_on_failure.
 */
static PhaseOutcome
run_phase(const char *call, List *list, int first, int count, int parallel,
		  bool stop_on_failure, int64 run_id)
{
	WorkerFleet fleet;
	FleetShared *fs;
	const char *path = namespace_search_path;
	Size		names = (Size) count * NAMEDATALEN;
	Size		size = offsetof(FleetShared, data) + names + strlen(call) + 1 +
		strlen(path) + 1;
	PhaseOutcome out;

	fs = worker_fleet_create(&fleet, Min(parallel, count), size);
	SpinLockInit(&fs->mutex);
	fs->run_id = run_id;
	fs->count = count;
	fs->next = 0;
	fs->stop_on_failure = stop_on_failure;
	fs->stop = false;
	fs->applied = fs->failed = fs->skipped = 0;
	memset(fs->data, 0, names);
	for (int i = 0; i < count; i++)
		snprintf(fs->data + (Size) i * NAMEDATALEN, NAMEDATALEN, "%s",
				 (char *) list_nth(list, first + i));
	fs->call_offset = names;
	strcpy(fs->data + fs->call_offset, call);
	fs->path_offset = fs->call_offset + strlen(call) + 1;
	strcpy(fs->data + fs->path_offset, path);

	worker_fleet_launch(&fleet);
	worker_fleet_wait(&fleet);
	out.applied = fs->applied;
	out.failed = fs->failed;
	out.skipped = fs->skipped;
	worker_fleet_end(&fleet);
	return out;
}

/*
 * The error that ends a run in which a tenant failed, from the first
 * failed row of migrate.tenant_runs: its SQLSTATE, message, file and line.
 */
static void
report_failed_run(int64 run_id, bool canary, int failed, int total)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	char	   *tenant = "?";
	char	   *sqlstate = NULL;
	char	   *error = "";
	char	   *where = "";
	int			pending = 0;
	int			applied = 0;
	bool		database = false;

	run_tracking_query("SELECT CASE r.tenant WHEN '' THEN r.database ELSE r.tenant END,"
					   " r.sqlstate, r.error, r.file, r.line,"
					   " (SELECT pg_catalog.count(*) FROM migrate.tenant_runs p"
					   "  WHERE p.run_id OPERATOR(pg_catalog.=) $1"
					   "  AND p.state OPERATOR(pg_catalog.=) ANY ('{pending,running}')),"
					   " (SELECT pg_catalog.count(*) FROM migrate.tenant_runs p"
					   "  WHERE p.run_id OPERATOR(pg_catalog.=) $1"
					   "  AND p.state OPERATOR(pg_catalog.=) 'applied'),"
					   " r.tenant OPERATOR(pg_catalog.=) ''"
					   " FROM migrate.tenant_runs r WHERE r.run_id OPERATOR(pg_catalog.=) $1"
					   " AND r.state OPERATOR(pg_catalog.=) 'failed'"
					   " ORDER BY r.finished_at, r.position LIMIT 1",
					   1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *file = SPI_getvalue(tup, desc, 4);
		char	   *line = SPI_getvalue(tup, desc, 5);

		tenant = SPI_getvalue(tup, desc, 1);
		sqlstate = SPI_getvalue(tup, desc, 2);
		error = SPI_getvalue(tup, desc, 3);
		if (file)
			where = line ? psprintf(" (%s, line %s)", file, line) :
				psprintf(" (%s)", file);
		pending = atoi(SPI_getvalue(tup, desc, 6));
		applied = atoi(SPI_getvalue(tup, desc, 7));
		database = strcmp(SPI_getvalue(tup, desc, 8), "t") == 0;
	}
	ereport(ERROR,
			(errcode(sqlstate && strlen(sqlstate) == 5 ?
					 MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2],
								   sqlstate[3], sqlstate[4]) :
					 ERRCODE_INTERNAL_ERROR),
			 canary ?
			 (database ?
			  errmsg("canary database \"%s\" failed: %s", tenant, error) :
			  errmsg("canary tenant \"%s\" failed: %s", tenant, error)) :
			 errmsg_plural("%d tenant of %d failed",
						   "%d tenants of %d failed", failed, failed, total),
			 canary ?
			 errdetail("Run " INT64_FORMAT ": the failure is at%s; the fleet stopped before migrating the other tenants (%d pending).",
					   run_id, *where ? where : " no known line", pending) :
			 database ?
			 errdetail("Run " INT64_FORMAT ": database \"%s\" failed first%s: %s. Applied: %d; pending: %d.",
					   run_id, tenant, where, error, applied, pending) :
			 errdetail("Run " INT64_FORMAT ": tenant \"%s\" failed first%s: %s. Applied: %d; pending: %d.",
					   run_id, tenant, where, error, applied, pending),
			 errhint("SELECT * FROM migrate.tenant_runs WHERE run_id = " INT64_FORMAT " shows each tenant. Fix the cause, then call migrate.run_tenants() again with run_id => " INT64_FORMAT ": it migrates the failed and pending tenants only.",
					 run_id, run_id)));
}

/*
 * migrate.run_tenants(): the canaries, then the others, each phase by its
 * fleet of workers.  The caller holds no snapshot while they work, as
 * run() holds none while its worker runs a no-transaction migration.
 * Returns the run's id.
 */
int64
run_tenants(TenantsRequest *req)
{
	List	   *tenants;
	int			ncanary;
	int			total;
	char	   *call;
	bool		by_database = false;
	PhaseOutcome canary = {0, 0, 0};
	PhaseOutcome rest = {0, 0, 0};

	PreventCommandIfReadOnly("migrate.run_tenants()");
	PreventCommandDuringRecovery("migrate.run_tenants()");
	if (req->parallel < 1 || req->parallel > max_worker_processes)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("parallel must be between 1 and %d", max_worker_processes),
				 errdetail("Each parallel worker is a background worker; max_worker_processes is %d.",
						   max_worker_processes)));
	if (req->canary < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("canary must not be negative"),
				 errhint("canary is the number of tenants, first of the list, migrated before the others.")));
	if (!tracking_has_tenants())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("tenants need version 0.5 of extension pg_migrate"),
				 errhint("Update the extension with ALTER EXTENSION pg_migrate UPDATE.")));
	/* the folder is read, and refused, once before any tenant */
	(void) source_load(req->folder, req->opts.format, DEBUG1);

	if (req->run_id == 0)
	{
		bool		isnull;

		run_tracking_query("SELECT pg_catalog.nextval('migrate.run_id_seq')",
						   0, NULL, NULL, NULL, SPI_OK_SELECT);
		req->run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1, &isnull));
		SPI_freetuptable(SPI_tuptable);
	}
	tenants = run_tenant_list(req, &ncanary, &by_database);
	total = list_length(tenants);
	call = call_statement(req);
	/* the rows are seen by the workers; no snapshot is held while they work */
	COMPAT_SPI_COMMIT();
	if (total == 0)
	{
		ereport(NOTICE,
				(errmsg("run " INT64_FORMAT " has no failed or pending tenant left",
						req->run_id)));
		return req->run_id;
	}

	if (ncanary > 0)
	{
		canary = by_database ?
			tenant_databases_phase(call, tenants, 0, ncanary, req->parallel,
								   true, req->run_id) :
			run_phase(call, tenants, 0, ncanary, req->parallel, true,
					  req->run_id);
		if (canary.failed > 0)
			report_failed_run(req->run_id, true, canary.failed, total);
	}
	if (total > ncanary)
		rest = by_database ?
			tenant_databases_phase(call, tenants, ncanary, total - ncanary,
								   req->parallel, req->stop_on_failure,
								   req->run_id) :
			run_phase(call, tenants, ncanary, total - ncanary, req->parallel,
					  req->stop_on_failure, req->run_id);
	if (rest.failed > 0)
		report_failed_run(req->run_id, false, rest.failed, total);
	ereport(NOTICE,
			(errmsg("run " INT64_FORMAT ": %d tenants migrated",
					req->run_id, canary.applied + rest.applied),
			 (canary.skipped + rest.skipped) > 0 ?
			 by_database ?
			 errdetail("%d tenants were skipped: their database no longer exists.",
					   canary.skipped + rest.skipped) :
			 errdetail("%d tenants were skipped: their schema no longer exists.",
					   canary.skipped + rest.skipped) : 0));
	return req->run_id;
}

/*
 * In a worker: run a query on migrate.tenant_runs in a transaction of its
 * own, committed at once so that the caller and others see it.
 */
static void
write_tenant_row(const char *query, int64 run_id, const char *tenant,
				 const char *state, ErrorData *edata)
{
	Oid			types[5] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', 'n', 'n'};
	MemoryContext cxt = CurrentMemoryContext;

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(tenant);
	values[2] = CStringGetTextDatum(state);
	if (edata)
	{
		values[3] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
		values[4] = CStringGetTextDatum(edata->message ? edata->message : "");
		nulls[3] = nulls[4] = ' ';
	}
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	run_tracking_query(query, query == tenant_end_query ? 5 : 3,
					   types, values, nulls, SPI_OK_UPDATE);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
}

/*
 * In a worker: make the session the tenant's (migrate.tenant, and
 * search_path: its schema, then the caller's path) and mark it running;
 * false, and the tenant skipped, when its schema is gone.
 */
static bool
tenant_begin(FleetShared *fs, const char *tenant)
{
	const char *path = fs->data + fs->path_offset;
	bool		exists;

	StartTransactionCommand();
	exists = OidIsValid(get_namespace_oid(tenant, true));
	SetConfigOption("migrate.tenant", tenant, PGC_USERSET, PGC_S_SESSION);
	SetConfigOption("search_path",
					*path ? psprintf("%s, %s", quote_identifier(tenant), path) :
					quote_identifier(tenant),
					PGC_USERSET, PGC_S_SESSION);
	CommitTransactionCommand();
	write_tenant_row(tenant_running_query, fs->run_id, tenant,
					 exists ? "running" : "skipped", NULL);
	return exists;
}

/*
 * In a worker: migrate one tenant with CALL migrate.run() at top level.
 * Its failure (which run() has logged in the tenant's history and
 * committed) is caught here: the tenant's transaction is aborted as a
 * backend aborts a client's failed statement, the failure recorded in
 * the tenant's row and reported to the caller as a warning, and the
 * worker goes on.
 */
static void
migrate_one_tenant(FleetShared *fs, int i, MemoryContext cxt)
{
	const char *tenant = fleet_tenant(fs, i);
	ErrorData  *edata;

	if (!tenant_begin(fs, tenant))
	{
		SpinLockAcquire(&fs->mutex);
		fs->skipped++;
		SpinLockRelease(&fs->mutex);
		return;
	}
	edata = worker_run_statement(fs->data + fs->call_offset, cxt);
	pgstat_report_activity(STATE_IDLE, NULL);

	write_tenant_row(tenant_end_query, fs->run_id, tenant,
					 edata ? "failed" : "applied", edata);
	SpinLockAcquire(&fs->mutex);
	if (edata)
	{
		fs->failed++;
		if (fs->stop_on_failure)
			fs->stop = true;
	}
	else
		fs->applied++;
	SpinLockRelease(&fs->mutex);
	if (edata)
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("tenant \"%s\" failed: %s", tenant, edata->message),
				 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
				 edata->context ? errcontext("%s", edata->context) : 0));
}

PGDLLEXPORT void migrate_fleet_worker_main(Datum arg);

/*
 * Entry point of a fleet worker: once it is the caller (worker.c), tenants,
 * one at a time, until none is left or the fleet stops
 */
void
migrate_fleet_worker_main(Datum arg)
{
	FleetShared *fs = worker_fleet_join(arg);
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext,
											  "pg_migrate tenant",
											  ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		int			i = -1;

		SpinLockAcquire(&fs->mutex);
		if (!fs->stop && fs->next < fs->count)
			i = fs->next++;
		SpinLockRelease(&fs->mutex);
		if (i < 0)
			break;
		MemoryContextSwitchTo(cxt);
		migrate_one_tenant(fs, i, cxt);
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(cxt);
	}
	worker_fleet_leave();
}

/*
 * migrate.tenant_status(): for each tenant, how many of the folder's
 * migrations are applied, pending and failed, and when the last was
 * applied.  The folder is read once and the tracking tables in one query.
 */
void
tenant_status(TenantsRequest *req, ResultSink *sink)
{
	MigrationSet *set;
	List	   *tenants;
	List	   *names = NIL;
	Oid			types[3] = {TEXTARRAYOID, TEXTARRAYOID, INT4OID};
	Datum		values[3];

	if (!tracking_has_tenants())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("tenants need version 0.5 of extension pg_migrate"),
				 errhint("Update the extension with ALTER EXTENSION pg_migrate UPDATE.")));
	tenants = resolve_tenants(req);
	set = source_load(req->folder, req->opts.format, DEBUG1);
	for (int i = 0; i < set->count; i++)
		names = lappend(names, set->items[i].name);
	values[0] = util_text_array(tenants);
	values[1] = util_text_array(names);
	values[2] = Int32GetDatum(set->count);
	run_tracking_query(tenant_status_query, 3, types, values, NULL, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Datum		row[5];
		bool		nulls[5];

		for (int c = 0; c < 5; c++)
			row[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
								   c + 1, &nulls[c]);
		tuplestore_putvalues(sink->store, sink->desc, row, nulls);
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * migrate.use_tenant(): the session (or, with is_local, the transaction)
 * works on a tenant's migrations: migrate.tenant names it, and search_path
 * is its schema followed by the current path.  NULL or '' goes back to the
 * database's own migrations, leaving search_path as it is.  Returns the
 * search_path.
 */
const char *
use_tenant(const char *tenant, bool is_local)
{
	GucAction	action = is_local ? GUC_ACTION_LOCAL : GUC_ACTION_SET;
	const char *path = namespace_search_path;

	if (tenant == NULL || *tenant == '\0')
	{
		(void) set_config_option("migrate.tenant", "", PGC_USERSET,
								 PGC_S_SESSION, action, true, 0, false);
		return path;
	}
	(void) tenant_schema_oid(tenant);
	path = *path ? psprintf("%s, %s", quote_identifier(tenant), path) :
		quote_identifier(tenant);
	(void) set_config_option("migrate.tenant", tenant, PGC_USERSET,
							 PGC_S_SESSION, action, true, 0, false);
	(void) set_config_option("search_path", path, PGC_USERSET,
							 PGC_S_SESSION, action, true, 0, false);
	return path;
}
