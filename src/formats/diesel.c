/*-------------------------------------------------------------------------
 *
 * diesel.c
 *	  Diesel's folders: one folder per migration,
 *	  "2024-01-01-120000_create_users/", holding up.sql, an optional
 *	  down.sql, and an optional metadata.toml whose "run_in_transaction =
 *	  false" runs the migration outside a transaction.  A migration's
 *	  version is its folder's name up to the first "_", without its dashes
 *	  ("20240101120000"); Diesel runs them in the order of their versions,
 *	  compared as strings.  Diesel's table is tools/diesel_table.c's.
 *
 * pg_migrate compares versions as numbers, the same order while they have
 * as many digits.  Diesel's names changed length over time
 * ("2025-11-19-091444-0000_x" beside "2026-01-20-162913_y": Diesel runs the
 * first first, as "2025..." < "2026..."), so in a folder whose versions
 * differ in length, each is padded with zeros on the right to the longest
 * one's length, and followed by its own length as a second part
 * ("202601201629130000.14"): compared as numbers part by part, they are in
 * Diesel's string order, and two versions stay two ("20260527120000" and
 * "202605271200000000", both in crates.io's folder).  The table holds
 * Diesel's own version (diesel_version()).
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "formats/formats.h"

static bool diesel_claims(const Folder *folder, List *files);
static void diesel_scan(MigrationSet *set, List *files);
static void diesel_load(const MigrationSet *set, const Migration *m,
						LoadedMigration *out, bool with_down);

const MigrationFormat diesel_format = {
	"diesel", diesel_claims, diesel_scan, diesel_load
};

static bool
has_up(const Folder *folder, const char *sub)
{
	return folder_has_file(folder, psprintf("%s/up.sql", sub));
}

/* Diesel's folder: a subfolder holding an up.sql */
static bool
diesel_claims(const Folder *folder, List *files)
{
	ListCell   *lc;

	foreach(lc, folder_list_subfolders(folder))
		if (has_up(folder, lfirst(lc)))
			return true;
	return false;
}

/* Diesel's version of a migration folder: up to "_", without "-" */
char *
diesel_version(const char *sub)
{
	StringInfoData v;

	initStringInfo(&v);
	for (const char *p = sub; *p && *p != '_'; p++)
		if (*p != '-')
			appendStringInfoChar(&v, *p);
	return v.data;
}

/*
 * version as pg_migrate orders it in a folder whose versions have shortest
 * to longest digits: see the top of the file
 */
static char *
ordered_version(const char *version, size_t shortest, size_t longest)
{
	StringInfoData v;

	if (shortest == longest)
		return pstrdup(version);
	initStringInfo(&v);
	appendStringInfoString(&v, version);
	while ((size_t) v.len < longest)
		appendStringInfoChar(&v, '0');
	appendStringInfo(&v, ".%zu", strlen(version));
	return v.data;
}

/*
 * Every subfolder is a migration to Diesel, which refuses the folder when
 * one holds no up.sql.  pg_migrate orders versions as numbers, which is
 * Diesel's order for its date and timestamp names: one that is not a
 * number is refused.
 */
static void
diesel_scan(MigrationSet *set, List *files)
{
	List	   *subs = folder_list_subfolders(set->folder);
	size_t		shortest = SIZE_MAX;
	size_t		longest = 0;
	ListCell   *lc;

	foreach(lc, subs)
	{
		size_t		len = strlen(diesel_version(lfirst(lc)));

		shortest = Min(shortest, len);
		longest = Max(longest, len);
	}
	foreach(lc, subs)
	{
		const char *sub = lfirst(lc);
		char	   *version = diesel_version(sub);
		char	   *down;
		Migration  *m;

		if (!has_up(set->folder, sub))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("Diesel migration folder \"%s\" has no file \"up.sql\"", sub),
					 errdetail("Folder \"%s\" is in diesel format, where each subfolder is a migration holding up.sql and down.sql; Diesel refuses the folder too.",
							   set->dir),
					 errhint("Restore the migration's up.sql, or move the subfolder out of the migrations folder.")));
		if (version[0] == '\0' || strspn(version, "0123456789") != strlen(version))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid Diesel migration folder name \"%s\"", sub),
					 errdetail("Its version, the name up to the first \"_\" without dashes, is \"%s\"; pg_migrate orders migrations by their versions as numbers.",
							   version),
					 errhint("Name the folder as diesel migration generate does, like \"2024-01-01-120000_%s\".",
							 strchr(sub, '_') ? strchr(sub, '_') + 1 : sub)));
		m = source_add(set, sub, ordered_version(version, shortest, longest),
					   psprintf("%s/up.sql", sub));
		down = psprintf("%s/down.sql", sub);
		if (folder_has_file(set->folder, down))
			m->down_file = down;
	}
}

/*
 * Whether metadata.toml runs the migration in a transaction, as Diesel
 * reads it: its top-level key run_in_transaction, false when the file is
 * there without it (Diesel's field defaults to false), true without the
 * file or with a value it cannot read.
 */
static bool
run_in_transaction(const char *toml)
{
	for (const char *line = toml; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
	{
		const char *p = line + strspn(line, " \t");
		size_t		len;

		if (*p == '[')
			break;				/* a table: no more top-level keys */
		if (strncmp(p, "run_in_transaction", 18) != 0)
			continue;
		p += 18;
		p += strspn(p, " \t");
		if (*p++ != '=')
			continue;
		p += strspn(p, " \t");
		len = strcspn(p, " \t\r\n#");
		if (len == 5 && strncmp(p, "false", 5) == 0)
			return false;
		return true;
	}
	return false;
}

static void
diesel_load(const MigrationSet *set, const Migration *m, LoadedMigration *out,
			bool with_down)
{
	char	   *toml;

	load_up_down_files(set, m, out, with_down);
	toml = folder_read_file(set->folder, psprintf("%s/metadata.toml", m->name), true);
	out->no_transaction = toml != NULL && !run_in_transaction(toml);
	if (out->no_transaction)
		down_outside_transaction(out);
}
