/*-------------------------------------------------------------------------
 *
 * lint_rules.c
 *	  The lint rules: what one parsed statement of a pending migration will
 *	  do to the tables it names, judged against the catalog as it is now
 *	  (row estimates, columns, constraints, types), and which locks it will
 *	  take.
 *
 * A table the catalog does not know is one an earlier statement or
 * migration creates: it is new and empty, and nothing is said of it.  Row
 * counts are the planner's estimates (pg_class.reltuples, kept by ANALYZE
 * and autovacuum); a table never analyzed counts as empty.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/tablecmds.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_coerce.h"
#include "parser/parse_type.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/cmdtag.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "util/compat.h"
#include "preflight/preflight.h"

/* The rules, by stable name */
typedef struct LintRule
{
	const char *name;
	const char *severity;
} LintRule;

static const LintRule lint_rules[] = {
	{"index_not_concurrent", "warning"},
	{"constraint_builds_index", "warning"},
	{"refresh_not_concurrent", "warning"},
	{"vacuum_full", "warning"},
	{"cluster", "warning"},
	{"validating_constraint", "warning"},
	{"set_not_null_scan", "warning"},
	{"table_rewrite", "warning"},
	{"enum_value_used", "error"},
	{"drop_column", "warning"},
	{"drop_table", "warning"},
	{"rename_table", "warning"},
	{"rename_column", "warning"},
	{"lock_timeout_unset", "warning"},
	{"long_transaction", "warning"},
	{"invalid_statement", "error"},
};

/* A relation the catalog knows, as far as the rules need it */
typedef struct LintRel
{
	Oid			relid;
	char	   *name;
	double		rows;			/* estimate; 0 when never analyzed */
} LintRel;

static const LintRule *
find_rule(const char *rule)
{
	for (int i = 0; i < lengthof(lint_rules); i++)
		if (strcmp(lint_rules[i].name, rule) == 0)
			return &lint_rules[i];
	return NULL;
}

bool
lint_rule_known(const char *rule)
{
	return find_rule(rule) != NULL;
}

/* Record a finding of rule at line; message and hint are copied */
void
lint_add(LintState *st, const char *rule, int line, char *message, char *hint)
{
	const LintRule *r = find_rule(rule);
	MemoryContext old;
	LintFinding *f;

	if (r == NULL)
		elog(ERROR, "unrecognized lint rule \"%s\"", rule);
	old = MemoryContextSwitchTo(st->cxt);
	f = palloc(sizeof(LintFinding));
	f->rule = r->name;
	f->severity = r->severity;
	f->line = line;
	f->message = pstrdup(message);
	f->hint = pstrdup(hint);
	st->findings = lappend(st->findings, f);
	MemoryContextSwitchTo(old);
}

/* Look up a relation without locking it; false when it does not exist yet */
static bool
lookup_rel(RangeVar *rv, LintRel *out)
{
	Oid			relid;
	HeapTuple	tup;
	Form_pg_class form;

	if (rv == NULL)
		return false;
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(relid))
		return false;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		return false;			/* dropped meanwhile */
	form = (Form_pg_class) GETSTRUCT(tup);
	out->relid = relid;
	out->name = rv->relname;
	out->rows = form->reltuples > 0 ? form->reltuples : 0;
	ReleaseSysCache(tup);
	return true;
}

static bool
is_large(const LintRel *rel)
{
	return rel->rows > (double) migrate_lint_large_table_rows;
}

/*
 * The migration will take lock mode on rel.  An ACCESS EXCLUSIVE lock on a
 * table others use, without a lock timeout, queues every query on the
 * table behind the migration for as long as it waits.
 */
