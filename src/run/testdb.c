/*-------------------------------------------------------------------------
 *
 * testdb.c
 *	  Migrated test databases: migrate.test_database() hands out a new
 *	  database holding a folder's schema and migration records, as apply
 *	  would have left them, cloned from a template database kept per
 *	  folder checksum; migrate.drop_test_databases() drops them; a pool of
 *	  ready clones is refilled by a background worker.
 *
 * A template is built once per folder checksum (every migration's up and
 * down checksums, the format) and role: "pgm_template_<hash12>", made
 * with ALLOW_CONNECTIONS false so that nobody else can enter it while it
 * is built, the extension created in it by a superuser (as one created it
 * here), the folder applied by CALL migrate.run() as the caller, then
 * marked IS_TEMPLATE (see build_template()).  The objects the migrations create belong to the
 * role that applied them, hence a template per role.  Each test database
 * ("pgm_test_<hash12>_<n>") is CREATE DATABASE ... TEMPLATE, owned by
 * the caller.  CREATE DATABASE and DROP DATABASE cannot run in a
 * transaction: worker_run_sql_in() (worker.c) runs them, and what happens
 * in the template, in background workers that are the caller.
 *
 * pg_database is the truth: a template is ready when it is a template, a
 * test database is one of the caller's when its name has the prefix and
 * the caller owns it.  migrate.test_databases and
 * migrate.test_database_templates, written in the caller's transaction,
 * add what pg_database cannot say: when, from which folder, whether it
 * waits in the pool.  Builds of one template are serialized by a
 * session-level advisory lock (on no database: templates are the
 * cluster's), so that callers asking at once build it once.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "util/compat.h"
#include "run/run.h"

#define TEMPLATE_PREFIX		"pgm_template_"
#define TEST_PREFIX			"pgm_test_"
#define HASH_LEN			12
#define POOL_WORKER_TYPE	"pg_migrate test database pool"
/* the advisory locks' second key: "pgmt" */
#define LOCK_KEY			0x70676d74

/* What the pool's worker is told, in bgw_extra */
typedef struct PoolArgs
{
	Oid			database;
	Oid			role;
	Oid			login_role;
	bool		log_in_as_role;
	TransactionId xid;			/* the transaction that took from the pool */
	int			size;
	char		template_name[NAMEDATALEN];
} PoolArgs;

PGDLLEXPORT void migrate_test_pool_worker_main(Datum arg);

/*
 * The down files' checksums of the folder whose template was named last,
 * with each file's stamp (folder_file_stamp()), sorted by file: a test
 * suite asks for a database per test, and a down file whose stamp is the
 * same is not read again, as source_load() does for the up files.
 */
typedef struct KeptDown
{
	const char *file;
	FileStamp	stamp;
	char		checksum[MIGRATE_CHECKSUM_LEN + 1];
} KeptDown;

static MemoryContext downs_cxt = NULL;
static const char *downs_folder;
static int	downs_count;
static KeptDown *downs;

/*
 * Creating databases needs CREATEDB: refused before the folder's
 * migrations are read or anything is made, with what a CI role needs
 */
static void
require_createdb(void)
{
	HeapTuple	tuple;
	bool		createdb;

	if (superuser())
		return;
	tuple = SearchSysCache1(AUTHOID, ObjectIdGetDatum(GetUserId()));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for role %u", GetUserId());
	createdb = ((Form_pg_authid) GETSTRUCT(tuple))->rolcreatedb;
	ReleaseSysCache(tuple);
	if (!createdb)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to create a test database"),
				 errdetail("Role \"%s\" has neither CREATEDB nor SUPERUSER; each test database is a new database it owns.",
						   GetUserNameFromId(GetUserId(), false)),
				 errhint("A CI role needs CREATEDB (ALTER ROLE %s CREATEDB), EXECUTE on migrate.test_database() and migrate.drop_test_databases(), and for a folder on the server, membership in pg_read_server_files.",
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
}

/* The database's OID, or InvalidOid; is_template set when it is one */
static Oid
database_lookup(const char *name, bool *is_template, Oid *owner)
{
	Oid			oid;
	HeapTuple	tuple;

	AcceptInvalidationMessages();
	InvalidateCatalogSnapshot();
	oid = get_database_oid(name, true);
	*is_template = false;
	if (owner)
		*owner = InvalidOid;
	if (!OidIsValid(oid))
		return InvalidOid;
	tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(oid));
	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	*is_template = ((Form_pg_database) GETSTRUCT(tuple))->datistemplate;
	if (owner)
		*owner = ((Form_pg_database) GETSTRUCT(tuple))->datdba;
	ReleaseSysCache(tuple);
	return oid;
}

