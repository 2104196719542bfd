-- What status says of each migration's down script, and
-- migrate.down_script(): the recorded script of an applied migration,
-- written or generated, for review.
\! rm -rf @testdir@/down_script && mkdir -p @testdir@/down_script && cp -R "$PG_ABS_SRCDIR/fixtures/down_script/." @testdir@/down_script/
SET migrate.lint = off;
SET client_min_messages = warning;
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();

-- before anything is applied: only the written one is known
SELECT name, state, down FROM migrate.status('@testdir@/down_script');
SELECT name, action FROM migrate.apply('@testdir@/down_script');
SELECT name, state, down FROM migrate.status('@testdir@/down_script');
-- without a folder, the same from the tracking table
SELECT name, state, down FROM migrate.status();

-- the latest one (what rollback() would undo) without a name
SELECT name, down, jsonb_pretty(partial) AS partial, down_sql FROM migrate.down_script();
SELECT name, down, partial, down_sql FROM migrate.down_script('0002_generated');
SELECT name, down, partial, down_sql FROM migrate.down_script('0001_written');

-- one generated without generate_down: none recorded
SELECT name, action FROM migrate.rollback('0002_generated', skip_partial => true);
SET migrate.generate_down = off;
SELECT name, action FROM migrate.apply('@testdir@/down_script', target => '0002_generated');
RESET migrate.generate_down;
SELECT name, state, down FROM migrate.status();
SELECT name, down, partial, down_sql IS NULL AS no_down_sql FROM migrate.down_script('0002_generated');

-- bad names
SELECT * FROM migrate.down_script('0009_nothing');
SELECT * FROM migrate.down_script(NULL);

-- nobody but the superuser, until granted
CREATE ROLE regress_down_reader;
GRANT USAGE ON SCHEMA migrate TO regress_down_reader;
SET ROLE regress_down_reader;
SELECT * FROM migrate.down_script('0001_written');
RESET ROLE;
GRANT EXECUTE ON FUNCTION migrate.down_script(text) TO regress_down_reader;
SET ROLE regress_down_reader;
SELECT name, down FROM migrate.down_script('0001_written');
RESET ROLE;
REVOKE ALL ON SCHEMA migrate FROM regress_down_reader;
REVOKE ALL ON FUNCTION migrate.down_script(text) FROM regress_down_reader;
DROP ROLE regress_down_reader;

-- a migration without a down script: rollback says how to go on
SELECT name, action FROM migrate.rollback('0001_written');
SELECT name, action FROM migrate.forget('0002_generated');
SELECT name, action FROM migrate.rollback('0001_written');
DROP SCHEMA IF EXISTS ds CASCADE;
RESET client_min_messages;
RESET migrate.lint;
