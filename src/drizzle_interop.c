/*-------------------------------------------------------------------------
 *
 * drizzle_interop.c
 *	  Sharing drizzle-orm's own tracking table, drizzle.__drizzle_migrations,
 *	  so that an app still calling drizzle-orm's migrate() at startup and
 *	  pg_migrate agree on what is applied.
 *
 * drizzle-orm records each migration as (hash, created_at): the SHA-256 hex
 * of the whole .sql file and the journal entry's "when", and treats as
 * pending every entry whose "when" is greater than the largest created_at.
 * We write rows exactly so, and adopt the rows it wrote by hash.
 *
 * The table belongs to the application, and is often owned by the app's
 * role while a superuser runs the migrations.  Whatever its owner attached
 * to it (a trigger, a rule, a policy, a default, an index expression, or a
 * view in its place) would run with the caller's privileges, so before
 * each use the table is locked and checked to be a plain table that runs
 * no code but built-in immutable functions and its id sequence, and to be
 * owned by a role the caller has the privileges of.  Rows are then read
 * and deleted by scanning the heap directly, which involves no user code at
 * all, and no planner (planning a query on the table would constant-fold
 * the expressions of its indexes and statistics objects); only the insert,
 * which plans no scan, goes through SPI, checked to target the very table
 * that was checked.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "compat.h"

#include "pg_migrate.h"

/* created by initdb, so owned by the bootstrap superuser */
#define IS_BUILT_IN(oid) ((oid) < FirstNormalObjectId)

/*
 * Lock modes.  Reading runs no code whatever the table holds, so the
 * weakest lock is enough, and works on a hot standby.  Writing keeps every
 * change to the table's definition (CREATE INDEX [CONCURRENTLY], CREATE
 * TRIGGER, ALTER TABLE, CREATE TABLE ... INHERITS) out until commit, so what
 * was checked still holds when the row is written, without blocking
 * drizzle-orm's own reads and writes.
 */
#define DRIZZLE_READ_LOCK AccessShareLock
#define DRIZZLE_WRITE_LOCK ShareUpdateExclusiveLock

static Relation open_checked(LOCKMODE lockmode);
static void check_kind(Relation rel);
static int	errdetail_relkind(char relkind);
static void check_owner(Relation rel);
static void check_hierarchy(Relation rel);
static void check_triggers_rules_policies(Relation rel);
static void check_columns(Relation rel);
static void check_defaults_and_constraints(Relation rel);
static void check_indexes(Relation rel);
static bool runs_untrusted_code(Node *expr, bool allow_nextval);
static bool untrusted_walker(Node *node, void *context);
static bool untrusted_function(Oid funcid, void *context);
static char *qualified_name(Oid relid);
static void check_access(Relation rel, AclMode mode);
static List *scan_hashes(Relation rel, const char *match, bool delete_matches);
static void create_table(void);
static void insert_row(Relation rel, const char *checksum, int64 created_at);

/*
 * The OID of drizzle.__drizzle_migrations, locked, or InvalidOid when it
 * does not exist.  Looked up by qualified name, never through search_path,
 * and without the schema privilege check that RangeVarGetRelid() makes, so
 * that a caller without access is told why (check_owner) rather than
 * "permission denied for schema".  The catalogs show the same to anyone.
 */
static Oid
lookup_locked(LOCKMODE lockmode)
{
	for (;;)
	{
		Oid			nspid = get_namespace_oid("drizzle", true);
		Oid			relid;
		char	   *relname;

		if (!OidIsValid(nspid))
			return InvalidOid;
		relid = get_relname_relid("__drizzle_migrations", nspid);
		if (!OidIsValid(relid))
			return InvalidOid;
		LockRelationOid(relid, lockmode);
		/* it might have been dropped, renamed or moved while we waited */
		relname = get_rel_name(relid);
		if (relname && strcmp(relname, "__drizzle_migrations") == 0 &&
			get_rel_namespace(relid) == nspid)
			return relid;
		UnlockRelationOid(relid, lockmode);
	}
}

/*
 * drizzle.__drizzle_migrations, locked and checked, or NULL when it does
 * not exist.
 */