static int
compare_kept_downs(const void *a, const void *b)
{
	return strcmp(((const KeptDown *) a)->file, ((const KeptDown *) b)->file);
}

/*
 * A down file's checksum into out ("" for a file that is gone), read
 * again only when its stamp changed since the last call; stamped, the
 * checksum is added to fresh
 */
static void
down_file_checksum(const MigrationSet *set, const char *file, bool same_folder,
				   KeptDown *fresh, int *nfresh, char *out)
{
	FileStamp	stamp;
	bool		stamped = folder_file_stamp(set->folder, file, &stamp);
	KeptDown	key;
	KeptDown   *kept = NULL;

	key.file = file;
	if (stamped && same_folder)
		kept = bsearch(&key, downs, downs_count, sizeof(KeptDown),
					   compare_kept_downs);
	if (kept && file_stamps_equal(&kept->stamp, &stamp))
		memcpy(out, kept->checksum, MIGRATE_CHECKSUM_LEN + 1);
	else
	{
		char	   *down = folder_read_file(set->folder, file, true);

		checksum_hex(down ? down : "", down ? strlen(down) : 0, out);
		if (down)
			pfree(down);
	}
	if (stamped)
	{
		KeptDown   *k = &fresh[(*nfresh)++];

		k->file = MemoryContextStrdup(GetMemoryChunkContext(fresh), file);
		k->stamp = stamp;
		memcpy(k->checksum, out, MIGRATE_CHECKSUM_LEN + 1);
	}
}

/*
 * The template's name for a folder: a checksum of every migration's name,
 * up and down checksums, the format, and the role that applies them
 */
static char *
template_name(const MigrationSet *set)
{
	StringInfoData buf;
	char		sum[MIGRATE_CHECKSUM_LEN + 1];
	MemoryContext fresh_cxt;
	KeptDown   *fresh;
	volatile int nfresh = 0;
	bool		same_folder;

	/* freed with the call's memory if an error comes first */
	fresh_cxt = AllocSetContextCreate(CurrentMemoryContext,
									  "pg_migrate down checksums",
									  ALLOCSET_DEFAULT_SIZES);
	fresh = MemoryContextAllocZero(fresh_cxt, sizeof(KeptDown) * Max(set->count, 1));
	same_folder = downs_cxt != NULL &&
		strcmp(downs_folder, set->folder->name) == 0;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s\n%u\n", set->format->name, GetUserId());
	folder_hold(set->folder);
	PG_TRY();
	{
		for (int i = 0; i < set->count; i++)
		{
			const Migration *m = &set->items[i];

			appendStringInfo(&buf, "%s\t%s\t%s", m->name, m->up_file, m->checksum);
			if (m->down_file)
			{
				char		down_sum[MIGRATE_CHECKSUM_LEN + 1];
				int			n = nfresh;

				down_file_checksum(set, m->down_file, same_folder,
								   fresh, &n, down_sum);
				nfresh = n;
				appendStringInfo(&buf, "\t%s\t%s", m->down_file, down_sum);
			}
			appendStringInfoChar(&buf, '\n');
		}
	}
	PG_FINALLY();
	{
		folder_release(set->folder);
	}
	PG_END_TRY();
	checksum_hex(buf.data, buf.len, sum);

	/* kept for the next call; none stamped: the last folder's are kept */
	if (nfresh == 0)
		MemoryContextDelete(fresh_cxt);
	else
	{
		qsort(fresh, nfresh, sizeof(KeptDown), compare_kept_downs);
		if (downs_cxt)
			MemoryContextDelete(downs_cxt);
		MemoryContextSetParent(fresh_cxt, TopMemoryContext);
		downs_cxt = fresh_cxt;
		downs_folder = MemoryContextStrdup(fresh_cxt, set->folder->name);
		downs_count = nfresh;
		downs = fresh;
	}
	return psprintf(TEMPLATE_PREFIX "%.*s", HASH_LEN, sum);
}

