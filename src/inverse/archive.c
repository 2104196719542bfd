/*-------------------------------------------------------------------------
 *
 * archive.c
 *	  Dropped data kept for the generated down script: before DROP TABLE
 *	  or ALTER TABLE ... DROP COLUMN runs in a migration, the table's rows
 *	  or the column's values (with the table's key) are copied into a table
 *	  of the schema migrate_archive, listed in migrate.archive; the down
 *	  script's inverse brings them back from there.  So, in a migration
 *	  marked "-- migrate:keep-rows", are the rows an UPDATE or DELETE
 *	  changes, put back by the table's key.  Archives are dropped
 *	  when their migration is rolled back, when migrate.archive_retention
 *	  runs out, or by migrate.purge_archive(); a purge rewrites the stored
 *	  down script, so that rollback refuses to bring back an empty table
 *	  unless told skip_partial.
 *
 * Copying, not moving.  Moving the table into the archive (SET SCHEMA and
 * a rename) costs nothing, but the statement that drops it must still
 * drop it: what depends on the table (views, CASCADE, the foreign keys of
 * other tables) must go with it, the DDL log must see it go, and a moved
 * table keeps its own dependencies (its column types, the functions of
 * its defaults, checks, triggers and indexes, the tables its foreign keys
 * refer to) which would block later migrations, and whose foreign keys
 * would still be enforced on the archived rows.  A copy is one sequential
 * scan of the table (or of the key and the column) written once, without
 * indexes, constraints or triggers; values of types outside pg_catalog
 * (enums, domains, composite types, extensions' types) are kept as text,
 * so that the copy depends on nothing a later migration may drop, and the
 * down script casts them back.  migrate.archive_max_size bounds what one
 * statement may copy.
 *
 * Who may read it.  The copy is made as the owner of migrate_archive (the
 * extension's owner), with search_path = pg_catalog and
 * session_replication_role = replica, so that no event trigger logs it:
 * it is reading the table whole, not changing the schema.  The role that
 * dropped the data (it owned it) is granted SELECT on its copy, which its
 * generated down script, run by rollback as that role, reads; PUBLIC has
 * no right on the schema or its tables.  Copying runs no code the dropping
 * role wrote: values are copied as they are stored, or printed with their
 * type's output function, which only a superuser or an extension defines.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "util/util.h"
#include "exec/exec.h"
#include "inverse/inverse.h"

static const char *tenant_condition(void);

#define ARCHIVE_SCHEMA "migrate_archive"

/* the migration whose statements run now, named in what is archived */
static char *archive_migration = NULL;

/* The migration that archive_table() and archive_column() archive for */
void
archive_begin(const char *migration)
{
	if (archive_migration)
		pfree(archive_migration);
	archive_migration = migration ?
		MemoryContextStrdup(TopMemoryContext, migration) : NULL;
}

void
archive_end(void)
{
	archive_begin(NULL);
}

/* The archive's schema, or InvalidOid before ALTER EXTENSION ... UPDATE */
static Oid
archive_namespace(void)
{
	Oid			nsp = get_namespace_oid(ARCHIVE_SCHEMA, true);
	Oid			migrate = get_namespace_oid("migrate", true);

	if (!OidIsValid(nsp) || !OidIsValid(migrate) ||
		!OidIsValid(get_relname_relid("archive", migrate)))
		return InvalidOid;
	return nsp;
}

typedef struct ArchiveSwitch
{
	Oid			saved_user;
	int			saved_context;
	int			nest;
} ArchiveSwitch;

/*
 * Act as the archive's owner, with names printed qualified; firing no
 * event triggers when quiet.  An error in between needs no cleanup: the
 * (sub)transaction's abort restores user and settings.  Setting
 * session_replication_role flushes every cached plan of the session
 * (PostgreSQL's assign hook does), twice: what only reads the archive is
 * not quiet.
 */
static void
act_as_owner(ArchiveSwitch *sw, bool quiet)
{
	HeapTuple	tup;
	Oid			owner;

	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(archive_namespace()));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for schema %s", ARCHIVE_SCHEMA);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);

	GetUserIdAndSecContext(&sw->saved_user, &sw->saved_context);
	SetUserIdAndSecContext(owner, sw->saved_context | SECURITY_LOCAL_USERID_CHANGE);
	sw->nest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (quiet)
		(void) set_config_option("session_replication_role", "replica", PGC_SUSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

static void
become_owner(ArchiveSwitch *sw)
{
	act_as_owner(sw, true);
}

static void
restore_user(ArchiveSwitch *sw)
{
	AtEOXact_GUC(true, sw->nest);
	SetUserIdAndSecContext(sw->saved_user, sw->saved_context);
}

/* The first value of the first row of a query, or NULL */
static char *
query_value(const char *query, int nargs, Oid *types, Datum *values)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			rc = SPI_execute_with_args(query, nargs, types, values, NULL,
										   false, 1);
	char	   *value = NULL;

	MemoryContextSwitchTo(cxt);
	if (rc < 0)
		elog(ERROR, "internal query failed: %s: %s",
			 SPI_result_code_string(rc), query);
	if (SPI_processed > 0 && SPI_tuptable)
		value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (SPI_tuptable)
		SPI_freetuptable(SPI_tuptable);
	return value;
}

