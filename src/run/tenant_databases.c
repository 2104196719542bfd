/*-------------------------------------------------------------------------
 *
 * tenant_databases.c
 *	  Databases of the cluster as tenants of migrate.run_tenants(): a list
 *	  of database names (databases), or every database whose name is LIKE
 *	  a pattern (database_pattern) and that has extension pg_migrate.
 *
 * A tenant database is migrated with its own tracking tables exactly as
 * CALL migrate.run() in a session of that database migrates it: by a
 * background worker logged in to that database as the calling role
 * (worker.c), which runs that CALL at top level.  A worker can log in to
 * one database only, so each database has a worker of its own, up to
 * parallel of them at a time.  It cannot write the caller's tables either:
 * it sends the database's outcome (applied, or the error with the file and
 * line of the failed migration, and the number of migrations applied) back
 * on its queue, and the caller writes the database's row of its own
 * migrate.tenant_runs and commits it, as the schemas' workers do theirs.
 *
 * A database tenant's row has the database's name in column database and
 * '' in column tenant: the database's own migrations, as tenant '' means
 * in the tracking tables; a tenant schema's row has the caller's database
 * and the schema's name.
 *
 * Which databases of a pattern have the extension only a session of each
 * can tell: the pattern's databases are probed first, by the same workers
 * doing nothing else, and those without it are not tenants of the run.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "util/compat.h"
#include "run/run.h"

/* What a tenant database's worker is told */
typedef struct DatabaseShared
{
	bool		probe;			/* only say whether it has the extension */
	char		call[FLEXIBLE_ARRAY_MEMBER];	/* CALL migrate.run(...) */
} DatabaseShared;

/* A worker at work, and the database it is migrating */
typedef struct DatabaseSlot
{
	WorkerFleet fleet;
	const char *name;
	bool		busy;
} DatabaseSlot;

PGDLLEXPORT void migrate_database_worker_main(Datum arg);

/*
 * The databases named by an array or a LIKE pattern (the templates and
 * those that allow no connections left out), in the order given or by
 * name; each one that exists, allows connections, and that the current
 * role may connect to, and none twice.
 */
List *
tenant_databases_resolve(const TenantsRequest *req)
{
	Oid			types[1];
	Datum		values[1];
	List	   *result = NIL;

	if (req->databases)
	{
		types[0] = TEXTARRAYOID;
		values[0] = PointerGetDatum(req->databases);
		if (array_contains_nulls(req->databases))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("databases must not hold a null")));
		spi_run("SELECT u.n, d.datallowconn,"
				" pg_catalog.has_database_privilege(d.oid, 'CONNECT'),"
				" pg_catalog.count(*) OVER (PARTITION BY u.n)"
				" FROM pg_catalog.unnest($1) WITH ORDINALITY u(n, o)"
				" LEFT JOIN pg_catalog.pg_database d"
				"  ON d.datname OPERATOR(pg_catalog.=) u.n"
				" ORDER BY u.o",
				1, types, values, NULL, SPI_OK_SELECT);
	}
	else
	{
		types[0] = TEXTOID;
		values[0] = CStringGetTextDatum(req->database_pattern);
		spi_run("SELECT d.datname::pg_catalog.text, true,"
				" pg_catalog.has_database_privilege(d.oid, 'CONNECT'), 1::pg_catalog.int8"
				" FROM pg_catalog.pg_database d"
				" WHERE d.datname::pg_catalog.text OPERATOR(pg_catalog.~~) $1"
				" AND d.datallowconn AND NOT d.datistemplate"
				" ORDER BY d.datname",
				1, types, values, NULL, SPI_OK_SELECT);
	}
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_DATABASE),
				 errmsg("no tenant database matched"),
				 errhint("SELECT datname FROM pg_database lists the databases of the cluster.")));

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(tup, desc, 1);
		bool		missing;
		bool		allowed;
		bool		isnull;

		allowed = DatumGetBool(SPI_getbinval(tup, desc, 2, &missing));
		if (missing)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_DATABASE),
					 errmsg("database \"%s\" does not exist", name),
					 errdetail("A tenant database is the name of a database of this cluster.")));
		if (!allowed)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("database \"%s\" does not allow connections", name),
					 errdetail("A tenant database is migrated by a background worker that connects to it.")));
		if (!DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for database \"%s\"", name),
					 errdetail("A tenant database is migrated by a background worker that connects to it as role \"%s\", which lacks the CONNECT privilege on it.",
							   GetUserNameFromId(GetUserId(), false)),
					 errhint("GRANT CONNECT ON DATABASE %s TO %s, or leave the database out of the tenants.",
							 quote_identifier(name),
							 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
		if (DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull)) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tenant database \"%s\" is named twice", name),
					 errhint("Name each database once: a tenant is migrated once per run.")));
		result = lappend(result, name);
	}
	return result;
}

