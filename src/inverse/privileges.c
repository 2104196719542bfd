/*-------------------------------------------------------------------------
 *
 * privileges.c
 *	  The inverses of GRANT and REVOKE on named objects (tables, sequences,
 *	  functions, schemas, types), as the difference of each object's
 *	  privileges before and after, and of ALTER ... OWNER TO of a function,
 *	  a schema or a type (a table's owner is table.c's).
 *
 * The privileges are compared by grantee, privilege and grant option,
 * whoever granted them: the inverse is run by the role that applied the
 * migration, which granted what the migration granted.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include "inverse/inverse.h"

/* One object a GRANT or REVOKE names, and its privileges before it */
typedef struct Granted
{
	const char *keyword;		/* TABLE, SEQUENCE, FUNCTION, SCHEMA, TYPE */
	char	   *name;			/* as GRANT writes it */
	const char *query;			/* its privileges, by its OID */
	Oid			oid;
	List	   *before;			/* rows of grantee, privilege, grantable */
} Granted;

static const char *relation_acl =
"SELECT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END "
", a.privilege_type, a.is_grantable "
"FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault("
" CASE c.relkind WHEN 'S' THEN 's'::\"char\" ELSE 'r'::\"char\" END, c.relowner))) a "
"WHERE c.oid = $1";
static const char *function_acl =
"SELECT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END "
", a.privilege_type, a.is_grantable "
"FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a "
"WHERE p.oid = $1";
static const char *schema_acl =
"SELECT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END "
", a.privilege_type, a.is_grantable "
"FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a "
"WHERE n.oid = $1";
static const char *type_acl =
"SELECT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END "
", a.privilege_type, a.is_grantable "
"FROM pg_type t, aclexplode(coalesce(t.typacl, acldefault('T', t.typowner))) a "
"WHERE t.oid = $1";

static List *
acl_of(Granted *o)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(o->oid)};
	return inverse_query(o->query, 1, types, values, 3);
}

static bool
has_entry(List *rows, char **entry)
{
	ListCell   *lc;

	foreach(lc, rows)
	{
		char	  **row = lfirst(lc);

		if (strcmp(row[0], entry[0]) == 0 && strcmp(row[1], entry[1]) == 0 &&
			strcmp(row[2], entry[2]) == 0)
			return true;
	}
	return false;
}

/* The object a GRANT names, or NULL when this does not invert its kind */
static Granted *
granted_object(GrantStmt *stmt, Node *object)
{
	Granted    *o = palloc0(sizeof(Granted));

	switch (stmt->objtype)
	{
		case OBJECT_TABLE:
		case OBJECT_SEQUENCE:
			o->oid = RangeVarGetRelid((RangeVar *) object, NoLock, false);
			o->keyword = stmt->objtype == OBJECT_TABLE ? "TABLE" : "SEQUENCE";
			o->name = qualified_relation(o->oid);
			o->query = relation_acl;
			break;
		case OBJECT_FUNCTION:
		case OBJECT_PROCEDURE:
		case OBJECT_ROUTINE:
			o->oid = LookupFuncWithArgs(stmt->objtype, castNode(ObjectWithArgs, object),
										false);
			o->keyword = "ROUTINE";
			o->name = format_procedure_qualified(o->oid);
			o->query = function_acl;
			break;
		case OBJECT_SCHEMA:
			o->oid = get_namespace_oid(strVal(object), false);
			o->keyword = "SCHEMA";
			o->name = pstrdup(quote_identifier(strVal(object)));
			o->query = schema_acl;
			break;
		case OBJECT_TYPE:
		case OBJECT_DOMAIN:
			o->oid = typenameTypeId(NULL, makeTypeNameFromNameList(castNode(List, object)));
			o->keyword = "TYPE";
			o->name = format_type_be_qualified(o->oid);
			o->query = type_acl;
			break;
		default:
			return NULL;
	}
	return o;
}

void
inverse_grant_before(DownGenerator *g, GrantStmt *stmt)
{
	List	   *objects = NIL;
	ListCell   *lc;

	if (stmt->targtype != ACL_TARGET_OBJECT)
	{
		inverse_partial(g, "GRANT and REVOKE on all objects in a schema are not inverted");
		return;
	}
	foreach(lc, stmt->privileges)
	{
		AccessPriv *priv = lfirst_node(AccessPriv, lc);

		if (priv->cols != NIL)
		{
			inverse_partial(g, "GRANT and REVOKE on columns are not inverted");
			return;
		}
	}
	foreach(lc, stmt->objects)
	{
		Granted    *o = granted_object(stmt, lfirst(lc));

		if (o == NULL)
		{
			inverse_partial(g, "GRANT and REVOKE on this kind of object are not inverted");
			return;
		}
		o->before = acl_of(o);
		objects = lappend(objects, o);
	}
	g->captured = objects;
}

/* Each privilege the statement gave revoked, each it took granted again */
void
inverse_grant_after(DownGenerator *g, GrantStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, (List *) g->captured)
	{
		Granted    *o = lfirst(lc);
		List	   *after = acl_of(o);
		ListCell   *e;

		foreach(e, after)
		{
			char	  **entry = lfirst(e);

			if (!has_entry(o->before, entry))
				inverse_add(g, "REVOKE %s ON %s %s FROM %s", entry[1], o->keyword,
							o->name, entry[0]);
		}
		foreach(e, o->before)
		{
			char	  **entry = lfirst(e);

			if (!has_entry(after, entry))
				inverse_add(g, "GRANT %s ON %s %s TO %s%s", entry[1], o->keyword,
							o->name, entry[0],
							strcmp(entry[2], "true") == 0 ? " WITH GRANT OPTION" : "");
		}
	}
}

/* ALTER FUNCTION, SCHEMA, TYPE ... OWNER TO: the owner back */
void
inverse_owner_before(DownGenerator *g, AlterOwnerStmt *stmt)
{
	const char *keyword;
	const char *query;
	char	   *name;
	Oid			oid;

	switch (stmt->objectType)
	{
		case OBJECT_FUNCTION:
		case OBJECT_PROCEDURE:
		case OBJECT_ROUTINE:
			oid = LookupFuncWithArgs(stmt->objectType,
									 castNode(ObjectWithArgs, stmt->object), false);
			keyword = "ROUTINE";
			name = format_procedure_qualified(oid);
			query = "SELECT quote_ident(pg_get_userbyid(proowner)) FROM pg_proc WHERE oid = $1";
			break;
		case OBJECT_SCHEMA:
			oid = get_namespace_oid(strVal(stmt->object), false);
			keyword = "SCHEMA";
			name = pstrdup(quote_identifier(strVal(stmt->object)));
			query = "SELECT quote_ident(pg_get_userbyid(nspowner)) FROM pg_namespace WHERE oid = $1";
			break;
		case OBJECT_TYPE:
		case OBJECT_DOMAIN:
			oid = typenameTypeId(NULL, makeTypeNameFromNameList(castNode(List, stmt->object)));
			keyword = stmt->objectType == OBJECT_TYPE ? "TYPE" : "DOMAIN";
			name = format_type_be_qualified(oid);
			query = "SELECT quote_ident(pg_get_userbyid(typowner)) FROM pg_type WHERE oid = $1";
			break;
		default:
			inverse_partial(g, "ALTER ... OWNER TO of this kind of object is not inverted");
			return;
	}
	inverse_add(g, "ALTER %s %s OWNER TO %s", keyword, name,
				inverse_query_value(query, oid));
}
