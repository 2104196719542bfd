/*-------------------------------------------------------------------------
 *
 * tracking.c
 *	  Reading and writing the tracking tables, migrate.migrations and
 *	  migrate.history.
 *
 * Migrations run as the calling user, but the tracking tables are written
 * with the privileges of their owner (the extension's owner), so that a
 * role allowed to run migrations need not be allowed to edit its own audit
 * trail.  Every query is schema-qualified, uses OPERATOR(pg_catalog.x) and
 * takes user input only as parameters, since it runs as the owner under the
 * caller's search_path.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "tracking/tracking.h"
#include "util/util.h"

static bool history_is_0_2(void);
static void record_apply(const MigrationSet *set, const Migration *m,
						 const LoadedMigration *lm, const char *checksum,
						 int64 duration_us, const char *action,
						 const char *tool_table, int lock_retries);

/* Owner of migrate.migrations; the extension's objects share one owner */
static Oid
tracking_owner(void)
{
	Oid			nsp = get_namespace_oid("migrate", false);
	Oid			relid = get_relname_relid("migrations", nsp);
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("tracking table migrate.migrations does not exist"),
				 errhint("Reinstall the extension with DROP EXTENSION pg_migrate, then CREATE EXTENSION pg_migrate.")));
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * An error in between needs no cleanup: aborting the (sub)transaction
 * restores the user id and security context.
 */
void
tracking_become_owner(OwnerSwitch *sw)
{
	GetUserIdAndSecContext(&sw->saved_user, &sw->saved_context);
	SetUserIdAndSecContext(tracking_owner(),
						   sw->saved_context | SECURITY_LOCAL_USERID_CHANGE);
}

void
tracking_restore_user(OwnerSwitch *sw)
{
	SetUserIdAndSecContext(sw->saved_user, sw->saved_context);
}

/* Run a query on the tracking tables as their owner */
void
run_tracking_query(const char *query, int nargs, Oid *types, Datum *values,
				   const char *nulls, int expected)
{
	OwnerSwitch sw;

	tracking_become_owner(&sw);
	spi_run(query, nargs, types, values, nulls, expected);
	tracking_restore_user(&sw);
}

/*
 * Whether migrate.history has the columns of version 0.2 (performed_as,
 * checksum, lock_retries, tool_table): a database still at 0.1 keeps
 * working with this library until ALTER EXTENSION pg_migrate UPDATE adds
 * them.
 */
static bool
history_is_0_2(void)
{
	Oid			relid = get_relname_relid("history",
										  get_namespace_oid("migrate", false));

	return OidIsValid(relid) &&
		get_attnum(relid, "performed_as") != InvalidAttrNumber;
}

/*
 * Whether migrate.migrations has the columns of version 0.4 that say a
 * down script was generated (down_generated, down_partial): until
 * ALTER EXTENSION pg_migrate UPDATE adds them, no down script is
 * generated, and stored ones are all written by hand.
 */
bool
tracking_stores_generated_down(void)
{
	Oid			relid = get_relname_relid("migrations",
										  get_namespace_oid("migrate", false));

	return OidIsValid(relid) &&
		get_attnum(relid, "down_generated") != InvalidAttrNumber;
}

/*
 * Whether the tracking tables have the tenant column of version 0.5
 */
bool
tracking_has_tenants(void)
{
	Oid			relid = get_relname_relid("migrations",
										  get_namespace_oid("migrate", false));

	return OidIsValid(relid) &&
		get_attnum(relid, "tenant") != InvalidAttrNumber;
}

/*
 * The condition that keeps a query on migrate.migrations, migrate.history
 * or migrate.archive (as alias, or unqualified) to the rows of the current
 * tenant (migrate.tenant, '' for the database's own migrations), to be
 * appended to its WHERE clause.  Rows written take the tenant from the
 * columns' default.  Before 0.5 the tables hold no tenant's rows, and the
 * condition is empty.
 */
