-- Failures migrate.run() must attribute to their migration.
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();

-- A deferred constraint that fails when run() commits a migration is that
-- migration's failure: named, logged, and shown as failed.
\! rm -rf @testdir@/deferred && mkdir -p @testdir@/deferred
\! printf 'CREATE TABLE deferred_parent (id int PRIMARY KEY);\nCREATE TABLE deferred_child (parent_id int REFERENCES deferred_parent DEFERRABLE INITIALLY DEFERRED);\n' > @testdir@/deferred/0001_tables.sql
\! printf 'DROP TABLE deferred_child, deferred_parent;\n' > @testdir@/deferred/0001_tables.down.sql
\! printf 'INSERT INTO deferred_child VALUES (1);\n' > @testdir@/deferred/0002_orphan.sql
CALL migrate.run('@testdir@/deferred');
SELECT name, state FROM migrate.status('@testdir@/deferred');
SELECT action, name, sqlstate, file FROM migrate.history
WHERE name IN ('0001_tables', '0002_orphan') ORDER BY id;
SELECT count(*) AS orphans FROM deferred_child;
\! printf 'INSERT INTO deferred_child VALUES (1);\nINSERT INTO deferred_parent VALUES (1);\n' > @testdir@/deferred/0002_orphan.sql
\! printf 'TRUNCATE deferred_child, deferred_parent;\n' > @testdir@/deferred/0002_orphan.down.sql
CALL migrate.run('@testdir@/deferred');
SELECT name, state FROM migrate.status('@testdir@/deferred');
SELECT name, action FROM migrate.rollback('0001_tables');

-- A CREATE INDEX CONCURRENTLY that failed leaves an invalid index; run
-- again with IF NOT EXISTS it would be skipped and the migration recorded
-- as applied without a usable index.  It fails instead, naming the index.
\! rm -rf @testdir@/invalid && mkdir -p @testdir@/invalid
\! printf -- '-- migrate:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS invalid_t_v_key ON invalid_t (v);\n' > @testdir@/invalid/0001_unique.sql
\! printf -- '-- migrate:no-transaction\nDROP INDEX CONCURRENTLY invalid_t_v_key;\n' > @testdir@/invalid/0001_unique.down.sql
CREATE TABLE invalid_t (v int);
INSERT INTO invalid_t VALUES (1), (1);
-- a table made by hand is drift: start the fingerprint again
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
CALL migrate.run('@testdir@/invalid');
-- run again as it is, it is refused: it failed before with the same file
\set VERBOSITY terse
CALL migrate.run('@testdir@/invalid');
\set VERBOSITY default
-- asked to run it again, it is still failed, with the same advice
CALL migrate.run('@testdir@/invalid', retry => true);
SELECT name, state FROM migrate.status('@testdir@/invalid');
SELECT action, sqlstate, message FROM migrate.history
WHERE name = '0001_unique' ORDER BY id;
-- following the advice works
DELETE FROM invalid_t;
DROP INDEX CONCURRENTLY invalid_t_v_key;
SELECT migrate.retry('0001_unique');
CALL migrate.run('@testdir@/invalid');
SELECT name, state FROM migrate.status('@testdir@/invalid');
SELECT indisvalid FROM pg_index WHERE indexrelid = 'invalid_t_v_key'::regclass;
DELETE FROM migrate.migrations WHERE name = '0001_unique';
DROP TABLE invalid_t;