static int64
query_int8(const char *query, Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	char	   *v = query_value(query, 1, types, values);

	return v ? (int64) strtoll(v, NULL, 10) : 0;
}

/* Whether the running migration keeps what it drops */
static bool
keeping(void)
{
	return migrate_archive_dropped && archive_migration != NULL &&
		OidIsValid(archive_namespace());
}

static char *
pretty_size(int64 bytes)
{
	return text_to_cstring(DatumGetTextPP(DirectFunctionCall1(pg_size_pretty,
															  Int64GetDatum(bytes))));
}

/*
 * Refuse to copy more than migrate.archive_max_size: a migration that
 * drops a large table asks for it explicitly, knowing what the copy costs.
 */
static void
check_size(DownGenerator *g, int64 bytes, const char *what, bool changed_rows)
{
	if (migrate_archive_max_size < 0 ||
		bytes <= (int64) migrate_archive_max_size * 1024)
		return;
	if (changed_rows)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too large to be kept for rollback", what),
				 errdetail("%s, line %d changes its rows under \"-- migrate:keep-rows\"; it takes %s, more than migrate.archive_max_size (%s), and its rows would be copied into schema %s before the statement runs.",
						   g->file, g->line, pretty_size(bytes),
						   pretty_size((int64) migrate_archive_max_size * 1024),
						   ARCHIVE_SCHEMA),
				 errhint("Raise the limit (SET migrate.archive_max_size = '%s' in the session or at the top of the migration), or remove \"-- migrate:keep-rows\" from the migration: its generated down script then does not bring the rows back.",
						 pretty_size(bytes * 2))));
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("%s is too large to be kept for rollback", what),
			 errdetail("%s, line %d drops it; it takes %s, more than migrate.archive_max_size (%s), and its data would be copied into schema %s before the drop.",
					   g->file, g->line, pretty_size(bytes),
					   pretty_size((int64) migrate_archive_max_size * 1024),
					   ARCHIVE_SCHEMA),
			 errhint("Raise the limit (SET migrate.archive_max_size = '%s' in the session or at the top of the migration), or keep nothing with SET migrate.archive_dropped = off in the migration: its generated down script then does not bring the data back.",
					 pretty_size(bytes * 2))));
}

/* The archive table's name: its id, then what it keeps, within NAMEDATALEN */
static char *
archive_name(int64 id, const char *table, const char *column)
{
	char	   *name = column ?
		psprintf(INT64_FORMAT "_%s_%s", id, table, column) :
		psprintf(INT64_FORMAT "_%s", id, table);

	name[pg_mbcliplen(name, strlen(name), NAMEDATALEN - 1)] = '\0';
	return name;
}

/*
 * Copy the result of select into a new archive table, grant the dropping
 * role SELECT on it, and list it in migrate.archive.  Runs as the owner.
 */
static void
copy_into_archive(DownGenerator *g, ArchiveSwitch *sw, Oid relid,
				  const char *kind, const char *column, const char *name, const char *select,
				  const char *restore)
{
	char	   *q = quote_qualified_identifier(ARCHIVE_SCHEMA, name);
	int			rc;
	int64		rows;
	int64		bytes;
	Oid			types[14] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, INT8OID, INT8OID, TEXTOID, INT4OID, TEXTOID, TEXTOID, INT4OID,
	TEXTOID};
	Datum		values[14];
	char		nulls[14] = "              ";

	rc = SPI_execute(psprintf("CREATE TABLE %s AS %s", q, select), false, 0);
	if (rc < 0)
		elog(ERROR, "could not copy into the archive: %s",
			 SPI_result_code_string(rc));
	rows = (int64) SPI_processed;
	bytes = query_int8("SELECT pg_catalog.pg_table_size($1)",
					   get_relname_relid(name, archive_namespace()));
	if (!superuser_arg(sw->saved_user))
	{
		const char *role = quote_identifier(GetUserNameFromId(sw->saved_user, false));

		spi_run(psprintf("GRANT USAGE ON SCHEMA %s TO %s", ARCHIVE_SCHEMA, role),
				0, NULL, NULL, NULL, SPI_OK_UTILITY);
		spi_run(psprintf("GRANT SELECT ON %s TO %s", q, role),
				0, NULL, NULL, NULL, SPI_OK_UTILITY);
	}

	values[0] = CStringGetTextDatum(archive_migration);
	values[1] = CStringGetTextDatum(kind);
	values[2] = CStringGetTextDatum(get_namespace_name(get_rel_namespace(relid)));
	values[3] = CStringGetTextDatum(get_rel_name(relid));
	if (column)
		values[4] = CStringGetTextDatum(column);
	else
		nulls[4] = 'n';
	values[5] = CStringGetTextDatum(name);
	values[6] = Int64GetDatum(rows);
	values[7] = Int64GetDatum(bytes);
	values[8] = CStringGetTextDatum(GetUserNameFromId(sw->saved_user, false));
	values[9] = Int32GetDatum(migrate_archive_retention);
	values[10] = CStringGetTextDatum(restore);
	values[11] = CStringGetTextDatum(g->file);
	values[12] = Int32GetDatum(g->line);
	values[13] = CStringGetTextDatum(g->statement);
	spi_run("INSERT INTO migrate.archive (migration, kind, schema_name, table_name,"
			" column_name, archive_name, rows, bytes, archived_by, expires_at,"
			" restore_sql, file, line, statement)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
			"  CASE WHEN $10 OPERATOR(pg_catalog.>) 0 THEN pg_catalog.now()"
			"   OPERATOR(pg_catalog.+) pg_catalog.make_interval(mins => $10) END,"
			"  $11, $12, $13, $14)",
			14, types, values, nulls, SPI_OK_INSERT);
}