const char *
tenant_filter(const char *alias)
{
	if (!tracking_has_tenants())
	{
		if (migrate_tenant && *migrate_tenant)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("tenants need version 0.5 of extension pg_migrate"),
					 errdetail("migrate.tenant is \"%s\", and the tracking tables of this database have no tenant column.",
							   migrate_tenant),
					 errhint("Update the extension with ALTER EXTENSION pg_migrate UPDATE.")));
		return "";
	}
	return psprintf(" AND %s%stenant OPERATOR(pg_catalog.=) pg_catalog.current_setting('migrate.tenant')",
					alias ? alias : "", alias ? "." : "");
}

/*
 * Refuse to go on when a migration run committed after this transaction's
 * snapshot was taken and the transaction cannot see it (REPEATABLE READ or
 * SERIALIZABLE): what it applied would look pending, run again, and fail
 * on the tracking table with a serialization error naming our own query.
 * Called with the run lock held, so no other run can commit meanwhile.
 */
void
tracking_check_snapshot(const char *function)
{
	const char *query = "SELECT pg_catalog.max(id) FROM migrate.history";
	OwnerSwitch sw;
	SPIPlanPtr	plan;
	MemoryContext cxt = CurrentMemoryContext;
	bool		isnull;
	int64		seen = 0;
	int64		latest = 0;
	bool		seen_null;
	int			rc;

	if (!IsolationUsesXactSnapshot())
		return;

	tracking_become_owner(&sw);
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "could not prepare tracking query: %s",
			 SPI_result_code_string(SPI_result));
	rc = SPI_execute_plan(plan, NULL, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "tracking query failed: %s", SPI_result_code_string(rc));
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &seen_null);

		if (!seen_null)
			seen = DatumGetInt64(d);
	}
	SPI_freetuptable(SPI_tuptable);
	rc = SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(),
							  InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "tracking query failed: %s", SPI_result_code_string(rc));
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			latest = DatumGetInt64(d);
	}
	SPI_freetuptable(SPI_tuptable);
	SPI_freeplan(plan);
	tracking_restore_user(&sw);
	MemoryContextSwitchTo(cxt);

	if (seen_null != isnull || seen != latest)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to a concurrent migration run"),
				 errdetail("Another migration run committed after this transaction's snapshot was taken, and %s cannot see its changes in a %s transaction.",
						   function,
						   XactIsoLevel == XACT_SERIALIZABLE ? "SERIALIZABLE" : "REPEATABLE READ"),
				 errhint("Retry the transaction, or call %s in a READ COMMITTED transaction.",
						 function)));
}

static Datum
duration_datum(int64 duration_us)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = duration_us;
	return IntervalPGetDatum(iv);
}

/*
 * A text column's value as a C string, or NULL: as SPI_getvalue() gives
 * it, without the output function's lookup and call per value, which
 * status pays for every applied migration
 */
static char *
tuple_text(HeapTuple tup, TupleDesc desc, int column)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, column, &isnull);

	Assert(TupleDescAttr(desc, column - 1)->atttypid == TEXTOID);
	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * The applied migrations, in the order they were applied.  Fetched a
 * batch at a time, each batch's tuples freed before the next: status of
 * ten thousand migrations otherwise holds them all at once beside the
 * strings taken from them, and a backend pays for every page of that the
 * first time it is touched.
 */
