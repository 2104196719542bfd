/*-------------------------------------------------------------------------
 *
 * enum.c
 *	  The inverse of ALTER TYPE ... ADD VALUE.  PostgreSQL cannot remove a
 *	  value from an enum type, so the inverse makes the type again with the
 *	  values it had: the type renamed out of the way, made anew under its
 *	  name, each table column of it changed to the new type through text
 *	  (its default set again after), the old type dropped.  A row that holds
 *	  the added value makes the rollback fail, as it must.
 *
 * Only when the type's columns are all the catalog has depending on it:
 * a view, a function, a domain or another type using it would have to be
 * made again too, and the inverse is then partial, as before.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include "inverse/inverse.h"

/* What depends on the type besides its array type, its columns and their defaults */
#define OTHER_DEPENDENTS \
	"SELECT pg_describe_object(d.classid, d.objid, d.objsubid) FROM pg_depend d " \
	"WHERE d.refclassid = 'pg_type'::regclass AND d.refobjid = $1 " \
	" AND d.deptype = 'n' AND d.classid <> 'pg_attrdef'::regclass " \
	" AND NOT (d.classid = 'pg_class'::regclass AND d.objsubid > 0 AND EXISTS " \
	"  (SELECT FROM pg_class c WHERE c.oid = d.objid AND c.relkind IN ('r', 'p'))) " \
	" AND NOT (d.classid = 'pg_type'::regclass AND d.objid = " \
	"  (SELECT typarray FROM pg_type WHERE oid = $1)) " \
	"ORDER BY 1 LIMIT 1"

/* The type's table columns, but those a partition or child inherits */
#define COLUMNS \
	"SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), " \
	" quote_ident(a.attname), pg_get_expr(ad.adbin, ad.adrelid) " \
	"FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid " \
	"JOIN pg_namespace n ON n.oid = c.relnamespace " \
	"LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum " \
	"WHERE a.atttypid = $1 AND a.attnum > 0 AND NOT a.attisdropped " \
	" AND a.attinhcount = 0 AND c.relkind IN ('r', 'p') " \
	"ORDER BY 1, a.attnum"

void
inverse_enum_add_value(DownGenerator *g, AlterEnumStmt *stmt)
{
	Oid			typid = typenameTypeId(NULL, makeTypeNameFromNameList(stmt->typeName));
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(typid)};
	char	   *q = format_type_be_qualified(typid);
	char	   *old_name;
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		args[2] = {ObjectIdGetDatum(typid), CStringGetTextDatum(stmt->newVal)};
	char	  **t;
	List	   *other;
	List	   *columns;
	ListCell   *lc;

	t = linitial(inverse_query("SELECT (SELECT string_agg(quote_literal(enumlabel), ', ' ORDER BY enumsortorder) "
							   "  FROM pg_enum WHERE enumtypid = t.oid), "
							   " EXISTS (SELECT FROM pg_enum WHERE enumtypid = t.oid AND enumlabel = $2), "
							   " obj_description(t.oid, 'pg_type'), quote_ident(pg_get_userbyid(t.typowner)), "
							   " t.typacl IS NOT NULL, (SELECT nspname FROM pg_namespace WHERE oid = t.typnamespace) "
							   "FROM pg_type t WHERE t.oid = $1",
							   2, argtypes, args, 6));
	/* IF NOT EXISTS found it: the statement adds nothing */
	if (t[1][0] == 't')
		return;
	other = inverse_query(OTHER_DEPENDENTS, 1, types, values, 1);
	if (other)
	{
		inverse_partial(g, "a value added to an enum type cannot be removed: the type is made again without it only when table columns alone use it, and %s does",
						((char **) linitial(other))[0]);
		return;
	}
	if (t[4][0] == 't')
	{
		inverse_partial(g, "a value added to an enum type cannot be removed: the type is made again without it only when it has no privileges granted");
		return;
	}
	columns = inverse_query(COLUMNS, 1, types, values, 3);
	/* a name out of the way for the type as it is, dropped at the end */
	old_name = psprintf("pg_migrate_old_%s", stmt->typeName ? strVal(llast(stmt->typeName)) : "");
	old_name[pg_mbcliplen(old_name, strlen(old_name), NAMEDATALEN - 1)] = '\0';

	inverse_note(g, "the type is made again without %s, which a row still holding it makes fail",
				 quote_literal_cstr(stmt->newVal));
	inverse_add(g, "ALTER TYPE %s RENAME TO %s", q, quote_identifier(old_name));
	inverse_add(g, "CREATE TYPE %s AS ENUM (%s)", q, t[0] ? t[0] : "");
	foreach(lc, columns)
	{
		char	  **c = lfirst(lc);

		if (c[2])
			inverse_add(g, "ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT", c[0], c[1]);
		inverse_add(g, "ALTER TABLE %s ALTER COLUMN %s TYPE %s USING %s::text::%s",
					c[0], c[1], q, c[1], q);
		if (c[2])
			inverse_add(g, "ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s", c[0], c[1], c[2]);
	}
	inverse_add(g, "DROP TYPE %s", quote_qualified_identifier(t[5], old_name));
	if (t[2])
		inverse_add(g, "COMMENT ON TYPE %s IS %s", q, quote_literal_cstr(t[2]));
	if (strcmp(t[3], quote_identifier(GetUserNameFromId(GetUserId(), false))) != 0)
		inverse_add(g, "ALTER TYPE %s OWNER TO %s", q, t[3]);
}
