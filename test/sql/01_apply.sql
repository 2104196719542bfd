-- Applying a folder of plain SQL migrations: order, tracking rows, re-apply.
\! rm -rf @testdir@/apply && mkdir -p @testdir@/apply && cp -R "$PG_ABS_SRCDIR/fixtures/basic/." @testdir@/apply/
CREATE EXTENSION pg_migrate;
\dx pg_migrate

-- Everything is pending at first.  Order is by the leading number compared
-- as a number (10 after 0003), then by name; two files with the same number
-- are two migrations.  README.md, seed.sql and the subfolder are ignored.
SELECT name, state, applied_at IS NULL AS never_applied
FROM migrate.status('@testdir@/apply');

-- One row per migration applied, in order; a NOTICE for each
SELECT name, action, duration >= interval '0' AS timed
FROM migrate.apply('@testdir@/apply');

-- The schema is there: semicolons in comments, strings and dollar-quoted
-- bodies did not split statements
SELECT lesson_count();
SELECT title FROM lessons ORDER BY id;
SELECT obj_description('users'::regclass);
\d users

-- The tracking table records each migration with its scripts
SELECT name, version, source = '@testdir@/apply' AS from_folder,
       applied_by = current_user AS by_me,
       down_sql IS NOT NULL AS has_down, transaction_mode
FROM migrate.migrations ORDER BY id;

-- The checksum is the SHA-256 of the up file as applied
SELECT name, checksum = encode(sha256(pg_read_binary_file(
           '@testdir@/apply/' ||
           CASE name WHEN '0003_token_gamification' THEN name || '.up.sql'
                     ELSE name || '.sql' END)), 'hex') AS checksum_matches,
       up_sql = pg_read_file('@testdir@/apply/' ||
           CASE name WHEN '0003_token_gamification' THEN name || '.up.sql'
                     ELSE name || '.sql' END) AS up_sql_matches
FROM migrate.migrations ORDER BY id;

-- Each application is in the history
SELECT action, name, performed_by = current_user AS by_me, sqlstate
FROM migrate.history ORDER BY id;

-- Applying again is a no-op: no rows, nothing re-run
SELECT name, action FROM migrate.apply('@testdir@/apply');
SELECT count(*) FROM lessons;

-- A new file is the only thing applied next time
\! printf 'CREATE INDEX rewards_user_idx ON rewards (user_id);\n' > @testdir@/apply/11_rewards_index.sql
\! printf 'DROP INDEX rewards_user_idx;\n' > @testdir@/apply/11_rewards_index.down.sql
SELECT name, action FROM migrate.apply('@testdir@/apply');
SELECT name, state FROM migrate.status('@testdir@/apply');

-- apply() runs in the caller's transaction: rolled back with it
\! printf 'CREATE TABLE badges (id int);\n' > @testdir@/apply/12_badges.sql
\! printf 'DROP TABLE badges;\n' > @testdir@/apply/12_badges.down.sql
BEGIN;
SELECT name, action FROM migrate.apply('@testdir@/apply');
ROLLBACK;
SELECT to_regclass('badges') AS badges_table,
       (SELECT count(*) FROM migrate.migrations WHERE name = '12_badges') AS tracked;
SELECT name, state FROM migrate.status('@testdir@/apply') WHERE name = '12_badges';

-- The path is canonicalised: a trailing slash or "." names the same folder
SELECT name, action FROM migrate.apply('@testdir@/./apply/');
SELECT DISTINCT source = '@testdir@/apply' AS canonical FROM migrate.migrations;

-- Clean up for the next test
SELECT name, action FROM migrate.rollback('0001_users');
SELECT count(*) AS tracked FROM migrate.migrations;

-- A file saved with a UTF-8 byte order mark applies; its checksum is still
-- that of the file as it is on disk
\! rm -rf @testdir@/bom && cp -R "$PG_ABS_SRCDIR/fixtures/bom" @testdir@/bom
SELECT name, action FROM migrate.apply('@testdir@/bom');
SELECT checksum = encode(sha256(pg_read_binary_file('@testdir@/bom/0001_bom.sql')), 'hex') AS checksum_of_file
FROM migrate.migrations WHERE name = '0001_bom';
SELECT name, action FROM migrate.rollback('0001_bom');