static void
note_lock(LintState *st, const LintRel *rel, LOCKMODE mode)
{
	ListCell   *lc;
	LintLock   *lock = NULL;
	MemoryContext old;

	foreach(lc, st->locks)
	{
		if (((LintLock *) lfirst(lc))->relid == rel->relid)
			lock = lfirst(lc);
	}
	if (lock == NULL)
	{
		old = MemoryContextSwitchTo(st->cxt);
		lock = palloc0(sizeof(LintLock));
		lock->relid = rel->relid;
		lock->relname = pstrdup(rel->name);
		lock->line = st->stmt->line;
		st->locks = lappend(st->locks, lock);
		MemoryContextSwitchTo(old);
	}
	lock->modes |= LOCKBIT_ON(mode);

	if (mode == AccessExclusiveLock && !st->exclusive_noted &&
		migrate_lock_timeout == 0 && LockTimeout == 0)
	{
		st->exclusive_noted = true;
		lint_add(st, "lock_timeout_unset", st->stmt->line,
				 psprintf("%s takes an ACCESS EXCLUSIVE lock on table \"%s\" with no lock timeout",
						  GetCommandTagName((CommandTag) st->stmt->tag), rel->name),
				 psprintf("Set migrate.lock_timeout (for example to '2s'): while the statement waits for a lock, every query on \"%s\" waits behind it.",
						  rel->name));
	}
}

/* The same for a relation named in the statement, when it exists */
static bool
lock_named(LintState *st, RangeVar *rv, LOCKMODE mode, LintRel *out)
{
	LintRel		rel;

	if (!lookup_rel(rv, out ? out : &rel))
		return false;
	note_lock(st, out ? out : &rel, mode);
	return true;
}

/*
 * What is done to a table named without ONLY is done to every table that
 * inherits from it (the partitions of a partitioned table, the children of
 * an inheritance parent): each is locked alike, and its rows count with
 * the parent's.
 */
static void
lock_children(LintState *st, RangeVar *rv, LintRel *rel, LOCKMODE mode)
{
	ListCell   *lc;

	if (!rv->inh)
		return;
	foreach(lc, find_all_inheritors(rel->relid, NoLock, NULL))
	{
		Oid			child = lfirst_oid(lc);
		HeapTuple	tup;
		Form_pg_class form;
		LintRel		crel;

		if (child == rel->relid)
			continue;
		tup = SearchSysCache1(RELOID, ObjectIdGetDatum(child));
		if (!HeapTupleIsValid(tup))
			continue;
		form = (Form_pg_class) GETSTRUCT(tup);
		crel.relid = child;
		crel.name = pstrdup(NameStr(form->relname));
		crel.rows = form->reltuples > 0 ? form->reltuples : 0;
		ReleaseSysCache(tup);
		rel->rows += crel.rows;
		note_lock(st, &crel, mode);
	}
}

/*
 * Whether the table has a validated CHECK constraint for which match (when
 * given) is true; match gets the constraint's catalog tuple and arg
 */
static bool
has_valid_check(Oid relid, bool (*match) (HeapTuple tup, void *arg), void *arg)
{
	Relation	conrel = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	ScanKeyInit(&key, Anum_pg_constraint_conrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(conrel, ConstraintRelidTypidNameIndexId, true,
							  NULL, 1, &key);
	while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tup);

		found = con->contype == CONSTRAINT_CHECK && con->convalidated &&
			(match == NULL || match(tup, arg));
	}
	systable_endscan(scan);
	table_close(conrel, AccessShareLock);
	return found;
}

/* Whether a CHECK constraint is (column *arg IS NOT NULL) */
static bool
is_not_null_check(HeapTuple tup, void *arg)
{
	AttrNumber	attnum = *(AttrNumber *) arg;
	Datum		bin;
	bool		isnull;
	Node	   *expr;

	bin = SysCacheGetAttr(CONSTROID, tup, Anum_pg_constraint_conbin, &isnull);
	if (isnull)
		return false;
	expr = stringToNode(TextDatumGetCString(bin));
	return IsA(expr, NullTest) &&
		((NullTest *) expr)->nulltesttype == IS_NOT_NULL &&
		IsA(((NullTest *) expr)->arg, Var) &&
		((Var *) ((NullTest *) expr)->arg)->varattno == attnum;
}

/* A column's attribute, or NULL (the caller releases it) */
static HeapTuple
column_tuple(Oid relid, const char *column)
{
	HeapTuple	tup = SearchSysCacheAttName(relid, column);

	return HeapTupleIsValid(tup) ? tup : NULL;
}

