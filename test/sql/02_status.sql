-- migrate.status(): every state a migration can be in.
\! rm -rf @testdir@/status && mkdir -p @testdir@/status && cp -R "$PG_ABS_SRCDIR/fixtures/basic/." @testdir@/status/
\! rm @testdir@/status/10_rewards*.sql

SELECT name, action FROM migrate.apply('@testdir@/status');

-- Without a folder: the tracking table alone, in the order applied
SELECT name, state, applied_at IS NOT NULL AS has_time, length(checksum)
FROM migrate.status();

SELECT count(*) AS history_rows FROM migrate.history \gset

-- applied, pending, modified and missing side by side
\! printf 'CREATE TABLE later (id int);\n' > @testdir@/status/0004_later.sql
\! printf -- '-- edited after it ran\n' >> @testdir@/status/0002_lessons.sql
\! rm @testdir@/status/0003_question_history.sql @testdir@/status/0003_question_history.down.sql
SELECT name, state, applied_at IS NOT NULL AS has_time
FROM migrate.status('@testdir@/status');

-- A modified migration shows the file's checksum, a missing one the recorded one
SELECT s.name, s.state, s.checksum = m.checksum AS recorded_checksum
FROM migrate.status('@testdir@/status') s
LEFT JOIN migrate.migrations m USING (name)
ORDER BY s.name;

-- status() reads, it never writes
SELECT count(*) = :history_rows AS history_unchanged FROM migrate.history;

-- Clean up
SELECT name, action FROM migrate.rollback('0001_users');
