-- pg_migrate 0.1 -> 0.2
\echo Use "ALTER EXTENSION pg_migrate UPDATE TO '0.2'" to load this file. \quit

-- The role whose privileges an action's scripts ran with.  performed_by is
-- who called; a rollback runs each down script as the role that applied
-- the migration, which may be another.  Rows written before 0.2 ran as
-- their caller.
ALTER TABLE migrate.history ADD COLUMN performed_as text;
UPDATE migrate.history SET performed_as = performed_by;

COMMENT ON COLUMN migrate.history.performed_by IS
    'the role that called the function (current_user)';
COMMENT ON COLUMN migrate.history.performed_as IS
    'the role whose privileges the scripts ran with';

-- The checksum of the script an action concerned.  For a failure, it is
-- what keeps a migration that failed from being run again while its file
-- is unchanged.
ALTER TABLE migrate.history ADD COLUMN checksum text;

COMMENT ON COLUMN migrate.history.checksum IS
    'SHA-256 of the up script the action concerned';

-- How many times a statement (or run()'s migration) was retried after it
-- could not get its lock within migrate.lock_timeout (migrate.lock_retries)
ALTER TABLE migrate.history ADD COLUMN lock_retries integer;

-- Writes to another tool's tracking table (dbmate's and golang-migrate's
-- schema_migrations, drizzle-orm's __drizzle_migrations), kept in step with
-- what pg_migrate applies and rolls back, are logged as actions of their
-- own, naming the table; so are adoptions, naming the table the migration
-- was found applied in.
ALTER TABLE migrate.history ADD COLUMN tool_table text;

COMMENT ON COLUMN migrate.history.tool_table IS
    'adopt: the other tool''s table the migration was found applied in; tool_record, tool_forget: the table written';

-- New actions: an applied migration's edited file accepted as it is now, a
-- retry asked for, a run refused because the migration failed before and
-- its file has not changed since, a lint finding a migration allowed, and
-- the writes to another tool's table.
ALTER TABLE migrate.history DROP CONSTRAINT history_action_check;
ALTER TABLE migrate.history ADD CONSTRAINT history_action_check
    CHECK (action IN ('apply', 'adopt', 'rollback', 'baseline', 'mark_applied',
                      'forget', 'accept', 'failure', 'retry', 'refused',
                      'lint_allowed', 'tool_record', 'tool_forget'));

-- apply and run gain target (stop after that migration) and retry (run a
-- migration again although it failed before with the same file).  Their
-- argument lists change, so they are dropped and created again; what was
-- granted on them is granted again, so that deploy roles keep their
-- rights through the update.
SELECT pg_catalog.set_config('pg_migrate_upgrade.grants', coalesce(pg_catalog.string_agg(
           pg_catalog.format('GRANT EXECUTE ON %s %s TO %s',
                             CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
                             CASE p.proname WHEN 'apply' THEN 'migrate.apply(text, text, boolean, text, boolean)'
                                            ELSE 'migrate.run(text, text, boolean, text, boolean)' END,
                             CASE a.grantee WHEN 0 THEN 'PUBLIC'
                                            ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END),
           '; '), ''), true)
FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
WHERE p.oid IN ('migrate.apply(text, text, boolean)'::pg_catalog.regprocedure,
                'migrate.run(text, text, boolean)'::pg_catalog.regprocedure)
  AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner;

DROP FUNCTION migrate.apply(text, text, boolean);
DROP PROCEDURE migrate.run(text, text, boolean);

CREATE FUNCTION migrate.apply(dir text,
                              format text DEFAULT 'auto',
                              allow_drift boolean DEFAULT false,
                              target text DEFAULT NULL,
                              retry boolean DEFAULT false)
RETURNS TABLE (name text, action text, duration interval)
AS 'MODULE_PATHNAME', 'migrate_apply'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.apply(text, text, boolean, text, boolean) IS
    'apply every pending migration of a folder, in the caller''s transaction';

CREATE PROCEDURE migrate.run(dir text,
                             format text DEFAULT 'auto',
                             allow_drift boolean DEFAULT false,
                             target text DEFAULT NULL,
                             retry boolean DEFAULT false)
AS 'MODULE_PATHNAME', 'migrate_run'
LANGUAGE C;

COMMENT ON PROCEDURE migrate.run(text, text, boolean, text, boolean) IS
    'apply every pending migration of a folder, committing after each one';

REVOKE ALL ON FUNCTION migrate.apply(text, text, boolean, text, boolean) FROM PUBLIC;
REVOKE ALL ON PROCEDURE migrate.run(text, text, boolean, text, boolean) FROM PUBLIC;

DO $$
DECLARE
    grants text := pg_catalog.current_setting('pg_migrate_upgrade.grants');
BEGIN
    IF grants <> '' THEN
        EXECUTE grants;
    END IF;
END
$$;

-- A folder sent by the caller as data (relative path -> text) rather than
-- read from the server's disk: the same runner behind each form.  Reading
-- no server file, these need neither superuser nor pg_read_server_files.
-- "source" is recorded as the migrations' source (the pg_migrate command
-- sends 'client:<host>:<path>').
CREATE FUNCTION migrate.apply(files jsonb,
                              format text DEFAULT 'auto',
                              allow_drift boolean DEFAULT false,
                              source text DEFAULT NULL,
                              target text DEFAULT NULL,
                              retry boolean DEFAULT false)
