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
-- joined.  With schemas (names as quote_ident() writes them), only the
-- objects of those schemas: what a migration's DDL log rows name
-- (doc/reference.md, "What the fingerprint costs").  schema_name is the
-- object's schema, as quote_ident() writes it; refs the other schemas
-- whose objects it depends on (pg_depend), whose renaming or dropping can
-- change or drop it too.
CREATE FUNCTION migrate.schema_objects(
    schemas text[] DEFAULT NULL,
    OUT object_type text, OUT object_identity text, OUT parent text,
    OUT digest text, OUT definition text, OUT schema_name text,
    OUT refs text[])
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
-- compiling this query costs more than running it
SET jit = off
AS $fingerprint$
WITH nsp AS MATERIALIZED (
    SELECT n.oid, quote_ident(n.nspname) AS qname
    FROM pg_namespace n
    -- no user schema is named pg_*: those are the system's, pg_toast and
    -- the temporary ones (pg_temp_N, pg_toast_temp_N) included
    WHERE n.nspname <> 'information_schema'
      AND n.nspname NOT LIKE 'pg\_%'
      AND (schemas IS NULL OR quote_ident(n.nspname) = ANY (schemas))
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
           c.relispartition, c.relpartbound, nsp.qname AS nspname,
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
-- dep_class, dep_obj and dep_sub (null: any) name the object in
-- pg_depend, and dep_class2 and dep_obj2 a second part of it (a column's
-- default, a composite type's attributes), for refs
objects(object_type, object_identity, parent, definition, nspname,
        dep_class, dep_obj, dep_sub, dep_class2, dep_obj2) AS (
    SELECT 'schema', nsp.qname, NULL,
           concat_ws(' ', 'owner ' || quote_ident(pg_get_userbyid(n.nspowner)),
                     'acl ' || n.nspacl::text),
           nsp.qname, NULL::regclass, NULL::oid, NULL::int, NULL::regclass, NULL::oid
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
                     'acl ' || tbl.relacl::text),
           tbl.nspname, 'pg_class'::regclass, tbl.oid, 0, NULL, NULL
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
                     'acl ' || a.attacl::text),
           tbl.nspname, 'pg_class'::regclass, tbl.oid, a.attnum::int,
           'pg_attrdef'::regclass, ad.oid
    FROM tbl
    JOIN pg_attribute a ON a.attrelid = tbl.oid AND a.attnum > 0 AND NOT a.attisdropped
    JOIN pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    UNION ALL
    -- NOT NULL is the column's (PostgreSQL 18 also makes it a constraint)
    SELECT 'table constraint', quote_ident(co.conname) || ' on ' || tbl.qname,
           tbl.kind || ' ' || tbl.qname,
           pg_get_constraintdef(co.oid),
           tbl.nspname, 'pg_constraint'::regclass, co.oid, NULL, NULL, NULL
    FROM pg_constraint co JOIN tbl ON tbl.oid = co.conrelid
    WHERE co.contype <> 'n'
    UNION ALL
    SELECT 'domain constraint',
           quote_ident(co.conname) || ' on ' || nsp.qname || '.' || quote_ident(t.typname),
           'type ' || nsp.qname || '.' || quote_ident(t.typname),
           pg_get_constraintdef(co.oid),
           nsp.qname, 'pg_constraint'::regclass, co.oid, NULL, NULL, NULL
    FROM pg_constraint co
    JOIN pg_type t ON t.oid = co.contypid
    JOIN nsp ON nsp.oid = t.typnamespace
    WHERE co.contype <> 'n'
    UNION ALL
    -- the index of a primary key, unique or exclusion constraint is the
    -- constraint's; whether an index is valid or clustered is its state,
    -- not the schema's
    SELECT 'index', ix.qname, tbl.kind || ' ' || tbl.qname,
           pg_get_indexdef(ix.oid),
           ix.nspname, 'pg_class'::regclass, ix.oid, NULL, NULL, NULL
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
                     'with ' || v.reloptions::text, 'acl ' || v.relacl::text),
           v.nspname, 'pg_rewrite'::regclass,
           (SELECT r.oid FROM pg_rewrite r
            WHERE r.ev_class = v.oid AND r.rulename = '_RETURN'),
           NULL, 'pg_class'::regclass, v.oid
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
                     'acl ' || s.relacl::text),
           s.nspname, 'pg_class'::regclass, s.oid, NULL, NULL, NULL
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
                     'acl ' || p.proacl::text),
           nsp.qname, 'pg_proc'::regclass, p.oid, NULL, NULL, NULL
    FROM pg_proc p JOIN nsp ON nsp.oid = p.pronamespace
    WHERE NOT EXISTS (SELECT FROM ext WHERE ext.classid = 'pg_proc'::regclass
                                        AND ext.objid = p.oid)
    UNION ALL
    SELECT 'trigger', quote_ident(tg.tgname) || ' on ' || tbl.qname,
           tbl.kind || ' ' || tbl.qname,
           concat_ws(' ', pg_get_triggerdef(tg.oid),
                     CASE tg.tgenabled WHEN 'D' THEN 'disabled'
                                       WHEN 'R' THEN 'enabled replica'
                                       WHEN 'A' THEN 'enabled always' END),
           tbl.nspname, 'pg_trigger'::regclass, tg.oid, NULL, NULL, NULL
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
                     'with check ' || pg_get_expr(po.polwithcheck, po.polrelid)),
           tbl.nspname, 'pg_policy'::regclass, po.oid, NULL, NULL, NULL
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
                     'acl ' || t.typacl::text),
           nsp.qname, 'pg_type'::regclass, t.oid, NULL,
           CASE WHEN t.typrelid <> 0 THEN 'pg_class'::regclass END, t.typrelid
    FROM pg_type t JOIN nsp ON nsp.oid = t.typnamespace
    WHERE (t.typtype IN ('e', 'd', 'r')
           OR (t.typtype = 'c'
               AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
           -- a base type, not an array (whose element type is the object)
           OR (t.typtype = 'b' AND NOT (t.typelem <> 0 AND t.typlen = -1)))
      AND NOT EXISTS (SELECT FROM ext WHERE ext.classid = 'pg_type'::regclass
                                        AND ext.objid = t.oid)
)
SELECT o.object_type, o.object_identity, o.parent, md5(o.definition),
       o.definition, o.nspname,
       -- the user objects it depends on, in other schemas (an object whose
       -- OID is below FirstNormalObjectId is the system's)
       (SELECT array_agg(DISTINCT quote_ident(rn.nspname))
        FROM pg_depend d
        CROSS JOIN LATERAL (SELECT CASE d.refclassid
                 WHEN 'pg_class'::regclass
                 THEN (SELECT c.relnamespace FROM pg_class c WHERE c.oid = d.refobjid)
                 WHEN 'pg_type'::regclass
                 THEN (SELECT t.typnamespace FROM pg_type t WHERE t.oid = d.refobjid)
                 WHEN 'pg_proc'::regclass
                 THEN (SELECT p.pronamespace FROM pg_proc p WHERE p.oid = d.refobjid)
                 WHEN 'pg_collation'::regclass
                 THEN (SELECT c.collnamespace FROM pg_collation c WHERE c.oid = d.refobjid)
                 WHEN 'pg_operator'::regclass
                 THEN (SELECT op.oprnamespace FROM pg_operator op WHERE op.oid = d.refobjid)
                 WHEN 'pg_constraint'::regclass
                 THEN (SELECT co.connamespace FROM pg_constraint co WHERE co.oid = d.refobjid)
             END AS oid) r
        JOIN pg_namespace rn ON rn.oid = r.oid
        -- (a class paired with the other part's OID finds nothing, or
        -- after OID wraparound another object: a schema too many at worst)
        WHERE d.classid IN (o.dep_class, o.dep_class2)
          AND d.objid IN (o.dep_obj, o.dep_obj2)
          AND (d.classid = o.dep_class2 OR o.dep_sub IS NULL OR d.objsubid = o.dep_sub)
          AND d.refobjid >= 16384
          AND d.refclassid <> 'pg_namespace'::regclass
          AND r.oid <> o.nspoid)
FROM (SELECT ob.*, (SELECT n.oid FROM nsp n WHERE n.qname = ob.nspname) AS nspoid
      FROM objects ob) o
$fingerprint$;

REVOKE ALL ON FUNCTION migrate.schema_objects(text[]) FROM PUBLIC;

COMMENT ON FUNCTION migrate.schema_objects(text[]) IS
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
    schema_name     text,
    refs            text[],
    PRIMARY KEY (object_type, object_identity)
);

