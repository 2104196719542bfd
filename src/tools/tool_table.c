/*-------------------------------------------------------------------------
 *
 * tool_table.c
 *	  Another tool's tracking table (drizzle-orm's __drizzle_migrations,
 *	  dbmate's and golang-migrate's schema_migrations, Flyway's
 *	  flyway_schema_history): finding it, checking that using it runs no
 *	  code of another role, reading and writing it, for
 *	  the tools that use it (interop.c).
 *
 * The table belongs to the application, and is often owned by the app's
 * role while a superuser runs the migrations.  Whatever its owner attached
 * to it (a trigger, a rule, a policy, a default, an index expression, or a
 * view in its place) would run with the caller's privileges, so before
 * each use the table is locked and checked to be a plain table that runs
 * no code but built-in immutable functions and sequences, and to be owned
 * by a role the caller has the privileges of.  A table pg_migrate only
 * reads (Flyway's) needs fewer checks: reading runs none of what writing
 * would.  Rows are then read and deleted by scanning the heap directly,
 * which involves no user code at all, and no planner (planning a query on
 * the table would constant-fold the expressions of its indexes and
 * statistics objects); only an insert, which plans no scan, goes through
 * SPI, checked to target the very table that was checked.
 *
 * Its rows decide which migrations pg_migrate takes as applied without
 * running them, and PostgreSQL does not record who wrote a row: they are
 * trusted only while no role but its owner (and the roles with the
 * owner's privileges, superusers among them) may write the table.
 *
 * The table is found where its tool looks for it: the tool's default name
 * in its default schema (drizzle-orm's "drizzle"; the others use the
 * current schema, the first of search_path), or the name that the setting
 * migrate.tool_table gives.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_authid.h"
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
#include "lib/stringinfo.h"
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
#include "utils/varlena.h"

#include "util/compat.h"

#include "tools/tools.h"

/* created by initdb, so owned by the bootstrap superuser */
#define IS_BUILT_IN(oid) ((oid) < FirstNormalObjectId)

/*
 * Lock modes.  Reading runs no code whatever the table holds, so the
 * weakest lock is enough, and works on a hot standby.  Writing keeps every
 * change to the table's definition (CREATE INDEX [CONCURRENTLY], CREATE
 * TRIGGER, ALTER TABLE, CREATE TABLE ... INHERITS) out until commit, so what
 * was checked still holds when a row is written, without blocking the
 * tool's own reads and writes (golang-migrate's TRUNCATE waits).
 */
#define TOOL_READ_LOCK AccessShareLock
#define TOOL_WRITE_LOCK ShareUpdateExclusiveLock


static bool resolve_name(const ToolTableSpec *spec, char **schema, char **name);
static Oid	lookup_locked(const char *schema, const char *name, LOCKMODE lockmode);
static void check_kind(const ToolTable *t);
static int	errdetail_relkind(char relkind);
static void check_owner(const ToolTable *t);
static void check_hierarchy(const ToolTable *t);
static void check_triggers_and_rules(const ToolTable *t);
static void check_row_security(const ToolTable *t);
static void check_columns(ToolTable *t);
static void check_defaults_and_constraints(const ToolTable *t);
static void check_indexes(const ToolTable *t);
static bool runs_untrusted_code(Node *expr, bool allow_nextval);
static bool untrusted_walker(Node *node, void *context);
static bool untrusted_function(Oid funcid, void *context);
static char *qualified_name(Oid relid);
static void check_read_access(const ToolTable *t);
static AclMode public_privileges(Datum acl, bool isnull);
static AclMode public_write_privileges(const ToolTable *t);
static Oid	other_writer(const ToolTable *t, AclMode *privileges);
static char *privilege_names(AclMode privileges);

/*
 * Where the tool keeps its table: migrate.tool_table when set (its check
 * hook accepted one or two identifiers), else the tool's default name;
 * without a schema, the tool's default one, or the current schema.  False
 * when there is no current schema, as no table can be found then.
 */
