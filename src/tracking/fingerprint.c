/*-------------------------------------------------------------------------
 *
 * fingerprint.c
 *	  The schema's fingerprint (migrate.fingerprint): taking it after a
 *	  migration, comparing it with the live catalog (migrate.drift()),
 *	  naming who made each change from the DDL log, and accepting drift
 *	  (migrate.accept_drift()); and two readings of the schema compared
 *	  the same way (migrate.verify()'s round trips).
 *
 * The fingerprint is migrate.schema_objects() stored: one row per object of
 * the schemas that migrations touch, with the MD5 of a canonical text of
 * it.  It finds what changed outside any migration even when no event
 * trigger saw the change (a superuser with session_replication_role =
 * replica, event_triggers = off, a managed service without event
 * triggers), at the cost of one catalog query per class of object.
 *
 * Taking it keeps what had drifted before the migration as it was, so that
 * a migration does not hide a hotfix made before it: only baseline and
 * mark_applied, which say the schema is what the migrations make, take
 * all of it.  A database whose extension is older than 0.3 has neither the
 * table nor the function, and these calls do nothing there.
 *
 * After a migration only the schemas it changed are read, when the DDL log
 * says which (fingerprint_take_since()): its event triggers saw every DDL
 * command of the migration, and the rows name the schemas.  The rest of
 * the fingerprint cannot have changed in the migration, so that a run of
 * many migrations on a large database, or on one schema of many, costs in
 * proportion to what they touch.  Anything the log cannot vouch for reads
 * every schema, as a take always did.
 *
 * The queries run as the tracking tables' owner (tracking.c) with
 * search_path pinned to pg_catalog, so that no object of the caller's
 * search_path can stand in for a function or an operator they use.
 *
 * Copyright (c) 2026, pg_migrate developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "tracking/tracking.h"
#include "util/util.h"

/* Longest part of a definition a description quotes */
#define DESCRIBE_MAX 80

/*
 * The objects whose fingerprint differs from the live catalog, with the
 * table (or type) each belongs to, in the schemas $1 (quote_ident()ed; null:
 * all of them).  A format: the condition on the fingerprint's rows, apart
 * so that a tenant's run finds its schema's rows by the index.  (Written without a CTE: a hash join
 * inside one built its table a hundred times slower, PostgreSQL 15.)
 */
static const char *const drift_query =
"SELECT coalesce(l.object_type, f.object_type),"
"       coalesce(l.object_identity, f.object_identity),"
"       coalesce(l.parent, f.parent),"
"       CASE WHEN f.digest IS NULL THEN 'added'"
"            WHEN l.digest IS NULL THEN 'removed'"
"            ELSE 'changed' END,"
"       f.definition, l.definition"
" FROM migrate.schema_objects($1) l"
" FULL JOIN (SELECT * FROM migrate.fingerprint WHERE %s) f"
"   ON f.object_type = l.object_type"
"  AND f.object_identity = l.object_identity"
" WHERE l.digest IS DISTINCT FROM f.digest"
" ORDER BY 1, 2";

/*
 * Who changed each of a list of drifted objects ($1 types, $2 identities,
 * $3 parents), and when: the latest of the out-of-band DDL log rows that
 * ddl_log_changes() finds about it.
 */
static const char *const changed_by_query =
"SELECT DISTINCT ON (c.n) c.n, l.session_user_name, l.logged_at"
" FROM migrate.ddl_log_changes($1, $2, $3) c"
" JOIN migrate.ddl_log l ON l.id = c.log_id"
" ORDER BY c.n, l.id DESC";

/*
 * Store the live schema as the fingerprint, writing only the rows that
 * changed.  $1 and $2 are the types and identities of objects whose row
 * stays as it was; $3 says whether each was added, removed or changed:
 * the columns, constraints and the like of a table added or removed stay
 * as they were too (drift_query lists the table alone).  $4 names the
 * schemas to take (quote_ident()ed), or is null for all of them: the rows
 * of the other schemas stay as they are.  A format: the condition on the
 * fingerprint's rows, apart, as in drift_query, so that a tenant's take
 * finds its schema's rows by the index rather than reading them all.
 */
