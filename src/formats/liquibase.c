/*-------------------------------------------------------------------------
 *
 * liquibase.c
 *	  Liquibase formatted SQL changelogs: files whose first line is
 *	  "--liquibase formatted sql", holding changesets that each start with a
 *	  line "--changeset <author>:<id> [attributes]"; each changeset is a
 *	  migration, its "--rollback" lines its down script.  Its tool's table is
 *	  tools/liquibase_table.c's.
 *
 * Lines are read as Liquibase's formatted SQL parser reads them (case-
 * insensitive, blanks allowed after "--"): "--comment", "--validCheckSum"
 * and "--rollback <sql>" lines, and multi-line rollback comments (opened
 * by a line "liquibase rollback" in a block comment), belong to the changeset without being part of its SQL (they are
 * blanked, so that lines keep their numbers); "--ignoreLines:start" ...
 * "--ignoreLines:end" and "--ignoreLines:<n>" leave lines out.  Changeset
 * attributes: runInTransaction:false runs it outside a transaction;
 * endDelimiter:<d> ends its statements with lines holding only <d>;
 * splitStatements and stripComments change nothing for PostgreSQL's parser;
 * runOnChange:true makes it run again when it changes (a repeatable
 * migration); dbms: and ignore:true leave it out where Liquibase would on
 * PostgreSQL.  Preconditions, runAlways and "--property" substitutions are
 * refused, naming the line; a rollback naming another changeset is no SQL,
 * and is a down script that does not parse (see migration_load).  Its
 * "--rollback not required" (or "empty") is a down script that does
 * nothing.
 *
 * The changelogs of a folder are its formatted SQL files, read in name
 * order (as Liquibase's includeAll reads a folder).  XML, YAML and JSON
 * changelogs are refused: pass the folder of the formatted SQL files they
 * include.  A migration's name is Liquibase's "<file>::<id>::<author>".
 * A .sql file without the header is no changelog to Liquibase but raw SQL,
 * which its includeAll (and an include of the file) runs whole as one
 * changeset of id "raw" and author "includeAll", in a transaction, without
 * rollback: so does pg_migrate, rather than leave out what Liquibase runs.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "formats/formats.h"

/* what Liquibase names the changeset of a raw SQL file */
#define RAW_ID "raw"
#define RAW_AUTHOR "includeAll"

/* A changeset as parsed: its lines [first, end) of the file */
typedef struct Changeset
{
	char	   *author;
	char	   *id;
	int			line;			/* of its "--changeset" line */
	bool		no_transaction;
	bool		run_on_change;
	bool		skipped;		/* dbms: or ignore:true */
	char	   *end_delimiter;	/* or NULL */
	StringInfoData up;			/* its lines after the changeset line, the
								 * directives blanked */
	StringInfoData down;		/* its rollback lines, at their lines */
	int			down_first;		/* line of the first rollback line, or 0 */
} Changeset;

static bool liquibase_claims(const Folder *folder, List *files);
static void liquibase_scan(MigrationSet *set, List *files);
static void liquibase_load(const MigrationSet *set, const Migration *m,
						   LoadedMigration *out, bool with_down);

const MigrationFormat liquibase_format = {
	"liquibase", liquibase_claims, liquibase_scan, liquibase_load
};

/* The text after "--" and blanks, when line is a "--" comment; else NULL */
static const char *
comment_body(const char *line)
{
	line += strspn(line, " \t");
	if (strncmp(line, "--", 2) != 0)
		return NULL;
	line += 2;
	return line + strspn(line, " \t");
}

/* Whether word (lowercase) starts s, case-insensitively */
static bool
starts_with(const char *s, const char *word)
{
	return pg_strncasecmp(s, word, strlen(word)) == 0;
}

/* "--liquibase formatted ..." */
static bool
is_header(const char *line)
{
	const char *p = comment_body(line);

	if (p == NULL || !starts_with(p, "liquibase"))
		return false;
	p += 9;
	p += strspn(p, " \t");
	return starts_with(p, "formatted");
}

/* Whether sql's first non-blank line is the formatted SQL header */
static bool
is_changelog(const char *sql)
{
	const char *p = sql + script_bom_length(sql);

	p += strspn(p, " \t\r\n");
	return is_header(p);
}

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t		n = strlen(s),
				k = strlen(suffix);

	return n > k && pg_strcasecmp(s + n - k, suffix) == 0;
}

