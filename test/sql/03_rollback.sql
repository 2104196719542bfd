-- migrate.rollback(): undo a migration and everything applied after it.
-- only written down scripts here: generated ones are 35_generated_down's
SET migrate.generate_down = off;
\! rm -rf @testdir@/rollback && mkdir -p @testdir@/rollback && cp -R "$PG_ABS_SRCDIR/fixtures/basic/." @testdir@/rollback/
SELECT name, action FROM migrate.apply('@testdir@/rollback');
SELECT max(id) AS history_start FROM migrate.history \gset

-- No argument: the latest one only
SELECT name, action FROM migrate.rollback();
SELECT to_regclass('rewards') AS rewards;

-- By name: that one and every later one, newest first
SELECT name, action FROM migrate.rollback('0002_lessons');
SELECT to_regclass('lessons') AS lessons, to_regclass('question_history') AS qh,
       to_regclass('users') AS users;
SELECT name, state FROM migrate.status('@testdir@/rollback');
SELECT action, name FROM migrate.history WHERE id > :history_start ORDER BY id;

-- Rolled-back migrations apply again
SELECT name, action FROM migrate.apply('@testdir@/rollback');

-- A name that is not applied: an error, nothing changes
SELECT name, action FROM migrate.rollback('0042_nonexistent');
SELECT count(*) AS applied FROM migrate.migrations;

-- A down script that fails: the whole rollback is undone
\! printf 'CREATE TABLE keepme (id int);\n' > @testdir@/rollback/20_keepme.sql
\! printf 'DROP TABLE keepme;\nDROP TABLE no_such_table;\n' > @testdir@/rollback/20_keepme.down.sql
SELECT name, action FROM migrate.apply('@testdir@/rollback');
SELECT name, action FROM migrate.rollback('10_rewards');
SELECT to_regclass('keepme') AS keepme, to_regclass('rewards') AS rewards;
SELECT count(*) AS applied FROM migrate.migrations;

-- A migration without a down script blocks its rollback, and that of
-- anything before it, before anything runs
\! printf 'CREATE TABLE forever (id int);\n' > @testdir@/rollback/30_forever.sql
SELECT name, action FROM migrate.apply('@testdir@/rollback');
SELECT name, action FROM migrate.rollback();
SELECT name, action FROM migrate.rollback('0001_users');
SELECT to_regclass('forever') AS forever, to_regclass('users') AS users;
SELECT count(*) AS applied FROM migrate.migrations;

-- Clean up by hand what cannot be rolled back
DROP TABLE forever, keepme, rewards, question_history, lessons, users CASCADE;
DROP FUNCTION lesson_count();
DELETE FROM migrate.migrations;

-- Nothing applied: nothing to roll back
SELECT name, action FROM migrate.rollback();
