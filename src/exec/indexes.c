/*-------------------------------------------------------------------------
 *
 * indexes.c
 *	  The indexes a no-transaction migration leaves invalid.
 *
 * A CREATE INDEX CONCURRENTLY that fails or is interrupted leaves an
 * invalid index behind, and its statement's transaction is committed.  Run
 * again with IF NOT EXISTS, the statement then skips the invalid index and
 * succeeds: the migration would be recorded as applied without its index.
 * So before a pending no-transaction migration runs, an invalid index its
 * CREATE INDEX statements name is dropped (run/run.c), to be built again;
 * after it, an invalid index it created or names fails it.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "util/compat.h"
#include "exec/exec.h"

static List *index_statements(const Script *script);
static char *invalid_index_named(IndexStmt *stmt);

/*
 * Every invalid index of the database, as quoted qualified names, so that
 * those a migration adds can be told from those that were there before.
 */
List *
invalid_indexes(void)
{
	spi_run("SELECT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' "
			"OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname) "
			"FROM pg_catalog.pg_index i "
			"JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid "
			"JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
			"WHERE NOT i.indisvalid ORDER BY 1",
			0, NULL, NULL, NULL, SPI_OK_SELECT);
	return spi_first_column();
}

/*
 * The CREATE INDEX statements of a script.  No-transaction scripts are
 * short, so parsing one again here costs little.
 */
static List *
index_statements(const Script *script)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, compat_raw_parser(script->sql + script_bom_length(script->sql)))
	{
		Node	   *stmt = lfirst_node(RawStmt, lc)->stmt;

		if (IsA(stmt, IndexStmt))
			result = lappend(result, stmt);
	}
	return result;
}

/*
 * The index a CREATE INDEX statement names, as a quoted qualified name,
 * when it exists and is invalid; else NULL.  Names are resolved with the
 * caller's search_path, which the worker ran the statement with.
 */
static char *
invalid_index_named(IndexStmt *stmt)
{
	Oid			relid;
	Oid			indexid;
	HeapTuple	tup;
	bool		valid;

	if (stmt->idxname == NULL || stmt->relation == NULL)
		return NULL;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid))
		return NULL;
	indexid = get_relname_relid(stmt->idxname, get_rel_namespace(relid));
	if (!OidIsValid(indexid))
		return NULL;
	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexid));
	if (!HeapTupleIsValid(tup))
		return NULL;
	valid = ((Form_pg_index) GETSTRUCT(tup))->indisvalid;
	ReleaseSysCache(tup);
	if (valid)
		return NULL;
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(indexid)),
									  get_rel_name(indexid));
}

/*
 * The invalid indexes a no-transaction script left: those that were not
 * invalid before it ran, and those its CREATE INDEX statements name (an
 * earlier attempt's, which IF NOT EXISTS skipped).
 */
List *
indexes_left_invalid(const Script *script, List *before)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, invalid_indexes())
	{
		if (!string_list_member(before, lfirst(lc)))
			result = lappend(result, lfirst(lc));
	}

	foreach(lc, index_statements(script))
	{
		char	   *index = invalid_index_named(lfirst(lc));

		if (index && !string_list_member(result, index))
			result = lappend(result, index);
	}
	return result;
}

/*
 * The indexes a script's CREATE INDEX statements name that exist and are
 * invalid: what an earlier attempt at a pending no-transaction migration
 * left when it was interrupted (a crash, a restart, a cancel).
 */
List *
indexes_created_invalid(const Script *script)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, index_statements(script))
	{
		char	   *index = invalid_index_named(lfirst(lc));

		if (index && !string_list_member(result, index))
			result = lappend(result, index);
	}
	return result;
}

/* "DROP INDEX CONCURRENTLY a; DROP INDEX CONCURRENTLY b;" for the hint */
char *
drop_index_commands(List *indexes)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, indexes)
		appendStringInfo(&buf, "%sDROP INDEX CONCURRENTLY %s;",
						 buf.len > 0 ? " " : "", (char *) lfirst(lc));
	return buf.data;
}