/* A Liquibase XML, YAML or JSON changelog, which pg_migrate does not read */
static bool
is_other_changelog(const Folder *folder, const char *file)
{
	char	   *text;
	bool		found;

	if (!has_suffix(file, ".xml") && !has_suffix(file, ".yaml") &&
		!has_suffix(file, ".yml") && !has_suffix(file, ".json"))
		return false;
	text = folder_read_file(folder, file, true);
	found = text && strstr(text, "databaseChangeLog") != NULL;
	if (text)
		pfree(text);
	return found;
}

/*
 * A folder of changelogs: its first .sql file is one (only that one is
 * read, as dbmate's detection does, so that detecting a large plain folder
 * reads no more), or it holds an XML, YAML or JSON changelog.
 */
static bool
liquibase_claims(const Folder *folder, List *files)
{
	bool		sql_seen = false;
	ListCell   *lc;

	foreach(lc, files)
	{
		const char *file = lfirst(lc);

		if (has_suffix(file, ".sql") && !sql_seen)
		{
			char	   *sql = folder_read_file(folder, file, false);
			bool		found = is_changelog(sql);

			pfree(sql);
			if (found)
				return true;
			sql_seen = true;
		}
		else if (is_other_changelog(folder, file))
			return true;
	}
	return false;
}

/* The value of attribute name ("runInTransaction:") on a changeset line */
static char *
attribute(const char *line, const char *name)
{
	size_t		len = strlen(name);

	for (const char *p = line; *p; p++)
	{
		if ((p == line || isspace((unsigned char) p[-1])) &&
			pg_strncasecmp(p, name, len) == 0)
		{
			const char *v = p + len;

			if (*v == '"')
				return pnstrdup(v + 1, strcspn(v + 1, "\""));
			return pnstrdup(v, strcspn(v, " \t\r"));
		}
	}
	return NULL;
}

static bool
attribute_bool(const char *line, const char *name, bool dflt)
{
	char	   *v = attribute(line, name);

	if (v == NULL || v[0] == '\0')
		return dflt;
	return pg_strcasecmp(v, "true") == 0;
}

static void
changelog_error(const char *file, int line, const char *what, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("line %d of Liquibase changelog \"%s\" %s", line, file, what),
			 errhint("%s", hint)));
}

/*
 * Whether a changeset's "dbms:" list lets it run on PostgreSQL: "all",
 * "postgresql" or a "!other", and not "!postgresql" or "none".
 */
static bool
dbms_allows(const char *list)
{
	char	   *copy = pstrdup(list);
	char	   *save;
	bool		allowed = false;
	bool		only_negations = true;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		tok += strspn(tok, " ");
		if (pg_strcasecmp(tok, "!postgresql") == 0 || pg_strcasecmp(tok, "none") == 0)
			return false;
		if (tok[0] != '!')
			only_negations = false;
		if (pg_strcasecmp(tok, "postgresql") == 0 || pg_strcasecmp(tok, "all") == 0)
			allowed = true;
	}
	return allowed || only_negations;
}

/* Start a changeset at its "--changeset" line */
static Changeset *
start_changeset(const char *file, const char *line, const char *body, int lineno)
{
	Changeset  *cs = palloc0(sizeof(Changeset));
	const char *p = body + 9;	/* after "changeset" */
	const char *colon;
	char	   *v;

	p += strspn(p, " \t");
	if (*p == '"')
	{
		cs->author = pnstrdup(p + 1, strcspn(p + 1, "\""));
		p += 2 + strlen(cs->author);
	}
	else
	{
		colon = strchr(p, ':');
		cs->author = colon ? pnstrdup(p, colon - p) : NULL;
		p = colon ? colon : p + strlen(p);
	}
	if (cs->author == NULL || cs->author[0] == '\0' || *p != ':' ||
		p[1] == '\0' || isspace((unsigned char) p[1]))
		changelog_error(file, lineno, "is not \"--changeset <author>:<id>\"",
						"Write the changeset line as \"--changeset <author>:<id>\", with no blank after the colon, as Liquibase requires.");
	p++;
	if (*p == '"')
		cs->id = pnstrdup(p + 1, strcspn(p + 1, "\""));
	else
		cs->id = pnstrdup(p, strcspn(p, " \t\r"));
	cs->line = lineno;
	cs->no_transaction = !attribute_bool(line, "runInTransaction:", true);
	cs->run_on_change = attribute_bool(line, "runOnChange:", false);
	if (attribute_bool(line, "runAlways:", false))
		changelog_error(file, lineno, "has a changeset that runs always (runAlways:true), which is not supported",
						"pg_migrate runs a migration once, or again when it changes (runOnChange:true); split what must run on every deploy off the changelog.");
	v = attribute(line, "dbms:");
	cs->skipped = (v && !dbms_allows(v)) || attribute_bool(line, "ignore:", false);
	v = attribute(line, "endDelimiter:");
	if (v && v[0] != '\0' && strcmp(v, ";") != 0)
		cs->end_delimiter = v;
	initStringInfo(&cs->up);
	initStringInfo(&cs->down);
	return cs;
}

