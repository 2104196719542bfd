-- Statements that commit and start transactions inside themselves run in
-- the background worker: CREATE INDEX, REINDEX and DROP INDEX
-- CONCURRENTLY, VACUUM, a procedure and a DO block that commit. They free
-- the transaction's memory while the statement still runs, so the
-- statement's trees must live elsewhere (a server built with
-- --enable-cassert crashed here when they did not).
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/worker_stmts && mkdir -p @testdir@/worker_stmts
\! printf -- '-- migrate:no-transaction\nCREATE TABLE worker_stmts (id int, at timestamptz, wait interval);\nINSERT INTO worker_stmts SELECT g, timestamptz $$2020-01-01 00:00+00$$ + g * interval $$1 hour$$, g * interval $$1 minute$$ FROM generate_series(1, 100) g;\nCREATE INDEX CONCURRENTLY worker_stmts_id ON worker_stmts (id);\nREINDEX INDEX CONCURRENTLY worker_stmts_id;\nDROP INDEX CONCURRENTLY worker_stmts_id;\nVACUUM (ANALYZE) worker_stmts;\nCREATE PROCEDURE worker_stmts_commit() LANGUAGE plpgsql AS $$\nBEGIN\n    INSERT INTO worker_stmts (id) VALUES (0);\n    COMMIT;\n    INSERT INTO worker_stmts (id) VALUES (-1);\nEND\n$$;\nCALL worker_stmts_commit();\nDO $$\nBEGIN\n    INSERT INTO worker_stmts (id) VALUES (-2);\n    COMMIT;\nEND\n$$;\nCREATE INDEX CONCURRENTLY worker_stmts_at ON worker_stmts (at);\nREINDEX TABLE CONCURRENTLY worker_stmts;\n' > @testdir@/worker_stmts/0001_concurrently.sql
CALL migrate.run('@testdir@/worker_stmts');
SELECT name, state FROM migrate.status('@testdir@/worker_stmts');
SELECT count(*) AS rows, count(*) FILTER (WHERE id <= 0) AS committed_inside FROM worker_stmts;
SELECT indexrelid::regclass AS index, indisvalid FROM pg_index
WHERE indrelid = 'worker_stmts'::regclass ORDER BY 1::text;
DELETE FROM migrate.migrations WHERE name = '0001_concurrently';

-- The worker reads a statement's text as the caller would: a partial
-- index whose predicate has a timestamptz literal without a zone, in the
-- day/month order of DateStyle, and an interval in the sign convention of
-- IntervalStyle, gets the same predicate as in a transaction.
\! rm -rf @testdir@/worker_settings && mkdir -p @testdir@/worker_settings
\! printf -- '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY worker_stmts_notx ON worker_stmts (id) WHERE at > $$02/01/2020 03:00$$ AND wait > $$-1 2:00:00$$;\n' > @testdir@/worker_settings/0001_notx.sql
\! printf -- 'CREATE INDEX worker_stmts_tx ON worker_stmts (id) WHERE at > $$02/01/2020 03:00$$ AND wait > $$-1 2:00:00$$;\n' > @testdir@/worker_settings/0002_tx.sql
-- and a function body that can only be checked later, with
-- check_function_bodies off as pg_dump's output has it
\! printf -- '-- migrate:no-transaction\nCREATE FUNCTION worker_stmts_later() RETURNS bigint LANGUAGE sql AS $$SELECT count(*) FROM worker_stmts_not_yet$$;\n' > @testdir@/worker_settings/0003_body.sql
SET TimeZone = 'Asia/Tokyo';
SET DateStyle = 'ISO, DMY';
SET IntervalStyle = 'sql_standard';
SET check_function_bodies = off;
CALL migrate.run('@testdir@/worker_settings');
SELECT name, state FROM migrate.status('@testdir@/worker_settings');
SELECT pg_get_expr(indpred, indrelid) AS worker_predicate FROM pg_index
WHERE indexrelid = 'worker_stmts_notx'::regclass;
SELECT replace(pg_get_indexdef('worker_stmts_notx'::regclass), 'worker_stmts_notx', 'x')
     = replace(pg_get_indexdef('worker_stmts_tx'::regclass), 'worker_stmts_tx', 'x')
       AS same_as_in_transaction;
RESET TimeZone;
RESET DateStyle;
RESET IntervalStyle;
RESET check_function_bodies;
DROP FUNCTION worker_stmts_later();
DROP PROCEDURE worker_stmts_commit();
DROP TABLE worker_stmts;
DELETE FROM migrate.migrations WHERE name IN ('0001_notx', '0002_tx', '0003_body');
