-- Verify (issue 18, section 3): each pending migration's up script, then
-- its down script (written, or generated as the up script ran), compared
-- with migrate.schema_objects() before, in a subtransaction always rolled
-- back.  One row per pending migration.
\! rm -rf @testdir@/verify && mkdir -p @testdir@/verify && cp -R "$PG_ABS_SRCDIR/fixtures/verify/." @testdir@/verify/
\! rm -rf @testdir@/verify_broken && mkdir -p @testdir@/verify_broken && cp -R "$PG_ABS_SRCDIR/fixtures/verify_broken/." @testdir@/verify_broken/

-- the lint's warnings are not what this test is about
SET migrate.lint = off;
CREATE TEMP TABLE schema_before AS SELECT * FROM migrate.schema_objects();
CREATE TEMP TABLE migrations_before AS SELECT * FROM migrate.migrations;
CREATE TEMP TABLE history_before AS SELECT * FROM migrate.history;
CREATE TEMP TABLE ddl_log_before AS SELECT id FROM migrate.ddl_log;

-- 0001: generated down, exact; 0002: written down, exact; 0003: a written
-- down that forgets a column, a default and an index; 0004: a generated
-- down that is partial; 0005: a down script that fails, named by file and
-- line; 0006: no-transaction, and 0007: setval(), cannot be rolled back;
-- 0008: verified on what 0001 to 0005 made
SELECT name, result, down, detail FROM migrate.verify('@testdir@/verify');
-- the objects that differ, as JSON
SELECT name, jsonb_pretty(objects) AS objects FROM migrate.verify('@testdir@/verify')
WHERE result = 'differs';

-- nothing is left: no schema, no tracking row, no history, no DDL log row
SELECT count(*) AS ver_schema FROM pg_namespace WHERE nspname = 'ver';
(SELECT object_type, object_identity, digest FROM migrate.schema_objects()
 EXCEPT SELECT object_type, object_identity, digest FROM schema_before)
UNION ALL
(SELECT object_type, object_identity, digest FROM schema_before
 EXCEPT SELECT object_type, object_identity, digest FROM migrate.schema_objects());
SELECT count(*) AS new_migrations FROM migrate.migrations
WHERE id NOT IN (SELECT id FROM migrations_before);
SELECT count(*) AS new_history FROM migrate.history
WHERE id NOT IN (SELECT id FROM history_before);
SELECT count(*) AS new_ddl_log FROM migrate.ddl_log
WHERE id NOT IN (SELECT id FROM ddl_log_before);

-- nor any lock, the run lock included, within the caller's transaction
-- (but the one PostgreSQL gives the transaction itself on a sequence a
-- statement opened, here the serial column's, dropped since: its OID no
-- longer names a relation)
BEGIN;
SELECT count(*) AS verified FROM migrate.verify('@testdir@/verify');
SELECT locktype, relation::regclass, mode FROM pg_locks
WHERE pid = pg_backend_pid() AND locktype IN ('relation', 'object', 'advisory')
  AND relation IS DISTINCT FROM 'pg_locks'::regclass
  AND coalesce(relation::regclass::text, '') !~ '^[0-9]+$';
COMMIT;

-- with migrate.generate_down off, a migration without a down script is
-- irreversible; one with a written down script is still verified
SET migrate.generate_down = off;
SELECT name, result, down, detail FROM migrate.verify('@testdir@/verify')
WHERE name < '0004';
RESET migrate.generate_down;

-- an up script that fails: its row names file and line, and the
-- migrations after it are not run, as a real run would stop there
SELECT name, result, down, detail FROM migrate.verify('@testdir@/verify_broken');
SELECT count(*) AS ver_broken_left FROM pg_class WHERE relname = 'ver_broken';

-- applied migrations are not verified again: only the pending ones
SELECT name, action FROM migrate.apply('@testdir@/verify_broken', target => '0001_ok');
SELECT name, result, down, detail FROM migrate.verify('@testdir@/verify_broken');
SELECT name, action FROM migrate.rollback();

-- the folder sent as data, as the pg_migrate command sends it
SELECT name, result, down FROM migrate.verify(
    jsonb_build_object('0001_t.sql', 'CREATE TABLE ver_sent (id int);',
                       '0001_t.down.sql', 'DROP TABLE ver_sent;'));
-- a down script marked to run outside a transaction block cannot be
-- rehearsed either
SELECT name, result, down, detail FROM migrate.verify(
    jsonb_build_object('0001_t.sql', 'CREATE TABLE ver_sent (id int);',
                       '0001_t.down.sql', E'-- migrate:no-transaction\nDROP TABLE ver_sent;'));

-- an up script that run would refuse (a COMMIT in its middle) is an
-- error with its line; a repeatable migration, never rolled back, is
-- skipped
SELECT name, result, down, detail FROM migrate.verify(
    jsonb_build_object('0001_c.sql', E'CREATE TABLE ver_c (id int);\nCOMMIT;\nCREATE TABLE ver_d (id int);'));
SELECT name, result, down, detail FROM migrate.verify(
    jsonb_build_object('V1__t.sql', 'CREATE TABLE ver_fly (id int);',
                       'R__v.sql', 'CREATE OR REPLACE VIEW ver_fly_v AS SELECT 1 AS one;'),
    format => 'flyway');

-- reading a folder is refused to a role without the right, as plan is
CREATE ROLE verify_nobody;
GRANT USAGE ON SCHEMA migrate TO verify_nobody;
SET ROLE verify_nobody;
SELECT * FROM migrate.verify('@testdir@/verify');
SELECT * FROM migrate.verify(jsonb_build_object('0001_t.sql', 'SELECT 1;'));
RESET ROLE;
REVOKE USAGE ON SCHEMA migrate FROM verify_nobody;
DROP ROLE verify_nobody;
