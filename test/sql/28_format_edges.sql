-- Edges of reading folders: targets named by a name that shares its
-- version, and a named format that finds no migration.
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();

-- Date-named files ("2019-01-01-000001_a") all read as version 2019: a
-- name still names one migration; the version is ambiguous.
SELECT * FROM migrate.apply('{
  "2019-01-01-000001_fe_a.sql": "CREATE TABLE fe_a ();\n",
  "2019-01-02-000001_fe_b.sql": "CREATE TABLE fe_b ();\n"
}'::jsonb, target => '2019');
SELECT name, action FROM migrate.apply('{
  "2019-01-01-000001_fe_a.sql": "CREATE TABLE fe_a ();\n",
  "2019-01-02-000001_fe_b.sql": "CREATE TABLE fe_b ();\n"
}'::jsonb, target => '2019-01-01-000001_fe_a');
SELECT name, state FROM migrate.status('{
  "2019-01-01-000001_fe_a.sql": "CREATE TABLE fe_a ();\n",
  "2019-01-02-000001_fe_b.sql": "CREATE TABLE fe_b ();\n"
}'::jsonb);
SELECT name FROM migrate.forget('2019-01-01-000001_fe_a');
DROP TABLE fe_a;

-- A folder without migrations is an error whether its format is detected
-- or named: a deploy that names its format does not silently do nothing.
\! rm -rf @testdir@/edges && mkdir -p @testdir@/edges/empty @testdir@/edges/readme && printf 'notes\n' > @testdir@/edges/readme/README.md
SELECT * FROM migrate.status('@testdir@/edges/empty');
SELECT * FROM migrate.status('@testdir@/edges/empty', format => 'plain');
SELECT * FROM migrate.apply('@testdir@/edges/readme', format => 'plain');
CALL migrate.run('@testdir@/edges/readme', format => 'golang-migrate');
SELECT * FROM migrate.apply('{"README.md": "notes"}'::jsonb, format => 'dbmate');
SELECT * FROM migrate.status('{}'::jsonb, format => 'flyway');

-- golang-migrate and dbmate create their table before the first migration
-- runs, and a project's migration may use it: so does pg_migrate.
SELECT to_regclass('schema_migrations') IS NULL AS no_tool_table;
CALL migrate.run('{
  "1_note.up.sql": "ALTER TABLE schema_migrations ADD COLUMN note text;\n",
  "1_note.down.sql": "ALTER TABLE schema_migrations DROP COLUMN note;\n"
}'::jsonb, format => 'golang-migrate');
SELECT version, dirty, note FROM schema_migrations;
SELECT name FROM migrate.rollback('1_note');
SELECT count(*) FROM schema_migrations;
DROP TABLE schema_migrations;
SELECT name, action FROM migrate.apply('{
  "20240101000000_fe_comment.sql": "-- migrate:up\nCOMMENT ON TABLE schema_migrations IS ''dbmate'';\n\n-- migrate:down\nCOMMENT ON TABLE schema_migrations IS NULL;\n"
}'::jsonb);
SELECT version, obj_description('schema_migrations'::regclass, 'pg_class') FROM schema_migrations;
SELECT name FROM migrate.rollback('20240101000000_fe_comment');
DROP TABLE schema_migrations;
