/*-------------------------------------------------------------------------
 *
 * flyway_table.c
 *	  Reading Flyway's tracking table, flyway_schema_history, so that a team
 *	  switching from Flyway keeps its history.  pg_migrate only reads it:
 *	  writing Flyway's rows (its checksums, installed ranks, descriptions)
 *	  is left to Flyway.
 *
 * Flyway logs each run of a migration as a row (installed_rank, version,
 * description, type, script, checksum, installed_by, installed_on,
 * execution_time, success).  As Flyway reads it: a versioned migration is
 * applied when the latest successful row of its version ran it (not an
 * undo, not a deletion by "repair"), or when a baseline at or above its
 * version says the database started from there; a repeatable migration
 * (version null, keyed by its script) is applied as it is when its latest
 * successful run had the checksum its file has now, and pending again
 * otherwise.  Flyway's checksum is the CRC-32 of the file's lines without
 * their line breaks (nor a leading byte order mark), as a signed integer.
 * Flyway looks for the table in its default schema (the first of its
 * "schemas" setting, else the connection's current schema).
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/pg_crc.h"

#include "tools/tools.h"

#define COL_RANK 0
#define COL_VERSION 1
#define COL_TYPE 2
#define COL_SCRIPT 3
#define COL_CHECKSUM 4
#define COL_SUCCESS 5

/* A successful row with a version, as sorted for lookups */
typedef struct VersionedRow
{
	const char *version;
	int			rank;
	const ToolRow *row;
} VersionedRow;

static void flyway_adopt(ToolTable *t, MigrationSet *set, const bool *applied);

static const ToolTableSpec flyway_table = {
	"Flyway", NULL, "flyway_schema_history",
	"(installed_rank integer NOT NULL PRIMARY KEY, version varchar(50),"
	" description varchar(200) NOT NULL, type varchar(20) NOT NULL,"
	" script varchar(1000) NOT NULL, checksum integer,"
	" installed_by varchar(100) NOT NULL,"
	" installed_on timestamp NOT NULL DEFAULT now(),"
	" execution_time integer NOT NULL, success boolean NOT NULL)",
	"installed_rank integer, version varchar, description varchar, type varchar, script varchar, checksum integer, installed_by varchar, installed_on timestamp, execution_time integer and success boolean",
	false,
	6, {{"installed_rank", INT4OID}, {"version", VARCHAROID, TEXTOID},
	{"type", VARCHAROID, TEXTOID}, {"script", VARCHAROID, TEXTOID},
	{"checksum", INT4OID}, {"success", BOOLOID}}
};

const ToolInterop flyway_interop = {
	"flyway", &flyway_table, NULL, flyway_adopt, NULL, NULL, NULL
};

