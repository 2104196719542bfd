\echo Use "ALTER EXTENSION pg_migrate UPDATE TO '0.5'" to load this file. \quit
-- pg_migrate 0.4 -> 0.5: runs the server owns (detached runs, their
-- progress and resume), safe lock defaults, tenants, and the command's
-- whole surface (issue 19).  Each part below is one block.

-- ==== tenants: every tenant in one call (issue 19 section 3) ====

-- A tenant is a schema whose migrations are tracked apart from the
-- database's own ('') and from every other tenant's.  The functions read
-- and write the rows of the tenant that migrate.tenant names; the rows
-- they write take it from the columns' default.  Rows of an older install
-- are the database's own.
ALTER TABLE migrate.migrations ADD COLUMN tenant text NOT NULL DEFAULT '';
ALTER TABLE migrate.migrations
    ALTER COLUMN tenant SET DEFAULT COALESCE(pg_catalog.current_setting('migrate.tenant', true), ''),
    DROP CONSTRAINT migrations_pkey,
    ADD PRIMARY KEY (tenant, name);

ALTER TABLE migrate.history ADD COLUMN tenant text NOT NULL DEFAULT '';
ALTER TABLE migrate.history
    ALTER COLUMN tenant SET DEFAULT COALESCE(pg_catalog.current_setting('migrate.tenant', true), '');
CREATE INDEX history_tenant_name ON migrate.history (tenant, name, id);

ALTER TABLE migrate.archive ADD COLUMN tenant text NOT NULL DEFAULT '';
ALTER TABLE migrate.archive
    ALTER COLUMN tenant SET DEFAULT COALESCE(pg_catalog.current_setting('migrate.tenant', true), '');

COMMENT ON COLUMN migrate.migrations.tenant IS
    'the tenant (schema) the migration was applied to; empty for the database''s own migrations';
COMMENT ON COLUMN migrate.history.tenant IS
    'the tenant (schema) the action was for; empty for the database''s own migrations';

-- One id for every run the server performs (detached runs, tenant runs)
CREATE SEQUENCE migrate.run_id_seq;

-- One row per tenant of a migrate.run_tenants() run, committed as each
-- tenant starts and ends, so that it is visible while the run goes on
CREATE TABLE migrate.tenant_runs (
    run_id      bigint NOT NULL,
    position    integer NOT NULL,
    database    text NOT NULL DEFAULT pg_catalog.current_database(),
    tenant      text NOT NULL,
    canary      boolean NOT NULL DEFAULT false,
    state       text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'running', 'applied', 'failed', 'skipped')),
    migrations  integer NOT NULL DEFAULT 0,
    sqlstate    text,
    error       text,
    file        text,
    line        integer,
    started_at  timestamptz,
    finished_at timestamptz,
    started_by  text NOT NULL DEFAULT CURRENT_USER,
    PRIMARY KEY (run_id, database, tenant)
);

COMMENT ON TABLE migrate.tenant_runs IS
    'pg_migrate: the outcome of each tenant of a migrate.run_tenants() run; written by the migrate.* functions';

SELECT pg_catalog.pg_extension_config_dump('migrate.tenant_runs', '');
SELECT pg_catalog.pg_extension_config_dump('migrate.run_id_seq', '');

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
                                     retry boolean DEFAULT false)
AS 'MODULE_PATHNAME', 'migrate_run_tenants'
LANGUAGE C;

COMMENT ON PROCEDURE migrate.run_tenants(text, text[], text, text, integer, integer, text, bigint, text, boolean, text, boolean) IS
    'apply every pending migration of a folder to each tenant schema, as migrate.run() would, canaries first, in parallel workers';

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
                                     retry boolean DEFAULT false)
AS 'MODULE_PATHNAME', 'migrate_run_tenants_files'
LANGUAGE C;

COMMENT ON PROCEDURE migrate.run_tenants(jsonb, text[], text, text, integer, integer, text, bigint, text, boolean, text, text, boolean) IS
    'apply every pending migration of a folder sent as data to each tenant schema, canaries first, in parallel workers';

CREATE FUNCTION migrate.tenant_status(dir text,
                                      tenants text[] DEFAULT NULL,
                                      tenant_pattern text DEFAULT NULL,
                                      tenant_query text DEFAULT NULL,
                                      format text DEFAULT 'auto')
RETURNS TABLE (tenant text, applied integer, pending integer, failed integer,
               last_applied timestamptz)
AS 'MODULE_PATHNAME', 'migrate_tenant_status'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.tenant_status(text, text[], text, text, text) IS
    'for each tenant schema, how many of a folder''s migrations are applied, pending and failed';

CREATE FUNCTION migrate.tenant_status(files jsonb,
                                      tenants text[] DEFAULT NULL,
                                      tenant_pattern text DEFAULT NULL,
                                      tenant_query text DEFAULT NULL,
                                      format text DEFAULT 'auto',
                                      source text DEFAULT NULL)
RETURNS TABLE (tenant text, applied integer, pending integer, failed integer,
               last_applied timestamptz)
AS 'MODULE_PATHNAME', 'migrate_tenant_status_files'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.tenant_status(jsonb, text[], text, text, text, text) IS
    'for each tenant schema, how many of a folder''s migrations sent as data are applied, pending and failed';

CREATE FUNCTION migrate.use_tenant(tenant text, is_local boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'migrate_use_tenant'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.use_tenant(text, boolean) IS
    'work on a tenant schema''s migrations: set migrate.tenant, and search_path to the schema then the current path (NULL: the database''s own)';

REVOKE ALL ON PROCEDURE migrate.run_tenants(text, text[], text, text, integer, integer, text, bigint, text, boolean, text, boolean) FROM PUBLIC;
REVOKE ALL ON PROCEDURE migrate.run_tenants(jsonb, text[], text, text, integer, integer, text, bigint, text, boolean, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.tenant_status(text, text[], text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.tenant_status(jsonb, text[], text, text, text, text) FROM PUBLIC;

-- ==== end tenants ====
