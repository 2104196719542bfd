/*-------------------------------------------------------------------------
 *
 * source.c
 *	  A migrations folder as an ordered set of migrations: picks the format
 *	  (or detects it), lets the format's reader find the migrations, orders
 *	  them by version and computes their checksums.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "pg_migrate.h"

/* detection order matters only for the error listing; see detect_format */
static const MigrationFormat *const formats[] = {
	&drizzle_format, &flyway_format, &dbmate_format, &golang_format, &plain_format
};

static const MigrationFormat *detect_format(const Folder *folder, List *files,
											int elevel);
static const MigrationFormat *find_format(const char *name);
static char *file_names(List *files);
static void no_migrations_error(const Folder *folder, List *files,
								const MigrationFormat *format);
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

bool
strip_suffix(char *s, const char *suffix)
{
	size_t		ls = strlen(s);
	size_t		lx = strlen(suffix);

	if (ls <= lx || strcmp(s + ls - lx, suffix) != 0)
		return false;
	s[ls - lx] = '\0';
	return true;
}

/* How many newlines the first len bytes of s hold */
int
count_newlines(const char *s, size_t len)
{
	int			n = 0;
	const char *end = s + len;

	while ((s = memchr(s, '\n', end - s)) != NULL)
	{
		n++;
		s++;
	}
	return n;
}

/* The files directly in a folder, sorted by name */
List *
source_list_files(const Folder *folder)
{
	return folder->files ? sent_list_files(folder) :
		folder_list_files(folder->path);
}

/*
 * The whole text of a file of the folder (a path relative to it), valid in
 * the database encoding; NULL when there is none and missing_ok.
 */
char *
source_read_file(const Folder *folder, const char *file, bool missing_ok)
{
	return folder->files ? sent_read_file(folder, file, missing_ok) :
		folder_read_file(folder->path, file, missing_ok);
}

/* Whether the folder holds that file (a path relative to it) */
bool
source_has_file(const Folder *folder, const char *file)
{
	if (folder->files)
		return getKeyJsonValueFromContainer(&folder->files->root, file,
											strlen(file), NULL) != NULL;
	return folder_has_file(folder->path, file);
}

/* list_sort() comparator for lists of C strings */
int
compare_string_cells(const ListCell *a, const ListCell *b)
{
	return strcmp((const char *) lfirst(a), (const char *) lfirst(b));
}

/* Whether a list of C strings holds s */
bool
string_list_member(List *list, const char *s)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp(lfirst(lc), s) == 0)
			return true;
	return false;
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

/*
 * For formats whose version is a migration's key (golang-migrate, dbmate,
 * Flyway), two migrations of one version are an error.  The set is sorted.
 */
void
source_check_unique_versions(const MigrationSet *set)
{
	for (int i = 1; i < set->count; i++)
	{
		const Migration *a = &set->items[i - 1];
		const Migration *b = &set->items[i];

		if (!a->repeatable && !b->repeatable &&
			version_cmp(a->version, b->version) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_FILE),
					 errmsg("migrations \"%s\" and \"%s\" have the same version %s",
							a->up_file, b->up_file, b->version),
					 errdetail("The %s format identifies a migration by its version, so versions must be unique.",
							   set->format->name),
					 errhint("Renumber one of the two files.")));
	}
}

/* Read a whole file as a script starting at line 1 */
void
load_script(const MigrationSet *set, const char *file, Script *out)
{
	out->file = file;
	out->sql = source_read_file(set->folder, file, false);
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

static const MigrationFormat *
find_format(const char *name)
{
	for (int i = 0; i < lengthof(formats); i++)
		if (strcmp(formats[i]->name, name) == 0)
			return formats[i];
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unrecognized migration format \"%s\"", name),
			 errhint("Use 'auto', 'plain', 'drizzle', 'dbmate', 'golang-migrate' or 'flyway'.")));
	return NULL;				/* keep compiler quiet */
}

/*
 * The first few file names of a listing, for messages.  File names and
 * counts describe the folder's listing: only a caller that could list it
 * by other means is shown them (see folder_may_list).
 */
static char *
file_names(List *files)
{
	StringInfoData names;
	ListCell   *lc;

	initStringInfo(&names);
	foreach(lc, files)
	{
		if (foreach_current_index(lc) == 5)
		{
			appendStringInfo(&names, ", ...");
			break;
		}
		appendStringInfo(&names, "%s\"%s\"", names.len ? ", " : "",
						 (char *) lfirst(lc));
	}
	return names.data;
}

/*
 * A folder with no migration in it: an error, whether its format was
 * detected (format NULL) or named, as a deploy that finds nothing to run is
 * more likely pointed at the wrong folder than done.
 */
