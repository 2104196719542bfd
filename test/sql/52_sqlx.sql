-- sqlx folders: "<version>_<description>.sql", or ".up.sql" and
-- ".down.sql" pairs, "-- no-transaction" first, and sqlx's own table,
-- _sqlx_migrations, adopted and kept in step.
SET migrate.generate_down = off;
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/sqlx && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/sqlx" @testdir@/sqlx

-- sqlx's files are named as plain files are: the format is named, never
-- detected
SELECT name, state FROM migrate.status('@testdir@/sqlx', format => 'sqlx');
SELECT name, action FROM migrate.apply('@testdir@/sqlx', format => 'sqlx');
SELECT name, format, down_sql FROM migrate.migrations WHERE format = 'sqlx' ORDER BY id;

-- sqlx's table, created as sqlx creates it, with the row sqlx writes in
-- the migration's transaction: the SHA-384 of the file, success true
SELECT version, description, success,
       checksum = sha384(pg_read_binary_file('@testdir@/sqlx/' || version || '_' || replace(description, ' ', '_') ||
                         CASE WHEN version = 20240102000000 THEN '.up.sql' ELSE '.sql' END)) AS sqlx_checksum,
       execution_time, installed_on IS NOT NULL AS installed
  FROM _sqlx_migrations ORDER BY version;
\d _sqlx_migrations

-- "-- no-transaction" as the file's first line: apply refuses it, run runs
-- it outside a transaction
\! printf -- '-- no-transaction\nCREATE INDEX CONCURRENTLY sqlx_accounts_name_idx ON sqlx_accounts (display_name);\n' > @testdir@/sqlx/20240103000000_name_index.sql
SELECT name, action FROM migrate.apply('@testdir@/sqlx', format => 'sqlx');
CALL migrate.run('@testdir@/sqlx', format => 'sqlx');
SELECT name, transaction_mode FROM migrate.migrations WHERE format = 'sqlx' ORDER BY id;

-- rollback deletes the version's row, as "sqlx migrate revert" does; the
-- simple migration without a down script stops it
DELETE FROM migrate.migrations WHERE name = '20240103000000_name_index';
DROP INDEX sqlx_accounts_name_idx;
DELETE FROM _sqlx_migrations WHERE version = 20240103000000;
\! rm @testdir@/sqlx/20240103000000_name_index.sql
SELECT name, action FROM migrate.rollback('20240102000000_add_display_name');
SELECT version FROM _sqlx_migrations ORDER BY version;
SELECT name, action FROM migrate.rollback('20240101000000_create_accounts');

-- Adopting what sqlx applied: rows written as sqlx writes them
DELETE FROM migrate.migrations WHERE format = 'sqlx';
DELETE FROM _sqlx_migrations;
ALTER TABLE sqlx_accounts ADD COLUMN display_name TEXT;
INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES
  (20240101000000, 'create accounts', true, sha384(pg_read_binary_file('@testdir@/sqlx/20240101000000_create_accounts.sql')), 1234567),
  (20240102000000, 'add display name', true, sha384(pg_read_binary_file('@testdir@/sqlx/20240102000000_add_display_name.up.sql')), 2345678);
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
SELECT name, state FROM migrate.status('@testdir@/sqlx', format => 'sqlx');
SELECT name, action FROM migrate.apply('@testdir@/sqlx', format => 'sqlx');
-- a file edited after sqlx applied it is adopted with a warning
DELETE FROM migrate.migrations WHERE format = 'sqlx';
\! printf -- '-- edited\n' >> @testdir@/sqlx/20240101000000_create_accounts.sql
SELECT name, state FROM migrate.status('@testdir@/sqlx', format => 'sqlx');
\! cp "$PG_ABS_SRCDIR/fixtures/sqlx/20240101000000_create_accounts.sql" @testdir@/sqlx/

-- a migration sqlx left dirty (success false): refused, as sqlx refuses it
INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
  VALUES (20240104000000, 'broken', false, '\x00', -1);
SELECT name, state FROM migrate.status('@testdir@/sqlx', format => 'sqlx');
DELETE FROM _sqlx_migrations WHERE version = 20240104000000;

-- bad input: a version that is no bigint; a down script without its up
\! mkdir -p @testdir@/sqlx_errors && printf 'SELECT 1;\n' > @testdir@/sqlx_errors/v1_first.sql
SELECT * FROM migrate.status('@testdir@/sqlx_errors', format => 'sqlx');
\! rm @testdir@/sqlx_errors/v1_first.sql && printf 'SELECT 1;\n' > @testdir@/sqlx_errors/99999999999999999999_big.sql
SELECT * FROM migrate.status('@testdir@/sqlx_errors', format => 'sqlx');
\! rm @testdir@/sqlx_errors/99999999999999999999_big.sql && printf 'SELECT 1;\n' > @testdir@/sqlx_errors/1_first.sql && printf 'SELECT 1;\n' > @testdir@/sqlx_errors/1_first.down.sql
SELECT * FROM migrate.status('@testdir@/sqlx_errors', format => 'sqlx');
-- a simple migration and a reversible one of one version
\! rm @testdir@/sqlx_errors/1_first.down.sql && printf 'SELECT 1;\n' > @testdir@/sqlx_errors/1_second.up.sql
SELECT * FROM migrate.status('@testdir@/sqlx_errors', format => 'sqlx');

-- clean up
DELETE FROM migrate.migrations WHERE format = 'sqlx';
DROP TABLE sqlx_accounts, _sqlx_migrations;
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