List *
tracking_applied(void)
{
	List	   *result = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	bool		generated = tracking_stores_generated_down();
	char	   *query = psprintf(generated ?
								 "SELECT name, version, checksum, applied_at, "
								 "down_sql IS NOT NULL, repeatable, format, down_generated, "
								 "pg_catalog.jsonb_array_length(down_partial) "
								 "FROM migrate.migrations WHERE true%s ORDER BY id" :
								 "SELECT name, version, checksum, applied_at, "
								 "down_sql IS NOT NULL, repeatable, format "
								 "FROM migrate.migrations WHERE true%s ORDER BY id",
								 tenant_filter(NULL));
	OwnerSwitch sw;
	SPIPlanPtr	plan;
	Portal		portal;

	tracking_become_owner(&sw);
	plan = spi_prepare(query, 0, NULL, CURSOR_OPT_NO_SCROLL);
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, false);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 1000);
		MemoryContextSwitchTo(cxt);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			AppliedMigration *am = palloc0(sizeof(AppliedMigration));
			bool		isnull;

			am->name = tuple_text(tup, desc, 1);
			am->version = tuple_text(tup, desc, 2);
			am->checksum = tuple_text(tup, desc, 3);
			am->applied_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull));
			am->has_down = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
			am->repeatable = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
			am->format = tuple_text(tup, desc, 7);
			if (generated)
			{
				am->down_generated = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));
				am->partial_count = DatumGetInt32(SPI_getbinval(tup, desc, 9, &isnull));
				if (isnull)
					am->partial_count = 0;
			}
			result = lappend(result, am);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_freetuptable(SPI_tuptable);
	SPI_cursor_close(portal);
	SPI_freeplan(plan);
	tracking_restore_user(&sw);
	return result;
}

/*
 * The migrations a rollback of name undoes, newest first, with their down
 * scripts: name and everything applied after it, or only the latest one
 * when name is NULL.  NIL when name is not applied (or nothing is).
 * Repeatable migrations are not undone with the others: they have no
 * undo, and run again when they change.
 */
List *
tracking_rollback_targets(const char *name)
{
	List	   *result = NIL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	/* the first statement a generated down script does not undo */
	const char *generated = tracking_stores_generated_down() ?
		", down_generated, down_partial OPERATOR(pg_catalog.->) 0 OPERATOR(pg_catalog.->>) 'file',"
		" down_partial OPERATOR(pg_catalog.->) 0 OPERATOR(pg_catalog.->>) 'line',"
		" down_partial OPERATOR(pg_catalog.->) 0 OPERATOR(pg_catalog.->>) 'reason',"
		" pg_catalog.jsonb_array_length(down_partial) " :
		", false, NULL, NULL, NULL, NULL ";

	if (name)
	{
		values[0] = CStringGetTextDatum(name);
		run_tracking_query(psprintf("SELECT name, down_sql, checksum, format, applied_by, version, source%s"
									"FROM migrate.migrations "
									"WHERE id OPERATOR(pg_catalog.>=) "
									"(SELECT id FROM migrate.migrations "
									" WHERE name OPERATOR(pg_catalog.=) $1%s) "
									"AND (NOT repeatable OR name OPERATOR(pg_catalog.=) $1)%s "
									"ORDER BY id DESC", generated,
									tenant_filter(NULL), tenant_filter(NULL)),
						   1, types, values, NULL, SPI_OK_SELECT);
	}
	else
		run_tracking_query(psprintf("SELECT name, down_sql, checksum, format, applied_by, version, source%s"
									"FROM migrate.migrations "
									"WHERE NOT repeatable%s ORDER BY id DESC LIMIT 1", generated,
									tenant_filter(NULL)),
						   0, NULL, NULL, NULL, SPI_OK_SELECT);

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		AppliedMigration *am = palloc0(sizeof(AppliedMigration));
		bool		isnull;
		char	   *line;
		char	   *count;

		am->name = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);
		am->down_sql = SPI_getvalue(tup, SPI_tuptable->tupdesc, 2);
		am->has_down = am->down_sql != NULL;
		am->checksum = SPI_getvalue(tup, SPI_tuptable->tupdesc, 3);
		am->format = SPI_getvalue(tup, SPI_tuptable->tupdesc, 4);
		am->applied_by = SPI_getvalue(tup, SPI_tuptable->tupdesc, 5);
		am->version = SPI_getvalue(tup, SPI_tuptable->tupdesc, 6);
		am->source = SPI_getvalue(tup, SPI_tuptable->tupdesc, 7);
		am->down_generated = DatumGetBool(SPI_getbinval(tup, SPI_tuptable->tupdesc, 8, &isnull));
		am->partial_file = SPI_getvalue(tup, SPI_tuptable->tupdesc, 9);
		line = SPI_getvalue(tup, SPI_tuptable->tupdesc, 10);
		am->partial_line = line ? atoi(line) : 0;
		am->partial_reason = SPI_getvalue(tup, SPI_tuptable->tupdesc, 11);
		count = SPI_getvalue(tup, SPI_tuptable->tupdesc, 12);
		am->partial_count = count ? atoi(count) : 0;
		result = lappend(result, am);
	}
	SPI_freetuptable(SPI_tuptable);
	return result;
}

