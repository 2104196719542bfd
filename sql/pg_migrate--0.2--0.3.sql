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
    'event trigger: under migrate.ddl_policy = block, refuses CREATE/DROP INDEX CONCURRENTLY outside migrations before they start';
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
    WHEN TAG IN ('CREATE INDEX', 'DROP INDEX')
    EXECUTE FUNCTION migrate.ddl_command_start();
CREATE EVENT TRIGGER pg_migrate_ddl_command_end ON ddl_command_end
    EXECUTE FUNCTION migrate.ddl_command_end();
CREATE EVENT TRIGGER pg_migrate_sql_drop ON sql_drop
    EXECUTE FUNCTION migrate.ddl_sql_drop();
CREATE EVENT TRIGGER pg_migrate_table_rewrite ON table_rewrite
    EXECUTE FUNCTION migrate.ddl_table_rewrite();
-- end of the DDL log
