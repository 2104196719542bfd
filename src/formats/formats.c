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
	&golang_format, &plain_format,
	/* formats1's: claimed after plain, which goose's markers override */
	&prisma_format, &goose_format, &sqlx_format, &diesel_format
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
static int	prefer_markers(const MigrationFormat **claimed, int n);

/*
 * The up scripts' checksums that source_load() computed for the last
 * folder it read from disk, with the stamp of each one's file
 * (folder_file_stamp()), sorted by migration name (not by file: one
 * Liquibase changelog holds several migrations, each its own checksum): when the same folder is read again in the session
 * (status polled over a pooled connection, or once per tenant), a file
 * whose stamp is the same is not read again.  What source_load() checks in
 * a file besides its checksum (encoding, foreign markers) depends on its
 * content and the format alone, and a file that fails them is not kept.
 */
typedef struct CachedChecksum
{
	const char *name;			/* the migration's */
	FileStamp	stamp;
	char		checksum[MIGRATE_CHECKSUM_LEN + 1];
} CachedChecksum;

static MemoryContext checksums_cxt = NULL;
static const char *checksums_folder;
static const MigrationFormat *checksums_format;
static int	checksums_count;
static CachedChecksum *checksums;

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
 * The formats' names, quoted, for hints, as "'a', 'b' or 'c'": every
 * format but plain, after 'auto' and 'plain' when with_auto.
 */
static char *
format_names(bool with_auto)
{
	StringInfoData names;
	int			n = 0;

	initStringInfo(&names);
	if (with_auto)
		appendStringInfoString(&names, "'auto', 'plain'");
	for (int i = 0; i < lengthof(formats); i++)
	{
		if (formats[i] == &plain_format)
			continue;
		n++;
		appendStringInfo(&names, "%s'%s'",
						 n == lengthof(formats) - 1 ? " or " :
						 names.len > 0 ? ", " : "",
						 formats[i]->name);
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
 * A folder claimed by a format of issue 16 that its files' markers make
 * (goose's "-- +goose Up") is that format's, though its files are named
 * as plain's are: plain is dropped from the n formats claimed; the count
 * left is returned.
 */
static int
prefer_markers(const MigrationFormat **claimed, int n)
{
	bool		marked = false;
	int			kept = 0;

	for (int i = 0; i < n; i++)
		marked |= (claimed[i] == &goose_format);
	for (int i = 0; i < n; i++)
		if (!marked || claimed[i] != &plain_format)
			claimed[kept++] = claimed[i];
	return kept;
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
	n = prefer_markers(claimed, n);

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

static int
compare_cached_checksums(const void *a, const void *b)
{
	return strcmp(((const CachedChecksum *) a)->name,
				  ((const CachedChecksum *) b)->name);
}

/* The checksum kept for that migration of the last folder read, or NULL */
static const CachedChecksum *
cached_checksum(const char *name)
{
	CachedChecksum key;

	key.name = name;
	return bsearch(&key, checksums, checksums_count, sizeof(CachedChecksum),
				   compare_cached_checksums);
}

/*
 * Read a folder's migrations.  format is a name, or "auto" to detect it from
 * the files present; the format detected is reported at elevel (a NOTICE
 * where a person runs migrations, DEBUG1 for status, which dashboards and
 * scheduled jobs call often).  Every migration's up script is read once here to
 * compute its checksum, in a context reset per file so that memory stays
 * flat however many migrations the folder holds; the folder is held open
 * meanwhile, so that each file is opened relative to it.  A file of the
 * folder read last whose stamp has not changed since is not read again:
 * its checksum is kept (see CachedChecksum).
 */
MigrationSet *
source_load(const Folder *folder, const char *format, int elevel)
{
	MigrationSet *set = palloc0(sizeof(MigrationSet));
	List	   *files;
	MemoryContext tmp,
				old,
				fresh_cxt;
	CachedChecksum *fresh;
	int			nfresh = 0;
	bool		same_folder;

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
	/* Prisma versions by folder; node-pg-migrate runs two files of a prefix */
	if (set->format != &plain_format && set->format != &prisma_format &&
		set->format != &node_pg_migrate_format)
		check_unique_versions(set);

	tmp = AllocSetContextCreate(CurrentMemoryContext, "pg_migrate checksums",
								ALLOCSET_DEFAULT_SIZES);

	/*
	 * The checksums kept for next time, in a context that an error
	 * meanwhile frees with the call's
	 */
	fresh_cxt = AllocSetContextCreate(CurrentMemoryContext,
									  "pg_migrate checksum cache",
									  ALLOCSET_DEFAULT_SIZES);
	fresh = MemoryContextAlloc(fresh_cxt, sizeof(CachedChecksum) * Max(set->count, 1));
	same_folder = checksums_cxt != NULL && checksums_format == set->format &&
		strcmp(checksums_folder, folder->name) == 0;

	folder_hold(folder);
	PG_TRY();
	{
		for (int i = 0; i < set->count; i++)
		{
			Migration  *m = &set->items[i];
			LoadedMigration lm;
			FileStamp	stamp;
			bool		stamped = folder_file_stamp(folder, m->up_file, &stamp);
			const CachedChecksum *kept = stamped && same_folder ?
				cached_checksum(m->name) : NULL;

			CHECK_FOR_INTERRUPTS();
			if (kept && file_stamps_equal(&kept->stamp, &stamp))
				memcpy(m->checksum, kept->checksum, sizeof(m->checksum));
			else
			{
				old = MemoryContextSwitchTo(tmp);
				migration_load(set, m, &lm, false);
				foreign_check_script(set, m, &lm.up);
				checksum_hex(lm.up.sql, strlen(lm.up.sql), m->checksum);
				MemoryContextSwitchTo(old);
				MemoryContextReset(tmp);
			}
			if (stamped)
			{
				CachedChecksum *c = &fresh[nfresh++];

				c->name = MemoryContextStrdup(fresh_cxt, m->name);
				c->stamp = stamp;
				memcpy(c->checksum, m->checksum, sizeof(c->checksum));
			}
		}
	}
	PG_FINALLY();
	{
		folder_release(folder);
	}
	PG_END_TRY();
	MemoryContextDelete(tmp);

	/*
	 * This folder's checksums replace the last one's; with none (files sent
	 * as data, or all just written), those are kept: what they say of a
	 * file with that stamp stays true.
	 */
	if (nfresh == 0)
	{
		MemoryContextDelete(fresh_cxt);
		return set;
	}
	qsort(fresh, nfresh, sizeof(CachedChecksum), compare_cached_checksums);
	if (checksums_cxt)
		MemoryContextDelete(checksums_cxt);
	MemoryContextSetParent(fresh_cxt, TopMemoryContext);
	checksums_cxt = fresh_cxt;
	checksums_folder = MemoryContextStrdup(fresh_cxt, folder->name);
	checksums_format = set->format;
	checksums_count = nfresh;
	checksums = fresh;

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
 * Flyway; not plain, nor Prisma, which keys on names), two migrations of
 * one version are an error.  The set is sorted.
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