/* The next id of migrate.archive, which names the archive table */
static int64
next_id(void)
{
	char	   *id = query_value("SELECT pg_catalog.nextval('migrate.archive_id_seq')",
									 0, NULL, NULL);

	return (int64) strtoll(id, NULL, 10);
}

/*
 * A column as the copy selects it and the restore writes it back: as
 * stored when its type is the system's, else as text cast back.
 */
static const char *
copied(const char *column, bool builtin)
{
	return builtin ? column : psprintf("%s::pg_catalog.text AS %s", column, column);
}

static const char *
cast_back(const char *value, const char *type, bool builtin)
{
	return builtin ? value : psprintf("CAST(%s AS %s)", value, type);
}

#define BUILTIN_TYPE \
	" (t.typnamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace" \
	"  AND (t.typelem OPERATOR(pg_catalog.=) 0 OR EXISTS (SELECT FROM pg_catalog.pg_type e" \
	"   WHERE e.oid OPERATOR(pg_catalog.=) t.typelem" \
	"   AND e.typnamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace)))"

/*
 * The columns of the key a table's rows are matched by, in its order: its
 * primary key, or else its narrowest valid, immediate unique index on NOT
 * NULL columns without predicate or expression that does not hold column
 * number except (0: any).  NIL when it has none.
 */
static List *
key_columns(Oid relid, int16 except)
{
	Oid			types[2] = {OIDOID, INT2OID};
	Datum		values[2] = {ObjectIdGetDatum(relid), Int16GetDatum(except)};
	List	   *rows;
	List	   *key = NIL;
	ListCell   *lc;

	rows = inverse_query("SELECT a.attname"
						 " FROM (SELECT i.indexrelid FROM pg_catalog.pg_index i"
						 "  WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND i.indimmediate"
						 "  AND i.indpred IS NULL AND i.indexprs IS NULL"
						 "  AND NOT EXISTS (SELECT FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(attnum, n)"
						 "   LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
						 "   WHERE k.n <= i.indnkeyatts AND (a.attnum IS NULL OR NOT a.attnotnull OR a.attnum = $2))"
						 "  ORDER BY i.indisprimary DESC, i.indnkeyatts, i.indexrelid LIMIT 1) best"
						 " JOIN pg_catalog.pg_index i ON i.indexrelid = best.indexrelid"
						 " CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(attnum, n)"
						 " JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
						 " WHERE k.n <= i.indnkeyatts ORDER BY k.n",
						 2, types, values, 1);
	foreach(lc, rows)
		key = lappend(key, ((char **) lfirst(lc))[0]);
	return key;
}

/*
 * DROP TABLE of relid: its rows copied into the archive, and the
 * statements that bring them back once the table is made again (before
 * its foreign keys and triggers): an INSERT, and the sequences its
 * columns take values from set where they were.  NIL, with the statement
 * noted as partial, when the rows are not kept; NIL when it has none.
 */
