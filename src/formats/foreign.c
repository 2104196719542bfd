/*-------------------------------------------------------------------------
 *
 * foreign.c
 *	  Files written for other migration tools, which keep a migration's down
 *	  section in the same file as its up section, below a marker comment:
 *	  goose's "-- +goose Down", node-pg-migrate's "-- Down Migration" and
 *	  the like.  To pg_migrate such a marker is only a comment, so the down
 *	  section would run right after the up section, as part of the up
 *	  migration, and undo it while the run reports success.  A folder
 *	  detected as a tool's whose format pg_migrate does not read, and any
 *	  migration file holding a down marker of another format than its
 *	  folder's (dbmate's, goose's, node-pg-migrate's and Liquibase's are read in
 *	  their own formats), is refused with an error naming the file, the line
 *	  and the tool.
 *
 * Markers count only on comment lines, never inside a string or a function
 * body (see script_find_comment_line).
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "formats/formats.h"

/*
 * A tool and its markers, written as normalize_comment() leaves a comment
 * line: lowercase, without the leading dashes, blanks collapsed.  A marker
 * ends at the end of the line or at a blank, unless prefix is set (the
 * tool's own pattern then lets it go on: "-- Down Migrations").
 */
typedef struct ForeignTool
{
	const char *name;			/* as its users call it */
	const char *format;			/* the pg_migrate format that reads its
								 * files, or NULL when none does yet */
	const char *up[2];			/* what marks its files, beside down */
	const char *down[2];		/* what starts its down section */
	bool		prefix;
	bool		changelog;		/* its files hold several changes, each with
								 * its own rollback */
	const char *what;			/* what the down marker is, for errdetail */
} ForeignTool;

#define STARTS_DOWN "starts the migration's down section"

static const ForeignTool tools[] = {
	{"goose", "goose", {"+goose up"}, {"+goose down"}, false, false, STARTS_DOWN},
	{"micrate", NULL, {"+micrate up"}, {"+micrate down"}, false, false, STARTS_DOWN},
	{"sql-migrate", NULL, {"+migrate up"}, {"+migrate down"}, false, false, STARTS_DOWN},
	{"node-pg-migrate", "node-pg-migrate", {"up migration"}, {"down migration"}, true, false, STARTS_DOWN},
	{"Play evolutions", NULL, {"!ups"}, {"!downs"}, true, false, STARTS_DOWN},
	{"MyBatis Migrations", NULL, {NULL}, {"//@undo", "// @undo"}, true, false, STARTS_DOWN},
	{"tern", NULL, {NULL}, {"create above / drop below ----"}, false, false, STARTS_DOWN},
	{"shmig", NULL, {"==== up ===="}, {"==== down ===="}, false, false, STARTS_DOWN},
	{"Liquibase formatted SQL", "liquibase", {NULL}, {"liquibase formatted"}, true, true,
	"makes the file a Liquibase changelog, whose changesets and \"--rollback\" lines pg_migrate does not read"},
	{"dbmate", "dbmate", {NULL}, {"migrate:down"}, true, false, STARTS_DOWN}
};

/*
 * What a matcher looks for: down markers only, or up markers too (while
 * detecting, when the folder's format is not known yet: NULL)
 */
typedef struct MarkerQuery
{
	bool		with_up;
	const MigrationFormat *format;	/* the folder's: its own markers are
									 * not foreign */
} MarkerQuery;

/*
 * The words of a comment line after its leading dashes, lowercase, blanks
 * collapsed to one space, into buf (at most size - 1 bytes: markers are
 * short).
 */
static void
normalize_comment(const char *line, int len, char *buf, int size)
{
	const char *end = line + len;
	int			n = 0;

	while (line < end && (*line == '-' || *line == ' ' || *line == '\t'))
		line++;
	for (; line < end && n < size - 1; line++)
	{
		if (*line == ' ' || *line == '\t')
		{
			if (n > 0 && buf[n - 1] != ' ')
				buf[n++] = ' ';
		}
		else
			buf[n++] = pg_ascii_tolower((unsigned char) *line);
	}
	buf[n] = '\0';
}

static bool
marker_matches(const ForeignTool *tool, const char *marker, const char *words)
{
	size_t		len = strlen(marker);

	return strncmp(words, marker, len) == 0 &&
		(tool->prefix || words[len] == '\0' || words[len] == ' ');
}

/*
 * CommentLineMatch for script_find_comment_line(): 1 + twice the tool's
 * index, plus one for a down marker; 0 for a line that is no marker.
 */
static int
match_marker(const char *line, int len, void *arg)
{
	const MarkerQuery *q = arg;
	char		words[64];

	normalize_comment(line, len, words, sizeof(words));
	for (int i = 0; i < lengthof(tools); i++)
	{
		const ForeignTool *tool = &tools[i];

		/* a format pg_migrate reads is detected by its own rules */
		if (tool->format != NULL &&
			(q->format == NULL || strcmp(tool->format, q->format->name) == 0))
			continue;
		for (int j = 0; j < lengthof(tool->down) && tool->down[j]; j++)
			if (marker_matches(tool, tool->down[j], words))
				return 2 + 2 * i;
		if (q->with_up)
			for (int j = 0; j < lengthof(tool->up) && tool->up[j]; j++)
				if (marker_matches(tool, tool->up[j], words))
					return 1 + 2 * i;
	}
	return 0;
}

