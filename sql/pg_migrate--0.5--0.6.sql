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
