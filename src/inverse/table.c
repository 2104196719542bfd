/*-------------------------------------------------------------------------
 *
 * table.c
 *	  A table's columns, constraints and indexes as the catalog describes
 *	  them: read before and after an ALTER TABLE, whose inverse is what
 *	  turns the one back into the other; and written out whole as the
 *	  definition DROP TABLE's inverse makes it again from.
 *
 * ALTER TABLE is inverted from the difference rather than from each
 * action, so that what an action does beside its name (the constraint a
 * column's REFERENCES adds, the NOT NULL a primary key sets, the name a
 * constraint gets when it has none) is undone too.  Actions whose effect
 * the difference does not cover make the inverse partial.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "inverse/inverse.h"

typedef struct Column
{
	int			attnum;
	char	   *name;
	char	   *type;
	char	   *collation;		/* qualified, or NULL for the type's */
	bool		not_null;
	char	   *default_expr;	/* or the generation expression */
	char		generated;
	char		identity;
	bool		dropped;
	char	   *comment;
} Column;

typedef struct Named
{
	char	   *oid;
	char	   *name;
	char	   *definition;
	char		kind;			/* a constraint's contype */
	char	   *comment;
} Named;

typedef struct TableState
{
	Oid			relid;
	List	   *columns;		/* Column, by attnum */
	List	   *constraints;	/* Named, but NOT NULL ones */
	List	   *indexes;		/* Named: those no constraint made */
	char	   *owner;			/* quoted; read only for OWNER TO */
	List	   *archived;		/* dropped columns whose values are kept */
	List	   *restores;		/* and the UPDATE that puts each back */
	List	   *referencing;	/* Named: other tables' foreign keys to it,
								 * their definition the whole ADD CONSTRAINT;
								 * read only for DROP CONSTRAINT CASCADE */
} TableState;

static List *
rows_of(const char *query, Oid relid, int ncols)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	return inverse_query(query, 1, types, values, ncols);
}

static TableState *
read_table(Oid relid)
{
	TableState *t = palloc0(sizeof(TableState));
	List	   *rows;
	ListCell   *lc;

	t->relid = relid;
	rows = rows_of("SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), "
				   " CASE WHEN a.attcollation <> 0 AND a.attcollation <> ty.typcollation "
				   "  THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END, "
				   " a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attgenerated, "
				   " a.attidentity, a.attisdropped, col_description(a.attrelid, a.attnum) "
				   "FROM pg_attribute a "
				   "LEFT JOIN pg_type ty ON ty.oid = a.atttypid "
				   "LEFT JOIN pg_collation co ON co.oid = a.attcollation "
				   "LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace "
				   "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
				   "WHERE a.attrelid = $1 AND a.attnum > 0 ORDER BY a.attnum",
				   relid, 10);
	foreach(lc, rows)
	{
		char	  **row = lfirst(lc);
		Column	   *c = palloc0(sizeof(Column));

		c->attnum = atoi(row[0]);
		c->name = row[1];
		c->type = row[2];
		c->collation = row[3];
		c->not_null = row[4][0] == 't';
		c->default_expr = row[5];
		c->generated = row[6][0];
		c->identity = row[7][0];
		c->dropped = row[8][0] == 't';
		c->comment = row[9];
		t->columns = lappend(t->columns, c);
	}
	rows = rows_of("SELECT oid, conname, pg_get_constraintdef(oid), contype, "
				   " obj_description(oid, 'pg_constraint') "
				   "FROM pg_constraint WHERE conrelid = $1 AND contype <> 'n' "
				   "ORDER BY contype = 'f', oid", relid, 5);
	foreach(lc, rows)
	{
		char	  **row = lfirst(lc);
		Named	   *n = palloc0(sizeof(Named));

		n->oid = row[0];
		n->name = row[1];
		n->definition = row[2];
		n->kind = row[3][0];
		n->comment = row[4];
		t->constraints = lappend(t->constraints, n);
	}
	rows = rows_of("SELECT i.indexrelid, c.relname, pg_get_indexdef(i.indexrelid), "
				   " obj_description(i.indexrelid, 'pg_class') "
				   "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
				   "WHERE i.indrelid = $1 AND NOT EXISTS (SELECT FROM pg_constraint k "
				   " WHERE k.conindid = i.indexrelid AND k.conrelid = $1 "
				   " AND k.contype IN ('p', 'u', 'x')) ORDER BY i.indexrelid",
				   relid, 4);
	foreach(lc, rows)
	{
		char	  **row = lfirst(lc);
		Named	   *n = palloc0(sizeof(Named));

		n->oid = row[0];
		n->name = row[1];
		n->definition = row[2];
		n->comment = row[3];
		t->indexes = lappend(t->indexes, n);
	}
	return t;
}

