/*-------------------------------------------------------------------------
 *
 * create.c
 *	  The inverses of CREATE statements: a DROP of what the statement made,
 *	  named as the statement resolved it; nothing when IF NOT EXISTS found
 *	  it there already; and for CREATE OR REPLACE of a view or a function
 *	  that existed, its definition as it was.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "parser/parse_type.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "util/compat.h"
#include "inverse/inverse.h"

/* What a CREATE found before it ran */
typedef struct Prior
{
	Oid			nsp;			/* the schema it creates in */
	char	   *name;
	bool		existed;		/* found there (IF NOT EXISTS, OR REPLACE) */
	Oid			oid;			/* what was found, or what it is on */
	char	   *definition;		/* OR REPLACE: the definition found */
	int			columns;		/* OR REPLACE VIEW: its columns */
	List	   *oids;			/* indexes of the table, extensions: before */
} Prior;

/* The OIDs a catalog query returns, as strings */
static List *
oid_list(const char *query, Oid arg)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(arg)};
	List	   *rows = inverse_query(query, 1, types, values, 1);
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, rows)
		result = lappend(result, ((char **) lfirst(lc))[0]);
	return result;
}

static bool
string_member(List *list, const char *s)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp(lfirst(lc), s) == 0)
			return true;
	return false;
}

/* A relation a CREATE makes: its schema, and whether it is there already */
static void
relation_before(Prior *p, RangeVar *rv)
{
	p->name = rv->relname;
	p->nsp = creation_namespace_of(rv);
	if (OidIsValid(p->nsp))
	{
		p->oid = get_relname_relid(rv->relname, p->nsp);
		p->existed = OidIsValid(p->oid);
	}
}

/* The function's signature as LookupFuncWithArgs() takes it */
static ObjectWithArgs *
function_signature(CreateFunctionStmt *stmt, Oid nsp, const char *name)
{
	ObjectWithArgs *owa = makeNode(ObjectWithArgs);
	ListCell   *lc;

	owa->objname = list_make2(makeString(get_namespace_name(nsp)),
							  makeString(pstrdup(name)));
	foreach(lc, stmt->parameters)
	{
		FunctionParameter *fp = lfirst_node(FunctionParameter, lc);

		if (fp->mode != FUNC_PARAM_OUT && fp->mode != FUNC_PARAM_TABLE)
			owa->objargs = lappend(owa->objargs, fp->argType);
	}
	return owa;
}

/* A view as CREATE OR REPLACE VIEW writes it, with its options */
char *
view_definition(Oid relid, int *columns)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	List	   *rows = inverse_query("SELECT pg_get_viewdef(c.oid), "
									 " array_to_string(c.reloptions, ', '), c.relnatts "
									 "FROM pg_class c WHERE c.oid = $1",
									 1, types, values, 3);
	char	  **row = linitial(rows);

	*columns = atoi(row[2]);
	return psprintf("CREATE OR REPLACE VIEW %s%s%s%s AS %s",
					qualified_relation(relid),
					row[1] && *row[1] ? " WITH (" : "",
					row[1] && *row[1] ? row[1] : "",
					row[1] && *row[1] ? ")" : "",
					inverse_trim(row[0]));
}

/*
 * Whether the type a CREATE TYPE or DOMAIN makes is there already: then
 * it fails, unless a DO block catches its duplicate_object (create nothing,
 * undo nothing)
 */
static void
type_before(Prior *p)
{
	p->existed = OidIsValid(GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
											PointerGetDatum(p->name),
											ObjectIdGetDatum(p->nsp)));
}

