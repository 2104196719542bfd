/*-------------------------------------------------------------------------
 *
 * drop.c
 *	  The inverses of DROP statements, read before they run: the definition
 *	  of each object dropped, as the catalog's deparse functions print it
 *	  (pg_get_indexdef, pg_get_viewdef, pg_get_functiondef,
 *	  pg_get_triggerdef, the table's columns and constraints).  A dropped
 *	  table's rows are kept in the archive (archive.c) and brought back
 *	  after it is made again, before its foreign keys and triggers.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "parser/parse_type.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "inverse/inverse.h"

/* The relation a DROP names, or InvalidOid when it is not there */
static Oid
dropped_relation(Node *object, bool missing_ok)
{
	RangeVar   *rv = makeRangeVarFromNameList(castNode(List, object));

	return RangeVarGetRelid(rv, NoLock, missing_ok);
}

static void
add_all(DownGenerator *g, List *statements)
{
	ListCell   *lc;

	foreach(lc, statements)
		inverse_add(g, "%s", (char *) lfirst(lc));
}

/* The indexes of a relation, as CREATE INDEX */
static List *
index_definitions(Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	List	   *rows = inverse_query("SELECT pg_get_indexdef(indexrelid) FROM pg_index "
									 "WHERE indrelid = $1 ORDER BY indexrelid",
									 1, types, values, 1);
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, rows)
		result = lappend(result, ((char **) lfirst(lc))[0]);
	return result;
}

static void
drop_tables(DownGenerator *g, DropStmt *stmt)
{
	List	   *create = NIL;
	List	   *restore = NIL;
	List	   *then = NIL;
	ListCell   *lc;

	foreach(lc, stmt->objects)
	{
		Oid			relid = dropped_relation(lfirst(lc), stmt->missing_ok);
		char	   *reason;

		if (!OidIsValid(relid))
			continue;
		if (!table_definition(relid, &create, &then, &reason))
		{
			inverse_partial(g, "%s", reason);
			continue;
		}
		restore = list_concat(restore, archive_table(g, relid));
	}
	/* every table first, with its rows, then what may refer to another one */
	add_all(g, create);
	add_all(g, restore);
	add_all(g, then);
}

static void
drop_index(DownGenerator *g, DropStmt *stmt, Oid relid)
{
	char	   *def = inverse_query_value("SELECT pg_get_indexdef($1)", relid);

	/* CONCURRENTLY both ways: the one runs where the other did */
	if (stmt->concurrent && g->top_level &&
		strncmp(def, "CREATE INDEX ", 13) == 0)
	{
		inverse_add(g, "CREATE INDEX CONCURRENTLY %s", def + 13);
		g->no_transaction = true;
	}
	else if (stmt->concurrent && g->top_level &&
			 strncmp(def, "CREATE UNIQUE INDEX ", 20) == 0)
	{
		inverse_add(g, "CREATE UNIQUE INDEX CONCURRENTLY %s", def + 20);
		g->no_transaction = true;
	}
	else
		inverse_add(g, "%s", def);
}

static void
drop_matview(DownGenerator *g, Oid relid)
{
	int			columns;
	char	   *def = view_definition(relid, &columns);
	bool		populated;

	populated = strcmp(inverse_query_value("SELECT relispopulated FROM pg_class WHERE oid = $1",
										   relid), "t") == 0;
	/* view_definition() wrote it as a view: only its text after AS is kept */
	inverse_add(g, "CREATE MATERIALIZED VIEW %s AS %s WITH %sDATA",
				qualified_relation(relid), strstr(def, " AS ") + 4,
				populated ? "" : "NO ");
	add_all(g, index_definitions(relid));
}

static void
drop_sequence(DownGenerator *g, Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	char	  **s = linitial(inverse_query("SELECT format_type(seqtypid, NULL), seqincrement, "
										   " seqmin, seqmax, seqstart, seqcache, seqcycle, "
										   " pg_sequence_last_value(seqrelid) "
										   "FROM pg_sequence WHERE seqrelid = $1",
										   1, types, values, 8));
	char	   *q = qualified_relation(relid);
	List	   *owner;

	/*
	 * From PostgreSQL 18 (and 17.1), pg_sequence_last_value() returns null
	 * instead of failing to a role that may not read the sequence, as for
	 * one never used: its value would come back as the start, silently.
	 */
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT | ACL_USAGE) == ACLCHECK_NO_PRIV)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_SEQUENCE, get_rel_name(relid));

	inverse_add(g, "CREATE SEQUENCE %s AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s%s",
				q, s[0], s[1], s[2], s[3], s[4], s[5], s[6][0] == 't' ? " CYCLE" : "");
	if (s[7])
		inverse_add(g, "SELECT pg_catalog.setval(%s, %s)", quote_literal_cstr(q), s[7]);
	/* the column it belonged to, which is still there */
	owner = inverse_query("SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) "
						  " || '.' || quote_ident(a.attname) "
						  "FROM pg_depend d JOIN pg_class c ON c.oid = d.refobjid "
						  "JOIN pg_namespace n ON n.oid = c.relnamespace "
						  "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
						  "WHERE d.classid = 'pg_class'::regclass AND d.objid = $1 "
						  " AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a'",
						  1, types, values, 1);
	if (owner)
		inverse_add(g, "ALTER SEQUENCE %s OWNED BY %s", q, ((char **) linitial(owner))[0]);
}

