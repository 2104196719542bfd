/*-------------------------------------------------------------------------
 *
 * sqlx.c
 *	  sqlx's folders (sqlx migrate, the Rust toolkit's migrator):
 *	  "<version>_<description>.sql", or a pair
 *	  "<version>_<description>.up.sql" and ".down.sql", run in the order
 *	  of their versions as numbers.  A script whose text starts with
 *	  "-- no-transaction" runs outside a transaction.  The files are named
 *	  as plain and golang-migrate files are, so the format is never
 *	  detected: it is named.  sqlx's table is tools/sqlx_table.c's.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/string.h"

#include "formats/formats.h"

static bool sqlx_claims(const Folder *folder, List *files);
static void sqlx_scan(MigrationSet *set, List *files);
static void sqlx_load(const MigrationSet *set, const Migration *m,
					  LoadedMigration *out, bool with_down);

const MigrationFormat sqlx_format = {
	"sqlx", sqlx_claims, sqlx_scan, sqlx_load
};

/* Named, never detected: see the comment above */
static bool
sqlx_claims(const Folder *folder, List *files)
{
	return false;
}

/* Whether s is digits only, of a number that fits in a bigint */
static bool
is_bigint(const char *s)
{
	int64		v = 0;

	if (*s == '\0')
		return false;
	for (; *s; s++)
	{
		if (!isdigit((unsigned char) *s) ||
			v > (PG_INT64_MAX - (*s - '0')) / 10)
			return false;
		v = v * 10 + (*s - '0');
	}
	return true;
}

/*
 * sqlx reads every "<version>_<rest>.sql" file, refusing one whose
 * version is not a bigint; a .sql file without "_" is not its.
 */
static void
sqlx_scan(MigrationSet *set, List *files)
{
	List	   *downs = NIL;
	ListCell   *lc;

	foreach(lc, files)
	{
		const char *file = lfirst(lc);
		char	   *name = pstrdup(file);
		char	   *sep;
		char	   *version;
		bool		down;

		if (!strip_suffix(name, ".sql") || (sep = strchr(name, '_')) == NULL)
			continue;
		version = pnstrdup(name, sep - name);
		if (!is_bigint(version))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid sqlx migration file name \"%s\"", file),
					 errdetail("sqlx names migrations <version>_<description>.sql (or .up.sql and .down.sql), the version a bigint, and refuses a folder holding another .sql file with \"_\" in its name."),
					 errhint("Rename the file in folder \"%s\", or move it out of the folder.",
							 set->dir)));
		down = strip_suffix(name, ".down");
		if (!down)
			(void) strip_suffix(name, ".up");
		if (down)
			downs = lappend(downs, pstrdup(file));
		else
			(void) source_add(set, name, version, file);
	}

	/* a down script belongs to the up script of its name */
	foreach(lc, downs)
	{
		const char *file = lfirst(lc);
		char	   *name = pstrdup(file);
		Migration  *target = NULL;

		(void) strip_suffix(name, ".down.sql");
		for (int i = 0; i < set->count; i++)
			if (strcmp(set->items[i].name, name) == 0)
				target = &set->items[i];
		if (target == NULL || !pg_str_endswith(target->up_file, ".up.sql"))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("sqlx down script \"%s\" has no up script \"%s.up.sql\"", file, name),
					 errdetail("Folder \"%s\" is in sqlx format, where a reversible migration is a pair of files \"<version>_<description>.up.sql\" and \".down.sql\".",
							   set->dir),
					 errhint("Add the up script, or remove the down script.")));
		target->down_file = pstrdup(file);
	}
}

/* "-- no-transaction" at the very start of the file, as sqlx looks for it */
static void
sqlx_load(const MigrationSet *set, const Migration *m, LoadedMigration *out,
		  bool with_down)
{
	load_up_down_files(set, m, out, with_down);
	out->no_transaction = strncmp(out->up.sql, "-- no-transaction", 17) == 0;
	if (out->down.sql && strncmp(out->down.sql, "-- no-transaction", 17) == 0)
		down_outside_transaction(out);
}
