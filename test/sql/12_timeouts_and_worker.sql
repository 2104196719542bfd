-- migrate.statement_timeout limits each statement without switching off
-- the session's statement_timeout, which limits the whole call.
\! rm -rf @testdir@/timeouts && mkdir -p @testdir@/timeouts
\! printf 'SELECT 1;\n' > @testdir@/timeouts/0001_quick.sql
\! printf 'SELECT pg_sleep(4);\n' > @testdir@/timeouts/0002_slow.sql
SET migrate.statement_timeout = '60s';
SET statement_timeout = '1s';
SELECT name, action FROM migrate.apply('@testdir@/timeouts');
-- and the other way round: the per-statement limit still applies
SET migrate.statement_timeout = '1s';
SET statement_timeout = '60s';
SELECT name, action FROM migrate.apply('@testdir@/timeouts');
RESET statement_timeout;
RESET migrate.statement_timeout;
SELECT count(*) AS applied FROM migrate.migrations WHERE name IN ('0001_quick', '0002_slow');

-- The background worker runs each statement of a no-transaction migration
-- as the server runs a client's: now() and statement_timestamp() are those
-- of the statement.
\! rm -rf @testdir@/clock && mkdir -p @testdir@/clock
\! printf -- '-- migrate:no-transaction\nCREATE TABLE worker_clock AS SELECT now() AS now, statement_timestamp() AS stmt, clock_timestamp() AS clock;\nSELECT pg_sleep(0.2);\nINSERT INTO worker_clock SELECT now(), statement_timestamp(), clock_timestamp();\n' > @testdir@/clock/0001_clock.sql
CALL migrate.run('@testdir@/clock');
SELECT count(DISTINCT now) AS transactions, count(DISTINCT stmt) AS statements,
       bool_and(clock - stmt BETWEEN '0' AND '10s') AS stmt_is_current,
       bool_and(now = stmt) AS now_is_statement_start
FROM worker_clock;
DROP TABLE worker_clock;
DELETE FROM migrate.migrations WHERE name = '0001_clock';

-- A migration may shorten migrate.lock_timeout, not lengthen or lift it:
-- what SET lock_timeout, RESET ALL or set_config() changes is put back
-- before its next statement, in a transaction and in the background worker.
-- (A migration that needs longer asks the operator to raise
-- migrate.lock_timeout for that run.)
SET migrate.lock_timeout = '2s';
\! rm -rf @testdir@/keep_timeout && mkdir -p @testdir@/keep_timeout
\! printf -- "SET lock_timeout = '1h';\n%s\n" "DO \$\$ BEGIN IF current_setting('lock_timeout') <> '2s' THEN RAISE EXCEPTION 'lock_timeout is %', current_setting('lock_timeout'); END IF; END \$\$;" > @testdir@/keep_timeout/0001_set.sql
\! printf -- "RESET ALL;\n%s\n" "DO \$\$ BEGIN IF current_setting('lock_timeout') <> '2s' THEN RAISE EXCEPTION 'lock_timeout is %', current_setting('lock_timeout'); END IF; END \$\$;" > @testdir@/keep_timeout/0002_reset.sql
\! printf -- "SELECT set_config('lock_timeout', '0', false);\n%s\n" "DO \$\$ BEGIN IF current_setting('lock_timeout') <> '2s' THEN RAISE EXCEPTION 'lock_timeout is %', current_setting('lock_timeout'); END IF; END \$\$;" > @testdir@/keep_timeout/0003_set_config.sql
\! printf -- "SET lock_timeout = '1s';\n%s\n" "DO \$\$ BEGIN IF current_setting('lock_timeout') <> '1s' THEN RAISE EXCEPTION 'lock_timeout is %', current_setting('lock_timeout'); END IF; END \$\$;" > @testdir@/keep_timeout/0004_shorter.sql
\! printf -- "-- migrate:no-transaction\nRESET ALL;\n%s\n" "DO \$\$ BEGIN IF current_setting('lock_timeout') <> '2s' THEN RAISE EXCEPTION 'lock_timeout is %', current_setting('lock_timeout'); END IF; END \$\$;" > @testdir@/keep_timeout/0005_worker.sql
CALL migrate.run('@testdir@/keep_timeout');
SELECT name FROM migrate.migrations WHERE name LIKE '000%' AND name IN
  ('0001_set', '0002_reset', '0003_set_config', '0004_shorter', '0005_worker') ORDER BY name;
SHOW lock_timeout;
RESET migrate.lock_timeout;
DELETE FROM migrate.migrations WHERE name IN
  ('0001_set', '0002_reset', '0003_set_config', '0004_shorter', '0005_worker');
