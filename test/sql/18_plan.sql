-- Plan: every pending migration run statement by statement in a
-- subtransaction that is always rolled back; the locks come from the lock
-- manager, the rewrite from pg_class.relfilenode.
-- (a long budget, so that a slow machine does not run it out: see below)
SET migrate.plan_lock_timeout = '1min';
CREATE TABLE plan_items (id int PRIMARY KEY, name text);
INSERT INTO plan_items SELECT g, 'x' FROM generate_series(1, 100) g;
CREATE TABLE plan_small (id int);
INSERT INTO plan_small SELECT g FROM generate_series(1, 10) g;
ANALYZE plan_items, plan_small;
\! rm -rf @testdir@/plan && mkdir -p @testdir@/plan
\! printf 'CREATE INDEX plan_items_name ON plan_items (name);\n' > @testdir@/plan/0001_index.sql
\! printf -- '-- migrate:allow lock_timeout_unset\nALTER TABLE plan_small ADD COLUMN note text;\nALTER TABLE plan_items ADD COLUMN token uuid DEFAULT gen_random_uuid();\n' > @testdir@/plan/0002_columns.sql
\! printf 'CREATE TABLE plan_other (id int);\n\nINSERT INTO plan_missing VALUES (1);\nCREATE INDEX plan_other_id ON plan_other (id);\n' > @testdir@/plan/0003_fails.sql
\! printf -- '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY plan_items_id ON plan_items (id);\n' > @testdir@/plan/0004_concurrently.sql
\! printf 'UPDATE plan_items SET name = token::text;\nDO $$\nBEGIN\n  PERFORM 1;\n  RAISE EXCEPTION '"'"'stop'"'"';\nEND\n$$;\n' > @testdir@/plan/0005_after.sql
CREATE TEMP TABLE before_history AS SELECT * FROM migrate.history;