static void
no_migrations_error(const Folder *folder, List *files,
					const MigrationFormat *format)
{
	bool		may_list = folder_may_list();
	int			n = list_length(files);

	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_FILE),
			 errmsg("no migrations found in folder \"%s\"", folder->name),
			 !may_list ?
			 errdetail("The folder holds no file named like a migration.") :
			 n == 0 ?
			 errdetail("The folder holds no files.") :
			 format == NULL ?
			 errdetail_plural("The folder holds %d file, not named like a migration: %s.",
							  "The folder holds %d files, none named like a migration: %s.",
							  n, n, file_names(files)) :
			 errdetail_plural("The folder holds %d file, not a migration in %s format: %s.",
							  "The folder holds %d files, none a migration in %s format: %s.",
							  n, n, format->name, file_names(files)),
			 format == NULL ?
			 errhint("Plain migration files are named like \"0001_create_users.sql\"; pass format => 'drizzle', 'dbmate', 'golang-migrate' or 'flyway' for other layouts.") :
			 errhint("Check the folder, and name the format its files are in, or pass format => 'auto' to detect it.")));
}

/*
 * Which format the folder is in.  A drizzle journal makes the numbered
 * .sql files beside it drizzle's; dbmate's files are plain ones with
 * "-- migrate:up" inside; golang-migrate's are plain ones that all end in
 * .up.sql or .down.sql.  Anything else that two formats claim is an error.
 */
static const MigrationFormat *
detect_format(const Folder *folder, List *files, int elevel)
{
	const char *dir = folder->name;
	const MigrationFormat *claimed[lengthof(formats)];
	int			n = 0;
	bool		may_list;

	/* another tool's markers make the folder that tool's, not plain */
	foreign_check_folder(folder, files);

	for (int i = 0; i < lengthof(formats); i++)
	{
		const MigrationFormat *f = formats[i];

		if (n > 0 && claimed[n - 1] == &drizzle_format &&
			(f == &dbmate_format || f == &golang_format || f == &plain_format))
			continue;
		if (n > 0 && (claimed[n - 1] == &dbmate_format ||
					  claimed[n - 1] == &golang_format) && f == &plain_format)
			continue;
		if (f->claims(folder, files))
			claimed[n++] = f;
	}

	if (n == 1)
	{
		ereport(elevel,
				(errmsg("migrations folder \"%s\" is in %s format", dir,
						claimed[0]->name)));
		return claimed[0];
	}
	if (n == 0)
		no_migrations_error(folder, files, NULL);

	may_list = folder_may_list();
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("migrations folder \"%s\" matches more than one format", dir),
			 may_list ?
			 errdetail("It looks like %s and like %s: %s.",
					   claimed[0]->name, claimed[1]->name, file_names(files)) :
			 errdetail("It looks like %s and like %s.",
					   claimed[0]->name, claimed[1]->name),
			 errhint("Keep one tool's migrations per folder, or name the format with format => '...'.")));
	return NULL;				/* keep compiler quiet */
}

/*
 * Read a folder's migrations.  format is a name, or "auto" to detect it from
 * the files present; the format detected is reported at elevel (a NOTICE
 * where a person runs migrations, DEBUG1 for status, which dashboards and
 * scheduled jobs call often).  Every migration's up script is read once here to
 * compute its checksum, in a context reset per file so that memory stays
 * flat however many migrations the folder holds.
 */
MigrationSet *
source_load(const Folder *folder, const char *format, int elevel)
{
	MigrationSet *set = palloc0(sizeof(MigrationSet));
	List	   *files;
	MemoryContext tmp,
				old;

	set->folder = folder;
	set->dir = folder->name;
	files = source_list_files(folder);

	if (strcmp(format, "auto") == 0)
		set->format = detect_format(folder, files, elevel);
	else
		set->format = find_format(format);

	set->format->scan(set, files);

	/*
	 * A named format finds nothing where detection finds no format: the
	 * same error (a drizzle journal without entries is no error: the
	 * format claims its folder).
	 */
	if (set->count == 0 && !set->format->claims(folder, files))
		no_migrations_error(folder, files,
							strcmp(format, "auto") == 0 ? NULL : set->format);
	list_free_deep(files);

	if (set->count > 1)
		qsort(set->items, set->count, sizeof(Migration), compare_migrations);
	if (set->format != &plain_format)
		source_check_unique_versions(set);

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

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(tmp);
		migration_load(set, &set->items[i], &lm, false);
		foreign_check_script(set, &set->items[i], &lm.up);
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
	set->format->load(set, m, out, with_down);

	/*
	 * A down script with no statement (an empty file, "-- no-op", dbmate's
	 * default empty down section) is no down script, as for the tools.
	 */
	if (out->down.sql && script_is_blank(out->down.sql))
		out->down.sql = NULL;
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