/* Flyway's ChecksumCalculator: CRC-32 of the lines, without line breaks */
static int32
flyway_checksum(const char *sql)
{
	pg_crc32	crc;
	const char *p = sql;

	if (strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	INIT_TRADITIONAL_CRC32(crc);
	while (*p)
	{
		size_t		n = strcspn(p, "\r\n");

		COMP_TRADITIONAL_CRC32(crc, p, n);
		p += n;
		p += strspn(p, "\r\n");
	}
	FIN_TRADITIONAL_CRC32(crc);
	return (int32) crc;
}

/*
 * Flyway's checksum of a migration's file, read again; false when the file
 * is no longer what the folder was checked as (it changed meanwhile).
 */
static bool
file_checksum(const MigrationSet *set, const Migration *m, int32 *out)
{
	char	   *sql = folder_read_file(set->folder, m->up_file, false);
	char		sha[MIGRATE_CHECKSUM_LEN + 1];
	bool		same;

	checksum_hex(sql, strlen(sql), sha);
	same = strcmp(sha, m->checksum) == 0;
	if (same)
		*out = flyway_checksum(sql);
	pfree(sql);
	return same;
}

static bool
is_baseline(const char *type)
{
	size_t		len = strlen(type);

	return strcmp(type, "BASELINE") == 0 ||
		(len > 9 && strcmp(type + len - 9, "_BASELINE") == 0);
}

/* What no longer counts as applying its version: an undo, a deletion */
static bool
unapplies(const char *type)
{
	return strcmp(type, "DELETE") == 0 || strncmp(type, "UNDO", 4) == 0;
}

static int
compare_versioned(const void *a, const void *b)
{
	const VersionedRow *ra = a;
	const VersionedRow *rb = b;
	int			c = version_cmp(ra->version, rb->version);

	if (c != 0)
		return c;
	return (ra->rank > rb->rank) - (ra->rank < rb->rank);
}

/* The latest row of a version among rows sorted by version, then rank */
static const ToolRow *
latest_of_version(const VersionedRow *rows, int n, const char *version)
{
	int			lo = 0,
				hi = n;

	/* the first row after every row of this version */
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (version_cmp(rows[mid].version, version) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && version_cmp(rows[lo - 1].version, version) == 0)
		return rows[lo - 1].row;
	return NULL;
}

/*
 * Whether Flyway's table has a repeatable migration as applied: its latest
 * successful run had the file's present checksum.
 */
static bool
repeatable_applied(const MigrationSet *set, const Migration *m, List *rows)
{
	const ToolRow *latest = NULL;
	int			latest_rank = 0;
	int32		checksum;
	ListCell   *lc;

	foreach(lc, rows)
	{
		const ToolRow *row = lfirst(lc);
		int			rank = atoi(row->values[COL_RANK]);

		if (row->values[COL_VERSION] == NULL &&
			strcmp(row->values[COL_SCRIPT], m->up_file) == 0 &&
			(latest == NULL || rank > latest_rank))
		{
			latest = row;
			latest_rank = rank;
		}
	}
	return latest != NULL && !unapplies(latest->values[COL_TYPE]) &&
		latest->values[COL_CHECKSUM] != NULL &&
		file_checksum(set, m, &checksum) &&
		checksum == (int32) strtol(latest->values[COL_CHECKSUM], NULL, 10);
}

/*
 * A versioned migration adopted from a row that Flyway ran from another
 * file than the one in the folder now: say so, as Flyway's own validation
 * would, since pg_migrate records the file as it is now.
 */
static void
warn_if_changed(const ToolTable *t, const MigrationSet *set, const Migration *m,
				const ToolRow *row)
{
	int32		recorded;
	int32		checksum;

	if (row == NULL || row->values[COL_CHECKSUM] == NULL)
		return;
	recorded = (int32) strtol(row->values[COL_CHECKSUM], NULL, 10);
	if (file_checksum(set, m, &checksum) && checksum != recorded)
		ereport(WARNING,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("migration \"%s\" changed after Flyway applied it", m->name),
				 errdetail("Flyway's tracking table \"%s\" records checksum %d for version %s, and file \"%s\" has checksum %d now.",
						   t->qualified, recorded, m->version, m->up_file, checksum),
				 errhint("pg_migrate records it as applied as the file is now; restore the file as it was applied if it was not meant to change.")));
}

/* What Flyway applied, as its "info" command would show it */
static void
flyway_adopt(ToolTable *t, MigrationSet *set, const bool *applied)
{
	List	   *rows = NIL;
	VersionedRow *versioned;
	int			nversioned = 0;
	const char *baseline = NULL;
	ListCell   *lc;

	/* successful rows only: PostgreSQL rolls a failed migration's row back */
	foreach(lc, tool_table_rows(t))
	{
		ToolRow    *row = lfirst(lc);

		if (row->values[COL_SUCCESS] && strcmp(row->values[COL_SUCCESS], "t") == 0 &&
			row->values[COL_RANK] && row->values[COL_TYPE] && row->values[COL_SCRIPT])
			rows = lappend(rows, row);
	}

	versioned = palloc(sizeof(VersionedRow) * Max(list_length(rows), 1));
	foreach(lc, rows)
	{
		ToolRow    *row = lfirst(lc);
		const char *version = row->values[COL_VERSION];

		/* the schema-creation marker is not a migration */
		if (version == NULL || strcmp(row->values[COL_TYPE], "SCHEMA") == 0)
			continue;
		if (is_baseline(row->values[COL_TYPE]) &&
			(baseline == NULL || version_cmp(version, baseline) > 0))
			baseline = version;
		versioned[nversioned].version = version;
		versioned[nversioned].rank = atoi(row->values[COL_RANK]);
		versioned[nversioned].row = row;
		nversioned++;
	}
	if (nversioned > 1)
		qsort(versioned, nversioned, sizeof(VersionedRow), compare_versioned);

	for (int i = 0; i < set->count; i++)
	{
		Migration  *m = &set->items[i];
		const ToolRow *latest;

		if (applied[i])
			continue;
		if (m->repeatable)
		{
			m->adopted = repeatable_applied(set, m, rows);
			continue;
		}
		latest = latest_of_version(versioned, nversioned, m->version);
		if (latest && !unapplies(latest->values[COL_TYPE]) &&
			!is_baseline(latest->values[COL_TYPE]))
		{
			m->adopted = true;
			warn_if_changed(t, set, m, latest);
		}
		else if (baseline && version_cmp(m->version, baseline) <= 0)
			m->adopted = true;
	}
}