static const char *const take_query =
"WITH keep AS (SELECT k.t, k.i,"
"                     CASE WHEN k.c <> 'changed' THEN k.t || ' ' || k.i END AS parent"
"              FROM unnest($1::text[], $2::text[], $3::text[]) k(t, i, c)),"
" live AS MATERIALIZED ("
"  SELECT o.* FROM migrate.schema_objects($4) o"
"  WHERE NOT EXISTS (SELECT FROM keep"
"                    WHERE (keep.t = o.object_type AND keep.i = o.object_identity)"
"                       OR keep.parent = o.parent)),"
" gone AS ("
"  DELETE FROM migrate.fingerprint f"
"  WHERE %s"
"    AND NOT EXISTS (SELECT FROM live l"
"                    WHERE l.object_type = f.object_type"
"                      AND l.object_identity = f.object_identity)"
"    AND NOT EXISTS (SELECT FROM keep"
"                    WHERE (keep.t = f.object_type AND keep.i = f.object_identity)"
"                       OR keep.parent = f.parent))"
" INSERT INTO migrate.fingerprint AS f"
"  (object_type, object_identity, parent, digest, definition, schema_name, refs)"
" SELECT object_type, object_identity, parent, digest, definition, schema_name, refs"
" FROM live"
" ON CONFLICT (object_type, object_identity) DO UPDATE"
"  SET parent = excluded.parent, digest = excluded.digest,"
"      definition = excluded.definition, schema_name = excluded.schema_name,"
"      refs = excluded.refs"
"  WHERE f.digest IS DISTINCT FROM excluded.digest"
"     OR f.parent IS DISTINCT FROM excluded.parent"
"     OR f.schema_name IS DISTINCT FROM excluded.schema_name"
"     OR f.refs IS DISTINCT FROM excluded.refs";

/*
 * The schemas the migrations' DDL log rows after id $1 touched, as
 * quote_ident() writes them, and whether that cannot bound the take (the
 * first column: a row whose schema is unknown, as GRANT's, or ALTER
 * SCHEMA, which may rename one).  A row names its object's schema; a
 * schema's own row, the schema; a trigger's, policy's, rule's or
 * default's, which PostgreSQL leaves without one, the schema in its
 * identity.  To those are added the schemas an object altered there came
 * from (ALTER ... SET SCHEMA: the row names where it went, and its old
 * identity no longer resolves), and the schemas whose objects depend on
 * one of all these (refs): renaming or dropping an object changes or
 * drops what names it.  Comments, security labels and default privileges
 * are not in the fingerprint.
 *
 * Where a moved object came from is looked for in every schema, so only
 * for the statements that may have moved one: those whose text says
 * "schema" (SET SCHEMA does), or is unknown.  The ALTER TABLE of a
 * tenant's run then costs the same among ten schemas or ten thousand.
 */
static const char *const touched_query =
"WITH r AS MATERIALIZED ("
"  SELECT l.command_tag, l.object_type, l.object_identity,"
"         l.statement IS NULL OR strpos(lower(l.statement), 'schema') > 0 AS may_move,"
"         CASE WHEN l.object_type = 'schema' THEN l.object_identity"
"              WHEN l.schema_name IS NOT NULL THEN quote_ident(l.schema_name)"
"              WHEN l.object_type IN ('trigger', 'policy', 'rule')"
"              THEN substring(l.object_identity FROM"
"                             '^(?:\"(?:[^\"]|\"\")*\"|[a-z0-9_]+) on (\"(?:[^\"]|\"\")*\"|[a-z0-9_]+)[.]')"
"              WHEN l.object_type = 'default value'"
"              THEN substring(l.object_identity FROM"
"                             '^for (\"(?:[^\"]|\"\")*\"|[a-z0-9_]+)[.]')"
"         END AS s"
"  FROM migrate.ddl_log l"
"  WHERE l.id > $1 AND l.origin = 'in_migration'"
"    AND l.command_tag NOT IN ('COMMENT', 'SECURITY LABEL', 'ALTER DEFAULT PRIVILEGES')),"
" moved AS ("
"  SELECT f.schema_name AS s"
"  FROM (SELECT DISTINCT r.s, substr(r.object_identity, length(r.s) + 2) AS tail"
"        FROM r"
"        WHERE r.command_tag LIKE 'ALTER %' AND r.object_type <> 'schema' AND r.may_move"
"          AND starts_with(r.object_identity, r.s || '.')) m"
"  CROSS JOIN pg_namespace ns"
"  CROSS JOIN unnest(ARRAY['table', 'foreign table', 'view', 'materialized view',"
"                          'sequence', 'type', 'function', 'procedure',"
"                          'aggregate']) k(t)"
"  JOIN migrate.fingerprint f"
"    ON f.object_type = k.t"
"   AND f.object_identity = quote_ident(ns.nspname) || '.' || m.tail"
"  WHERE quote_ident(ns.nspname) <> m.s"
"    AND CASE WHEN k.t = 'type' THEN to_regtype(f.object_identity) IS NULL"
"             WHEN k.t IN ('function', 'procedure', 'aggregate')"
"             THEN NOT EXISTS (SELECT FROM pg_proc p"
"                              WHERE p.pronamespace = ns.oid"
"                                AND (pg_identify_object('pg_proc'::regclass, p.oid, 0)).identity"
"                                    = f.object_identity)"
"             ELSE to_regclass(f.object_identity) IS NULL END),"
" touched AS (SELECT r.s FROM r WHERE r.s IS NOT NULL UNION SELECT s FROM moved)"
" SELECT coalesce((SELECT bool_or(r.s IS NULL OR r.command_tag = 'ALTER SCHEMA') FROM r), false),"
"        ARRAY(SELECT s FROM touched"
"              UNION SELECT f.schema_name FROM migrate.fingerprint f"
"              WHERE f.refs && ARRAY(SELECT s FROM touched)"
"              ORDER BY 1)";