/*
 * Whether changing a column from oldtype(oldmod) to newtype(newmod)
 * rewrites the table, as ALTER TABLE decides it: not when the types are
 * binary-coercible and the new type modifier (length, precision) does
 * not shrink or needs no check.
 */
static bool
type_change_rewrites(Oid oldtype, int32 oldmod, Oid newtype, int32 newmod)
{
	if (oldtype == newtype)
	{
		if (newmod < 0 || newmod == oldmod)
			return false;
		if (oldmod < 0)
			return true;		/* every row must be checked */
		switch (oldtype)
		{
			case VARCHAROID:
			case VARBITOID:
			case TIMEOID:
			case TIMETZOID:
			case TIMESTAMPOID:
			case TIMESTAMPTZOID:
			case INTERVALOID:
				return newmod < oldmod;
			case NUMERICOID:
				/* (precision << 16 | scale) + VARHDRSZ: scale must stay */
				return ((oldmod - VARHDRSZ) & 0xffff) != ((newmod - VARHDRSZ) & 0xffff) ||
					newmod < oldmod;
			default:
				return true;
		}
	}
	return !(IsBinaryCoercible(oldtype, newtype) && newmod < 0);
}

/* ALTER COLUMN ... TYPE on an existing, non-empty table */
static void
check_type_change(LintState *st, const LintRel *rel, AlterTableCmd *cmd)
{
	ColumnDef  *def = (ColumnDef *) cmd->def;
	HeapTuple	atttup = column_tuple(rel->relid, cmd->name);
	Form_pg_attribute att;
	Type		newtup;
	int32		newmod = -1;
	bool		rewrites = true;

	if (atttup == NULL)
		return;					/* a column added by this migration */
	att = (Form_pg_attribute) GETSTRUCT(atttup);
	newtup = LookupTypeName(NULL, def->typeName, &newmod, true);
	/* a USING expression or a type the catalog does not know yet rewrites */
	if (newtup != NULL && def->raw_default == NULL)
		rewrites = type_change_rewrites(att->atttypid, att->atttypmod,
										typeTypeId(newtup), newmod);
	if (newtup)
		ReleaseSysCache(newtup);
	ReleaseSysCache(atttup);
	if (rewrites)
		lint_add(st, "table_rewrite", st->stmt->line,
				 psprintf("ALTER COLUMN \"%s\" TYPE %s rewrites table \"%s\" (about %.0f rows) under an ACCESS EXCLUSIVE lock",
						  cmd->name, TypeNameToString(def->typeName),
						  rel->name, rel->rows),
				 pstrdup("Add a column of the new type, fill it in batches and switch the code over to it, in later migrations."));
}

/* raw_expression_tree_walker callback: a call of a volatile function */
static bool
has_volatile_call(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, FuncCall))
	{
		FuncCandidateList c = compat_func_candidates(((FuncCall *) node)->funcname);

		for (; c != NULL; c = c->next)
			if (func_volatile(c->oid) == PROVOLATILE_VOLATILE)
				return true;
	}
	return raw_expression_tree_walker(node, has_volatile_call, context);
}

/*
 * ADD COLUMN on an existing, non-empty table: a default computed per row
 * (volatile, serial, identity, stored generated) rewrites it; a constant
 * one has not since PostgreSQL 11.
 */