List *
archive_table(DownGenerator *g, Oid relid)
{
	char	   *q = qualified_relation(relid);
	ArchiveSwitch sw;
	List	   *restore = NIL;
	List	   *rows;
	ListCell   *lc;
	StringInfoData select;
	StringInfoData insert;
	StringInfoData from;
	bool		overriding = false;
	char	   *name;
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	Oid			seq_types[2] = {OIDOID, TEXTOID};
	Datum		seq_values[2] = {ObjectIdGetDatum(relid), CStringGetTextDatum(q)};

	/* a temporary table's rows end with the session anyway */
	if (get_rel_persistence(relid) == RELPERSISTENCE_TEMP)
		return NIL;
	if (!keeping())
	{
		inverse_partial(g, "data not kept: the rows of table %s are not brought back%s",
						q, migrate_archive_dropped ? "" : " (migrate.archive_dropped is off)");
		return NIL;
	}
	become_owner(&sw);
	if (strcmp(query_value(psprintf("SELECT EXISTS (SELECT FROM %s)", q), 0, NULL, NULL),
			   "t") != 0)
	{
		restore_user(&sw);
		return NIL;
	}
	check_size(g, query_int8("SELECT pg_catalog.pg_table_size($1)", relid),
			   psprintf("table %s", q), false);

	rows = inverse_query("SELECT pg_catalog.quote_ident(a.attname),"
						 " pg_catalog.format_type(a.atttypid, a.atttypmod), " BUILTIN_TYPE ","
						 " a.attgenerated, a.attidentity"
						 " FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
						 " WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped"
						 " ORDER BY a.attnum", 1, types, values, 5);
	initStringInfo(&select);
	initStringInfo(&insert);
	initStringInfo(&from);
	foreach(lc, rows)
	{
		char	  **c = lfirst(lc);
		bool		builtin = c[2][0] == 't';

		/* a stored generated column is computed again */
		if (c[3][0] != '\0')
			continue;
		if (c[4][0] == 'a')
			overriding = true;
		appendStringInfo(&select, "%s%s", select.len ? ", " : "", copied(c[0], builtin));
		appendStringInfo(&insert, "%s%s", insert.len ? ", " : "", c[0]);
		appendStringInfo(&from, "%s%s", from.len ? ", " : "",
						 cast_back(c[0], c[1], builtin));
	}
	name = archive_name(next_id(), get_rel_name(relid), NULL);
	restore = lappend(restore,
					  psprintf("INSERT INTO %s (%s)%s SELECT %s FROM %s", q,
							   insert.data, overriding ? " OVERRIDING SYSTEM VALUE" : "",
							   from.data, quote_qualified_identifier(ARCHIVE_SCHEMA, name)));
	copy_into_archive(g, &sw, relid, "table", NULL, name,
					  psprintf("SELECT %s FROM %s", select.data, q),
					  linitial(restore));

	/* serial and identity columns go on from where they were */
	rows = inverse_query("SELECT CASE d.deptype WHEN 'a' THEN pg_catalog.quote_literal("
						 "  pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(s.relname))"
						 " ELSE 'pg_catalog.pg_get_serial_sequence(' || pg_catalog.quote_literal($2)"
						 "  || ', ' || pg_catalog.quote_literal(pg_catalog.quote_ident(a.attname)) || ')' END,"
						 " pg_catalog.pg_sequence_last_value(s.oid)"
						 " FROM pg_catalog.pg_depend d"
						 " JOIN pg_catalog.pg_class s ON s.oid = d.objid"
						 " JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace"
						 " JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
						 " WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
						 " AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
						 " AND d.refobjid = $1 AND d.deptype IN ('a', 'i') AND s.relkind = 'S'"
						 " ORDER BY a.attnum",
						 2, seq_types, seq_values, 2);
	restore_user(&sw);
	foreach(lc, rows)
	{
		char	  **s = lfirst(lc);

		if (s[1])
			restore = lappend(restore, psprintf("SELECT pg_catalog.setval(%s, %s)", s[0], s[1]));
	}
	return restore;
}

/*
 * ALTER TABLE ... DROP COLUMN: the column's values copied into the
 * archive with the table's key (its primary key, or a unique index on
 * NOT NULL columns), and the UPDATE that puts them back once the column
 * is added again.  NULL, with the statement noted as partial, when they
 * are not kept; NULL when there is nothing to bring back (no rows, or
 * nulls only where the column had no default, or a generated column).
 */