/* Append a line of a rollback to cs's down script, at its own line */
static void
add_rollback_line(Changeset *cs, int lineno, const char *text, int len)
{
	if (cs->down_first == 0)
		cs->down_first = lineno;
	while (cs->down_first + count_newlines(cs->down.data, cs->down.len) < lineno)
		appendStringInfoChar(&cs->down, '\n');
	appendBinaryStringInfo(&cs->down, text, len);
}

/*
 * Parse a changelog into its changesets, in order.  file names it in
 * messages; text is modified.
 */
static List *
parse_changelog(const char *file, char *text)
{
	List	   *changesets = NIL;
	Changeset  *cs = NULL;
	int			lineno = 0;
	int			ignore = 0;		/* lines left to leave out; -1: to "end" */
	bool		in_rollback_block = false;
	char	   *line = text + script_bom_length(text);

	while (line && *line)
	{
		char	   *eol = strchr(line, '\n');
		int			len = eol ? eol - line : strlen(line);
		char	   *cur = pnstrdup(line, len > 0 && line[len - 1] == '\r' ? len - 1 : len);
		const char *body = comment_body(cur);
		bool		keep = false;

		lineno++;
		line = eol ? eol + 1 : NULL;

		if (ignore != 0)
		{
			if (ignore > 0)
				ignore--;
			else if (body && starts_with(body, "ignorelines:end"))
				ignore = 0;
		}
		else if (in_rollback_block)
		{
			char	   *end = strstr(cur, "*/");

			if (end)
			{
				in_rollback_block = false;
				add_rollback_line(cs, lineno, cur, end - cur);
			}
			else
				add_rollback_line(cs, lineno, cur, strlen(cur));
		}
		else if (body && starts_with(body, "ignorelines:"))
		{
			const char *v = body + 12;

			if (starts_with(v, "start"))
				ignore = -1;
			else if (isdigit((unsigned char) *v))
				ignore = atoi(v);
			else
				changelog_error(file, lineno, "is not \"--ignoreLines:<count|start|end>\"",
								"Write \"--ignoreLines:start\" ... \"--ignoreLines:end\", or \"--ignoreLines:<count>\".");
		}
		else if (body && starts_with(body, "property") &&
				 isspace((unsigned char) body[8]))
			changelog_error(file, lineno, "sets a changelog property, which is not supported",
							"pg_migrate runs the SQL as written; write the values in place of the ${...} references.");
		else if (body && starts_with(body, "changeset") &&
				 (isspace((unsigned char) body[9]) || body[9] == '\0'))
		{
			cs = start_changeset(file, cur, body, lineno);
			changesets = lappend(changesets, cs);
		}
		else if (cs == NULL)
			;					/* the header, and lines before any changeset */
		else if (body && starts_with(body, "rollback") &&
				 (body[8] == ' ' || body[8] == '\t'))
		{
			const char *sql = body + 9;

			add_rollback_line(cs, lineno, sql, strlen(sql));
		}
		else if (body && (starts_with(body, "comment") || starts_with(body, "validchecksum")))
			;
		else if (body && (starts_with(body, "preconditions") ||
						  starts_with(body, "precondition-")))
			changelog_error(file, lineno, "states a precondition, which is not supported",
							"pg_migrate runs every changeset of the changelog in order; remove the precondition, or move a changeset that must not always run out of the changelog.");
		else if (pg_strncasecmp(cur + strspn(cur, " \t"), "/*", 2) == 0 &&
				 starts_with(cur + strspn(cur, " \t") + 2 + strspn(cur + strspn(cur, " \t") + 2, " \t"), "liquibase rollback"))
			in_rollback_block = true;
		else
			keep = true;

		/* the changeset's SQL keeps every line, directives blanked */
		if (cs && lineno > cs->line)
		{
			if (keep && cs->end_delimiter &&
				strcmp(cur + strspn(cur, " \t"), cs->end_delimiter) == 0)
				appendStringInfoChar(&cs->up, ';');
			else if (keep)
				appendStringInfoString(&cs->up, cur);
			appendStringInfoChar(&cs->up, '\n');
		}
		pfree(cur);
	}
	return changesets;
}

