/*-------------------------------------------------------------------------
 *
 * capture.c
 *	  What the statement families of the generator share: writing down an
 *	  inverse, a note on it, or why a statement is not undone; reading the
 *	  catalog with names printed schema-qualified; naming a relation, and
 *	  finding the schema a CREATE puts its object in.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "exec/exec.h"
#include "inverse/inverse.h"

/* fmt and its arguments printed, in g's context */
static char *format_in(DownGenerator *g, const char *fmt, va_list args) pg_attribute_printf(2, 0);

static char *
format_in(DownGenerator *g, const char *fmt, va_list args)
{
	MemoryContext old = MemoryContextSwitchTo(g->cxt);
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		copy;
		int			needed;

		va_copy(copy, args);
		needed = appendStringInfoVA(&buf, fmt, copy);
		va_end(copy);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	MemoryContextSwitchTo(old);
	return buf.data;
}

/* Append text to one of g's lists, in g's context */
static void
append_in(DownGenerator *g, List **list, char *text)
{
	MemoryContext old = MemoryContextSwitchTo(g->cxt);

	*list = lappend(*list, text);
	MemoryContextSwitchTo(old);
}

/* Add an inverse of the running statement, in the order they must run */
void
inverse_add(DownGenerator *g, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	append_in(g, &g->inverses, format_in(g, fmt, args));
	va_end(args);
}

/* A comment on the running statement's inverse, for whoever reviews it */
void
inverse_note(DownGenerator *g, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	append_in(g, &g->notes, format_in(g, fmt, args));
	va_end(args);
}

/*
 * Note a relation the running statement created, which its inverse drops:
 * the rows later statements write into a table need no inverse, and what
 * they do to it neither, as long as nothing else is made in between (see
 * inverse.c)
 */
void
inverse_created_relation(DownGenerator *g, Oid relid, bool table)
{
	MemoryContext old;

	if (!OidIsValid(relid))
		return;
	if (g->created_at != g->index)
	{
		list_free(g->latest_created);
		g->latest_created = NIL;
		g->created_at = g->index;
	}
	old = MemoryContextSwitchTo(g->cxt);
	g->latest_created = lappend_oid(g->latest_created, relid);
	if (table)
		g->created = lappend_oid(g->created, relid);
	MemoryContextSwitchTo(old);
}

/*
 * Note that the running statement is not (wholly) undone, and why: the
 * reason is a sentence fragment, lowercase, without period.  Statements in
 * a row with the same reason make one entry.
 */
void
inverse_partial(DownGenerator *g, const char *fmt,...)
{
	va_list		args;
	char	   *reason;
	MemoryContext old;
	InversePartial *last = g->partials ? llast(g->partials) : NULL;

	va_start(args, fmt);
	reason = format_in(g, fmt, args);
	va_end(args);
	old = MemoryContextSwitchTo(g->cxt);
	if (last && last->last_index == g->index - 1 &&
		strcmp(last->reason, reason) == 0)
	{
		last->last_line = g->line;
		last->last_index = g->index;
		last->count++;
		pfree(reason);
	}
	else if (!(last && last->last_index == g->index &&
			   strcmp(last->reason, reason) == 0))
	{
		InversePartial *p = palloc0(sizeof(InversePartial));

		p->line = p->last_line = g->line;
		p->count = 1;
		p->last_index = g->index;
		p->statement = pstrdup(g->statement);
		p->reason = reason;
		g->partials = lappend(g->partials, p);
	}
	MemoryContextSwitchTo(old);
}

/*
 * The generator's catalog queries, planned once per session: each DDL
 * statement of a migration takes a few of them, and planning them every
 * time cost more than running them (twice the time of applying without
 * generation, in the benchmark).  Their plans are generic and kept for the
 * session; the plan cache plans them again when the catalog changes.
 */
#define MAX_KEPT_PLANS 32

typedef struct KeptPlan
{
	const char *query;
	SPIPlanPtr	plan;
} KeptPlan;

static KeptPlan kept_plans[MAX_KEPT_PLANS];
static int	kept_plan_count = 0;

static SPIPlanPtr
catalog_plan(const char *query, int nargs, Oid *types)
{
	SPIPlanPtr	plan;

	for (int i = 0; i < kept_plan_count; i++)
		if (strcmp(kept_plans[i].query, query) == 0)
			return kept_plans[i].plan;
	plan = spi_prepare(query, nargs, types, CURSOR_OPT_GENERIC_PLAN);
	if (kept_plan_count == MAX_KEPT_PLANS || SPI_keepplan(plan) != 0)
		return plan;			/* used once, freed with SPI's memory */
	kept_plans[kept_plan_count].query = MemoryContextStrdup(TopMemoryContext, query);
	kept_plans[kept_plan_count].plan = plan;
	kept_plan_count++;
	return plan;
}

/*
 * Run a catalog query with search_path = pg_catalog and return its rows,
 * each an array of ncols strings (NULL for a null), in the caller's
 * memory context.
 */
List *
inverse_query(const char *query, int nargs, Oid *types, Datum *values,
			  int ncols)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			nest = NewGUCNestLevel();
	List	   *rows = NIL;
	int			rc;

	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	rc = SPI_execute_plan(catalog_plan(query, nargs, types), values, NULL,
						  false, 0);
	MemoryContextSwitchTo(cxt);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "internal query failed: %s: %s",
			 SPI_result_code_string(rc), query);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	  **row = palloc0(sizeof(char *) * ncols);

		for (int c = 0; c < ncols; c++)
			row[c] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
								  c + 1);
		rows = lappend(rows, row);
	}
	SPI_freetuptable(SPI_tuptable);
	AtEOXact_GUC(true, nest);
	return rows;
}

/* The one value of a catalog query about one object, or NULL */
char *
inverse_query_value(const char *query, Oid arg)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(arg)};
	List	   *rows = inverse_query(query, 1, types, values, 1);

	return rows ? ((char **) linitial(rows))[0] : NULL;
}

/* A relation's name, schema-qualified and quoted */
char *
qualified_relation(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/*
 * The schema a CREATE of rv puts its relation in, as the statement will
 * resolve it, or InvalidOid when it does not exist (the statement fails).
 */
Oid
creation_namespace_of(RangeVar *rv)
{
	RangeVar	copy = *rv;

	if (copy.schemaname)
		return get_namespace_oid(copy.schemaname, true);
	return RangeVarGetCreationNamespace(&copy);
}

/*
 * A definition as the deparse functions print it, without the blanks and
 * the semicolon around it: the generated script adds its own.
 */
char *
inverse_trim(char *def)
{
	int			len;

	while (*def == ' ' || *def == '\n')
		def++;
	len = strlen(def);
	while (len > 0 && (def[len - 1] == '\n' || def[len - 1] == ';' ||
					   def[len - 1] == ' '))
		def[--len] = '\0';
	return def;
}
