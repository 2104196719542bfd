/*-------------------------------------------------------------------------
 *
 * new_migration.c
 *	  A migration added to a folder the way its format's own tool would
 *	  add it: the next version and the file name (0004_x.sql, dbmate's
 *	  timestamp, golang-migrate's 4_x.up.sql, Flyway's V4__x.sql,
 *	  drizzle-kit's 0004_x.sql with its journal entry), and the file's
 *	  text.  migrate.capture() writes out-of-band DDL as one.
 *
 * The caller reads the folder again with the new files added, so that
 * what it records is what the format's reader makes of them.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "common/string.h"
#include "lib/stringinfo.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "util/compat.h"
#include "formats/formats.h"

#define JOURNAL "meta/_journal.json"

/* dbmate's and timestamped versions: YYYYMMDDHHMMSS */
#define TIMESTAMP_DIGITS 14

static const Migration *last_versioned(const MigrationSet *set);
static char *next_number(const char *last, int width_if_none);
static char *next_timestamp(const char *last);
static char *journal_with_entry(const MigrationSet *set, const char *tag,
								int64 when);
static bool new_migration_name_formats1(const MigrationSet *set,
										const Migration *last,
										const char *description,
										NewMigration *out);

static const Migration *
last_versioned(const MigrationSet *set)
{
	for (int i = set->count - 1; i >= 0; i--)
		if (!set->items[i].repeatable)
			return &set->items[i];
	return NULL;
}

/* last + 1, as wide as last ("0009" -> "0010"), or 1 that wide */
static char *
next_number(const char *last, int width_if_none)
{
	int			width = last ? (int) strlen(last) : width_if_none;
	int64		n = last && last[0] ? strtoi64(last, NULL, 10) + 1 : 1;

	return psprintf("%0*lld", width, (long long) n);
}

/* Now in UTC as YYYYMMDDHHMMSS, or last + 1 when that is not later */
static char *
next_timestamp(const char *last)
{
	pg_time_t	now = timestamptz_to_time_t(GetCurrentTimestamp());
	char		buf[TIMESTAMP_DIGITS + 1];

	pg_strftime(buf, sizeof(buf), "%Y%m%d%H%M%S", pg_gmtime(&now));
	if (last && strlen(last) == TIMESTAMP_DIGITS && strcmp(buf, last) <= 0)
		return next_number(last, TIMESTAMP_DIGITS);
	return pstrdup(buf);
}

/*
 * Issue 16's formats (Prisma, goose, sqlx, Diesel): named by a timestamp,
 * as their tools name new migrations, or by the number after the last
 * one's when the folder numbers them; Prisma and Diesel in a folder of
 * their own ("20240101120000_x/migration.sql", Diesel's
 * "2024-01-01-120000_x/up.sql").  False for the other formats.
 */
static bool
new_migration_name_formats1(const MigrationSet *set, const Migration *last,
							const char *description, NewMigration *out)
{
	const char *version;
	char	   *next;

	if (set->format != &prisma_format && set->format != &goose_format &&
		set->format != &sqlx_format && set->format != &diesel_format)
		return false;
	version = !last ? NULL :
		set->format == &diesel_format ? diesel_version(last->name) : last->version;
	if (version == NULL || strlen(version) == TIMESTAMP_DIGITS)
		next = next_timestamp(version);
	else
		next = next_number(version, 4);

	if (set->format == &diesel_format && strlen(next) == TIMESTAMP_DIGITS)
		out->name = psprintf("%.4s-%.2s-%.2s-%s_%s", next, next + 4, next + 6,
							 next + 8, description);
	else
		out->name = psprintf("%s_%s", next, description);
	if (set->format == &prisma_format)
		out->file = psprintf("%s/migration.sql", out->name);
	else if (set->format == &diesel_format)
		out->file = psprintf("%s/up.sql", out->name);
	else if (set->format == &sqlx_format && last &&
			 pg_str_endswith(last->up_file, ".up.sql"))
		out->file = psprintf("%s.up.sql", out->name);
	else
		out->file = psprintf("%s.sql", out->name);
	return true;
}

/*
 * The name (and file) of the next migration of the folder, described by
 * description: letters, digits, '_' and '-', so that every format's
 * reader and its tool take the file name as it is.
 */