static void
check_add_column(LintState *st, const LintRel *rel, ColumnDef *def)
{
	const char *why = NULL;
	ListCell   *lc;
	char	   *typname = strVal(llast(def->typeName->names));

	if (list_length(def->typeName->names) == 1 &&
		(strcmp(typname, "serial") == 0 || strcmp(typname, "bigserial") == 0 ||
		 strcmp(typname, "smallserial") == 0 || strcmp(typname, "serial4") == 0 ||
		 strcmp(typname, "serial8") == 0 || strcmp(typname, "serial2") == 0))
		why = "a serial type";
	foreach(lc, def->constraints)
	{
		Constraint *c = lfirst_node(Constraint, lc);

		if (c->contype == CONSTR_IDENTITY)
			why = "an identity";
		else if (c->contype == CONSTR_GENERATED)
			why = "a stored generated expression";
		else if (c->contype == CONSTR_DEFAULT &&
				 has_volatile_call(c->raw_expr, NULL))
			why = "a volatile default";
	}
	if (def->raw_default && has_volatile_call(def->raw_default, NULL))
		why = "a volatile default";
	if (why)
		lint_add(st, "table_rewrite", st->stmt->line,
				 psprintf("ADD COLUMN \"%s\" with %s rewrites table \"%s\" (about %.0f rows) under an ACCESS EXCLUSIVE lock",
						  def->colname, why, rel->name, rel->rows),
				 pstrdup("Add the column without a default or with a constant one, then fill it in batches."));
}

/* SET NOT NULL on an existing, non-empty table */
static void
check_set_not_null(LintState *st, const LintRel *rel, const char *column)
{
	HeapTuple	atttup = column_tuple(rel->relid, column);
	Form_pg_attribute att;
	bool		scans;

	if (atttup == NULL)
		return;
	att = (Form_pg_attribute) GETSTRUCT(atttup);
	scans = !att->attnotnull &&
		!has_valid_check(rel->relid, is_not_null_check, &att->attnum);
	ReleaseSysCache(atttup);
	if (scans)
		lint_add(st, "set_not_null_scan", st->stmt->line,
				 psprintf("SET NOT NULL on column \"%s\" of table \"%s\" (about %.0f rows) scans the whole table under an ACCESS EXCLUSIVE lock",
						  column, rel->name, rel->rows),
				 psprintf("First add CHECK (%s IS NOT NULL) NOT VALID and VALIDATE CONSTRAINT it, which lets reads and writes go on; SET NOT NULL then uses it and does not scan.",
						  quote_identifier(column)));
}

static void
check_add_constraint(LintState *st, const LintRel *rel, Constraint *c)
{
	const char *what = c->contype == CONSTR_PRIMARY ? "PRIMARY KEY" :
		c->contype == CONSTR_UNIQUE ? "UNIQUE" :
		c->contype == CONSTR_FOREIGN ? "FOREIGN KEY" : "CHECK";

	if ((c->contype == CONSTR_PRIMARY || c->contype == CONSTR_UNIQUE) &&
		c->indexname == NULL && is_large(rel))
		lint_add(st, "constraint_builds_index", st->stmt->line,
				 psprintf("ADD %s on table \"%s\" (about %.0f rows) builds its index under an ACCESS EXCLUSIVE lock",
						  what, rel->name, rel->rows),
				 pstrdup("Build the index first with CREATE UNIQUE INDEX CONCURRENTLY in a migration of its own, then add the constraint with USING INDEX."));
	if ((c->contype == CONSTR_FOREIGN || c->contype == CONSTR_CHECK) &&
		!c->skip_validation && rel->rows > 0)
		lint_add(st, "validating_constraint", st->stmt->line,
				 psprintf("ADD %s on table \"%s\" (about %.0f rows) checks every row while it holds a lock that blocks writes",
						  what, rel->name, rel->rows),
				 pstrdup("Add the constraint with NOT VALID, then run ALTER TABLE ... VALIDATE CONSTRAINT in a later migration: validating lets reads and writes go on."));
	if (c->contype == CONSTR_FOREIGN)
		(void) lock_named(st, c->pktable, ShareRowExclusiveLock, NULL);
}

/*
 * ATTACH PARTITION scans the table it attaches to check that its rows
 * fit the partition bound, under an ACCESS EXCLUSIVE lock on it, unless a
 * valid CHECK constraint of the table implies the bound.  Whether one
 * does is not worked out here: any valid CHECK constraint silences it.
 */
