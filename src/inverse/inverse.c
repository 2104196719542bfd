/*-------------------------------------------------------------------------
 *
 * inverse.c
 *	  The down script generated as an up script runs, statement by
 *	  statement: the statement parsed again, handed to its family (create.c,
 *	  drop.c, table.c, or here for renames, comments and what needs no
 *	  inverse) before it runs, to read from the catalog what it is about to
 *	  change, and after, to write its inverse.  Inverses are kept newest
 *	  statement first, the order rollback must run them in.
 *
 * Names in the inverses are schema-qualified and quoted, as the statement
 * resolved them (the migration's search_path); the catalog's deparse
 * functions run with search_path = pg_catalog so that what they print is
 * qualified too, and the generated script means the same whatever the
 * search_path of the rollback.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/relation.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_type.h"
#include "commands/comment.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_type.h"
#include "parser/parser.h"
#include "tcop/cmdtag.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "util/compat.h"
#include "exec/exec.h"
#include "inverse/inverse.h"

/* What a rename or a comment captured before it ran */
typedef struct Captured
{
	Oid			relid;
	char	   *old_name;
	char	   *text;			/* a whole inverse, written before */
} Captured;

DownGenerator *
inverse_start(const Script *up, bool top_level)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "pg_migrate generated down",
											  ALLOCSET_DEFAULT_SIZES);
	DownGenerator *g = MemoryContextAllocZero(cxt, sizeof(DownGenerator));

	g->cxt = cxt;
	g->file = MemoryContextStrdup(cxt, up->file);
	g->top_level = top_level;
	g->keep_rows = script_has_directive(up->sql, "migrate:keep-rows");
	return g;
}

/* The first line of a statement, shortened, for a comment */
static char *
first_line(const char *sql)
{
	int			len = strcspn(sql, "\r\n");

	if (len > 72)
		return psprintf("%s...", pnstrdup(sql, script_chars_to_bytes(sql, 69)));
	return pnstrdup(sql, len);
}

/* ALTER ... RENAME of a relation, a column, a constraint, a schema, a type */
static void
rename_before(DownGenerator *g, RenameStmt *stmt)
{
	Captured   *c = palloc0(sizeof(Captured));

	g->captured = c;
	if (stmt->relation)
	{
		c->relid = RangeVarGetRelid(stmt->relation, NoLock, stmt->missing_ok);
		if (!OidIsValid(c->relid))
		{
			g->skip = true;
			return;
		}
		c->old_name = get_rel_name(c->relid);
	}
}

static void
rename_after(DownGenerator *g, RenameStmt *stmt)
{
	Captured   *c = g->captured;
	const char *what;

	switch (stmt->renameType)
	{
		case OBJECT_TABLE:
		case OBJECT_VIEW:
		case OBJECT_MATVIEW:
		case OBJECT_SEQUENCE:
		case OBJECT_INDEX:
		case OBJECT_FOREIGN_TABLE:
			what = stmt->renameType == OBJECT_TABLE ? "TABLE" :
				stmt->renameType == OBJECT_VIEW ? "VIEW" :
				stmt->renameType == OBJECT_MATVIEW ? "MATERIALIZED VIEW" :
				stmt->renameType == OBJECT_SEQUENCE ? "SEQUENCE" :
				stmt->renameType == OBJECT_INDEX ? "INDEX" : "FOREIGN TABLE";
			inverse_add(g, "ALTER %s %s RENAME TO %s", what,
						qualified_relation(c->relid), quote_identifier(c->old_name));
			break;
		case OBJECT_COLUMN:
			inverse_add(g, "ALTER TABLE %s RENAME COLUMN %s TO %s",
						qualified_relation(c->relid),
						quote_identifier(stmt->newname),
						quote_identifier(stmt->subname));
			break;
		case OBJECT_TABCONSTRAINT:
			inverse_add(g, "ALTER TABLE %s RENAME CONSTRAINT %s TO %s",
						qualified_relation(c->relid),
						quote_identifier(stmt->newname),
						quote_identifier(stmt->subname));
			break;
		case OBJECT_SCHEMA:
			inverse_add(g, "ALTER SCHEMA %s RENAME TO %s",
						quote_identifier(stmt->newname),
						quote_identifier(stmt->subname));
			break;
		case OBJECT_TYPE:
		case OBJECT_DOMAIN:
			{
				List	   *names = castNode(List, stmt->object);
				char	   *schema;
				char	   *name;
				List	   *renamed;

				DeconstructQualifiedName(names, &schema, &name);
				/* the type keeps its schema: find it under its new name */
				renamed = list_make1(makeString(stmt->newname));
				if (schema)
					renamed = lcons(makeString(schema), renamed);
				inverse_add(g, "ALTER %s %s RENAME TO %s",
							stmt->renameType == OBJECT_TYPE ? "TYPE" : "DOMAIN",
							format_type_be_qualified(typenameTypeId(NULL,
																	makeTypeNameFromNameList(renamed))),
							quote_identifier(name));
			}
			break;
		default:
			inverse_partial(g, "this rename is not inverted");
			break;
	}
}

