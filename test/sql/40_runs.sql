-- Detached runs: migrate.start() queues a run that a background worker of
-- its own performs as CALL migrate.run() would; migrate.runs shows it,
-- migrate.wait() waits for it, migrate.cancel() cancels it, and
-- migrate.resume() runs a failed, cancelled or interrupted one again.
-- In a database of its own: a run's workers connect to it.
CREATE DATABASE regress_runs;
\c regress_runs
CREATE EXTENSION pg_migrate;
SET migrate.lint = off;
\! rm -rf @testdir@/runs && mkdir -p @testdir@/runs/ok @testdir@/runs/fails @testdir@/runs/slow
\! printf 'CREATE TABLE runs_a (id int);\n' > @testdir@/runs/ok/0001_a.sql
\! printf 'CREATE TABLE runs_b (id int);\nINSERT INTO runs_b VALUES (1);\n' > @testdir@/runs/ok/0002_b.sql
\! printf -- '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY runs_b_id ON runs_b (id);\n' > @testdir@/runs/ok/0003_c.sql

-- start returns at once; wait returns the state once the run ended (its
-- messages, relayed, are left out here: they are there only while the
-- worker is)
SELECT migrate.start('@testdir@/runs/ok') AS ok_run \gset
SET client_min_messages = error;
CALL migrate.wait(:ok_run);
RESET client_min_messages;
SELECT run_id - :ok_run AS run, kind, state, source LIKE '%/runs/ok' AS folder, started_by, attempts,
       migration, applied, error, started_at <= finished_at AS timed,
       elapsed >= '0'::interval AS has_elapsed
FROM migrate.runs WHERE run_id >= :ok_run ORDER BY run_id;
SELECT name, state FROM migrate.status('@testdir@/runs/ok');
SELECT indisvalid FROM pg_index WHERE indexrelid = 'runs_b_id'::regclass;
-- the same folder again, nothing in progress: a new run, with nothing to do
SELECT migrate.start('@testdir@/runs/ok') - :ok_run AS second \gset
SET client_min_messages = error;
CALL migrate.wait(:ok_run + :second);
RESET client_min_messages;
SELECT :second > 0 AS new_run, state, applied FROM migrate.runs WHERE run_id = :ok_run + :second;

-- A failed run keeps its error, the migration and the statement's line;
-- rethrow raises it, as CALL migrate.run() would have
\! printf 'CREATE TABLE runs_f (id int);\n' > @testdir@/runs/fails/0001_f.sql
\! printf 'SELECT 1;\nSELECT 1 / 0;\n' > @testdir@/runs/fails/0002_div.sql
SELECT migrate.start('@testdir@/runs/fails', allow_drift => true) AS f_run \gset
SET client_min_messages = error;
CALL migrate.wait(:f_run);
CALL migrate.wait(:f_run, rethrow => true);
RESET client_min_messages;
SELECT state, migration, applied, error_sqlstate, error, error_file, error_line
FROM migrate.runs WHERE run_id = :f_run;
-- resumed once fixed: the same run, the same arguments, from the first
-- migration not applied
\! printf 'SELECT 1;\nSELECT 1 / 1;\n' > @testdir@/runs/fails/0002_div.sql
SELECT migrate.resume(:f_run) = :f_run AS same_run;
SET client_min_messages = error;
CALL migrate.wait(:f_run);
RESET client_min_messages;
SELECT state, attempts, applied, error FROM migrate.runs WHERE run_id = :f_run;
SELECT name FROM migrate.migrations ORDER BY name;
-- a run that succeeded has nothing to resume
SELECT migrate.resume(:ok_run);

-- Cancelled while it runs: the statement is cancelled and the run with it
\! printf 'CREATE TABLE runs_slow (id int);\nSELECT pg_sleep(60);\n' > @testdir@/runs/slow/0001_slow.sql
SELECT migrate.start('@testdir@/runs/slow', allow_drift => true) AS s_run \gset
DO $$
BEGIN
    LOOP
        EXIT WHEN EXISTS (SELECT FROM pg_stat_activity
                          WHERE backend_type = 'pg_migrate run' AND wait_event = 'PgSleep');
        PERFORM pg_sleep(0.05);
        COMMIT;
    END LOOP;
END
$$;
SELECT state, migration, migration_number, migrations, statement_number,
       statements, statement_line, file, pid IS NOT NULL AS has_pid
