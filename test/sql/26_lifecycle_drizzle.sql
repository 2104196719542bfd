-- The lifecycle functions on a drizzle folder keep drizzle-orm's own
-- tracking table in step, as its migrator would write it (14_lifecycle
-- tests the functions themselves).
SELECT coalesce(max(id), 0) AS start FROM migrate.history \gset
\set history 'SELECT action, name, checksum IS NOT NULL AS has_checksum, detail IS NOT NULL AS has_detail FROM migrate.history WHERE id > :start ORDER BY id'
\! rm -rf @testdir@/lifecycle_drizzle && cp -R "$PG_ABS_SRCDIR/fixtures/drizzle" @testdir@/lifecycle_drizzle
\set ddir @testdir@/lifecycle_drizzle
-- recording 0001 while 0000 is pending: drizzle-orm's migrator would skip 0000
-- (its SQLSTATE first, in a transaction rolled back)
\set VERBOSITY sqlstate
BEGIN;
SELECT name FROM migrate.mark_applied(:'ddir', '0001_quiz_answers');
ROLLBACK;
\set VERBOSITY default
SELECT * FROM migrate.mark_applied(:'ddir', '0001_quiz_answers');
SELECT d.hash = encode(sha256(pg_read_binary_file(:'ddir' || '/0001_quiz_answers.sql')), 'hex') AS hash_of_file,
       d.created_at
FROM drizzle.__drizzle_migrations d ORDER BY d.id;
SELECT * FROM migrate.forget('0001_quiz_answers');
SELECT count(*) AS drizzle_rows FROM drizzle.__drizzle_migrations;
-- baseline writes drizzle's rows as its migrator would, in order
SELECT * FROM migrate.baseline(:'ddir', '1');
SELECT d.created_at, m.name FROM drizzle.__drizzle_migrations d
JOIN migrate.migrations m ON m.checksum = d.hash ORDER BY d.id;
-- accept moves drizzle's row to the new hash
\! printf -- '-- reviewed\n' >> @testdir@/lifecycle_drizzle/0001_quiz_answers.sql
SELECT * FROM migrate.accept(:'ddir', '0001_quiz_answers');
SELECT d.hash = encode(sha256(pg_read_binary_file(:'ddir' || '/0001_quiz_answers.sql')), 'hex') AS hash_of_file,
       d.created_at
FROM drizzle.__drizzle_migrations d JOIN migrate.migrations m ON m.checksum = d.hash
WHERE m.name = '0001_quiz_answers';
SELECT count(*) AS drizzle_rows FROM drizzle.__drizzle_migrations;
:history;
SELECT coalesce(max(id), 0) AS start FROM migrate.history \gset
SELECT * FROM migrate.forget('0001_quiz_answers');
SELECT * FROM migrate.forget('0000_initial');
SELECT count(*) AS drizzle_rows FROM drizzle.__drizzle_migrations;
DROP SCHEMA drizzle CASCADE;