/* The keyword COMMENT ON uses for the kinds whose comments are restored */
static const char *
comment_keyword(ObjectType type)
{
	switch (type)
	{
		case OBJECT_TABLE:
			return "TABLE";
		case OBJECT_COLUMN:
			return "COLUMN";
		case OBJECT_INDEX:
			return "INDEX";
		case OBJECT_SEQUENCE:
			return "SEQUENCE";
		case OBJECT_VIEW:
			return "VIEW";
		case OBJECT_MATVIEW:
			return "MATERIALIZED VIEW";
		case OBJECT_FOREIGN_TABLE:
			return "FOREIGN TABLE";
		case OBJECT_FUNCTION:
			return "FUNCTION";
		case OBJECT_PROCEDURE:
			return "PROCEDURE";
		case OBJECT_ROUTINE:
			return "ROUTINE";
		case OBJECT_TYPE:
			return "TYPE";
		case OBJECT_DOMAIN:
			return "DOMAIN";
		case OBJECT_SCHEMA:
			return "SCHEMA";
		case OBJECT_EXTENSION:
			return "EXTENSION";
		case OBJECT_TABCONSTRAINT:
			return "CONSTRAINT";
		case OBJECT_TRIGGER:
			return "TRIGGER";
		case OBJECT_POLICY:
			return "POLICY";
		default:
			return NULL;
	}
}

/*
 * COMMENT ON: the comment it replaces, written back on the same object,
 * named by its identity (which pg_identify_object() prints qualified).
 */
static void
comment_before(DownGenerator *g, CommentStmt *stmt)
{
	const char *keyword = comment_keyword(stmt->objtype);
	Relation	rel = NULL;
	ObjectAddress address;
	Oid			types[3] = {OIDOID, OIDOID, INT4OID};
	Datum		values[3];
	List	   *rows;
	char	   *prior;

	if (keyword == NULL)
	{
		inverse_partial(g, "COMMENT ON this kind of object is not inverted");
		return;
	}
	/* the lock COMMENT ON takes itself */
	address = get_object_address(stmt->objtype, stmt->object, &rel,
								 ShareUpdateExclusiveLock, false);
	if (rel)
		relation_close(rel, NoLock);
	values[0] = ObjectIdGetDatum(address.classId);
	values[1] = ObjectIdGetDatum(address.objectId);
	values[2] = Int32GetDatum(address.objectSubId);
	rows = inverse_query("SELECT identity FROM pg_identify_object($1, $2, $3)",
						 3, types, values, 1);
	prior = GetComment(address.objectId, address.classId, address.objectSubId);
	inverse_add(g, "COMMENT ON %s %s IS %s", keyword,
				((char **) linitial(rows))[0],
				prior ? quote_literal_cstr(prior) : "NULL");
}

/* ALTER TYPE ... RENAME VALUE, and ADD VALUE (enum.c) */
static void
alter_enum_before(DownGenerator *g, AlterEnumStmt *stmt)
{
	Oid			typid;

	if (stmt->oldVal == NULL)
	{
		inverse_enum_add_value(g, stmt);
		return;
	}
	typid = typenameTypeId(NULL, makeTypeNameFromNameList(stmt->typeName));
	inverse_add(g, "ALTER TYPE %s RENAME VALUE %s TO %s",
				format_type_be_qualified(typid), quote_literal_cstr(stmt->newVal),
				quote_literal_cstr(stmt->oldVal));
}