/* A test database's name from its template's, unused in the cluster */
static char *
clone_name(const char *template)
{
	for (;;)
	{
		char	   *name;
		bool		is_template;

		run_tracking_query("SELECT pg_catalog.nextval('migrate.test_database_seq')",
						   0, NULL, NULL, NULL, SPI_OK_SELECT);
		name = psprintf(TEST_PREFIX "%s_%s",
						template + strlen(TEMPLATE_PREFIX),
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		SPI_freetuptable(SPI_tuptable);
		if (!OidIsValid(database_lookup(name, &is_template, NULL)))
			return name;
	}
}

/* CREATE DATABASE ... TEMPLATE: the strategy measured fastest for small ones */
static char *
clone_sql(const char *name, const char *template)
{
	return psprintf("CREATE DATABASE %s TEMPLATE %s%s",
					quote_identifier(name), quote_identifier(template),
					COMPAT_CREATEDB_CLONE_STRATEGY);
}

/* Statements a worker runs here, as the caller */
static void
run_here(const char *sql)
{
	if (!worker_run_sql_in(MyDatabaseId, GetUserId(), false, sql))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a background worker for a test database"),
				 errdetail("CREATE DATABASE and DROP DATABASE cannot run in a transaction: a background worker runs them, and all %d worker slots are in use.",
						   max_worker_processes),
				 errhint("Raise max_worker_processes (this needs a restart), or retry when fewer background workers are running.")));
}

/* Statements a worker runs in another database, as role */
static void
run_in(Oid database, Oid role, bool as_superuser, const char *sql)
{
	if (!worker_run_sql_in(database, role, as_superuser, sql))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a background worker to build a test database template"),
				 errdetail("All %d worker slots are in use.", max_worker_processes),
				 errhint("Raise max_worker_processes (this needs a restart), or retry when fewer background workers are running.")));
}

static char *
drop_sql(const char *name, bool is_template)
{
	const char *ident = quote_identifier(name);

	if (is_template)
		return psprintf("ALTER DATABASE %s IS_TEMPLATE false; DROP DATABASE IF EXISTS %s WITH (FORCE)",
						ident, ident);
	return psprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", ident);
}

/*
 * Build the template: a fresh database nobody can enter, the extension in
 * it, the folder applied, then a template.  A build that failed half-way
 * left a database that is no template: it is dropped first.
 *
 * The extension needs a superuser, as it did here.  Until it is created
 * the database belongs to the bootstrap superuser, not to the caller, who
 * could otherwise let connections in (ALTER DATABASE ... ALLOW_CONNECTIONS
 * is the owner's) and leave objects for the extension's script to run
 * into; then it is given to the caller, whose migrations it receives.
 */
static void
build_template(const MigrationSet *set, const char *name)
{
	const Folder *folder = set->folder;
	Oid			oid;
	Oid			owner;
	bool		is_template;
	StringInfoData sql;
	const char *ident = quote_identifier(name);
	const char *role = quote_identifier(GetUserNameFromId(GetUserId(), false));

	/* its name holds the caller's role: one the caller's build left */
	oid = database_lookup(name, &is_template, &owner);
	if (OidIsValid(oid) && (owner == GetUserId() || owner == BOOTSTRAP_SUPERUSERID))
		run_in(MyDatabaseId, BOOTSTRAP_SUPERUSERID, true,
			   psprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", ident));

	ereport(DEBUG1, (errmsg("building test database template \"%s\"", name)));
	run_in(MyDatabaseId, BOOTSTRAP_SUPERUSERID, true,
		   psprintf("CREATE DATABASE %s ALLOW_CONNECTIONS false", ident));
	oid = database_lookup(name, &is_template, NULL);
	if (!OidIsValid(oid))
		elog(ERROR, "database \"%s\" vanished as it was built", name);

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SET client_min_messages = warning; SET search_path = pg_catalog;"
						   " SET default_tablespace = ''; CREATE EXTENSION IF NOT EXISTS pg_migrate");
	if (!superuser())
	{
		appendStringInfo(&sql, "; GRANT USAGE ON SCHEMA migrate TO %s", role);
		appendStringInfo(&sql, "; GRANT EXECUTE ON PROCEDURE migrate.run(%s) TO %s",
						 folder->files ? "jsonb, text, boolean, text, text, boolean" :
						 "text, text, boolean, text, boolean", role);
		appendStringInfo(&sql, "; GRANT EXECUTE ON FUNCTION migrate.apply(%s) TO %s",
						 folder->files ? "jsonb, text, boolean, text, text, boolean" :
						 "text, text, boolean, text, boolean", role);
	}
	appendStringInfo(&sql, "; ALTER DATABASE %s OWNER TO %s", ident, role);
	run_in(oid, BOOTSTRAP_SUPERUSERID, true, sql.data);

	resetStringInfo(&sql);
	appendStringInfoString(&sql, "SET client_min_messages = warning; ");
	if (folder->files)
	{
		char	   *files = JsonbToCString(NULL, &folder->files->root,
										   VARSIZE(folder->files));

		appendStringInfo(&sql, "CALL migrate.run(files => %s::pg_catalog.jsonb, format => %s, source => %s)",
						 quote_literal_cstr(files),
						 quote_literal_cstr(set->format->name),
						 folder->source ? quote_literal_cstr(folder->source) : "NULL");
	}
	else
		appendStringInfo(&sql, "CALL migrate.run(dir => %s, format => %s)",
						 quote_literal_cstr(folder->path),
						 quote_literal_cstr(set->format->name));
	run_in(oid, GetUserId(), false, sql.data);

	run_here(psprintf("ALTER DATABASE %s IS_TEMPLATE true",
					  quote_identifier(name)));
}