/*
 * In the caller: a database's row of migrate.tenant_runs as it starts (its
 * outcome NULL) or ends, committed at once, and with it our snapshot: the
 * caller holds none while the workers work (a CONCURRENTLY build in its
 * own database, a tenant too, would wait for it).
 */
static void
write_database_row(int64 run_id, const char *name, const TenantOutcome *o)
{
	Oid			types[9] = {INT8OID, TEXTOID, TEXTOID, INT4OID, TEXTOID,
	TEXTOID, TEXTOID, INT4OID, BOOLOID};
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', 'n', 'n', 'n', 'n', ' '};

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(name);
	values[2] = CStringGetTextDatum(o ? o->state : "running");
	values[3] = Int32GetDatum(o ? o->migrations : 0);
	values[8] = BoolGetDatum(o != NULL);
	if (o && o->message)
	{
		values[4] = CStringGetTextDatum(unpack_sql_state(o->sqlerrcode));
		values[5] = CStringGetTextDatum(o->message);
		nulls[4] = nulls[5] = ' ';
	}
	if (o && o->file)
	{
		values[6] = CStringGetTextDatum(o->file);
		nulls[6] = ' ';
		if (o->line > 0)
		{
			values[7] = Int32GetDatum(o->line);
			nulls[7] = ' ';
		}
	}
	run_tracking_query("UPDATE migrate.tenant_runs SET state = $3, migrations = $4,"
					   " sqlstate = $5, error = $6, file = $7, line = $8,"
					   " started_at = CASE WHEN $9 THEN started_at"
					   "  ELSE pg_catalog.clock_timestamp() END,"
					   " finished_at = CASE WHEN $9 THEN pg_catalog.clock_timestamp() END"
					   " WHERE run_id OPERATOR(pg_catalog.=) $1"
					   " AND database OPERATOR(pg_catalog.=) $2"
					   " AND tenant OPERATOR(pg_catalog.=) ''",
					   9, types, values, nulls, SPI_OK_UPDATE);
	COMPAT_SPI_COMMIT();
	InvalidateCatalogSnapshot();
}

/* Start a worker for the database, in the slot */
static void
start_database(DatabaseSlot *slot, const char *name, const char *call,
			   bool probe)
{
	Oid			db = get_database_oid(name, true);
	DatabaseShared *ds;

	memset(&slot->fleet, 0, sizeof(WorkerFleet));
	slot->name = name;
	slot->busy = true;
	if (!OidIsValid(db))
	{
		/* dropped since the run began: nothing to migrate */
		slot->fleet.outcome.reported = true;
		slot->fleet.outcome.state = "skipped";
		slot->fleet.outcome.sqlerrcode = ERRCODE_UNDEFINED_DATABASE;
		slot->fleet.outcome.message = psprintf("database \"%s\" does not exist", name);
		return;
	}
	ds = worker_database_create(&slot->fleet, db,
								offsetof(DatabaseShared, call) + strlen(call) + 1);
	ds->probe = probe;
	strcpy(ds->call, call);
	worker_fleet_launch(&slot->fleet);
}

/*
 * The outcome of the slot's database once its worker is done: what it sent
 * back, or the error it ended on (it could not log in)
 */
