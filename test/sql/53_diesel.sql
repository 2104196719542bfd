-- Diesel's folders: "<date>_<name>/up.sql" and "down.sql", metadata.toml's
-- run_in_transaction, and Diesel's own table, __diesel_schema_migrations,
-- adopted and kept in step.
SET migrate.generate_down = off;
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/diesel && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/diesel" @testdir@/diesel

-- detected by its layout; the version is the folder's name up to the
-- first "_", without dashes
SELECT name, state FROM migrate.status('@testdir@/diesel');
-- "run_in_transaction = false": apply refuses it, run runs it outside a
-- transaction
SELECT name, action FROM migrate.apply('@testdir@/diesel');
CALL migrate.run('@testdir@/diesel');
SELECT name, version, format, transaction_mode, down_sql IS NOT NULL AS has_down FROM migrate.migrations WHERE format = 'diesel' ORDER BY id;
\d diesel_posts

-- Diesel's table, created as Diesel creates it, with a row per version
SELECT version, run_on IS NOT NULL AS run FROM __diesel_schema_migrations ORDER BY version;
\d __diesel_schema_migrations

-- metadata.toml's run_in_transaction = false covers down.sql too, as
-- Diesel reverts such a migration outside a transaction: its down script
-- is stored with pg_migrate's directive, rollback (in one transaction)
-- refuses it, run_rollback runs it
SELECT down_sql FROM migrate.migrations WHERE name = '2024-01-02-120000_posts_title_index';
SELECT name, action FROM migrate.rollback('2024-01-02-120000_posts_title_index');
CALL migrate.run_rollback('2024-01-02-120000_posts_title_index');
SELECT to_regclass('diesel_posts_title_idx') AS title_idx;
-- rollback runs down.sql and deletes the version's row, as "diesel
-- migration revert" does
SELECT name, action FROM migrate.rollback('2024-01-01-120000_create_posts');
SELECT version FROM __diesel_schema_migrations ORDER BY version;

-- a metadata.toml without run_in_transaction runs the migration outside a
-- transaction, as Diesel reads it (the field defaults to false)
\! printf '# nothing else\n' > @testdir@/diesel/2024-01-01-120000_create_posts/metadata.toml
SELECT name, action FROM migrate.apply('@testdir@/diesel');
\! rm @testdir@/diesel/2024-01-01-120000_create_posts/metadata.toml

-- Adopting what Diesel applied: rows written as Diesel writes them
DELETE FROM migrate.migrations WHERE format = 'diesel';
DELETE FROM __diesel_schema_migrations;
CREATE TABLE diesel_posts (id SERIAL PRIMARY KEY, title VARCHAR NOT NULL, body TEXT NOT NULL, published BOOLEAN NOT NULL DEFAULT FALSE, updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
SELECT diesel_manage_updated_at('diesel_posts');
INSERT INTO __diesel_schema_migrations (version) VALUES ('00000000000000'), ('20240101120000');
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
SELECT name, state FROM migrate.status('@testdir@/diesel');
CALL migrate.run('@testdir@/diesel');
SELECT name, action FROM migrate.history WHERE action IN ('adopt', 'apply') ORDER BY id DESC LIMIT 3;
SELECT version FROM __diesel_schema_migrations ORDER BY version;

-- a changed up.sql is drift; a changed down.sql is not
\! printf -- '-- edited\n' >> @testdir@/diesel/2024-01-01-120000_create_posts/down.sql
SELECT name, state FROM migrate.status('@testdir@/diesel');
\! printf -- '-- edited\n' >> @testdir@/diesel/2024-01-01-120000_create_posts/up.sql
SELECT name, state FROM migrate.status('@testdir@/diesel');
\! cp "$PG_ABS_SRCDIR/fixtures/diesel/2024-01-01-120000_create_posts/up.sql" "$PG_ABS_SRCDIR/fixtures/diesel/2024-01-01-120000_create_posts/down.sql" @testdir@/diesel/2024-01-01-120000_create_posts/

-- bad input: a migration folder without up.sql (Diesel refuses the
-- folder too); a version that is not a number; two folders of one version
\! mkdir -p @testdir@/diesel/2024-01-03-120000_empty
SELECT * FROM migrate.status('@testdir@/diesel');
\! rmdir @testdir@/diesel/2024-01-03-120000_empty
\! mkdir -p @testdir@/diesel/next_step && printf 'SELECT 1;\n' > @testdir@/diesel/next_step/up.sql
SELECT * FROM migrate.status('@testdir@/diesel');
\! rm -r @testdir@/diesel/next_step
\! mkdir -p @testdir@/diesel/2024-01-01-120000_again && printf 'SELECT 1;\n' > @testdir@/diesel/2024-01-01-120000_again/up.sql
SELECT * FROM migrate.status('@testdir@/diesel');
\! rm -r @testdir@/diesel/2024-01-01-120000_again

-- Diesel compares versions as strings: "2025-11-19-091444-0000_first"
-- runs before "2026-01-20-162913_second", though its version has more
-- digits, and after "2025-11-19-091444_zero", whose version is the start
-- of its own (crates.io's folder has both kinds); Diesel's table holds its
-- own versions
\! mkdir -p @testdir@/diesel_lengths/2025-11-19-091444-0000_first @testdir@/diesel_lengths/2026-01-20-162913_second @testdir@/diesel_lengths/2025-11-19-091444_zero
\! printf 'CREATE TABLE dl_zero ();\n' > @testdir@/diesel_lengths/2025-11-19-091444_zero/up.sql
\! printf 'CREATE TABLE dl_second (id int REFERENCES dl_first);\n' > @testdir@/diesel_lengths/2026-01-20-162913_second/up.sql
\! printf 'CREATE TABLE dl_first (id int PRIMARY KEY);\n' > @testdir@/diesel_lengths/2025-11-19-091444-0000_first/up.sql
SELECT name, action FROM migrate.apply('@testdir@/diesel_lengths', allow_drift => true);
SELECT name, version FROM migrate.migrations WHERE name LIKE '%_first' OR name LIKE '%_second' OR name LIKE '%_zero' ORDER BY id;
SELECT version FROM __diesel_schema_migrations WHERE version LIKE '2025%' OR version LIKE '2026%' ORDER BY version;
DELETE FROM migrate.migrations WHERE name LIKE '%_first' OR name LIKE '%_second' OR name LIKE '%_zero';
DROP TABLE dl_second, dl_first, dl_zero;

-- clean up
DROP INDEX diesel_posts_title_idx;
DELETE FROM migrate.migrations WHERE format = 'diesel';
DROP TABLE diesel_posts, __diesel_schema_migrations;
DROP FUNCTION diesel_manage_updated_at(regclass), diesel_set_updated_at();
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