static Column *
column_at(TableState *t, int attnum)
{
	ListCell   *lc;

	foreach(lc, t->columns)
	{
		Column	   *c = lfirst(lc);

		if (c->attnum == attnum)
			return c;
	}
	return NULL;
}

static Named *
named_oid(List *list, const char *oid)
{
	ListCell   *lc;

	foreach(lc, list)
	{
		Named	   *n = lfirst(lc);

		if (strcmp(n->oid, oid) == 0)
			return n;
	}
	return NULL;
}

/* A column as CREATE TABLE and ADD COLUMN write it */
static char *
column_definition(Column *c)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s %s", quote_identifier(c->name), c->type);
	if (c->collation)
		appendStringInfo(&buf, " COLLATE %s", c->collation);
	if (c->generated == 's' && c->default_expr)
		appendStringInfo(&buf, " GENERATED ALWAYS AS (%s) STORED", c->default_expr);
	else if (c->default_expr)
		appendStringInfo(&buf, " DEFAULT %s", c->default_expr);
	if (c->identity == 'a')
		appendStringInfoString(&buf, " GENERATED ALWAYS AS IDENTITY");
	else if (c->identity == 'd')
		appendStringInfoString(&buf, " GENERATED BY DEFAULT AS IDENTITY");
	if (c->not_null)
		appendStringInfoString(&buf, " NOT NULL");
	return buf.data;
}

/*
 * COMMENT ON an object a table's inverse makes again (a column, a
 * constraint, an index, the table), to keep its comment; NULL without one
 */
static char *
comment_statement(const char *keyword, const char *what, const char *comment)
{
	if (comment == NULL)
		return NULL;
	return psprintf("COMMENT ON %s %s IS %s", keyword, what,
					quote_literal_cstr(comment));
}

static void
add_comment(DownGenerator *g, const char *keyword, const char *what,
			const char *comment)
{
	char	   *stmt = comment_statement(keyword, what, comment);

	if (stmt)
		inverse_add(g, "%s", stmt);
}

/* The foreign keys of other tables that refer to this one */
static List *
referencing_keys(Oid relid)
{
	List	   *rows = rows_of("SELECT k.oid, k.conname, 'ALTER TABLE ' || quote_ident(n.nspname) "
							   " || '.' || quote_ident(c.relname) || ' ADD CONSTRAINT ' "
							   " || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid) "
							   "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
							   "JOIN pg_namespace n ON n.oid = c.relnamespace "
							   "WHERE k.confrelid = $1 AND k.conrelid <> $1 AND k.contype = 'f' "
							   "ORDER BY k.oid", relid, 3);
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, rows)
	{
		char	  **row = lfirst(lc);
		Named	   *n = palloc0(sizeof(Named));

		n->oid = row[0];
		n->name = row[1];
		n->definition = row[2];
		result = lappend(result, n);
	}
	return result;
}

static char *
table_owner(Oid relid)
{
	return inverse_query_value("SELECT quote_ident(pg_get_userbyid(relowner)) FROM pg_class WHERE oid = $1",
							   relid);
}

/*
 * Whether an ALTER TABLE action's effect is one the difference of the
 * table's columns, constraints and indexes describes.
 */