static Relation
open_checked(LOCKMODE lockmode)
{
	Oid			relid = lookup_locked(lockmode);
	Relation	rel;
	AclResult	result;

	if (!OidIsValid(relid))
		return NULL;
	rel = relation_open(relid, NoLock);

	check_kind(rel);
	check_owner(rel);
	/* as a statement naming the table would */
	result = compat_namespace_aclcheck(RelationGetNamespace(rel), GetUserId(), ACL_USAGE);
	if (result != ACLCHECK_OK)
		aclcheck_error(result, OBJECT_SCHEMA, "drizzle");
	check_hierarchy(rel);
	check_triggers_rules_policies(rel);
	check_columns(rel);
	check_defaults_and_constraints(rel);
	check_indexes(rel);
	return rel;
}

/* A plain heap table: not a view, a foreign table, a partitioned table... */
static void
check_kind(Relation rel)
{
	char		relkind = rel->rd_rel->relkind;

	if (relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("drizzle-orm's tracking table \"drizzle.__drizzle_migrations\" is not a plain table"),
				 errdetail_relkind(relkind),
				 errhint("Replace it by a plain table as drizzle-orm creates it, keeping its rows: CREATE TABLE drizzle.__drizzle_migrations (id serial PRIMARY KEY, hash text NOT NULL, created_at bigint).")));
	if (!IS_BUILT_IN(rel->rd_rel->relam))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("drizzle-orm's tracking table \"drizzle.__drizzle_migrations\" is not a plain table"),
				 errdetail("It uses table access method \"%s\", which is not built in.",
						   get_am_name(rel->rd_rel->relam)),
				 errhint("Replace it by a heap table as drizzle-orm creates it, keeping its rows: CREATE TABLE drizzle.__drizzle_migrations (id serial PRIMARY KEY, hash text NOT NULL, created_at bigint) USING heap.")));
}

/* What it is instead, and why that is refused */
static int
errdetail_relkind(char relkind)
{
	switch (relkind)
	{
		case RELKIND_VIEW:
			return errdetail("It is a view, whose query would run with the privileges of the role running pg_migrate.");
		case RELKIND_MATVIEW:
			return errdetail("It is a materialized view.");
		case RELKIND_PARTITIONED_TABLE:
			return errdetail("It is a partitioned table, whose partition key might call functions of its owner.");
		case RELKIND_FOREIGN_TABLE:
			return errdetail("It is a foreign table, read and written by a foreign-data wrapper.");
		case RELKIND_SEQUENCE:
			return errdetail("It is a sequence.");
		case RELKIND_INDEX:
		case RELKIND_PARTITIONED_INDEX:
			return errdetail("It is an index.");
		case RELKIND_COMPOSITE_TYPE:
			return errdetail("It is a composite type.");
		default:
			return errdetail("It is not a table.");
	}
}

/*
 * Only a role with the privileges of the table's owner may use it: any
 * other would trust a table that a role it does not control can change at
 * will.  Superusers have every role's privileges, which is why the other
 * checks exist: they hold whoever owns the table.
 */
static void
check_owner(Relation rel)
{
	Oid			owner = rel->rd_rel->relowner;
	Oid			user = GetUserId();
	char	   *owner_name;
	char	   *user_name;

	if (has_privs_of_role(user, owner))
		return;
	owner_name = GetUserNameFromId(owner, false);
	user_name = GetUserNameFromId(user, false);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to use drizzle-orm's tracking table \"drizzle.__drizzle_migrations\""),
			 errdetail("It is owned by role \"%s\", and role \"%s\" does not have the privileges of that role.",
					   owner_name, user_name),
			 errhint("Run the migrations as role \"%s\", or grant it to the role running them: GRANT %s TO %s;",
					 owner_name, quote_identifier(owner_name),
					 quote_identifier(user_name))));
}

/*
 * Not a partition (writing it checks the partition constraint, which can
 * call functions) and without inheritance children (drizzle-orm counts
 * their rows as applied, and a statement on the parent reaches their
 * triggers).  Our own scans and writes never reach children anyway.
 */