void
inverse_create_before(DownGenerator *g, Node *node)
{
	Prior	   *p = palloc0(sizeof(Prior));

	g->captured = p;
	switch (nodeTag(node))
	{
		case T_CreateStmt:
			relation_before(p, ((CreateStmt *) node)->relation);
			break;
		case T_CreateTableAsStmt:
			relation_before(p, ((CreateTableAsStmt *) node)->into->rel);
			break;
		case T_SelectStmt:
			relation_before(p, ((SelectStmt *) node)->intoClause->rel);
			break;
		case T_CreateSeqStmt:
			relation_before(p, ((CreateSeqStmt *) node)->sequence);
			break;
		case T_CompositeTypeStmt:
			relation_before(p, ((CompositeTypeStmt *) node)->typevar);
			break;
		case T_ViewStmt:
			relation_before(p, ((ViewStmt *) node)->view);
			if (p->existed)
				p->definition = view_definition(p->oid, &p->columns);
			break;
		case T_IndexStmt:
			{
				IndexStmt  *stmt = (IndexStmt *) node;

				p->oid = RangeVarGetRelid(stmt->relation, NoLock, true);
				if (!OidIsValid(p->oid))
					break;
				p->oids = oid_list("SELECT indexrelid FROM pg_index WHERE indrelid = $1",
								   p->oid);
			}
			break;
		case T_CreateFunctionStmt:
			{
				CreateFunctionStmt *stmt = (CreateFunctionStmt *) node;
				ObjectWithArgs *owa;

				p->nsp = QualifiedNameGetCreationNamespace(stmt->funcname, &p->name);
				owa = function_signature(stmt, p->nsp, p->name);
				p->oid = LookupFuncWithArgs(OBJECT_ROUTINE, owa, true);
				p->existed = OidIsValid(p->oid);
				if (p->existed)
					p->definition = inverse_trim(inverse_query_value("SELECT pg_get_functiondef($1)",
																		p->oid));
			}
			break;
		case T_CreateTrigStmt:
			{
				CreateTrigStmt *stmt = (CreateTrigStmt *) node;
				Oid			trigger;

				p->oid = RangeVarGetRelid(stmt->relation, NoLock, true);
				if (!OidIsValid(p->oid))
					break;
				trigger = get_trigger_oid(p->oid, stmt->trigname, true);
				p->existed = OidIsValid(trigger);
				if (p->existed)
					p->definition = inverse_query_value("SELECT pg_get_triggerdef($1)",
														trigger);
			}
			break;
		case T_CreateEnumStmt:
			p->nsp = QualifiedNameGetCreationNamespace(((CreateEnumStmt *) node)->typeName,
													   &p->name);
			type_before(p);
			break;
		case T_CreateRangeStmt:
			p->nsp = QualifiedNameGetCreationNamespace(((CreateRangeStmt *) node)->typeName,
													   &p->name);
			type_before(p);
			break;
		case T_CreateDomainStmt:
			p->nsp = QualifiedNameGetCreationNamespace(((CreateDomainStmt *) node)->domainname,
													   &p->name);
			type_before(p);
			break;
		case T_CreateSchemaStmt:
			{
				CreateSchemaStmt *stmt = (CreateSchemaStmt *) node;

				p->name = stmt->schemaname ? stmt->schemaname :
					get_rolespec_name(stmt->authrole);
				p->existed = OidIsValid(get_namespace_oid(p->name, true));
			}
			break;
		case T_CreateExtensionStmt:
			p->name = ((CreateExtensionStmt *) node)->extname;
			p->existed = OidIsValid(get_extension_oid(p->name, true));
			p->oids = oid_list("SELECT oid FROM pg_extension WHERE $1 IS NOT NULL",
							   InvalidOid);
			break;
		case T_CreatePolicyStmt:
			break;
		default:
			elog(ERROR, "unexpected statement node %d", (int) nodeTag(node));
	}
}

/* DROP of a relation the statement made, unless it was there already */
static void
drop_relation(DownGenerator *g, Prior *p, RangeVar *rv, const char *kind)
{
	if (p->existed || !OidIsValid(p->nsp))
		return;
	if (rv->relpersistence == RELPERSISTENCE_TEMP)
		return;					/* gone with the session */
	inverse_add(g, "DROP %s %s", kind,
				quote_qualified_identifier(get_namespace_name(p->nsp), p->name));
	inverse_created_relation(g, get_relname_relid(p->name, p->nsp),
							 strcmp(kind, "TABLE") == 0);
}

/*
 * CREATE TABLE without IF NOT EXISTS, of a table that is not temporary,
 * once it ran: the table cannot have been there before, so nothing was
 * read before it, and its schema is the one it was created in.  Reads
 * the caches only: called without a subtransaction.
 */
bool
inverse_create_table_plain(Node *node)
{
	CreateStmt *stmt;

	if (!IsA(node, CreateStmt))
		return false;
	stmt = (CreateStmt *) node;
	return !stmt->if_not_exists &&
		stmt->relation->relpersistence != RELPERSISTENCE_TEMP &&
		stmt->relation->catalogname == NULL;
}

void
inverse_create_table_after(DownGenerator *g, CreateStmt *stmt)
{
	Prior		p = {0};

	relation_before(&p, stmt->relation);
	p.existed = false;
	drop_relation(g, &p, stmt->relation, "TABLE");
}

/* The indexes of the table that the statement added */
static void
drop_new_indexes(DownGenerator *g, Prior *p, IndexStmt *stmt)
{
	List	   *after;
	ListCell   *lc;
	bool		concurrently = stmt->concurrent && g->top_level;

	if (!OidIsValid(p->oid))
		return;
	after = oid_list("SELECT indexrelid FROM pg_index WHERE indrelid = $1", p->oid);
	foreach(lc, after)
	{
		Oid			index;

		if (string_member(p->oids, lfirst(lc)))
			continue;
		index = (Oid) strtoul(lfirst(lc), NULL, 10);
		inverse_add(g, "DROP INDEX %s%s", concurrently ? "CONCURRENTLY " : "",
					qualified_relation(index));
		if (concurrently)
			g->no_transaction = true;
	}
}