char *
archive_column(DownGenerator *g, Oid relid, const char *column)
{
	char	   *q = qualified_relation(relid);
	ArchiveSwitch sw;
	Oid			types[2] = {OIDOID, TEXTOID};
	Datum		values[2] = {ObjectIdGetDatum(relid), CStringGetTextDatum(column)};
	List	   *rows;
	char	  **c;
	List	   *key;
	ListCell   *lc;
	StringInfoData key_list;
	StringInfoData match;
	const char *col = quote_identifier(column);
	bool		builtin;
	bool		has_default;
	char	   *name;
	char	   *restore;
	char	   *size;
	const char *where;

	/* a foreign table's data is not here, a temporary one's not for long */
	if (get_rel_relkind(relid) == RELKIND_FOREIGN_TABLE ||
		get_rel_persistence(relid) == RELPERSISTENCE_TEMP)
		return NULL;
	rows = inverse_query("SELECT pg_catalog.format_type(a.atttypid, a.atttypmod), " BUILTIN_TYPE ","
						 " a.attgenerated, a.attidentity, a.atthasdef, a.attnum"
						 " FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
						 " WHERE a.attrelid = $1 AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
						 2, types, values, 6);
	if (rows == NIL)
		return NULL;			/* DROP COLUMN IF EXISTS of none */
	c = linitial(rows);
	builtin = c[1][0] == 't';
	has_default = c[4][0] == 't';
	if (c[2][0] != '\0')
		return NULL;			/* a stored generated column is computed again */
	if (!keeping())
	{
		inverse_partial(g, "data not kept: the values of dropped column \"%s\" are not brought back%s",
						column, migrate_archive_dropped ? "" : " (migrate.archive_dropped is off)");
		return NULL;
	}
	if (c[3][0] == 'a')
	{
		inverse_partial(g, "data not kept: the values of dropped identity column \"%s\" are not brought back, as an UPDATE cannot set them",
						column);
		return NULL;
	}
	key = key_columns(relid, (int16) atoi(c[5]));
	if (key == NIL)
	{
		inverse_partial(g, "data not kept: the values of dropped column \"%s\" are not brought back, as table %s has no primary key or unique key on NOT NULL columns to match them by",
						column, q);
		return NULL;
	}
	initStringInfo(&key_list);
	initStringInfo(&match);
	foreach(lc, key)
	{
		const char *k = quote_identifier(lfirst(lc));

		appendStringInfo(&key_list, "%s%s", key_list.len ? ", " : "", k);
		appendStringInfo(&match, "%srestored.%s = archived.%s",
						 match.len ? " AND " : "", k, k);
	}

	become_owner(&sw);
	/* the rows the column is not null in, unless a default would fill the others */
	where = has_default ? "" : psprintf(" WHERE %s IS NOT NULL", col);
	if (strcmp(query_value(psprintf("SELECT EXISTS (SELECT FROM %s%s)", q, where),
						   0, NULL, NULL), "t") != 0)
	{
		restore_user(&sw);
		return NULL;
	}
	/* the column's share of the table, by its statistics when it has some */
	values[1] = Int16GetDatum(atoi(c[5]));
	types[1] = INT2OID;
	size = query_value("SELECT COALESCE((SELECT (GREATEST(c.reltuples, 0) * s.stawidth)::pg_catalog.int8"
					   "  FROM pg_catalog.pg_statistic s WHERE s.starelid = c.oid"
					   "  AND s.staattnum = $2 AND NOT s.stainherit),"
					   " pg_catalog.pg_table_size(c.oid))"
					   " FROM pg_catalog.pg_class c WHERE c.oid = $1",
					   2, types, values);
	check_size(g, (int64) strtoll(size, NULL, 10),
			   psprintf("column \"%s\" of table %s", column, q), false);
	name = archive_name(next_id(), get_rel_name(relid), column);
	restore = psprintf("UPDATE %s AS restored SET %s = %s FROM %s AS archived WHERE %s",
					   q, col, cast_back(psprintf("archived.%s", col), c[0], builtin),
					   quote_qualified_identifier(ARCHIVE_SCHEMA, name), match.data);
	copy_into_archive(g, &sw, relid, "column", column, name,
					  psprintf("SELECT %s, %s FROM %s%s", key_list.data, copied(col, builtin),
							   q, where),
					  restore);
	restore_user(&sw);
	return restore;
}

/*
 * What archive_rows() kept before an UPDATE or DELETE, for
 * archive_rows_after() once it ran.
 */
typedef struct KeptRows
{
	char	   *table;			/* the table, qualified and quoted */
	char	   *archive;		/* its copy, qualified and quoted */
	char	   *name;			/* the copy's name in migrate_archive */
	char	   *match;			/* a row of the table (restored) is the copy's
								 * (archived) by the key */
	char	   *differs;		/* and its columns are not as copied */
	bool		update;
	char	   *restore;
} KeptRows;

/*
 * UPDATE or DELETE of a table that existed before the migration, when the
 * migration says "-- migrate:keep-rows": the table's rows copied into the
 * archive whole (the statement's WHERE clause is the migration's code,
 * which the archive's owner does not run), and, in g->captured, the
 * statement of the down script that puts them back by the table's key.
 * Nothing captured, with the statement noted as partial, when they are
 * not kept; nothing when the table is empty or temporary.
 */
