/*-------------------------------------------------------------------------
 *
 * prisma.c
 *	  Prisma Migrate's folders: one folder per migration,
 *	  "20240101120000_init/migration.sql", beside "migration_lock.toml",
 *	  which names the database the migrations were written for.  Prisma
 *	  runs the folders in the order of their names, each script as one
 *	  multi-statement query, so in one transaction: it has no
 *	  no-transaction marker, and no down scripts; a "down.sql" in the
 *	  migration's folder (what Prisma's documentation suggests writing with
 *	  "prisma migrate diff" to undo a migration by hand) is its down
 *	  script.  Prisma's table is tools/prisma_table.c's.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "formats/formats.h"

#define LOCK_FILE "migration_lock.toml"

static bool prisma_claims(const Folder *folder, List *files);
static void prisma_scan(MigrationSet *set, List *files);

const MigrationFormat prisma_format = {
	"prisma", prisma_claims, prisma_scan, load_up_down_files
};

/* A migration folder: "<folder>/migration.sql" is there */
static bool
is_migration_folder(const Folder *folder, const char *sub)
{
	return folder_has_file(folder, psprintf("%s/migration.sql", sub));
}

/*
 * Prisma's folder: its lock file, or a numbered subfolder holding a
 * migration.sql (the lock file is sometimes left out of a copy), but not
 * beside a snapshot.json: that is drizzle-kit 1.0's layout
 */
static bool
prisma_claims(const Folder *folder, List *files)
{
	ListCell   *lc;

	if (string_list_member(files, LOCK_FILE))
		return true;
	if (drizzle_v1_subfolder(folder, files) != NULL)
		return false;
	foreach(lc, folder_list_subfolders(folder))
	{
		const char *sub = lfirst(lc);

		if (isdigit((unsigned char) sub[0]) && is_migration_folder(folder, sub))
			return true;
	}
	return false;
}

/*
 * The provider migration_lock.toml names ("postgresql"), or NULL when the
 * file has none: Prisma writes one line, provider = "<name>".
 */
static char *
lock_provider(const char *toml)
{
	for (const char *line = toml; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
	{
		const char *p = line + strspn(line, " \t");
		const char *end;

		if (strncmp(p, "provider", 8) != 0)
			continue;
		p += 8;
		p += strspn(p, " \t");
		if (*p++ != '=')
			continue;
		p += strspn(p, " \t");
		if (*p++ != '"' || (end = strchr(p, '"')) == NULL)
			continue;
		return pnstrdup(p, end - p);
	}
	return NULL;
}

/* Refuse a folder Prisma generated for another database */
static void
check_provider(const MigrationSet *set)
{
	char	   *toml = folder_read_file(set->folder, LOCK_FILE, true);
	char	   *provider = toml ? lock_provider(toml) : NULL;

	if (provider && strcmp(provider, "postgresql") != 0 &&
		strcmp(provider, "postgres") != 0 && strcmp(provider, "cockroachdb") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("Prisma migrations folder \"%s\" was generated for %s, not PostgreSQL",
						set->dir, provider),
				 errdetail("Its \"%s\" says provider = \"%s\".", LOCK_FILE, provider),
				 errhint("Generate the migrations for PostgreSQL (provider = \"postgresql\" in the Prisma schema's datasource).")));
}

/*
 * Prisma runs the folders in the order of their names, pg_migrate in the
 * order of the numbers they start with, then of their names: the same for
 * Prisma's timestamps and zero-padded numbers ("01_init"), which are all
 * there is in practice.  A folder where the two differ ("9_a" and "10_b")
 * is refused rather than run in another order than Prisma's.  subs is
 * sorted by name, and so are the migrations added from it.
 */
static void
check_order(const MigrationSet *set)
{
	for (int i = 1; i < set->count; i++)
	{
		const Migration *a = &set->items[i - 1];
		const Migration *b = &set->items[i];

		if (migration_order_cmp(false, a->version, a->name,
								false, b->version, b->name) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("Prisma migrations \"%s\" and \"%s\" are in another order by name than by number",
							a->name, b->name),
					 errdetail("Prisma runs the migrations of folder \"%s\" in the order of their names, and pg_migrate in the order of the numbers they start with.",
							   set->dir),
					 errhint("Rename the migrations' folders so that both orders agree, as Prisma's timestamps do (or pad their numbers with zeros: \"09_\", \"10_\").")));
	}
}

/*
 * Every subfolder is a migration, as Prisma lists them: one without its
 * migration.sql is an error, as "prisma migrate deploy" fails on it.
 */
static void
prisma_scan(MigrationSet *set, List *files)
{
	ListCell   *lc;

	/* named format => 'prisma' would record a drizzle folder as Prisma's */
	drizzle_v1_refuse(set->folder, files);
	check_provider(set);
	foreach(lc, folder_list_subfolders(set->folder))
	{
		const char *sub = lfirst(lc);
		Migration  *m;
		char	   *down;

		if (!is_migration_folder(set->folder, sub))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("Prisma migration folder \"%s\" has no file \"migration.sql\"", sub),
					 errdetail("Folder \"%s\" is in prisma format, where each subfolder is a migration whose script is its migration.sql.",
							   set->dir),
					 errhint("Restore the migration's script, or move the subfolder out of the migrations folder.")));
		m = source_add(set, sub, leading_version(sub),
					   psprintf("%s/migration.sql", sub));
		down = psprintf("%s/down.sql", sub);
		if (folder_has_file(set->folder, down))
			m->down_file = down;
	}
	check_order(set);
}