/*
 * The caller's older templates of the same folder beyond
 * migrate.test_database_templates_keep, dropped with their pools: the
 * folder has changed
 */
static void
drop_old_templates(const char *source)
{
	Oid			types[3] = {TEXTOID, OIDOID, INT4OID};
	Datum		values[3];
	List	   *names;
	ListCell   *lc;

	if (source == NULL)
		return;
	values[0] = CStringGetTextDatum(source);
	values[1] = ObjectIdGetDatum(GetUserId());
	values[2] = Int32GetDatum(migrate_test_database_templates_keep);
	run_tracking_query("SELECT name FROM migrate.test_database_templates"
					   " WHERE source OPERATOR(pg_catalog.=) $1 AND owner OPERATOR(pg_catalog.=) $2"
					   " ORDER BY built_at DESC, name OFFSET $3",
					   3, types, values, NULL, SPI_OK_SELECT);
	names = spi_first_column();
	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		bool		is_template;
		Oid			owner;
		Datum		v[1] = {CStringGetTextDatum(name)};

		/* its pool first: nobody took those */
		run_tracking_query("SELECT name FROM migrate.test_databases"
						   " WHERE template OPERATOR(pg_catalog.=) $1 AND pooled",
						   1, types, v, NULL, SPI_OK_SELECT);
		{
			List	   *pool = spi_first_column();
			ListCell   *pc;

			foreach(pc, pool)
				run_here(drop_sql(lfirst(pc), false));
		}
		if (OidIsValid(database_lookup(name, &is_template, &owner)) &&
			(owner == GetUserId() || superuser()))
			run_here(drop_sql(name, is_template));
		run_tracking_query("DELETE FROM migrate.test_databases"
						   " WHERE template OPERATOR(pg_catalog.=) $1 AND pooled",
						   1, types, v, NULL, SPI_OK_DELETE);
		run_tracking_query("DELETE FROM migrate.test_database_templates"
						   " WHERE name OPERATOR(pg_catalog.=) $1",
						   1, types, v, NULL, SPI_OK_DELETE);
	}
}

/*
 * The template of the folder, built unless it is one already.  Callers
 * asking for the same one wait for the first to build it.
 */