static bool
action_covered(AlterTableCmd *cmd)
{
	switch (cmd->subtype)
	{
		case AT_AddColumn:
		case AT_ColumnDefault:
		case AT_DropNotNull:
		case AT_SetNotNull:
		case AT_AddConstraint:
		case AT_DropConstraint:
		case AT_AlterColumnType:
		case AT_ValidateConstraint:
		case AT_DropColumn:
		case AT_ChangeOwner:
			return true;
		default:
			return false;
	}
}

/*
 * A dropped column added again; with its values, when they were kept:
 * NOT NULL is set once they are back.
 */
static void
add_column_back(DownGenerator *g, TableState *before, Column *b, const char *q)
{
	ListCell   *lc;

	foreach(lc, before->archived)
	{
		Column		nullable = *b;

		if (strcmp(lfirst(lc), b->name) != 0)
			continue;
		nullable.not_null = false;
		inverse_add(g, "ALTER TABLE %s ADD COLUMN %s", q, column_definition(&nullable));
		inverse_add(g, "%s", (char *) list_nth(before->restores, foreach_current_index(lc)));
		if (b->not_null)
			inverse_add(g, "ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", q,
						quote_identifier(b->name));
		return;
	}
	inverse_add(g, "ALTER TABLE %s ADD COLUMN %s", q, column_definition(b));
}

void
inverse_alter_table_before(DownGenerator *g, AlterTableStmt *stmt)
{
	Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, stmt->missing_ok);
	char		relkind;
	List	   *archived = NIL;
	List	   *restores = NIL;
	ListCell   *lc;

	if (!OidIsValid(relid))
	{
		g->skip = true;
		return;
	}
	relkind = get_rel_relkind(relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_FOREIGN_TABLE)
	{
		inverse_partial(g, "ALTER of a relation that is not a table is not inverted");
		g->skip = true;
		return;
	}
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (!action_covered(cmd))
			inverse_partial(g, "an action of this ALTER TABLE (action %d) is not inverted",
							foreach_current_index(lc) + 1);
		else if (cmd->subtype == AT_DropColumn)
		{
			char	   *restore = archive_column(g, relid, cmd->name);

			if (restore)
			{
				archived = lappend(archived, cmd->name);
				restores = lappend(restores, restore);
			}
		}
		else if (cmd->subtype == AT_AlterColumnType)
			inverse_note(g, "column \"%s\" goes back to its old type, which can fail or lose information",
						 cmd->name);
	}
	g->captured = read_table(relid);
	((TableState *) g->captured)->archived = archived;
	((TableState *) g->captured)->restores = restores;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (cmd->subtype == AT_ChangeOwner)
			((TableState *) g->captured)->owner = table_owner(relid);
		/* what CASCADE drops of other tables is made again too */
		if (cmd->subtype == AT_DropConstraint && cmd->behavior == DROP_CASCADE)
			((TableState *) g->captured)->referencing = referencing_keys(relid);
	}
}

/*
 * The statements that turn the table as it is now back into what it was,
 * in the order they can run: what was added goes first, so that what
 * was dropped can take its name back; columns come back before the
 * constraints and indexes on them.
 */