void
archive_rows(DownGenerator *g, Node *node)
{
	bool		update = IsA(node, UpdateStmt);
	RangeVar   *rv = update ? ((UpdateStmt *) node)->relation :
		((DeleteStmt *) node)->relation;
	Node	   *with = update ? (Node *) ((UpdateStmt *) node)->withClause :
		(Node *) ((DeleteStmt *) node)->withClause;
	const char *what = update ? "the rows an UPDATE changed were not kept" :
		"the rows a DELETE removed were not kept";
	Oid			relid;
	char	   *q;
	List	   *key;
	List	   *rows;
	ListCell   *lc;
	ListCell   *kc;
	ArchiveSwitch sw;
	Oid			types[1];
	Datum		values[1];
	StringInfoData select;
	StringInfoData insert;
	StringInfoData from;
	StringInfoData set;
	StringInfoData set_from;
	StringInfoData match;
	StringInfoData mine;
	StringInfoData kept;
	bool		overriding = false;
	KeptRows   *k;

	if (with)
	{
		inverse_partial(g, "%s: a statement with WITH may change other tables", what);
		return;
	}
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(relid))
		return;					/* the statement fails */
	if (get_rel_persistence(relid) == RELPERSISTENCE_TEMP)
		return;
	q = qualified_relation(relid);
	if (get_rel_relkind(relid) != RELKIND_RELATION)
	{
		inverse_partial(g, "%s: only the rows of an ordinary table are kept, and %s is not one",
						what, q);
		return;
	}
	/* without ONLY, the statement changes the tables that inherit too */
	if (rv->inh && has_subclass(relid))
	{
		inverse_partial(g, "%s: it changes the tables that inherit from %s too, which are not kept",
						what, q);
		return;
	}
	if (!keeping())
	{
		inverse_partial(g, "%s%s", what,
						migrate_archive_dropped ? "" : " (migrate.archive_dropped is off)");
		return;
	}
	key = key_columns(relid, 0);
	if (key == NIL)
	{
		inverse_partial(g, "%s: table %s has no primary key or unique key on NOT NULL columns to match them by",
						what, q);
		return;
	}

	/*
	 * The role is granted SELECT on the copy, which the archive's owner
	 * makes of the whole table: it must be able to read the whole table
	 * itself.  Dropping a table needs its ownership; changing its rows
	 * needs no right to read them.
	 */
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		check_enable_rls(relid, GetUserId(), true) == RLS_ENABLED)
	{
		inverse_partial(g, "%s: the role running it may not read every row and column of table %s, which the copy would show it",
						what, q);
		return;
	}

	types[0] = OIDOID;
	values[0] = ObjectIdGetDatum(relid);
	rows = inverse_query("SELECT pg_catalog.quote_ident(a.attname),"
						 " pg_catalog.format_type(a.atttypid, a.atttypmod), " BUILTIN_TYPE ","
						 " a.attgenerated, a.attidentity, a.attname"
						 " FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
						 " WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped"
						 " ORDER BY a.attnum", 1, types, values, 6);
	initStringInfo(&select);
	initStringInfo(&insert);
	initStringInfo(&from);
	initStringInfo(&set);
	initStringInfo(&set_from);
	initStringInfo(&match);
	initStringInfo(&mine);
	initStringInfo(&kept);
	foreach(lc, rows)
	{
		char	  **c = lfirst(lc);
		bool		builtin = c[2][0] == 't';
		bool		in_key = false;
		const char *archived = psprintf("archived.%s", c[0]);

		/* a stored generated column is computed again */
		if (c[3][0] != '\0')
			continue;
		foreach(kc, key)
			if (strcmp(lfirst(kc), c[5]) == 0)
				in_key = true;

		/*
		 * The rows are found again by their key, and an UPDATE cannot set
		 * an identity column GENERATED ALWAYS back: a statement that
		 * changes either is not undone.
		 */
		if (update && (in_key || c[4][0] == 'a'))
		{
			foreach(kc, ((UpdateStmt *) node)->targetList)
				if (strcmp(lfirst_node(ResTarget, kc)->name, c[5]) == 0)
				{
					inverse_partial(g, "%s: it sets column %s, which %s", what, c[0],
									in_key ? "the rows are matched back by" :
									"an UPDATE cannot set back");
					return;
				}
		}
		if (c[4][0] == 'a')
			overriding = true;
		appendStringInfo(&select, "%s%s", select.len ? ", " : "", copied(c[0], builtin));
		appendStringInfo(&insert, "%s%s", insert.len ? ", " : "", c[0]);
		appendStringInfo(&from, "%s%s", from.len ? ", " : "",
						 cast_back(archived, c[1], builtin));
		appendStringInfo(&mine, "%srestored.%s", mine.len ? ", " : "", c[0]);
		appendStringInfo(&kept, "%s%s", kept.len ? ", " : "", archived);
		if (in_key)
			appendStringInfo(&match, "%srestored.%s = %s", match.len ? " AND " : "",
							 c[0], cast_back(archived, c[1], builtin));
		else if (c[4][0] != 'a')
		{
			appendStringInfo(&set, "%s%s", set.len ? ", " : "", c[0]);
			appendStringInfo(&set_from, "%s%s", set_from.len ? ", " : "",
							 cast_back(archived, c[1], builtin));
		}
	}
	/* an UPDATE of a table of key columns only changes nothing kept */
	if (update && set.len == 0)
		return;

	become_owner(&sw);
	if (strcmp(query_value(psprintf("SELECT EXISTS (SELECT FROM %s)", q), 0, NULL, NULL),
			   "t") != 0)
	{
		restore_user(&sw);
		return;
	}
	check_size(g, query_int8("SELECT pg_catalog.pg_table_size($1)", relid),
			   psprintf("table %s", q), true);
	k = palloc0(sizeof(KeptRows));
	k->table = q;
	k->name = archive_name(next_id(), get_rel_name(relid), NULL);
	k->archive = quote_qualified_identifier(ARCHIVE_SCHEMA, k->name);
	k->match = match.data;
	k->update = update;

	/*
	 * Rows compared as text: the copy holds values of types outside
	 * pg_catalog as text, and some types (json, point) have no equality.
	 */
	k->differs = psprintf("ROW(%s)::pg_catalog.text IS DISTINCT FROM ROW(%s)::pg_catalog.text",
						  mine.data, kept.data);
	if (update)
		k->restore = psprintf("UPDATE %s AS restored SET (%s) = ROW(%s) FROM %s AS archived WHERE %s AND %s",
							  q, set.data, set_from.data, k->archive, k->match,
							  k->differs);
	else
		k->restore = psprintf("INSERT INTO %s (%s)%s SELECT %s FROM %s AS archived WHERE NOT EXISTS (SELECT FROM %s AS restored WHERE %s)",
							  q, insert.data, overriding ? " OVERRIDING SYSTEM VALUE" : "",
							  from.data, k->archive, q, k->match);
	copy_into_archive(g, &sw, relid, "rows", NULL, k->name,
					  psprintf("SELECT %s FROM %s", select.data, q), k->restore);
	restore_user(&sw);
	g->captured = k;

	/* what the foreign keys of other tables do on DELETE is not kept */
	if (!update &&
		inverse_query_value("SELECT pg_catalog.string_agg(c.conrelid::pg_catalog.regclass::pg_catalog.text, ', ' ORDER BY c.conrelid::pg_catalog.regclass::pg_catalog.text)"
							" FROM pg_catalog.pg_constraint c WHERE c.confrelid = $1 AND c.contype = 'f'"
							" AND c.confdeltype IN ('c', 'n', 'd')", relid) != NULL)
		inverse_partial(g, "the rows that the ON DELETE actions of foreign keys referencing table %s changed were not kept",
						q);
}