-- one row per statement: ShareLock for CREATE INDEX, ACCESS EXCLUSIVE and a
-- rewrite for a volatile default, none for a plain ADD COLUMN; a failing
-- statement with its line, the rest of its migration not executed; a
-- no-transaction migration analysed only; later migrations still planned
-- on what ran before (0002's column exists for 0005)
BEGIN;
SELECT migration, file, line, command, executed, locks, rewrite, relation,
       table_rows, table_size > 0 AS has_size,
       (duration >= '0') IS TRUE AS timed, findings, error, note
FROM migrate.plan('@testdir@/plan');
-- nothing is left held, not even the run lock, within the caller's transaction
SELECT locktype, relation::regclass, mode FROM pg_locks
WHERE pid = pg_backend_pid() AND locktype IN ('relation', 'object', 'advisory')
  AND relation IS DISTINCT FROM 'pg_locks'::regclass;
COMMIT;

-- nothing ran, nothing was recorded
SELECT count(*) AS columns FROM pg_attribute
WHERE attrelid = 'plan_items'::regclass AND attnum > 0 AND NOT attisdropped;
SELECT to_regclass('plan_other') AS other, to_regclass('plan_items_name') AS index;
SELECT count(*) AS migrations FROM migrate.migrations;
SELECT count(*) AS new_history FROM (SELECT * FROM migrate.history
                                     EXCEPT SELECT * FROM before_history) h;

-- a table larger than migrate.plan_max_table_size: analysed, not executed,
-- and the rest of its migration with it; other migrations still run
SET migrate.plan_max_table_size = '8kB';
-- (a table never analyzed has no row estimate: 0 on PostgreSQL 13)
SELECT migration, line, command, executed, locks, relation,
       coalesce(table_rows, 0) AS table_rows, error,
       regexp_replace(note, 'is [0-9]+ kB', 'is N kB') AS note
FROM migrate.plan(jsonb_build_object(
    '0001_big.sql', E'CREATE INDEX plan_items_name ON plan_items (name);\nCREATE TABLE plan_after (id int);\n',
    '0002_small.sql', E'ALTER TABLE plan_small ADD COLUMN note text;\n',
    '0003_new.sql', E'CREATE TABLE plan_new (id int);\nCREATE INDEX plan_new_id ON plan_new (id);\n'));
SET migrate.plan_max_table_size = -1;
SELECT migration, line, executed, locks FROM migrate.plan(jsonb_build_object(
    '0001_big.sql', E'CREATE INDEX plan_items_name ON plan_items (name);\n'));
RESET migrate.plan_max_table_size;

-- the files form; what a migration cannot run (a COMMIT in its middle) is
-- reported without running any of it; applied migrations are not planned
SELECT name, action FROM migrate.apply(jsonb_build_object(
    '0001_table.sql', E'CREATE TABLE plan_applied (id int);\n'));
SELECT migration, file, line, command, executed, locks, error, note
FROM migrate.plan(jsonb_build_object(
    '0001_table.sql', E'CREATE TABLE plan_applied (id int);\n',
    '0002_commit.sql', E'CREATE TABLE plan_x (id int);\nCOMMIT;\nCREATE TABLE plan_y (id int);\n',
    '0003_lint.sql', E'DROP TABLE plan_applied;\n'), source => 'client');
SELECT migration, line, findings FROM migrate.plan(jsonb_build_object(
    '0002_lint.sql', E'DROP TABLE plan_applied;\n'));
SELECT name, action FROM migrate.forget('0001_table');

-- migrate.plan_max_table_size counts a partitioned table's partitions and
-- an inheritance parent's children: what is done to the parent is done to
-- them.  A DO block names no table: it runs, and when it turns out to have
-- locked a large table the rest of its migration is not executed.
CREATE TABLE plan_parted (id int, pad text) PARTITION BY RANGE (id);
CREATE TABLE plan_parted_1 PARTITION OF plan_parted FOR VALUES FROM (0) TO (100000);
INSERT INTO plan_parted SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g;
CREATE TABLE plan_parent (id int);
CREATE TABLE plan_child (pad text) INHERITS (plan_parent);
INSERT INTO plan_child SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g;
SET migrate.plan_max_table_size = '64kB';
SELECT migration, line, executed, locks, relation,
       table_size > 65536 AS over_limit, error,
       regexp_replace(note, 'is [0-9]+ kB', 'is N kB') AS note
FROM migrate.plan(jsonb_build_object(
    '0001_parted.sql', E'ALTER TABLE plan_parted ADD COLUMN token uuid DEFAULT gen_random_uuid();\n',
    '0002_parent.sql', E'ALTER TABLE plan_parent ADD COLUMN token uuid DEFAULT gen_random_uuid();\n',
    '0003_do.sql', E'DO $$ BEGIN UPDATE plan_child SET pad = pad; END $$;\nCREATE TABLE plan_do_after (id int);\n',
    '0004_small.sql', E'ALTER TABLE plan_small ADD COLUMN note text;\n'));
RESET migrate.plan_max_table_size;
SELECT count(*) AS parted_columns FROM pg_attribute
WHERE attrelid = 'plan_parted_1'::regclass AND attnum > 0 AND NOT attisdropped;
DROP TABLE plan_parted, plan_parent, plan_child;

-- what no rollback undoes is not executed, nor the rest of its migration:
-- a session advisory lock, COPY ... PROGRAM or TO a file, setval(),
-- PREPARE, dblink
SELECT migration, line, command, executed, note
FROM migrate.plan(jsonb_build_object(
    '0001_lock.sql', E'SELECT pg_advisory_lock(42);\n',
    '0002_program.sql', E'COPY plan_small TO PROGRAM \'cat\';\n',
    '0003_file.sql', E'COPY plan_small TO \'@testdir@/plan_small.out\';\n',
    '0004_setval.sql', E'CREATE SEQUENCE plan_seq;\nSELECT setval(\'plan_seq\', 10);\n',
    '0005_prepare.sql', E'PREPARE plan_prepared AS SELECT 1;\n',
    '0006_dblink.sql', E'INSERT INTO plan_small SELECT x FROM public.dblink(\'dbname=postgres\', \'SELECT 1\') AS t(x int);\n',
    '0007_xact_lock.sql', E'SELECT pg_advisory_xact_lock(42);\n'));
SELECT count(*) AS advisory_locks FROM pg_locks
WHERE pid = pg_backend_pid() AND locktype = 'advisory';
SELECT count(*) AS prepared FROM pg_prepared_statements;

-- a migration cannot lengthen the plan's lock timeout: what SET
-- lock_timeout or RESET ALL changes is put back before the next statement
\set check_timeout 'DO $$ BEGIN IF current_setting(''lock_timeout'') = ''0'' OR current_setting(''lock_timeout'')::interval > ''1min'' THEN RAISE EXCEPTION ''lock_timeout is %'', current_setting(''lock_timeout''); END IF; END $$;'
SELECT migration, line, executed, error
FROM migrate.plan(jsonb_build_object(
    '0001_set.sql', E'SET lock_timeout = \'1h\';\n' || :'check_timeout' || E'\n',
    '0002_reset.sql', E'RESET ALL;\n' || :'check_timeout' || E'\n',
    '0003_set_config.sql', E'SELECT set_config(\'lock_timeout\', \'0\', false);\n' || :'check_timeout' || E'\n'));

-- migrate.plan_lock_timeout also bounds how long the plan holds the locks
-- of the migrations it keeps: 0001 locked plan_small, so 0002 is canceled
-- when the budget runs out, everything is rolled back (the application's
-- queries on plan_small wait no longer) and the rest is analysed only
SET migrate.plan_lock_timeout = '1s';
SELECT migration, line, executed, locks, error, note
FROM migrate.plan(jsonb_build_object(
    '0001_lock.sql', E'ALTER TABLE plan_small ADD COLUMN slow_note text;\n',
    '0002_slow.sql', E'SELECT pg_sleep(5);\nCREATE TABLE plan_slow (id int);\n',
    '0003_after.sql', E'CREATE TABLE plan_after_slow (id int);\n'));
SET migrate.plan_lock_timeout = '1min';
DROP TABLE plan_applied, plan_items, plan_small;