static void
function_after(DownGenerator *g, Prior *p, CreateFunctionStmt *stmt)
{
	Oid			oid;

	if (p->existed)
	{
		inverse_add(g, "%s", p->definition);
		return;
	}
	oid = LookupFuncWithArgs(OBJECT_ROUTINE, function_signature(stmt, p->nsp, p->name),
							 true);
	if (!OidIsValid(oid))
	{
		inverse_partial(g, "the function it created was not found by its input arguments");
		return;
	}
	inverse_add(g, "DROP %s %s",
				get_func_prokind(oid) == PROKIND_PROCEDURE ? "PROCEDURE" : "FUNCTION",
				format_procedure_qualified(oid));
}

static void
extension_after(DownGenerator *g, Prior *p)
{
	List	   *after;
	ListCell   *lc;

	if (p->existed)
		return;
	/* the one named first: it needs those CASCADE created with it */
	inverse_add(g, "DROP EXTENSION %s", quote_identifier(p->name));
	after = oid_list("SELECT oid FROM pg_extension WHERE $1 IS NOT NULL "
					 "ORDER BY oid DESC", InvalidOid);
	foreach(lc, after)
	{
		char	   *name;

		if (string_member(p->oids, lfirst(lc)))
			continue;
		name = get_extension_name((Oid) strtoul(lfirst(lc), NULL, 10));
		if (strcmp(name, p->name) != 0)
			inverse_add(g, "DROP EXTENSION %s", quote_identifier(name));
	}
}

void
inverse_create_after(DownGenerator *g, Node *node)
{
	Prior	   *p = g->captured;

	switch (nodeTag(node))
	{
		case T_CreateStmt:
			drop_relation(g, p, ((CreateStmt *) node)->relation, "TABLE");
			break;
		case T_CreateTableAsStmt:
			{
				CreateTableAsStmt *stmt = (CreateTableAsStmt *) node;

				drop_relation(g, p, stmt->into->rel,
							  compat_ctas_objtype(stmt) == OBJECT_MATVIEW ?
							  "MATERIALIZED VIEW" : "TABLE");
			}
			break;
		case T_SelectStmt:
			drop_relation(g, p, ((SelectStmt *) node)->intoClause->rel, "TABLE");
			break;
		case T_CreateSeqStmt:
			drop_relation(g, p, ((CreateSeqStmt *) node)->sequence, "SEQUENCE");
			break;
		case T_CompositeTypeStmt:
			drop_relation(g, p, ((CompositeTypeStmt *) node)->typevar, "TYPE");
			break;
		case T_ViewStmt:
			{
				ViewStmt   *stmt = (ViewStmt *) node;
				int			columns;

				if (!p->existed)
				{
					drop_relation(g, p, stmt->view, "VIEW");
					break;
				}
				(void) view_definition(p->oid, &columns);
				/* a view cannot lose columns by CREATE OR REPLACE */
				if (columns > p->columns)
				{
					inverse_add(g, "DROP VIEW %s", qualified_relation(p->oid));
					inverse_add(g, "CREATE%s",
								p->definition + strlen("CREATE OR REPLACE"));
				}
				else
					inverse_add(g, "%s", p->definition);
			}
			break;
		case T_IndexStmt:
			drop_new_indexes(g, p, (IndexStmt *) node);
			break;
		case T_CreateFunctionStmt:
			function_after(g, p, (CreateFunctionStmt *) node);
			break;
		case T_CreateTrigStmt:
			{
				CreateTrigStmt *stmt = (CreateTrigStmt *) node;

				if (!OidIsValid(p->oid))
					break;
				inverse_add(g, "DROP TRIGGER %s ON %s", quote_identifier(stmt->trigname),
							qualified_relation(p->oid));
				if (p->existed)
					inverse_add(g, "%s", p->definition);
			}
			break;
		case T_CreateEnumStmt:
		case T_CreateRangeStmt:
			if (!p->existed)
				inverse_add(g, "DROP TYPE %s",
							quote_qualified_identifier(get_namespace_name(p->nsp), p->name));
			break;
		case T_CreateDomainStmt:
			if (!p->existed)
				inverse_add(g, "DROP DOMAIN %s",
							quote_qualified_identifier(get_namespace_name(p->nsp), p->name));
			break;
		case T_CreateSchemaStmt:
			if (!p->existed)
				inverse_add(g, "DROP SCHEMA %s%s", quote_identifier(p->name),
							((CreateSchemaStmt *) node)->schemaElts ? " CASCADE" : "");
			break;
		case T_CreateExtensionStmt:
			extension_after(g, p);
			break;
		case T_CreatePolicyStmt:
			{
				CreatePolicyStmt *stmt = (CreatePolicyStmt *) node;

				inverse_add(g, "DROP POLICY %s ON %s", quote_identifier(stmt->policy_name),
							qualified_relation(RangeVarGetRelid(stmt->table, NoLock, false)));
			}
			break;
		default:
			elog(ERROR, "unexpected statement node %d", (int) nodeTag(node));
	}
}
