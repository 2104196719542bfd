-- A drizzle migration that ends drizzle-orm's transaction with a COMMIT of
-- its own (issue 16).  drizzle-orm's migrator runs every statement in one
-- transaction, so the statements after such a COMMIT run in autocommit:
-- CREATE INDEX CONCURRENTLY, ALTER TYPE ... ADD VALUE then a use of the
-- value.  migrate.run() runs the file the same way: the statements before
-- the COMMIT in one transaction, committed, then the rest one by one in the
-- background worker, the migration recorded once all ran.  migrate.apply()
-- (one transaction) refuses it.  Other formats keep refusing a COMMIT.
-- The folder is run up to one target at a time.  In a database of its own.
CREATE DATABASE regress_drizzle_commit;
\c regress_drizzle_commit
CREATE EXTENSION pg_migrate;
\! rm -rf @testdir@/drizzle_commit && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/drizzle_commit" @testdir@/drizzle_commit

-- apply refuses the file, naming it and the COMMIT's line, before anything
-- runs: 0000 did not run either
SELECT name, action FROM migrate.apply('@testdir@/drizzle_commit', target => '0001_priority');
SELECT to_regclass('tasks') AS tasks;

-- 0000 is an ordinary migration
CALL migrate.run('@testdir@/drizzle_commit', target => '0000_tasks');

-- lint judges the statements after a COMMIT outside a transaction: the
-- value 0001 adds to an existing enum and then uses is no finding there
SELECT migration, line, rule FROM migrate.lint('@testdir@/drizzle_commit');
-- plan rehearses the statements before the COMMIT, and says the rest runs
-- outside a transaction block
SELECT migration, line, command, executed, error, note
FROM migrate.plan('@testdir@/drizzle_commit');
-- verify cannot rehearse it
SELECT name, result, detail FROM migrate.verify('@testdir@/drizzle_commit')
WHERE name = '0001_priority';
SELECT attname FROM pg_attribute WHERE attrelid = 'tasks'::regclass AND attname = 'priority';

-- run: 0001 in two parts, with a NOTICE naming the file and the line
CALL migrate.run('@testdir@/drizzle_commit', target => '0001_priority');
SELECT indexrelid::regclass AS index, indisvalid FROM pg_index
WHERE indexrelid = 'tasks_priority_idx'::regclass;
SELECT title, status, priority FROM tasks ORDER BY id;
SELECT name, state, down FROM migrate.status('@testdir@/drizzle_commit')
WHERE name < '0002';
SELECT action, name FROM migrate.history WHERE name IS NOT NULL ORDER BY id;
-- drizzle-orm's own table has its row for each, as its migrator writes it
SELECT count(*) AS drizzle_rows FROM drizzle.__drizzle_migrations;
-- nothing left to do up to there
CALL migrate.run('@testdir@/drizzle_commit', target => '0001_priority');

-- a failure after the COMMIT: the statements before it stay committed, the
-- unique index built CONCURRENTLY is left invalid, and the migration is
-- recorded as failed, not applied; the detail says what committed
CALL migrate.run('@testdir@/drizzle_commit', target => '0002_events');
SELECT count(*) AS events FROM events;
SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_kind_key'::regclass;
SELECT name, state FROM migrate.status('@testdir@/drizzle_commit')
WHERE name = '0002_events';
SELECT action, sqlstate, file, line, detail FROM migrate.history
WHERE name = '0002_events' ORDER BY id;
SELECT count(*) AS drizzle_rows FROM drizzle.__drizzle_migrations;
-- the unchanged file is refused until migrate.retry(); then the whole file
-- runs again (its statements before the COMMIT can), and the invalid index
-- is dropped and built again
\set VERBOSITY terse
CALL migrate.run('@testdir@/drizzle_commit', target => '0002_events');
\set VERBOSITY default
UPDATE events SET kind = 'login' WHERE id = 2;
SELECT migrate.retry('0002_events');
CALL migrate.run('@testdir@/drizzle_commit', target => '0002_events');
SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_kind_key'::regclass;
SELECT name, state FROM migrate.status('@testdir@/drizzle_commit')
WHERE name = '0002_events';

-- a BEGIN before the statements opens nothing more: dropped
CALL migrate.run('@testdir@/drizzle_commit', target => '0003_begin_first');
SELECT indisvalid FROM pg_index WHERE indexrelid = 'notes_body_idx'::regclass;
-- a COMMIT with nothing after it only ends the migration's transaction:
-- apply takes it
SELECT name, action FROM migrate.apply('@testdir@/drizzle_commit', target => '0004_trailing_commit');
-- transaction control after the COMMIT stays refused
CALL migrate.run('@testdir@/drizzle_commit');
SELECT name, state FROM migrate.status('@testdir@/drizzle_commit')
WHERE name > '0002';

-- a plain folder keeps refusing a COMMIT
SELECT migration, line, command, error, note FROM migrate.plan(jsonb_build_object(
  '0001_plain.sql', E'CREATE TABLE plain_t (id int);\nCOMMIT;\nCREATE INDEX CONCURRENTLY plain_t_id ON plain_t (id);\n'));

\c contrib_regression
DROP DATABASE regress_drizzle_commit;
