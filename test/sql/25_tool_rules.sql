-- What the formats' own tools accept, pg_migrate accepts: each rule, with
-- only written down scripts here: generated ones are 35_generated_down's
SET migrate.generate_down = off;
-- the form that is still refused.
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/rules && mkdir -p @testdir@/rules

-- 1. An empty or comment-only down script is no down script
\! mkdir -p @testdir@/rules/empty_down
\! printf 'CREATE TABLE rules_empty_down (id int);\n' > @testdir@/rules/empty_down/1_create.up.sql
\! : > @testdir@/rules/empty_down/1_create.down.sql
\! printf 'CREATE TABLE rules_noop_down (id int);\n' > @testdir@/rules/empty_down/2_noop.up.sql
\! printf -- '-- no-op\n;\n' > @testdir@/rules/empty_down/2_noop.down.sql
SELECT name, action FROM migrate.apply('@testdir@/rules/empty_down');
SELECT name, down_sql IS NULL AS no_down FROM migrate.migrations
WHERE name IN ('1_create', '2_noop') ORDER BY name;
SELECT name, action FROM migrate.rollback('2_noop');
DELETE FROM migrate.migrations WHERE name IN ('1_create', '2_noop');
DROP TABLE rules_empty_down, rules_noop_down, schema_migrations;
-- tables dropped by hand are drift: start the fingerprint again
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();