/* The DDL log's event triggers, which must all fire for it to be whole */
static const char *const triggers_query =
"SELECT count(*) FROM pg_event_trigger"
" WHERE evtname IN ('pg_migrate_ddl_command_end', 'pg_migrate_sql_drop',"
"                   'pg_migrate_table_rewrite')"
"   AND evtenabled IN ('O', 'A')";

/*
 * A tenant's schema as a text[] datum of its quote_ident()ed name, what
 * drift and takes are limited to while migrate.tenant is set: a tenant's
 * run must neither read the whole database, nor call the other tenants'
 * migrations drift.  (Datum) 0 for the database's own migrations.
 */
static Datum
tenant_schemas(void)
{
	Datum		name;

	if (migrate_tenant == NULL || *migrate_tenant == '\0')
		return (Datum) 0;
	name = CStringGetTextDatum(quote_identifier(migrate_tenant));
	return PointerGetDatum(construct_array(&name, 1, TEXTOID, -1, false, TYPALIGN_INT));
}

/* Whether the extension's SQL is 0.3 or later, with the fingerprint */
bool
fingerprint_available(void)
{
	Oid			nsp = get_namespace_oid("migrate", true);

	return OidIsValid(nsp) &&
		OidIsValid(get_relname_relid("fingerprint", nsp));
}

/*
 * Whether a fingerprint was taken: not before the first migration after
 * CREATE EXTENSION (or after the update of a database with none)
 */
bool
fingerprint_taken(void)
{
	bool		taken;

	if (!fingerprint_available())
		return false;
	run_tracking_query("SELECT FROM migrate.fingerprint LIMIT 1",
					   0, NULL, NULL, NULL, SPI_OK_SELECT);
	taken = SPI_processed > 0;
	SPI_freetuptable(SPI_tuptable);
	return taken;
}

/* One of our queries, as the tables' owner, with search_path pg_catalog */
static void
fingerprint_query(const char *query, int nargs, Oid *types, Datum *values,
				  const char *nulls, int expected)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	run_tracking_query(query, nargs, types, values, nulls, expected);
	AtEOXact_GUC(true, nest);
}

/*
 * Whether the DDL log records every DDL command a migration runs now: its
 * event triggers are there and enabled, this session does not bypass them
 * (session_replication_role = replica, event_triggers = off from
 * PostgreSQL 17 on, a single-user server), and migrate.ddl_policy is not
 * off.  The worker that runs no-transaction migrations inherits those two
 * settings and migrate.ddl_policy from this session (run/worker.c).
 */