FROM migrate.runs WHERE run_id = :s_run;
-- a second start of the same folder returns the run in progress
SELECT migrate.start('@testdir@/runs/slow', allow_drift => true) = :s_run AS attached;
SELECT migrate.cancel(:s_run);
SET client_min_messages = error;
CALL migrate.wait(:s_run);
RESET client_min_messages;
SELECT state, error_sqlstate, error, to_regclass('runs_slow') IS NULL AS rolled_back
FROM migrate.runs WHERE run_id = :s_run;
SELECT migrate.cancel(:s_run);
-- a wait with a timeout returns the state the run is in
\! printf 'SELECT pg_sleep(60);\n' > @testdir@/runs/slow/0002_slower.sql
\! rm @testdir@/runs/slow/0001_slow.sql
SELECT migrate.start('@testdir@/runs/slow', allow_drift => true) AS s2_run \gset
DO $$
BEGIN
    LOOP
        EXIT WHEN EXISTS (SELECT FROM pg_stat_activity
                          WHERE backend_type = 'pg_migrate run' AND wait_event = 'PgSleep');
        PERFORM pg_sleep(0.05);
        COMMIT;
    END LOOP;
END
$$;
SET client_min_messages = error;
CALL migrate.wait(:s2_run, '10 ms');
RESET client_min_messages;
SELECT migrate.cancel(:s2_run);
SET client_min_messages = error;
CALL migrate.wait(:s2_run);
RESET client_min_messages;

-- Errors: a run that does not exist, null, a wait in a transaction block
CALL migrate.wait(-1);
SELECT migrate.cancel(-1);
SELECT migrate.resume(-1);
SELECT migrate.cancel(NULL);
BEGIN;
CALL migrate.wait(:ok_run);
ROLLBACK;

-- Another role sees, waits for and cancels only its own runs; its runs
-- run as it; a folder on the server needs the right to read it
CREATE ROLE runs_other LOGIN;
GRANT USAGE ON SCHEMA migrate TO runs_other;
GRANT CREATE ON SCHEMA public TO runs_other;
GRANT EXECUTE ON FUNCTION migrate.start(text, text, boolean, text, boolean),
                          migrate.start(jsonb, text, boolean, text, text, boolean),
                          migrate.cancel(bigint), migrate.resume(bigint) TO runs_other;
GRANT EXECUTE ON PROCEDURE migrate.wait(bigint, interval, boolean, text),
                           migrate.run(jsonb, text, boolean, text, text, boolean) TO runs_other;
GRANT SELECT ON migrate.runs TO runs_other;
SET ROLE runs_other;
SELECT count(*) FROM migrate.runs;
SELECT migrate.cancel(:ok_run);
CALL migrate.wait(:ok_run);
SELECT migrate.start('@testdir@/runs/ok');
SELECT migrate.start('{"0001_other.sql": "CREATE TABLE runs_other_t (id int);"}'::jsonb,
                     source => 'regress:other', allow_drift => true) AS o_run \gset
SET client_min_messages = error;
CALL migrate.wait(:o_run);
RESET client_min_messages;
SELECT run_id = :o_run AS own, state, source, started_by, error FROM migrate.runs;
RESET ROLE;
SELECT tableowner FROM pg_tables WHERE tablename = 'runs_other_t';
SELECT count(*) > 1 AS superuser_sees_all FROM migrate.runs;
-- start needs EXECUTE on the run it calls
REVOKE EXECUTE ON PROCEDURE migrate.run(jsonb, text, boolean, text, text, boolean) FROM runs_other;
SET ROLE runs_other;
SELECT migrate.start('{"0001_other.sql": "SELECT 1;"}'::jsonb);
RESET ROLE;

-- A start rolled back queues nothing
BEGIN;
SELECT migrate.start('@testdir@/runs/fails', target => '0001_f') AS tx_run \gset
ROLLBACK;
DO $$
BEGIN
    LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'pg_migrate run');
        PERFORM pg_sleep(0.05);
        COMMIT;
    END LOOP;
END
$$;
SELECT count(*) FROM migrate.runs WHERE run_id = :tx_run;

-- No worker slot left: start fails, and says what to raise.  The workers
-- of the starts before wait for this transaction, which rolls back.
BEGIN;
DO $$
DECLARE
    hint text;
BEGIN
    FOR i IN 1 .. 100 LOOP
        PERFORM migrate.start('@testdir@/runs/ok', target => i::text);
    END LOOP;
EXCEPTION WHEN insufficient_resources THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    RAISE NOTICE 'no slot: %', hint;
END
$$;
ROLLBACK;
DO $$
BEGIN
    LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'pg_migrate run');
        PERFORM pg_sleep(0.05);
        COMMIT;
    END LOOP;
END
$$;

DROP OWNED BY runs_other;
\c contrib_regression
DROP DATABASE regress_runs WITH (FORCE);
DROP ROLE runs_other;
