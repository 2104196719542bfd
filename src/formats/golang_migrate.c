/*-------------------------------------------------------------------------
 *
 * golang_migrate.c
 *	  golang-migrate's folders: "4_quiz_answers.up.sql" and
 *	  "4_quiz_answers.down.sql", read as plain.c reads numbered files, with
 *	  unique versions; its tool's table is tools/golang_migrate_table.c's.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "formats/formats.h"

static bool golang_claims(const Folder *folder, List *files);
static void golang_scan(MigrationSet *set, List *files);

const MigrationFormat golang_format = {
	"golang-migrate", golang_claims, golang_scan, load_up_down_files
};

/*
 * golang-migrate: numbered .up.sql/.down.sql files; a few numbered files
 * without the suffix (which its tool skips) do not make it another format.
 */
static bool
golang_claims(const Folder *folder, List *files)
{
	ListCell   *lc;
	int			ups = 0;
	int			bare = 0;

	foreach(lc, files)
	{
		NumberedFile nf;

		if (!numbered_parse(lfirst(lc), &nf))
			continue;
		if (nf.kind == FILE_DOWN && !strip_suffix(nf.file, ".down.sql"))
			return false;		/* "_down.sql" is the plain format's */
		if (nf.kind == FILE_UP)
			ups++;
		else if (nf.kind == FILE_BARE)
			bare++;
	}
	/* golang-migrate ignores the odd file without .up/.down: see scan */
	return ups > 0 && bare <= ups / 10;
}

static void
golang_scan(MigrationSet *set, List *files)
{
	numbered_scan(set, files, true);
}