static bool
ddl_log_whole(void)
{
	const char *event_triggers = GetConfigOption("event_triggers", true, false);
	Oid			nsp = get_namespace_oid("migrate", true);
	bool		whole;
	bool		isnull;

	if (!IsUnderPostmaster ||
		(migrate_ddl_policy == DDL_POLICY_OFF && !migrate_ddl_policy_rejected) ||
		SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA ||
		(event_triggers && strcmp(event_triggers, "on") != 0) ||
		!OidIsValid(nsp) || !OidIsValid(get_relname_relid("ddl_log", nsp)))
		return false;
	fingerprint_query(triggers_query, 0, NULL, NULL, NULL, SPI_OK_SELECT);
	whole = SPI_processed == 1 &&
		DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									SPI_tuptable->tupdesc, 1, &isnull)) == 3;
	SPI_freetuptable(SPI_tuptable);
	return whole;
}

/*
 * Where the DDL log stands before migrations run, for
 * fingerprint_take_since(): the last row's id, or -1 when the log may miss
 * what they do, and the take after them must read the whole schema.
 */
int64
fingerprint_log_position(void)
{
	bool		isnull;
	int64		position;

	if (!fingerprint_available() || !ddl_log_whole())
		return -1;
	fingerprint_query("SELECT coalesce(max(id), 0) FROM migrate.ddl_log",
					  0, NULL, NULL, NULL, SPI_OK_SELECT);
	position = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return position;
}

/*
 * The schemas the migrations since position touched, as a text[] datum
 * (quote_ident()ed names); (Datum) 0 when the log cannot tell, and the
 * whole schema is to be taken.
 */
static Datum
touched_schemas(int64 position)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(position)};
	bool		isnull;
	bool		whole;
	Datum		schemas = (Datum) 0;
	MemoryContext cxt = CurrentMemoryContext;

	/* the first take after CREATE EXTENSION has nothing to build on */
	if (position < 0 || !ddl_log_whole() || !fingerprint_taken())
		return (Datum) 0;
	fingerprint_query(touched_query, 1, types, values, NULL, SPI_OK_SELECT);
	whole = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
	if (!whole)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		/* copied out of SPI's memory */
		Datum		found = SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 2, &isnull);

		schemas = PointerGetDatum(DatumGetArrayTypePCopy(found));
		MemoryContextSwitchTo(old);
	}
	SPI_freetuptable(SPI_tuptable);
	return schemas;
}

/* s with each run of white space made one space, and trimmed */
static char *
squeeze_space(const char *s)
{
	StringInfoData buf;
	bool		space = false;

	initStringInfo(&buf);
	for (; *s; s++)
	{
		if (isspace((unsigned char) *s))
			space = buf.len > 0;
		else
		{
			if (space)
				appendStringInfoChar(&buf, ' ');
			space = false;
			appendStringInfoChar(&buf, *s);
		}
	}
	return buf.data;
}

/* The first DESCRIBE_MAX bytes of len bytes of s, cut at a character */
static char *
quote_part(const char *s, int len)
{
	int			cut = len;

	if (len > DESCRIBE_MAX)
		cut = pg_mbcliplen(s, len, DESCRIBE_MAX);
	return psprintf("\"%.*s%s\"", cut, s, cut < len ? "..." : "");
}

/* A part of a definition, without the spaces around it */
static char *
trimmed_part(const char *s, int len)
{
	while (len > 0 && *s == ' ')
		s++, len--;
	while (len > 0 && s[len - 1] == ' ')
		len--;
	return quote_part(s, len);
}

/*
 * What changed between two definitions, in a few words: the words that
 * differ, between the words both begin and end with.  "integer" and
 * "bigint" give: "integer" became "bigint"; "text" and "text not null"
 * give: added "not null"; "increment 1 cache" and "increment 10 cache"
 * give: "increment 1" became "increment 10".
 */
