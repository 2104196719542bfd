-- The lifecycle around apply and rollback: check, baseline, mark_applied,
-- forget and accept, each logged in migrate.history.
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/lifecycle && mkdir -p @testdir@/lifecycle && cp -R "$PG_ABS_SRCDIR/fixtures/basic/." @testdir@/lifecycle/
\! rm @testdir@/lifecycle/10_rewards*.sql
\set dir @testdir@/lifecycle
SELECT count(*) AS recorded FROM migrate.migrations;
-- what each step logs: :history lists the rows written since :start
\set history 'SELECT action, name, checksum IS NOT NULL AS has_checksum, performed_by = current_user AS by_me, detail IS NOT NULL AS has_detail FROM migrate.history WHERE id > :start ORDER BY id'
SELECT coalesce(max(id), 0) AS start FROM migrate.history \gset

-- check fails on a database that has nothing applied
SELECT migrate.check(:'dir');

-- A database whose schema exists, built from the first two files by hand
\i @testdir@/lifecycle/0001_users.sql
\i @testdir@/lifecycle/0002_lessons.sql

-- baseline refuses what is not in the folder
SELECT * FROM migrate.baseline(:'dir', '0009');
SELECT * FROM migrate.baseline(:'dir', 'nope');
SELECT * FROM migrate.baseline(:'dir', NULL);
-- baseline records up to a version without running anything: all of it,
-- or nothing (the tables above would make a second CREATE fail)
SELECT * FROM migrate.baseline(:'dir', '2');
SELECT name, version, applied_by = current_user AS by_me, duration FROM migrate.migrations ORDER BY id;
:history;
SELECT coalesce(max(id), 0) AS start FROM migrate.history \gset
-- a second baseline is refused, saying what to do instead
SELECT * FROM migrate.baseline(:'dir', '0003_question_history');
-- apply runs only what comes after
SELECT name, action FROM migrate.apply(:'dir');
-- check passes now
SELECT migrate.check(:'dir');
:history;
SELECT coalesce(max(id), 0) AS start FROM migrate.history \gset

-- mark_applied records without running; status shows it applied
\! printf 'CREATE TABLE marked (id int);\n' > @testdir@/lifecycle/0004_marked.sql
\! printf 'DROP TABLE marked;\n' > @testdir@/lifecycle/0004_marked.down.sql
SELECT * FROM migrate.mark_applied(:'dir', '0004_marked');
SELECT to_regclass('marked') AS marked;
SELECT name, state FROM migrate.status(:'dir') WHERE name = '0004_marked';
SELECT down_sql, transaction_mode, format, source = :'dir' AS source FROM migrate.migrations WHERE name = '0004_marked';
:history;
SELECT coalesce(max(id), 0) AS start FROM migrate.history \gset
-- refused: already applied, not in the folder, and null
SELECT * FROM migrate.mark_applied(:'dir', '0004_marked');
SELECT * FROM migrate.mark_applied(:'dir', '0099_nothing');
SELECT * FROM migrate.mark_applied(:'dir', NULL);
-- an edited file: already applied, and accept is the way
\! printf -- '-- a comment\n' >> @testdir@/lifecycle/0004_marked.sql
SELECT * FROM migrate.mark_applied(:'dir', '0004_marked');

-- forget deletes the record without running the down script
SELECT * FROM migrate.forget('0004_marked');
SELECT count(*) AS recorded FROM migrate.migrations WHERE name = '0004_marked';
:history;
SELECT coalesce(max(id), 0) AS start FROM migrate.history \gset
SELECT * FROM migrate.forget('0004_marked');
SELECT * FROM migrate.forget(NULL);
-- forget then apply runs it again
SELECT name, action FROM migrate.apply(:'dir');
SELECT to_regclass('marked') AS marked;

-- Drift by line endings alone is said to be so
\! sed -i 's/$/\r/' @testdir@/lifecycle/0001_users.sql
SELECT name, action FROM migrate.apply(:'dir');
SELECT name, state FROM migrate.status(:'dir') WHERE name = '0001_users';
-- accept records the file as it is now; apply passes the drift then
SELECT checksum AS old_checksum FROM migrate.migrations WHERE name = '0001_users' \gset
SELECT * FROM migrate.accept(:'dir', '0001_users');
SELECT checksum <> :'old_checksum' AS new_checksum, up_sql LIKE E'%\r\n%' AS crlf,
       id < (SELECT id FROM migrate.migrations WHERE name = '0002_lessons') AS keeps_order
FROM migrate.migrations WHERE name = '0001_users';
SELECT action, name, checksum <> :'old_checksum' AS new_checksum,
       detail = format('The checksum recorded before was %s.', :'old_checksum') AS old_in_detail
FROM migrate.history WHERE id > :start ORDER BY id;
SELECT coalesce(max(id), 0) AS start FROM migrate.history \gset
SELECT name, action FROM migrate.apply(:'dir');
-- accepting again has nothing to do
SELECT * FROM migrate.accept(:'dir', '0001_users');
-- refused: not applied, not in the folder
\! printf 'CREATE TABLE later (id int);\n' > @testdir@/lifecycle/0005_later.sql
SELECT * FROM migrate.accept(:'dir', '0005_later');
SELECT * FROM migrate.accept(:'dir', '0099_nothing');
\! rm @testdir@/lifecycle/0005_later.sql
-- a fixed down script alone is accepted too: the checksum is the up script's
\! printf 'DROP TABLE IF EXISTS marked;\n' > @testdir@/lifecycle/0004_marked.down.sql
SELECT * FROM migrate.accept(:'dir', '0004_marked');
SELECT down_sql FROM migrate.migrations WHERE name = '0004_marked';
:history;
SELECT coalesce(max(id), 0) AS start FROM migrate.history \gset

