\echo Use "ALTER EXTENSION pg_migrate UPDATE TO '0.6'" to load this file. \quit
-- pg_migrate 0.5 -> 0.6: databases of the cluster as tenants and the
-- tenant leftovers (issue 19), and migrated test databases cloned from
-- templates (issue 20).  Each part below is one block.

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
