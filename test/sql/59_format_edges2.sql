-- Issue 16 section 3, checked: what real folders in the five first
-- formats trip on.
SET migrate.generate_down = off;
SET migrate.lock_timeout = '5s';
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\set VERBOSITY default

-- A golang-migrate migration that alters golang-migrate's own table, which
-- golang-migrate creates before the first migration: pg_migrate creates it
-- too, in apply and in run
SELECT name, action FROM migrate.apply('{
  "1_meta.up.sql": "ALTER TABLE schema_migrations ADD COLUMN applied_at timestamptz;\n",
  "1_meta.down.sql": "ALTER TABLE schema_migrations DROP COLUMN applied_at;\n"
}'::jsonb);
SELECT version, dirty, applied_at IS NULL AS no_time FROM schema_migrations;
SELECT name FROM migrate.rollback('1_meta');
DROP TABLE schema_migrations;
CALL migrate.run('{
  "1_meta.up.sql": "ALTER TABLE schema_migrations ADD COLUMN applied_at timestamptz;\n"
}'::jsonb);
SELECT version, dirty FROM schema_migrations;
SELECT name FROM migrate.forget('1_meta');
DROP TABLE schema_migrations;
-- dbmate's the same
SELECT name, action FROM migrate.apply('{
  "20240101000000_meta.sql": "-- migrate:up\nCOMMENT ON TABLE schema_migrations IS ''dbmate'';\n-- migrate:down\nCOMMENT ON TABLE schema_migrations IS NULL;\n"
}'::jsonb);
SELECT obj_description('schema_migrations'::regclass) AS comment, version FROM schema_migrations;
SELECT name FROM migrate.rollback('20240101000000_meta');
DROP TABLE schema_migrations;

-- target by full name, when two migrations share a version
SELECT name, action FROM migrate.apply('{
  "2019-01-01-000001_fe2_a.sql": "CREATE TABLE fe2_a ();\n",
  "2019-01-02-000001_fe2_b.sql": "CREATE TABLE fe2_b ();\n"
}'::jsonb, target => '2019-01-02-000001_fe2_b');
SELECT name FROM migrate.forget('2019-01-02-000001_fe2_b');
SELECT name FROM migrate.forget('2019-01-01-000001_fe2_a');
DROP TABLE fe2_a, fe2_b;

-- a named format on a folder without migrations: the same error as auto
SELECT * FROM migrate.status('{"README.md": "notes\n"}'::jsonb, format => 'plain');
SELECT * FROM migrate.status('{"README.md": "notes\n"}'::jsonb);
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
