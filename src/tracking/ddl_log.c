/*-------------------------------------------------------------------------
 *
 * ddl_log.c
 *	  The DDL log, migrate.ddl_log: one row per DDL command, written by the
 *	  extension's event triggers (api/ddl_triggers.c), saying who ran it,
 *	  from where, and which migration ran it, or that none did; the policy
 *	  for DDL made outside migrations (migrate.ddl_policy); and the mark
 *	  the runs set on the migration they are executing, which is how a row
 *	  knows its migration.
 *
 * What is never logged, warned about or blocked: DDL on temporary
 * objects (they change no schema); what extension scripts run, pg_migrate's
 * own above all (CREATE and ALTER EXTENSION pg_migrate and everything they
 * create), while the CREATE EXTENSION of another extension is one row;
 * REFRESH MATERIALIZED VIEW and REINDEX, which applications run routinely
 * and which change no definition; and a restore: pg_upgrade's, and a
 * superuser session set up the way every pg_dump script and every
 * pg_restore connection sets itself up (an empty search_path,
 * check_function_bodies off, client_min_messages warning), whose
 * statements recreate what the dump holds, the DDL log's own rows
 * included.
 *
 * Cost: one saved INSERT ... SELECT per DDL command, nothing per row of
 * data; old rows are pruned when apply or run starts, not as rows come.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "util/compat.h"
#include "tracking/tracking.h"
#include "util/compat.h"

/* The migration the runs are executing, set with ddl_log_mark() */
typedef struct DdlMark
{
	bool		set;
	char	   *name;
	char	   *source;			/* or NULL */
	bool		logged;			/* false: migrate.plan(), always rolled back */
	int			level;			/* transaction nest level it was set at */
} DdlMark;

static DdlMark mark;
static bool callbacks_registered = false;

/* The command last warned about, so that one command warns once */
static const void *warned_command = NULL;
static TimestampTz warned_at = 0;

#define DDL_LOG_COLUMNS \
	"INSERT INTO migrate.ddl_log (xid, session_user_name, current_user_name," \
	" application_name, client_addr, backend_pid, event, command_tag," \
	" object_type, object_identity, schema_name, statement, migration," \
	" migration_source, origin, break_glass) " \
	"SELECT pg_catalog.pg_current_xact_id(), SESSION_USER, $1," \
	" pg_catalog.current_setting('application_name'), pg_catalog.inet_client_addr()," \
	" pg_catalog.pg_backend_pid(), "

/*
 * One query per event, each saved for the session: ddl_command_end's rows
 * are the commands pg_event_trigger_ddl_commands() collected, sql_drop's
 * the objects the command named (not what went with them), table_rewrite's
 * the table about to be rewritten.  They run as the log's owner under the
 * caller's search_path: every name and operator is qualified (IS DISTINCT
 * FROM would look "=" up in it).  $1 current user, $2 statement,
 * $3 migration, $4 its source, $5 origin, $6 break_glass, $7 command tag.
 */
static const char *const event_queries[] = {
	[DDL_EVENT_COMMAND] = DDL_LOG_COLUMNS
	"'ddl_command_end', c.command_tag, c.object_type, c.object_identity,"
	" c.schema_name, $2, $3, $4, $5, $6"
	" FROM pg_catalog.pg_event_trigger_ddl_commands() c"
	" WHERE NOT c.in_extension"
	"  AND (c.schema_name IS NULL"
	"       OR c.schema_name OPERATOR(pg_catalog.<>) 'pg_temp')"
	"  AND NOT (c.object_type OPERATOR(pg_catalog.=) 'extension'"
	"           AND c.object_identity OPERATOR(pg_catalog.=) 'pg_migrate')"
	" RETURNING command_tag, object_identity",
	[DDL_EVENT_DROP] = DDL_LOG_COLUMNS
	"'sql_drop', $7, d.object_type, d.object_identity, d.schema_name,"
	" $2, $3, $4, $5, $6"
	" FROM pg_catalog.pg_event_trigger_dropped_objects() d"
	" WHERE d.original AND NOT d.is_temporary"
	" RETURNING command_tag, object_identity",
	[DDL_EVENT_REWRITE] = DDL_LOG_COLUMNS
	"'table_rewrite', $7, o.type, o.identity, o.schema, $2, $3, $4, $5, $6"
	" FROM pg_catalog.pg_class c,"
	"  pg_catalog.pg_identify_object('pg_catalog.pg_class'::pg_catalog.regclass, c.oid, 0) o"
	" WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.pg_event_trigger_table_rewrite_oid()"
	"  AND c.relpersistence OPERATOR(pg_catalog.<>) 't'"
	" RETURNING command_tag, object_identity"
};

