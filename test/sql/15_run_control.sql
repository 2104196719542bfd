-- Controlling a run: stop at a target, do not run a failed migration again
-- while its file is unchanged, roll back outside a transaction.
\! rm -rf @testdir@/control && mkdir -p @testdir@/control/target @testdir@/control/fails @testdir@/control/concurrently

-- target => applies up to and including the target, nothing after it
\! printf 'CREATE TABLE target_a (id int);\n' > @testdir@/control/target/0001_a.sql
\! printf 'DROP TABLE target_a;\n' > @testdir@/control/target/0001_a.down.sql
\! printf 'CREATE TABLE target_b (id int);\n' > @testdir@/control/target/0002_b.sql
\! printf 'DROP TABLE target_b;\n' > @testdir@/control/target/0002_b.down.sql
\! printf 'CREATE TABLE target_c (id int);\n' > @testdir@/control/target/0003_c.sql
\! printf 'DROP TABLE target_c;\n' > @testdir@/control/target/0003_c.down.sql
SELECT name, action FROM migrate.apply('@testdir@/control/target', target => '0002_b');
SELECT name, state FROM migrate.status('@testdir@/control/target');
-- a version names the target too
CALL migrate.run('@testdir@/control/target', target => '3');
SELECT name, state FROM migrate.status('@testdir@/control/target');
-- a target that is not in the folder, or behind what is applied
SELECT * FROM migrate.apply('@testdir@/control/target', target => '0009_z');
SELECT * FROM migrate.apply('@testdir@/control/target', target => '0001_a');
SELECT name, action FROM migrate.rollback('0001_a');

-- A migration that failed is not run again while its file is unchanged:
-- a scheduled run stops before it, and says so once in the history
\! printf 'CREATE TABLE fails_first (id int);\n' > @testdir@/control/fails/0001_first.sql
\! printf 'SELECT 1 / 0;\n' > @testdir@/control/fails/0002_divide.sql
CALL migrate.run('@testdir@/control/fails');
\set VERBOSITY terse
CALL migrate.run('@testdir@/control/fails');
CALL migrate.run('@testdir@/control/fails');
\set VERBOSITY default
SELECT action, name, sqlstate FROM migrate.history
WHERE name = '0002_divide' ORDER BY id;
SELECT name, state FROM migrate.status('@testdir@/control/fails');
-- run again on purpose: retry => true, or migrate.retry()
CALL migrate.run('@testdir@/control/fails', retry => true);
SELECT migrate.retry('0002_divide');
CALL migrate.run('@testdir@/control/fails');
SELECT action, name, sqlstate FROM migrate.history
WHERE name = '0002_divide' ORDER BY id;
SELECT migrate.retry('0001_first');
-- a fixed file runs without being asked
\! printf 'SELECT 1 / 1;\n' > @testdir@/control/fails/0002_divide.sql
CALL migrate.run('@testdir@/control/fails');
-- transient failures (a lock timeout here) are retried by themselves, by
-- the next run (within a run, lock retries are on by default: not here)
\! printf 'DO $$ BEGIN RAISE EXCEPTION $m$could not obtain lock$m$ USING ERRCODE = $c$55P03$c$; END $$;\n' > @testdir@/control/fails/0003_locked.sql
SET migrate.lock_retries = 0;
CALL migrate.run('@testdir@/control/fails');
CALL migrate.run('@testdir@/control/fails');
RESET migrate.lock_retries;
SELECT action, sqlstate FROM migrate.history WHERE name = '0003_locked' ORDER BY id;
DELETE FROM migrate.migrations WHERE name IN ('0001_first', '0002_divide');
DROP TABLE fails_first;

-- CALL migrate.run_rollback() commits after each undone migration and
-- runs no-transaction down scripts in the background worker
\! printf 'CREATE TABLE conc_t (id int);\n' > @testdir@/control/concurrently/0001_table.sql
\! printf 'DROP TABLE conc_t;\n' > @testdir@/control/concurrently/0001_table.down.sql
\! printf -- '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY conc_t_id ON conc_t (id);\n' > @testdir@/control/concurrently/0002_conc_index.sql
\! printf -- '-- migrate:no-transaction\nDROP INDEX CONCURRENTLY conc_t_id;\n' > @testdir@/control/concurrently/0002_conc_index.down.sql
CALL migrate.run('@testdir@/control/concurrently');
-- rollback(), one transaction, cannot
SELECT * FROM migrate.rollback('0002_conc_index');
BEGIN;
CALL migrate.run_rollback('0002_conc_index');
ROLLBACK;
CALL migrate.run_rollback('0002_conc_index');
SELECT to_regclass('conc_t_id') AS index_left, to_regclass('conc_t') AS table_kept;
SELECT action, name FROM migrate.history WHERE name = '0002_conc_index' ORDER BY id;
CALL migrate.run_rollback();
SELECT count(*) AS applied FROM migrate.migrations WHERE name IN ('0001_table', '0002_conc_index');