static void
check_hierarchy(Relation rel)
{
	List	   *children;

	if (rel->rd_rel->relispartition)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("drizzle-orm's tracking table \"drizzle.__drizzle_migrations\" is a partition"),
				 errdetail("Writing it checks its partition constraint, which might call functions of another role."),
				 errhint("Detach it: ALTER TABLE %s DETACH PARTITION drizzle.__drizzle_migrations;",
						 qualified_name(linitial_oid(get_partition_ancestors(RelationGetRelid(rel)))))));

	children = find_inheritance_children(RelationGetRelid(rel), NoLock);
	if (children != NIL)
	{
		char	   *child = qualified_name(linitial_oid(children));

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("drizzle-orm's tracking table \"drizzle.__drizzle_migrations\" has inheritance children"),
				 errdetail("Table \"%s\" inherits from it: drizzle-orm counts the child's rows as its own, and statements on the table reach the child's triggers.",
						   child),
				 errhint("Make it stop inheriting: ALTER TABLE %s NO INHERIT drizzle.__drizzle_migrations;",
						 child)));
	}
}

/* Triggers (foreign keys included), rules and row-level security */
static void
check_triggers_rules_policies(Relation rel)
{
	if (rel->trigdesc != NULL && rel->trigdesc->numtriggers > 0)
	{
		Trigger    *trig = &rel->trigdesc->triggers[0];
		HeapTuple	contup;

		/* a foreign key's or a deferrable constraint's internal trigger */
		if (trig->tgisinternal && OidIsValid(trig->tgconstraint) &&
			HeapTupleIsValid(contup = SearchSysCache1(CONSTROID,
													  ObjectIdGetDatum(trig->tgconstraint))))
		{
			Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(contup);
			char	   *conname = pstrdup(NameStr(con->conname));
			char	   *contable = qualified_name(con->conrelid);

			ReleaseSysCache(contup);
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("drizzle-orm's tracking table \"drizzle.__drizzle_migrations\" has triggers"),
					 errdetail("Constraint \"%s\" of table \"%s\" is enforced by triggers on it, which would run when pg_migrate writes it.",
							   conname, contable),
					 errhint("Drop the constraint: ALTER TABLE %s DROP CONSTRAINT %s;",
							 contable, quote_identifier(conname))));
		}
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("drizzle-orm's tracking table \"drizzle.__drizzle_migrations\" has triggers"),
				 errdetail("Trigger \"%s\" would run its function with the privileges of the role running pg_migrate.",
						   trig->tgname),
				 errhint("Drop the table's triggers: DROP TRIGGER %s ON drizzle.__drizzle_migrations;",
						 quote_identifier(trig->tgname))));
	}

	if (rel->rd_rules != NULL && rel->rd_rules->numLocks > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("drizzle-orm's tracking table \"drizzle.__drizzle_migrations\" has rules"),
				 errdetail("Its rules would rewrite pg_migrate's statements on it into others."),
				 errhint("Drop them with DROP RULE ... ON drizzle.__drizzle_migrations; SELECT rulename FROM pg_rules WHERE schemaname = 'drizzle' lists them.")));

	if (rel->rd_rel->relrowsecurity || rel->rd_rel->relforcerowsecurity)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("drizzle-orm's tracking table \"drizzle.__drizzle_migrations\" has row-level security enabled"),
				 errdetail("Its policies' expressions would run with the privileges of the role running pg_migrate."),
				 errhint("Disable it: ALTER TABLE drizzle.__drizzle_migrations DISABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY;")));
}

/*
 * The columns drizzle-orm creates, of built-in types, as all others must be:
 * a domain's constraints run on every row written, even for a column left
 * null.
 */
static void
check_columns(Relation rel)
{
	static const struct
	{
		const char *name;
		Oid			type;
	}			expected[] = {{"id", INT4OID}, {"hash", TEXTOID}, {"created_at", INT8OID}};
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < lengthof(expected); i++)
	{
		AttrNumber	attnum = get_attnum(RelationGetRelid(rel), expected[i].name);

		if (attnum == InvalidAttrNumber ||
			TupleDescAttr(desc, attnum - 1)->atttypid != expected[i].type)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("drizzle-orm's tracking table \"drizzle.__drizzle_migrations\" has no column \"%s\" of type %s",
							expected[i].name, format_type_be(expected[i].type)),
					 errdetail("drizzle-orm creates it with columns id serial, hash text and created_at bigint."),
					 errhint("Give it the columns drizzle-orm creates: CREATE TABLE drizzle.__drizzle_migrations (id serial PRIMARY KEY, hash text NOT NULL, created_at bigint).")));
	}

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || IS_BUILT_IN(att->atttypid))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("column \"%s\" of drizzle-orm's tracking table \"drizzle.__drizzle_migrations\" has a type that is not built in",
						NameStr(att->attname)),
				 errdetail("Writing a row checks type %s, which might call functions of another role with the privileges of the role running pg_migrate.",
						   format_type_be(att->atttypid)),
				 errhint("Drop the column: ALTER TABLE drizzle.__drizzle_migrations DROP COLUMN %s;",
						 quote_identifier(NameStr(att->attname)))));
	}
}

