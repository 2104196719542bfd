/*-------------------------------------------------------------------------
 *
 * interop.c
 *	  What the runs ask of a folder whose tool keeps its own table: which
 *	  migrations the tool applied, and keeping the table in step with what
 *	  pg_migrate applies and rolls back.  Each tool (drizzle_table.c,
 *	  dbmate_table.c, golang_migrate_table.c, flyway_table.c, prisma_table.c,
 *	  goose_table.c, sqlx_table.c, diesel_table.c) is found by
 *	  its folders' format, and works on its table through tool_table.c.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "tools/tools.h"

/* The tools that keep a table, by the format of their folders */
static const ToolInterop *const interops[] = {
	&drizzle_interop, &dbmate_interop, &golang_interop, &flyway_interop,
	/* issue 16 (formats1) */
	&prisma_interop, &goose_interop, &sqlx_interop, &diesel_interop,
	/* formats2's */
	&node_pg_migrate_interop, &atlas_interop, &sqitch_interop,
	&liquibase_interop
};

static const ToolInterop *interop_of_format(const char *format);

/*
 * Mark the migrations of set that the format's tool recorded in its table
 * as adopted, and remember where they were found.  Nothing when the format
 * has no such table, or the database does not hold it.  Refused when it
 * would adopt a migration from a table that others than its owner may
 * write.
 */
void
interop_adopt(MigrationSet *set, const bool *applied)
{
	const ToolInterop *interop = interop_of_format(set->format->name);
	ToolTable  *t;

	if (interop == NULL ||
		(t = tool_table_open(interop->table, false, NULL)) == NULL)
		return;
	interop->adopt(t, set, applied);
	for (int i = 0; i < set->count; i++)
	{
		if (set->items[i].adopted)
		{
			tool_table_check_writers(t, &set->items[i]);
			break;
		}
	}
	set->tool_table = t->qualified;
	tool_table_close(t);
}

/*
 * After m was applied, do what its tool does after a migration (Sqitch's
 * verify script, whose error fails it), write the tool's table as the tool
 * would have (creating it first where the tool would: drizzle-orm), and
 * log the write in migrate.history.
 */
void
interop_record(const MigrationSet *set, const Migration *m)
{
	const ToolInterop *interop = interop_of_format(set->format->name);
	ToolTable  *t;

	if (interop != NULL && interop->after_apply != NULL)
		interop->after_apply(set, m);
	if (interop == NULL || interop->record == NULL ||
		(t = tool_table_open(interop->table, true, interop->create)) == NULL)
		return;
	if (interop->record(t, set, m))
		tracking_record_tool("tool_record", m->name, set->folder->source,
							 m->checksum, t->qualified);
	tool_table_close(t);
}

/*
 * Before the first migration that pg_migrate runs from a folder whose tool
 * creates its table before running any (drizzle-orm, dbmate,
 * golang-migrate), create it where it is missing, as the tool would: a
 * migration may use the table (golang-migrate's projects alter
 * schema_migrations), and would fail where the tool ran it.
 */
void
interop_prepare(const MigrationSet *set)
{
	const ToolInterop *interop = interop_of_format(set->format->name);
	ToolTable  *t;

	if (interop == NULL || interop->create == NULL ||
		(t = tool_table_open(interop->table, true, interop->create)) == NULL)
		return;
	tool_table_close(t);
}

/*
 * The tool that keeps a table for a format, by the format's name: of a
 * folder being read, or of the folder an applied migration came from; NULL
 * when the format's tool keeps none (plain).
 */
static const ToolInterop *
interop_of_format(const char *format)
{
	for (int i = 0; format != NULL && i < lengthof(interops); i++)
		if (strcmp(interops[i]->format, format) == 0)
			return interops[i];
	return NULL;
}

/*
 * After am was rolled back (and removed from migrate.migrations), write the
 * tool's table as the tool would have, and log the write.
 */
void
interop_forget(const AppliedMigration *am)
{
	const ToolInterop *interop = interop_of_format(am->format);
	ToolTable  *t;

	if (interop == NULL || interop->forget == NULL ||
		(t = tool_table_open(interop->table, true, NULL)) == NULL)
		return;
	if (interop->forget(t, am))
		tracking_record_tool("tool_forget", am->name, am->source, am->checksum,
							 t->qualified);
	tool_table_close(t);
}

/*
 * Before a rollback undoes anything, check the tables that interop_forget()
 * will write for these migrations, each once: a table refused, or a
 * golang-migrate version left dirty, stops it before any down script runs
 * (one that runs in the background worker commits on its own).
 */
void
interop_check_forget(List *targets)
{
	List	   *checked = NIL;
	ListCell   *lc;

	foreach(lc, targets)
	{
		const AppliedMigration *am = lfirst(lc);
		const ToolInterop *interop = interop_of_format(am->format);
		ToolTable  *t;

		if (interop == NULL || interop->forget == NULL ||
			list_member_ptr(checked, interop))
			continue;
		checked = lappend(checked, (void *) interop);
		t = tool_table_open(interop->table, false, NULL);
		if (t == NULL)
			continue;
		if (interop->check)
			interop->check(t);
		tool_table_close(t);
	}
	list_free(checked);
}

/* The name of the tool whose table adopted migrations were found in */
const char *
interop_tool(const MigrationSet *set)
{
	const ToolInterop *interop = interop_of_format(set->format->name);

	return interop ? interop->table->tool : NULL;
}
