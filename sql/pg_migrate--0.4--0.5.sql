\echo Use "ALTER EXTENSION pg_migrate UPDATE TO '0.5'" to load this file. \quit
-- pg_migrate 0.4 -> 0.5: runs the server owns (detached runs, their
-- progress and resume), safe lock defaults, tenants, and the command's
-- whole surface (issue 19).  Each part below is one block.

-- ==== detach: detached runs, their progress, attach, resume (issue 19, section 1) ====
-- Run ids, shared with the tenants' runs.
CREATE SEQUENCE migrate.run_id_seq;

-- A run the server owns: migrate.start() queues it, a background worker of
-- its own performs it (see doc/reference.md, "Detached runs").  kind says
-- what the worker performs with args ('run': CALL migrate.run(...) with
-- the arguments of start); the worker refuses a kind it does not know, so
-- that later kinds need no change here.  settings are the caller's, taken
-- over by the worker.  A row queued or running whose worker is gone (a
-- crash, a restart) shows as interrupted in migrate.runs.
CREATE TABLE migrate.run_jobs (
    run_id          bigint PRIMARY KEY,
    kind            text NOT NULL,
    args            jsonb NOT NULL,
    settings        jsonb NOT NULL DEFAULT '{}',
    source          text,
    started_by      oid NOT NULL,
    login_role      oid NOT NULL,
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 1,
    queued_at       timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    worker_pid      integer,
    progress_handle bigint,
    applied         integer,
    migration       text,
    error_sqlstate  text,
    error           text,
    error_detail    text,
    error_hint      text,
    error_context   text,
    error_file      text,
    error_line      integer
);
CREATE INDEX run_jobs_kind_state ON migrate.run_jobs (kind, state);

COMMENT ON TABLE migrate.run_jobs IS
    'runs queued by migrate.start(), performed by a background worker each; read migrate.runs';

REVOKE ALL ON migrate.run_jobs FROM PUBLIC;
REVOKE ALL ON SEQUENCE migrate.run_id_seq FROM PUBLIC;

-- A no-transaction migration's invalid index, left by an interrupted
-- attempt, dropped for the migration to build it again.
ALTER TABLE migrate.history DROP CONSTRAINT history_action_check;
ALTER TABLE migrate.history ADD CONSTRAINT history_action_check
    CHECK (action IN ('apply', 'adopt', 'rollback', 'baseline', 'mark_applied',
                      'forget', 'accept', 'failure', 'retry', 'refused',
                      'lint_allowed', 'tool_record', 'tool_forget',
                      'accept_drift', 'capture', 'index_rebuilt'));

CREATE FUNCTION migrate.start(dir text,
                              format text DEFAULT 'auto',
                              allow_drift boolean DEFAULT false,
                              target text DEFAULT NULL,
                              retry boolean DEFAULT false)
RETURNS bigint
AS 'MODULE_PATHNAME', 'migrate_start'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.start(text, text, boolean, text, boolean) IS
    'queue a run of a folder for a background worker; returns its id at once';

CREATE FUNCTION migrate.start(files jsonb,
                              format text DEFAULT 'auto',
                              allow_drift boolean DEFAULT false,
                              source text DEFAULT NULL,
                              target text DEFAULT NULL,
                              retry boolean DEFAULT false)
RETURNS bigint
AS 'MODULE_PATHNAME', 'migrate_start_files'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.start(jsonb, text, boolean, text, text, boolean) IS
    'queue a run of a folder sent as data for a background worker; returns its id at once';

-- A procedure: it waits holding no snapshot, which a run's CREATE INDEX
-- CONCURRENTLY would wait for.
CREATE PROCEDURE migrate.wait(run_id bigint,
                              timeout interval DEFAULT NULL,
                              rethrow boolean DEFAULT false,
                              INOUT state text DEFAULT NULL)
AS 'MODULE_PATHNAME', 'migrate_wait'
LANGUAGE C;

COMMENT ON PROCEDURE migrate.wait(bigint, interval, boolean, text) IS
    'wait for a run to end, relaying its messages; its state';

