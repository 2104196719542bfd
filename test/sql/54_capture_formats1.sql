-- migrate.capture() into folders of Prisma, goose, sqlx and Diesel: the
-- next migration named and written as each tool names and writes one
-- (goose's annotations, sqlx's marker), recorded as applied, and read
-- back by the folder's format as applied.  In a database of its own, so
-- that the DDL log's rows are this test's.
CREATE DATABASE regress_capture1;
\c regress_capture1
CREATE EXTENSION pg_migrate;
CREATE TABLE hot (id int);

CREATE FUNCTION pg_temp.stable(text) RETURNS text LANGUAGE sql AS $$
  SELECT regexp_replace(regexp_replace($1,
         '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC', 'TIME', 'g'),
         'migrate\.ddl_log [0-9, ]+', 'migrate.ddl_log N', 'g')
$$;
CREATE FUNCTION pg_temp.capture_in(folder jsonb, description text,
                                   fmt text DEFAULT 'auto', OUT name text, OUT file text, OUT content text,
                                   OUT state text)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
  c record;
  files jsonb := folder;
  new_name text;
BEGIN
  FOR c IN SELECT * FROM migrate.capture(folder, description, format => fmt) LOOP
    files := files || jsonb_build_object(c.file, c.content);
    new_name := c.name;
    name := regexp_replace(regexp_replace(c.name, '^\d{14}', 'TIMESTAMP'), '^\d{4}-\d\d-\d\d-\d{6}', 'DATE-TIME');
    file := regexp_replace(regexp_replace(c.file, '^\d{14}', 'TIMESTAMP'), '^\d{4}-\d\d-\d\d-\d{6}', 'DATE-TIME');
    content := pg_temp.stable(c.content);
    RETURN NEXT;
  END LOOP;
  SELECT s.state INTO state FROM migrate.status(files, format => fmt) s WHERE s.name = new_name;
  name := 'status'; file := NULL; content := NULL;
  RETURN NEXT;
END $$;
SET client_min_messages = warning;

-- Prisma: timestamped, or numbered as the folder is
ALTER TABLE hot ADD COLUMN p1 int;
SELECT * FROM pg_temp.capture_in('{"migration_lock.toml": "provider = \"postgresql\"", "20240101000000_init/migration.sql": "SELECT 1;\n"}', 'prisma_fix');
ALTER TABLE hot ADD COLUMN p2 int;
SELECT * FROM pg_temp.capture_in('{"migration_lock.toml": "provider = \"postgresql\"", "09_init/migration.sql": "SELECT 1;\n"}', 'prisma_numbered');
-- goose: its annotations, and a statement holding semicolons between
-- StatementBegin and StatementEnd, as goose needs it
CREATE FUNCTION hot_fn() RETURNS int LANGUAGE plpgsql AS $f$ BEGIN RETURN 1; END; $f$;
SELECT * FROM pg_temp.capture_in('{"00001_init.sql": "-- +goose Up\nSELECT 1;\n"}', 'goose_fix');
-- a migration that must run outside a transaction: goose's NO TRANSACTION
CREATE INDEX CONCURRENTLY hot_id ON hot (id);
SELECT * FROM pg_temp.capture_in('{"00001_init.sql": "-- +goose Up\nSELECT 1;\n"}', 'goose_index');
-- sqlx: a simple migration, or a reversible pair's up script; sqlx's
-- marker as the first line
ALTER TABLE hot ADD COLUMN s1 int;
SELECT * FROM pg_temp.capture_in('{"20240101000000_init.up.sql": "SELECT 1;\n", "20240101000000_init.down.sql": "SELECT 1;\n"}', 'sqlx_fix', 'sqlx');
DROP INDEX CONCURRENTLY hot_id;
SELECT * FROM pg_temp.capture_in('{"20240101000000_init.sql": "SELECT 1;\n"}', 'sqlx_index', 'sqlx');
-- Diesel: its folder name, date and time with dashes
ALTER TABLE hot ADD COLUMN d1 int;
SELECT * FROM pg_temp.capture_in('{"2024-01-01-000000_init/up.sql": "SELECT 1;\n"}', 'diesel_fix');
RESET client_min_messages;
SELECT regexp_replace(regexp_replace(name, '^\d{14}', 'TIMESTAMP'), '^\d{4}-\d\d-\d\d-\d{6}', 'DATE-TIME') AS name,
       format, transaction_mode FROM migrate.migrations ORDER BY id;

\c contrib_regression
DROP DATABASE regress_capture1;
