-- node-pg-migrate's SQL migrations: "-- Up Migration" / "-- Down Migration"
-- sections (markers matched as node-pg-migrate matches them), ".up.sql" /
-- ".down.sql" pairs, its order, and its table pgmigrations(id, name,
-- run_on) adopted and kept in step.
SET migrate.generate_down = off;
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/node_pg_migrate && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/node_pg_migrate" @testdir@/node_pg_migrate

-- The down section never runs as part of the up migration: the column
-- the migration adds is there after run, and node-pg-migrate's header
-- above the up marker did not run either
CALL migrate.run('@testdir@/node_pg_migrate');
SELECT attname FROM pg_attribute
WHERE attrelid = 'npm_accounts'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SELECT current_setting('npm.header_ran', true) IS NULL AS header_not_run;
SELECT email, name FROM npm_accounts;
-- in node-pg-migrate's order: the 17-digit UTC prefix is a date
-- (2023-11-14, before the 13-digit 1700000000000), one prefix by name
SELECT name, version, format, down_sql IS NOT NULL AS has_down FROM migrate.migrations
WHERE format = 'node-pg-migrate' ORDER BY id;
-- sections as stored: without the markers, the other section, nor the header
SELECT up_sql, down_sql FROM migrate.migrations WHERE name = '1700000001000_add-name';
-- the table as node-pg-migrate writes it: a row per migration, by name
SELECT id, name, run_on IS NOT NULL AS run_on_set FROM public.pgmigrations ORDER BY id;
SELECT pg_get_expr(adbin, adrelid) AS id_default FROM pg_attrdef WHERE adrelid = 'public.pgmigrations'::regclass;
SELECT name, state FROM migrate.status('@testdir@/node_pg_migrate');

-- rollback runs the down section and deletes the row, as node-pg-migrate down
SELECT name, action FROM migrate.rollback('1700000003000_a');
SELECT name FROM public.pgmigrations WHERE name LIKE '1700000003000%';
SELECT name, action FROM migrate.rollback('1700000001000_add-name');
SELECT attname FROM pg_attribute
WHERE attrelid = 'npm_accounts'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;

-- an edited up section is modified; an edited down section is not drift
\! sed -i 's/DROP TABLE npm_accounts;/DROP TABLE npm_accounts CASCADE;/' @testdir@/node_pg_migrate/1700000000000_create-accounts.sql
SELECT name, state FROM migrate.status('@testdir@/node_pg_migrate') WHERE name LIKE '1700000000000%';
\! sed -i 's/email text NOT NULL/email text/' @testdir@/node_pg_migrate/1700000000000_create-accounts.sql
SELECT name, state FROM migrate.status('@testdir@/node_pg_migrate') WHERE name LIKE '1700000000000%';
\! cp "$PG_ABS_SRCDIR/fixtures/node_pg_migrate/1700000000000_create-accounts.sql" @testdir@/node_pg_migrate/

-- roll everything back: the table keeps no row
SELECT name, action FROM migrate.rollback('20231114000000000_utc-first');
SELECT count(*) AS npm_rows FROM public.pgmigrations;

-- Adopted: a database node-pg-migrate migrated, its rows written as it
-- writes them (the legacy SQL loader names a ".up.sql" file "<name>.up")
CREATE SCHEMA npm_first;
CREATE TABLE npm_accounts (id serial PRIMARY KEY, email text NOT NULL);
INSERT INTO "public"."pgmigrations" (name, run_on) VALUES ('20231114000000000_utc-first', NOW());
INSERT INTO "public"."pgmigrations" (name, run_on) VALUES ('1700000000000_create-accounts', NOW());
SELECT name, state FROM migrate.status('@testdir@/node_pg_migrate');
SELECT name, action FROM migrate.apply('@testdir@/node_pg_migrate', target => '1700000001000_add-name');
ALTER TABLE npm_accounts ADD COLUMN a_first int, ADD COLUMN b_second int;
INSERT INTO npm_accounts (email, name) VALUES ('ada@example.com', 'Ada');
INSERT INTO "public"."pgmigrations" (name, run_on) VALUES ('1700000002000_seed.up', NOW());
INSERT INTO "public"."pgmigrations" (name, run_on) VALUES ('1700000003000_a', NOW()), ('1700000003000_b', NOW());
SELECT name, action FROM migrate.apply('@testdir@/node_pg_migrate');
SELECT * FROM migrate.drift();
-- no second row for what node-pg-migrate recorded itself
SELECT name FROM public.pgmigrations ORDER BY id;
SELECT action, name, tool_table FROM migrate.history
WHERE name = '1700000001000_add-name' ORDER BY id;
-- a rollback deletes the legacy name's row too
SELECT name, action FROM migrate.rollback('1700000002000_seed');
SELECT name FROM public.pgmigrations ORDER BY id;
SELECT name, action FROM migrate.rollback('20231114000000000_utc-first');
SELECT count(*) AS npm_rows FROM public.pgmigrations;
DROP TABLE public.pgmigrations;
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();