static void
check_attach_partition(LintState *st, PartitionCmd *cmd)
{
	LintRel		part;

	if (!lock_named(st, cmd->name, AccessExclusiveLock, &part))
		return;
	if (part.rows > 0 && !has_valid_check(part.relid, NULL, NULL))
		lint_add(st, "validating_constraint", st->stmt->line,
				 psprintf("ATTACH PARTITION \"%s\" (about %.0f rows) scans the table to check the partition bound under an ACCESS EXCLUSIVE lock on it",
						  part.name, part.rows),
				 pstrdup("First add to the table a CHECK constraint matching the partition bound, NOT VALID, and VALIDATE it, which lets reads and writes go on: ATTACH PARTITION then uses it and does not scan."));
}

static void
lint_alter_table(LintState *st, AlterTableStmt *stmt)
{
	LintRel		rel;
	ListCell   *lc;
	LOCKMODE	mode = AlterTableGetLockLevel(stmt->cmds);
	AlterTableType first = linitial_node(AlterTableCmd, stmt->cmds)->subtype;

	if (!lock_named(st, stmt->relation, mode, &rel))
		return;
	/* attaching or detaching a partition leaves the others alone */
	if (first != AT_AttachPartition && first != AT_DetachPartition)
		lock_children(st, stmt->relation, &rel, mode);
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		switch (cmd->subtype)
		{
			case AT_AddConstraint:
				if (IsA(cmd->def, Constraint))
					check_add_constraint(st, &rel, (Constraint *) cmd->def);
				break;
			case AT_SetNotNull:
				if (rel.rows > 0)
					check_set_not_null(st, &rel, cmd->name);
				break;
			case AT_AlterColumnType:
				if (rel.rows > 0)
					check_type_change(st, &rel, cmd);
				break;
			case AT_AddColumn:
				/* IF NOT EXISTS of a column that exists does nothing */
				if (rel.rows > 0 && IsA(cmd->def, ColumnDef) &&
					!(cmd->missing_ok &&
					  get_attnum(rel.relid, ((ColumnDef *) cmd->def)->colname) != InvalidAttrNumber))
					check_add_column(st, &rel, (ColumnDef *) cmd->def);
				break;
			case AT_AttachPartition:
				if (IsA(cmd->def, PartitionCmd))
					check_attach_partition(st, (PartitionCmd *) cmd->def);
				break;
			case AT_SetLogged:
			case AT_SetUnLogged:
				if (rel.rows > 0)
					lint_add(st, "table_rewrite", st->stmt->line,
							 psprintf("SET %s rewrites table \"%s\" (about %.0f rows) under an ACCESS EXCLUSIVE lock",
									  cmd->subtype == AT_SetLogged ? "LOGGED" : "UNLOGGED",
									  rel.name, rel.rows),
							 pstrdup("Run it when the table may be locked for as long as a copy of it takes, or create a new table and move the rows in batches."));
				break;
			case AT_DropColumn:
				if (get_attnum(rel.relid, cmd->name) != InvalidAttrNumber)
					lint_add(st, "drop_column", st->stmt->line,
							 psprintf("DROP COLUMN \"%s\" of table \"%s\" breaks the code that still uses the column while the deploy runs",
									  cmd->name, rel.name),
							 pstrdup("Deploy code that no longer reads or writes the column first, then drop it in a later migration."));
				break;
			default:
				if (compat_is_set_access_method(cmd->subtype) && rel.rows > 0)
					lint_add(st, "table_rewrite", st->stmt->line,
							 psprintf("SET ACCESS METHOD rewrites table \"%s\" (about %.0f rows) under an ACCESS EXCLUSIVE lock",
									  rel.name, rel.rows),
							 pstrdup("Run it when the table may be locked for as long as a copy of it takes, or create a new table and move the rows in batches."));
				break;
		}
	}
}

/*
 * ALTER DOMAIN ... ADD CONSTRAINT (without NOT VALID), VALIDATE CONSTRAINT
 * and SET NOT NULL check every value of the domain in every table that
 * uses it, each under a SHARE lock, which blocks writes.
 */