static bool
resolve_name(const ToolTableSpec *spec, char **schema, char **name)
{
	*schema = spec->schema ? pstrdup(spec->schema) : NULL;
	*name = pstrdup(spec->name);

	if (migrate_tool_table != NULL && migrate_tool_table[0] != '\0')
	{
		char	   *raw = pstrdup(migrate_tool_table);
		List	   *names;

		if (!SplitIdentifierString(raw, '.', &names) ||
			list_length(names) < 1 || list_length(names) > 2)
			elog(ERROR, "invalid migrate.tool_table \"%s\"", migrate_tool_table);
		*name = llast(names);
		if (list_length(names) == 2)
			*schema = linitial(names);
	}

	if (*schema == NULL)
	{
		/* what current_schema() returns, as the tools ask for it */
		List	   *path = fetch_search_path(false);

		if (path == NIL)
			return false;
		*schema = get_namespace_name(linitial_oid(path));
		list_free(path);
	}
	return *schema != NULL;
}

/*
 * The OID of schema.name, locked, or InvalidOid when it does not exist.
 * Looked up by qualified name, never through search_path, and without the
 * schema privilege check that RangeVarGetRelid() makes, so that a caller
 * without access is told why (check_owner) rather than "permission denied
 * for schema".  The catalogs show the same to anyone.
 */
static Oid
lookup_locked(const char *schema, const char *name, LOCKMODE lockmode)
{
	for (;;)
	{
		Oid			nspid = get_namespace_oid(schema, true);
		Oid			relid;
		char	   *relname;

		if (!OidIsValid(nspid))
			return InvalidOid;
		relid = get_relname_relid(name, nspid);
		if (!OidIsValid(relid))
			return InvalidOid;
		LockRelationOid(relid, lockmode);
		/* it might have been dropped, renamed or moved while we waited */
		relname = get_rel_name(relid);
		if (relname && strcmp(relname, name) == 0 &&
			get_rel_namespace(relid) == nspid)
			return relid;
		UnlockRelationOid(relid, lockmode);
	}
}

/*
 * The tool's table, locked and checked for reading, or for writing it as
 * well; NULL when it does not exist, unless create makes it.
 */
ToolTable *
tool_table_open(const ToolTableSpec *spec, bool write,
				tool_table_creator create)
{
	LOCKMODE	lockmode = write ? TOOL_WRITE_LOCK : TOOL_READ_LOCK;
	char	   *schema;
	char	   *name;
	Oid			relid;
	ToolTable  *t;
	AclResult	result;

	if (!resolve_name(spec, &schema, &name))
		return NULL;
	relid = lookup_locked(schema, name, lockmode);
	if (!OidIsValid(relid) && create != NULL)
	{
		create(schema, name);
		relid = lookup_locked(schema, name, lockmode);
		if (!OidIsValid(relid))
			elog(ERROR, "table \"%s.%s\" does not exist after it was created",
				 schema, name);
	}
	if (!OidIsValid(relid))
		return NULL;

	t = palloc0(sizeof(ToolTable));
	t->spec = spec;
	t->rel = relation_open(relid, NoLock);
	t->qualified = quote_qualified_identifier(schema, name);

	check_kind(t);
	check_owner(t);
	/* as a statement naming the table would */
	result = compat_namespace_aclcheck(RelationGetNamespace(t->rel), GetUserId(),
									   ACL_USAGE);
	if (result != ACLCHECK_OK)
		aclcheck_error(result, OBJECT_SCHEMA, schema);
	check_hierarchy(t);
	/* what only writing runs, refused even for reading a table we write */
	if (spec->written)
		check_triggers_and_rules(t);
	check_row_security(t);
	check_columns(t);
	if (spec->written)
	{
		check_defaults_and_constraints(t);
		check_indexes(t);
	}
	return t;
}

void
tool_table_close(ToolTable *t)
{
	relation_close(t->rel, NoLock);
}

