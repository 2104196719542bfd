-- migrate.capture(): the DDL run outside migrations, as the DDL log
-- recorded it, made into a migration recorded as applied.  The name form
-- makes a plain migration; the files form (the pg_migrate command's) the
-- next migration of a folder sent as data, in its format.  In a database
-- of its own, so that the log's rows are this test's.
CREATE DATABASE regress_capture;
\c regress_capture
CREATE EXTENSION pg_migrate;

\set plain '{"0001_users.sql": "CREATE TABLE users (id int PRIMARY KEY);\\n"}'
SELECT name, action FROM migrate.apply(files => :'plain'::jsonb, source => 'regress');

-- the file's text, without what changes from run to run
CREATE FUNCTION pg_temp.stable(text) RETURNS text LANGUAGE sql AS $$
  SELECT regexp_replace(regexp_replace(regexp_replace($1,
         '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC', 'TIME', 'g'),
         'migrate\.ddl_log [0-9, ]+', 'migrate.ddl_log N', 'g'),
         '"when": \d+', '"when": WHEN', 'g')
$$;

-- nothing done outside migrations: nothing to capture
SELECT * FROM migrate.capture('0002_nothing');

-- a hotfix made by hand: one statement; one that logs several rows
-- (sequence, table, index); a query string of two statements, sent once;
-- a DO block; and DDL sent with an UPDATE in one query string
ALTER TABLE users ADD COLUMN nickname text;
CREATE TABLE tags (id serial PRIMARY KEY, label text);
ALTER TABLE tags ADD COLUMN a int \; ALTER TABLE tags ADD COLUMN b int;
DO $$ BEGIN EXECUTE 'CREATE INDEX tags_label ON tags (label)'; END $$;
ALTER TABLE users ADD COLUMN score int \; UPDATE users SET score = 0;
SELECT object_type, object_identity, change FROM migrate.drift() ORDER BY 1, 2;

-- bad input: each refused, nothing recorded
SELECT * FROM migrate.capture('hotfix');
SELECT * FROM migrate.capture('0002_hotfix.up');
SELECT * FROM migrate.capture('0001_users');
SELECT * FROM migrate.capture('0002_hotfix', ARRAY[]::bigint[]);
SELECT * FROM migrate.capture('0002_hotfix', ARRAY[NULL]::bigint[]);
SELECT * FROM migrate.capture('0002_hotfix', ARRAY[-1]);
SELECT * FROM migrate.capture('0002_hotfix',
    ARRAY[(SELECT min(id) FROM migrate.ddl_log WHERE origin = 'in_migration')]);
SELECT * FROM migrate.capture(:'plain'::jsonb, 'add nickname');
SELECT * FROM migrate.capture(:'plain'::jsonb, 'hotfix', format => 'flyway');
-- a row without its statement (a server that gave the trigger no text)
INSERT INTO migrate.ddl_log (session_user_name, current_user_name, backend_pid,
                             event, command_tag, object_type, object_identity,
                             origin)
VALUES ('someone', 'someone', 0, 'ddl_command_end', 'CREATE TABLE', 'table',
        'public.ghost', 'out_of_band');
SELECT * FROM migrate.capture('0002_hotfix');
DELETE FROM migrate.ddl_log WHERE statement IS NULL;
SELECT count(*) AS migrations FROM migrate.migrations;
SELECT count(*) AS captured_rows FROM migrate.ddl_log WHERE captured_as IS NOT NULL;

-- the capture: the next migration of the plain folder, each statement
-- once, in the order they ran; the UPDATE sent with DDL is kept, and said
CREATE TEMP TABLE captured AS
SELECT * FROM migrate.capture(:'plain'::jsonb, 'hotfix', source => 'regress');
SELECT name, file FROM captured;
SELECT pg_temp.stable(content) FROM captured;

-- the log's rows name the migration; the record is the file's
SELECT command_tag, object_identity, captured_as FROM migrate.ddl_log
WHERE origin = 'out_of_band' ORDER BY id;
SELECT m.name, m.version, m.format, m.source, m.transaction_mode,
       m.up_sql = c.content AS up_sql_is_file,
       m.checksum = encode(sha256(convert_to(c.content, 'UTF8')), 'hex') AS checksum_is_file,
       m.down_sql IS NULL AS no_down
FROM migrate.migrations m JOIN captured c USING (name);
SELECT action, name, source, performed_by = current_user AS by_caller
FROM migrate.history WHERE action = 'capture';

-- the folder with the file written: applied and unchanged, no drift left
SELECT (:'plain'::jsonb || jsonb_build_object(file, content)) AS plain2
FROM captured \gset
SELECT name, state FROM migrate.status(:'plain2'::jsonb);
SELECT migrate.check(:'plain2'::jsonb);
SELECT * FROM migrate.drift();

-- captured rows are not captured again; a folder without the file
-- would name the next capture as the one applied
ALTER TABLE users ADD COLUMN later int;
SELECT * FROM migrate.capture(:'plain'::jsonb, 'hotfix');
UPDATE migrate.ddl_log SET accepted = true WHERE statement LIKE '%later%';
SELECT * FROM migrate.capture('0003_again');
SELECT * FROM migrate.capture('0003_again',
    ARRAY[(SELECT min(id) FROM migrate.ddl_log WHERE captured_as IS NOT NULL)]);

-- rows accepted are left out unless named
ALTER TABLE tags ADD COLUMN accepted_by_hand int;
UPDATE migrate.ddl_log SET accepted = true WHERE statement LIKE '%accepted_by_hand%';
SELECT * FROM migrate.capture('0003_index');

-- rows named by their ids: CREATE INDEX CONCURRENTLY makes a
-- no-transaction migration.  The rows left waiting keep their drift, and
-- so does a table that one of them changed too (the log names an ALTER
-- TABLE by its table).
CREATE INDEX CONCURRENTLY users_nickname ON users (nickname);
ALTER TABLE users ADD COLUMN in_capture int;
ALTER TABLE users ADD COLUMN left_waiting int;
CREATE TABLE notes (id int);
SELECT name, file, pg_temp.stable(content)
FROM migrate.capture('0003_index',
     ARRAY(SELECT id FROM migrate.ddl_log
           WHERE statement LIKE '%CONCURRENTLY%' OR statement LIKE '%in_capture%'));
SELECT name, transaction_mode FROM migrate.migrations WHERE name = '0003_index';
SELECT object_type, object_identity, change FROM migrate.drift() ORDER BY 1, 2;
SELECT name, file FROM migrate.capture('0004_rest');
SELECT object_type, object_identity, change FROM migrate.drift() ORDER BY 1, 2;

-- the other formats: the next version and file name as their tools make
-- them, and the file read back as recorded
CREATE FUNCTION pg_temp.capture_in(folder jsonb, description text,
                                   OUT name text, OUT file text, OUT content text,
                                   OUT state text)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
  c record;
  files jsonb := folder;
  new_name text;
BEGIN
  FOR c IN SELECT * FROM migrate.capture(folder, description) LOOP
    files := files || jsonb_build_object(c.file, c.content);
    new_name := c.name;
    name := regexp_replace(c.name, '^\d{14}', 'TIMESTAMP');
    file := regexp_replace(c.file, '^\d{14}', 'TIMESTAMP');
    content := pg_temp.stable(c.content);
    RETURN NEXT;
  END LOOP;
  SELECT s.state INTO state FROM migrate.status(files) s WHERE s.name = new_name;
  name := 'status'; file := NULL; content := NULL;
  RETURN NEXT;
END $$;
SET client_min_messages = warning;
ALTER TABLE tags ADD COLUMN f int;
SELECT * FROM pg_temp.capture_in('{"V1__init.sql": "SELECT 1;\n", "V1.1__more.sql": "SELECT 1;\n"}', 'flyway_fix');
ALTER TABLE tags ADD COLUMN d int;
SELECT * FROM pg_temp.capture_in('{"20240101000000_init.sql": "-- migrate:up\nSELECT 1;\n-- migrate:down\n"}', 'dbmate_fix');
-- golang-migrate's table has dbmate's name: another database's
DROP TABLE schema_migrations;
UPDATE migrate.ddl_log SET accepted = true WHERE statement LIKE 'DROP TABLE schema_migrations%';
ALTER TABLE tags ADD COLUMN g int;
SELECT * FROM pg_temp.capture_in('{"1_init.up.sql": "SELECT 1;\n", "1_init.down.sql": "SELECT 1;\n"}', 'golang_fix');
ALTER TABLE tags ADD COLUMN z1 int;
ALTER TABLE tags ADD COLUMN z2 int;
SELECT * FROM pg_temp.capture_in(jsonb_build_object(
    'meta/_journal.json', E'{\n  "version": "7",\n  "dialect": "postgresql",\n  "entries": [\n    {\n      "idx": 0,\n      "version": "7",\n      "when": 1700000000000,\n      "tag": "0000_init",\n      "breakpoints": true\n    }\n  ]\n}',
    '0000_init.sql', E'SELECT 1;\n'), 'drizzle_fix');
ALTER TABLE tags ADD COLUMN e int;
SELECT * FROM pg_temp.capture_in('{"meta/_journal.json": "{\"version\": \"7\", \"dialect\": \"postgresql\", \"entries\": []}"}', 'first');
RESET client_min_messages;
-- a journal whose last array is not "entries": refused, nothing recorded
ALTER TABLE tags ADD COLUMN odd int;
SELECT * FROM migrate.capture('{"meta/_journal.json": "{\"entries\": [], \"extra\": []}"}'::jsonb, 'odd');
SELECT count(*) AS odd_captured FROM migrate.ddl_log WHERE statement LIKE '%odd%' AND captured_as IS NOT NULL;
SELECT hash IS NOT NULL AS drizzle_recorded, created_at > 1700000000000 AS newer
FROM drizzle.__drizzle_migrations ORDER BY id;

-- only those who may mark migrations applied may capture
SELECT has_function_privilege('public', 'migrate.capture(text, bigint[])', 'EXECUTE') AS public_name_form,
       has_function_privilege('public', 'migrate.capture(jsonb, text, bigint[], text, text)', 'EXECUTE') AS public_files_form;

\c contrib_regression
DROP DATABASE regress_capture;