static void
lint_alter_domain(LintState *st, AlterDomainStmt *stmt)
{
	const char *what;
	Type		tup;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	List	   *relids = NIL;
	ListCell   *lc;

	if (stmt->subtype == 'C' && IsA(stmt->def, Constraint) &&
		!((Constraint *) stmt->def)->skip_validation)
		what = "ADD CONSTRAINT";
	else if (stmt->subtype == 'V')
		what = "VALIDATE CONSTRAINT";
	else if (stmt->subtype == 'O')
		what = "SET NOT NULL";
	else
		return;
	tup = LookupTypeName(NULL, makeTypeNameFromNameList(stmt->typeName),
						 NULL, true);
	if (tup == NULL)
		return;					/* created by this migration */
	args[0] = ObjectIdGetDatum(typeTypeId(tup));
	ReleaseSysCache(tup);
	spi_run("SELECT DISTINCT a.attrelid FROM pg_catalog.pg_attribute a"
			" JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.attrelid"
			" WHERE a.atttypid OPERATOR(pg_catalog.=) $1 AND a.attnum > 0"
			" AND NOT a.attisdropped AND c.relkind IN ('r', 'm')",
			1, argtypes, args, NULL, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		relids = lappend_oid(relids,
							 DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
															SPI_tuptable->tupdesc,
															1, &isnull)));
	}
	SPI_freetuptable(SPI_tuptable);
	foreach(lc, relids)
	{
		RangeVar   *rv = makeRangeVar(get_namespace_name(get_rel_namespace(lfirst_oid(lc))),
									  get_rel_name(lfirst_oid(lc)), -1);
		LintRel		rel;

		if (lock_named(st, rv, ShareLock, &rel) && rel.rows > 0)
			lint_add(st, "validating_constraint", st->stmt->line,
					 psprintf("%s on domain \"%s\" checks every row of table \"%s\" (about %.0f rows) under a SHARE lock, which blocks writes",
							  what, NameListToString(stmt->typeName), rel.name, rel.rows),
					 pstrdup("A domain's constraint is checked under that lock even when added NOT VALID and validated later: rather add a CHECK constraint NOT VALID to each table using the domain and VALIDATE it, which lets writes go on."));
	}
}

/*
 * REINDEX of a table or an index blocks writes to the table (SHARE) and,
 * for each index rebuilt, the queries that would use it (ACCESS
 * EXCLUSIVE); CONCURRENTLY takes SHARE UPDATE EXCLUSIVE instead.
 */
static void
lint_reindex(LintState *st, ReindexStmt *stmt)
{
	bool		concurrent = false;
	LintRel		rel;
	ListCell   *lc;

	foreach(lc, compat_reindex_params(stmt))
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		if (strcmp(opt->defname, "concurrently") == 0)
			concurrent = opt->arg == NULL || defGetBoolean(opt);
	}
	if (stmt->relation == NULL)
		return;					/* SCHEMA, DATABASE, SYSTEM */
	if (stmt->kind == REINDEX_OBJECT_TABLE)
		(void) lock_named(st, stmt->relation,
						  concurrent ? ShareUpdateExclusiveLock : ShareLock, NULL);
	else if (stmt->kind == REINDEX_OBJECT_INDEX && lookup_rel(stmt->relation, &rel))
	{
		Oid			table = IndexGetRelation(rel.relid, true);

		if (OidIsValid(table))
		{
			LintRel		trel = {table, get_rel_name(table), 0};

			note_lock(st, &trel, concurrent ? ShareUpdateExclusiveLock : ShareLock);
		}
		note_lock(st, &rel, concurrent ? ShareUpdateExclusiveLock : AccessExclusiveLock);
	}
}

/* "full" among VACUUM's options */
static bool
vacuum_full(VacuumStmt *stmt)
{
	ListCell   *lc;

	if (!stmt->is_vacuumcmd)
		return false;
	foreach(lc, stmt->options)
	{
		DefElem    *opt = lfirst(lc);

		if (strcmp(opt->defname, "full") == 0)
			return opt->arg == NULL || defGetBoolean(opt);
	}
	return false;
}

