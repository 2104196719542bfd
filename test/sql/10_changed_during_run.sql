-- A file edited after the checks and before it runs stops the run with a
-- clear error: what runs and is recorded is what was checked.  Here the
-- first migration rewrites the second one's file (as a deploy copying files
-- into the folder during a run would) into a no-transaction migration.
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/changed && mkdir -p @testdir@/changed
\! printf 'CREATE TABLE changed_t (id int);\n' > @testdir@/changed/0002_index.sql
\! printf 'DROP TABLE changed_t;\n' > @testdir@/changed/0002_index.down.sql
\! printf 'SELECT 1;\n' > @testdir@/changed/0001_rewrite.down.sql
\! cp @testdir@/changed/0002_index.sql @testdir@/changed_0002.orig
\! printf 'COPY (SELECT $$-- migrate:no-transaction$$ || chr(10) || $$CREATE INDEX CONCURRENTLY changed_idx ON changed_t (id);$$) TO $$@testdir@/changed/0002_index.sql$$;\n' > @testdir@/changed/0001_rewrite.sql

-- (the old behaviour was to start the background worker from inside
-- apply's transaction, which then waited on itself)
SET statement_timeout = '20s';

-- apply: nothing is applied, the worker is never started
SELECT name, action FROM migrate.apply('@testdir@/changed');
SELECT count(*) AS recorded FROM migrate.migrations WHERE name IN ('0001_rewrite', '0002_index');
SELECT to_regclass('changed_t') AS table_created;

-- run: the first migration commits, the second is refused and logged
\! cp @testdir@/changed_0002.orig @testdir@/changed/0002_index.sql
CALL migrate.run('@testdir@/changed');
SELECT name, state FROM migrate.status('@testdir@/changed');
SELECT action, name, sqlstate, message FROM migrate.history
WHERE name IN ('0001_rewrite', '0002_index') ORDER BY id;
SELECT to_regclass('changed_t') AS table_created;

-- once the folder is stable, the run goes on
SELECT name, action FROM migrate.rollback('0001_rewrite');
\! rm @testdir@/changed/0001_rewrite.sql @testdir@/changed/0001_rewrite.down.sql
\! cp @testdir@/changed_0002.orig @testdir@/changed/0002_index.sql
SELECT name, action FROM migrate.apply('@testdir@/changed');
SELECT name, action FROM migrate.rollback('0002_index');
RESET statement_timeout;
