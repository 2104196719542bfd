-- Sqitch projects: sqitch.plan's order, dependencies and tags, reworked
-- changes' "<change>@<tag>.sql" scripts, revert scripts as down scripts,
-- verify scripts run after deploy (a failing one fails the migration), and
-- Sqitch's registry (schema sqitch) adopted.
SET migrate.generate_down = off;
SET migrate.lock_timeout = '5s';
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/sqitch && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/sqitch" @testdir@/sqitch
\set VERBOSITY default

-- plan order, the reworked "users" first as users@v1.0, then as users
SELECT name, state FROM migrate.status('@testdir@/sqitch');
SELECT name, action FROM migrate.apply('@testdir@/sqitch');
SELECT name, version, format FROM migrate.migrations WHERE format = 'sqitch' ORDER BY id;
\d flipr.users
-- the deploy scripts' BEGIN/COMMIT wrapper is left out, as for any file;
-- the revert scripts are the down scripts
SELECT name, down_sql FROM migrate.migrations WHERE name = 'users';
SELECT name, action FROM migrate.rollback('flips');
SELECT to_regclass('flipr.flips') IS NULL AS flips_reverted, to_regclass('flipr.users') IS NOT NULL AS users_kept;

-- a failing verify script fails the migration: nothing of it stays
\! printf -- 'BEGIN;\nSELECT nosuch FROM flipr.flips WHERE FALSE;\nROLLBACK;\n' > @testdir@/sqitch/verify/flips.sql
SELECT name, action FROM migrate.apply('@testdir@/sqitch');
SELECT to_regclass('flipr.flips') IS NULL AS flips_not_deployed;
SELECT name, state FROM migrate.status('@testdir@/sqitch') WHERE name = 'flips';
-- in run too (retry: the failure is recorded, and the deploy script is unchanged)
CALL migrate.run('@testdir@/sqitch', retry => true);
SELECT to_regclass('flipr.flips') IS NULL AS flips_not_deployed;
-- what a verify script does is rolled back; it may not control the transaction elsewhere
\! printf -- 'BEGIN;\nCREATE TABLE flipr.verify_left_this ();\nSELECT id FROM flipr.flips WHERE FALSE;\nROLLBACK;\n' > @testdir@/sqitch/verify/flips.sql
SELECT name, action FROM migrate.apply('@testdir@/sqitch', retry => true);
SELECT to_regclass('flipr.verify_left_this') IS NULL AS rolled_back;
SELECT name, action FROM migrate.rollback('flips');
\! printf -- 'SELECT 1;\nCOMMIT;\nSELECT 2;\n' > @testdir@/sqitch/verify/flips.sql
SELECT name, action FROM migrate.apply('@testdir@/sqitch');
\! cp "$PG_ABS_SRCDIR/fixtures/sqitch/verify/flips.sql" @testdir@/sqitch/verify/
SELECT name, action FROM migrate.apply('@testdir@/sqitch', retry => true);

-- an edited deploy script is modified; revert and verify scripts are not drift
\! printf -- '-- more\n' >> @testdir@/sqitch/revert/flips.sql
\! printf -- '-- more\n' >> @testdir@/sqitch/verify/flips.sql
SELECT name, state FROM migrate.status('@testdir@/sqitch') WHERE name = 'flips';
\! printf -- '-- more\n' >> @testdir@/sqitch/deploy/flips.sql
SELECT name, state FROM migrate.status('@testdir@/sqitch') WHERE name = 'flips';
\! cp -R "$PG_ABS_SRCDIR/fixtures/sqitch/." @testdir@/sqitch/

SELECT name, action FROM migrate.rollback('appschema');
SELECT to_regnamespace('flipr') IS NULL AS all_reverted;

-- Adopted: a database Sqitch deployed, its registry as Sqitch creates it
-- and its rows as "sqitch deploy" writes them (users@v1.0 and appschema
-- deployed; the second "users" not yet)
CREATE SCHEMA sqitch;
CREATE TABLE sqitch.projects (
    project         TEXT        PRIMARY KEY,
    uri             TEXT            NULL UNIQUE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    creator_name    TEXT        NOT NULL,
    creator_email   TEXT        NOT NULL
);
CREATE TABLE sqitch.changes (
    change_id       TEXT        PRIMARY KEY,
    script_hash     TEXT            NULL,
    change          TEXT        NOT NULL,
    project         TEXT        NOT NULL REFERENCES sqitch.projects(project) ON UPDATE CASCADE,
    note            TEXT        NOT NULL DEFAULT '',
    committed_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    committer_name  TEXT        NOT NULL,
    committer_email TEXT        NOT NULL,
    planned_at      TIMESTAMPTZ NOT NULL,
    planner_name    TEXT        NOT NULL,
    planner_email   TEXT        NOT NULL,
    UNIQUE(project, script_hash)
);
INSERT INTO sqitch.projects (project, uri, creator_name, creator_email)
VALUES ('flipr', 'https://github.com/sqitchers/sqitch-intro/', 'Marge N. O''Vera', 'marge@example.com'),
       ('other', NULL, 'Someone', 'someone@example.com');
