\echo Use "ALTER EXTENSION pg_migrate UPDATE TO '0.6'" to load this file. \quit
-- pg_migrate 0.5 -> 0.6: databases of the cluster as tenants and the
-- tenant leftovers (issue 19), and migrated test databases cloned from
-- templates (issue 20).  Each part below is one block.

-- block: tenant databases (issue 19)
-- Databases of the cluster are tenants too: run_tenants and start_tenants
-- gain databases (an array of database names) and database_pattern (a LIKE
-- pattern on database names: '%' is every database that has pg_migrate),
-- each database migrated by a background worker logged in to it as the
-- caller.  Their argument lists change, so they are dropped and created
-- again; what was granted on them is granted again, so that deploy roles
-- keep their rights through the update.  A database tenant's row of
-- migrate.tenant_runs has its name in column database and '' in tenant.
SELECT pg_catalog.set_config('pg_migrate_upgrade.grants', coalesce(pg_catalog.string_agg(
           pg_catalog.format('GRANT EXECUTE ON %s %s TO %s',
                             CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
                             pg_catalog.regexp_replace(p.oid::pg_catalog.regprocedure::pg_catalog.text,
                                                       '\)$', ', text[], text)'),
                             CASE a.grantee WHEN 0 THEN 'PUBLIC'
                                            ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END),
           '; '), ''), true)
FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
WHERE p.oid IN ('migrate.run_tenants(text, text[], text, text, integer, integer, text, bigint, text, boolean, text, boolean)'::pg_catalog.regprocedure,
                'migrate.run_tenants(jsonb, text[], text, text, integer, integer, text, bigint, text, boolean, text, text, boolean)'::pg_catalog.regprocedure,
                'migrate.start_tenants(text, text[], text, text, integer, integer, text, text, boolean, text, boolean)'::pg_catalog.regprocedure,
                'migrate.start_tenants(jsonb, text[], text, text, integer, integer, text, text, boolean, text, text, boolean)'::pg_catalog.regprocedure)
  AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner;

DROP PROCEDURE migrate.run_tenants(text, text[], text, text, integer, integer, text, bigint, text, boolean, text, boolean);
DROP PROCEDURE migrate.run_tenants(jsonb, text[], text, text, integer, integer, text, bigint, text, boolean, text, text, boolean);
DROP FUNCTION migrate.start_tenants(text, text[], text, text, integer, integer, text, text, boolean, text, boolean);
DROP FUNCTION migrate.start_tenants(jsonb, text[], text, text, integer, integer, text, text, boolean, text, text, boolean);

CREATE PROCEDURE migrate.run_tenants(dir text,
                                     tenants text[] DEFAULT NULL,
                                     tenant_pattern text DEFAULT NULL,
                                     tenant_query text DEFAULT NULL,
                                     parallel integer DEFAULT 1,
                                     canary integer DEFAULT 0,
                                     on_failure text DEFAULT 'stop',
                                     INOUT run_id bigint DEFAULT NULL,
                                     format text DEFAULT 'auto',
                                     allow_drift boolean DEFAULT false,
                                     target text DEFAULT NULL,
                                     retry boolean DEFAULT false,
                                     databases text[] DEFAULT NULL,
                                     database_pattern text DEFAULT NULL)
AS 'MODULE_PATHNAME', 'migrate_run_tenants'
LANGUAGE C;

COMMENT ON PROCEDURE migrate.run_tenants(text, text[], text, text, integer, integer, text, bigint, text, boolean, text, boolean, text[], text) IS
    'apply every pending migration of a folder to each tenant schema or database, as migrate.run() would, canaries first, in parallel workers';

CREATE PROCEDURE migrate.run_tenants(files jsonb,
                                     tenants text[] DEFAULT NULL,
                                     tenant_pattern text DEFAULT NULL,
                                     tenant_query text DEFAULT NULL,
                                     parallel integer DEFAULT 1,
                                     canary integer DEFAULT 0,
                                     on_failure text DEFAULT 'stop',
                                     INOUT run_id bigint DEFAULT NULL,
                                     format text DEFAULT 'auto',
                                     allow_drift boolean DEFAULT false,
                                     source text DEFAULT NULL,
                                     target text DEFAULT NULL,
                                     retry boolean DEFAULT false,
                                     databases text[] DEFAULT NULL,
                                     database_pattern text DEFAULT NULL)
AS 'MODULE_PATHNAME', 'migrate_run_tenants_files'
LANGUAGE C;