static char *
describe_change(const char *was_raw, const char *now_raw)
{
	char	   *was = squeeze_space(was_raw);
	char	   *now = squeeze_space(now_raw);
	int			wlen = strlen(was);
	int			nlen = strlen(now);
	int			same = 0;
	int			head;
	int			tail;

	/* the words both begin with */
	while (same < wlen && same < nlen && was[same] == now[same])
		same++;
	head = same;
	if (!((same == wlen || was[same] == ' ') && (same == nlen || now[same] == ' ')))
		while (head > 0 && was[head - 1] != ' ')
			head--;

	/* the words both end with, after those */
	same = 0;
	while (same < wlen - head && same < nlen - head &&
		   was[wlen - 1 - same] == now[nlen - 1 - same])
		same++;
	tail = same;
	if (!((tail == wlen - head || was[wlen - 1 - tail] == ' ') &&
		  (tail == nlen - head || now[nlen - 1 - tail] == ' ')))
		while (tail > 0 && was[wlen - tail] != ' ')
			tail--;

	/* a word alone says little: "1" became "10"; say which */
	if (head > 0 && memchr(was + head, ' ', wlen - head - tail) == NULL &&
		memchr(now + head, ' ', nlen - head - tail) == NULL)
		for (head--; head > 0 && was[head - 1] != ' '; head--)
			;
	wlen -= head + tail;
	nlen -= head + tail;
	if (strspn(was + head, " ") >= wlen)
		return psprintf("added %s", trimmed_part(now + head, nlen));
	if (strspn(now + head, " ") >= nlen)
		return psprintf("removed %s", trimmed_part(was + head, wlen));
	return psprintf("%s became %s", trimmed_part(was + head, wlen),
					trimmed_part(now + head, nlen));
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* A drifted object's description, from what it was and what it is */
static char *
describe(const char *was, const char *now)
{
	char	   *d;

	if (was == NULL)
		d = squeeze_space(now);
	else if (now == NULL)
		d = squeeze_space(was);
	else
		d = describe_change(was, now);
	if (strlen(d) > DESCRIBE_MAX + 40)
		d = psprintf("%.*s...", pg_mbcliplen(d, strlen(d), DESCRIBE_MAX + 40), d);
	return d;
}

/*
 * The list of DriftedObjects less those that belong to a table (or type)
 * added or removed with them: its columns, constraints, indexes, triggers
 * and policies are not listed apart from it.
 */
static List *
without_parts(List *changes)
{
	char	  **whole;			/* "change type identity" of each object
								 * added or removed, sorted */
	int			nwhole = 0;
	ListCell   *lc;

	whole = palloc(sizeof(char *) * Max(list_length(changes), 1));
	foreach(lc, changes)
	{
		DriftedObject *d = lfirst(lc);

		if (strcmp(d->change, "changed") != 0)
			whole[nwhole++] = psprintf("%s %s %s", d->change, d->object_type,
									   d->object_identity);
	}
	qsort(whole, nwhole, sizeof(char *), compare_strings);
	for (int i = list_length(changes) - 1; i >= 0; i--)
	{
		DriftedObject *d = list_nth(changes, i);
		char	   *key;

		if (d->parent == NULL || strcmp(d->change, "changed") == 0)
			continue;
		key = psprintf("%s %s", d->change, d->parent);
		if (bsearch(&key, whole, nwhole, sizeof(char *), compare_strings))
			changes = list_delete_nth_cell(changes, i);
	}
	return changes;
}

/*
 * The objects added, removed or changed since the fingerprint was taken,
 * by type and identity; NIL where there is no fingerprint (before 0.3, or
 * before the first migration).  A column, constraint, index, trigger or
 * policy of a table that was added or removed as a whole is not listed
 * apart from its table.
 */
List *
fingerprint_drift(void)
{
	List	   *result = NIL;
	Oid			types[1] = {TEXTARRAYOID};
	Datum		values[1] = {tenant_schemas()};
	char		nulls[1] = {values[0] == (Datum) 0 ? 'n' : ' '};

	if (!fingerprint_taken())
		return NIL;
	fingerprint_query(psprintf(drift_query, nulls[0] == 'n' ? "$1 IS NULL" :
							   "schema_name = ANY ($1)"),
					  1, types, values, nulls, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DriftedObject *d = palloc0(sizeof(DriftedObject));

		d->object_type = SPI_getvalue(tup, desc, 1);
		d->object_identity = SPI_getvalue(tup, desc, 2);
		d->parent = SPI_getvalue(tup, desc, 3);
		d->change = SPI_getvalue(tup, desc, 4);
		d->description = describe(SPI_getvalue(tup, desc, 5),
								  SPI_getvalue(tup, desc, 6));
		d->changed_at = DT_NOBEGIN;
		result = lappend(result, d);
	}
	SPI_freetuptable(SPI_tuptable);
	return without_parts(result);
}

/*
 * migrate.schema_objects() as it is now, sorted by type and identity
 * byte by byte, for schema_differences(): what a round trip of a
 * migration (migrate.verify()) compares.  In the current memory context.
 */
SchemaObjects *
schema_objects_read(void)
{
	SchemaObjects *objects = palloc0(sizeof(SchemaObjects));

	fingerprint_query("SELECT object_type, object_identity, parent, digest, definition"
					  " FROM migrate.schema_objects()"
					  " ORDER BY object_type COLLATE \"C\", object_identity COLLATE \"C\"",
					  0, NULL, NULL, NULL, SPI_OK_SELECT);
	objects->count = SPI_processed;
	objects->items = palloc(sizeof(SchemaObject) * Max(objects->count, 1));
	for (int i = 0; i < objects->count; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		SchemaObject *o = &objects->items[i];

		o->object_type = SPI_getvalue(tup, desc, 1);
		o->object_identity = SPI_getvalue(tup, desc, 2);
		o->parent = SPI_getvalue(tup, desc, 3);
		o->digest = SPI_getvalue(tup, desc, 4);
		o->definition = SPI_getvalue(tup, desc, 5);
	}
	SPI_freetuptable(SPI_tuptable);
	return objects;
}

static DriftedObject *
difference(const SchemaObject *o, const char *change, const char *was,
		   const char *now)
{
	DriftedObject *d = palloc0(sizeof(DriftedObject));

	d->object_type = o->object_type;
	d->object_identity = o->object_identity;
	d->parent = o->parent;
	d->change = pstrdup(change);
	d->description = describe(was, now);
	d->changed_at = DT_NOBEGIN;
	return d;
}

/*
 * The objects added, removed or changed from before to after (both from
 * schema_objects_read()), as DriftedObjects in type and identity order,
 * described as drift() describes them: the parts of a table added or
 * removed with it are not listed apart.
 */
List *
schema_differences(const SchemaObjects *before, const SchemaObjects *after)
{
	List	   *result = NIL;
	int			i = 0;
	int			j = 0;

	while (i < before->count || j < after->count)
	{
		const SchemaObject *b = i < before->count ? &before->items[i] : NULL;
		const SchemaObject *a = j < after->count ? &after->items[j] : NULL;
		int			cmp;

		if (b == NULL)
			cmp = 1;
		else if (a == NULL)
			cmp = -1;
		else
		{
			cmp = strcmp(b->object_type, a->object_type);
			if (cmp == 0)
				cmp = strcmp(b->object_identity, a->object_identity);
		}
		if (cmp < 0)
			result = lappend(result, difference(b, "removed", b->definition, NULL));
		else if (cmp > 0)
			result = lappend(result, difference(a, "added", NULL, a->definition));
		else if (strcmp(b->digest, a->digest) != 0)
			result = lappend(result, difference(a, "changed", b->definition,
												a->definition));
		i += cmp <= 0;
		j += cmp >= 0;
	}
	return without_parts(result);
}

/*
 * Store the schema as it is now as the fingerprint, except for the
 * objects in keep (DriftedObjects, from fingerprint_drift() before the
 * migration), whose rows stay as they were so that their drift still
 * shows.  All of it: see fingerprint_take_since() for the take after
 * migrations.
 */
void
fingerprint_take(List *keep)
{
	int64		position = -1;

	fingerprint_take_since(keep, &position);
}

/*
 * fingerprint_take() after the migrations run since *position (from
 * fingerprint_log_position(), or the last take): only the schemas their
 * DDL log rows name, and those that depend on them (touched_query), when
 * the log saw all they did; the whole schema otherwise.  What the other
 * schemas hold did not change in a migration, and their rows, drift
 * included, stay as they are.  *position is moved past those rows, for
 * the next take of the same run.
 */
void
fingerprint_take_since(List *keep, int64 *position)
{
	Oid			types[4] = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[4];
	char		nulls[4] = "   ";
	Datum	   *t = palloc(sizeof(Datum) * Max(list_length(keep), 1));
	Datum	   *id = palloc(sizeof(Datum) * Max(list_length(keep), 1));
	Datum	   *change = palloc(sizeof(Datum) * Max(list_length(keep), 1));
	int			n = 0;
	ListCell   *lc;

	if (!fingerprint_available())
		return;
	values[3] = touched_schemas(*position);
	/* a tenant's migrations make no drift elsewhere: its schema only */
	if (values[3] == (Datum) 0)
		values[3] = tenant_schemas();
	if (values[3] == (Datum) 0)
		nulls[3] = 'n';
	else if (ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(values[3])),
							ARR_DIMS(DatumGetArrayTypeP(values[3]))) == 0)
	{
		/* the migrations ran no DDL */
		*position = fingerprint_log_position();
		return;
	}
	foreach(lc, keep)
	{
		DriftedObject *d = lfirst(lc);

		t[n] = CStringGetTextDatum(d->object_type);
		change[n] = CStringGetTextDatum(d->change);
		id[n++] = CStringGetTextDatum(d->object_identity);
	}
	values[0] = PointerGetDatum(construct_array(t, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(id, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(change, n, TEXTOID, -1, false, TYPALIGN_INT));
	fingerprint_query(psprintf(take_query, nulls[3] == 'n' ? "$4 IS NULL" :
							   "f.schema_name = ANY ($4)"),
					  4, types, values, nulls, SPI_OK_INSERT);
	*position = fingerprint_log_position();
}

/*
 * Whether name is the identity (or "type identity") of an object of the
 * schemas migrations touch, as it is or as the fingerprint has it
 */
bool
fingerprint_knows(const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		known;

	if (!fingerprint_available())
		return false;
	values[0] = CStringGetTextDatum(name);
	fingerprint_query("SELECT FROM (SELECT object_type, object_identity"
					  "              FROM migrate.schema_objects()"
					  "              UNION ALL"
					  "              SELECT object_type, object_identity"
					  "              FROM migrate.fingerprint) o"
					  " WHERE o.object_identity = $1"
					  "    OR o.object_type || ' ' || o.object_identity = $1"
					  " LIMIT 1",
					  1, types, values, NULL, SPI_OK_SELECT);
	known = SPI_processed > 0;
	SPI_freetuptable(SPI_tuptable);
	return known;
}

/*
 * The types, identities and parents of a list of DriftedObjects as three
 * text arrays, ddl_log_changes()'s arguments
 */
static void
drifted_arrays(List *drifted, Datum *values)
{
	int			n = list_length(drifted);
	Datum	   *t = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *id = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *parent = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *parent_null = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			i = 0;
	ListCell   *lc;

	foreach(lc, drifted)
	{
		DriftedObject *d = lfirst(lc);

		t[i] = CStringGetTextDatum(d->object_type);
		id[i] = CStringGetTextDatum(d->object_identity);
		parent_null[i] = d->parent == NULL;
		parent[i++] = d->parent ? CStringGetTextDatum(d->parent) : (Datum) 0;
	}
	values[0] = PointerGetDatum(construct_array(t, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(id, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_md_array(parent, parent_null, 1, dims, lbs,
												   TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Fill in changed_by and changed_at of the objects from fingerprint_drift()
 * where the DDL log knows who changed them, in one query whatever their
 * number.  Only drift() needs them: apply and run, which read the drift
 * before each run, do not pay for this.
 */
void
fingerprint_changed_by(List *drifted)
{
	Oid			types[3] = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[3];

	if (drifted == NIL)
		return;
	drifted_arrays(drifted, values);
	fingerprint_query(changed_by_query, 3, types, values, NULL, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int			n = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		DriftedObject *d = list_nth(drifted, n - 1);

		d->changed_by = SPI_getvalue(tup, desc, 2);
		d->changed_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Accept the drift of the objects in accepted (DriftedObjects from
 * fingerprint_drift()): the fingerprint takes them as they are, keeping
 * the rows of the drifted objects in keep, and the out-of-band DDL log rows
 * that concern them, those drift() names them by, are marked accepted, so
 * that drift() does not name them again and capture leaves them out.
 */
void
fingerprint_accept(List *accepted, List *keep)
{
	Oid			types[3] = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[3];

	fingerprint_take(keep);
	drifted_arrays(accepted, values);
	fingerprint_query("UPDATE migrate.ddl_log SET accepted = true"
					  " WHERE id IN (SELECT c.log_id"
					  "              FROM migrate.ddl_log_changes($1, $2, $3) c)",
					  3, types, values, NULL, SPI_OK_UPDATE);
}
