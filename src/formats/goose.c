/*-------------------------------------------------------------------------
 *
 * goose.c
 *	  goose's folders: "<version>_<name>.sql", each holding a
 *	  "-- +goose Up" section and an optional "-- +goose Down" section, run
 *	  in the order of their versions as numbers; "-- +goose NO TRANSACTION"
 *	  runs the file outside a transaction.  goose's Go migrations
 *	  ("<version>_<name>.go") are code that only a program built with goose
 *	  can run: a folder holding one is refused, naming the file.  goose's
 *	  table is tools/goose_table.c's.
 *
 * Annotations are read line by line, as goose reads them: a line "--
 * +goose <word>", the word in any case.  "-- +goose StatementBegin" and
 * "StatementEnd" tell goose where a statement holding semicolons ends;
 * pg_migrate splits the script with the server's own parser, which needs
 * no such help, so they are comments here.  "-- +goose ENVSUB ON"
 * substitutes goose's environment into the SQL, which the database server
 * does not have: refused.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "formats/formats.h"

typedef enum GooseAnnotation
{
	GOOSE_NONE,
	GOOSE_UP,
	GOOSE_DOWN,
	GOOSE_NO_TRANSACTION,
	GOOSE_ENVSUB_ON,
	GOOSE_OTHER					/* StatementBegin, StatementEnd, ENVSUB OFF */
} GooseAnnotation;

static bool goose_claims(const Folder *folder, List *files);
static void goose_scan(MigrationSet *set, List *files);
static void goose_load(const MigrationSet *set, const Migration *m,
					   LoadedMigration *out, bool with_down);

const MigrationFormat goose_format = {
	"goose", goose_claims, goose_scan, goose_load
};

/* The words of line (len bytes) after "--" and "+goose", or NULL */
static const char *
annotation_words(const char *line, int len, int *words_len)
{
	const char *p = line;
	const char *end = line + len;

	if (len < 2 || p[0] != '-' || p[1] != '-')
		return NULL;
	p += 2;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (end - p < 6 || pg_strncasecmp(p, "+goose", 6) != 0)
		return NULL;
	p += 6;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && isspace((unsigned char) end[-1]))
		end--;
	*words_len = end - p;
	return p;
}

/* What a line of a goose file is, as goose reads its annotations */
static GooseAnnotation
goose_annotation(const char *line, int len)
{
	int			n;
	const char *w = annotation_words(line, len, &n);

	if (w == NULL)
		return GOOSE_NONE;
	if (n == 2 && pg_strncasecmp(w, "up", 2) == 0)
		return GOOSE_UP;
	if (n == 4 && pg_strncasecmp(w, "down", 4) == 0)
		return GOOSE_DOWN;
	if (n == 14 && pg_strncasecmp(w, "no transaction", 14) == 0)
		return GOOSE_NO_TRANSACTION;
	if (n == 9 && pg_strncasecmp(w, "envsub on", 9) == 0)
		return GOOSE_ENVSUB_ON;
	return GOOSE_OTHER;
}

/* A goose Go migration: "<digits>_<name>.go" */
static bool
is_go_migration(const char *file)
{
	size_t		len = strlen(file);
	const char *p = file;

	while (isdigit((unsigned char) *p))
		p++;
	return p > file && *p == '_' && len > 3 && strcmp(file + len - 3, ".go") == 0;
}

/*
 * goose's folder: a Go migration, or a first numbered .sql file with a
 * "-- +goose Up" line
 */
static bool
goose_claims(const Folder *folder, List *files)
{
	ListCell   *lc;

	foreach(lc, files)
		if (is_go_migration(lfirst(lc)))
			return true;
	foreach(lc, files)
	{
		const char *file = lfirst(lc);
		char	   *sql;
		bool		found = false;

		if (!is_numbered_sql(file))
			continue;
		sql = folder_read_file(folder, file, false);
		for (const char *line = sql + script_bom_length(sql); line && !found;
			 line = strchr(line, '\n'), line = line ? line + 1 : NULL)
			found = goose_annotation(line, strcspn(line, "\n")) == GOOSE_UP;
		pfree(sql);
		return found;
	}
	return false;
}

/*
 * Every .sql file is a migration to goose, which refuses one it cannot
 * read a version from: "<version>_<name>.sql", the version a positive
 * number.  Other files are not goose's, but a Go migration cannot be run.
 */