-- 2. A file wrapped in its own BEGIN; ... COMMIT; runs in pg_migrate's
-- transaction; transaction control anywhere else is still refused
\! mkdir -p @testdir@/rules/wrapped
\! printf -- '-- golang-migrate sends the file as one string\nBEGIN;\nCREATE TABLE rules_wrapped (id int);\nINSERT INTO rules_wrapped VALUES (1);\nCOMMIT;\n' > @testdir@/rules/wrapped/1_wrapped.up.sql
\! printf 'START TRANSACTION;\nDROP TABLE rules_wrapped;\nEND;\n' > @testdir@/rules/wrapped/1_wrapped.down.sql
SELECT name, action FROM migrate.apply('@testdir@/rules/wrapped');
SELECT * FROM rules_wrapped;
SELECT name, action FROM migrate.rollback('1_wrapped');
CALL migrate.run('@testdir@/rules/wrapped');
SELECT name, action FROM migrate.rollback('1_wrapped');
\! mkdir -p @testdir@/rules/wrapped_bad
\! printf 'CREATE TABLE rules_middle (id int);\nCOMMIT;\nBEGIN;\nINSERT INTO rules_middle VALUES (1);\n' > @testdir@/rules/wrapped_bad/1_middle.up.sql
SELECT * FROM migrate.apply('@testdir@/rules/wrapped_bad');
\! rm @testdir@/rules/wrapped_bad/*
\! printf 'BEGIN ISOLATION LEVEL SERIALIZABLE;\nCREATE TABLE rules_iso (id int);\nCOMMIT;\n' > @testdir@/rules/wrapped_bad/1_iso.up.sql
SELECT * FROM migrate.apply('@testdir@/rules/wrapped_bad');
\! rm @testdir@/rules/wrapped_bad/*
\! printf -- '-- migrate:no-transaction\nBEGIN;\nCREATE TABLE rules_notx (id int);\nCOMMIT;\n' > @testdir@/rules/wrapped_bad/1_notx.up.sql
CALL migrate.run('@testdir@/rules/wrapped_bad');
SELECT to_regclass('rules_notx') AS created;
DELETE FROM migrate.history WHERE name = '1_notx';
DROP TABLE schema_migrations;

-- 3. A drizzle .sql file the journal does not list is ignored, with a
-- warning, as drizzle-orm's migrator ignores it
\! mkdir -p @testdir@/rules/drizzle && cp -R "$PG_ABS_SRCDIR/fixtures/drizzle/." @testdir@/rules/drizzle/
\! printf 'DROP TABLE users;\n' > @testdir@/rules/drizzle/0099_stray.sql
SELECT name, state FROM migrate.status('@testdir@/rules/drizzle');

-- 4. A broken down script (or dbmate down section) does not block up: a
-- warning names it, status shows it, and rollback refuses with its error
\! mkdir -p @testdir@/rules/broken_down
\! printf 'CREATE TABLE rules_broken (id int);\n' > @testdir@/rules/broken_down/0001_broken.sql
\! printf 'DROP TABLE rules_broken;\nDROPP TABLE nothing;\n' > @testdir@/rules/broken_down/0001_broken.down.sql
SELECT name, state FROM migrate.status('@testdir@/rules/broken_down');
SELECT name, action FROM migrate.apply('@testdir@/rules/broken_down');
SELECT name, action FROM migrate.rollback('0001_broken');
SELECT to_regclass('rules_broken') AS still_there;
DELETE FROM migrate.migrations WHERE name = '0001_broken';
DROP TABLE rules_broken;
\! mkdir -p @testdir@/rules/dbmate_down
\! printf -- '-- migrate:up\nCREATE TABLE rules_dbmate (id int);\n\n-- migrate:down\nDROP TABEL rules_dbmate;\n' > @testdir@/rules/dbmate_down/20240101000000_broken.sql
CALL migrate.run('@testdir@/rules/dbmate_down');
SELECT name, action FROM migrate.rollback('20240101000000_broken');
DELETE FROM migrate.migrations WHERE name = '20240101000000_broken';
DROP TABLE rules_dbmate, schema_migrations;

-- 5. A migration made only of statements that run outside a transaction
-- block runs outside one in run(), with a NOTICE; apply() refuses it, and
-- a file mixing both kinds stays refused, with the hint to split it
\! mkdir -p @testdir@/rules/cic
\! printf 'CREATE TABLE rules_cic (id int);\n' > @testdir@/rules/cic/V1__table.sql
\! printf 'CREATE INDEX CONCURRENTLY rules_cic_id ON rules_cic (id);\n' > @testdir@/rules/cic/V2__index.sql
SELECT * FROM migrate.apply('@testdir@/rules/cic');
CALL migrate.run('@testdir@/rules/cic');
SELECT name, transaction_mode FROM migrate.migrations WHERE name IN ('V1__table', 'V2__index') ORDER BY id;
SELECT indisvalid FROM pg_index WHERE indexrelid = 'rules_cic_id'::regclass;
DELETE FROM migrate.migrations WHERE name IN ('V1__table', 'V2__index');
DROP TABLE rules_cic;
\! printf 'CREATE TABLE rules_mixed (id int);\nCREATE INDEX CONCURRENTLY rules_mixed_id ON rules_mixed (id);\n' > @testdir@/rules/cic/V3__mixed.sql
\! rm @testdir@/rules/cic/V1__table.sql @testdir@/rules/cic/V2__index.sql
CALL migrate.run('@testdir@/rules/cic');
DELETE FROM migrate.history WHERE name IN ('V1__table', 'V2__index', 'V3__mixed');

-- 6. Every problem of a folder at once, each with its file and line
\! mkdir -p @testdir@/rules/many
\! printf 'CREATE TABLE ok (id int);\n' > @testdir@/rules/many/0001_fine.sql
\! printf 'SELECT 1;\nCREATE TABEL t (id int);\n' > @testdir@/rules/many/0002_syntax.sql
\! printf '\\i other.sql\n' > @testdir@/rules/many/0003_meta.sql
\! printf 'SELECT 1;\n\nVACUUM;\n' > @testdir@/rules/many/0004_vacuum.sql
\! printf -- '-- nothing\n' > @testdir@/rules/many/0005_empty.sql
SELECT * FROM migrate.apply('@testdir@/rules/many');
SELECT to_regclass('ok') AS nothing_ran;
-- one problem is raised as it is
\! rm @testdir@/rules/many/0002_* @testdir@/rules/many/0003_* @testdir@/rules/many/0005_*
SELECT * FROM migrate.apply('@testdir@/rules/many');
