-- A folder written by drizzle-kit generate: journal order, breakpoints, and
-- drizzle-orm's own tracking table kept in step.  (test/t/007_drizzle.pl
-- runs drizzle-orm's migrate() itself against the same folder.)
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/drizzle && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/drizzle" @testdir@/drizzle

SELECT name, state FROM migrate.status('@testdir@/drizzle');
SELECT name, action FROM migrate.apply('@testdir@/drizzle');
\d quiz_answers

-- recorded as drizzle-orm's migrator would: the file's SHA-256, the journal's "when"
SELECT d.hash = encode(sha256(pg_read_binary_file('@testdir@/drizzle/' || m.name || '.sql')), 'hex') AS hash_of_file,
       d.created_at, m.name, m.version, m.format
FROM drizzle.__drizzle_migrations d JOIN migrate.migrations m ON m.checksum = d.hash
ORDER BY d.id;

-- re-apply is a no-op
SELECT name, action FROM migrate.apply('@testdir@/drizzle', format => 'drizzle');

-- rollback removes the row from both tables
SELECT name, action FROM migrate.rollback('0001_quiz_answers');
SELECT created_at FROM drizzle.__drizzle_migrations ORDER BY id;
SELECT name, state FROM migrate.status('@testdir@/drizzle');

-- rows that drizzle-orm wrote are adopted by hash: pretend drizzle applied
-- 0001 itself, then apply records it without running it, and runs the rest
CREATE TABLE quiz_answers (id int);
INSERT INTO drizzle.__drizzle_migrations (hash, created_at)
SELECT encode(sha256(pg_read_binary_file('@testdir@/drizzle/0001_quiz_answers.sql')), 'hex'), 1795494250367;
-- until pg_migrate adopts it, what drizzle-orm's migrator did is drift
SELECT name, state FROM migrate.status('@testdir@/drizzle');
SELECT name, action FROM migrate.apply('@testdir@/drizzle');
-- and adopting it takes it into the fingerprint
SELECT * FROM migrate.drift();
-- each write to drizzle's table is logged too, naming it
SELECT action, name, tool_table FROM migrate.history WHERE name = '0001_quiz_answers' ORDER BY id;
SELECT count(*) AS drizzle_rows, count(DISTINCT hash) AS distinct_hashes FROM drizzle.__drizzle_migrations;

-- an edited file is reported as modified
\! printf '\n-- edited\n' >> @testdir@/drizzle/0002_lesson_position.sql
SELECT name, state FROM migrate.status('@testdir@/drizzle');
\! cp "$PG_ABS_SRCDIR/fixtures/drizzle/0002_lesson_position.sql" @testdir@/drizzle/

-- bad input: broken JSON, a journal entry without its file, a file not in the journal
\! rm -rf @testdir@/format_errors && cp -R "$PG_ABS_SRCDIR/fixtures/format_errors" @testdir@/format_errors
SELECT * FROM migrate.apply('@testdir@/format_errors/drizzle_json');
SELECT * FROM migrate.apply('@testdir@/format_errors/drizzle_missing');
-- a file the journal does not list is ignored, as drizzle-orm ignores it
SELECT name, state FROM migrate.status('@testdir@/format_errors/drizzle_extra');
SELECT to_regclass('dz_first') AS dz_first;
-- naming the format for a folder that is not drizzle's
SELECT * FROM migrate.status('@testdir@/format_errors/mixed', format => 'drizzle');

-- clean up
SELECT name, action FROM migrate.rollback('0000_initial');
SELECT count(*) AS drizzle_rows FROM drizzle.__drizzle_migrations;
DROP SCHEMA drizzle CASCADE;