void
inverse_alter_table_after(DownGenerator *g, AlterTableStmt *stmt)
{
	TableState *before = g->captured;
	TableState *after = read_table(before->relid);
	char	   *q = qualified_relation(before->relid);
	char	   *nsp = get_namespace_name(get_rel_namespace(before->relid));
	ListCell   *lc;

	foreach(lc, after->constraints)
	{
		Named	   *n = lfirst(lc);

		if (!named_oid(before->constraints, n->oid))
			inverse_add(g, "ALTER TABLE %s DROP CONSTRAINT %s", q, quote_identifier(n->name));
	}
	foreach(lc, after->indexes)
	{
		Named	   *n = lfirst(lc);

		if (!named_oid(before->indexes, n->oid))
			inverse_add(g, "DROP INDEX %s", quote_qualified_identifier(nsp, n->name));
	}
	foreach(lc, after->columns)
	{
		Column	   *a = lfirst(lc);
		Column	   *b = column_at(before, a->attnum);

		if (!a->dropped && (b == NULL || b->dropped))
			inverse_add(g, "ALTER TABLE %s DROP COLUMN %s", q, quote_identifier(a->name));
	}
	foreach(lc, before->columns)
	{
		Column	   *b = lfirst(lc);
		Column	   *a = column_at(after, b->attnum);
		const char *col;

		if (b->dropped)
			continue;
		if (a == NULL || a->dropped)
		{
			add_column_back(g, before, b, q);
			add_comment(g, "COLUMN",
						psprintf("%s.%s", q, quote_identifier(b->name)), b->comment);
			continue;
		}
		col = quote_identifier(b->name);
		if (strcmp(a->name, b->name) != 0)
			inverse_add(g, "ALTER TABLE %s RENAME COLUMN %s TO %s", q,
						quote_identifier(a->name), col);
		if (a->generated != b->generated || a->identity != b->identity)
		{
			inverse_partial(g, "column \"%s\" changes how it is generated, which is not inverted",
							b->name);
			continue;
		}
		if (a->default_expr && b->generated != 's' &&
			(b->default_expr == NULL || strcmp(a->default_expr, b->default_expr) != 0 ||
			 strcmp(a->type, b->type) != 0))
			inverse_add(g, "ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT", q, col);
		if (strcmp(a->type, b->type) != 0 ||
			(a->collation ? !b->collation || strcmp(a->collation, b->collation) != 0 :
			 b->collation != NULL))
			inverse_add(g, "ALTER TABLE %s ALTER COLUMN %s TYPE %s%s%s USING %s::%s",
						q, col, b->type, b->collation ? " COLLATE " : "",
						b->collation ? b->collation : "", col, b->type);
		if (b->default_expr && b->generated != 's' &&
			(a->default_expr == NULL || strcmp(a->default_expr, b->default_expr) != 0 ||
			 strcmp(a->type, b->type) != 0))
			inverse_add(g, "ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s", q, col,
						b->default_expr);
		if (a->not_null != b->not_null)
			inverse_add(g, "ALTER TABLE %s ALTER COLUMN %s %s NOT NULL", q, col,
						b->not_null ? "SET" : "DROP");
	}
	foreach(lc, before->constraints)
	{
		Named	   *b = lfirst(lc);
		Named	   *a = named_oid(after->constraints, b->oid);

		if (a == NULL)
		{
			inverse_add(g, "ALTER TABLE %s ADD CONSTRAINT %s %s", q,
						quote_identifier(b->name), b->definition);
			add_comment(g, "CONSTRAINT",
						psprintf("%s ON %s", quote_identifier(b->name), q), b->comment);
		}
		else if (strcmp(a->name, b->name) != 0)
			inverse_add(g, "ALTER TABLE %s RENAME CONSTRAINT %s TO %s", q,
						quote_identifier(a->name), quote_identifier(b->name));
	}
	foreach(lc, before->indexes)
	{
		Named	   *b = lfirst(lc);

		if (!named_oid(after->indexes, b->oid))
		{
			inverse_add(g, "%s", b->definition);
			add_comment(g, "INDEX", quote_qualified_identifier(nsp, b->name),
						b->comment);
		}
	}
	if (before->referencing)
	{
		List	   *now = referencing_keys(before->relid);

		foreach(lc, before->referencing)
		{
			Named	   *b = lfirst(lc);

			if (!named_oid(now, b->oid))
				inverse_add(g, "%s", b->definition);
		}
	}
	if (before->owner && strcmp(before->owner, table_owner(before->relid)) != 0)
		inverse_add(g, "ALTER TABLE %s OWNER TO %s", q, before->owner);
}

/*
 * What makes a dropped table again, without its rows: its sequences and
 * CREATE TABLE with its columns and constraints into *create; its
 * indexes, the foreign keys (which may need another table made first),
 * the sequences' owner and its triggers into *then.  Returns false with
 * *reason when the table is of a kind this does not describe.
 */