void
new_migration_name(const MigrationSet *set, const char *description,
				   NewMigration *out)
{
	const Migration *last = last_versioned(set);
	const char *format = set->format->name;

	if (description[0] == '\0' ||
		strspn(description, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != strlen(description))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid migration description \"%s\"", description),
				 errdetail("The description becomes part of the file name, after the version the %s format gives the migration.",
						   format),
				 errhint("Use letters, digits, '_' and '-' only, such as \"add_users_nickname\".")));

	memset(out, 0, sizeof(NewMigration));
	if (new_migration_name_formats1(set, last, description, out))
		return;
	/* formats2's: a migration there is also recorded in another file */
	if (set->format == &atlas_format || set->format == &sqitch_format ||
		set->format == &liquibase_format)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot write a new migration into %s folder \"%s\"",
						format, set->dir),
				 set->format == &atlas_format ?
				 errdetail("Atlas records every migration file's hash in atlas.sum, and would refuse the folder with a file it does not list.") :
				 set->format == &sqitch_format ?
				 errdetail("Sqitch plans every change in sqitch.plan, with its deploy, revert and verify scripts.") :
				 errdetail("Liquibase reads changesets from its changelogs, not files of their own."),
				 set->format == &atlas_format ?
				 errhint("Write the migration with \"atlas migrate new\", then \"atlas migrate hash\".") :
				 set->format == &sqitch_format ?
				 errhint("Add the change with \"sqitch add\".") :
				 errhint("Add a changeset to the changelog.")));
	if (set->format == &dbmate_format ||
		(last && strlen(last->version) == TIMESTAMP_DIGITS &&
		 (set->format == &plain_format || set->format == &golang_format)))
		out->name = psprintf("%s_%s", next_timestamp(last ? last->version : NULL),
							 description);
	else if (set->format == &flyway_format)
	{
		/* the next major version: V1.2 is followed by V2 */
		int64		major = last ? strtoi64(last->version, NULL, 10) : 0;

		out->name = psprintf("V%lld__%s", (long long) (major + 1), description);
	}
	else if (set->format == &node_pg_migrate_format)
	{
		/* node-pg-migrate's default prefix: milliseconds since 1970 */
		int64		ms = (int64) timestamptz_to_time_t(GetCurrentTimestamp()) * 1000;
		int64		after = last ? strtoi64(last->version, NULL, 10) + 1 : 0;

		out->name = psprintf("%lld_%s", (long long) Max(ms, after), description);
	}
	else if (set->format == &drizzle_format)
	{
		/* drizzle-kit's tags: the entry's idx on four digits */
		int64		idx = last ? strtoi64(last->version, NULL, 10) + 1 : 0;

		out->name = psprintf("%04lld_%s", (long long) idx, description);
	}
	else
		out->name = psprintf("%s_%s",
							 next_number(last ? last->version : NULL,
										 set->format == &golang_format ? 6 : 4),
							 description);
	out->file = psprintf(set->format == &golang_format ? "%s.up.sql" : "%s.sql",
						 out->name);
}

/*
 * The journal with an entry for tag added at the end of its "entries",
 * written the way drizzle-kit writes it, the rest of the text untouched
 * so that the change reads as one entry in a diff.
 */
static char *
journal_with_entry(const MigrationSet *set, const char *tag, int64 when)
{
	char	   *text = folder_read_file(set->folder, JOURNAL, false);
	char	   *end = strrchr(text, ']');
	char	   *prev;
	StringInfoData out;
	const Migration *last = last_versioned(set);

	if (end == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("drizzle journal \"%s/%s\" has no \"entries\" array",
						set->dir, JOURNAL),
				 errhint("Regenerate the journal with drizzle-kit generate.")));
	prev = end;
	while (prev > text && isspace((unsigned char) prev[-1]))
		prev--;

	initStringInfo(&out);
	appendBinaryStringInfo(&out, text, prev - text);
	appendStringInfo(&out,
					 "%s\n    {\n"
					 "      \"idx\": %lld,\n"
					 "      \"version\": \"7\",\n"
					 "      \"when\": %lld,\n"
					 "      \"tag\": ",
					 prev > text && prev[-1] == '[' ? "" : ",",
					 last ? (long long) strtoi64(last->version, NULL, 10) + 1 : 0LL,
					 (long long) when);
	escape_json(&out, tag);
	appendStringInfoString(&out, ",\n      \"breakpoints\": true\n    }\n  ");
	appendStringInfoString(&out, end);
	return out.data;
}

/*
 * The file's text: header (comment lines), the directive that makes the
 * migration run outside a transaction if no_transaction, and the
 * statements, each ending with ';' and a newline; drizzle-kit's
 * breakpoints between them, which drizzle-orm's migrator splits on.
 */
void
new_migration_write(const MigrationSet *set, const char *header,
					List *statements, bool no_transaction, NewMigration *out)
{
	StringInfoData text;
	ListCell   *lc;

	initStringInfo(&text);
	if (set->format == &dbmate_format)
		appendStringInfo(&text, "-- migrate:up%s\n",
						 no_transaction ? " transaction:false" : "");
	/* goose's annotations; sqlx's marker, which must be the first bytes */
	if (set->format == &goose_format)
		appendStringInfo(&text, "-- +goose Up\n%s",
						 no_transaction ? "-- +goose NO TRANSACTION\n" : "");
	if (set->format == &sqlx_format && no_transaction)
		appendStringInfoString(&text, "-- no-transaction\n");
	if (set->format == &node_pg_migrate_format)
		appendStringInfoString(&text, "-- Up Migration\n");
	appendStringInfoString(&text, header);
	if (no_transaction && set->format != &dbmate_format &&
		set->format != &goose_format && set->format != &sqlx_format)
		appendStringInfoString(&text, "-- migrate:no-transaction\n");
	foreach(lc, statements)
	{
		const char *stmt = lfirst(lc);
		const char *semicolon = strchr(stmt, ';');
		/* goose ends a statement at a line ending in ';' unless told */
		bool		wrap = set->format == &goose_format && semicolon &&
			strchr(semicolon + 1, ';') != NULL;

		if (foreach_current_index(lc) > 0)
			appendStringInfoString(&text, set->format == &drizzle_format ?
								   "--> statement-breakpoint\n" : "\n");
		appendStringInfo(&text, "%s%s%s",
						 wrap ? "-- +goose StatementBegin\n" : "", stmt,
						 wrap ? "-- +goose StatementEnd\n" : "");
	}
	if (set->format == &dbmate_format)
		appendStringInfoString(&text, "\n-- migrate:down\n");
	if (set->format == &goose_format)
		appendStringInfoString(&text, "\n-- +goose Down\n");
	if (set->format == &node_pg_migrate_format)
		appendStringInfoString(&text, "\n-- Down Migration\n");
	out->content = text.data;

	if (set->format == &drizzle_format)
	{
		const Migration *last = last_versioned(set);
		int64		when = (int64) timestamptz_to_time_t(GetCurrentTimestamp()) * 1000;

		/* drizzle-orm runs the entries newer than the newest it recorded */
		if (last && when <= last->created_at)
			when = last->created_at + 1;
		out->journal = journal_with_entry(set, out->name, when);
	}
}