/*
 * After the UPDATE or DELETE ran: the copy pruned to the rows it changed
 * or removed, which the restore brings back, and that restore written.
 */
void
archive_rows_after(DownGenerator *g)
{
	KeptRows   *k = g->captured;
	ArchiveSwitch sw;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	int64		removed;

	become_owner(&sw);
	if (k->update)
		spi_run(psprintf("DELETE FROM %s AS archived USING %s AS restored WHERE %s AND NOT (%s)",
						 k->archive, k->table, k->match, k->differs),
				0, NULL, NULL, NULL, SPI_OK_DELETE);
	else
		spi_run(psprintf("DELETE FROM %s AS archived WHERE EXISTS (SELECT FROM %s AS restored WHERE %s)",
						 k->archive, k->table, k->match),
				0, NULL, NULL, NULL, SPI_OK_DELETE);
	removed = (int64) SPI_processed;
	values[0] = Int64GetDatum(removed);
	values[1] = CStringGetTextDatum(k->name);
	spi_run("UPDATE migrate.archive SET rows = rows OPERATOR(pg_catalog.-) $1"
			" WHERE archive_name OPERATOR(pg_catalog.=) $2",
			2, types, values, NULL, SPI_OK_UPDATE);
	restore_user(&sw);
	inverse_add(g, "%s", k->restore);
}

/*
 * Delete the rows of migrate.archive that query selects (its $1, $2 are
 * given), drop their archive tables, and return them as ArchivedItems.
 * Runs as the owner; the tables are dropped without event triggers, as
 * they were made.
 */
static List *
drop_archives(const char *where, int nargs, Oid *types, Datum *values)
{
	Oid			nsp = archive_namespace();
	ArchiveSwitch sw;
	List	   *result = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	char	   *query;
	int			rc;
	bool		found;

	if (!OidIsValid(nsp))
		return NIL;

	/*
	 * Most calls (every run purges the expired) find none: they say so
	 * without flushing the session's cached plans, which a worker migrating
	 * tenant after tenant would plan again for each
	 */
	act_as_owner(&sw, false);
	rc = SPI_execute_with_args(psprintf("SELECT FROM migrate.archive a WHERE %s LIMIT 1", where),
							   nargs, types, values, NULL, false, 1);
	MemoryContextSwitchTo(cxt);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "internal query failed: %s", SPI_result_code_string(rc));
	found = SPI_processed > 0;
	SPI_freetuptable(SPI_tuptable);
	restore_user(&sw);
	if (!found)
		return NIL;

	/* in the order they were archived, for NOTICEs in a stable order */
	query = psprintf("WITH d AS (DELETE FROM migrate.archive a WHERE %s"
					 " RETURNING a.migration, a.kind, a.schema_name, a.table_name,"
					 " a.column_name, a.archive_name, a.rows, a.bytes, a.restore_sql,"
					 " a.file, a.line, a.statement, a.id)"
					 " SELECT d.migration, d.kind, d.schema_name, d.table_name,"
					 " d.column_name, d.archive_name, d.rows, d.bytes, d.restore_sql,"
					 " d.file, d.line, d.statement FROM d ORDER BY d.id", where);
	become_owner(&sw);
	rc = SPI_execute_with_args(query, nargs, types, values, NULL, false, 0);
	MemoryContextSwitchTo(cxt);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "internal query failed: %s: %s", SPI_result_code_string(rc), query);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		ArchivedItem *item = palloc0(sizeof(ArchivedItem));
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *table = quote_qualified_identifier(SPI_getvalue(tup, desc, 3),
													   SPI_getvalue(tup, desc, 4));
		char	   *column = SPI_getvalue(tup, desc, 5);

		item->migration = SPI_getvalue(tup, desc, 1);
		item->kind = SPI_getvalue(tup, desc, 2);
		item->object = column ? psprintf("%s.%s", table, quote_identifier(column)) : table;
		item->archive_name = SPI_getvalue(tup, desc, 6);
		item->rows = (int64) strtoll(SPI_getvalue(tup, desc, 7), NULL, 10);
		item->bytes = (int64) strtoll(SPI_getvalue(tup, desc, 8), NULL, 10);
		item->restore_sql = SPI_getvalue(tup, desc, 9);
		item->reason = column ?
			psprintf("data not kept: the archived values of column \"%s\" of table %s were purged",
					 column, table) :
			psprintf("data not kept: the archived rows of table %s were purged", table);
		item->file = SPI_getvalue(tup, desc, 10);
		item->line = atoi(SPI_getvalue(tup, desc, 11));
		item->statement = SPI_getvalue(tup, desc, 12);
		result = lappend(result, item);
	}
	for (ListCell *lc = list_head(result); lc; lc = lnext(result, lc))
	{
		Oid			relid = get_relname_relid(((ArchivedItem *) lfirst(lc))->archive_name, nsp);

		if (OidIsValid(relid))
		{
			ObjectAddress address = {RelationRelationId, relid, 0};

			performDeletion(&address, DROP_RESTRICT, PERFORM_DELETION_INTERNAL);
		}
	}
	restore_user(&sw);
	return result;
}