/* An enum or composite type, or a domain, as CREATE TYPE or DOMAIN */
static void
drop_type(DownGenerator *g, Oid typid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(typid)};
	char	  **t = linitial(inverse_query("SELECT typtype, typrelid, format_type(typbasetype, typtypmod), "
										   " typnotnull, typdefault, "
										   " (SELECT string_agg(quote_literal(enumlabel), ', ' ORDER BY enumsortorder) "
										   "  FROM pg_enum WHERE enumtypid = t.oid), "
										   " (SELECT string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) "
										   "  FROM pg_attribute WHERE attrelid = t.typrelid AND attnum > 0 AND NOT attisdropped), "
										   " (SELECT string_agg(' CONSTRAINT ' || quote_ident(conname) || ' ' || pg_get_constraintdef(oid), '' ORDER BY oid) "
										   "  FROM pg_constraint WHERE contypid = t.oid AND contype = 'c') "
										   "FROM pg_type t WHERE t.oid = $1",
										   1, types, values, 8));
	char	   *q = format_type_be_qualified(typid);

	switch (t[0][0])
	{
		case TYPTYPE_ENUM:
			inverse_add(g, "CREATE TYPE %s AS ENUM (%s)", q, t[5] ? t[5] : "");
			break;
		case TYPTYPE_COMPOSITE:
			inverse_add(g, "CREATE TYPE %s AS (%s)", q, t[6] ? t[6] : "");
			break;
		case TYPTYPE_DOMAIN:
			inverse_add(g, "CREATE DOMAIN %s AS %s%s%s%s%s", q, t[2],
						t[4] ? " DEFAULT " : "", t[4] ? t[4] : "",
						t[3][0] == 't' ? " NOT NULL" : "", t[7] ? t[7] : "");
			break;
		default:
			inverse_partial(g, "the definition of dropped type %s is not generated", q);
			break;
	}
}

/*
 * DROP: each object's definition, read before it goes.  With several
 * objects, they are made again in the order named.
 */
void
inverse_drop_before(DownGenerator *g, DropStmt *stmt)
{
	ListCell   *lc;

	if (stmt->behavior == DROP_CASCADE)
		inverse_partial(g, "DROP ... CASCADE: the objects that depended on what it dropped are not made again");
	if (stmt->removeType == OBJECT_TABLE)
	{
		drop_tables(g, stmt);
		return;
	}
	foreach(lc, stmt->objects)
	{
		Node	   *object = lfirst(lc);

		switch (stmt->removeType)
		{
			case OBJECT_INDEX:
			case OBJECT_VIEW:
			case OBJECT_MATVIEW:
			case OBJECT_SEQUENCE:
				{
					Oid			relid = dropped_relation(object, stmt->missing_ok);
					int			columns;

					if (!OidIsValid(relid))
						break;
					if (stmt->removeType == OBJECT_INDEX)
						drop_index(g, stmt, relid);
					else if (stmt->removeType == OBJECT_VIEW)
						inverse_add(g, "%s", view_definition(relid, &columns));
					else if (stmt->removeType == OBJECT_MATVIEW)
					{
						drop_matview(g, relid);
						inverse_note(g, "the materialized view's rows are those its query returns when it is made again");
					}
					else
					{
						drop_sequence(g, relid);
					}
				}
				break;
			case OBJECT_FUNCTION:
			case OBJECT_PROCEDURE:
			case OBJECT_ROUTINE:
				{
					Oid			oid = LookupFuncWithArgs(stmt->removeType,
														 castNode(ObjectWithArgs, object),
														 stmt->missing_ok);

					if (OidIsValid(oid))
						inverse_add(g, "%s", inverse_trim(inverse_query_value("SELECT pg_get_functiondef($1)", oid)));
				}
				break;
			case OBJECT_TRIGGER:
				{
					List	   *names = castNode(List, object);
					Oid			relid;
					Oid			trigger;

					relid = RangeVarGetRelid(makeRangeVarFromNameList(list_truncate(list_copy(names),
																					list_length(names) - 1)),
											 NoLock, stmt->missing_ok);
					if (!OidIsValid(relid))
						break;
					trigger = get_trigger_oid(relid, strVal(llast(names)), stmt->missing_ok);
					if (OidIsValid(trigger))
						inverse_add(g, "%s", inverse_query_value("SELECT pg_get_triggerdef($1)", trigger));
				}
				break;
			case OBJECT_TYPE:
			case OBJECT_DOMAIN:
				{
					TypeName   *tn = castNode(TypeName, object);
					Type		typ = LookupTypeName(NULL, tn, NULL, stmt->missing_ok);

					if (typ == NULL)
						break;
					drop_type(g, typeTypeId(typ));
					ReleaseSysCache(typ);
				}
				break;
			case OBJECT_SCHEMA:
				{
					const char *name = strVal(object);
					Oid			nsp = get_namespace_oid(name, stmt->missing_ok);

					if (OidIsValid(nsp))
						inverse_add(g, "CREATE SCHEMA %s AUTHORIZATION %s",
									quote_identifier(name),
									quote_identifier(inverse_query_value("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE oid = $1",
																		 nsp)));
				}
				break;
			case OBJECT_EXTENSION:
				{
					const char *name = strVal(object);
					Oid			ext = get_extension_oid(name, stmt->missing_ok);

					if (OidIsValid(ext))
					{
						Oid			types[1] = {OIDOID};
						Datum		values[1] = {ObjectIdGetDatum(ext)};
						char	  **e = linitial(inverse_query("SELECT quote_ident(n.nspname), quote_literal(x.extversion) "
																 "FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace "
																 "WHERE x.oid = $1",
																 1, types, values, 2));

						inverse_add(g, "CREATE EXTENSION %s WITH SCHEMA %s VERSION %s",
									quote_identifier(name), e[0], e[1]);
					}
				}
				break;
			default:
				inverse_partial(g, "the definition of what this DROP removes is not generated");
				return;
		}
	}
}