/*
 * Defaults, generated columns and check constraints, which writing a row
 * evaluates.  Only built-in immutable functions are trusted, since built-in
 * volatile and stable ones can run queries (query_to_xml) or touch files
 * (lo_export); a default may also be nextval() of a sequence, as id serial
 * has.
 */
static void
check_defaults_and_constraints(Relation rel)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;

	if (constr == NULL)
		return;

	for (int i = 0; i < constr->num_defval; i++)
	{
		AttrDefault *def = &constr->defval[i];
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), def->adnum - 1);
		bool		generated = att->attgenerated != '\0';

		if (!runs_untrusted_code(stringToNode(def->adbin), !generated))
			continue;
		if (generated)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("generated column \"%s\" of drizzle-orm's tracking table \"drizzle.__drizzle_migrations\" calls functions that pg_migrate does not trust",
							NameStr(att->attname)),
					 errdetail("Writing a row would run them with the privileges of the role running pg_migrate; only built-in immutable functions are trusted."),
					 errhint("Drop the column: ALTER TABLE drizzle.__drizzle_migrations DROP COLUMN %s;",
							 quote_identifier(NameStr(att->attname)))));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the default of column \"%s\" of drizzle-orm's tracking table \"drizzle.__drizzle_migrations\" calls functions that pg_migrate does not trust",
						NameStr(att->attname)),
				 errdetail("Writing a row would run them with the privileges of the role running pg_migrate; only constants, built-in immutable functions and nextval() of a sequence are trusted."),
				 errhint("Drop the default: ALTER TABLE drizzle.__drizzle_migrations ALTER COLUMN %s DROP DEFAULT;",
						 quote_identifier(NameStr(att->attname)))));
	}

	for (int i = 0; i < constr->num_check; i++)
	{
		ConstrCheck *check = &constr->check[i];

		if (runs_untrusted_code(stringToNode(check->ccbin), false))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("check constraint \"%s\" of drizzle-orm's tracking table \"drizzle.__drizzle_migrations\" calls functions that pg_migrate does not trust",
							check->ccname),
					 errdetail("Writing a row would run them with the privileges of the role running pg_migrate; only built-in immutable functions are trusted."),
					 errhint("Drop the constraint: ALTER TABLE drizzle.__drizzle_migrations DROP CONSTRAINT %s;",
							 quote_identifier(check->ccname))));
	}
}

/*
 * Index expressions and predicates, which writing a row evaluates (and
 * opening the index for it constant-folds), and the operator classes and
 * access methods whose functions compare its keys.  Read from the catalog
 * rather than through RelationGetIndexExpressions(), which would already
 * evaluate constant subexpressions.
 */
