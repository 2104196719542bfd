/*-------------------------------------------------------------------------
 *
 * plain.c
 *	  Folders of numbered SQL files: the plain format, and the reading of
 *	  numbered files that golang-migrate's format (golang_migrate.c) shares.
 *
 * plain: "0004_quiz_answers.sql" is an up script, "0004_quiz_answers.down.sql"
 * (or "_down.sql") its down script, and "0004_quiz_answers.up.sql" another
 * spelling of the up script.  golang-migrate: "4_quiz_answers.up.sql" and
 * "4_quiz_answers.down.sql", and versions are unique.
 *
 * A migration's name is the file stem without the up/down suffix, its
 * version the leading digits.  Files that do not start with a digit or do
 * not end in ".sql" are not migrations and are left alone.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "formats/formats.h"

static int	compare_files(const void *a, const void *b);
static bool plain_claims(const Folder *folder, List *files);
static void plain_scan(MigrationSet *set, List *files);

const MigrationFormat plain_format = {
	"plain", plain_claims, plain_scan, load_up_down_files
};

/* Split a file name into migration name and kind; false if not a migration */
bool
numbered_parse(const char *file, NumberedFile *out)
{
	char	   *stem;

	if (!is_numbered_sql(file))
		return false;
	stem = pstrdup(file);
	(void) strip_suffix(stem, ".sql");
	out->file = pstrdup(file);
	if (strip_suffix(stem, ".down") || strip_suffix(stem, "_down"))
		out->kind = FILE_DOWN;
	else if (strip_suffix(stem, ".up"))
		out->kind = FILE_UP;
	else
		out->kind = FILE_BARE;
	out->name = stem;
	return true;
}

/* plain: some numbered file that is an up script without suffix */
static bool
plain_claims(const Folder *folder, List *files)
{
	ListCell   *lc;

	foreach(lc, files)
	{
		NumberedFile nf;

		if (numbered_parse(lfirst(lc), &nf) && nf.kind == FILE_BARE)
			return true;
	}
	return false;
}

/* by name, up script before down script */
static int
compare_files(const void *a, const void *b)
{
	const NumberedFile *fa = a;
	const NumberedFile *fb = b;
	int			c = strcmp(fa->name, fb->name);

	if (c != 0)
		return c;
	return (int) (fa->kind == FILE_DOWN) - (int) (fb->kind == FILE_DOWN);
}

/*
 * Add a folder's numbered files to the set, pairing up and down scripts;
 * golang: as golang-migrate reads them.
 */
void
numbered_scan(MigrationSet *set, List *files, bool golang)
{
	NumberedFile *nf = palloc(sizeof(NumberedFile) * Max(list_length(files), 1));
	int			n = 0;
	ListCell   *lc;
	Migration  *last = NULL;

	foreach(lc, files)
		if (numbered_parse(lfirst(lc), &nf[n]))
			n++;
	qsort(nf, n, sizeof(NumberedFile), compare_files);

	for (int i = 0; i < n; i++)
	{
		bool		same = last && strcmp(last->name, nf[i].name) == 0;

		if (golang && nf[i].kind == FILE_BARE)
		{
			/* golang-migrate's own file pattern skips it: never run */
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("file \"%s\" is neither a golang-migrate up nor down script and is ignored",
							nf[i].file),
					 errdetail("golang-migrate names files like \"1_create_users.up.sql\" and \"1_create_users.down.sql\", and skips the others."),
					 errhint("Rename the file to run it, or use format => 'plain'.")));
			continue;
		}
		if (nf[i].kind != FILE_DOWN)
		{
			if (same)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_FILE),
						 errmsg("migration \"%s\" has two up scripts: \"%s\" and \"%s\"",
								nf[i].name, last->up_file, nf[i].file),
						 errdetail("Both are in folder \"%s\".", set->dir),
						 errhint("Keep one of the two files.")));
			last = source_add(set, nf[i].name, leading_version(nf[i].name),
							  nf[i].file);
		}
		else if (!same)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("down script \"%s\" has no up script", nf[i].file),
					 errdetail("Expected \"%s%s\" beside it in folder \"%s\".",
							   nf[i].name, golang ? ".up.sql" : ".sql", set->dir),
					 errhint("Add the up script, or rename the file if it is itself an up script.")));
		else if (last->down_file != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_FILE),
					 errmsg("migration \"%s\" has two down scripts: \"%s\" and \"%s\"",
							nf[i].name, last->down_file, nf[i].file),
					 errdetail("Both are in folder \"%s\".", set->dir),
					 errhint("Keep one of the two files.")));
		else
			last->down_file = pstrdup(nf[i].file);
	}
	pfree(nf);
}

/*
 * In the plain format "0007_x_down.sql" is the down script of "0007_x.sql",
 * but it may as well be meant as a migration of its own ("0007_slow_down"):
 * say so when the pair is applied, which records that down script.
 */
void
plain_note_down_file(const MigrationSet *set, const Migration *m)
{
	size_t		len;

	if (set->format != &plain_format || m->down_file == NULL)
		return;
	len = strlen(m->down_file);
	if (len > 9 && strcmp(m->down_file + len - 9, "_down.sql") == 0)
		ereport(NOTICE,
				(errmsg("file \"%s\" is taken as the down script of \"%s\"",
						m->down_file, m->up_file),
				 errhint("Rename it \"%s.down.sql\" to say so, or rename it if it is a migration of its own.",
						 m->name)));
}

static void
plain_scan(MigrationSet *set, List *files)
{
	numbered_scan(set, files, false);
}
