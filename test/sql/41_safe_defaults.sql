-- Safe by default (0.5): with nothing set, a migration's statements wait
-- at most migrate.lock_timeout (1s) for a lock, and a migration that could
-- not get its lock is retried, for up to migrate.lock_retry_max_time.
-- (The retries themselves, which need a second session holding a lock,
-- are in test/t/048_safe_defaults_stall.pl.)
LOAD 'pg_migrate';
SELECT name, setting, unit, source, boot_val
FROM pg_settings
WHERE name IN ('migrate.lock_timeout', 'migrate.lock_retries', 'migrate.lock_retry_delay',
               'migrate.lock_retry_max_time', 'migrate.statement_timeout')
ORDER BY name;
SHOW migrate.lock_timeout;
SHOW migrate.lock_retry_max_time;
SHOW lock_timeout;

-- The lock_timeout each migration's statements run with
\! rm -rf @testdir@/safe && mkdir -p @testdir@/safe
\! printf 'INSERT INTO safe_seen SELECT $$0001$$, current_setting($$lock_timeout$$);\n' > @testdir@/safe/0001_seen.sql
CREATE TABLE safe_seen (migration text, lock_timeout text);
-- nothing set: the default
SELECT name, action FROM migrate.apply('@testdir@/safe');
-- a lock_timeout the session has is honoured, as before 0.5
\! printf 'INSERT INTO safe_seen SELECT $$0002$$, current_setting($$lock_timeout$$);\n' > @testdir@/safe/0002_seen.sql
SET lock_timeout = '3s';
SELECT name, action FROM migrate.apply('@testdir@/safe');
-- migrate.lock_timeout set takes precedence, as before 0.5
\! printf 'INSERT INTO safe_seen SELECT $$0003$$, current_setting($$lock_timeout$$);\n' > @testdir@/safe/0003_seen.sql
SET migrate.lock_timeout = '5s';
SELECT name, action FROM migrate.apply('@testdir@/safe');
-- 0 leaves the session's, whatever it is: the behaviour before 0.5
\! printf 'INSERT INTO safe_seen SELECT $$0004$$, current_setting($$lock_timeout$$);\n' > @testdir@/safe/0004_seen.sql
SET migrate.lock_timeout = 0;
RESET lock_timeout;
SELECT name, action FROM migrate.apply('@testdir@/safe');
-- set to the default's value, it is set all the same
\! printf 'INSERT INTO safe_seen SELECT $$0005$$, current_setting($$lock_timeout$$);\n' > @testdir@/safe/0005_seen.sql
SET migrate.lock_timeout = '1s';
SET lock_timeout = '3s';
SELECT name, action FROM migrate.apply('@testdir@/safe');
RESET migrate.lock_timeout;
RESET lock_timeout;
SELECT * FROM safe_seen ORDER BY migration;
-- and the session's own is back
SHOW lock_timeout;
DELETE FROM migrate.migrations WHERE name IN ('0001_seen', '0002_seen', '0003_seen', '0004_seen', '0005_seen');

-- In the background worker: the default applies to its statements, but a
-- CONCURRENTLY statement, which queues none of the application's queries
-- behind it but waits for older transactions, is not cut short by it.
-- An event trigger says the lock_timeout each DDL statement starts with
-- (in a NOTICE: DROP INDEX CONCURRENTLY refuses to run in a transaction
-- that wrote anything before it).
CREATE TABLE safe_items (id int, note text);
CREATE FUNCTION safe_note_timeout() RETURNS event_trigger LANGUAGE plpgsql AS
$$BEGIN RAISE NOTICE '% with lock_timeout %', tg_tag, current_setting('lock_timeout'); END$$;
CREATE EVENT TRIGGER safe_note_timeout ON ddl_command_start
  WHEN TAG IN ('CREATE INDEX', 'DROP INDEX', 'ALTER TABLE')
  EXECUTE FUNCTION safe_note_timeout();
\! rm -rf @testdir@/safe_worker && mkdir -p @testdir@/safe_worker
\! printf -- '-- migrate:no-transaction\nALTER TABLE safe_items ADD COLUMN extra text;\nCREATE INDEX CONCURRENTLY safe_items_id ON safe_items (id);\nREINDEX INDEX CONCURRENTLY safe_items_id;\nCREATE INDEX safe_items_note ON safe_items (note);\nDROP INDEX CONCURRENTLY safe_items_id;\n' > @testdir@/safe_worker/0001_worker.sql
CALL migrate.run('@testdir@/safe_worker');
-- a lock_timeout that was set applies to them as it is
\! printf -- '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY safe_items_id2 ON safe_items (id);\n' > @testdir@/safe_worker/0002_set.sql
SET migrate.lock_timeout = '2s';
CALL migrate.run('@testdir@/safe_worker');
RESET migrate.lock_timeout;
\! printf -- '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY safe_items_id3 ON safe_items (id);\n' > @testdir@/safe_worker/0003_session.sql
SET lock_timeout = '4s';
CALL migrate.run('@testdir@/safe_worker');
RESET lock_timeout;
DROP EVENT TRIGGER safe_note_timeout;
DROP FUNCTION safe_note_timeout();
DELETE FROM migrate.migrations WHERE name IN ('0001_worker', '0002_set', '0003_session');

-- With the default, a statement of the worker that waits for a lock gives
-- up after a second (no-transaction migrations are not retried: their
-- statements commit one by one).  The session holds an advisory lock the
-- worker's statement asks for.
\! rm -rf @testdir@/safe_wait && mkdir -p @testdir@/safe_wait
\! printf -- '-- migrate:no-transaction\nSELECT 1;\nSELECT pg_advisory_lock(4242);\n' > @testdir@/safe_wait/0001_wait.sql
SELECT pg_advisory_lock(4242);
\set VERBOSITY default
CALL migrate.run('@testdir@/safe_wait');
SELECT pg_advisory_unlock(4242);
SELECT sqlstate, line FROM migrate.history WHERE name = '0001_wait' AND action = 'failure';

-- clean up
DROP TABLE safe_seen, safe_items;
DELETE FROM migrate.migrations WHERE name = '0001_wait';
