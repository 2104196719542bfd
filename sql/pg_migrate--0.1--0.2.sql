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

-- A folder sent by the caller as data (relative path -> text) rather than
-- read from the server's disk: the same runner behind each form.  Reading
-- no server file, these need neither superuser nor pg_read_server_files.
-- "source" is recorded as the migrations' source (the pg_migrate command
-- sends 'client:<host>:<path>').
CREATE FUNCTION migrate.apply(files jsonb,
                              format text DEFAULT 'auto',
                              allow_drift boolean DEFAULT false,
                              source text DEFAULT NULL)
RETURNS TABLE (name text, action text, duration interval)
AS 'MODULE_PATHNAME', 'migrate_apply_files'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.apply(jsonb, text, boolean, text) IS
    'apply every pending migration of a folder sent as data, in the caller''s transaction';

CREATE PROCEDURE migrate.run(files jsonb,
                             format text DEFAULT 'auto',
                             allow_drift boolean DEFAULT false,
                             source text DEFAULT NULL)
AS 'MODULE_PATHNAME', 'migrate_run_files'
LANGUAGE C;

COMMENT ON PROCEDURE migrate.run(jsonb, text, boolean, text) IS
    'apply every pending migration of a folder sent as data, committing after each one';

CREATE FUNCTION migrate.status(files jsonb,
                               format text DEFAULT 'auto',
                               source text DEFAULT NULL)
RETURNS TABLE (name text, state text, applied_at timestamptz, checksum text)
AS 'MODULE_PATHNAME', 'migrate_status_files'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.status(jsonb, text, text) IS
    'each migration of a folder sent as data and of the tracking table, with its state';

REVOKE ALL ON FUNCTION migrate.apply(jsonb, text, boolean, text) FROM PUBLIC;
REVOKE ALL ON PROCEDURE migrate.run(jsonb, text, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.status(jsonb, text, text) FROM PUBLIC;
