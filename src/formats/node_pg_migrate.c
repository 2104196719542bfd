/*-------------------------------------------------------------------------
 *
 * node_pg_migrate.c
 *	  node-pg-migrate's SQL migrations: "1700000000000_add-email.sql", whose
 *	  up section follows a line "-- Up Migration" and whose down section
 *	  follows a line "-- Down Migration", or a pair
 *	  "1700000000000_add-email.up.sql" / ".down.sql" (its "sql" loader).
 *	  Its tool's table is tools/node_pg_migrate_table.c's.
 *
 * As node-pg-migrate reads them: a marker is a line starting with "--"
 * (after blanks), then dashes and blanks, "up" or "down", blanks and
 * "migration", in any case ("--- down migrations" is one).  The up section
 * runs from the first up marker to the down marker, or to the end when the
 * down section comes first; the down section the same way round.  A file
 * without markers is all up.  node-pg-migrate runs a file whose only marker
 * is a down marker whole as its up migration, down section included: that
 * file is refused instead, as is a ".up.sql" file holding a down marker.
 *
 * Files are ordered by their numeric prefix (a 17-digit prefix is a UTC
 * date, YYYYMMDDHHMMSSmmm, counted as milliseconds since 1970 like the
 * 13-digit prefixes node-pg-migrate writes by default), then by name.  A
 * migration's name is its file name without ".sql" (and without ".up" for
 * a pair), the name node-pg-migrate records.  JavaScript and TypeScript
 * migrations cannot be run by pg_migrate and are refused, naming the file.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/datetime.h"

#include "formats/formats.h"

typedef enum NpmMarker
{
	NPM_NONE,
	NPM_UP,
	NPM_DOWN
} NpmMarker;

static bool npm_claims(const Folder *folder, List *files);
static void npm_scan(MigrationSet *set, List *files);
static void npm_load(const MigrationSet *set, const Migration *m,
					 LoadedMigration *out, bool with_down);

const MigrationFormat node_pg_migrate_format = {
	"node-pg-migrate", npm_claims, npm_scan, npm_load
};

/* Which marker the line at p is, as node-pg-migrate's pattern reads it */
static NpmMarker
marker_at(const char *p)
{
	NpmMarker	kind;

	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	if (p[0] != '-' || p[1] != '-')
		return NPM_NONE;
	p += 2;
	while (*p == '-' || *p == ' ' || *p == '\t')
		p++;
	if (pg_strncasecmp(p, "up", 2) == 0)
	{
		kind = NPM_UP;
		p += 2;
	}
	else if (pg_strncasecmp(p, "down", 4) == 0)
	{
		kind = NPM_DOWN;
		p += 4;
	}
	else
		return NPM_NONE;
	if (*p != ' ' && *p != '\t')
		return NPM_NONE;
	while (*p == ' ' || *p == '\t')
		p++;
	return pg_strncasecmp(p, "migration", 9) == 0 ? kind : NPM_NONE;
}