/* A plain heap table: not a view, a foreign table, a partitioned table... */
static void
check_kind(const ToolTable *t)
{
	char		relkind = t->rel->rd_rel->relkind;

	if (relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s's tracking table \"%s\" is not a plain table",
						t->spec->tool, t->qualified),
				 errdetail_relkind(relkind),
				 errhint("Replace it by a plain table, keeping its rows; create that table as %s does, with CREATE TABLE %s %s.",
						 t->spec->tool, t->qualified, t->spec->definition)));
	if (!IS_BUILT_IN(t->rel->rd_rel->relam))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s's tracking table \"%s\" is not a plain table",
						t->spec->tool, t->qualified),
				 errdetail("It uses table access method \"%s\", which is not built in.",
						   get_am_name(t->rel->rd_rel->relam)),
				 errhint("Replace it by a heap table, keeping its rows; create that table as %s does, with CREATE TABLE %s %s USING heap.",
						 t->spec->tool, t->qualified, t->spec->definition)));
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
 * will (and a row there makes pg_migrate take a migration as applied).
 * Superusers have every role's privileges, which is why the other checks
 * exist: they hold whoever owns the table.
 */
static void
check_owner(const ToolTable *t)
{
	Oid			owner = t->rel->rd_rel->relowner;
	Oid			user = GetUserId();
	char	   *owner_name;
	char	   *user_name;

	if (has_privs_of_role(user, owner))
		return;
	owner_name = GetUserNameFromId(owner, false);
	user_name = GetUserNameFromId(user, false);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to use %s's tracking table \"%s\"",
					t->spec->tool, t->qualified),
			 errdetail("It is owned by role \"%s\", and role \"%s\" does not have the privileges of that role.",
					   owner_name, user_name),
			 errhint("Run the migrations as role \"%s\", or grant that role to the role running them with GRANT %s TO %s.",
					 owner_name, quote_identifier(owner_name),
					 quote_identifier(user_name))));
}

/*
 * Not a partition (writing it checks the partition constraint, which can
 * call functions) and without inheritance children (the tools count their
 * rows as the table's, and a statement on the parent reaches their
 * triggers).  Our own scans and writes never reach children anyway.
 */
static void
check_hierarchy(const ToolTable *t)
{
	List	   *children;

	if (t->rel->rd_rel->relispartition)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s's tracking table \"%s\" is a partition",
						t->spec->tool, t->qualified),
				 errdetail("Writing it checks its partition constraint, which might call functions of another role."),
				 errhint("Detach it from its partitioned table with ALTER TABLE %s DETACH PARTITION %s.",
						 qualified_name(linitial_oid(get_partition_ancestors(RelationGetRelid(t->rel)))),
						 t->qualified)));

	children = find_inheritance_children(RelationGetRelid(t->rel), NoLock);
	if (children != NIL)
	{
		char	   *child = qualified_name(linitial_oid(children));

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s's tracking table \"%s\" has inheritance children",
						t->spec->tool, t->qualified),
				 errdetail("Table \"%s\" inherits from it: %s counts the child's rows as its own, and statements on the table reach the child's triggers.",
						   child, t->spec->tool),
				 errhint("Make the child stop inheriting from it with ALTER TABLE %s NO INHERIT %s.",
						 child, t->qualified)));
	}
}

/* Triggers (foreign keys included) and rules, which writing it would run */
static void
check_triggers_and_rules(const ToolTable *t)
{
	Relation	rel = t->rel;

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
					 errmsg("%s's tracking table \"%s\" has triggers",
							t->spec->tool, t->qualified),
					 errdetail("Constraint \"%s\" of table \"%s\" is enforced by triggers on it, which would run when pg_migrate writes it.",
							   conname, contable),
					 errhint("Drop the constraint with ALTER TABLE %s DROP CONSTRAINT %s.",
							 contable, quote_identifier(conname))));
		}
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s's tracking table \"%s\" has triggers",
						t->spec->tool, t->qualified),
				 errdetail("Trigger \"%s\" would run its function with the privileges of the role running pg_migrate.",
						   trig->tgname),
				 errhint("Drop the table's triggers; DROP TRIGGER %s ON %s drops this one.",
						 quote_identifier(trig->tgname), t->qualified)));
	}

	if (rel->rd_rules != NULL && rel->rd_rules->numLocks > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s's tracking table \"%s\" has rules",
						t->spec->tool, t->qualified),
				 errdetail("Its rules would rewrite pg_migrate's statements on it into others."),
				 errhint("Drop them with DROP RULE ... ON %s; the view pg_rules lists them.",
						 t->qualified)));
}