/*
 * Record an applied migration and log it (action "apply", or "adopt" for
 * one found applied by another tool, in tool_table), in one statement,
 * with the lock waits its statements retried.  A
 * repeatable migration that ran again replaces its row, and moves to the
 * end of the application order.
 */
static void
record_apply(const MigrationSet *set, const Migration *m,
			 const LoadedMigration *lm, const char *checksum,
			 int64 duration_us, const char *action, const char *tool_table,
			 int lock_retries)
{
	Oid			types[16] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, INTERVALOID, TEXTOID, TEXTOID, BOOLOID, TEXTOID, INT4OID,
	TEXTOID, BOOLOID, TEXTOID};
	Datum		values[16];
	char		nulls[16];
	bool		as = history_is_0_2();
	bool		gen = tracking_stores_generated_down();

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(m->name);
	values[1] = CStringGetTextDatum(m->version);
	values[2] = CStringGetTextDatum(checksum);
	values[3] = script_text_datum(&lm->up);
	if (lm->down.sql)
		values[4] = script_text_datum(&lm->down);
	else
		nulls[4] = 'n';
	if (set->folder->source)
		values[5] = CStringGetTextDatum(set->folder->source);
	else
		nulls[5] = 'n';
	values[6] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	values[7] = duration_datum(duration_us);
	values[8] = CStringGetTextDatum(lm->no_transaction ? "no-transaction" : "transaction");
	values[9] = CStringGetTextDatum(set->format->name);
	values[10] = BoolGetDatum(m->repeatable);
	values[11] = CStringGetTextDatum(action);
	values[12] = Int32GetDatum(lock_retries);
	if (tool_table)
		values[13] = CStringGetTextDatum(tool_table);
	else
		nulls[13] = 'n';
	values[14] = BoolGetDatum(lm->down_generated);
	if (lm->down_partial)
		values[15] = CStringGetTextDatum(lm->down_partial);
	else
		nulls[15] = 'n';

	run_tracking_query(psprintf("WITH m AS ("
					   " INSERT INTO migrate.migrations (name, version, checksum,"
					   "  up_sql, down_sql, source, applied_by, duration,"
					   "  transaction_mode, format, repeatable%s)"
					   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11%s)"
					   " ON CONFLICT (%s) DO UPDATE SET id = DEFAULT,"
					   "  version = EXCLUDED.version, checksum = EXCLUDED.checksum,"
					   "  up_sql = EXCLUDED.up_sql, down_sql = EXCLUDED.down_sql,"
					   "  source = EXCLUDED.source, applied_at = DEFAULT,"
					   "  applied_by = EXCLUDED.applied_by, duration = EXCLUDED.duration,"
					   "  transaction_mode = EXCLUDED.transaction_mode,"
					   "  format = EXCLUDED.format, repeatable = EXCLUDED.repeatable%s"
					   " RETURNING name)"
								"INSERT INTO migrate.history (action, name, performed_by,"
								" duration, source%s) "
								"SELECT $12, name, $7, $8, $6%s FROM m",
								gen ? ", down_generated, down_partial" : "",
								gen ? ", $15, $16::pg_catalog.jsonb" : "",
								tracking_has_tenants() ? "tenant, name" : "name",
								gen ? ", down_generated = EXCLUDED.down_generated,"
								"  down_partial = EXCLUDED.down_partial" : "",
								as ? ", performed_as, checksum, lock_retries, tool_table" : "",
								as ? ", $7, $3, $13, $14" : ""),
					   16, types, values, nulls, SPI_OK_INSERT);
}