static SPIPlanPtr event_plans[lengthof(event_queries)];

static void forget_mark(void);
static void ddl_log_xact_callback(XactEvent event, void *arg);
static void ddl_log_subxact_callback(SubXactEvent event,
									 SubTransactionId mySubid,
									 SubTransactionId parentSubid, void *arg);
static Oid	ddl_log_relid(void);
static bool restoring(void);
static DdlPolicy policy(void);
static bool names_temporary_relation(Node *parsetree);
static bool not_logged(CommandTag tag);
static uint64 insert_rows(DdlEvent event, CommandTag command_tag,
						  bool break_glass, char **tag, char **identity);
static SPIPlanPtr event_plan(DdlEvent event);
static void apply_policy(const void *command, const char *tag,
						 const char *identity);

static void
forget_mark(void)
{
	if (mark.name)
		pfree(mark.name);
	if (mark.source)
		pfree(mark.source);
	memset(&mark, 0, sizeof(mark));
}

/*
 * A run that fails leaves its mark behind: the abort of the transaction
 * or subtransaction it was set in takes it away, so that DDL made after a
 * failed migration is not put down to it.  Aborts of subtransactions
 * inside the migration (lock retries, run()'s attempts) leave it.
 */
static void
ddl_log_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		forget_mark();
}

static void
ddl_log_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && mark.set &&
		mark.level >= GetCurrentTransactionNestLevel())
		forget_mark();
}

/*
 * Say that what runs from now on is migration name's, from source (NULL
 * when not known), until ddl_log_unmark() or the abort of the current
 * (sub)transaction; logged false when it will not be kept anyway.  The
 * background worker is told by the run that starts it and marks its own
 * session.
 */
void
ddl_log_mark(const char *name, const char *source, bool logged)
{
	if (!callbacks_registered)
	{
		RegisterXactCallback(ddl_log_xact_callback, NULL);
		RegisterSubXactCallback(ddl_log_subxact_callback, NULL);
		callbacks_registered = true;
	}
	forget_mark();
	mark.name = MemoryContextStrdup(TopMemoryContext, name);
	mark.source = source ? MemoryContextStrdup(TopMemoryContext, source) : NULL;
	mark.level = GetCurrentTransactionNestLevel();
	mark.logged = logged;
	mark.set = true;
}

void
ddl_log_unmark(void)
{
	forget_mark();
}

/* The migration marked, if any: for the background worker */
bool
ddl_log_marked(const char **name, const char **source)
{
	*name = mark.name;
	*source = mark.source;
	return mark.set;
}

/* migrate.ddl_log, or InvalidOid while the extension has none (0.2, a DROP) */
static Oid
ddl_log_relid(void)
{
	Oid			nsp = get_namespace_oid("migrate", true);

	return OidIsValid(nsp) ? get_relname_relid("ddl_log", nsp) : InvalidOid;
}

/*
 * Whether this session is restoring a dump: pg_upgrade's, or a superuser
 * login with what every pg_dump script and pg_restore connection (its
 * parallel workers' too) sets first and keeps to the end: an empty
 * search_path, check_function_bodies off and client_min_messages warning
 * (or quieter).  No setting a server sees says "restore" for sure:
 * application_name is pg_restore's only as a fallback, and psql's for a
 * plain dump; session_replication_role is set only with --disable-triggers,
 * and event triggers do not fire then anyway.  The three together are
 * what a restore always has and a session typed by hand seldom has.  Only
 * a superuser can restore a database that has pg_migrate, and a superuser
 * can bypass event triggers anyway, so taking this for a restore lends
 * nobody a power they lack.
 */
static bool
restoring(void)
{
	return IsBinaryUpgrade ||
		(!check_function_bodies && namespace_search_path[0] == '\0' &&
		 client_min_messages >= WARNING &&
		 superuser_arg(GetAuthenticatedUserId()));
}

/* migrate.ddl_policy, or block for a session whose own value was refused */
static DdlPolicy
policy(void)
{
	return migrate_ddl_policy_rejected ? DDL_POLICY_BLOCK : migrate_ddl_policy;
}