/* A statement that changes nothing a rollback must undo */
static bool
needs_no_inverse(Node *node)
{
	switch (nodeTag(node))
	{
		case T_VariableSetStmt:
		case T_VariableShowStmt:
		case T_TransactionStmt:
		case T_LockStmt:
		case T_VacuumStmt:
		case T_CheckPointStmt:
		case T_NotifyStmt:
		case T_ListenStmt:
		case T_UnlistenStmt:
		case T_DiscardStmt:
		case T_ReindexStmt:
		case T_ClusterStmt:
		case T_RefreshMatViewStmt:
		case T_ConstraintsSetStmt:
		case T_ExplainStmt:
			return true;
		default:
			return false;
	}
}

/*
 * Whether an INSERT, UPDATE or DELETE writes only into a table the script
 * made, whose inverse drops it with its rows.  A WITH clause may write
 * elsewhere.
 */
static bool
writes_created_table(DownGenerator *g, Node *node)
{
	RangeVar   *rv;
	Node	   *with;

	switch (nodeTag(node))
	{
		case T_InsertStmt:
			rv = ((InsertStmt *) node)->relation;
			with = (Node *) ((InsertStmt *) node)->withClause;
			break;
		case T_UpdateStmt:
			rv = ((UpdateStmt *) node)->relation;
			with = (Node *) ((UpdateStmt *) node)->withClause;
			break;
		case T_DeleteStmt:
			rv = ((DeleteStmt *) node)->relation;
			with = (Node *) ((DeleteStmt *) node)->withClause;
			break;
		default:
			return false;
	}
	/* another database's name is an error, for the statement to raise */
	return with == NULL && g->created != NIL && rv->catalogname == NULL &&
		list_member_oid(g->created, RangeVarGetRelid(rv, NoLock, true));
}

/* Why a statement of this kind is not undone by the generated script */
static void
not_invertible(DownGenerator *g, Node *node, uint16 tag)
{
	switch (nodeTag(node))
	{
		case T_DoStmt:
			inverse_partial(g, "a DO block is procedural code, which is not inverted");
			break;
		case T_InsertStmt:
			inverse_partial(g, "the rows an INSERT added are not removed: no key is known to find them by");
			break;
		case T_UpdateStmt:
			inverse_partial(g, "the rows an UPDATE changed were not kept");
			break;
		case T_DeleteStmt:
			inverse_partial(g, "the rows a DELETE removed were not kept");
			break;
		case T_TruncateStmt:
			inverse_partial(g, "the rows a TRUNCATE removed were not kept");
			break;
		case T_CopyStmt:
			inverse_partial(g, "the rows a COPY added are not removed");
			break;
		case T_SelectStmt:
			inverse_partial(g, "a query may change data through the functions it calls, which is not inverted");
			break;
		case T_CallStmt:
			inverse_partial(g, "a procedure's work is not inverted");
			break;
		default:
			inverse_partial(g, "%s is not inverted",
							GetCommandTagName((CommandTag) tag));
			break;
	}
}

static bool
is_create(Node *node)
{
	switch (nodeTag(node))
	{
		case T_CreateStmt:
		case T_IndexStmt:
		case T_ViewStmt:
		case T_CreateTableAsStmt:
		case T_CreateSeqStmt:
		case T_CreateFunctionStmt:
		case T_CreateTrigStmt:
		case T_CompositeTypeStmt:
		case T_CreateEnumStmt:
		case T_CreateRangeStmt:
		case T_CreateDomainStmt:
		case T_CreateSchemaStmt:
		case T_CreateExtensionStmt:
		case T_CreatePolicyStmt:
			return true;
		case T_SelectStmt:
			return ((SelectStmt *) node)->intoClause != NULL;
		default:
			return false;
	}
}

/* Whether rv names a relation the script created */
static bool
created_here(DownGenerator *g, RangeVar *rv)
{
	Oid			relid;

	/* another database's name is an error, for the statement to raise */
	if (g->latest_created == NIL || rv == NULL || rv->catalogname != NULL)
		return false;
	relid = RangeVarGetRelid(rv, NoLock, true);
	return OidIsValid(relid) && list_member_oid(g->latest_created, relid);
}