/*
 * Row-level security: its policies would run when the table is written,
 * and our scans, which ignore them, would not see what the tool sees.
 */
static void
check_row_security(const ToolTable *t)
{
	if (t->rel->rd_rel->relrowsecurity || t->rel->rd_rel->relforcerowsecurity)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s's tracking table \"%s\" has row-level security enabled",
						t->spec->tool, t->qualified),
				 errdetail("Its policies decide which rows each role sees, and their expressions would run with the privileges of the role running pg_migrate."),
				 errhint("Disable row-level security on it with ALTER TABLE %s DISABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY.",
						 t->qualified)));
}

/*
 * The columns pg_migrate uses, of the types the tool creates, and every
 * column of a built-in type: a domain's constraints run on every row
 * written, even for a column left null.
 */
static void
check_columns(ToolTable *t)
{
	const ToolTableSpec *spec = t->spec;
	TupleDesc	desc = RelationGetDescr(t->rel);

	for (int i = 0; i < spec->ncolumns; i++)
	{
		const ToolColumn *col = &spec->columns[i];
		AttrNumber	attnum = get_attnum(RelationGetRelid(t->rel), col->name);
		Oid			type = attnum == InvalidAttrNumber ? InvalidOid :
			TupleDescAttr(desc, attnum - 1)->atttypid;

		if (attnum == InvalidAttrNumber ||
			(type != col->type && type != col->alt_type))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("%s's tracking table \"%s\" has no column \"%s\" of type %s",
							spec->tool, t->qualified, col->name,
							format_type_be(col->type)),
					 errdetail("%s creates it with columns %s.",
							   spec->tool, spec->columns_text),
					 errhint("Give it the columns %s creates, as in CREATE TABLE %s %s, or, when %s keeps its table elsewhere, name that table in migrate.tool_table.",
							 spec->tool, t->qualified, spec->definition,
							 spec->tool)));
		t->attnums[i] = attnum;
	}

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || IS_BUILT_IN(att->atttypid))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("column \"%s\" of %s's tracking table \"%s\" has a type that is not built in",
						NameStr(att->attname), spec->tool, t->qualified),
				 errdetail("Using it would check or read type %s, which might call functions of another role with the privileges of the role running pg_migrate.",
						   format_type_be(att->atttypid)),
				 errhint("Drop the column with ALTER TABLE %s DROP COLUMN %s.",
						 t->qualified, quote_identifier(NameStr(att->attname)))));
	}
}

/*
 * Defaults, generated columns and check constraints, which writing a row
 * evaluates.  Only built-in immutable functions are trusted, since built-in
 * volatile and stable ones can run queries (query_to_xml) or touch files
 * (lo_export); a default may also be nextval() of a sequence, as a serial
 * column has.
 */
static void
check_defaults_and_constraints(const ToolTable *t)
{
	TupleConstr *constr = RelationGetDescr(t->rel)->constr;

	if (constr == NULL)
		return;

	for (int i = 0; i < constr->num_defval; i++)
	{
		AttrDefault *def = &constr->defval[i];
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(t->rel), def->adnum - 1);
		bool		generated = att->attgenerated != '\0';

		if (!runs_untrusted_code(stringToNode(def->adbin), !generated))
			continue;
		if (generated)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("generated column \"%s\" of %s's tracking table \"%s\" calls functions that pg_migrate does not trust",
							NameStr(att->attname), t->spec->tool, t->qualified),
					 errdetail("Writing a row would run them with the privileges of the role running pg_migrate; only built-in immutable functions are trusted."),
					 errhint("Drop the column with ALTER TABLE %s DROP COLUMN %s.",
							 t->qualified, quote_identifier(NameStr(att->attname)))));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the default of column \"%s\" of %s's tracking table \"%s\" calls functions that pg_migrate does not trust",
						NameStr(att->attname), t->spec->tool, t->qualified),
				 errdetail("Writing a row would run them with the privileges of the role running pg_migrate; only constants, built-in immutable functions and nextval() of a sequence are trusted."),
				 errhint("Drop the default with ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT.",
						 t->qualified, quote_identifier(NameStr(att->attname)))));
	}

	for (int i = 0; i < constr->num_check; i++)
	{
		ConstrCheck *check = &constr->check[i];

		if (runs_untrusted_code(stringToNode(check->ccbin), false))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("check constraint \"%s\" of %s's tracking table \"%s\" calls functions that pg_migrate does not trust",
							check->ccname, t->spec->tool, t->qualified),
					 errdetail("Writing a row would run them with the privileges of the role running pg_migrate; only built-in immutable functions are trusted."),
					 errhint("Drop the constraint with ALTER TABLE %s DROP CONSTRAINT %s.",
							 t->qualified, quote_identifier(check->ccname))));
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
check_indexes(const ToolTable *t)
{
	List	   *indexes = RelationGetIndexList(t->rel);
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
					 errmsg("index \"%s\" of %s's tracking table \"%s\" calls functions that pg_migrate does not trust",
							get_rel_name(indexoid), t->spec->tool, t->qualified),
					 errdetail("Writing a row would run them with the privileges of the role running pg_migrate; only built-in immutable functions, operator classes and access methods are trusted."),
					 errhint("Drop the index with DROP INDEX %s.", qualified_name(indexoid))));
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

	/* a serial column's default: nextval() of a sequence runs no user code */
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