bool
table_definition(Oid relid, List **create, List **then, char **reason)
{
	TableState *t;
	char	   *q = qualified_relation(relid);
	char	  **row;
	StringInfoData buf;
	ListCell   *lc;
	bool		first = true;
	List	   *rows;
	char	   *comment;

	row = linitial(rows_of("SELECT c.relkind, c.relpersistence, c.relispartition, "
						   " EXISTS (SELECT FROM pg_inherits WHERE inhrelid = c.oid OR inhparent = c.oid) "
						   "FROM pg_class c WHERE c.oid = $1", relid, 4));
	if (row[0][0] != RELKIND_RELATION || row[2][0] == 't' || row[3][0] == 't')
	{
		*reason = "the definition of a partitioned, inherited or foreign table is not generated";
		return false;
	}
	t = read_table(relid);

	rows = rows_of("SELECT s.seqrelid, format_type(s.seqtypid, NULL), s.seqincrement, "
				   " s.seqmin, s.seqmax, s.seqstart, s.seqcache, s.seqcycle, a.attname "
				   "FROM pg_depend d JOIN pg_sequence s ON s.seqrelid = d.objid "
				   "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
				   "WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass "
				   " AND d.refobjid = $1 AND d.deptype = 'a'", relid, 9);
	foreach(lc, rows)
	{
		char	  **s = lfirst(lc);
		char	   *seq = qualified_relation((Oid) strtoul(s[0], NULL, 10));

		*create = lappend(*create,
						  psprintf("CREATE SEQUENCE %s AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s%s",
								   seq, s[1], s[2], s[3], s[4], s[5], s[6],
								   s[7][0] == 't' ? " CYCLE" : ""));
		*then = lappend(*then, psprintf("ALTER SEQUENCE %s OWNED BY %s.%s", seq, q,
										quote_identifier(s[8])));
	}

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE %sTABLE %s (", row[1][0] == 'u' ? "UNLOGGED " : "", q);
	foreach(lc, t->columns)
	{
		Column	   *c = lfirst(lc);

		if (c->dropped)
			continue;
		appendStringInfo(&buf, "%s\n    %s", first ? "" : ",", column_definition(c));
		first = false;
	}
	foreach(lc, t->constraints)
	{
		Named	   *n = lfirst(lc);

		if (n->kind == 'f')
			*then = lappend(*then, psprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", q,
											quote_identifier(n->name), n->definition));
		else
		{
			appendStringInfo(&buf, "%s\n    CONSTRAINT %s %s", first ? "" : ",",
							 quote_identifier(n->name), n->definition);
			first = false;
		}
	}
	appendStringInfoString(&buf, "\n)");
	*create = lappend(*create, buf.data);
	foreach(lc, t->indexes)
		*create = lappend(*create, ((Named *) lfirst(lc))->definition);

	/* the comments, once what they are on is made */
	comment = comment_statement("TABLE", q,
								inverse_query_value("SELECT obj_description($1, 'pg_class')", relid));
	if (comment)
		*then = lappend(*then, comment);
	foreach(lc, t->columns)
	{
		Column	   *c = lfirst(lc);

		if (!c->dropped &&
			(comment = comment_statement("COLUMN", psprintf("%s.%s", q, quote_identifier(c->name)),
										 c->comment)))
			*then = lappend(*then, comment);
	}
	foreach(lc, t->constraints)
	{
		Named	   *n = lfirst(lc);

		if ((comment = comment_statement("CONSTRAINT",
										 psprintf("%s ON %s", quote_identifier(n->name), q),
										 n->comment)))
			*then = lappend(*then, comment);
	}
	foreach(lc, t->indexes)
	{
		Named	   *n = lfirst(lc);

		if ((comment = comment_statement("INDEX",
										 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
																	n->name),
										 n->comment)))
			*then = lappend(*then, comment);
	}
	rows = rows_of("SELECT pg_get_triggerdef(oid) FROM pg_trigger "
				   "WHERE tgrelid = $1 AND NOT tgisinternal ORDER BY tgname", relid, 1);
	foreach(lc, rows)
		*then = lappend(*then, ((char **) lfirst(lc))[0]);
	return true;
}