static char *
ensure_template(const MigrationSet *set)
{
	char	   *name = template_name(set);
	bool		is_template;
	LOCKTAG		tag;
	uint32		key = (uint32) strtoul(name + strlen(TEMPLATE_PREFIX) + HASH_LEN - 8,
									   NULL, 16);

	if (OidIsValid(database_lookup(name, &is_template, NULL)) && is_template)
		return name;

	SET_LOCKTAG_ADVISORY(tag, InvalidOid, key, LOCK_KEY, 2);
	(void) LockAcquire(&tag, ExclusiveLock, true, false);
	PG_TRY();
	{
		/* another session may have built it while we waited */
		if (!OidIsValid(database_lookup(name, &is_template, NULL)) || !is_template)
		{
			Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, OIDOID};
			Datum		values[4];
			char		nulls[4] = {' ', ' ', ' ', ' '};

			build_template(set, name);
			values[0] = CStringGetTextDatum(name);
			values[1] = CStringGetTextDatum(set->format->name);
			if (set->folder->source)
				values[2] = CStringGetTextDatum(set->folder->source);
			else
				nulls[2] = 'n';
			values[3] = ObjectIdGetDatum(GetUserId());
			run_tracking_query("INSERT INTO migrate.test_database_templates"
							   " (name, format, source, owner) VALUES ($1, $2, $3, $4)"
							   " ON CONFLICT (name) DO UPDATE SET built_at = pg_catalog.now()",
							   4, types, values, nulls, SPI_OK_INSERT);
			drop_old_templates(set->folder->source);
		}
	}
	PG_CATCH();
	{
		LockRelease(&tag, ExclusiveLock, true);
		PG_RE_THROW();
	}
	PG_END_TRY();
	LockRelease(&tag, ExclusiveLock, true);
	return name;
}

/*
 * A database of the caller's pool for the template, taken in the
 * caller's transaction (rolled back, it is in the pool again), or NULL
 */
static char *
take_from_pool(const char *template)
{
	Oid			types[2] = {TEXTOID, OIDOID};
	Datum		values[2] = {CStringGetTextDatum(template), ObjectIdGetDatum(GetUserId())};
	char	   *name = NULL;

	run_tracking_query("UPDATE migrate.test_databases SET pooled = false,"
					   " created_at = pg_catalog.now()"
					   " WHERE name OPERATOR(pg_catalog.=) (SELECT t.name"
					   "  FROM migrate.test_databases t"
					   "  JOIN pg_catalog.pg_database d ON d.datname OPERATOR(pg_catalog.=) t.name"
					   "  WHERE t.template OPERATOR(pg_catalog.=) $1"
					   "  AND t.owner OPERATOR(pg_catalog.=) $2 AND d.datdba OPERATOR(pg_catalog.=) $2"
					   "  AND t.pooled ORDER BY t.name LIMIT 1 FOR UPDATE OF t SKIP LOCKED)"
					   " RETURNING name",
					   2, types, values, NULL, SPI_OK_UPDATE_RETURNING);
	if (SPI_processed > 0)
		name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	return name;
}

/*
 * Start the worker that fills the caller's pool for the template, once
 * this transaction is over; it does not outlive a failed start
 */
static void
refill_pool(const char *template)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	PoolArgs	args;

	memset(&args, 0, sizeof(args));
	args.database = MyDatabaseId;
	args.role = GetUserId();
	args.login_role = GetAuthenticatedUserId();
	args.log_in_as_role = worker_can_log_in_as(args.role);
	args.xid = GetTopTransactionIdIfAny();
	args.size = migrate_test_database_pool;
	snprintf(args.template_name, NAMEDATALEN, "%s", template);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_migrate");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "migrate_test_pool_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_migrate pool of %s", template);
	snprintf(worker.bgw_type, BGW_MAXLEN, POOL_WORKER_TYPE);
	StaticAssertStmt(sizeof(PoolArgs) <= BGW_EXTRALEN, "bgw_extra too small");
	memcpy(worker.bgw_extra, &args, sizeof(args));
	worker.bgw_notify_pid = 0;
	/* no free slot: the next call clones without the pool, and tries again */
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(DEBUG1,
				(errmsg("could not start a background worker to refill the pool of test databases")));
}

/*
 * migrate.test_database(): a new database with the folder's schema and
 * migration records, from the pool or cloned from the folder's template
 */