/*
 * Built-in functions that are not immutable but run no query and touch no
 * file: the clock, and the casts between timestamp types that a
 * "timestamp DEFAULT now()" column applies to it.  The tools' tables stamp
 * their rows so (goose's tstamp, Prisma's started_at, sqlx's installed_on,
 * Diesel's run_on).
 */
static const Oid clock_functions[] = {
	F_NOW, F_STATEMENT_TIMESTAMP,
	F_TIMESTAMP_TIMESTAMPTZ, F_TIMESTAMPTZ_TIMESTAMP
};

static bool
untrusted_function(Oid funcid, void *context)
{
	for (int i = 0; i < lengthof(clock_functions); i++)
		if (funcid == clock_functions[i])
			return false;
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
 * The privilege the equivalent SELECT would need: on the table, or on each
 * column pg_migrate reads.
 */
static void
check_read_access(const ToolTable *t)
{
	Oid			relid = RelationGetRelid(t->rel);

	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK)
		return;
	for (int i = 0; i < t->spec->ncolumns; i++)
	{
		AclResult	result = pg_attribute_aclcheck(relid, t->attnums[i],
												   GetUserId(), ACL_SELECT);

		if (result != ACLCHECK_OK)
			aclcheck_error(result, OBJECT_TABLE, RelationGetRelationName(t->rel));
	}
}

/*
 * Every row of the table (not of its children, which it has none of), with
 * the spec's columns converted to text by their built-in output functions,
 * read from the heap as a statement would see it now: what committed, and
 * what this transaction wrote before.
 */