static TenantOutcome
slot_outcome(DatabaseSlot *slot)
{
	TenantOutcome o = slot->fleet.outcome;

	if (!o.reported)
	{
		ErrorData  *e = slot->fleet.error;

		memset(&o, 0, sizeof(o));
		o.state = "failed";
		o.sqlerrcode = e ? e->sqlerrcode : ERRCODE_CONNECTION_FAILURE;
		o.message = e && e->message ? e->message :
			"the background worker exited without an outcome";
		o.detail = e ? e->detail : NULL;
		o.hint = e ? e->hint : NULL;
	}
	worker_fleet_end(&slot->fleet);
	slot->busy = false;
	return o;
}

/*
 * Migrate some tenant databases (those of list from first, count of them)
 * with up to parallel workers at a time, each database's outcome written
 * as it comes; stop starting new ones after the first failure when
 * stop_on_failure.  With probe (run_id 0), only learn which have the
 * extension: the list of those.  A failure is also reported as a warning,
 * with its detail and hint.
 */
static List *
run_databases(const char *call, List *list, int first, int count,
			  int parallel, bool stop_on_failure, int64 run_id, bool probe,
			  PhaseOutcome *out)
{
	int			nslots = Min(parallel, count);
	DatabaseSlot *slots = palloc0(sizeof(DatabaseSlot) * Max(nslots, 1));
	int			next = first;
	bool		stop = false;
	List	   *found = NIL;

	memset(out, 0, sizeof(PhaseOutcome));
	PG_TRY();
	{
		for (;;)
		{
			int			busy = 0;
			bool		progressed = false;

			for (int i = 0; i < nslots; i++)
			{
				if (!slots[i].busy && !stop && next < first + count)
				{
					const char *name = list_nth(list, next++);

					if (!probe)
						write_database_row(run_id, name, NULL);
					start_database(&slots[i], name, call, probe);
				}
				if (!slots[i].busy)
					continue;
				if (slots[i].fleet.seg && !worker_fleet_poll(&slots[i].fleet))
				{
					busy++;
					continue;
				}
				{
					const char *name = slots[i].name;
					TenantOutcome o = slot_outcome(&slots[i]);

					progressed = true;
					if (probe)
					{
						if (strcmp(o.state, "applied") == 0)
							found = lappend(found, (char *) name);
						else if (strcmp(o.state, "failed") == 0)
							ereport(ERROR,
									(errcode(o.sqlerrcode),
									 errmsg("could not probe database \"%s\": %s",
											name, o.message),
									 o.hint ? errhint("%s", o.hint) : 0));
						continue;
					}
					write_database_row(run_id, name, &o);
					if (strcmp(o.state, "applied") == 0)
						out->applied++;
					else if (strcmp(o.state, "skipped") == 0)
						out->skipped++;
					else
					{
						out->failed++;
						stop |= stop_on_failure;
						ereport(WARNING,
								(errcode(o.sqlerrcode),
								 errmsg("database \"%s\" failed: %s", name, o.message),
								 o.detail ? errdetail_internal("%s", o.detail) : 0,
								 o.hint ? errhint("%s", o.hint) : 0));
					}
				}
			}
			if (busy == 0 && (stop || next >= first + count))
				break;
			if (!progressed)
			{
				/* a message, or a worker's start or end, sets our latch */
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1,
								 PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
			}
		}
	}
	PG_CATCH();
	{
		/* their segments are the session's: detaching stops their workers */
		for (int i = 0; i < nslots; i++)
			worker_fleet_end(&slots[i].fleet);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return found;
}

/*
 * The databases of the pattern's list that have the extension, probed
 * parallel at a time.  None is an error.
 */
List *
tenant_databases_probe(List *list, int parallel)
{
	PhaseOutcome out;
	List	   *found;
	List	   *result = NIL;
	ListCell   *lc;

	COMPAT_SPI_COMMIT();
	InvalidateCatalogSnapshot();
	found = run_databases("", list, 0, list_length(list), parallel, false, 0,
						  true, &out);
	/* in the pattern's order, not the probes' */
	foreach(lc, list)
		if (list_member_ptr(found, lfirst(lc)))
			result = lappend(result, lfirst(lc));
	if (result == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no tenant database matched has extension pg_migrate"),
				 errhint("Run CREATE EXTENSION pg_migrate in each database to migrate.")));
	return result;
}