RETURNS TABLE (name text, action text, duration interval)
AS 'MODULE_PATHNAME', 'migrate_apply_files'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.apply(jsonb, text, boolean, text, text, boolean) IS
    'apply every pending migration of a folder sent as data, in the caller''s transaction';

CREATE PROCEDURE migrate.run(files jsonb,
                             format text DEFAULT 'auto',
                             allow_drift boolean DEFAULT false,
                             source text DEFAULT NULL,
                             target text DEFAULT NULL,
                             retry boolean DEFAULT false)
AS 'MODULE_PATHNAME', 'migrate_run_files'
LANGUAGE C;

COMMENT ON PROCEDURE migrate.run(jsonb, text, boolean, text, text, boolean) IS
    'apply every pending migration of a folder sent as data, committing after each one';

CREATE FUNCTION migrate.status(files jsonb,
                               format text DEFAULT 'auto',
                               source text DEFAULT NULL)
RETURNS TABLE (name text, state text, applied_at timestamptz, checksum text)
AS 'MODULE_PATHNAME', 'migrate_status_files'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.status(jsonb, text, text) IS
    'each migration of a folder sent as data and of the tracking table, with its state';

REVOKE ALL ON FUNCTION migrate.apply(jsonb, text, boolean, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON PROCEDURE migrate.run(jsonb, text, boolean, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.status(jsonb, text, text) FROM PUBLIC;

-- Let a migration that failed run again although its file is unchanged
CREATE FUNCTION migrate.retry(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'migrate_retry'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.retry(text) IS
    'let the next run execute a migration that failed, although its file is unchanged';

-- Roll back committing after each migration; no-transaction down scripts
-- run in the background worker
CREATE PROCEDURE migrate.run_rollback(name text DEFAULT NULL)
AS 'MODULE_PATHNAME', 'migrate_run_rollback'
LANGUAGE C;

COMMENT ON PROCEDURE migrate.run_rollback(text) IS
    'undo a migration and every migration applied after it, committing after each one';

REVOKE ALL ON FUNCTION migrate.retry(text) FROM PUBLIC;
REVOKE ALL ON PROCEDURE migrate.run_rollback(text) FROM PUBLIC;

-- The lifecycle around apply and rollback: record without running, adopt
-- an existing schema, drop a record without undoing, accept an edited
-- file, and a gate that fails unless the database matches the folder.
-- Each has a server folder form and a form for a folder sent as data.
CREATE FUNCTION migrate.mark_applied(dir text, name text,
                                     format text DEFAULT 'auto')
RETURNS TABLE (name text, action text)
AS 'MODULE_PATHNAME', 'migrate_mark_applied'
LANGUAGE C VOLATILE;

CREATE FUNCTION migrate.mark_applied(files jsonb, name text,
                                     format text DEFAULT 'auto',
                                     source text DEFAULT NULL)
RETURNS TABLE (name text, action text)
AS 'MODULE_PATHNAME', 'migrate_mark_applied_files'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.mark_applied(text, text, text) IS
    'record a migration of a folder as applied without running it';
COMMENT ON FUNCTION migrate.mark_applied(jsonb, text, text, text) IS
    'record a migration of a folder sent as data as applied without running it';

CREATE FUNCTION migrate.baseline(dir text, up_to text,
                                 format text DEFAULT 'auto')
RETURNS TABLE (name text, action text)
AS 'MODULE_PATHNAME', 'migrate_baseline'
LANGUAGE C VOLATILE;

CREATE FUNCTION migrate.baseline(files jsonb, up_to text,
                                 format text DEFAULT 'auto',
                                 source text DEFAULT NULL)
RETURNS TABLE (name text, action text)
AS 'MODULE_PATHNAME', 'migrate_baseline_files'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.baseline(text, text, text) IS
    'record every migration of a folder up to a version or name as applied, without running them';
COMMENT ON FUNCTION migrate.baseline(jsonb, text, text, text) IS
    'record every migration of a folder sent as data up to a version or name as applied, without running them';

CREATE FUNCTION migrate.forget(name text)
RETURNS TABLE (name text, action text)
AS 'MODULE_PATHNAME', 'migrate_forget'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.forget(text) IS
    'delete a migration''s record without running its down script';

CREATE FUNCTION migrate.accept(dir text, name text,
                               format text DEFAULT 'auto')
RETURNS TABLE (name text, action text)
AS 'MODULE_PATHNAME', 'migrate_accept'
LANGUAGE C VOLATILE;

CREATE FUNCTION migrate.accept(files jsonb, name text,
                               format text DEFAULT 'auto',
                               source text DEFAULT NULL)
RETURNS TABLE (name text, action text)
AS 'MODULE_PATHNAME', 'migrate_accept_files'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.accept(text, text, text) IS
    'record the edited file of an applied migration as it is now, ending its drift';
COMMENT ON FUNCTION migrate.accept(jsonb, text, text, text) IS
    'record the edited file of an applied migration, sent as data, as it is now, ending its drift';

CREATE FUNCTION migrate.check(dir text, format text DEFAULT 'auto')
RETURNS void
AS 'MODULE_PATHNAME', 'migrate_check'
LANGUAGE C VOLATILE;

CREATE FUNCTION migrate.check(files jsonb, format text DEFAULT 'auto',
                              source text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'migrate_check_files'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.check(text, text) IS
    'raise an error unless every migration of a folder is applied as it is';
COMMENT ON FUNCTION migrate.check(jsonb, text, text) IS
    'raise an error unless every migration of a folder sent as data is applied as it is';

REVOKE ALL ON FUNCTION migrate.mark_applied(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.mark_applied(jsonb, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.baseline(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.baseline(jsonb, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.forget(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.accept(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.accept(jsonb, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.check(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.check(jsonb, text, text) FROM PUBLIC;
-- Lint: findings on the pending migrations of a folder, from their parse
-- trees and the live catalog, executing nothing.  apply and run lint too
-- (the setting migrate.lint), and log each finding a migration allows
-- with "-- migrate:allow <rule>" as a 'lint_allowed' history row: the rule
-- in message, the finding in detail, its file and line.

CREATE FUNCTION migrate.lint(dir text,
                             format text DEFAULT 'auto')
RETURNS TABLE (migration text, file text, line integer, rule text,
               severity text, message text, hint text)
AS 'MODULE_PATHNAME', 'migrate_lint'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.lint(text, text) IS
    'lint findings of the pending migrations of a folder, executing nothing';

CREATE FUNCTION migrate.lint(files jsonb,
                             format text DEFAULT 'auto',
                             source text DEFAULT NULL)
RETURNS TABLE (migration text, file text, line integer, rule text,
               severity text, message text, hint text)
AS 'MODULE_PATHNAME', 'migrate_lint_files'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.lint(jsonb, text, text) IS
    'lint findings of the pending migrations of a folder sent as data, executing nothing';

REVOKE ALL ON FUNCTION migrate.lint(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.lint(jsonb, text, text) FROM PUBLIC;

-- Plan: a test run of the pending migrations of a folder, statement by
-- statement, always rolled back: the locks each statement took, whether
-- it rewrote its table, the table's size before, its lint findings and
-- its error.  Nothing is recorded and no lock outlives the call.
CREATE FUNCTION migrate.plan(dir text,
                             format text DEFAULT 'auto')
RETURNS TABLE (migration text, file text, line integer, command text,
               executed boolean, locks text[], rewrite boolean,
               relation text, table_rows bigint, table_size bigint,
               duration interval, findings text[], error text, note text)
AS 'MODULE_PATHNAME', 'migrate_plan'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.plan(text, text) IS
    'test run of the pending migrations of a folder, statement by statement, always rolled back';

CREATE FUNCTION migrate.plan(files jsonb,
                             format text DEFAULT 'auto',
                             source text DEFAULT NULL)
RETURNS TABLE (migration text, file text, line integer, command text,
               executed boolean, locks text[], rewrite boolean,
               relation text, table_rows bigint, table_size bigint,
               duration interval, findings text[], error text, note text)
AS 'MODULE_PATHNAME', 'migrate_plan_files'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.plan(jsonb, text, text) IS
    'test run of the pending migrations of a folder sent as data, statement by statement, always rolled back';

REVOKE ALL ON FUNCTION migrate.plan(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.plan(jsonb, text, text) FROM PUBLIC;