/* The marker line at offset of sql, as written, for messages */
static char *
marker_text(const char *sql, int offset)
{
	const char *line = sql + offset;
	int			len = strcspn(line, "\r\n");

	return pnstrdup(line, Min(len, 80));
}

/*
 * Detection: a folder of drizzle-kit 1.0's layout, or whose first
 * numbered file carries another tool's marker (up or down), is that tool's
 * folder, which pg_migrate does not run yet.  Only that file is read, as dbmate's detection does; every file's
 * down markers are checked when it is read (foreign_check_script).
 */
void
foreign_check_folder(const Folder *folder, List *files)
{
	ListCell   *lc;

	drizzle_v1_refuse(folder, files);
	foreach(lc, files)
	{
		const char *file = lfirst(lc);
		MarkerQuery q = {true, NULL};
		Script		script;
		int			offset;
		int			found;
		const ForeignTool *tool;
		char	   *stem;

		if (!is_numbered_sql(file))
			continue;
		script.file = file;
		script.sql = folder_read_file(folder, file, false);
		script.first_line = 1;
		found = script_find_comment_line(&script, match_marker, &q, &offset);
		if (found == 0)
		{
			pfree(script.sql);
			return;
		}
		tool = &tools[(found - 1) / 2];
		stem = pstrdup(file);
		(void) strip_suffix(stem, ".sql");
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("migrations folder \"%s\" is in %s format, which is not supported yet",
						folder->name, tool->name),
				 errdetail("Line %d of \"%s\" is \"%s\", which %s.",
						   script_line_at(&script, offset), file,
						   marker_text(script.sql, offset),
						   found % 2 == 0 ? tool->what : "marks a migration of that tool"),
				 tool->changelog ?
				 errhint("pg_migrate cannot run a %s file, whose rollback statements belong to its changesets. Put each changeset in a migration file of its own, its rollback statements in a file named like \"%s.down.sql\", and remove the Liquibase comments; the folder then runs in plain format.",
						 tool->name, stem) :
				 errhint("pg_migrate cannot run a %s file: it would run its down section as part of the up migration. Move each file's down section into a file of its own, named like \"%s.down.sql\", and remove the %s markers; the folder then runs in plain format.",
						 tool->name, stem, tool->name)));
	}
}

/*
 * A migration's up script must hold no other tool's down marker: it would
 * run as part of the up migration.  Called for every migration as its up
 * script is read (source_load), so every path that reads a folder refuses
 * it, status included.
 */
void
foreign_check_script(const MigrationSet *set, const Migration *m,
					 const Script *up)
{
	MarkerQuery q = {false, set->format};
	int			offset;
	int			found;
	const ForeignTool *tool;
	char	   *down_place;

	found = script_find_comment_line(up, match_marker, &q, &offset);
	if (found == 0)
		return;
	tool = &tools[(found - 1) / 2];

	if (set->format == &dbmate_format)
		down_place = pstrdup("its \"-- migrate:down\" section");
	else if (set->format == &flyway_format && m->up_file[0] == 'V')
		down_place = psprintf("an undo script \"U%s\" beside it", m->up_file + 1);
	else
		down_place = psprintf("a file \"%s.down.sql\" beside it", m->name);

	if (tool->format != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("migration file \"%s\" is in %s format, but folder \"%s\" is read in %s format",
						up->file, tool->name, set->dir, set->format->name),
				 errdetail("Line %d of \"%s\" is \"%s\", which %s.",
						   script_line_at(up, offset), up->file,
						   marker_text(up->sql, offset), tool->what),
				 errhint("pg_migrate would run that down section as part of the up migration. Pass format => '%s' when every file of the folder is in %s format; otherwise move the statements below that line into %s.",
						 tool->format, tool->name, down_place)));
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("migration file \"%s\" is in %s format, which is not supported yet",
					up->file, tool->name),
			 errdetail("Line %d of \"%s\" is \"%s\", which %s.",
					   script_line_at(up, offset), up->file,
					   marker_text(up->sql, offset), tool->what),
			 tool->changelog ?
			 errhint("pg_migrate cannot run a %s file, whose rollback statements belong to its changesets. Put each changeset in a migration file of its own, its rollback statements in %s, and remove the Liquibase comments, or run this folder with Liquibase.",
					 tool->name, down_place) :
			 errhint("pg_migrate cannot run a %s file: it would run its down section as part of the up migration. Move the statements below that line into %s and remove the %s markers, or run this folder with %s.",
					 tool->name, down_place, tool->name, tool->name)));
}