/* Whether the name list, less its last lcut names, is a relation created here */
static bool
names_created_here(DownGenerator *g, List *names, int lcut)
{
	/* a name of too many parts is an error, for the statement to raise */
	if (g->latest_created == NIL || list_length(names) <= lcut ||
		list_length(names) - lcut > 3)
		return false;
	return created_here(g, makeRangeVarFromNameList(list_truncate(list_copy(names),
																   list_length(names) - lcut)));
}

/*
 * Whether the statement only changes a relation that this script created
 * last: the DROP that undoes its CREATE undoes this statement too, so it
 * needs no inverse, and no catalog read (in a migration that creates
 * tables, most statements are of this kind: columns, constraints, indexes,
 * comments, grants of its new tables).  Only while nothing else was made
 * since the relation: what the statement adds may depend on it (a trigger
 * on a function, a foreign key on a table, a column on a type), and the
 * inverse that drops it runs before the relation's DROP.  Attaching a
 * partition is not of this kind: dropping the new parent would drop the
 * partition with it.
 */
static bool
on_created_relation(DownGenerator *g, Node *node)
{
	if (g->latest_created == NIL)
		return false;
	switch (nodeTag(node))
	{
		case T_AlterTableStmt:
			{
				AlterTableStmt *stmt = (AlterTableStmt *) node;
				ListCell   *lc;

				foreach(lc, stmt->cmds)
				{
					AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

					if (cmd->subtype == AT_AttachPartition ||
						cmd->subtype == AT_DetachPartition)
						return false;
				}
				return created_here(g, stmt->relation);
			}
		case T_IndexStmt:
			return created_here(g, ((IndexStmt *) node)->relation);
		case T_CreateTrigStmt:
			return created_here(g, ((CreateTrigStmt *) node)->relation);
		case T_CreatePolicyStmt:
			return created_here(g, ((CreatePolicyStmt *) node)->table);
		case T_CommentStmt:
			{
				CommentStmt *stmt = (CommentStmt *) node;

				switch (stmt->objtype)
				{
					case OBJECT_TABLE:
					case OBJECT_VIEW:
					case OBJECT_MATVIEW:
					case OBJECT_FOREIGN_TABLE:
						return names_created_here(g, castNode(List, stmt->object), 0);
					case OBJECT_COLUMN:
					case OBJECT_TABCONSTRAINT:
					case OBJECT_TRIGGER:
					case OBJECT_POLICY:
						return names_created_here(g, castNode(List, stmt->object), 1);
					default:
						return false;
				}
			}
		case T_GrantStmt:
			{
				GrantStmt  *stmt = (GrantStmt *) node;
				ListCell   *lc;

				if (stmt->targtype != ACL_TARGET_OBJECT || stmt->objtype != OBJECT_TABLE)
					return false;
				foreach(lc, stmt->objects)
					if (!created_here(g, lfirst_node(RangeVar, lc)))
						return false;
				return stmt->objects != NIL;
			}
		default:
			return false;
	}
}

/*
 * The statement parsed again, or NULL when it is not one statement that
 * parses (read_before() then says so).  The grammar only allocates memory,
 * so its error is caught without a subtransaction: in a migration that
 * creates many tables, a subtransaction for each statement costs more than
 * the rest of the generator, as each commit of one walks the list of every
 * file the transaction created.
 */
static Node *
parse_quietly(const char *sql)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *volatile raw = NIL;

	PG_TRY();
	{
		raw = compat_raw_parser(sql);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		raw = NIL;
	}
	PG_END_TRY();
	return list_length(raw) == 1 ? linitial_node(RawStmt, raw)->stmt : NULL;
}

static void read_parsed(DownGenerator *g, Node *node);

static void
read_parsed_step(DownGenerator *g, const char *sql)
{
	read_parsed(g, g->parsetree);
}

/*
 * Text with its runs of white space made one space, lowercased, for
 * comparing a few keywords whatever their layout.
 */