/*
 * The stored down script of an applied migration that restored from a
 * purged archive no longer does: the restore becomes a comment, and
 * down_partial says that the data was purged, so that rollback refuses,
 * unless told skip_partial, rather than bring back an empty table.
 */
static void
forget_restore(ArchivedItem *item)
{
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, TEXTOID, TEXTOID};
	Datum		values[7];
	ArchiveSwitch sw;

	values[0] = CStringGetTextDatum(item->migration);
	values[1] = CStringGetTextDatum(psprintf("%s;", item->restore_sql));
	values[2] = CStringGetTextDatum(psprintf("-- NOT RESTORED: archive %s was purged",
											 quote_qualified_identifier(ARCHIVE_SCHEMA,
																		item->archive_name)));
	values[3] = CStringGetTextDatum(item->file);
	values[4] = Int32GetDatum(item->line);
	values[5] = CStringGetTextDatum(item->statement);
	values[6] = CStringGetTextDatum(item->reason);
	become_owner(&sw);
	spi_run("UPDATE migrate.migrations SET"
			" down_sql = pg_catalog.replace(down_sql, $2, $3),"
			" down_partial = COALESCE(down_partial, '[]'::pg_catalog.jsonb)"
			"  OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object("
			"  'file', $4, 'line', $5, 'last_line', $5, 'statements', 1,"
			"  'statement', $6, 'reason', $7))"
			" WHERE name OPERATOR(pg_catalog.=) $1 AND down_generated"
			" AND pg_catalog.strpos(down_sql, $2) OPERATOR(pg_catalog.>) 0",
			7, types, values, NULL, SPI_OK_UPDATE);
	restore_user(&sw);
}

/*
 * Drop the archives of migration (all of them), or without one those past
 * their expiry, and return what was dropped.
 */
List *
archive_purge(const char *migration)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	List	   *items;
	ListCell   *lc;

	if (!OidIsValid(archive_namespace()))
		return NIL;
	values[0] = migration ? CStringGetTextDatum(migration) : (Datum) 0;
	items = drop_archives(migration ? psprintf("a.migration OPERATOR(pg_catalog.=) $1%s",
											   tenant_condition()) :
						  "a.expires_at OPERATOR(pg_catalog.<) pg_catalog.now()",
						  migration ? 1 : 0, types, values);
	foreach(lc, items)
		forget_restore(lfirst(lc));
	return items;
}

/*
 * The condition that keeps the archives of a migration to those of the
 * current tenant (migrate.tenant): other tenants' migrations of the same
 * name keep theirs.  Empty before 0.5, whose table has no tenant column.
 */
static const char *
tenant_condition(void)
{
	Oid			relid = get_relname_relid("archive",
										  get_namespace_oid("migrate", false));

	if (!OidIsValid(relid) || get_attnum(relid, "tenant") == InvalidAttrNumber)
		return "";
	return " AND a.tenant OPERATOR(pg_catalog.=) pg_catalog.current_setting('migrate.tenant')";
}

/*
 * After migration was rolled back with down_sql: the archives it restored
 * from, dropped, with a NOTICE saying how much came back.  Archives of an
 * earlier application of the same name (forgotten, applied again) are not
 * in down_sql, and stay until they expire.
 */
void
archive_release(const char *migration, const char *down_sql)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	List	   *items;
	ListCell   *lc;

	if (!OidIsValid(archive_namespace()) || down_sql == NULL)
		return;
	values[0] = CStringGetTextDatum(migration);
	values[1] = CStringGetTextDatum(down_sql);
	items = drop_archives("a.migration OPERATOR(pg_catalog.=) $1"
						  " AND pg_catalog.strpos($2, a.restore_sql || ';') OPERATOR(pg_catalog.>) 0",
						  2, types, values);
	foreach(lc, items)
	{
		ArchivedItem *item = lfirst(lc);

		if (strcmp(item->kind, "column") != 0)
			ereport(NOTICE,
					(errmsg_plural("restored " INT64_FORMAT " row of table %s from the archive",
								   "restored " INT64_FORMAT " rows of table %s from the archive",
								   item->rows, item->rows, item->object)));
		else
			ereport(NOTICE,
					(errmsg_plural("restored the values of column %s from the archive (" INT64_FORMAT " row)",
								   "restored the values of column %s from the archive (" INT64_FORMAT " rows)",
								   item->rows, item->object, item->rows)));
	}
}