void
test_database_create(const Folder *folder, const char *format,
					 TestDatabase *out)
{
	MigrationSet *set;
	char	   *template;
	char	   *name = NULL;
	Oid			types[3] = {TEXTOID, TEXTOID, OIDOID};
	Datum		values[3];

	require_createdb();
	PreventCommandIfReadOnly("migrate.test_database()");
	PreventCommandDuringRecovery("migrate.test_database()");

	set = source_load(folder, format, DEBUG1);
	template = ensure_template(set);
	out->template_name = template;
	out->from_pool = false;

	if (migrate_test_database_pool > 0)
		name = take_from_pool(template);
	if (name)
		out->from_pool = true;
	else
	{
		name = clone_name(template);
		run_here(clone_sql(name, template));
		values[0] = CStringGetTextDatum(name);
		values[1] = CStringGetTextDatum(template);
		values[2] = ObjectIdGetDatum(GetUserId());
		run_tracking_query("INSERT INTO migrate.test_databases (name, template, owner)"
						   " VALUES ($1, $2, $3)",
						   3, types, values, NULL, SPI_OK_INSERT);
	}
	if (migrate_test_database_pool > 0)
		refill_pool(template);
	out->name = name;
}

/*
 * migrate.drop_test_databases(): the caller's test databases, of one
 * template (a superuser's: anyone's), older than an age; with templates,
 * the templates too.  A test database is one by its name and
 * owner, whether or not a row of this database records it.
 */