CREATE FUNCTION migrate.cancel(run_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'migrate_cancel'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION migrate.cancel(bigint) IS
    'cancel a queued or running run';

CREATE FUNCTION migrate.resume(run_id bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'migrate_resume'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION migrate.resume(bigint) IS
    'queue a failed, cancelled or interrupted run again, with the same arguments';

-- The live part of a row of migrate.runs; it checks the caller's right to
-- see the run itself, so it is left executable by PUBLIC for the view.
CREATE FUNCTION migrate.run_progress(run_id bigint, handle bigint)
RETURNS TABLE (alive boolean, worker_pid integer, statement_pid integer,
               migration text, migration_number integer, migrations integer,
               statement_number integer, statements integer,
               statement_line integer, file text, applied integer)
AS 'MODULE_PATHNAME', 'migrate_run_progress'
LANGUAGE C VOLATILE;

CREATE VIEW migrate.runs WITH (security_barrier) AS
SELECT r.run_id, r.kind,
       CASE WHEN r.state IN ('queued', 'running') AND p.alive IS NULL
            THEN 'interrupted' ELSE r.state END AS state,
       r.source,
       pg_catalog.pg_get_userbyid(r.started_by) AS started_by,
       r.attempts, r.queued_at, r.started_at, r.finished_at,
       CASE WHEN r.started_at IS NOT NULL
            THEN coalesce(r.finished_at, CASE WHEN p.alive THEN pg_catalog.clock_timestamp() END)
                 OPERATOR(pg_catalog.-) r.started_at END AS elapsed,
       coalesce(p.migration, r.migration) AS migration,
       p.migration_number, p.migrations,
       p.statement_number, p.statements, p.statement_line, p.file,
       i.phase AS index_phase,
       i.blocks_done AS index_blocks_done, i.blocks_total AS index_blocks_total,
       i.tuples_done AS index_tuples_done, i.tuples_total AS index_tuples_total,
       coalesce(r.applied, p.applied) AS applied,
       r.error_sqlstate, r.error, r.error_detail, r.error_hint,
       r.error_file, r.error_line,
       p.worker_pid AS pid
FROM migrate.run_jobs r
LEFT JOIN LATERAL migrate.run_progress(r.run_id, r.progress_handle) p ON true
LEFT JOIN pg_catalog.pg_stat_progress_create_index i
       ON i.pid OPERATOR(pg_catalog.=) p.statement_pid
WHERE pg_catalog.pg_has_role(r.started_by, 'USAGE');

COMMENT ON VIEW migrate.runs IS
    'runs started with migrate.start(), those of roles whose privileges the caller has';

REVOKE ALL ON FUNCTION migrate.start(text, text, boolean, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.start(jsonb, text, boolean, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON PROCEDURE migrate.wait(bigint, interval, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.cancel(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.resume(bigint) FROM PUBLIC;
REVOKE ALL ON migrate.runs FROM PUBLIC;
-- ==== end detach ====

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

-- Tenant runs take their ids from migrate.run_id_seq (detach's block), as
-- detached runs do.

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

-- ==== start_tenants: a tenant run the server owns (issue 19, sections 1 and 3) ====
-- migrate.run_tenants() queued as a run of kind 'tenants' for a background
-- worker of its own, like migrate.start(); the worker calls run_tenants
-- with the run's id, so migrate.resume() of it migrates the failed and
-- pending tenants only.
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
                                      retry boolean DEFAULT false)
RETURNS bigint
AS 'MODULE_PATHNAME', 'migrate_start_tenants'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.start_tenants(text, text[], text, text, integer, integer, text, text, boolean, text, boolean) IS
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
                                      retry boolean DEFAULT false)
RETURNS bigint
AS 'MODULE_PATHNAME', 'migrate_start_tenants_files'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.start_tenants(jsonb, text[], text, text, integer, integer, text, text, boolean, text, text, boolean) IS
    'queue migrate.run_tenants() of a folder sent as data for a background worker; returns the run''s id at once';

REVOKE ALL ON FUNCTION migrate.start_tenants(text, text[], text, text, integer, integer, text, text, boolean, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.start_tenants(jsonb, text[], text, text, integer, integer, text, text, boolean, text, text, boolean) FROM PUBLIC;
-- ==== end start_tenants ====