/* Record a migration that pg_migrate applied, and log it */
void
tracking_record_apply(const MigrationSet *set, const Migration *m,
					  const LoadedMigration *lm, const char *checksum,
					  int64 duration_us, const char *action, int lock_retries)
{
	record_apply(set, m, lm, checksum, duration_us, action, NULL, lock_retries);
}

/*
 * Record a migration that the format's own tool applied, found in its
 * table (set->tool_table), without running it, and log the adoption.
 */
void
tracking_record_adopt(const MigrationSet *set, const Migration *m,
					  const LoadedMigration *lm)
{
	record_apply(set, m, lm, m->checksum, 0, "adopt", set->tool_table, 0);
}

/*
 * Log a write to another tool's table: "tool_record" after applying name,
 * "tool_forget" after rolling it back.  0.1's history has neither action
 * nor a tool_table column: nothing is logged until it is updated.
 */
void
tracking_record_tool(const char *action, const char *name, const char *source,
					 const char *checksum, const char *tool_table)
{
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	if (!history_is_0_2())
		return;
	values[0] = CStringGetTextDatum(action);
	values[1] = CStringGetTextDatum(name);
	/* the caller's name: the query runs as the tables' owner */
	values[2] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	if (source)
		values[3] = CStringGetTextDatum(source);
	else
		nulls[3] = 'n';
	values[4] = CStringGetTextDatum(checksum);
	values[5] = CStringGetTextDatum(tool_table);

	run_tracking_query("INSERT INTO migrate.history (action, name, performed_by,"
					   " performed_as, source, checksum, tool_table) "
					   "VALUES ($1, $2, $3, $3, $4, $5, $6)",
					   6, types, values, nulls, SPI_OK_INSERT);
}

/*
 * Remove a rolled-back migration's row and log the rollback: called by
 * caller, its down script run as ran_as, lock waits retried lock_retries
 * times.
 */
void
tracking_record_rollback(const char *name, int64 duration_us,
						 const char *caller, const char *ran_as,
						 int lock_retries)
{
	Oid			types[5] = {TEXTOID, TEXTOID, INTERVALOID, TEXTOID, INT4OID};
	Datum		values[5];
	bool		as = history_is_0_2();

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(caller);
	values[2] = duration_datum(duration_us);
	values[3] = CStringGetTextDatum(ran_as);
	values[4] = Int32GetDatum(lock_retries);

	run_tracking_query(psprintf("WITH d AS ("
								" DELETE FROM migrate.migrations"
								" WHERE name OPERATOR(pg_catalog.=) $1%s RETURNING name, source)"
								"INSERT INTO migrate.history (action, name, performed_by,"
								" duration, source%s) "
								"SELECT 'rollback', name, $2, $3, source%s FROM d",
								tenant_filter(NULL),
								as ? ", performed_as, lock_retries" : "",
								as ? ", $4, $5" : ""),
					   5, types, values, NULL, SPI_OK_INSERT);
}

/*
 * Log a failed migration in migrate.history, with the file line of the
 * statement that failed (0: unknown)
 */
void
tracking_record_failure(const MigrationSet *set, const Migration *m,
						ErrorData *edata, int line)
{
	Oid			types[9] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, INT4OID, TEXTOID};
	Datum		values[9];
	char		nulls[9];
	bool		as = history_is_0_2();

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(m->name);
	values[1] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	if (set->folder->source)
		values[2] = CStringGetTextDatum(set->folder->source);
	else
		nulls[2] = 'n';
	values[3] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
	values[4] = CStringGetTextDatum(edata->message ? edata->message : "");
	if (edata->detail)
		values[5] = CStringGetTextDatum(edata->detail);
	else
		nulls[5] = 'n';
	values[6] = CStringGetTextDatum(m->up_file);
	values[7] = Int32GetDatum(line);
	if (line == 0)
		nulls[7] = 'n';

	values[8] = CStringGetTextDatum(m->checksum);
	run_tracking_query(psprintf("INSERT INTO migrate.history (action, name, performed_by,"
								" source, sqlstate, message, detail, file, line%s) "
								"VALUES ('failure', $1, $2, $3, $4, $5, $6, $7, $8%s)",
								as ? ", performed_as, checksum" : "",
								as ? ", $2, $9" : ""),
					   9, types, values, nulls, SPI_OK_INSERT);
}

