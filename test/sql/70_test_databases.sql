-- migrate.test_database() and migrate.drop_test_databases() (issue 20):
-- the refusals that come before any database is made, and one test
-- database from a folder sent as data, dropped again (test/t/070 shows the
-- rest: templates, concurrency, the pool, other roles).  In a database of
-- its own.
SELECT current_database() AS regress_home \gset
CREATE DATABASE regress_test_databases;
\c regress_test_databases
CREATE EXTENSION pg_migrate;
SHOW migrate.test_database_pool;
SHOW migrate.test_database_templates_keep;
SET migrate.test_database_pool = -1;
SET migrate.test_database_templates_keep = 0;

-- EXECUTE is revoked from PUBLIC, as on apply
CREATE ROLE regress_testdb_ci;
GRANT USAGE ON SCHEMA migrate TO regress_testdb_ci;
SET ROLE regress_testdb_ci;
SELECT * FROM migrate.test_database('{}'::jsonb);
SELECT * FROM migrate.drop_test_databases();
RESET ROLE;

-- granted, a role without CREATEDB is refused before anything is read
GRANT EXECUTE ON FUNCTION migrate.test_database(jsonb, text, text) TO regress_testdb_ci;
SET ROLE regress_testdb_ci;
SELECT * FROM migrate.test_database('{"0001_a.sql": "CREATE TABLE a (id int);"}'::jsonb);
SELECT * FROM migrate.test_database('not even a folder'::text);
RESET ROLE;

-- arguments
SELECT * FROM migrate.test_database(NULL::jsonb);
SELECT * FROM migrate.test_database(NULL::text);
SELECT * FROM migrate.test_database('{"0001_a.sql": "CREATE TABLE a (id int);"}'::jsonb, format => 'nonesuch');
SELECT * FROM migrate.test_database('{}'::jsonb);

-- one test database from a folder sent as data: the schema and records
SELECT current_database() AS home \gset
SELECT name AS testdb, name ~ '^pgm_test_[0-9a-f]{12}_[0-9]+$' AS prefixed,
       connstr = 'dbname=' || name AS connstr_names_it,
       template ~ '^pgm_template_[0-9a-f]{12}$' AS template_prefixed, from_pool
FROM migrate.test_database('{"0001_a.sql": "CREATE TABLE a (id int);\n", "0002_b.sql": "ALTER TABLE a ADD COLUMN b text;\n"}'::jsonb,
                           source => 'regress') \gset
SELECT :'prefixed' AS prefixed, :'connstr_names_it' AS connstr_names_it,
       :'template_prefixed' AS template_prefixed, :'from_pool' AS from_pool;
SELECT datistemplate, datallowconn FROM pg_database
WHERE datname = (SELECT template FROM migrate.test_databases WHERE name = :'testdb');
\c :testdb
SELECT name, source FROM migrate.migrations ORDER BY name;
SELECT string_agg(column_name, ',' ORDER BY column_name) AS columns_of_a
FROM information_schema.columns WHERE table_name = 'a';
\c :home
SELECT count(*) AS dropped, bool_or(is_template) AS any_template
FROM migrate.drop_test_databases(templates => true);
SELECT count(*) AS left_over FROM pg_database WHERE datname LIKE 'pgm\_%';
SELECT (SELECT count(*) FROM migrate.test_databases) +
       (SELECT count(*) FROM migrate.test_database_templates) AS rows_left;

\c :regress_home
DROP DATABASE regress_test_databases;
DROP ROLE regress_testdb_ci;
