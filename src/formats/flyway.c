/*-------------------------------------------------------------------------
 *
 * flyway.c
 *	  Flyway's folders: versioned migrations "V<version>__<description>.sql",
 *	  their undo scripts "U<version>__<description>.sql", and repeatable
 *	  migrations "R__<description>.sql".
 *
 * Versions such as "1", "1.1" or "2_1" ("_" stands for ".") are compared
 * part by part as numbers.  Repeatable migrations run after all versioned
 * ones, ordered by description, and again whenever their checksum changes.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "formats/formats.h"

typedef struct FlywayName
{
	char		prefix;			/* 'V', 'U' or 'R' */
	char	   *version;		/* "1.1"; "" for R */
	char	   *stem;			/* file name without ".sql" */
} FlywayName;

static bool flyway_claims(const Folder *folder, List *files);
static void flyway_scan(MigrationSet *set, List *files);
static bool looks_like_flyway(const char *file);
static bool parse_flyway_name(const char *file, FlywayName *out);

const MigrationFormat flyway_format = {
	"flyway", flyway_claims, flyway_scan, load_up_down_files
};

/* Meant as a Flyway migration: a prefix letter, "__" and ".sql" */
static bool
looks_like_flyway(const char *file)
{
	size_t		len = strlen(file);

	return (file[0] == 'V' || file[0] == 'U' || file[0] == 'R') &&
		len > 4 && strcmp(file + len - 4, ".sql") == 0 &&
		(strstr(file, "__") != NULL || isdigit((unsigned char) file[1]));
}

/* Split a Flyway file name; false when it does not follow the convention */
static bool
parse_flyway_name(const char *file, FlywayName *out)
{
	char	   *stem = pstrdup(file);
	char	   *sep;
	StringInfoData version;

	(void) strip_suffix(stem, ".sql");
	out->prefix = stem[0];
	out->stem = stem;
	sep = strstr(stem + 1, "__");
	if (sep == NULL || sep[2] == '\0')
		return false;
	if (out->prefix == 'R')
	{
		out->version = "";
		return sep == stem + 1;
	}

	/* digits, with single '.' or '_' between them */
	initStringInfo(&version);
	for (const char *p = stem + 1; p < sep; p++)
	{
		if (isdigit((unsigned char) *p))
			appendStringInfoChar(&version, *p);
		else if ((*p == '.' || *p == '_') && p > stem + 1 &&
				 isdigit((unsigned char) p[-1]) && p + 1 < sep &&
				 isdigit((unsigned char) p[1]))
			appendStringInfoChar(&version, '.');
		else
			return false;
	}
	out->version = version.data;
	return version.len > 0;
}

static bool
flyway_claims(const Folder *folder, List *files)
{
	ListCell   *lc;

	foreach(lc, files)
		if (looks_like_flyway(lfirst(lc)))
			return true;
	return false;
}

static void
flyway_scan(MigrationSet *set, List *files)
{
	List	   *undo = NIL;
	ListCell   *lc;

	foreach(lc, files)
	{
		const char *file = lfirst(lc);
		FlywayName fn;
		Migration  *m;

		if (!looks_like_flyway(file))
			continue;
		if (!parse_flyway_name(file, &fn))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid Flyway migration file name \"%s\"", file),
					 errdetail("Flyway names versioned migrations V<version>__<description>.sql, undo scripts U<version>__<description>.sql and repeatable migrations R__<description>.sql; a version is made of numbers separated by '.' or '_'."),
					 errhint("Rename the file in folder \"%s\".", set->dir)));
		if (fn.prefix == 'U')
		{
			undo = lappend(undo, pstrdup(file));
			continue;
		}
		m = source_add(set, fn.stem, fn.version, file);
		m->repeatable = (fn.prefix == 'R');
	}

	/* each undo script belongs to the versioned migration of its version */
	foreach(lc, undo)
	{
		const char *file = lfirst(lc);
		FlywayName fn;
		Migration  *target = NULL;

		(void) parse_flyway_name(file, &fn);
		for (int i = 0; i < set->count; i++)
			if (!set->items[i].repeatable &&
				version_cmp(set->items[i].version, fn.version) == 0)
				target = &set->items[i];
		if (target == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("undo script \"%s\" has no versioned migration", file),
					 errdetail("No V%s__*.sql file is in folder \"%s\".", fn.version, set->dir),
					 errhint("Add the versioned migration, or remove the undo script.")));
		if (target->down_file)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_FILE),
					 errmsg("migration \"%s\" has two undo scripts: \"%s\" and \"%s\"",
							target->name, target->down_file, file),
					 errhint("Keep one of the two files.")));
		target->down_file = pstrdup(file);
	}
}