/*
 * The migrations whose latest attempt failed, by name, with that failure
 * and how many attempts in a row failed.  A refusal to run one again
 * ("refused") is not an attempt; a later apply, rollback or retry
 * supersedes the failure.
 */
List *
tracking_failures(void)
{
	List	   *result = NIL;
	bool		v02 = history_is_0_2();

	run_tracking_query(psprintf("WITH latest AS ("
								" SELECT DISTINCT ON (name) name, action, id"
								" FROM migrate.history"
								" WHERE name IS NOT NULL AND action OPERATOR(pg_catalog.<>) 'refused'%s"
								" ORDER BY name, id DESC) "
								"SELECT f.name, %s, f.sqlstate, f.message, f.file, f.line,"
								" f.performed_at,"
								" (SELECT pg_catalog.count(*) FROM migrate.history a"
								"  WHERE a.name OPERATOR(pg_catalog.=) f.name"
								"  AND a.action OPERATOR(pg_catalog.=) 'failure'%s"
								"  AND a.id OPERATOR(pg_catalog.>) coalesce((SELECT pg_catalog.max(o.id)"
								"   FROM migrate.history o WHERE o.name OPERATOR(pg_catalog.=) f.name"
								"   AND o.action OPERATOR(pg_catalog.<>) ALL ('{failure,refused}')%s), 0)),"
								" EXISTS (SELECT FROM migrate.history r"
								"  WHERE r.name OPERATOR(pg_catalog.=) f.name"
								"  AND r.action OPERATOR(pg_catalog.=) 'refused'"
								"  AND r.id OPERATOR(pg_catalog.>) f.id%s) "
								"FROM latest l JOIN migrate.history f ON f.id OPERATOR(pg_catalog.=) l.id "
								"WHERE l.action OPERATOR(pg_catalog.=) 'failure' ORDER BY f.name",
								tenant_filter(NULL),
								v02 ? "f.checksum" : "NULL::pg_catalog.text",
								tenant_filter("a"), tenant_filter("o"),
								tenant_filter("r")),
					   0, NULL, NULL, NULL, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		FailedMigration *f = palloc0(sizeof(FailedMigration));
		bool		isnull;
		Datum		d;

		f->name = SPI_getvalue(tup, desc, 1);
		f->checksum = SPI_getvalue(tup, desc, 2);
		f->sqlstate = SPI_getvalue(tup, desc, 3);
		f->message = SPI_getvalue(tup, desc, 4);
		f->file = SPI_getvalue(tup, desc, 5);
		d = SPI_getbinval(tup, desc, 6, &isnull);
		f->line = isnull ? 0 : DatumGetInt32(d);
		f->failed_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 7, &isnull));
		f->attempts = (int) DatumGetInt64(SPI_getbinval(tup, desc, 8, &isnull));
		f->refusal_logged = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
		result = lappend(result, f);
	}
	SPI_freetuptable(SPI_tuptable);
	return result;
}

/*
 * Log that a migration was not run again because it failed before with
 * the same file, or that the caller asked for it to be run again
 * ("refused" or "retry").
 */
