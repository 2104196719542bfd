/*-------------------------------------------------------------------------
 *
 * dbmate.c
 *	  dbmate's folders: one file per migration, "20240101120000_name.sql",
 *	  holding a "-- migrate:up" section and an optional "-- migrate:down"
 *	  section.  "-- migrate:up transaction:false" runs the up section
 *	  outside a transaction, like "-- migrate:no-transaction".
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "formats/formats.h"

static bool dbmate_claims(const Folder *folder, List *files);
static void dbmate_scan(MigrationSet *set, List *files);
static void dbmate_load(const MigrationSet *set, const Migration *m,
						LoadedMigration *out, bool with_down);
static char *find_marker(char *sql, const char *marker);

const MigrationFormat dbmate_format = {
	"dbmate", dbmate_claims, dbmate_scan, dbmate_load
};

/*
 * The start of the line that begins with marker, or NULL.  The first line
 * begins after a byte order mark, where the marker usually is.
 */
static char *
find_marker(char *sql, const char *marker)
{
	size_t		len = strlen(marker);

	for (char *line = sql + script_bom_length(sql); line;
		 line = strchr(line, '\n'), line = line ? line + 1 : NULL)
	{
		if (strncmp(line, marker, len) == 0 &&
			(line[len] == '\0' || isspace((unsigned char) line[len])))
			return line;
	}
	return NULL;
}

/*
 * dbmate files are named like plain ones; what tells them apart is the
 * "-- migrate:up" marker, looked for in the first numbered file.
 */
static bool
dbmate_claims(const Folder *folder, List *files)
{
	ListCell   *lc;

	foreach(lc, files)
	{
		const char *file = lfirst(lc);

		if (is_numbered_sql(file))
		{
			char	   *sql = folder_read_file(folder, file, false);
			bool		found = find_marker(sql, "-- migrate:up") != NULL;

			/* freed at once: detection runs before the whole call's work */
			pfree(sql);
			return found;
		}
	}
	return false;
}

static void
dbmate_scan(MigrationSet *set, List *files)
{
	ListCell   *lc;

	foreach(lc, files)
	{
		const char *file = lfirst(lc);
		char	   *name;

		if (!is_numbered_sql(file))
			continue;
		name = pstrdup(file);
		(void) strip_suffix(name, ".sql");
		(void) source_add(set, name, leading_version(name), file);
	}
}

static void
dbmate_load(const MigrationSet *set, const Migration *m, LoadedMigration *out,
			bool with_down)
{
	char	   *sql = folder_read_file(set->folder, m->up_file, false);
	char	   *up = find_marker(sql, "-- migrate:up");
	char	   *down = find_marker(sql, "-- migrate:down");
	char	   *up_body;
	char	   *eol;

	if (up == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dbmate migration \"%s\" has no \"-- migrate:up\" line", m->up_file),
				 errdetail("Folder \"%s\" is in dbmate format, where each file holds its up and down sections.",
						   set->dir),
				 errhint("Put the up statements below a line \"-- migrate:up\", and the down statements below a line \"-- migrate:down\".")));
	if (down && down < up)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dbmate migration \"%s\" has its \"-- migrate:down\" section before \"-- migrate:up\"",
						m->up_file),
				 errhint("Move the down section to the end of the file.")));

	eol = strchr(up, '\n');
	up_body = eol ? eol + 1 : up + strlen(up);
	out->no_transaction = strstr(pnstrdup(up, up_body - up), "transaction:false") != NULL;
	out->up.file = m->up_file;
	out->up.first_line = 1 + count_newlines(sql, up_body - sql);
	out->up.sql = down ? pnstrdup(up_body, down - up_body) : pstrdup(up_body);

	if (down && with_down)
	{
		char	   *down_body;

		eol = strchr(down, '\n');
		down_body = eol ? eol + 1 : down + strlen(down);
		out->down.file = m->up_file;
		out->down.first_line = 1 + count_newlines(sql, down_body - sql);
		out->down.sql = pstrdup(down_body);
	}
}