static SPIPlanPtr
event_plan(DdlEvent event)
{
	static Oid	types[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	BOOLOID, TEXTOID};

	if (event_plans[event] == NULL)
	{
		/*
		 * Generic: a custom plan would be planned again at every DDL
		 * command, for parameters that change nothing in the plan
		 */
		SPIPlanPtr	plan = spi_prepare(event_queries[event], lengthof(types),
									   types, CURSOR_OPT_GENERIC_PLAN);

		SPI_keepplan(plan);
		event_plans[event] = plan;
	}
	return event_plans[event];
}

/*
 * What migrate.ddl_policy does to a command made outside any migration,
 * logged already.  A command that fires more than one event (ALTER TABLE
 * ... DROP COLUMN: sql_drop, then ddl_command_end) warns once.
 */
static void
apply_policy(const void *command, const char *tag, const char *identity)
{
	if (migrate_ddl_policy_rejected)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to run %s outside a migration", tag),
				 errdetail("This session gave migrate.ddl_policy a value before pg_migrate was loaded, which only a superuser may, so the session is under the strictest policy, block."),
				 errhint("Connect without setting migrate.ddl_policy, and make schema changes through migrations.")));
	if (policy() == DDL_POLICY_BLOCK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to run %s outside a migration", tag),
				 identity ?
				 errdetail("migrate.ddl_policy is \"block\": the schema changes only through migrations, and this statement would change %s.",
						   identity) :
				 errdetail("migrate.ddl_policy is \"block\": the schema changes only through migrations."),
				 errhint("Write the statement into a migration file and apply it with migrate.apply(), migrate.run() or the pg_migrate command. To make the change by hand anyway, a superuser can SET migrate.allow_out_of_band_ddl = on for the session; what it changes is logged in migrate.ddl_log with break_glass set.")));

	if (policy() == DDL_POLICY_WARN &&
		!(command == warned_command &&
		  warned_at == GetCurrentStatementStartTimestamp()))
	{
		warned_command = command;
		warned_at = GetCurrentStatementStartTimestamp();
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("%s ran outside any migration", tag),
				 identity ?
				 errdetail("It changed %s; migrate.ddl_log records it, and no migration holds it.",
						   identity) :
				 errdetail("migrate.ddl_log records it, and no migration holds it."),
				 errhint("Make it a migration, so that every database gets the change: pg_migrate capture DIR NAME (or migrate.capture()) writes the statement into the folder's next migration and records it as applied.")));
	}
}

/* Whether the DDL log leaves a command alone (see the top of this file) */
static bool
not_logged(CommandTag tag)
{
	return policy() == DDL_POLICY_OFF || creating_extension ||
		(mark.set && !mark.logged) ||
		tag == CMDTAG_REFRESH_MATERIALIZED_VIEW || tag == CMDTAG_REINDEX ||
		(!mark.set && restoring()) || !OidIsValid(ddl_log_relid());
}

/*
 * Write the event's rows, as the log's owner.  Returns how many; the
 * command tag and object identity (or NULL) of the first are put in *tag
 * and *identity, in the caller's memory context, when those are given.
 */
static uint64
insert_rows(DdlEvent event, CommandTag command_tag, bool break_glass,
			char **tag, char **identity)
{
	bool		in_migration = mark.set;
	const char *statement = in_migration && exec_current_statement() ?
		exec_current_statement() : debug_query_string;
	Datum		values[7];
	char		nulls[7] = "       ";
	MemoryContext caller = CurrentMemoryContext;
	OwnerSwitch sw;
	uint64		logged;
	int			rc;

	values[0] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	values[1] = statement ? CStringGetTextDatum(statement) : (Datum) 0;
	nulls[1] = statement ? ' ' : 'n';
	values[2] = in_migration ? CStringGetTextDatum(mark.name) : (Datum) 0;
	nulls[2] = in_migration ? ' ' : 'n';
	values[3] = mark.source ? CStringGetTextDatum(mark.source) : (Datum) 0;
	nulls[3] = mark.source ? ' ' : 'n';
	values[4] = CStringGetTextDatum(in_migration ? "in_migration" : "out_of_band");
	values[5] = BoolGetDatum(break_glass);
	values[6] = CStringGetTextDatum(GetCommandTagName(command_tag));

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	tracking_become_owner(&sw);
	rc = SPI_execute_plan(event_plan(event), values, nulls, false, 0);
	tracking_restore_user(&sw);
	if (rc != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "internal query failed: %s: %s", SPI_result_code_string(rc),
			 event_queries[event]);
	logged = SPI_processed;
	if (logged > 0 && tag)
	{
		/* copied out: SPI_finish() frees SPI's memory */
		char	   *t = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		char	   *i = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

		*tag = MemoryContextStrdup(caller, t ? t : GetCommandTagName(command_tag));
		*identity = i ? MemoryContextStrdup(caller, i) : NULL;
	}
	SPI_finish();
	return logged;
}