/* Migrate tenant databases, as run_phase() in tenants.c migrates schemas */
PhaseOutcome
tenant_databases_phase(const char *call, List *list, int first, int count,
					   int parallel, bool stop_on_failure, int64 run_id)
{
	PhaseOutcome out;

	(void) run_databases(call, list, first, count, parallel, stop_on_failure,
						 run_id, false, &out);
	return out;
}

/*
 * In a database's worker: the outcome of its run from its history, logged
 * since started: the migrations applied (or adopted), and the file and
 * line of the failure, if it failed.
 */
static void
outcome_from_history(TenantOutcome *o, TimestampTz started)
{
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		values[1] = {TimestampTzGetDatum(started)};
	MemoryContext cxt = CurrentMemoryContext;
	const char *tenant;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	tenant = tracking_has_tenants() ?
		" AND h.tenant OPERATOR(pg_catalog.=) ''" : "";
	run_tracking_query(psprintf("SELECT (SELECT pg_catalog.count(*)::pg_catalog.int4"
								"  FROM migrate.history h"
								"  WHERE h.action OPERATOR(pg_catalog.=) ANY ('{apply,adopt}')"
								"  AND h.performed_at OPERATOR(pg_catalog.>=) $1%s),"
								" f.file, f.line FROM (SELECT NULL) x LEFT JOIN"
								" (SELECT h.file, h.line FROM migrate.history h"
								"  WHERE h.action OPERATOR(pg_catalog.=) 'failure'"
								"  AND h.performed_at OPERATOR(pg_catalog.>=) $1%s"
								"  ORDER BY h.id DESC LIMIT 1) f ON true",
								tenant, tenant),
					   1, types, values, NULL, SPI_OK_SELECT);
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *file = SPI_getvalue(tup, desc, 2);
		Datum		line = SPI_getbinval(tup, desc, 3, &isnull);

		o->migrations = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		if (strcmp(o->state, "failed") == 0 && file)
		{
			o->file = MemoryContextStrdup(cxt, file);
			o->line = isnull ? 0 : DatumGetInt32(line);
		}
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
}

/*
 * Entry point of a tenant database's worker: once it is the caller logged
 * in to the database (worker.c), its run, CALL migrate.run() at top level;
 * its failure caught as a backend catches a client's failed statement,
 * then the outcome sent back.  A probe only says whether the database has
 * the extension.
 */
void
migrate_database_worker_main(Datum arg)
{
	DatabaseShared *ds = worker_fleet_join(arg);
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext,
											  "pg_migrate tenant database",
											  ALLOCSET_DEFAULT_SIZES);
	TenantOutcome o;
	ErrorData  *edata = NULL;
	char	   *name;
	bool		installed;

	memset(&o, 0, sizeof(o));
	StartTransactionCommand();
	installed = OidIsValid(get_extension_oid("pg_migrate", true));
	name = MemoryContextStrdup(cxt, get_database_name(MyDatabaseId));
	/* the database's own migrations */
	SetConfigOption("migrate.tenant", "", PGC_USERSET, PGC_S_SESSION);
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);

	if (!installed)
	{
		o.state = ds->probe ? "skipped" : "failed";
		o.sqlerrcode = ERRCODE_UNDEFINED_OBJECT;
		o.message = psprintf("extension \"pg_migrate\" is not installed in database \"%s\"",
							 name);
		o.hint = psprintf("Run CREATE EXTENSION pg_migrate in database \"%s\", or leave it out of the tenant databases.",
						  name);
	}
	else if (ds->probe)
		o.state = "applied";
	else
	{
		TimestampTz started = GetCurrentTimestamp();

		edata = worker_run_statement(ds->call, cxt);
		pgstat_report_activity(STATE_IDLE, NULL);
		o.state = edata ? "failed" : "applied";
		if (edata)
		{
			o.sqlerrcode = edata->sqlerrcode;
			o.message = edata->message ? edata->message : "";
			o.detail = edata->detail;
			o.hint = edata->hint;
		}
		outcome_from_history(&o, started);
	}
	worker_fleet_report(&o);
	worker_fleet_leave();
}