static char *
normalized(const char *text)
{
	StringInfoData buf;
	bool		space = false;

	initStringInfo(&buf);
	for (; *text; text++)
	{
		if (isspace((unsigned char) *text))
		{
			space = buf.len > 0;
			continue;
		}
		if (space)
			appendStringInfoChar(&buf, ' ');
		space = false;
		appendStringInfoChar(&buf, pg_tolower((unsigned char) *text));
	}
	return buf.data;
}

/*
 * The one statement of a DO block written as drizzle-kit writes its
 * CREATE TYPE and ADD CONSTRAINT, "BEGIN <statement>; EXCEPTION WHEN
 * duplicate_object THEN null; END", parsed; NULL for any other block.
 * Such a block makes what its statement makes, or nothing when that is
 * there already, which the statement's own inverse tells from the catalog
 * (as for IF NOT EXISTS).
 */
static Node *
guarded_statement(DoStmt *stmt)
{
	const char *body = NULL;
	const char *start;
	const char *handler = NULL;
	const char *p;
	char	   *tail;
	List	   *raw;
	Node	   *inner;
	ListCell   *lc;

	foreach(lc, stmt->args)
	{
		DefElem    *d = lfirst_node(DefElem, lc);

		if (strcmp(d->defname, "as") == 0)
			body = strVal(d->arg);
		else if (strcmp(d->defname, "language") == 0 &&
				 strcmp(strVal(d->arg), "plpgsql") != 0)
			return NULL;
	}
	if (body == NULL)
		return NULL;
	start = body;
	while (isspace((unsigned char) *start))
		start++;
	if (pg_strncasecmp(start, "begin", 5) != 0 ||
		!isspace((unsigned char) start[5]))
		return NULL;
	start += 5;
	/* the last EXCEPTION: the statement's own text may hold the word */
	for (p = start; *p; p++)
		if (pg_strncasecmp(p, "exception", 9) == 0 && isspace((unsigned char) p[9]) &&
			isspace((unsigned char) p[-1]))
			handler = p;
	if (handler == NULL)
		return NULL;
	tail = normalized(handler);
	if (strcmp(tail, "exception when duplicate_object then null; end") != 0 &&
		strcmp(tail, "exception when duplicate_object then null; end;") != 0)
		return NULL;
	raw = compat_raw_parser(pnstrdup(start, handler - start));
	if (list_length(raw) != 1)
		return NULL;
	inner = linitial_node(RawStmt, raw)->stmt;
	if (!is_create(inner) && !IsA(inner, AlterTableStmt))
		return NULL;
	return inner;
}

/* The running statement parsed again, and what it is about to change read */
static void
read_before(DownGenerator *g, const char *sql)
{
	List	   *raw;
	Node	   *node;

	raw = compat_raw_parser(sql);
	if (list_length(raw) != 1)
	{
		inverse_partial(g, "the statement could not be read on its own");
		g->skip = true;
		return;
	}
	node = linitial_node(RawStmt, raw)->stmt;
	if (IsA(node, DoStmt))
	{
		Node	   *inner = guarded_statement((DoStmt *) node);

		if (inner)
			node = inner;
	}
	g->parsetree = node;
	read_parsed(g, node);
}

/* What the statement parsed is about to change, read */
static void
read_parsed(DownGenerator *g, Node *node)
{
	if (needs_no_inverse(node) || writes_created_table(g, node))
		g->skip = true;
	else if (is_create(node))
		inverse_create_before(g, node);
	else if (IsA(node, AlterTableStmt))
		inverse_alter_table_before(g, (AlterTableStmt *) node);
	else if (IsA(node, DropStmt))
	{
		inverse_drop_before(g, (DropStmt *) node);
		g->skip = true;			/* the inverse is written already */
	}
	else if (IsA(node, RenameStmt))
		rename_before(g, (RenameStmt *) node);
	else if (IsA(node, CommentStmt))
	{
		comment_before(g, (CommentStmt *) node);
		g->skip = true;
	}
	else if (IsA(node, AlterEnumStmt))
	{
		alter_enum_before(g, (AlterEnumStmt *) node);
		g->skip = true;
	}
	else if (IsA(node, GrantStmt))
	{
		inverse_grant_before(g, (GrantStmt *) node);
		g->skip = g->captured == NULL;
	}
	else if (IsA(node, AlterOwnerStmt))
	{
		inverse_owner_before(g, (AlterOwnerStmt *) node);
		g->skip = true;
	}
	else if (g->keep_rows && (IsA(node, UpdateStmt) || IsA(node, DeleteStmt)))
	{
		archive_rows(g, node);
		g->skip = g->captured == NULL;
	}
	else
	{
		not_invertible(g, node, g->tag);
		g->skip = true;
	}
}