static void
goose_scan(MigrationSet *set, List *files)
{
	ListCell   *lc;

	foreach(lc, files)
	{
		const char *file = lfirst(lc);
		char	   *name;
		char	   *version;

		if (is_go_migration(file))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("goose migration \"%s\" is written in Go", file),
					 errdetail("Folder \"%s\" is in goose format; a Go migration runs only inside a program built with goose, not from SQL.",
							   set->dir),
					 errhint("Rewrite the migration as a file \"%.*s.sql\" with \"-- +goose Up\" and \"-- +goose Down\" sections, or run this folder with goose.",
							 (int) strlen(file) - 3, file)));
		name = pstrdup(file);
		if (!strip_suffix(name, ".sql"))
			continue;
		version = leading_version(name);
		if (version[0] == '\0' || name[strlen(version)] != '_' ||
			strspn(version, "0") == strlen(version))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid goose migration file name \"%s\"", file),
					 errdetail("goose names migrations <version>_<name>.sql, the version a number above zero, and refuses a folder holding another .sql file."),
					 errhint("Rename the file in folder \"%s\", or move it out of the folder.",
							 set->dir)));
		(void) source_add(set, name, version, file);
	}
}

static void
goose_error(const MigrationSet *set, const Migration *m, int line,
			const char *msg, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("goose migration \"%s\" %s", m->up_file, msg),
			 line > 0 ?
			 errdetail("Line %d of \"%s\" in folder \"%s\", which is in goose format.",
					   line, m->up_file, set->dir) :
			 errdetail("Folder \"%s\" is in goose format, where each file holds a \"-- +goose Up\" section and an optional \"-- +goose Down\" section.",
					   set->dir),
			 errhint("%s", hint)));
}

/*
 * The up section runs from the line after "-- +goose Up" to the line
 * before "-- +goose Down", the down section from there to the end, as
 * goose splits the file.  Only comments may come before the up section.
 */
static void
goose_load(const MigrationSet *set, const Migration *m, LoadedMigration *out,
		   bool with_down)
{
	char	   *sql = folder_read_file(set->folder, m->up_file, false);
	const char *up_body = NULL;
	const char *down = NULL;
	const char *down_body = NULL;
	int			lineno = 0;

	for (const char *line = sql + script_bom_length(sql); line;
		 line = strchr(line, '\n'), line = line ? line + 1 : NULL)
	{
		int			len = strcspn(line, "\n");
		const char *next = line[len] ? line + len + 1 : line + len;
		const char *p = line + strspn(line, " \t\r");

		lineno++;
		switch (goose_annotation(line, len))
		{
			case GOOSE_UP:
				if (up_body)
					goose_error(set, m, lineno, "has a second \"-- +goose Up\" line",
								"Keep one \"-- +goose Up\" line, at the start of the up section.");
				up_body = next;
				break;
			case GOOSE_DOWN:
				if (up_body == NULL)
					goose_error(set, m, lineno, "has its \"-- +goose Down\" line before \"-- +goose Up\"",
								"Put the up section first, below a line \"-- +goose Up\".");
				if (down)
					goose_error(set, m, lineno, "has a second \"-- +goose Down\" line",
								"Keep one \"-- +goose Down\" line, at the start of the down section.");
				down = line;
				down_body = next;
				break;
			case GOOSE_NO_TRANSACTION:
				out->no_transaction = true;
				break;
			case GOOSE_ENVSUB_ON:
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("goose migration \"%s\" substitutes environment variables", m->up_file),
						 errdetail("Line %d of \"%s\" is \"-- +goose ENVSUB ON\": goose replaces ${VAR} in the SQL below it by its own environment, which the database server does not have.",
								   lineno, m->up_file),
						 errhint("Write the values into the file, or run this folder with goose.")));
				break;
			case GOOSE_NONE:
				if (up_body == NULL && *p != '\0' && *p != '\n' &&
					strncmp(p, "--", 2) != 0)
					goose_error(set, m, lineno, "has SQL before its \"-- +goose Up\" line",
								"Move the statements below the line \"-- +goose Up\", as goose runs nothing above it.");
				break;
			case GOOSE_OTHER:
				break;
		}
	}
	if (up_body == NULL)
		goose_error(set, m, 0, "has no \"-- +goose Up\" line",
					"Put the up statements below a line \"-- +goose Up\", and the down statements below a line \"-- +goose Down\".");

	out->up.file = m->up_file;
	out->up.first_line = 1 + count_newlines(sql, up_body - sql);
	out->up.sql = down ? pnstrdup(up_body, down - up_body) : pstrdup(up_body);
	if (down && with_down)
	{
		out->down.file = m->up_file;
		out->down.first_line = 1 + count_newlines(sql, down_body - sql);
		out->down.sql = pstrdup(down_body);
		if (out->no_transaction)
			down_outside_transaction(out);
	}
}