List *
tool_table_rows(ToolTable *t)
{
	const ToolTableSpec *spec = t->spec;
	TupleDesc	desc = RelationGetDescr(t->rel);
	Oid			outfuncs[TOOL_MAX_COLUMNS];
	List	   *rows = NIL;
	Snapshot	snapshot;
	TableScanDesc scan;
	TupleTableSlot *slot;

	check_read_access(t);
	for (int i = 0; i < spec->ncolumns; i++)
	{
		bool		varlena;

		getTypeOutputInfo(TupleDescAttr(desc, t->attnums[i] - 1)->atttypid,
						  &outfuncs[i], &varlena);
	}

	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	scan = table_beginscan(t->rel, snapshot, 0, NULL);
	slot = table_slot_create(t->rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		ToolRow    *row = palloc0(sizeof(ToolRow));

		CHECK_FOR_INTERRUPTS();
		row->tid = slot->tts_tid;
		for (int i = 0; i < spec->ncolumns; i++)
		{
			bool		isnull;
			Datum		value = slot_getattr(slot, t->attnums[i], &isnull);

			if (!isnull)
				row->values[i] = OidOutputFunctionCall(outfuncs[i], value);
		}
		rows = lappend(rows, row);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	return rows;
}

/*
 * Delete a row that tool_table_rows() returned, as a DELETE would: with
 * the same privilege, and refused where logical replication could not
 * replicate it.  The table was opened for writing.
 */
void
tool_table_delete(ToolTable *t, const ToolRow *row)
{
	AclResult	result = pg_class_aclcheck(RelationGetRelid(t->rel), GetUserId(),
										   ACL_DELETE);
	Snapshot	snapshot;

	if (result != ACLCHECK_OK)
		aclcheck_error(result, OBJECT_TABLE, RelationGetRelationName(t->rel));
	CheckCmdReplicaIdentity(t->rel, CMD_DELETE);
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	simple_table_tuple_delete(t->rel, (ItemPointer) &row->tid, snapshot);
	UnregisterSnapshot(snapshot);
}

/*
 * Insert a row as the caller: the spec's columns given by their index,
 * each value of the given type.  The statement names the table, so check
 * that its name still leads to the table that was checked and is locked
 * (a schema can be renamed under a lock on its tables); the plan cannot be
 * re-analysed in between, as we hold every lock it needs.
 */
void
tool_table_insert(ToolTable *t, int ncolumns, const int *columns,
				  const Oid *types, Datum *values)
{
	MemoryContext cxt = CurrentMemoryContext;
	StringInfoData sql;
	SPIPlanPtr	plan;
	ListCell   *lc;
	int			rc;

	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s (", t->qualified);
	for (int i = 0; i < ncolumns; i++)
		appendStringInfo(&sql, "%s%s", i > 0 ? ", " : "",
						 quote_identifier(t->spec->columns[columns[i]].name));
	appendStringInfoString(&sql, ") VALUES (");
	for (int i = 0; i < ncolumns; i++)
		appendStringInfo(&sql, "%s$%d", i > 0 ? ", " : "", i + 1);
	appendStringInfoChar(&sql, ')');

	plan = SPI_prepare(sql.data, ncolumns, (Oid *) types);
	MemoryContextSwitchTo(cxt);
	if (plan == NULL)
		elog(ERROR, "could not prepare insert into %s: %s", t->qualified,
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

				if (rte->rtekind == RTE_RELATION &&
					rte->relid != RelationGetRelid(t->rel))
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("%s's tracking table \"%s\" was replaced while pg_migrate was using it",
									t->spec->tool, t->qualified),
							 errhint("Run the migrations again.")));
			}
		}
	}

	rc = SPI_execute_plan(plan, values, NULL, false, 0);
	MemoryContextSwitchTo(cxt);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not insert into %s: %s", t->qualified,
			 SPI_result_code_string(rc));
	SPI_freeplan(plan);
}

/* Write privileges that would let a role make rows appear in the table */
#define TOOL_WRITE_PRIVILEGES \
	(ACL_INSERT | ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE | ACL_TRIGGER)

/* What an ACL grants to PUBLIC */
static AclMode
public_privileges(Datum acl, bool isnull)
{
	Acl		   *a;
	AclItem    *items;
	AclMode		privileges = 0;

	if (isnull)
		return 0;				/* the default: the owner alone */
	a = DatumGetAclP(acl);
	items = ACL_DAT(a);
	for (int i = 0; i < ACL_NUM(a); i++)
		if (items[i].ai_grantee == ACL_ID_PUBLIC)
			privileges |= ACLITEM_GET_PRIVS(items[i]);
	return privileges;
}

/* The write privileges granted to PUBLIC on the table or one of its columns */
static AclMode
public_write_privileges(const ToolTable *t)
{
	Oid			relid = RelationGetRelid(t->rel);
	AclMode		privileges;
	HeapTuple	tuple;
	bool		isnull;
	Datum		acl;

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	acl = SysCacheGetAttr(RELOID, tuple, Anum_pg_class_relacl, &isnull);
	privileges = public_privileges(acl, isnull);
	ReleaseSysCache(tuple);

	for (int att = 1; att <= RelationGetNumberOfAttributes(t->rel); att++)
	{
		tuple = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid),
								Int16GetDatum(att));
		if (!HeapTupleIsValid(tuple))
			continue;
		acl = SysCacheGetAttr(ATTNUM, tuple, Anum_pg_attribute_attacl, &isnull);
		privileges |= public_privileges(acl, isnull);
		ReleaseSysCache(tuple);
	}
	return privileges & TOOL_WRITE_PRIVILEGES;
}