/* The first line of sql that is a marker of that kind, or NULL */
static char *
find_marker(char *sql, NpmMarker kind)
{
	for (char *line = sql + script_bom_length(sql); line;
		 line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (marker_at(line) == kind)
			return line;
	return NULL;
}

/* "1700000000000_x.js" and the like: a migration pg_migrate cannot run */
static bool
is_script_migration(const char *file)
{
	static const char *const suffixes[] = {".js", ".ts", ".cjs", ".mjs", ".cts", ".mts"};
	size_t		len = strlen(file);

	if (!isdigit((unsigned char) file[0]) || strchr(file, '/') != NULL)
		return false;
	for (int i = 0; i < lengthof(suffixes); i++)
	{
		size_t		n = strlen(suffixes[i]);

		if (len > n && strcmp(file + len - n, suffixes[i]) == 0 &&
			!(len > 5 && strcmp(file + len - 5, ".d.ts") == 0))
			return true;
	}
	return false;
}

/*
 * node-pg-migrate's folders are told from plain ones by their markers,
 * looked for in the first numbered file, as dbmate's are.
 */
static bool
npm_claims(const Folder *folder, List *files)
{
	ListCell   *lc;

	foreach(lc, files)
	{
		const char *file = lfirst(lc);

		if (is_numbered_sql(file))
		{
			char	   *sql = folder_read_file(folder, file, false);
			bool		found = find_marker(sql, NPM_UP) != NULL ||
				find_marker(sql, NPM_DOWN) != NULL;

			pfree(sql);
			return found;
		}
	}
	return false;
}

/*
 * The version node-pg-migrate orders a migration by: its numeric prefix,
 * a 17-digit one being a UTC date made milliseconds since 1970.
 */
static char *
npm_version(const char *name)
{
	char	   *digits = leading_version(name);
	struct pg_tm tm;
	int			ms;
	int64		days;

	if (strlen(digits) != 17)
		return digits;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(digits, "%4d%2d%2d%2d%2d%2d%3d", &tm.tm_year, &tm.tm_mon,
			   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7 ||
		tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31)
		return digits;
	days = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - UNIX_EPOCH_JDATE;
	return psprintf(INT64_FORMAT,
					((days * 24 + tm.tm_hour) * 60 + tm.tm_min) * 60000 +
					tm.tm_sec * 1000 + ms);
}

static void
npm_scan(MigrationSet *set, List *files)
{
	ListCell   *lc;

	foreach(lc, files)
	{
		const char *file = lfirst(lc);
		char	   *name;
		char	   *stem;
		Migration  *m;

		if (is_script_migration(file))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("node-pg-migrate migration \"%s\" is not a SQL file", file),
					 errdetail("Folder \"%s\" is in node-pg-migrate format; pg_migrate runs its SQL migrations only, and cannot run JavaScript or TypeScript.",
							   set->dir),
					 errhint("Write the migration as SQL in a file \"%s.sql\" with \"-- Up Migration\" and \"-- Down Migration\" sections, or run this folder with node-pg-migrate.",
							 pnstrdup(file, strrchr(file, '.') - file))));
		if (!is_numbered_sql(file))
			continue;
		stem = pstrdup(file);
		(void) strip_suffix(stem, ".sql");
		if (strip_suffix(stem, ".down"))
			continue;			/* paired below */
		name = pstrdup(stem);
		if (strip_suffix(name, ".up") &&
			string_list_member(files, psprintf("%s.sql", name)))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_FILE),
					 errmsg("migration \"%s\" has two up scripts: \"%s.sql\" and \"%s\"",
							name, name, file),
					 errdetail("node-pg-migrate does not mix a \".sql\" file with \".up.sql\" and \".down.sql\" files of the same name."),
					 errhint("Keep one of the two files.")));
		m = source_add(set, name, npm_version(name), file);
		if (strcmp(name, stem) != 0 &&
			string_list_member(files, psprintf("%s.down.sql", name)))
			m->down_file = psprintf("%s.down.sql", name);
	}

	/* a down script without its up script */
	foreach(lc, files)
	{
		char	   *name = pstrdup(lfirst(lc));

		if (is_numbered_sql(name) && strip_suffix(name, ".down.sql") &&
			!string_list_member(files, psprintf("%s.up.sql", name)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("down script \"%s\" has no up script", (char *) lfirst(lc)),
					 errdetail("Expected \"%s.up.sql\" beside it in folder \"%s\".",
							   name, set->dir),
					 errhint("Add the up script, or remove the down script.")));
	}
}

/* A section from the line after its marker to end (or the end of sql) */
static void
section(const Migration *m, char *sql, char *marker, char *end, Script *out)
{
	char	   *eol = strchr(marker, '\n');
	char	   *body = eol ? eol + 1 : marker + strlen(marker);

	if (end && body > end)
		body = end;
	out->file = m->up_file;
	out->first_line = 1 + count_newlines(sql, body - sql);
	out->sql = end ? pnstrdup(body, end - body) : pstrdup(body);
}

static void
npm_load(const MigrationSet *set, const Migration *m, LoadedMigration *out,
		 bool with_down)
{
	char	   *sql = folder_read_file(set->folder, m->up_file, false);
	char	   *up = find_marker(sql, NPM_UP);
	char	   *down = find_marker(sql, NPM_DOWN);
	Script		script = {m->up_file, sql, 1};
	size_t		len = strlen(m->up_file);
	bool		pair = len > 7 && strcmp(m->up_file + len - 7, ".up.sql") == 0;

	if (down && (up == NULL || pair))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 pair ?
				 errmsg("node-pg-migrate up script \"%s\" holds a down section",
						m->up_file) :
				 errmsg("node-pg-migrate migration \"%s\" has a down section but no up section",
						m->up_file),
				 errdetail("Line %d of \"%s\" starts a down section, and %s.",
						   script_line_at(&script, down - sql), m->up_file,
						   pair ?
						   "node-pg-migrate runs a \".up.sql\" file whole as the up migration" :
						   "no line \"-- Up Migration\" comes before it: node-pg-migrate would run the whole file, down section included, as the up migration"),
				 pair ?
				 errhint("Move the statements below that line into \"%s.down.sql\".", m->name) :
				 errhint("Put a line \"-- Up Migration\" above the up statements.")));

	if (pair)
	{
		/* the "sql" loader's pair: each file whole */
		load_up_down_files(set, m, out, with_down);
		return;
	}
	if (up == NULL)
	{
		load_script(set, m->up_file, &out->up);
		return;
	}
	section(m, sql, up, down && down > up ? down : NULL, &out->up);
	if (down && with_down)
		section(m, sql, down, up > down ? up : NULL, &out->down);
}