-- a trailing newline alone, and a real edit, which gets no such note
\! printf '\n' >> @testdir@/lifecycle/0002_lessons.sql
SELECT name, action FROM migrate.apply(:'dir');
\! cp "$PG_ABS_SRCDIR/fixtures/basic/0002_lessons.sql" @testdir@/lifecycle/
\! sed -i 's/TABLE marked/TABLE marked_edited/' @testdir@/lifecycle/0004_marked.sql
SELECT name, action FROM migrate.apply(:'dir');

-- check lists what is pending, failed, modified and missing
\! printf 'SELECT 1/0;\n' > @testdir@/lifecycle/0006_fails.sql
\! printf 'CREATE TABLE pending (id int);\n' > @testdir@/lifecycle/0007_pending.sql
\! rm @testdir@/lifecycle/0003_question_history*.sql
CALL migrate.run(:'dir', allow_drift => true);
SELECT migrate.check(:'dir');
-- the files form of check, and a pipeline gate: psql exits non-zero
SELECT migrate.check('{"0001_only.sql": "SELECT 1;"}'::jsonb);
\! psql -X -q -v ON_ERROR_STOP=1 -d contrib_regression -c "SELECT migrate.check('@testdir@/lifecycle')" >/dev/null 2>&1; echo "exit status $?"
\! rm @testdir@/lifecycle/0006_fails.sql @testdir@/lifecycle/0007_pending.sql
\! sed -i 's/TABLE marked_edited/TABLE marked/' @testdir@/lifecycle/0004_marked.sql
\! cp "$PG_ABS_SRCDIR"/fixtures/basic/0003_question_history* @testdir@/lifecycle/
SELECT migrate.check(:'dir');
\! psql -X -q -v ON_ERROR_STOP=1 -d contrib_regression -c "SELECT migrate.check('@testdir@/lifecycle')" >/dev/null 2>&1; echo "exit status $?"

-- Refused in a read-only transaction; check, which only reads, is not
BEGIN READ ONLY;
SELECT * FROM migrate.forget('0004_marked');
ROLLBACK;
BEGIN READ ONLY;
SELECT * FROM migrate.mark_applied(:'dir', '0004_marked');
ROLLBACK;
BEGIN READ ONLY;
SELECT * FROM migrate.baseline(:'dir', '1');
ROLLBACK;
BEGIN READ ONLY;
SELECT * FROM migrate.accept(:'dir', '0001_users');
ROLLBACK;
BEGIN READ ONLY;
SELECT migrate.check(:'dir');
ROLLBACK;

-- Nobody but the superuser may call them until granted
CREATE ROLE regress_lifecycle;
SELECT p.oid::regprocedure AS function,
       has_function_privilege('regress_lifecycle', p.oid, 'EXECUTE') AS may_execute
FROM pg_proc p
WHERE p.pronamespace = 'migrate'::regnamespace
  AND p.proname IN ('mark_applied', 'baseline', 'forget', 'accept', 'check')
ORDER BY 1;
DROP ROLE regress_lifecycle;

SELECT name, action FROM migrate.rollback('0001_users');
SELECT coalesce(max(id), 0) AS start FROM migrate.history \gset

-- The files forms: baseline, mark_applied, accept on a folder sent as data
SELECT * FROM migrate.baseline('{
  "0001_a.sql": "CREATE TABLE sent_a (id int);\n",
  "0002_b.sql": "CREATE TABLE sent_b (id int);\n",
  "0003_c.sql": "CREATE TABLE sent_c (id int);\n"
}'::jsonb, '0002_b', source => 'client:ci:/app/migrations');
SELECT * FROM migrate.mark_applied('{
  "0001_a.sql": "CREATE TABLE sent_a (id int);\n",
  "0002_b.sql": "CREATE TABLE sent_b (id int);\n",
  "0003_c.sql": "CREATE TABLE sent_c (id int);\n"
}'::jsonb, '0003_c', source => 'client:ci:/app/migrations');
SELECT * FROM migrate.accept('{
  "0001_a.sql": "CREATE TABLE sent_a (id int);\r\n",
  "0002_b.sql": "CREATE TABLE sent_b (id int);\n",
  "0003_c.sql": "CREATE TABLE sent_c (id int);\n"
}'::jsonb, '0001_a');
SELECT migrate.check('{
  "0001_a.sql": "CREATE TABLE sent_a (id int);\r\n",
  "0002_b.sql": "CREATE TABLE sent_b (id int);\n",
  "0003_c.sql": "CREATE TABLE sent_c (id int);\n"
}'::jsonb);
SELECT name, source FROM migrate.migrations ORDER BY id;
:history;
SELECT coalesce(max(id), 0) AS start FROM migrate.history \gset
SELECT to_regclass('sent_a') AS sent_a;
SELECT * FROM migrate.forget('0001_a');
SELECT * FROM migrate.forget('0002_b');
SELECT * FROM migrate.forget('0003_c');
