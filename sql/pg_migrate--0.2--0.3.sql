\echo Use "ALTER EXTENSION pg_migrate UPDATE TO '0.3'" to load this file. \quit
-- pg_migrate 0.2 -> 0.3

---------------------------------------------------------------------------
-- The DDL log (issue 17, sections 1 and 2): every DDL command, with who ran
-- it, from where, and which migration ran it or that none did.  Written by
-- the event triggers below; what migrate.ddl_policy makes of DDL outside
-- migrations is decided by the same functions.  See doc/reference.md.
---------------------------------------------------------------------------
CREATE SEQUENCE migrate.ddl_log_id_seq;

CREATE TABLE migrate.ddl_log (
    id                bigint PRIMARY KEY DEFAULT nextval('migrate.ddl_log_id_seq'),
    logged_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    xid               xid8,
    session_user_name text NOT NULL,
    current_user_name text NOT NULL,
    application_name  text,
    client_addr       inet,
    backend_pid       integer NOT NULL,
    event             text NOT NULL
                      CHECK (event IN ('ddl_command_end', 'sql_drop', 'table_rewrite')),
    command_tag       text NOT NULL,
    object_type       text,
    object_identity   text,
    schema_name       text,
    statement         text,
    migration         text,
    migration_source  text,
    origin            text NOT NULL
                      CHECK (origin IN ('in_migration', 'out_of_band')),
    break_glass       boolean NOT NULL DEFAULT false,
    CHECK ((origin = 'in_migration') = (migration IS NOT NULL))
);
ALTER SEQUENCE migrate.ddl_log_id_seq OWNED BY migrate.ddl_log.id;

COMMENT ON TABLE migrate.ddl_log IS
    'pg_migrate: one row per DDL command, written by the extension''s event triggers';
COMMENT ON COLUMN migrate.ddl_log.origin IS
    'in_migration: run by migrate.apply/run/rollback (migration names it); out_of_band: outside any migration';
COMMENT ON COLUMN migrate.ddl_log.break_glass IS
    'made outside migrations under migrate.allow_out_of_band_ddl = on';

-- pg_dump keeps the log's rows, as it keeps the tracking tables'
SELECT pg_catalog.pg_extension_config_dump('migrate.ddl_log', '');
SELECT pg_catalog.pg_extension_config_dump('migrate.ddl_log_id_seq', '');

CREATE FUNCTION migrate.ddl_command_start()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'migrate_ddl_command_start'
LANGUAGE C;

CREATE FUNCTION migrate.ddl_command_end()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'migrate_ddl_command_end'
LANGUAGE C;

CREATE FUNCTION migrate.ddl_sql_drop()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'migrate_ddl_sql_drop'
LANGUAGE C;

CREATE FUNCTION migrate.ddl_table_rewrite()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'migrate_ddl_table_rewrite'
LANGUAGE C;

COMMENT ON FUNCTION migrate.ddl_command_start() IS
    'event trigger: under migrate.ddl_policy = block, refuses CREATE/DROP INDEX CONCURRENTLY and DETACH PARTITION CONCURRENTLY outside migrations before they start';
COMMENT ON FUNCTION migrate.ddl_command_end() IS
    'event trigger: logs the commands of a DDL statement in migrate.ddl_log';
COMMENT ON FUNCTION migrate.ddl_sql_drop() IS
    'event trigger: logs the objects a DDL statement dropped in migrate.ddl_log';
COMMENT ON FUNCTION migrate.ddl_table_rewrite() IS
    'event trigger: logs a table rewrite in migrate.ddl_log';

REVOKE ALL ON FUNCTION migrate.ddl_command_start() FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.ddl_command_end() FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.ddl_sql_drop() FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.ddl_table_rewrite() FROM PUBLIC;

-- CREATE and DROP INDEX CONCURRENTLY commit before ddl_command_end, where
-- refusing them would be too late
CREATE EVENT TRIGGER pg_migrate_ddl_command_start ON ddl_command_start
    WHEN TAG IN ('CREATE INDEX', 'DROP INDEX', 'ALTER TABLE')
    EXECUTE FUNCTION migrate.ddl_command_start();