static void
check_indexes(Relation rel)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		static const AttrNumber expressions[] = {Anum_pg_index_indexprs, Anum_pg_index_indpred};
		Oid			indexoid = lfirst_oid(lc);
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
		bool		untrusted = false;
		Datum		datum;
		bool		isnull;
		oidvector  *opclasses;

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for index %u", indexoid);
		for (int i = 0; i < lengthof(expressions); i++)
		{
			datum = SysCacheGetAttr(INDEXRELID, tup, expressions[i], &isnull);
			if (!isnull)
				untrusted |= runs_untrusted_code(stringToNode(TextDatumGetCString(datum)),
												 false);
		}
		datum = SysCacheGetAttr(INDEXRELID, tup, Anum_pg_index_indclass, &isnull);
		opclasses = (oidvector *) DatumGetPointer(datum);
		for (int i = 0; !isnull && i < opclasses->dim1; i++)
			untrusted |= !IS_BUILT_IN(opclasses->values[i]);
		ReleaseSysCache(tup);

		tup = SearchSysCache1(RELOID, ObjectIdGetDatum(indexoid));
		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for relation %u", indexoid);
		untrusted |= !IS_BUILT_IN(((Form_pg_class) GETSTRUCT(tup))->relam);
		ReleaseSysCache(tup);

		if (untrusted)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("index \"%s\" of drizzle-orm's tracking table \"drizzle.__drizzle_migrations\" calls functions that pg_migrate does not trust",
							get_rel_name(indexoid)),
					 errdetail("Writing a row would run them with the privileges of the role running pg_migrate; only built-in immutable functions, operator classes and access methods are trusted."),
					 errhint("Drop the index: DROP INDEX %s;", qualified_name(indexoid))));
	}
	list_free(indexes);
}

/* Whether evaluating expr could run anything but trusted built-in code */
static bool
runs_untrusted_code(Node *expr, bool allow_nextval)
{
	return untrusted_walker(expr, &allow_nextval);
}

static bool
untrusted_walker(Node *node, void *context)
{
	bool		allow_nextval = *(bool *) context;

	if (node == NULL)
		return false;

	/* id serial's default: nextval() of a sequence runs no user code */
	if (allow_nextval && IsA(node, FuncExpr) &&
		((FuncExpr *) node)->funcid == F_NEXTVAL &&
		list_length(((FuncExpr *) node)->args) == 1)
	{
		Const	   *arg = linitial(((FuncExpr *) node)->args);

		if (IsA(arg, Const) && arg->consttype == REGCLASSOID &&
			!arg->constisnull &&
			get_rel_relkind(DatumGetObjectId(arg->constvalue)) == RELKIND_SEQUENCE)
			return false;
	}

	if (check_functions_in_node(node, untrusted_function, NULL))
		return true;
	/* domain constraints, and values of types that are not built in */
	if (IsA(node, CoerceToDomain) &&
		!IS_BUILT_IN(((CoerceToDomain *) node)->resulttype))
		return true;
	if (IsA(node, Const) && !IS_BUILT_IN(((Const *) node)->consttype))
		return true;
	/* not allowed in these expressions, but never trusted */
	if (IsA(node, SubLink) || IsA(node, SubPlan) || IsA(node, Query))
		return true;
	return expression_tree_walker(node, untrusted_walker, context);
}

static bool
untrusted_function(Oid funcid, void *context)
{
	return !IS_BUILT_IN(funcid) || func_volatile(funcid) != PROVOLATILE_IMMUTABLE;
}

/* A relation's schema-qualified name, quoted for a hint */
static char *
qualified_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/*
 * The privileges the equivalent SQL statement would need: reading the hash
 * column, and for a delete, deleting.
 */
static void
check_access(Relation rel, AclMode mode)
{
	Oid			relid = RelationGetRelid(rel);
	AclResult	result = pg_class_aclcheck(relid, GetUserId(), mode);

	if (result != ACLCHECK_OK && mode == ACL_SELECT)
		result = pg_attribute_aclcheck(relid, get_attnum(relid, "hash"),
									   GetUserId(), ACL_SELECT);
	if (result != ACLCHECK_OK)
		aclcheck_error(result, OBJECT_TABLE, RelationGetRelationName(rel));
}

/*
 * The hashes in the table (only those equal to match, when given), read
 * from the heap of this table alone, deleting the matching rows when asked.
 */
static List *
scan_hashes(Relation rel, const char *match, bool delete_matches)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), "hash");
	List	   *hashes = NIL;
	Snapshot	snapshot;
	TableScanDesc scan;
	TupleTableSlot *slot;

	check_access(rel, ACL_SELECT);
	if (delete_matches)
	{
		check_access(rel, ACL_DELETE);
		CheckCmdReplicaIdentity(rel, CMD_DELETE);
	}

	/* as a statement would: see what committed and what we wrote before */
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	scan = table_beginscan(rel, snapshot, 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		value = slot_getattr(slot, attnum, &isnull);
		char	   *hash;

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		hash = TextDatumGetCString(value);
		if (match && strcmp(hash, match) != 0)
			continue;
		if (delete_matches)
			simple_table_tuple_delete(rel, &slot->tts_tid, snapshot);
		hashes = lappend(hashes, hash);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	return hashes;
}

