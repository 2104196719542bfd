-- pg_migrate 0.1: schema migrations run from inside the database.
\echo Use "CREATE EXTENSION pg_migrate" to load this file. \quit

-- One row per applied migration.  "id" is the order they were applied in,
-- which is the order migrate.rollback() undoes them in.
CREATE SEQUENCE migrate.migrations_id_seq;

CREATE TABLE migrate.migrations (
    id          bigint NOT NULL DEFAULT nextval('migrate.migrations_id_seq') UNIQUE,
    name        text PRIMARY KEY,
    version     text NOT NULL,
    checksum    text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
    up_sql      text NOT NULL,
    down_sql    text,
    source      text,
    applied_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    applied_by  text NOT NULL,
    duration    interval NOT NULL,
    transaction_mode text NOT NULL DEFAULT 'transaction'
                CHECK (transaction_mode IN ('transaction', 'no-transaction')),
    format      text,
    repeatable  boolean NOT NULL DEFAULT false
);
ALTER SEQUENCE migrate.migrations_id_seq OWNED BY migrate.migrations.id;

COMMENT ON TABLE migrate.migrations IS
    'pg_migrate: one row per applied migration; written by the migrate.* functions';

-- Append-only log of everything pg_migrate did.
CREATE SEQUENCE migrate.history_id_seq;

CREATE TABLE migrate.history (
    id           bigint PRIMARY KEY DEFAULT nextval('migrate.history_id_seq'),
    action       text NOT NULL
                 CHECK (action IN ('apply', 'adopt', 'rollback', 'baseline',
                                   'mark_applied', 'forget', 'failure')),
    name         text,
    performed_by text NOT NULL,
    performed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration     interval,
    source       text,
    sqlstate     text,
    message      text,
    detail       text,
    file         text,
    line         integer
);
ALTER SEQUENCE migrate.history_id_seq OWNED BY migrate.history.id;

COMMENT ON TABLE migrate.history IS
    'pg_migrate: append-only log of applies, rollbacks and failures';

-- pg_dump keeps the tracking tables' rows (and sequences) with the schema
SELECT pg_catalog.pg_extension_config_dump('migrate.migrations', '');
SELECT pg_catalog.pg_extension_config_dump('migrate.migrations_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('migrate.history', '');
SELECT pg_catalog.pg_extension_config_dump('migrate.history_id_seq', '');

CREATE FUNCTION migrate.apply(dir text,
                              format text DEFAULT 'auto',
                              allow_drift boolean DEFAULT false)
RETURNS TABLE (name text, action text, duration interval)
AS 'MODULE_PATHNAME', 'migrate_apply'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.apply(text, text, boolean) IS
    'apply every pending migration of a folder, in the caller''s transaction';

CREATE PROCEDURE migrate.run(dir text,
                             format text DEFAULT 'auto',
                             allow_drift boolean DEFAULT false)
AS 'MODULE_PATHNAME', 'migrate_run'
LANGUAGE C;

COMMENT ON PROCEDURE migrate.run(text, text, boolean) IS
    'apply every pending migration of a folder, committing after each one';

CREATE FUNCTION migrate.status(dir text DEFAULT NULL,
                               format text DEFAULT 'auto')
RETURNS TABLE (name text, state text, applied_at timestamptz, checksum text)
AS 'MODULE_PATHNAME', 'migrate_status'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.status(text, text) IS
    'each migration of a folder and of the tracking table, with its state';

CREATE FUNCTION migrate.rollback(name text DEFAULT NULL)
RETURNS TABLE (name text, action text, duration interval)
AS 'MODULE_PATHNAME', 'migrate_rollback'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION migrate.rollback(text) IS
    'undo a migration and every migration applied after it (the latest one without argument)';

-- Running migrations is an administrator's act: nobody but the superuser
-- may, until granted.  Reading folders further needs pg_read_server_files.
REVOKE ALL ON FUNCTION migrate.apply(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON PROCEDURE migrate.run(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.status(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION migrate.rollback(text) FROM PUBLIC;
