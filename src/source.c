/*-------------------------------------------------------------------------
 *
 * source.c
 *	  A migrations folder as an ordered set of migrations: picks the format,
 *	  lets the format's reader find the migrations, orders them by version
 *	  and computes their checksums.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "pg_migrate.h"

static int	compare_migrations(const void *a, const void *b);
static int	compare_by_name(const void *a, const void *b);

/* Where the next part of a version starts, or "" when there is none */
static const char *
next_version_part(const char *end)
{
	if ((*end == '.' || *end == '_') && isdigit((unsigned char) end[1]))
		return end + 1;
	return "";
}

/*
 * Compare two version strings part by part: parts are runs of digits split
 * at '.' or '_', compared as numbers of any length; a missing part counts
 * as zero, so "1" and "1.0" are the same version.
 */
int
version_cmp(const char *a, const char *b)
{
	while (isdigit((unsigned char) *a) || isdigit((unsigned char) *b))
	{
		const char *ea,
				   *eb;
		int			c;

		while (*a == '0')
			a++;
		while (*b == '0')
			b++;
		for (ea = a; isdigit((unsigned char) *ea); ea++)
			;
		for (eb = b; isdigit((unsigned char) *eb); eb++)
			;
		if (ea - a != eb - b)
			return (ea - a) < (eb - b) ? -1 : 1;
		c = strncmp(a, b, ea - a);
		if (c != 0)
			return c;
		a = next_version_part(ea);
		b = next_version_part(eb);
	}
	return 0;
}

static int
compare_migrations(const void *a, const void *b)
{
	const Migration *ma = (const Migration *) a;
	const Migration *mb = (const Migration *) b;
	int			c = version_cmp(ma->version, mb->version);

	return c != 0 ? c : strcmp(ma->name, mb->name);
}

/*
 * Read a folder's migrations.  format is a name, or "auto" to detect it from
 * the files present.  Every migration's up script is read once here to
 * compute its checksum, in a context reset per file so that memory stays
 * flat however many migrations the folder holds.
 */
MigrationSet *
source_load(const char *dir, const char *format)
{
	MigrationSet *set = palloc0(sizeof(MigrationSet));
	List	   *files;
	MemoryContext tmp,
				old;

	set->dir = folder_resolve(dir);
	files = folder_list_files(set->dir);

	if (strcmp(format, "auto") == 0)
	{
		if (!plain_claims(files))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("no migrations found in folder \"%s\"", set->dir),
					 errdetail_plural("The folder holds %d file, not named like a migration.",
									  "The folder holds %d files, none named like a migration.",
									  list_length(files), list_length(files)),
					 errhint("Migration files are named like \"0001_create_users.sql\", with an optional \"0001_create_users.down.sql\".")));
		format = "plain";
	}
	else if (strcmp(format, "plain") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown migration format \"%s\"", format),
				 errhint("Use 'auto' or 'plain'.")));

	set->format = pstrdup(format);
	plain_scan(set, files);
	list_free_deep(files);

	if (set->count > 1)
		qsort(set->items, set->count, sizeof(Migration), compare_migrations);

	/* an index by name, for matching tracking rows in O(log n) */
	set->by_name = palloc(sizeof(Migration *) * Max(set->count, 1));
	for (int i = 0; i < set->count; i++)
		set->by_name[i] = &set->items[i];
	if (set->count > 1)
		qsort(set->by_name, set->count, sizeof(Migration *), compare_by_name);

	tmp = AllocSetContextCreate(CurrentMemoryContext, "pg_migrate checksums",
								ALLOCSET_DEFAULT_SIZES);
	for (int i = 0; i < set->count; i++)
	{
		LoadedMigration lm;

		old = MemoryContextSwitchTo(tmp);
		migration_load(set, &set->items[i], &lm, false);
		checksum_hex(lm.up.sql, strlen(lm.up.sql), set->items[i].checksum);
		MemoryContextSwitchTo(old);
		MemoryContextReset(tmp);
	}
	MemoryContextDelete(tmp);

	return set;
}

/*
 * Read a migration's scripts, in the current memory context; the down
 * script only when asked, as checksums and status do not need it.
 */
void
migration_load(const MigrationSet *set, const Migration *m, LoadedMigration *out,
			   bool with_down)
{
	memset(out, 0, sizeof(LoadedMigration));
	plain_load(set, m, out, with_down);
	if (!out->no_transaction)
		out->no_transaction = script_has_directive(out->up.sql,
												   "migrate:no-transaction");
}

static int
compare_by_name(const void *a, const void *b)
{
	return strcmp((*(Migration *const *) a)->name,
				  (*(Migration *const *) b)->name);
}

/* The migration of that name, or NULL */
Migration *
source_find(const MigrationSet *set, const char *name)
{
	Migration	key;
	Migration  *keyp = &key;
	Migration **found;

	if (set->count == 0)
		return NULL;
	key.name = (char *) name;
	found = bsearch(&keyp, set->by_name, set->count, sizeof(Migration *),
					compare_by_name);
	return found ? *found : NULL;
}