/*
 * A role that may write the table without having its owner's privileges
 * (nor being a superuser), with the privileges it holds: granted to it, to
 * a role it inherits from, or by pg_write_all_data; on the table or on a
 * column.  The predefined roles themselves are not counted, only the roles
 * granted them.  InvalidOid when there is none.
 */
static Oid
other_writer(const ToolTable *t, AclMode *privileges)
{
	Oid			relid = RelationGetRelid(t->rel);
	Oid			owner = t->rel->rd_rel->relowner;
	Oid			found = InvalidOid;
	Relation	authid = table_open(AuthIdRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(authid, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tuple;

	while (!OidIsValid(found) && HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_authid role = (Form_pg_authid) GETSTRUCT(tuple);
		AclMode		held;

		if (role->rolsuper || IS_BUILT_IN(role->oid) ||
			has_privs_of_role(role->oid, owner))
			continue;
		held = pg_class_aclmask(relid, role->oid, TOOL_WRITE_PRIVILEGES,
								ACLMASK_ALL);
		if (pg_attribute_aclcheck_all(relid, role->oid, ACL_INSERT,
									  ACLMASK_ANY) == ACLCHECK_OK)
			held |= ACL_INSERT;
		if (pg_attribute_aclcheck_all(relid, role->oid, ACL_UPDATE,
									  ACLMASK_ANY) == ACLCHECK_OK)
			held |= ACL_UPDATE;
		if (held != 0)
		{
			found = role->oid;
			*privileges = held;
		}
	}
	systable_endscan(scan);
	table_close(authid, AccessShareLock);
	return found;
}

/* "INSERT, UPDATE" */
static char *
privilege_names(AclMode privileges)
{
	static const struct
	{
		AclMode		bit;
		const char *name;
	}			names[] = {
		{ACL_INSERT, "INSERT"}, {ACL_UPDATE, "UPDATE"}, {ACL_DELETE, "DELETE"},
		{ACL_TRUNCATE, "TRUNCATE"}, {ACL_TRIGGER, "TRIGGER"}
	};
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < lengthof(names); i++)
		if (privileges & names[i].bit)
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
							 names[i].name);
	return buf.data;
}

/*
 * Refuse to adopt migrations from a table that a role other than its owner
 * may write: a row such a role wrote (PostgreSQL does not say who wrote
 * it) would make pg_migrate skip a migration, or a superuser's run leave
 * out the one the owner's deploy needs.  Writing by the owner, or by a
 * role with its privileges, is what the tool itself does.
 */
void
tool_table_check_writers(const ToolTable *t, const Migration *adopted)
{
	AclMode		privileges = public_write_privileges(t);
	const char *writer = "PUBLIC";
	const char *grantee = "PUBLIC";
	const char *owner = GetUserNameFromId(t->rel->rd_rel->relowner, false);

	if (privileges == 0)
	{
		Oid			role = other_writer(t, &privileges);

		if (!OidIsValid(role))
			return;
		writer = psprintf("Role \"%s\"", GetUserNameFromId(role, false));
		grantee = quote_identifier(GetUserNameFromId(role, false));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot adopt migrations from %s's tracking table \"%s\"",
					t->spec->tool, t->qualified),
			 errdetail("%s may write it (%s) without the privileges of its owner \"%s\", so its row for migration \"%s\" need not mean that %s applied it; nothing was done.",
					   writer, privilege_names(privileges), owner,
					   adopted->name, t->spec->tool),
			 errhint("Let only its owner write it, with REVOKE %s ON %s FROM %s; a privilege held through another role (a group, pg_write_all_data) is revoked from that role.",
					 privilege_names(privileges), t->qualified, grantee)));
}

/*
 * A migration's version as the tools that keep it as a bigint read it from
 * the file name (golang-migrate, goose): the leading digits as a number.
 * False when it does not fit in a bigint, where the tool could not have
 * recorded it either.
 */
bool
tool_version_int64(const char *digits, int64 *out)
{
	int64		v = 0;

	for (const char *p = digits; isdigit((unsigned char) *p); p++)
	{
		if (v > (PG_INT64_MAX - (*p - '0')) / 10)
			return false;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return true;
}