/*
 * Log what a DDL command did, as one event trigger saw it, and apply the
 * policy when no migration ran it.  command identifies the command across
 * its events (its parse tree); tag is its command tag.
 */
void
ddl_log_record(DdlEvent event, CommandTag tag, const void *command)
{
	bool		out_of_band = !mark.set;
	bool		break_glass = out_of_band && migrate_allow_out_of_band_ddl;
	bool		policed = out_of_band && !break_glass;
	char	   *first_tag = NULL;
	char	   *first_identity = NULL;

	if (not_logged(tag) ||
		((tag == CMDTAG_GRANT || tag == CMDTAG_REVOKE) &&
		 names_temporary_relation((Node *) command)))
		return;
	if (insert_rows(event, tag, break_glass,
					policed ? &first_tag : NULL, &first_identity) > 0 && policed)
		apply_policy(command, first_tag, first_identity);
}

/* Whether rv names an existing temporary relation */
static bool
is_temporary_relation(RangeVar *rv)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);

	return OidIsValid(relid) && get_rel_persistence(relid) == RELPERSISTENCE_TEMP;
}

/*
 * Whether a statement is on temporary relations only: an index statement
 * or ALTER TABLE on one, or a GRANT or REVOKE on tables or sequences all
 * temporary.  The ddl_command_end rows of GRANT and REVOKE name no object
 * (pg_event_trigger_ddl_commands() gives no identity or schema for them),
 * so only their parse tree tells.
 */
static bool
names_temporary_relation(Node *parsetree)
{
	RangeVar   *rv = NULL;

	if (IsA(parsetree, GrantStmt))
	{
		GrantStmt  *grant = (GrantStmt *) parsetree;
		ListCell   *lc;

		if (grant->targtype != ACL_TARGET_OBJECT || grant->objects == NIL ||
			(grant->objtype != OBJECT_TABLE && grant->objtype != OBJECT_SEQUENCE))
			return false;
		foreach(lc, grant->objects)
		{
			if (!is_temporary_relation(lfirst_node(RangeVar, lc)))
				return false;
		}
		return true;
	}
	if (IsA(parsetree, IndexStmt))
		rv = ((IndexStmt *) parsetree)->relation;
	else if (IsA(parsetree, AlterTableStmt))
		rv = ((AlterTableStmt *) parsetree)->relation;
	else if (IsA(parsetree, DropStmt) &&
			 list_length(((DropStmt *) parsetree)->objects) == 1)
		rv = makeRangeVarFromNameList(linitial(((DropStmt *) parsetree)->objects));
	return rv != NULL && is_temporary_relation(rv);
}

/*
 * At ddl_command_start (of CREATE INDEX, DROP INDEX and ALTER TABLE only):
 * CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY and ALTER TABLE ...
 * DETACH PARTITION ... CONCURRENTLY commit before ddl_command_end, where
 * an error would no longer undo them (a detach refused there would leave
 * the partition half detached), so under block one made outside
 * migrations is refused before it starts.  Everything else, ALTER TABLE
 * above all, is refused at its end, which rolls it back whole and can
 * name what it changed.
 */
void
ddl_log_check_start(CommandTag tag, Node *parsetree)
{
	bool		commits_early = IsA(parsetree, AlterTableStmt) ?
		script_detaches_concurrently(parsetree) :
		script_statement_top_level_only(parsetree);

	if (!commits_early || policy() != DDL_POLICY_BLOCK || mark.set ||
		creating_extension || migrate_allow_out_of_band_ddl || restoring() ||
		names_temporary_relation(parsetree) || !OidIsValid(ddl_log_relid()))
		return;
	apply_policy(parsetree, GetCommandTagName(tag), NULL);
}

/*
 * Delete the rows older than migrate.ddl_log_retention, once per apply or
 * run rather than as rows are written.  The caller is connected to SPI.
 */