/* The changesets of one changelog file of the folder */
static List *
read_changelog(const MigrationSet *set, const char *file)
{
	return parse_changelog(file, folder_read_file(set->folder, file, false));
}

static void
liquibase_scan(MigrationSet *set, List *files)
{
	int			position = 0;
	ListCell   *lc;

	foreach(lc, files)
	{
		const char *file = lfirst(lc);
		ListCell   *lc2;
		char	   *sql;

		if (is_other_changelog(set->folder, file))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("Liquibase changelog \"%s\" is not in formatted SQL", file),
					 errdetail("pg_migrate reads Liquibase's formatted SQL changelogs (starting \"--liquibase formatted sql\"), not its XML, YAML or JSON ones."),
					 errhint("Pass the folder of the formatted SQL changelogs it includes, which pg_migrate reads in name order as includeAll does, or write the changelog as formatted SQL.")));
		if (!has_suffix(file, ".sql"))
			continue;
		sql = folder_read_file(set->folder, file, false);
		if (!is_changelog(sql))
		{
			position++;
			source_add(set, psprintf("%s::" RAW_ID "::" RAW_AUTHOR, file),
					   psprintf("%d", position), file);
			continue;
		}
		foreach(lc2, parse_changelog(file, sql))
		{
			Changeset  *cs = lfirst(lc2);
			char	   *name = psprintf("%s::%s::%s", file, cs->id, cs->author);
			Migration  *m;

			position++;
			if (cs->skipped)
				continue;
			for (int i = 0; i < set->count; i++)
				if (strcmp(set->items[i].name, name) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_DUPLICATE_FILE),
							 errmsg("changeset \"%s\" appears twice in Liquibase changelog \"%s\"",
									name, file),
							 errdetail("Liquibase identifies a changeset by its id, author and file; line %d repeats it.",
									   cs->line),
							 errhint("Give one of the two changesets another id.")));
			m = source_add(set, name, psprintf("%d", position), file);
			m->repeatable = cs->run_on_change;
		}
	}
}

/* The changeset of m, from its file */
static Changeset *
find_changeset(const MigrationSet *set, const Migration *m)
{
	ListCell   *lc;

	foreach(lc, read_changelog(set, m->up_file))
	{
		Changeset  *cs = lfirst(lc);

		if (strcmp(m->name, psprintf("%s::%s::%s", m->up_file, cs->id, cs->author)) == 0)
			return cs;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_FILE),
			 errmsg("changeset \"%s\" is no longer in Liquibase changelog \"%s\"",
					m->name, m->up_file),
			 errhint("Run again: the changelog changed while it was read.")));
	return NULL;				/* keep compiler quiet */
}

static void
liquibase_load(const MigrationSet *set, const Migration *m, LoadedMigration *out,
			   bool with_down)
{
	Changeset  *cs;
	char	   *sql = folder_read_file(set->folder, m->up_file, false);

	/* raw SQL: the whole file, as Liquibase's raw changeset runs it */
	if (!is_changelog(sql))
	{
		out->up.file = m->up_file;
		out->up.sql = sql;
		out->up.first_line = 1;
		return;
	}
	cs = find_changeset(set, m);

	out->up.file = m->up_file;
	out->up.sql = cs->up.data;
	out->up.first_line = cs->line + 1;
	out->no_transaction = cs->no_transaction;
	if (with_down && cs->down_first > 0)
	{
		char	   *text = cs->down.data + strspn(cs->down.data, " \t\r\n");

		/* Liquibase's rollback that does nothing, and succeeds */
		if (pg_strncasecmp(text, "not required", 12) == 0 ||
			pg_strncasecmp(text, "empty", 5) == 0)
		{
			out->down.file = m->up_file;
			out->down.sql = psprintf("-- --rollback %s: nothing to undo\nSELECT;\n",
									 pnstrdup(text, strcspn(text, "\r\n")));
			out->down.first_line = cs->down_first;
			return;
		}
		out->down.file = m->up_file;
		out->down.sql = cs->down.data;
		out->down.first_line = cs->down_first;
	}
}