/* The hashes drizzle-orm (or we) recorded, or NIL when there is no table */
List *
drizzle_applied_hashes(void)
{
	Relation	rel = open_checked(DRIZZLE_READ_LOCK);
	List	   *hashes;

	if (rel == NULL)
		return NIL;
	hashes = scan_hashes(rel, NULL, false);
	relation_close(rel, NoLock);
	return hashes;
}

/*
 * Create the schema and table as drizzle-orm's migrator does.  The type
 * names are qualified, as the caller's search_path might put another
 * "text" first.  Another session might create it meanwhile, whatever it
 * is: IF NOT EXISTS, and the caller checks what it finds afterwards.
 */
static void
create_table(void)
{
	static const char *const statements[] = {
		"CREATE SCHEMA IF NOT EXISTS drizzle",
		"CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations ("
		" id serial PRIMARY KEY, hash pg_catalog.text NOT NULL,"
		" created_at pg_catalog.int8)"
	};

	for (int i = 0; i < lengthof(statements); i++)
		spi_run(statements[i], 0, NULL, NULL, NULL, SPI_OK_UTILITY);
}

/*
 * Insert a row as the caller.  The statement names the table, so check
 * that its name still leads to the table that was checked and is locked
 * (a schema can be renamed under a lock on its tables); the plan cannot be
 * re-analysed in between, as we hold every lock it needs.
 */
static void
insert_row(Relation rel, const char *checksum, int64 created_at)
{
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	MemoryContext cxt = CurrentMemoryContext;
	SPIPlanPtr	plan;
	ListCell   *lc;
	int			rc;

	plan = SPI_prepare("INSERT INTO drizzle.__drizzle_migrations (hash, created_at)"
					   " VALUES ($1, $2)", 2, types);
	MemoryContextSwitchTo(cxt);
	if (plan == NULL)
		elog(ERROR, "could not prepare insert into drizzle.__drizzle_migrations: %s",
			 SPI_result_code_string(SPI_result));
	foreach(lc, SPI_plan_get_plan_sources(plan))
	{
		CachedPlanSource *source = lfirst(lc);
		ListCell   *lq;

		foreach(lq, source->query_list)
		{
			Query	   *query = lfirst(lq);
			ListCell   *lr;

			foreach(lr, query->rtable)
			{
				RangeTblEntry *rte = lfirst(lr);

				if (rte->rtekind == RTE_RELATION && rte->relid != RelationGetRelid(rel))
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("drizzle-orm's tracking table \"drizzle.__drizzle_migrations\" was replaced while pg_migrate was using it"),
							 errhint("Run the migrations again.")));
			}
		}
	}

	values[0] = CStringGetTextDatum(checksum);
	values[1] = Int64GetDatum(created_at);
	rc = SPI_execute_plan(plan, values, NULL, false, 0);
	MemoryContextSwitchTo(cxt);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not insert into drizzle.__drizzle_migrations: %s",
			 SPI_result_code_string(rc));
	SPI_freeplan(plan);
}

/*
 * Record an applied migration as drizzle-orm's migrator would, creating its
 * schema and table as it does when they are missing.
 */
void
drizzle_record(const char *checksum, int64 created_at)
{
	Relation	rel = open_checked(DRIZZLE_WRITE_LOCK);

	if (rel == NULL)
	{
		create_table();
		rel = open_checked(DRIZZLE_WRITE_LOCK);
		if (rel == NULL)
			elog(ERROR, "drizzle.__drizzle_migrations does not exist after it was created");
	}
	if (scan_hashes(rel, checksum, false) == NIL)
		insert_row(rel, checksum, created_at);
	relation_close(rel, NoLock);
}

/* Remove a rolled-back migration's row, so that drizzle-orm sees it pending */
void
drizzle_forget(const char *checksum)
{
	Relation	rel = open_checked(DRIZZLE_WRITE_LOCK);

	if (rel == NULL)
		return;
	(void) scan_hashes(rel, checksum, true);
	relation_close(rel, NoLock);
}
