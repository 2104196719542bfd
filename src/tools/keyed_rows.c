/*-------------------------------------------------------------------------
 *
 * keyed_rows.c
 *	  The tracking tables that keep one row per applied migration, found by
 *	  one column (dbmate's version, drizzle-orm's hash): adopting what they
 *	  record, and adding or removing a migration's row, for dbmate_table.c
 *	  and drizzle_table.c.
 *
 * tool_table.c checks, reads and writes the table; this file only says
 * what such a tool does with its rows, so that each tool's file keeps
 * what is its own: which column is the key, which value of a migration
 * goes there, and what else its row holds.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "tools/tools.h"

/* The values of the key column, of every row that has one */
List *
keyed_rows_keys(ToolTable *t, int column)
{
	List	   *keys = NIL;
	ListCell   *lc;

	foreach(lc, tool_table_rows(t))
	{
		ToolRow    *row = lfirst(lc);

		if (row->values[column])
			keys = lappend(keys, row->values[column]);
	}
	return keys;
}

/*
 * Mark as adopted each migration of set not applied already whose key has
 * a row: what the tool applied.
 */
void
keyed_rows_adopt(ToolTable *t, int column, MigrationSet *set,
				 const bool *applied, migration_key key)
{
	List	   *keys = keyed_rows_keys(t, column);

	for (int i = 0; i < set->count; i++)
		if (!applied[i] && string_list_member(keys, key(&set->items[i])))
			set->items[i].adopted = true;
}

/*
 * Insert a migration's row, of the given columns and values (the key among
 * them), unless its key has one already; whether it was inserted.
 */
bool
keyed_rows_record(ToolTable *t, int column, const char *key, int ncolumns,
				  const int *columns, const Oid *types, Datum *values)
{
	if (string_list_member(keyed_rows_keys(t, column), key))
		return false;
	tool_table_insert(t, ncolumns, columns, types, values);
	return true;
}

/* Delete every row of the key, as after a rollback; whether there was one */
bool
keyed_rows_forget(ToolTable *t, int column, const char *key)
{
	bool		deleted = false;
	ListCell   *lc;

	foreach(lc, tool_table_rows(t))
	{
		ToolRow    *row = lfirst(lc);

		if (row->values[column] && strcmp(row->values[column], key) == 0)
		{
			tool_table_delete(t, row);
			deleted = true;
		}
	}
	return deleted;
}