-- Refused, naming the file and the line: a down section without an up
-- section (node-pg-migrate would run it whole, down section included)
\set VERBOSITY default
CALL migrate.run('{
  "1700000000000_only-down.sql": "-- Up\nCREATE TABLE npm_x ();\n-- Down Migration\nDROP TABLE npm_x;\n"
}'::jsonb, format => 'node-pg-migrate');
-- detected by a down marker alone too
SELECT * FROM migrate.status('{
  "1700000000000_only-down.sql": "CREATE TABLE npm_x ();\n\n-- down migration\nDROP TABLE npm_x;\n"
}'::jsonb);
-- an ".up.sql" file, which node-pg-migrate runs whole, with a down marker
SELECT * FROM migrate.apply('{
  "1700000000000_pair.up.sql": "-- Up Migration\nCREATE TABLE npm_x ();\n-- Down Migration\nDROP TABLE npm_x;\n",
  "1700000000000_pair.down.sql": "DROP TABLE npm_x;\n"
}'::jsonb, format => 'node-pg-migrate');
-- JavaScript and TypeScript migrations
SELECT * FROM migrate.status('{
  "1700000000000_a.sql": "-- Up Migration\nCREATE TABLE npm_x ();\n",
  "1700000001000_b.js": "exports.up = (pgm) => {};\n"
}'::jsonb);
SELECT * FROM migrate.status('{
  "1700000001000_b.ts": "export async function up(pgm) {}\n"
}'::jsonb, format => 'node-pg-migrate');
-- a down file without its up file; a ".sql" file beside an ".up.sql" one
SELECT * FROM migrate.status('{
  "1700000000000_a.sql": "-- Up Migration\nCREATE TABLE npm_x ();\n",
  "1700000001000_b.down.sql": "DROP TABLE npm_x;\n"
}'::jsonb);
SELECT * FROM migrate.status('{
  "1700000000000_a.sql": "-- Up Migration\nCREATE TABLE npm_x ();\n",
  "1700000000000_a.up.sql": "CREATE TABLE npm_x ();\n"
}'::jsonb);
-- a file without markers is all up, with no down script
SELECT name, action FROM migrate.apply('{
  "1700000000000_a.sql": "-- Up Migration\nCREATE TABLE npm_x ();\n",
  "1700000001000_b.sql": "CREATE TABLE npm_y ();\n"
}'::jsonb);
SELECT name, down_sql IS NULL AS no_down FROM migrate.migrations WHERE name LIKE '170000000%\_a' OR name LIKE '1700000001000_b' ORDER BY id;
SELECT name FROM migrate.forget('1700000001000_b');
SELECT name FROM migrate.forget('1700000000000_a');
DROP TABLE npm_x, npm_y, public.pgmigrations;
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();

-- capture writes node-pg-migrate's next file: a millisecond prefix, the
-- statements in an "-- Up Migration" section, an empty down section; read
-- back, it is the migration recorded
UPDATE migrate.ddl_log SET accepted = true WHERE origin = 'out_of_band';
CREATE TABLE npm_hotfix (id int);
SET client_min_messages = warning;
SELECT regexp_replace(c.name, '^\d{13}', 'MS') AS name, regexp_replace(c.file, '^\d{13}', 'MS') AS file,
       regexp_replace(c.content, '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC|migrate\.ddl_log [0-9, ]+', 'X', 'g') AS content,
       (SELECT s.state FROM migrate.status('{"1700000000000_a.sql": "-- Up Migration\nSELECT 1;\n"}'::jsonb || jsonb_build_object(c.file, c.content)) s
        WHERE s.name = c.name) AS state
FROM migrate.capture('{"1700000000000_a.sql": "-- Up Migration\nSELECT 1;\n"}'::jsonb, 'hotfix') c;
RESET client_min_messages;
SELECT count(*) AS forgotten FROM migrate.forget((SELECT name FROM migrate.migrations WHERE name LIKE '%\_hotfix' ORDER BY id DESC LIMIT 1));
DROP TABLE npm_hotfix;
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
