/*-------------------------------------------------------------------------
 *
 * source.c
 *	  The set of a folder's migrations as the formats build it: adding a
 *	  migration, ordering them by version, finding one by name, and reading
 *	  the files of formats with one file per script.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "folder/folder.h"

static int	compare_migrations(const void *a, const void *b);
static int	compare_by_name(const void *a, const void *b);
static const char *next_version_part(const char *end);

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

/*
 * The order of migrations everywhere: versioned ones by version, then
 * name; repeatable ones (which have no version) after them, by name.
 */
int
migration_order_cmp(bool repeatable_a, const char *version_a, const char *name_a,
					bool repeatable_b, const char *version_b, const char *name_b)
{
	int			c;

	if (repeatable_a != repeatable_b)
		return repeatable_a ? 1 : -1;
	c = version_cmp(version_a, version_b);
	return c != 0 ? c : strcmp(name_a, name_b);
}

static int
compare_migrations(const void *a, const void *b)
{
	const Migration *ma = (const Migration *) a;
	const Migration *mb = (const Migration *) b;

	return migration_order_cmp(ma->repeatable, ma->version, ma->name,
							   mb->repeatable, mb->version, mb->name);
}

/* The leading digits of a numbered file's name: its version */
char *
leading_version(const char *name)
{
	int			len = 0;

	while (isdigit((unsigned char) name[len]))
		len++;
	return pnstrdup(name, len);
}

/* "0004_name.sql" and the like: starts with a digit, ends in ".sql" */
bool
is_numbered_sql(const char *file)
{
	size_t		len = strlen(file);

	return isdigit((unsigned char) file[0]) && len > 4 &&
		strcmp(file + len - 4, ".sql") == 0;
}

/* Append a migration to the set; the formats call this while scanning */
Migration *
source_add(MigrationSet *set, const char *name, const char *version,
		   const char *up_file)
{
	Migration  *m;

	if (set->items == NULL)
		set->items = palloc0(sizeof(Migration) * 16);
	else if ((set->count & (set->count - 1)) == 0 && set->count >= 16)
		set->items = repalloc(set->items, sizeof(Migration) * set->count * 2);
	m = &set->items[set->count++];
	memset(m, 0, sizeof(Migration));
	m->name = pstrdup(name);
	m->version = pstrdup(version);
	m->up_file = pstrdup(up_file);
	return m;
}

/* Read a whole file as a script starting at line 1 */
void
load_script(const MigrationSet *set, const char *file, Script *out)
{
	out->file = file;
	out->sql = folder_read_file(set->folder, file, false);
	out->first_line = 1;
}

/* The loader of formats with one file per script */
void
load_up_down_files(const MigrationSet *set, const Migration *m,
				   LoadedMigration *out, bool with_down)
{
	load_script(set, m->up_file, &out->up);
	if (m->down_file && with_down)
		load_script(set, m->down_file, &out->down);
}

/*
 * For the tools whose no-transaction marker covers the down script too
 * (goose's NO TRANSACTION, Diesel's metadata.toml, sqlx's marker in the
 * down file): the down script, as stored and run, starts with pg_migrate's
 * own directive, a line above the file's first, so that
 * migrate.run_rollback() runs it outside a transaction as the tool would.
 */
void
down_outside_transaction(LoadedMigration *out)
{
	if (out->down.sql == NULL ||
		script_has_directive(out->down.sql, "migrate:no-transaction"))
		return;
	out->down.sql = psprintf("-- migrate:no-transaction\n%s", out->down.sql);
	out->down.first_line--;
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

/*
 * The migration of that name, or NULL, trying first the one after the
 * last found (*next, 0 at first): the tracking table's rows come in the
 * order they were applied, which is the folder's order but for the odd
 * out-of-order migration, so that matching them all costs one comparison
 * each rather than a search
 */
Migration *
source_find_next(const MigrationSet *set, const char *name, int *next)
{
	Migration  *m;

	if (*next >= 0 && *next < set->count &&
		strcmp(set->items[*next].name, name) == 0)
		m = &set->items[*next];
	else if ((m = source_find(set, name)) == NULL)
		return NULL;
	*next = (m - set->items) + 1;
	return m;
}

/*
 * Order a set that a format has scanned by version, then name, and index
 * it by name for matching tracking rows in O(log n).
 */
void
source_sort(MigrationSet *set)
{
	if (set->count > 1)
		qsort(set->items, set->count, sizeof(Migration), compare_migrations);

	set->by_name = palloc(sizeof(Migration *) * Max(set->count, 1));
	for (int i = 0; i < set->count; i++)
		set->by_name[i] = &set->items[i];
	if (set->count > 1)
		qsort(set->by_name, set->count, sizeof(Migration *), compare_by_name);
}