void
tracking_record_action(const char *action, const char *name,
					   const char *checksum)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		v02 = history_is_0_2();

	/* 0.1's history has no such actions: nothing to log until updated */
	if (!v02)
		return;
	values[0] = CStringGetTextDatum(action);
	values[1] = CStringGetTextDatum(name);
	if (checksum)
		values[2] = CStringGetTextDatum(checksum);
	else
		nulls[2] = 'n';
	/* the caller's name: the query runs as the tables' owner */
	values[3] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	run_tracking_query("INSERT INTO migrate.history (action, name, performed_by,"
					   " performed_as, checksum) VALUES ($1, $2, $4, $4, $3)",
					   4, types, values, nulls, SPI_OK_INSERT);
}

/*
 * History action "index_rebuilt": the invalid indexes an interrupted
 * attempt at a no-transaction migration left, dropped for the migration to
 * build them again (the DROP statements in detail).  Before 0.5 the
 * history's check refuses the action: nothing is logged until updated.
 */
void
tracking_record_index_rebuilt(const char *name, const char *detail)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];

	if (!OidIsValid(get_relname_relid("run_jobs",
									  get_namespace_oid("migrate", false))))
		return;
	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(detail);
	/* the caller's name: the query runs as the tables' owner */
	values[2] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	run_tracking_query("INSERT INTO migrate.history (action, name, detail,"
					   " performed_by, performed_as)"
					   " VALUES ('index_rebuilt', $1, $2, $3, $3)",
					   3, types, values, NULL, SPI_OK_INSERT);
}

/*
 * History action "accept_drift": an object's drift acknowledged with
 * migrate.accept_drift(), named by its identity, with what changed
 */
void
tracking_record_drift_accepted(const char *identity, const char *detail)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(identity);
	values[1] = CStringGetTextDatum(detail);
	/* the caller's name: the query runs as the tables' owner */
	values[2] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	run_tracking_query("INSERT INTO migrate.history (action, name, detail,"
					   " performed_by, performed_as)"
					   " VALUES ('accept_drift', $1, $2, $3, $3)",
					   3, types, values, NULL, SPI_OK_INSERT);
}

/*
 * One applied migration with its recorded scripts, or NULL when name is
 * not applied.  Reads two scripts, so only for a migration at hand, never
 * in a loop over the table.
 */
AppliedMigration *
tracking_find(const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	AppliedMigration *am = NULL;

	bool		generated = tracking_stores_generated_down();

	values[0] = CStringGetTextDatum(name);
	run_tracking_query(psprintf(generated ?
					   "SELECT name, version, checksum, up_sql, down_sql,"
					   " transaction_mode OPERATOR(pg_catalog.=) 'no-transaction',"
					   " format, repeatable, applied_by, down_generated,"
					   " down_partial::pg_catalog.text "
					   "FROM migrate.migrations WHERE name OPERATOR(pg_catalog.=) $1%s" :
					   "SELECT name, version, checksum, up_sql, down_sql,"
					   " transaction_mode OPERATOR(pg_catalog.=) 'no-transaction',"
					   " format, repeatable, applied_by "
					   "FROM migrate.migrations WHERE name OPERATOR(pg_catalog.=) $1%s",
								tenant_filter(NULL)),
					   1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		am = palloc0(sizeof(AppliedMigration));
		am->name = SPI_getvalue(tup, desc, 1);
		am->version = SPI_getvalue(tup, desc, 2);
		am->checksum = SPI_getvalue(tup, desc, 3);
		am->up_sql = SPI_getvalue(tup, desc, 4);
		am->down_sql = SPI_getvalue(tup, desc, 5);
		am->has_down = am->down_sql != NULL;
		am->no_transaction = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
		am->format = SPI_getvalue(tup, desc, 7);
		am->repeatable = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));
		am->applied_by = SPI_getvalue(tup, desc, 9);
		if (generated)
		{
			am->down_generated = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
			am->down_partial = SPI_getvalue(tup, desc, 11);
		}
	}
	SPI_freetuptable(SPI_tuptable);
	return am;
}

/*
 * Record a changed migration's current scripts and checksum in its row,
 * keeping when, by whom and in which order it was applied, and log it
 * (action "accept") with the new checksum, the one it replaces in detail.
 */