void
test_databases_drop(const char *template, Interval *older_than,
					bool templates, ResultSink *sink)
{
	Oid			types[5] = {OIDOID, BOOLOID, TEXTOID, INTERVALOID, BOOLOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	uint64		count;
	char	  **names;
	bool	   *is_template;

	values[0] = ObjectIdGetDatum(GetUserId());
	values[1] = BoolGetDatum(superuser());
	if (template)
		values[2] = CStringGetTextDatum(template);
	else
		nulls[2] = 'n';
	if (older_than)
		values[3] = IntervalPGetDatum(older_than);
	else
		nulls[3] = 'n';
	values[4] = BoolGetDatum(templates);

	/*
	 * A test database's name holds its template's hash; one no row
	 * records (its creator's transaction rolled back, or another
	 * database's) has no age, and is left to calls without one
	 */
	run_tracking_query("SELECT d.datname::pg_catalog.text, d.datistemplate"
					   " FROM pg_catalog.pg_database d"
					   " LEFT JOIN migrate.test_databases t ON t.name OPERATOR(pg_catalog.=) d.datname"
					   " LEFT JOIN migrate.test_database_templates p ON p.name OPERATOR(pg_catalog.=) d.datname"
					   " WHERE (d.datdba OPERATOR(pg_catalog.=) $1 OR ($2 AND $3 IS NOT NULL))"
					   " AND (d.datname OPERATOR(pg_catalog.~) '^" TEST_PREFIX "[0-9a-f]{12}_[0-9]+$'"
					   "  OR ($5 AND d.datname OPERATOR(pg_catalog.~) '^" TEMPLATE_PREFIX "[0-9a-f]{12}$'))"
					   " AND ($3 IS NULL OR pg_catalog.substr(d.datname, 1, pg_catalog.length($3)) OPERATOR(pg_catalog.=) $3"
					   "  OR pg_catalog.substr(d.datname, 1, 22) OPERATOR(pg_catalog.=)"
					   "   pg_catalog.concat('" TEST_PREFIX "', pg_catalog.substr($3, 14, 12), '_'))"
					   " AND ($4 IS NULL OR COALESCE(t.created_at, p.built_at)"
					   "  OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) $4))"
					   " ORDER BY d.datistemplate, d.datname",
					   5, types, values, nulls, SPI_OK_SELECT);
	count = SPI_processed;
	names = palloc(sizeof(char *) * (count + 1));
	is_template = palloc(sizeof(bool) * (count + 1));
	for (uint64 i = 0; i < count; i++)
	{
		bool		isnull;

		names[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		is_template[i] = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
													SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);

	for (uint64 i = 0; i < count; i++)
	{
		Datum		row[2] = {CStringGetTextDatum(names[i]), BoolGetDatum(is_template[i])};
		bool		rnulls[2] = {false, false};

		run_here(drop_sql(names[i], is_template[i]));
		tuplestore_putvalues(sink->store, sink->desc, row, rnulls);
	}
	/* the rows of what is gone, whoever dropped it */
	run_tracking_query("DELETE FROM migrate.test_databases t WHERE NOT EXISTS"
					   " (SELECT FROM pg_catalog.pg_database d WHERE d.datname OPERATOR(pg_catalog.=) t.name)",
					   0, NULL, NULL, NULL, SPI_OK_DELETE);
	run_tracking_query("DELETE FROM migrate.test_database_templates t WHERE NOT EXISTS"
					   " (SELECT FROM pg_catalog.pg_database d WHERE d.datname OPERATOR(pg_catalog.=) t.name)",
					   0, NULL, NULL, NULL, SPI_OK_DELETE);
}

/*
 * A transaction of the pool's worker, with SPI and a snapshot, ended by
 * pool_transaction_end(); cxt, the worker's memory, stays current
 */
static void
pool_transaction_begin(MemoryContext cxt)
{
	StartTransactionCommand();
	MemoryContextSwitchTo(cxt);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
pool_transaction_end(MemoryContext cxt)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
}

/*
 * In the pool's worker: clones until the caller's pool for the template
 * holds size of them.  One worker per pool at a time: another that finds
 * the lock taken leaves it the work.
 */
static void
fill_pool(const PoolArgs *a)
{
	LOCKTAG		tag;
	uint32		key = (uint32) strtoul(a->template_name + strlen(TEMPLATE_PREFIX) + HASH_LEN - 8,
									   NULL, 16);

	SET_LOCKTAG_ADVISORY(tag, a->database, key, LOCK_KEY, 2);
	StartTransactionCommand();
	if (LockAcquire(&tag, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
	{
		CommitTransactionCommand();
		return;
	}
	CommitTransactionCommand();

	for (;;)
	{
		Oid			types[3] = {TEXTOID, OIDOID, TEXTOID};
		Datum		values[3];
		int64		pooled;
		char	   *name;
		bool		is_template;
		bool		isnull;
		MemoryContext cxt = CurrentMemoryContext;

		pool_transaction_begin(cxt);
		values[0] = CStringGetTextDatum(a->template_name);
		values[1] = ObjectIdGetDatum(a->role);
		run_tracking_query("SELECT pg_catalog.count(*) FROM migrate.test_databases t"
						   " JOIN pg_catalog.pg_database d ON d.datname OPERATOR(pg_catalog.=) t.name"
						   " WHERE t.template OPERATOR(pg_catalog.=) $1 AND t.owner OPERATOR(pg_catalog.=) $2"
						   " AND t.pooled",
						   2, types, values, NULL, SPI_OK_SELECT);
		pooled = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));
		name = NULL;
		if (pooled < a->size &&
			OidIsValid(database_lookup(a->template_name, &is_template, NULL)) &&
			is_template)
			name = MemoryContextStrdup(cxt, clone_name(a->template_name));
		pool_transaction_end(cxt);
		if (name == NULL)
			break;

		worker_run_sql(clone_sql(name, a->template_name));

		pool_transaction_begin(cxt);
		values[0] = CStringGetTextDatum(a->template_name);
		values[1] = ObjectIdGetDatum(a->role);
		values[2] = CStringGetTextDatum(name);
		run_tracking_query("INSERT INTO migrate.test_databases (name, template, owner, pooled)"
						   " VALUES ($3, $1, $2, true)",
						   3, types, values, NULL, SPI_OK_INSERT);
		pool_transaction_end(cxt);
	}
	LockRelease(&tag, ExclusiveLock, true);
}

/* Entry point of the pool's background worker */
void
migrate_test_pool_worker_main(Datum arg)
{
	PoolArgs	a;

	memcpy(&a, MyBgworkerEntry->bgw_extra, sizeof(a));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(a.database,
											  a.log_in_as_role ? a.role : a.login_role,
											  a.log_in_as_role ? COMPAT_BGWORKER_ANY_ROLE : 0);
	StartTransactionCommand();
	if (!a.log_in_as_role)
	{
		/* as the caller's session was: logged in as itself, SET ROLE */
		SetCurrentRoleId(a.role, superuser_arg(a.role));
		SetUserIdAndSecContext(a.role, 0);
	}
	/* what the caller took from the pool is taken once it commits */
	if (TransactionIdIsValid(a.xid))
		XactLockTableWait(a.xid, NULL, NULL, XLTW_None);
	CommitTransactionCommand();
	pgstat_report_appname(POOL_WORKER_TYPE);

	MemoryContextSwitchTo(AllocSetContextCreate(TopMemoryContext,
												POOL_WORKER_TYPE,
												ALLOCSET_DEFAULT_SIZES));
	fill_pool(&a);
	proc_exit(0);
}