CREATE SCHEMA flipr;
CREATE TABLE flipr.users (nickname TEXT PRIMARY KEY, password TEXT NOT NULL, timestamp TIMESTAMPTZ NOT NULL DEFAULT NOW());
INSERT INTO sqitch.changes (change_id, script_hash, change, project, note, committed_at, committer_name, committer_email, planned_at, planner_name, planner_email)
VALUES ('0f2b4c1a9e3d5f7a8b6c4d2e0f1a3b5c7d9e1f2a', '5c4b2be44e4ed974a8268c671621c7a5904bd2b7', 'appschema', 'flipr', 'App schema.', '2024-01-05 10:00:00+00', 'Marge N. O''Vera', 'marge@example.com', '2024-01-01 10:00:00+00', 'Marge N. O''Vera', 'marge@example.com'),
       ('1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b', 'b27ea29ca13d9398bedfbf684b9a6c21a322f2c1', 'users', 'flipr', 'Creates table to track our users.', '2024-01-05 10:00:01+00', 'Marge N. O''Vera', 'marge@example.com', '2024-01-01 10:05:00+00', 'Marge N. O''Vera', 'marge@example.com'),
       -- another project's change of the same name is not this project's
       ('2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c', 'ffffffffffffffffffffffffffffffffffffffff', 'flips', 'other', '', '2024-01-05 10:00:02+00', 'Someone', 'someone@example.com', '2024-01-01 10:05:00+00', 'Someone', 'someone@example.com');
SELECT name, state FROM migrate.status('@testdir@/sqitch');
SELECT name, action FROM migrate.apply('@testdir@/sqitch');
SELECT * FROM migrate.drift();
-- pg_migrate only reads the registry
SELECT change, project FROM sqitch.changes ORDER BY committed_at;
SELECT name, action FROM migrate.rollback('flips');
SELECT name FROM migrate.forget('users@v1.0');
SELECT name FROM migrate.forget('appschema');
DROP SCHEMA flipr CASCADE;
DROP SCHEMA sqitch CASCADE;
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();

-- Refused: a plan without %project, a change requiring one planned after
-- it, an unknown tag, a change twice without a tag between, a missing
-- deploy script, a line without timestamp
CREATE FUNCTION pg_temp.plan(text) RETURNS jsonb LANGUAGE sql AS
$$ SELECT jsonb_build_object('sqitch.plan', $1, 'deploy/a.sql', 'SELECT 1;', 'deploy/b.sql', 'SELECT 2;') $$;
SELECT * FROM migrate.status(pg_temp.plan(E'a 2024-01-01T00:00:00Z M <m@x>\n'));
SELECT * FROM migrate.status(pg_temp.plan(E'%project=p\n\na [b] 2024-01-01T00:00:00Z M <m@x>\nb 2024-01-01T00:00:00Z M <m@x>\n'));
SELECT * FROM migrate.status(pg_temp.plan(E'%project=p\n\na 2024-01-01T00:00:00Z M <m@x>\nb [a@v2] 2024-01-01T00:00:00Z M <m@x>\n'));
SELECT * FROM migrate.status(pg_temp.plan(E'%project=p\n\na 2024-01-01T00:00:00Z M <m@x>\na 2024-01-02T00:00:00Z M <m@x>\n'));
SELECT * FROM migrate.status(pg_temp.plan(E'%project=p\n\na 2024-01-01T00:00:00Z M <m@x>\nc 2024-01-02T00:00:00Z M <m@x>\n'));
SELECT * FROM migrate.status(pg_temp.plan(E'%project=p\n\na M <m@x>\n'));
-- other projects' changes, change IDs and conflicts are Sqitch's to check
SELECT name, state FROM migrate.status(pg_temp.plan(E'%project=p\n\na [other:x !b 0123456789abcdef0123456789abcdef01234567] 2024-01-01T00:00:00Z M <m@x>\nb [p:a] 2024-01-01T00:00:00Z M <m@x> # note [c]\n'));