COMMENT ON PROCEDURE migrate.run_tenants(jsonb, text[], text, text, integer, integer, text, bigint, text, boolean, text, text, boolean, text[], text) IS
    'apply every pending migration of a folder sent as data to each tenant schema or database, canaries first, in parallel workers';

CREATE FUNCTION migrate.start_tenants(dir text,
                                      tenants text[] DEFAULT NULL,
                                      tenant_pattern text DEFAULT NULL,
                                      tenant_query text DEFAULT NULL,
                                      parallel integer DEFAULT 1,
                                      canary integer DEFAULT 0,
                                      on_failure text DEFAULT 'stop',
                                      format text DEFAULT 'auto',
                                      allow_drift boolean DEFAULT false,
                                      target text DEFAULT NULL,
                                      retry boolean DEFAULT false,
                                      databases text[] DEFAULT NULL,
                                      database_pattern text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'migrate_start_tenants'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.start_tenants(text, text[], text, text, integer, integer, text, text, boolean, text, boolean, text[], text) IS
    'queue migrate.run_tenants() of a folder for a background worker; returns the run''s id at once';

CREATE FUNCTION migrate.start_tenants(files jsonb,
                                      tenants text[] DEFAULT NULL,
                                      tenant_pattern text DEFAULT NULL,
                                      tenant_query text DEFAULT NULL,
                                      parallel integer DEFAULT 1,
                                      canary integer DEFAULT 0,
                                      on_failure text DEFAULT 'stop',
                                      format text DEFAULT 'auto',
                                      allow_drift boolean DEFAULT false,
                                      source text DEFAULT NULL,
                                      target text DEFAULT NULL,
                                      retry boolean DEFAULT false,
                                      databases text[] DEFAULT NULL,
                                      database_pattern text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'migrate_start_tenants_files'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.start_tenants(jsonb, text[], text, text, integer, integer, text, text, boolean, text, text, boolean, text[], text) IS
    'queue migrate.run_tenants() of a folder sent as data for a background worker; returns the run''s id at once';

COMMENT ON COLUMN migrate.tenant_runs.tenant IS
    'the tenant schema; empty for a tenant database, which column database names';

REVOKE ALL ON PROCEDURE migrate.run_tenants(text, text[], text, text, integer, integer, text, bigint, text, boolean, text, boolean, text[], text) FROM PUBLIC;
REVOKE ALL ON PROCEDURE migrate.run_tenants(jsonb, text[], text, text, integer, integer, text, bigint, text, boolean, text, text, boolean, text[], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.start_tenants(text, text[], text, text, integer, integer, text, text, boolean, text, boolean, text[], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.start_tenants(jsonb, text[], text, text, integer, integer, text, text, boolean, text, text, boolean, text[], text) FROM PUBLIC;

DO $$
BEGIN
    IF pg_catalog.current_setting('pg_migrate_upgrade.grants') <> '' THEN
        EXECUTE pg_catalog.current_setting('pg_migrate_upgrade.grants');
    END IF;
END
$$;
-- end of block: tenant databases
-- block: test databases (issue 20)
-- Migrated test databases (see doc/reference.md, "Test databases"): each
-- is cloned from a template database built once per folder checksum and
-- role.  pg_database says what exists and who owns it; these rows add when
-- and from which folder, and which clones wait in a pool.  Written as the
-- extension's owner by the functions; read by anyone granted SELECT.
CREATE TABLE migrate.test_database_templates (
    name      text PRIMARY KEY,
    format    text NOT NULL,
    source    text,
    owner     oid NOT NULL,
    built_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE migrate.test_databases (
    name        text PRIMARY KEY,
    template    text NOT NULL,
    owner       oid NOT NULL,
    pooled      boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX test_databases_template ON migrate.test_databases (template, owner)
    WHERE pooled;

CREATE SEQUENCE migrate.test_database_seq;

COMMENT ON TABLE migrate.test_database_templates IS
    'templates migrate.test_database() built, one per folder checksum and role';
COMMENT ON TABLE migrate.test_databases IS
    'test databases migrate.test_database() made from this database, and those waiting in a pool';

SELECT pg_catalog.pg_extension_config_dump('migrate.test_database_templates', '');
SELECT pg_catalog.pg_extension_config_dump('migrate.test_databases', '');
SELECT pg_catalog.pg_extension_config_dump('migrate.test_database_seq', '');

REVOKE ALL ON migrate.test_database_templates FROM PUBLIC;
REVOKE ALL ON migrate.test_databases FROM PUBLIC;
REVOKE ALL ON SEQUENCE migrate.test_database_seq FROM PUBLIC;

CREATE FUNCTION migrate.test_database(dir text,
                                      format text DEFAULT 'auto',
                                      OUT name text,
                                      OUT connstr text,
                                      OUT template text,
                                      OUT from_pool boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'migrate_test_database'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.test_database(text, text) IS
    'a new database holding the folder''s schema and migration records, cloned from its template';

CREATE FUNCTION migrate.test_database(files jsonb,
                                      format text DEFAULT 'auto',
                                      source text DEFAULT NULL,
                                      OUT name text,
                                      OUT connstr text,
                                      OUT template text,
                                      OUT from_pool boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'migrate_test_database_files'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.test_database(jsonb, text, text) IS
    'a new database holding the schema and migration records of a folder sent as data, cloned from its template';

CREATE FUNCTION migrate.drop_test_databases(template text DEFAULT NULL,
                                            older_than interval DEFAULT NULL,
                                            templates boolean DEFAULT false)
RETURNS TABLE (name text, is_template boolean)
AS 'MODULE_PATHNAME', 'migrate_drop_test_databases'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.drop_test_databases(text, interval, boolean) IS
    'drop the caller''s test databases (of a template, older than an age), and with templates, their templates';

REVOKE ALL ON FUNCTION migrate.test_database(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.test_database(jsonb, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.drop_test_databases(text, interval, boolean) FROM PUBLIC;
-- end of block: test databases
-- block: tenant speed (issue 19)
-- migrate.schema_objects() of given schemas reads those schemas' objects
-- only, by the catalogs' indexes (pg_depend's on what is depended on
-- finds a schema's objects), where 0.3's read pg_depend, pg_class,
-- pg_type and pg_proc whole: a tenant's run reads its schema twice
-- (drift before, the fingerprint after), and its cost no longer grows
-- with the number of schemas.  Its plan is made once a session and kept
-- (PL/pgSQL, generic): planning the query cost more than running it for
-- one schema.  The rows are the same, byte for byte (46_tenant_leftovers
-- compares them with 0.5's).
CREATE OR REPLACE FUNCTION migrate.schema_objects(
    schemas text[] DEFAULT NULL,
    OUT object_type text, OUT object_identity text, OUT parent text,
    OUT digest text, OUT definition text, OUT schema_name text,
    OUT refs text[])
RETURNS SETOF record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
-- one plan for any schemas: it reads by index whatever their number
SET plan_cache_mode = force_generic_plan
AS $fingerprint$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH nsp AS MATERIALIZED (
        SELECT n.oid, quote_ident(n.nspname) AS qname
        FROM pg_namespace n
        -- given schemas are found by the index on the name (unquoted here;
        -- the exact test is the one below)
        WHERE n.oid = ANY (CASE WHEN schemas IS NULL
                                THEN ARRAY(SELECT a.oid FROM pg_namespace a)
                                ELSE ARRAY(SELECT a.oid FROM pg_namespace a
                                           WHERE a.nspname = ANY (ARRAY(
                                               SELECT CASE WHEN s LIKE '"%"'
                                                           THEN replace(substr(s, 2, length(s) - 2), '""', '"')
                                                           ELSE s END
                                               FROM unnest(schemas) s)::name[])) END)
          -- no user schema is named pg_*: those are the system's, pg_toast and
          -- the temporary ones (pg_temp_N, pg_toast_temp_N) included
          AND n.nspname <> 'information_schema'
          AND n.nspname NOT LIKE 'pg\_%'
          AND (schemas IS NULL OR quote_ident(n.nspname) = ANY (schemas))
          AND NOT EXISTS (SELECT FROM pg_extension e
                          WHERE e.extname = 'pg_migrate' AND e.extnamespace = n.oid)
          AND NOT EXISTS (SELECT FROM pg_depend d
                          WHERE d.classid = 'pg_namespace'::regclass
                            AND d.objid = n.oid AND d.deptype = 'e')
    ),
    -- The objects of those schemas, found by pg_depend's index on what is
    -- depended on: every table, view, sequence, function and type depends on
    -- its schema there, but the types that come with a table or another type
    -- (row and array types).  Every other object is found from these by an
    -- index (an index by its table, a column, constraint, trigger or policy
    -- by its table or domain): no catalog is read whole, and one schema's
    -- objects cost the same among ten schemas or ten thousand.
    member AS MATERIALIZED (
        SELECT DISTINCT d.classid, d.objid, nsp.oid AS nspoid, nsp.qname
        FROM nsp JOIN pg_depend d ON d.refclassid = 'pg_namespace'::regclass
                                 AND d.refobjid = nsp.oid
    ),
    rel AS MATERIALIZED (
        SELECT c.oid, c.relkind, c.relname, c.relowner, c.relacl, c.reloptions,
               c.relpersistence, c.relrowsecurity, c.relforcerowsecurity,
               c.relispartition, c.relpartbound, m.nspoid, m.qname AS nspname,
               m.qname || '.' || quote_ident(c.relname) AS qname
        FROM member m JOIN pg_class c ON c.oid = m.objid AND c.relnamespace = m.nspoid
        WHERE m.classid = 'pg_class'::regclass
          AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
          -- members of other extensions change with ALTER EXTENSION, not by hand
          AND NOT EXISTS (SELECT FROM pg_depend e
                          WHERE e.classid = 'pg_class'::regclass
                            AND e.objid = c.oid AND e.deptype = 'e')
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
               quote_ident(co.conname) || ' on ' || m.qname || '.' || quote_ident(t.typname),
               'type ' || m.qname || '.' || quote_ident(t.typname),
               pg_get_constraintdef(co.oid),
               m.qname, 'pg_constraint'::regclass, co.oid, NULL, NULL, NULL
        FROM member m
        JOIN pg_type t ON t.oid = m.objid AND t.typnamespace = m.nspoid
        JOIN pg_constraint co ON co.contypid = t.oid
        WHERE m.classid = 'pg_type'::regclass
          AND co.contype <> 'n'
        UNION ALL
        -- the index of a primary key, unique or exclusion constraint is the
        -- constraint's; whether an index is valid or clustered is its state,
        -- not the schema's.  An index is in its table's schema.
        SELECT 'index', tbl.nspname || '.' || quote_ident(ix.relname),
               tbl.kind || ' ' || tbl.qname,
               pg_get_indexdef(ix.oid),
               tbl.nspname, 'pg_class'::regclass, ix.oid, NULL, NULL, NULL
        FROM tbl
        JOIN pg_index i ON i.indrelid = tbl.oid
        JOIN pg_class ix ON ix.oid = i.indexrelid AND ix.relnamespace = tbl.nspoid
        WHERE ix.relkind IN ('i', 'I')
          AND NOT EXISTS (SELECT FROM pg_depend e
                          WHERE e.classid = 'pg_class'::regclass
                            AND e.objid = ix.oid AND e.deptype = 'e')
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
               m.qname, 'pg_proc'::regclass, p.oid, NULL, NULL, NULL
        FROM member m JOIN pg_proc p ON p.oid = m.objid AND p.pronamespace = m.nspoid
        WHERE m.classid = 'pg_proc'::regclass
          AND NOT EXISTS (SELECT FROM pg_depend e
                          WHERE e.classid = 'pg_proc'::regclass
                            AND e.objid = p.oid AND e.deptype = 'e')
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
        SELECT 'type', m.qname || '.' || quote_ident(t.typname), NULL,
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
               m.qname, 'pg_type'::regclass, t.oid, NULL,
               CASE WHEN t.typrelid <> 0 THEN 'pg_class'::regclass END, t.typrelid
        FROM member m JOIN pg_type t ON t.oid = m.objid AND t.typnamespace = m.nspoid
        WHERE m.classid = 'pg_type'::regclass
          AND (t.typtype IN ('e', 'd', 'r')
               OR (t.typtype = 'c'
                   AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
               -- a base type, not an array (whose element type is the object)
               OR (t.typtype = 'b' AND NOT (t.typelem <> 0 AND t.typlen = -1)))
          AND NOT EXISTS (SELECT FROM pg_depend e
                          WHERE e.classid = 'pg_type'::regclass
                            AND e.objid = t.oid AND e.deptype = 'e')
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
              -- (a schema is its quoted name's only)
              AND quote_ident(rn.nspname) <> o.nspname)
    FROM objects o;
END
$fingerprint$;

-- migrate.start()'s runs, queued and finished, are kept by pg_dump as
-- the tenants' outcomes and the run ids are
SELECT pg_catalog.pg_extension_config_dump('migrate.run_jobs', '');
-- end of block: tenant speed
