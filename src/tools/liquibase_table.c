/*-------------------------------------------------------------------------
 *
 * liquibase_table.c
 *	  Reading Liquibase's tracking table, DATABASECHANGELOG, so that a team
 *	  switching from Liquibase keeps its history.  pg_migrate only reads it:
 *	  its MD5SUM is Liquibase's own checksum of a changeset as it normalizes
 *	  it, which pg_migrate does not reproduce.
 *
 * Liquibase keeps a row per changeset it ran (ID, AUTHOR, FILENAME,
 * DATEEXECUTED, ORDEREXECUTED, EXECTYPE, MD5SUM, DESCRIPTION, COMMENTS,
 * TAG, LIQUIBASE, CONTEXTS, LABELS, DEPLOYMENT_ID), created unquoted, so
 * lowercase on PostgreSQL, in its default schema (the current schema).  A
 * changeset is applied when a row has its id and author, and a filename
 * that is its changelog's path (Liquibase records the path it was given:
 * the file's name, or a path ending in "/<name>"), with EXECTYPE EXECUTED,
 * RERAN or MARK_RAN.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"

#include "tools/tools.h"

#define COL_ID 0
#define COL_AUTHOR 1
#define COL_FILENAME 2
#define COL_EXECTYPE 3

static void liquibase_adopt(ToolTable *t, MigrationSet *set, const bool *applied);

static const ToolTableSpec liquibase_table = {
	"Liquibase", NULL, "databasechangelog",
	"(id varchar(255) NOT NULL, author varchar(255) NOT NULL,"
	" filename varchar(255) NOT NULL, dateexecuted timestamp NOT NULL,"
	" orderexecuted integer NOT NULL, exectype varchar(10) NOT NULL,"
	" md5sum varchar(35), description varchar(255), comments varchar(255),"
	" tag varchar(255), liquibase varchar(20), contexts varchar(255),"
	" labels varchar(255), deployment_id varchar(10))",
	"id varchar, author varchar, filename varchar, dateexecuted timestamp, orderexecuted integer, exectype varchar, md5sum varchar and the others",
	false,
	4, {{"id", VARCHAROID, TEXTOID}, {"author", VARCHAROID, TEXTOID},
	{"filename", VARCHAROID, TEXTOID}, {"exectype", VARCHAROID, TEXTOID}}
};

const ToolInterop liquibase_interop = {
	"liquibase", &liquibase_table, NULL, liquibase_adopt, NULL, NULL, NULL,
	NULL
};

/* Whether Liquibase's recorded path is the changelog file's */
static bool
same_file(const char *recorded, const char *file)
{
	size_t		n = strlen(recorded),
				k = strlen(file);

	if (strncmp(recorded, "classpath:", 10) == 0)
		recorded += 10;
	n = strlen(recorded);
	return strcmp(recorded, file) == 0 ||
		(n > k && recorded[n - k - 1] == '/' && strcmp(recorded + n - k, file) == 0);
}

/* What Liquibase ran: the changesets with a row of their id, author, file */
static void
liquibase_adopt(ToolTable *t, MigrationSet *set, const bool *applied)
{
	List	   *rows = tool_table_rows(t);

	for (int i = 0; i < set->count; i++)
	{
		Migration  *m = &set->items[i];
		ListCell   *lc;

		if (applied[i])
			continue;
		foreach(lc, rows)
		{
			const ToolRow *row = lfirst(lc);
			const char *type = row->values[COL_EXECTYPE];

			if (row->values[COL_ID] == NULL || row->values[COL_AUTHOR] == NULL ||
				row->values[COL_FILENAME] == NULL || type == NULL ||
				!same_file(row->values[COL_FILENAME], m->up_file) ||
				strcmp(m->name, psprintf("%s::%s::%s", m->up_file,
										 row->values[COL_ID],
										 row->values[COL_AUTHOR])) != 0)
				continue;
			if (strcmp(type, "EXECUTED") == 0 || strcmp(type, "RERAN") == 0 ||
				strcmp(type, "MARK_RAN") == 0)
				m->adopted = true;
		}
	}
}