/* The running statement's inverse, from what it changed */
static void
write_after(DownGenerator *g, const char *sql)
{
	Node	   *node = g->parsetree;

	/* what the statement changed, seen by the lookups below */
	CommandCounterIncrement();
	if (is_create(node))
		inverse_create_after(g, node);
	else if (IsA(node, AlterTableStmt))
		inverse_alter_table_after(g, (AlterTableStmt *) node);
	else if (IsA(node, RenameStmt))
		rename_after(g, (RenameStmt *) node);
	else if (IsA(node, GrantStmt))
		inverse_grant_after(g, (GrantStmt *) node);
	else if (IsA(node, UpdateStmt) || IsA(node, DeleteStmt))
		archive_rows_after(g);
}

typedef struct GuardedStep
{
	void		(*step) (DownGenerator *g, const char *sql);
	DownGenerator *g;
	const char *sql;
} GuardedStep;

static void
call_step(void *arg)
{
	GuardedStep *s = arg;

	s->step(s->g, s->sql);
}

/*
 * Run a step of the generator in a subtransaction, so that a statement the
 * generator cannot read (a case it does not foresee, an object it may not
 * look at) costs its inverse, not the migration: the statement is then
 * listed as not undone, with the error.  A cancel is the migration's.
 */
static void
guarded(DownGenerator *g, void (*step) (DownGenerator *g, const char *sql),
		const char *sql)
{
	GuardedStep s = {step, g, sql};
	ErrorData  *edata = try_in_subtransaction(call_step, &s);

	if (edata == NULL)
		return;
	/* and so is data too large to keep (archive.c): it must be asked for */
	if (edata->elevel > ERROR || edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
		edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
		edata->sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED)
		ReThrowError(edata);
	list_free_deep(g->inverses);
	g->inverses = NIL;
	g->notes = NIL;
	g->skip = true;
	inverse_partial(g, "its inverse could not be generated: %s", edata->message);
	FreeErrorData(edata);
}

/*
 * Before a statement runs: parse it again (script.c keeps no parse trees)
 * and read what it is about to change.  Called in the statement's memory
 * context, which lives until inverse_after().
 */
void
inverse_before(DownGenerator *g, const Statement *stmt, const char *sql)
{
	g->index++;
	g->line = stmt->line;
	g->statement = first_line(sql);
	g->parsetree = NULL;
	g->captured = NULL;
	g->inverses = NIL;
	g->notes = NIL;
	g->skip = false;
	g->on_created = false;
	g->tag = stmt->tag;

	/*
	 * The rows of seed data, without parsing them all again, unless the
	 * script made a table they may go into
	 */
	if ((stmt->tag == CMDTAG_INSERT && g->created == NIL) ||
		stmt->kind == STMT_COPY_FROM_STDIN)
	{
		inverse_partial(g, stmt->tag == CMDTAG_INSERT ?
						"the rows an INSERT added are not removed: no key is known to find them by" :
						"the rows a COPY added are not removed");
		g->skip = true;
		return;
	}
	if (stmt->kind == STMT_WRAPPER_BEGIN || stmt->kind == STMT_WRAPPER_COMMIT ||
		stmt->kind == STMT_TRANSACTION_CONTROL)
	{
		g->skip = true;
		return;
	}

	/*
	 * What needs no inverse is known from the parse tree and a name lookup,
	 * which cannot fail (no catalog is read but by the caches): no
	 * subtransaction for it.  The rest reads the catalog in one.
	 */
	g->parsetree = parse_quietly(sql);
	if (g->parsetree == NULL || IsA(g->parsetree, DoStmt))
		guarded(g, read_before, sql);
	else if (needs_no_inverse(g->parsetree) || writes_created_table(g, g->parsetree))
		g->skip = true;
	else if (on_created_relation(g, g->parsetree))
		g->skip = g->on_created = true;
	else if (inverse_create_table_plain(g->parsetree))
		;						/* nothing to read before it */
	else
		guarded(g, read_parsed_step, sql);
}