CREATE EVENT TRIGGER pg_migrate_ddl_command_end ON ddl_command_end
    EXECUTE FUNCTION migrate.ddl_command_end();
CREATE EVENT TRIGGER pg_migrate_sql_drop ON sql_drop
    EXECUTE FUNCTION migrate.ddl_sql_drop();
CREATE EVENT TRIGGER pg_migrate_table_rewrite ON table_rewrite
    EXECUTE FUNCTION migrate.ddl_table_rewrite();
-- end of the DDL log


-------------------------------------------------------------------------
-- schema fingerprint and drift()
--
-- What the schema looked like after the last migration, object by object,
-- so that a change made outside any migration is found even when no event
-- trigger saw it (a superuser with session_replication_role = replica, or
-- event_triggers = off, or a managed service that allows no event
-- trigger).  The objects are those of every schema but the system ones and
-- pg_migrate's own, leaving out other extensions' members and the other
-- tools' tracking tables (doc/reference.md, "migrate.drift").
-------------------------------------------------------------------------

-- Every object in the schemas that migrations touch, as a canonical text
-- (the server's own pg_get_*def deparsing where there is one, plus owner
-- and privileges) and its MD5.  One catalog query per class of object.
-- "parent" is the table (or type) a column, constraint, index, trigger or
-- policy belongs to, written "type identity", so that drift() can report
-- a dropped table once rather than with each of its columns.  The
-- identities are written as pg_identify_object() and the event triggers'
-- pg_event_trigger_ddl_commands() write them, so that the DDL log can be
-- joined.
CREATE FUNCTION migrate.schema_objects(
    OUT object_type text, OUT object_identity text, OUT parent text,
    OUT digest text, OUT definition text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fingerprint$
WITH nsp AS MATERIALIZED (
    SELECT n.oid, quote_ident(n.nspname) AS qname
    FROM pg_namespace n
    -- no user schema is named pg_*: those are the system's, pg_toast and
    -- the temporary ones (pg_temp_N, pg_toast_temp_N) included
    WHERE n.nspname <> 'information_schema'
      AND n.nspname NOT LIKE 'pg\_%'
      AND NOT EXISTS (SELECT FROM pg_extension e
                      WHERE e.extname = 'pg_migrate' AND e.extnamespace = n.oid)
      AND NOT EXISTS (SELECT FROM pg_depend d
                      WHERE d.classid = 'pg_namespace'::regclass
                        AND d.objid = n.oid AND d.deptype = 'e')
),
-- members of other extensions change with ALTER EXTENSION, not by hand
ext AS MATERIALIZED (
    SELECT d.classid, d.objid FROM pg_depend d WHERE d.deptype = 'e'
),
rel AS MATERIALIZED (
    SELECT c.oid, c.relkind, c.relname, c.relowner, c.relacl, c.reloptions,
           c.relpersistence, c.relrowsecurity, c.relforcerowsecurity,
           c.relispartition, c.relpartbound,
           nsp.qname || '.' || quote_ident(c.relname) AS qname
    FROM pg_class c JOIN nsp ON nsp.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S', 'i', 'I', 'c')
      AND NOT EXISTS (SELECT FROM ext WHERE ext.classid = 'pg_class'::regclass
                                        AND ext.objid = c.oid)
      -- the other tools' tracking tables, which their tools write too
      AND NOT (c.relkind IN ('r', 'p')
               AND c.relname IN ('schema_migrations', 'flyway_schema_history',
                                 '__drizzle_migrations'))
),
tbl AS MATERIALIZED (
    SELECT rel.*,
           CASE rel.relkind WHEN 'f' THEN 'foreign table' ELSE 'table' END AS kind
    FROM rel WHERE rel.relkind IN ('r', 'p', 'f')
),
objects(object_type, object_identity, parent, definition) AS (
    SELECT 'schema', nsp.qname, NULL,
           concat_ws(' ', 'owner ' || quote_ident(pg_get_userbyid(n.nspowner)),
                     'acl ' || n.nspacl::text)
    FROM nsp JOIN pg_namespace n ON n.oid = nsp.oid
    UNION ALL
    SELECT tbl.kind, tbl.qname, NULL,
           concat_ws(' ',
                     CASE tbl.relpersistence WHEN 'u' THEN 'unlogged' END,
                     CASE tbl.relkind WHEN 'p' THEN 'partition by ' || pg_get_partkeydef(tbl.oid) END,
                     CASE WHEN tbl.relispartition
                          THEN 'partition of ' || (SELECT i.inhparent::regclass::text
                                                   FROM pg_inherits i WHERE i.inhrelid = tbl.oid)
                               || ' ' || pg_get_expr(tbl.relpartbound, tbl.oid) END,
                     'owner ' || quote_ident(pg_get_userbyid(tbl.relowner)),
                     CASE WHEN tbl.relrowsecurity THEN 'row level security' END,
                     CASE WHEN tbl.relforcerowsecurity THEN 'forced' END,
                     'with ' || tbl.reloptions::text,
                     'acl ' || tbl.relacl::text)
    FROM tbl
    UNION ALL
    SELECT 'table column', tbl.qname || '.' || quote_ident(a.attname),
           tbl.kind || ' ' || tbl.qname,
           concat_ws(' ', format_type(a.atttypid, a.atttypmod),
                     CASE WHEN a.attcollation <> t.typcollation
                          THEN 'collate ' || a.attcollation::regcollation::text END,
                     CASE WHEN a.attnotnull THEN 'not null' END,
                     CASE a.attidentity WHEN 'a' THEN 'generated always as identity'
                                        WHEN 'd' THEN 'generated by default as identity' END,
                     CASE WHEN a.attgenerated <> '' THEN 'generated always as ('
                          || pg_get_expr(ad.adbin, ad.adrelid) || ')'
                          WHEN ad.adbin IS NOT NULL
                          THEN 'default ' || pg_get_expr(ad.adbin, ad.adrelid) END,
                     'acl ' || a.attacl::text)
    FROM tbl
    JOIN pg_attribute a ON a.attrelid = tbl.oid AND a.attnum > 0 AND NOT a.attisdropped
    JOIN pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    UNION ALL
    -- NOT NULL is the column's (PostgreSQL 18 also makes it a constraint)
    SELECT 'table constraint', quote_ident(co.conname) || ' on ' || tbl.qname,
           tbl.kind || ' ' || tbl.qname,
           pg_get_constraintdef(co.oid)
    FROM pg_constraint co JOIN tbl ON tbl.oid = co.conrelid
    WHERE co.contype <> 'n'
    UNION ALL
    SELECT 'domain constraint',
           quote_ident(co.conname) || ' on ' || nsp.qname || '.' || quote_ident(t.typname),
           'type ' || nsp.qname || '.' || quote_ident(t.typname),
           pg_get_constraintdef(co.oid)
    FROM pg_constraint co
    JOIN pg_type t ON t.oid = co.contypid
    JOIN nsp ON nsp.oid = t.typnamespace
    WHERE co.contype <> 'n'
    UNION ALL
    -- the index of a primary key, unique or exclusion constraint is the
    -- constraint's; whether an index is valid or clustered is its state,
    -- not the schema's
    SELECT 'index', ix.qname, tbl.kind || ' ' || tbl.qname,
           pg_get_indexdef(ix.oid)
    FROM rel ix
    JOIN pg_index i ON i.indexrelid = ix.oid
    JOIN tbl ON tbl.oid = i.indrelid
    WHERE ix.relkind IN ('i', 'I')
      AND NOT EXISTS (SELECT FROM pg_constraint co
                      WHERE co.conindid = ix.oid AND co.conrelid = i.indrelid
                        AND co.contype IN ('p', 'u', 'x'))
    UNION ALL
    SELECT CASE v.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END,
           v.qname, NULL,
           concat_ws(' ', pg_get_viewdef(v.oid),
                     'owner ' || quote_ident(pg_get_userbyid(v.relowner)),
                     'with ' || v.reloptions::text, 'acl ' || v.relacl::text)
    FROM rel v WHERE v.relkind IN ('v', 'm')
    UNION ALL
    -- a sequence of an identity column is the column's
    SELECT 'sequence', s.qname, NULL,
           concat_ws(' ', 'as', sq.seqtypid::regtype::text,
                     'increment', sq.seqincrement, 'minvalue', sq.seqmin,
                     'maxvalue', sq.seqmax, 'start', sq.seqstart,
                     'cache', sq.seqcache, CASE WHEN sq.seqcycle THEN 'cycle' END,
                     CASE WHEN s.relpersistence = 'u' THEN 'unlogged' END,
                     'owned by ' || (SELECT d.refobjid::regclass::text || '.'
                                         || quote_ident(a.attname)
                                  FROM pg_depend d
                                  JOIN pg_attribute a ON a.attrelid = d.refobjid
                                                     AND a.attnum = d.refobjsubid
                                  WHERE d.classid = 'pg_class'::regclass
                                    AND d.objid = s.oid AND d.deptype = 'a'
                                    AND d.refclassid = 'pg_class'::regclass
                                  LIMIT 1),
                     'owner ' || quote_ident(pg_get_userbyid(s.relowner)),
                     'acl ' || s.relacl::text)
    FROM rel s JOIN pg_sequence sq ON sq.seqrelid = s.oid
    WHERE s.relkind = 'S'
      AND NOT EXISTS (SELECT FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass
                        AND d.objid = s.oid AND d.deptype = 'i')
      -- nor that of a serial column of another tool's tracking table
      AND NOT EXISTS (SELECT FROM pg_depend d
                      JOIN pg_class t ON t.oid = d.refobjid
                      WHERE d.classid = 'pg_class'::regclass
                        AND d.objid = s.oid AND d.deptype = 'a'
                        AND d.refclassid = 'pg_class'::regclass
                        AND t.relkind IN ('r', 'p')
                        AND t.relname IN ('schema_migrations', 'flyway_schema_history',
                                          '__drizzle_migrations'))
    UNION ALL
    SELECT (pg_identify_object('pg_proc'::regclass, p.oid, 0)).type,
           (pg_identify_object('pg_proc'::regclass, p.oid, 0)).identity,
           NULL,
           concat_ws(' ',
                     CASE WHEN p.prokind = 'a'
                          THEN (SELECT ag::text FROM pg_aggregate ag
                                WHERE ag.aggfnoid = p.oid)
                          ELSE pg_get_functiondef(p.oid) END,
                     'owner ' || quote_ident(pg_get_userbyid(p.proowner)),
                     'acl ' || p.proacl::text)
    FROM pg_proc p JOIN nsp ON nsp.oid = p.pronamespace
    WHERE NOT EXISTS (SELECT FROM ext WHERE ext.classid = 'pg_proc'::regclass
                                        AND ext.objid = p.oid)
    UNION ALL
    SELECT 'trigger', quote_ident(tg.tgname) || ' on ' || tbl.qname,
           tbl.kind || ' ' || tbl.qname,
           concat_ws(' ', pg_get_triggerdef(tg.oid),
                     CASE tg.tgenabled WHEN 'D' THEN 'disabled'
                                       WHEN 'R' THEN 'enabled replica'
                                       WHEN 'A' THEN 'enabled always' END)
    FROM pg_trigger tg JOIN tbl ON tbl.oid = tg.tgrelid
    WHERE NOT tg.tgisinternal
    UNION ALL
    SELECT 'policy', quote_ident(po.polname) || ' on ' || tbl.qname,
           tbl.kind || ' ' || tbl.qname,
           concat_ws(' ',
                     CASE WHEN po.polpermissive THEN 'permissive' ELSE 'restrictive' END,
                     'for', po.polcmd,
                     'to ' || (SELECT string_agg(r.name, ', ' ORDER BY r.name)
                               FROM (SELECT CASE u WHEN 0 THEN 'public'
                                            ELSE quote_ident(pg_get_userbyid(u)) END
                                     FROM unnest(po.polroles) u) r(name)),
                     'using ' || pg_get_expr(po.polqual, po.polrelid),
                     'with check ' || pg_get_expr(po.polwithcheck, po.polrelid))
    FROM pg_policy po JOIN tbl ON tbl.oid = po.polrelid
    UNION ALL
    -- enums, domains, composite and range types; not the types that come
    -- with a table or a range (its array, row and multirange types)
    SELECT 'type', nsp.qname || '.' || quote_ident(t.typname), NULL,
           concat_ws(' ',
                     CASE t.typtype
                         WHEN 'e' THEN 'enum (' || (SELECT string_agg(quote_literal(e.enumlabel), ', '
                                                                      ORDER BY e.enumsortorder)
                                                    FROM pg_enum e WHERE e.enumtypid = t.oid) || ')'
                         WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod)
                             || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END
                             || coalesce(' default ' || t.typdefault, '')
                         WHEN 'c' THEN '(' || (SELECT string_agg(quote_ident(a.attname) || ' '
                                                                 || format_type(a.atttypid, a.atttypmod),
                                                                 ', ' ORDER BY a.attnum)
                                               FROM pg_attribute a
                                               WHERE a.attrelid = t.typrelid AND a.attnum > 0
                                                 AND NOT a.attisdropped) || ')'
                         WHEN 'r' THEN (SELECT 'range of ' || format_type(r.rngsubtype, NULL)
                                        FROM pg_range r WHERE r.rngtypid = t.oid)
                         ELSE t.typtype::text END,
                     'owner ' || quote_ident(pg_get_userbyid(t.typowner)),
                     'acl ' || t.typacl::text)
    FROM pg_type t JOIN nsp ON nsp.oid = t.typnamespace
    WHERE (t.typtype IN ('e', 'd', 'r')
           OR (t.typtype = 'c'
               AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
           -- a base type, not an array (whose element type is the object)
           OR (t.typtype = 'b' AND NOT (t.typelem <> 0 AND t.typlen = -1)))
      AND NOT EXISTS (SELECT FROM ext WHERE ext.classid = 'pg_type'::regclass
                                        AND ext.objid = t.oid)
)
SELECT o.object_type, o.object_identity, o.parent, md5(o.definition), o.definition
FROM objects o
$fingerprint$;

REVOKE ALL ON FUNCTION migrate.schema_objects() FROM PUBLIC;

COMMENT ON FUNCTION migrate.schema_objects() IS
    'every object of the schemas migrations touch, with its canonical definition and its MD5: what the fingerprint keeps';

-- The fingerprint: schema_objects() as it was after the last migration
-- (apply, run, rollback, baseline, mark_applied), less the objects that
-- had drifted before it, which keep the row they had so that their drift
-- still shows.
CREATE TABLE migrate.fingerprint (
    object_type     text NOT NULL,
    object_identity text NOT NULL,
    parent          text,
    digest          text NOT NULL,
    definition      text NOT NULL,
    PRIMARY KEY (object_type, object_identity)
);

COMMENT ON TABLE migrate.fingerprint IS
    'pg_migrate: each object of the schemas migrations touch as it was after the last migration; written by the migrate.* functions';

SELECT pg_catalog.pg_extension_config_dump('migrate.fingerprint', '');

-- A database updated with migrations applied: drift starts from the
-- schema as it is at the update.  Not on CREATE EXTENSION, fresh or by
-- pg_restore (whose data, the fingerprint's rows included, come after it):
-- there the first migration takes it.
INSERT INTO migrate.fingerprint
SELECT * FROM migrate.schema_objects()
WHERE EXISTS (SELECT FROM migrate.migrations);

-- The objects that changed since the last migration.  changed_by and
-- changed_at come from the DDL log where it knows the change.
CREATE FUNCTION migrate.drift()
RETURNS TABLE (object_type text, object_identity text, change text,
               description text, changed_by text, changed_at timestamptz)
AS 'MODULE_PATHNAME', 'migrate_drift'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.drift() IS
    'the objects of the schemas migrations touch that were added, removed or changed since the last migration';

REVOKE ALL ON FUNCTION migrate.drift() FROM PUBLIC;