/* A command that rewrites a large table: VACUUM FULL, CLUSTER */
static void
lint_rewrite_command(LintState *st, RangeVar *rv, const char *rule,
					 const char *command)
{
	LintRel		rel;

	if (rv == NULL)
		lint_add(st, rule, st->stmt->line,
				 psprintf("%s without a table rewrites every table it applies to, each under an ACCESS EXCLUSIVE lock", command),
				 pstrdup("Name the tables, and rebuild large ones online with a tool such as pg_repack rather than in a migration."));
	else if (lock_named(st, rv, AccessExclusiveLock, &rel) && is_large(&rel))
		lint_add(st, rule, st->stmt->line,
				 psprintf("%s of table \"%s\" (about %.0f rows) rewrites it under an ACCESS EXCLUSIVE lock",
						  command, rel.name, rel.rows),
				 pstrdup("Rebuild large tables online with a tool such as pg_repack rather than in a migration; plain VACUUM takes no such lock."));
}

static void
lint_rename(LintState *st, RenameStmt *stmt)
{
	LintRel		rel;

	if (stmt->renameType == OBJECT_TABLE &&
		lock_named(st, stmt->relation, AccessExclusiveLock, &rel))
		lint_add(st, "rename_table", st->stmt->line,
				 psprintf("renaming table \"%s\" to \"%s\" breaks the code that still uses the old name while the deploy runs",
						  rel.name, stmt->newname),
				 pstrdup("Rename in two steps: rename the table and create a view with the old name in its place, deploy code that uses the new name, then drop the view in a later migration."));
	else if (stmt->renameType == OBJECT_COLUMN &&
			 stmt->relationType == OBJECT_TABLE &&
			 lock_named(st, stmt->relation, AccessExclusiveLock, &rel) &&
			 get_attnum(rel.relid, stmt->subname) != InvalidAttrNumber)
		lint_add(st, "rename_column", st->stmt->line,
				 psprintf("renaming column \"%s\" of table \"%s\" to \"%s\" breaks the code that still uses the old name while the deploy runs",
						  stmt->subname, rel.name, stmt->newname),
				 pstrdup("Rename in two steps: add the new column and keep both in step (a trigger), deploy code that uses the new one, then drop the old column in a later migration."));
}

static void
lint_drop(LintState *st, DropStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->objects)
	{
		LintRel		rel;
		RangeVar   *rv;

		if (stmt->removeType != OBJECT_TABLE && stmt->removeType != OBJECT_INDEX)
			return;
		rv = makeRangeVarFromNameList(lfirst(lc));
		if (stmt->removeType == OBJECT_TABLE &&
			lock_named(st, rv, AccessExclusiveLock, &rel))
			lint_add(st, "drop_table", st->stmt->line,
					 psprintf("DROP TABLE \"%s\" breaks the code that still uses the table while the deploy runs",
							  rel.name),
					 pstrdup("Deploy code that no longer uses the table first, then drop it in a later migration."));
		else if (stmt->removeType == OBJECT_INDEX && !stmt->concurrent &&
				 lookup_rel(rv, &rel))
		{
			/* DROP INDEX locks the index's table too */
			Oid			table = IndexGetRelation(rel.relid, true);

			if (OidIsValid(table))
			{
				rel.relid = table;
				rel.name = get_rel_name(table);
				note_lock(st, &rel, AccessExclusiveLock);
			}
		}
	}
}

/*
 * ALTER TYPE ... ADD VALUE to an enum that exists: inside the migration's
 * transaction, the new value cannot be used until it commits.  lint.c
 * looks for uses in the statements that follow.
 */
static void
lint_alter_enum(LintState *st, AlterEnumStmt *stmt)
{
	TypeName   *tn;
	Type		tup;
	LintEnumValue *ev;
	MemoryContext old;

	if (stmt->oldVal != NULL || stmt->newVal == NULL || st->no_transaction)
		return;
	tn = makeTypeNameFromNameList(stmt->typeName);
	tup = LookupTypeName(NULL, tn, NULL, true);
	if (tup == NULL)
		return;					/* created in this transaction: usable */
	ReleaseSysCache(tup);
	old = MemoryContextSwitchTo(st->cxt);
	ev = palloc(sizeof(LintEnumValue));
	ev->type = pstrdup(NameListToString(stmt->typeName));
	ev->value = pstrdup(stmt->newVal);
	ev->line = st->stmt->line;
	st->enum_values = lappend(st->enum_values, ev);
	MemoryContextSwitchTo(old);
}