void
ddl_log_prune(void)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1];
	OwnerSwitch sw;

	if (migrate_ddl_log_retention <= 0 || !OidIsValid(ddl_log_relid()))
		return;
	values[0] = Int32GetDatum(migrate_ddl_log_retention);
	tracking_become_owner(&sw);
	spi_run("DELETE FROM migrate.ddl_log WHERE logged_at OPERATOR(pg_catalog.<)"
			" (pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(mins => $1))",
			1, types, values, NULL, SPI_OK_DELETE);
	tracking_restore_user(&sw);
}

/*
 * The rows migrate.capture() reads: without ids, every out-of-band row
 * neither captured nor accepted yet; with ids, those rows whatever they
 * are (found false for an id no row has), for the caller to judge.  In id
 * order, which is the order the statements ran in.
 */
static const char *const capture_pending_query =
"SELECT l.id, true, l.origin, l.captured_as, l.statement, l.xid::pg_catalog.text,"
"       l.backend_pid, l.object_type, l.object_identity, l.session_user_name,"
"       l.application_name,"
"       pg_catalog.to_char(pg_catalog.timezone('UTC', l.logged_at),"
"                          'YYYY-MM-DD HH24:MI:SS') OPERATOR(pg_catalog.||) ' UTC'"
" FROM migrate.ddl_log l"
" WHERE l.origin OPERATOR(pg_catalog.=) 'out_of_band'"
"   AND l.captured_as IS NULL AND NOT l.accepted"
" ORDER BY l.id";

static const char *const capture_ids_query =
"SELECT u.id, l.id IS NOT NULL, l.origin, l.captured_as, l.statement,"
"       l.xid::pg_catalog.text, l.backend_pid, l.object_type, l.object_identity,"
"       l.session_user_name, l.application_name,"
"       pg_catalog.to_char(pg_catalog.timezone('UTC', l.logged_at),"
"                          'YYYY-MM-DD HH24:MI:SS') OPERATOR(pg_catalog.||) ' UTC'"
" FROM (SELECT DISTINCT i AS id FROM pg_catalog.unnest($1::pg_catalog.int8[]) i) u"
" LEFT JOIN migrate.ddl_log l ON l.id OPERATOR(pg_catalog.=) u.id"
" ORDER BY u.id NULLS FIRST";

List *
ddl_log_capture_rows(ArrayType *ids)
{
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1];
	List	   *rows = NIL;

	values[0] = PointerGetDatum(ids);
	run_tracking_query(ids ? capture_ids_query : capture_pending_query,
					   ids ? 1 : 0, types, values, NULL, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DdlLogRow  *r = palloc0(sizeof(DdlLogRow));
		char	   *id = SPI_getvalue(tup, desc, 1);
		char	   *pid = SPI_getvalue(tup, desc, 7);

		/* a null in the array is an id no row has */
		r->id = id ? strtoi64(id, NULL, 10) : 0;
		r->found = id && strcmp(SPI_getvalue(tup, desc, 2), "t") == 0;
		r->origin = SPI_getvalue(tup, desc, 3);
		r->captured_as = SPI_getvalue(tup, desc, 4);
		r->statement = SPI_getvalue(tup, desc, 5);
		r->xid = SPI_getvalue(tup, desc, 6);
		r->backend_pid = pid ? (int32) strtol(pid, NULL, 10) : 0;
		r->object_type = SPI_getvalue(tup, desc, 8);
		r->object_identity = SPI_getvalue(tup, desc, 9);
		r->role = SPI_getvalue(tup, desc, 10);
		r->application = SPI_getvalue(tup, desc, 11);
		r->logged_at = SPI_getvalue(tup, desc, 12);
		rows = lappend(rows, r);
	}
	SPI_freetuptable(SPI_tuptable);
	return rows;
}

/* Mark the rows a capture made a migration of with its name */
void
ddl_log_set_captured(ArrayType *ids, const char *name)
{
	Oid			types[2] = {INT8ARRAYOID, TEXTOID};
	Datum		values[2];

	values[0] = PointerGetDatum(ids);
	values[1] = CStringGetTextDatum(name);
	run_tracking_query("UPDATE migrate.ddl_log SET captured_as = $2"
					   " WHERE id OPERATOR(pg_catalog.=) ANY ($1)",
					   2, types, values, NULL, SPI_OK_UPDATE);
}
