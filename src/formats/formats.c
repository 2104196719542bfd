/*-------------------------------------------------------------------------
 *
 * formats.c
 *	  A migrations folder as an ordered set of migrations: picks the format
 *	  (or detects it), lets the format's reader find the migrations and
 *	  compute their checksums, and reads a migration's scripts through it.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "formats/formats.h"

/* detection order matters only for the error listing; see detect_format */
static const MigrationFormat *const formats[] = {
	&drizzle_format, &flyway_format, &dbmate_format,
	/* formats2's: told by a marker or a file of their own */
	&node_pg_migrate_format, &atlas_format, &sqitch_format, &liquibase_format,
	&golang_format, &plain_format
};

/* formats2's formats: their numbered files are not golang-migrate's nor plain */
#define FORMATS2_OWNS_FILES(f) \
	((f) == &node_pg_migrate_format || (f) == &atlas_format || \
	 (f) == &sqitch_format || (f) == &liquibase_format)

static const MigrationFormat *detect_format(const Folder *folder, List *files,
											int elevel);
static char *file_names(List *files);
static char *format_names(bool with_auto);
static void no_migrations_error(const Folder *folder, List *files,
								const MigrationFormat *format);
static void check_unique_versions(const MigrationSet *set);

/* The format of that name; an error for a name no format has */
const MigrationFormat *
format_by_name(const char *name)
{
	for (int i = 0; i < lengthof(formats); i++)
		if (strcmp(formats[i]->name, name) == 0)
			return formats[i];
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unrecognized migration format \"%s\"", name),
			 errhint("Use %s.", format_names(true))));
	return NULL;				/* keep compiler quiet */
}

/*
 * The formats' names, quoted, for hints: 'auto' and every format, or the
 * formats other than plain; the last after "or".
 */
static char *
format_names(bool with_auto)
{
	StringInfoData names;

	initStringInfo(&names);
	if (with_auto)
		appendStringInfoString(&names, "'auto'");
	for (int i = 0; i < lengthof(formats); i++)
	{
		bool		last = (i == lengthof(formats) - 1) ||
			(!with_auto && i == lengthof(formats) - 2 &&
			 formats[i + 1] == &plain_format);

		if (!with_auto && formats[i] == &plain_format)
			continue;
		if (names.len > 0)
			appendStringInfoString(&names, last ? " or " : ", ");
		appendStringInfo(&names, "'%s'", formats[i]->name);
	}
	return names.data;
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
			 errhint("Plain migration files are named like \"0001_create_users.sql\"; pass format => %s for other layouts.",
					 format_names(false)) :
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
		if (n > 0 && FORMATS2_OWNS_FILES(claimed[n - 1]) &&
			(f == &golang_format || f == &plain_format))
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
	files = folder_list_files(folder);

	if (strcmp(format, "auto") == 0)
		set->format = detect_format(folder, files, elevel);
	else
		set->format = format_by_name(format);

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

	source_sort(set);
	/* node-pg-migrate runs two files of one prefix, by name */
	if (set->format != &plain_format && set->format != &node_pg_migrate_format)
		check_unique_versions(set);

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

/*
 * For formats whose version is a migration's key (golang-migrate, dbmate,
 * Flyway), two migrations of one version are an error.  The set is sorted.
 */
static void
check_unique_versions(const MigrationSet *set)
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