/* Judge one parsed statement; st->stmt is where it is */
void
lint_statement(LintState *st, Node *node)
{
	LintRel		rel;
	ListCell   *lc;

	st->exclusive_noted = false;
	switch (nodeTag(node))
	{
		case T_AlterTableStmt:
			lint_alter_table(st, (AlterTableStmt *) node);
			break;
		case T_IndexStmt:
			{
				IndexStmt  *stmt = (IndexStmt *) node;

				LOCKMODE	mode = stmt->concurrent ? ShareUpdateExclusiveLock : ShareLock;

				if (!lock_named(st, stmt->relation, mode, &rel))
					break;
				lock_children(st, stmt->relation, &rel, mode);
				if (!stmt->concurrent && is_large(&rel))
					lint_add(st, "index_not_concurrent", st->stmt->line,
							 psprintf("CREATE INDEX on table \"%s\" (about %.0f rows) blocks writes to the table until the index is built",
									  rel.name, rel.rows),
							 pstrdup("Use CREATE INDEX CONCURRENTLY, in a migration of its own: migrate.run() runs it outside a transaction block."));
				break;
			}
		case T_RefreshMatViewStmt:
			{
				RefreshMatViewStmt *stmt = (RefreshMatViewStmt *) node;

				if (lock_named(st, stmt->relation,
							   stmt->concurrent ? ExclusiveLock : AccessExclusiveLock,
							   &rel) &&
					!stmt->concurrent && is_large(&rel))
					lint_add(st, "refresh_not_concurrent", st->stmt->line,
							 psprintf("REFRESH MATERIALIZED VIEW \"%s\" (about %.0f rows) blocks reads of the view until it is done",
									  rel.name, rel.rows),
							 pstrdup("Use REFRESH MATERIALIZED VIEW CONCURRENTLY, which needs a unique index on the view."));
				break;
			}
		case T_VacuumStmt:
			if (vacuum_full((VacuumStmt *) node))
			{
				List	   *rels = ((VacuumStmt *) node)->rels;

				if (rels == NIL)
					lint_rewrite_command(st, NULL, "vacuum_full", "VACUUM FULL");
				foreach(lc, rels)
					lint_rewrite_command(st, lfirst_node(VacuumRelation, lc)->relation,
										 "vacuum_full", "VACUUM FULL");
			}
			break;
		case T_ClusterStmt:
			lint_rewrite_command(st, ((ClusterStmt *) node)->relation,
								 "cluster", "CLUSTER");
			break;
		case T_RenameStmt:
			lint_rename(st, (RenameStmt *) node);
			break;
		case T_DropStmt:
			lint_drop(st, (DropStmt *) node);
			break;
		case T_TruncateStmt:
			foreach(lc, ((TruncateStmt *) node)->relations)
				(void) lock_named(st, lfirst(lc), AccessExclusiveLock, NULL);
			break;
		case T_LockStmt:
			foreach(lc, ((LockStmt *) node)->relations)
				(void) lock_named(st, lfirst(lc), ((LockStmt *) node)->mode, NULL);
			break;
		case T_CreateTrigStmt:
			(void) lock_named(st, ((CreateTrigStmt *) node)->relation,
							  ShareRowExclusiveLock, NULL);
			break;
		case T_RuleStmt:
			(void) lock_named(st, ((RuleStmt *) node)->relation,
							  AccessExclusiveLock, NULL);
			break;
		case T_AlterDomainStmt:
			lint_alter_domain(st, (AlterDomainStmt *) node);
			break;
		case T_ReindexStmt:
			lint_reindex(st, (ReindexStmt *) node);
			break;
		case T_AlterEnumStmt:
			lint_alter_enum(st, (AlterEnumStmt *) node);
			break;
		default:
			break;
	}
}