void
tracking_record_accept(const MigrationSet *set, const Migration *m,
					   const LoadedMigration *lm, const char *old_checksum)
{
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID};
	Datum		values[7];
	char		nulls[7];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(m->name);
	values[1] = CStringGetTextDatum(m->checksum);
	values[2] = script_text_datum(&lm->up);
	if (lm->down.sql)
		values[3] = script_text_datum(&lm->down);
	else
		nulls[3] = 'n';
	values[4] = CStringGetTextDatum(lm->no_transaction ? "no-transaction" : "transaction");
	values[5] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	values[6] = CStringGetTextDatum(psprintf("The checksum recorded before was %s.",
											 old_checksum));

	/* the down script is the file's now, whatever was generated before */
	run_tracking_query(psprintf("WITH m AS ("
					   " UPDATE migrate.migrations SET checksum = $2, up_sql = $3,"
					   "  down_sql = $4, transaction_mode = $5%s"
					   " WHERE name OPERATOR(pg_catalog.=) $1%s RETURNING name, source)"
					   "INSERT INTO migrate.history (action, name, performed_by,"
					   " performed_as, source, checksum, detail) "
					   "SELECT 'accept', name, $6, $6, source, $2, $7 FROM m",
								tracking_stores_generated_down() ?
								", down_generated = false, down_partial = NULL" : "",
								tenant_filter(NULL)),
					   7, types, values, nulls, SPI_OK_INSERT);
	if (SPI_processed != 1)
		elog(ERROR, "migration \"%s\" vanished from migrate.migrations", m->name);
}

/*
 * Delete an applied migration's row without undoing it, and log that
 * (action "forget") with the checksum it had.  Returns the deleted row's
 * checksum and format, or NULL when name is not applied.
 */
AppliedMigration *
tracking_forget(const char *name)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	AppliedMigration *am = NULL;

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	run_tracking_query(psprintf("WITH d AS ("
					   " DELETE FROM migrate.migrations"
					   " WHERE name OPERATOR(pg_catalog.=) $1%s"
					   " RETURNING name, checksum, source, format, version),"
					   " h AS (INSERT INTO migrate.history (action, name,"
					   "  performed_by, performed_as, source, checksum)"
					   " SELECT 'forget', name, $2, $2, source, checksum FROM d) "
					   "SELECT name, checksum, format, version, source FROM d",
								tenant_filter(NULL)),
					   2, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		am = palloc0(sizeof(AppliedMigration));
		am->name = SPI_getvalue(tup, desc, 1);
		am->checksum = SPI_getvalue(tup, desc, 2);
		am->format = SPI_getvalue(tup, desc, 3);
		am->version = SPI_getvalue(tup, desc, 4);
		am->source = SPI_getvalue(tup, desc, 5);
	}
	SPI_freetuptable(SPI_tuptable);
	return am;
}

/*
 * Log a lint finding that a migration allowed ("-- migrate:allow <rule>"):
 * the rule as message, the finding as detail, its file and line.
 */
void
tracking_record_lint_allowed(const Migration *m, const char *file, int line,
							 const char *rule, const char *finding)
{
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, INT4OID};
	Datum		values[7];

	/* 0.1's history has no such action: nothing to log until updated */
	if (!history_is_0_2())
		return;
	values[0] = CStringGetTextDatum(m->name);
	values[1] = CStringGetTextDatum(m->checksum);
	values[2] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	values[3] = CStringGetTextDatum(rule);
	values[4] = CStringGetTextDatum(finding);
	values[5] = CStringGetTextDatum(file);
	values[6] = Int32GetDatum(line);
	run_tracking_query("INSERT INTO migrate.history (action, name, performed_by,"
					   " performed_as, checksum, message, detail, file, line)"
					   " VALUES ('lint_allowed', $1, $3, $3, $2, $4, $5, $6, $7)",
					   7, types, values, NULL, SPI_OK_INSERT);
}