-- a take after a migration rewrites the rows of the schemas it touched,
-- and of those whose objects depend on them (refs)
CREATE INDEX fingerprint_schema_name ON migrate.fingerprint (schema_name);
CREATE INDEX fingerprint_refs ON migrate.fingerprint USING gin (refs);

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


-------------------------------------------------------------------------
-- who changed what: drift()'s changed_by and changed_at, accept_drift()
-- and blame() (issue 17, section 4)
--
-- The DDL log names a command's object as pg_event_trigger_ddl_commands()
-- does, and that is not always the object that changed: ALTER TABLE ...
-- ADD COLUMN / ADD CONSTRAINT / ENABLE ROW LEVEL SECURITY is logged against
-- the table, GRANT and REVOKE against nothing.  So a row concerns an object
-- when it names the object itself, or names its table (or nothing) and its
-- statement mentions the object's name as a word.  See doc/reference.md,
-- "Who changed what".
-------------------------------------------------------------------------

-- Out-of-band rows whose change was acknowledged with accept_drift():
-- drift() no longer names them, and they are not to be captured.
ALTER TABLE migrate.ddl_log ADD COLUMN accepted boolean NOT NULL DEFAULT false;

COMMENT ON COLUMN migrate.ddl_log.accepted IS
    'out_of_band: the change was acknowledged with migrate.accept_drift()';

