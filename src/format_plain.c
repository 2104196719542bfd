/*-------------------------------------------------------------------------
 *
 * format_plain.c
 *	  The plain folder format: "0004_quiz_answers.sql" is an up script,
 *	  "0004_quiz_answers.down.sql" (or "_down.sql") its down script, and
 *	  "0004_quiz_answers.up.sql" another spelling of the up script.
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

#include "pg_migrate.h"

typedef struct PlainFile
{
	char	   *file;
	char	   *name;
	bool		is_down;
} PlainFile;

static bool parse_file_name(const char *file, PlainFile *out);
static bool strip_suffix(char *s, const char *suffix);
static int	compare_plain_files(const void *a, const void *b);

static bool
strip_suffix(char *s, const char *suffix)
{
	size_t		ls = strlen(s);
	size_t		lx = strlen(suffix);

	if (ls <= lx || strcmp(s + ls - lx, suffix) != 0)
		return false;
	s[ls - lx] = '\0';
	return true;
}

/* Split a file name into migration name and kind; false if not a migration */
static bool
parse_file_name(const char *file, PlainFile *out)
{
	char	   *stem;

	if (!isdigit((unsigned char) file[0]))
		return false;
	stem = pstrdup(file);
	if (!strip_suffix(stem, ".sql"))
		return false;

	out->file = pstrdup(file);
	out->is_down = strip_suffix(stem, ".down") || strip_suffix(stem, "_down");
	if (!out->is_down)
		(void) strip_suffix(stem, ".up");
	out->name = stem;
	return true;
}

bool
plain_claims(List *files)
{
	ListCell   *lc;

	foreach(lc, files)
	{
		PlainFile	pf;

		if (parse_file_name(lfirst(lc), &pf))
			return true;
	}
	return false;
}

/* by name, up script before down script */
static int
compare_plain_files(const void *a, const void *b)
{
	const PlainFile *pa = a;
	const PlainFile *pb = b;
	int			c = strcmp(pa->name, pb->name);

	if (c != 0)
		return c;
	return (int) pa->is_down - (int) pb->is_down;
}

void
plain_scan(MigrationSet *set, List *files)
{
	PlainFile  *pf = palloc(sizeof(PlainFile) * Max(list_length(files), 1));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, files)
		if (parse_file_name(lfirst(lc), &pf[n]))
			n++;
	qsort(pf, n, sizeof(PlainFile), compare_plain_files);

	set->items = palloc0(sizeof(Migration) * Max(n, 1));
	set->count = 0;
	for (int i = 0; i < n; i++)
	{
		Migration  *last = set->count > 0 ? &set->items[set->count - 1] : NULL;
		bool		same = last && strcmp(last->name, pf[i].name) == 0;

		if (!pf[i].is_down)
		{
			Migration  *m;
			int			vlen;

			if (same)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_FILE),
						 errmsg("migration \"%s\" has two up scripts: \"%s\" and \"%s\"",
								pf[i].name, last->up_file, pf[i].file),
						 errdetail("Both are in folder \"%s\".", set->dir),
						 errhint("Keep one of the two files.")));
			m = &set->items[set->count++];
			m->name = pf[i].name;
			m->up_file = pf[i].file;
			for (vlen = 0; isdigit((unsigned char) m->name[vlen]); vlen++)
				;
			m->version = pnstrdup(m->name, vlen);
		}
		else if (!same)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("down script \"%s\" has no up script", pf[i].file),
					 errdetail("Expected \"%s.sql\" beside it in folder \"%s\".",
							   pf[i].name, set->dir),
					 errhint("Add the up script, or rename the file if it is itself an up script.")));
		else if (last->down_file != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_FILE),
					 errmsg("migration \"%s\" has two down scripts: \"%s\" and \"%s\"",
							pf[i].name, last->down_file, pf[i].file),
					 errdetail("Both are in folder \"%s\".", set->dir),
					 errhint("Keep one of the two files.")));
		else
			last->down_file = pf[i].file;
	}
	pfree(pf);
}

void
plain_load(const MigrationSet *set, const Migration *m, LoadedMigration *out,
		   bool with_down)
{
	out->up.file = m->up_file;
	out->up.sql = folder_read_file(set->dir, m->up_file, false);
	out->up.first_line = 1;
	if (m->down_file && with_down)
	{
		out->down.file = m->down_file;
		out->down.sql = folder_read_file(set->dir, m->down_file, false);
		out->down.first_line = 1;
	}
}