/* Keep the running statement's inverses as one block, newest first */
static void
keep_block(DownGenerator *g, const Statement *stmt)
{
	StringInfoData buf;
	MemoryContext old;
	ListCell   *lc;

	if (g->inverses == NIL)
		return;
	old = MemoryContextSwitchTo(g->cxt);
	initStringInfo(&buf);
	appendStringInfo(&buf, "-- undoes line %d: %s\n", g->line, g->statement);
	foreach(lc, g->notes)
		appendStringInfo(&buf, "-- note: %s\n", (char *) lfirst(lc));
	foreach(lc, g->inverses)
		appendStringInfo(&buf, "%s;\n", (char *) lfirst(lc));
	g->blocks = lcons(buf.data, g->blocks);
	list_free_deep(g->inverses);
	g->inverses = NIL;
	g->notes = NIL;
	MemoryContextSwitchTo(old);
}

/*
 * Whether the statement that ran may have made something that what is
 * done next to the relations just created could depend on: anything but
 * those changes themselves, rows and settings.
 */
static bool
may_have_made_something(DownGenerator *g)
{
	if (g->on_created || g->created_at == g->index)
		return false;
	if (g->tag == CMDTAG_INSERT || g->tag == CMDTAG_UPDATE ||
		g->tag == CMDTAG_DELETE || g->tag == CMDTAG_COPY)
		return false;
	return g->parsetree == NULL || !needs_no_inverse(g->parsetree);
}

/* After the statement ran: write its inverse from what changed */
void
inverse_after(DownGenerator *g, const Statement *stmt, const char *sql)
{
	if (!g->skip && g->parsetree && inverse_create_table_plain(g->parsetree))
	{
		CommandCounterIncrement();
		inverse_create_table_after(g, (CreateStmt *) g->parsetree);
	}
	else if (!g->skip && g->parsetree)
		guarded(g, write_after, sql);
	keep_block(g, stmt);
	if (g->latest_created != NIL && may_have_made_something(g))
	{
		list_free(g->latest_created);
		g->latest_created = NIL;
	}
	g->parsetree = NULL;
	g->captured = NULL;
}

/*
 * The generated down script: a header, the no-transaction directive when
 * an inverse needs it, each statement's inverse newest first, and a
 * comment for each statement left out.
 */
char *
inverse_script(DownGenerator *g)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	if (g->no_transaction)
		appendStringInfoString(&buf, "-- migrate:no-transaction\n");
	appendStringInfo(&buf, "-- Generated by pg_migrate from %s as it ran: review it, and commit it as the down script to make it yours.\n",
					 g->file);
	foreach(lc, g->partials)
	{
		InversePartial *p = lfirst(lc);

		if (p->count > 1)
			appendStringInfo(&buf, "-- NOT UNDONE: lines %d to %d (%d statements): %s\n",
							 p->line, p->last_line, p->count, p->reason);
		else
			appendStringInfo(&buf, "-- NOT UNDONE: line %d: %s\n", p->line, p->reason);
	}
	foreach(lc, g->blocks)
		appendStringInfo(&buf, "\n%s", (char *) lfirst(lc));
	return buf.data;
}

/*
 * The statements the generated script does not undo, as a JSON array of
 * {file, line, last_line, statements, statement, reason}, or NULL when it
 * undoes them all.
 */
char *
inverse_partial_json(DownGenerator *g)
{
	StringInfoData buf;
	ListCell   *lc;

	if (g->partials == NIL)
		return NULL;
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	foreach(lc, g->partials)
	{
		InversePartial *p = lfirst(lc);

		if (foreach_current_index(lc) > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, "{\"file\": ");
		escape_json(&buf, g->file);
		appendStringInfo(&buf, ", \"line\": %d, \"last_line\": %d, \"statements\": %d, \"statement\": ",
						 p->line, p->last_line, p->count);
		escape_json(&buf, p->statement);
		appendStringInfoString(&buf, ", \"reason\": ");
		escape_json(&buf, p->reason);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}