-- The migration migrate.capture() made of a row (below): a row captured
-- is no longer waiting for one, and drift() no longer names it.
ALTER TABLE migrate.ddl_log ADD COLUMN captured_as text;

COMMENT ON COLUMN migrate.ddl_log.captured_as IS
    'the migration migrate.capture() made of this out-of-band statement, or null';

-- drift() looks up the out-of-band rows not yet accepted, a few among many
CREATE INDEX ddl_log_out_of_band ON migrate.ddl_log (id)
    WHERE origin = 'out_of_band' AND NOT accepted;

ALTER TABLE migrate.history DROP CONSTRAINT history_action_check;
ALTER TABLE migrate.history ADD CONSTRAINT history_action_check
    CHECK (action IN ('apply', 'adopt', 'rollback', 'baseline', 'mark_applied',
                      'forget', 'accept', 'failure', 'retry', 'refused',
                      'lint_allowed', 'tool_record', 'tool_forget',
                      'accept_drift', 'capture'));

-- An object's own name, unquoted, from its identity as schema_objects()
-- and the DDL log write it: "c" for the column public.t.c, the constraint,
-- trigger or policy "c on public.t", the function public.c(integer).
-- The bodies of these helpers name everything with its schema: callers
-- inline them into their own queries, whatever the search_path.
CREATE FUNCTION migrate.object_name(object_type text, object_identity text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $name$
SELECT CASE WHEN object_type OPERATOR(pg_catalog.~) '(constraint|trigger|policy|rule)$'
            THEN (pg_catalog.parse_ident(object_identity, false))[1]
            ELSE (pg_catalog.parse_ident(object_identity, false))
                 [pg_catalog.array_upper(pg_catalog.parse_ident(object_identity, false), 1)] END
$name$;

-- Whether a statement mentions a name, as a word, whatever its case (the
-- plain search first: a regular expression per name and row is slow)
CREATE FUNCTION migrate.mentions(statement text, name text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $mentions$
SELECT pg_catalog.strpos(pg_catalog.lower(statement), pg_catalog.lower(name)) OPERATOR(pg_catalog.>) 0
   AND statement OPERATOR(pg_catalog.~*)
       ('(^|[^[:alnum:]_$])'
        OPERATOR(pg_catalog.||) pg_catalog.regexp_replace(name, '([^[:alnum:]_])', '\\\1', 'g')
        OPERATOR(pg_catalog.||) '($|[^[:alnum:]_$])')
$mentions$;

-- Whether a DDL log row (its object identity and statement) concerns an
-- object of schema_objects() (type, identity and parent, "type identity"
-- of its table or type), for blame(); ddl_log_changes() says the same for
-- many objects at once.  The comparisons come first, the text search last.
CREATE FUNCTION migrate.ddl_log_concerns(log_identity text, log_statement text,
                                         object_type text, object_identity text,
                                         parent text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $concerns$
SELECT coalesce(log_identity OPERATOR(pg_catalog.=) object_identity, false)
    OR (parent IS NOT NULL
        AND coalesce(parent OPERATOR(pg_catalog.=) ('table ' OPERATOR(pg_catalog.||) log_identity)
                     OR parent OPERATOR(pg_catalog.=) ('foreign table ' OPERATOR(pg_catalog.||) log_identity)
                     OR parent OPERATOR(pg_catalog.=) ('type ' OPERATOR(pg_catalog.||) log_identity),
                     log_identity IS NULL)
        AND migrate.mentions(log_statement, migrate.object_name(object_type, object_identity))
        AND (log_identity IS NOT NULL
             OR migrate.mentions(log_statement,
                                 migrate.object_name('table',
                                     pg_catalog.regexp_replace(parent, '^(foreign table|table|type) ', '')))))
    OR (parent IS NULL AND log_identity IS NULL
        AND migrate.mentions(log_statement, migrate.object_name(object_type, object_identity)))
$concerns$;

-- The out-of-band DDL log rows, not accepted and logged after the last
-- baseline or mark_applied (which take the whole schema as it is), that
-- concern each of a list of objects (types, identities, parents as
-- schema_objects() gives them): pairs of the object's place in the list
-- and the row's id.  What ddl_log_concerns() says for one object, for many
-- at once: the statements are cut into words once and joined with the
-- objects' names, so that drift() and accept_drift() stay fast with a
-- thousand drifted objects and as many rows.
CREATE FUNCTION migrate.ddl_log_changes(object_types text[], object_identities text[],
                                        parents text[])
RETURNS TABLE (n integer, log_id bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $changes$
WITH o AS MATERIALIZED (
    SELECT o.n::integer AS n, o.i AS identity, o.parent_identity,
           lower(migrate.object_name(o.t, o.i)) AS name,
           lower(migrate.object_name('table', o.parent_identity)) AS table_name
    FROM (SELECT o.*, regexp_replace(o.p, '^(foreign table|table|type) ', '') AS parent_identity
          FROM unnest(object_types, object_identities, parents) WITH ORDINALITY o(t, i, p, n)) o
),
l AS MATERIALIZED (
    SELECT l.id, l.object_identity, l.statement
    FROM migrate.ddl_log l
    WHERE l.origin = 'out_of_band' AND NOT l.accepted AND l.captured_as IS NULL
      AND l.logged_at > coalesce((SELECT max(h.performed_at) FROM migrate.history h
                                  WHERE h.action IN ('baseline', 'mark_applied')),
                                 '-infinity')
),
-- the words of the statements logged against a drifted object's table, or
-- against no object (GRANT, REVOKE)
w AS MATERIALIZED (
    SELECT l.id, l.object_identity, w.word
    FROM l, regexp_split_to_table(lower(l.statement), '[^[:alnum:]_$]+') w(word)
    WHERE l.object_identity IS NULL
       OR l.object_identity IN (SELECT o.parent_identity FROM o)
)
SELECT o.n, l.id FROM o JOIN l ON l.object_identity = o.identity
UNION
-- logged against its table, or against nothing for an object of no table
-- (joined on equalities alone, so that the join is hashed)
SELECT o.n, w.id FROM o
JOIN w ON coalesce(w.object_identity, '') = coalesce(o.parent_identity, '')
      AND w.word = o.name
UNION
SELECT o.n, w.id
FROM o JOIN w ON w.word = o.name
JOIN w t ON t.id = w.id AND t.word = o.table_name
WHERE w.object_identity IS NULL
$changes$;

REVOKE ALL ON FUNCTION migrate.object_name(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.mentions(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.ddl_log_concerns(text, text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.ddl_log_changes(text[], text[], text[]) FROM PUBLIC;

-- Acknowledge drift that is intended: the fingerprint takes the objects as
-- they are, history logs one 'accept_drift' row for each, and their
-- out-of-band DDL log rows are marked accepted
CREATE FUNCTION migrate.accept_drift(objects text[] DEFAULT NULL)
RETURNS TABLE (object_type text, object_identity text, change text)
AS 'MODULE_PATHNAME', 'migrate_accept_drift'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.accept_drift(text[]) IS
    'acknowledge drift that is intended without a migration: the objects named (all of drift() when NULL) are taken into the fingerprint';

REVOKE ALL ON FUNCTION migrate.accept_drift(text[]) FROM PUBLIC;

-- Lookups that give NULL rather than an error for a name that is not
-- valid (to_regclass() raises one for "a.b.c.d" before PostgreSQL 16);
-- the search_path is the caller's, so every name in them is qualified
CREATE FUNCTION migrate.try_parse_ident(name text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN parse_ident(name); EXCEPTION WHEN OTHERS THEN RETURN NULL; END $$;

CREATE FUNCTION migrate.try_regclass(name text) RETURNS regclass
LANGUAGE plpgsql STABLE
AS $$ BEGIN RETURN pg_catalog.to_regclass(name); EXCEPTION WHEN OTHERS THEN RETURN NULL; END $$;

CREATE FUNCTION migrate.try_regproc(name text) RETURNS regproc
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF pg_catalog.strpos(name, '(') OPERATOR(pg_catalog.>) 0 THEN
        RETURN pg_catalog.to_regprocedure(name)::pg_catalog.oid::pg_catalog.regproc;
    END IF;
    RETURN pg_catalog.to_regproc(name);
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;

CREATE FUNCTION migrate.try_regtype(name text) RETURNS regtype
LANGUAGE plpgsql STABLE
AS $$ BEGIN RETURN pg_catalog.to_regtype(name); EXCEPTION WHEN OTHERS THEN RETURN NULL; END $$;

REVOKE ALL ON FUNCTION migrate.try_parse_ident(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.try_regclass(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.try_regproc(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.try_regtype(text) FROM PUBLIC;

-- The history of one object: the DDL log's rows that concern it (and, for
-- a table or view, those of its columns, indexes, constraints, triggers and
-- policies), then, for migrations the log has no row of because they were
-- applied before it existed or its rows were pruned, or were recorded
-- without running (baseline, mark_applied, adopt), those whose up script
-- mentions the object: origin 'migration_script'.  The object is named as
-- drift() and pg_identify_object() print it, or as psql would resolve it
-- (see doc/reference.md, "migrate.blame").
CREATE FUNCTION migrate.blame(object text,
                              search_path text DEFAULT pg_catalog.current_setting('search_path'))
RETURNS TABLE (logged_at timestamptz, origin text, migration text,
               command_tag text, object_type text, object_identity text,
               statement text, session_user_name text,
               current_user_name text, application_name text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $blame$
DECLARE
    o_type     text;
    o_identity text;
    o_parent   text;
    o_table    text;
    o_name     text;
    children   text[];
    parts      text[];
    on_parts   text[];
    col_prefix text;
    rel        regclass;
    col_rel    regclass;
    on_rel     regclass;
    fn         regproc;
    typ        regtype;
    known      boolean := true;
    first_log  timestamptz;
BEGIN
    IF object IS NULL THEN
        RAISE EXCEPTION 'argument "object" must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    -- as drift() prints it: the identity, or the type and the identity
    SELECT s.object_type, s.object_identity, s.parent
      INTO o_type, o_identity, o_parent
    FROM (SELECT s.object_type, s.object_identity, s.parent, 1 AS pref
          FROM migrate.schema_objects() s
          UNION ALL
          SELECT f.object_type, f.object_identity, f.parent, 2
          FROM migrate.fingerprint f) s
    WHERE s.object_identity = object OR s.object_type || ' ' || s.object_identity = object
    ORDER BY s.pref, s.object_type LIMIT 1;

    -- as psql would resolve it through the caller's search_path (given
    -- as the default of the argument, evaluated before this function's
    -- own search_path is set): a relation, a column (table.column), a
    -- function with or without its argument types, a type, or "name on
    -- table" (constraint, trigger, policy).  Only these lookups, every name
    -- qualified, run under that search_path.
    IF o_identity IS NULL THEN
        parts := migrate.try_parse_ident(object);
        on_parts := migrate.try_parse_ident(split_part(object, ' on ', 1));
        col_prefix := array_to_string(ARRAY(SELECT quote_ident(p)
                                            FROM unnest(parts[1:cardinality(parts) - 1]) p), '.');
        PERFORM pg_catalog.set_config('search_path', search_path, true);
        rel := migrate.try_regclass(object);
        col_rel := CASE WHEN pg_catalog.cardinality(parts) OPERATOR(pg_catalog.>=) 2
                        THEN migrate.try_regclass(col_prefix) END;
        fn := migrate.try_regproc(object);
        typ := migrate.try_regtype(object);
        on_rel := CASE WHEN object OPERATOR(pg_catalog.~~) '% on %'
                       THEN migrate.try_regclass(pg_catalog.substr(object,
                                pg_catalog.strpos(object, ' on ') OPERATOR(pg_catalog.+) 4)) END;
        PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);

        IF rel IS NOT NULL THEN
            SELECT i.type, i.identity INTO o_type, o_identity
            FROM pg_identify_object('pg_class'::regclass, rel, 0) i;
        ELSIF col_rel IS NOT NULL THEN
            o_type := 'table column';
            o_identity := (pg_identify_object('pg_class'::regclass, col_rel, 0)).identity
                          || '.' || quote_ident(parts[cardinality(parts)]);
            known := EXISTS (SELECT FROM pg_attribute a
                             WHERE a.attrelid = col_rel AND a.attnum > 0
                               AND NOT a.attisdropped
                               AND a.attname = parts[cardinality(parts)]);
        ELSIF fn IS NOT NULL THEN
            SELECT i.type, i.identity INTO o_type, o_identity
            FROM pg_identify_object('pg_proc'::regclass, fn, 0) i;
        ELSIF typ IS NOT NULL THEN
            SELECT i.type, i.identity INTO o_type, o_identity
            FROM pg_identify_object('pg_type'::regclass, typ, 0) i;
        ELSIF on_rel IS NOT NULL AND cardinality(on_parts) = 1 THEN
            o_identity := quote_ident(on_parts[1]) || ' on '
                          || (pg_identify_object('pg_class'::regclass, on_rel, 0)).identity;
            SELECT s.object_type INTO o_type
            FROM (SELECT s.object_type, s.object_identity FROM migrate.schema_objects() s
                  UNION ALL
                  SELECT l.object_type, l.object_identity FROM migrate.ddl_log l) s
            WHERE s.object_identity = o_identity LIMIT 1;
            known := o_type IS NOT NULL;
            o_type := coalesce(o_type, 'table constraint');
        END IF;
    END IF;

    -- gone from the catalog: as the DDL log names it, the search_path's
    -- schemas tried in order for a name without one
    IF o_identity IS NULL THEN
        SELECT l.object_type, l.object_identity INTO o_type, o_identity
        FROM migrate.ddl_log l
        LEFT JOIN unnest(string_to_array(replace(search_path, ' ', ''), ','))
                  WITH ORDINALITY s(nspname, n)
          ON l.object_identity = s.nspname || '.' || object
        WHERE l.object_identity = object OR s.n IS NOT NULL
        ORDER BY s.n NULLS FIRST, l.id DESC LIMIT 1;
    END IF;
    IF o_identity IS NULL THEN
        RAISE EXCEPTION 'object "%" does not exist', object
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'No object of the database has that name, and the DDL log has no row naming it.',
                  HINT = 'Name it as migrate.drift() prints it (public.users, public.users.email, public.f(integer), users_pkey on public.users), or as psql would find it through the search_path.';
    END IF;

    IF o_parent IS NULL THEN
        SELECT s.parent INTO o_parent
        FROM (SELECT s.object_type, s.object_identity, s.parent FROM migrate.schema_objects() s
              UNION ALL
              SELECT f.object_type, f.object_identity, f.parent FROM migrate.fingerprint f) s
        WHERE s.object_type = o_type AND s.object_identity = o_identity AND s.parent IS NOT NULL
        LIMIT 1;
    END IF;
    IF o_parent IS NULL AND o_type = 'table column' THEN
        o_parent := 'table ' || left(o_identity, length(o_identity) - length(quote_ident(migrate.object_name(o_type, o_identity))) - 1);
    ELSIF o_parent IS NULL AND o_identity LIKE '% on %' THEN
        o_parent := 'table ' || substr(o_identity, strpos(o_identity, ' on ') + 4);
    END IF;
    o_name := migrate.object_name(o_type, o_identity);
    o_table := regexp_replace(o_parent, '^(foreign table|table|type) ', '');

    -- a table's (or view's) indexes, constraints, triggers and policies,
    -- as they are and as the fingerprint has them
    IF o_type IN ('table', 'foreign table', 'view', 'materialized view') THEN
        -- (a primary key's, unique or exclusion constraint's index is the
        -- constraint's, and the log names it as an index of the same name)
        children := ARRAY(SELECT c.i
                          FROM (SELECT s.object_type, s.object_identity FROM migrate.schema_objects() s
                                WHERE s.parent = o_type || ' ' || o_identity
                                UNION
                                SELECT f.object_type, f.object_identity FROM migrate.fingerprint f
                                WHERE f.parent = o_type || ' ' || o_identity) o,
                          LATERAL (VALUES (o.object_identity),
                                          (CASE WHEN o.object_type = 'table constraint'
                                                THEN quote_ident((parse_ident(o_identity))[1]) || '.'
                                                     || quote_ident(migrate.object_name(o.object_type, o.object_identity))
                                           END)) c(i)
                          WHERE c.i IS NOT NULL);
    END IF;
    SELECT min(l.logged_at) INTO first_log FROM migrate.ddl_log l;

    RETURN QUERY
    SELECT b.logged_at, b.origin, b.migration, b.command_tag, b.object_type,
           b.object_identity, b.statement, b.session_user_name,
           b.current_user_name, b.application_name
    -- an out-of-band row captured names the migration made of it
    FROM (SELECT l.id, l.logged_at, l.origin, coalesce(l.migration, l.captured_as) AS migration,
                 l.command_tag,
                 l.object_type, l.object_identity, l.statement, l.session_user_name,
                 l.current_user_name, l.application_name
          FROM migrate.ddl_log l
          -- the statement's ddl_command_end row says it
          WHERE l.event <> 'table_rewrite'
            AND (migrate.ddl_log_concerns(l.object_identity, l.statement,
                                          o_type, o_identity, o_parent)
                 OR l.object_identity = ANY (children)
                 OR (children IS NOT NULL
                     AND (right(l.object_identity, length(o_identity) + 4) = ' on ' || o_identity
                          OR (l.object_type = 'table column'
                              AND left(l.object_identity, length(o_identity) + 1) = o_identity || '.')
                          -- an index made and dropped since: by its statement
                          OR (l.object_type = 'index' AND l.command_tag = 'CREATE INDEX'
                              AND l.statement ~* '^\s*create\s+(unique\s+)?index\M'
                              AND migrate.mentions(l.statement, o_name)))))
          UNION ALL
          SELECT NULL, m.applied_at, 'migration_script', m.name, NULL,
                 o_type, o_identity, NULL, NULL, m.applied_by, NULL
          FROM migrate.migrations m
          WHERE m.name NOT IN (SELECT l.migration FROM migrate.ddl_log l
                               WHERE l.migration IS NOT NULL)
            AND (first_log IS NULL OR m.applied_at < first_log
                 OR EXISTS (SELECT FROM migrate.history h
                            WHERE h.name = m.name
                              AND h.action IN ('baseline', 'mark_applied', 'adopt')))
            AND migrate.mentions(m.up_sql, o_name)
            AND (o_table IS NULL
                 OR migrate.mentions(m.up_sql, migrate.object_name('table', o_table)))) b
    ORDER BY b.logged_at, b.id;
    IF NOT FOUND AND NOT known THEN
        RAISE EXCEPTION 'object "%" does not exist', object
            USING ERRCODE = 'undefined_object',
                  DETAIL = format('Table %s has no such column, and the DDL log has no row about one.', o_table),
                  HINT = 'Name it as migrate.drift() prints it (public.users.email), or as psql would find it through the search_path (users.email).';
    END IF;
END
$blame$;

COMMENT ON FUNCTION migrate.blame(text, text) IS
    'the history of one object: the migrations and the out-of-band statements that created and changed it, with who and when';

REVOKE ALL ON FUNCTION migrate.blame(text, text) FROM PUBLIC;
-- end of who changed what


---------------------------------------------------------------------------
-- capture (issue 17, section 4): the DDL run outside migrations made into
-- a migration, recorded as applied, so that the repository catches up
-- with the database.  See doc/reference.md, "migrate.capture".
---------------------------------------------------------------------------

-- The name form: a plain migration of that name; the caller writes the
-- file it returns.  The files form (the pg_migrate command's): the next
-- migration of the folder sent, in its format, named after description;
-- it returns every file to write (drizzle: the journal too).
CREATE FUNCTION migrate.capture(name text, ids bigint[] DEFAULT NULL)
RETURNS TABLE (name text, file text, content text)
AS 'MODULE_PATHNAME', 'migrate_capture'
LANGUAGE C VOLATILE;

CREATE FUNCTION migrate.capture(files jsonb, description text,
                                ids bigint[] DEFAULT NULL,
                                format text DEFAULT 'auto',
                                source text DEFAULT NULL)
RETURNS TABLE (name text, file text, content text)
AS 'MODULE_PATHNAME', 'migrate_capture_files'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.capture(text, bigint[]) IS
    'record the DDL run outside migrations as an applied migration, and return its file';
COMMENT ON FUNCTION migrate.capture(jsonb, text, bigint[], text, text) IS
    'record the DDL run outside migrations as the next migration of a folder sent as data, and return the files to write';

REVOKE ALL ON FUNCTION migrate.capture(text, bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.capture(jsonb, text, bigint[], text, text) FROM PUBLIC;
-- end of capture
