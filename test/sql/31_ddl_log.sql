-- The DDL log: the extension's event triggers write one row per DDL
-- command to migrate.ddl_log, naming the migration that ran it or none;
-- migrate.ddl_policy records, warns about or blocks DDL made outside
-- migrations, and a superuser can break glass.  In a database of its own,
-- so that the rows are this test's.
CREATE DATABASE regress_ddl_log;
\c regress_ddl_log
CREATE EXTENSION pg_migrate;

-- the triggers are installed, and the extension's own objects are not logged
SELECT evtname, evtevent, evtenabled FROM pg_event_trigger ORDER BY evtname;
SELECT count(*) AS rows_after_create_extension FROM migrate.ddl_log;

CREATE ROLE regress_ddl_app;
GRANT CREATE ON SCHEMA public TO regress_ddl_app;

\set log 'SELECT event, command_tag, object_type, object_identity, schema_name, statement, migration, origin, break_glass FROM migrate.ddl_log ORDER BY id'
\set clear 'DELETE FROM migrate.ddl_log'

-- DDL outside any migration: who, from where, what, out_of_band
SET ROLE regress_ddl_app;
CREATE TABLE oob_items (id int);
RESET ROLE;
SELECT event, command_tag, object_type, object_identity, statement, origin,
       migration IS NULL AS no_migration, break_glass,
       session_user_name = session_user AS session_user_ok,
       current_user_name AS current_user_name,
       application_name = current_setting('application_name') AS application_ok,
       backend_pid = pg_backend_pid() AS pid_ok,
       xid IS NOT NULL AS has_xid,
       logged_at <= clock_timestamp() AS has_time
FROM migrate.ddl_log;
:clear;

-- a DROP is logged from sql_drop (what it named, not what went with it),
-- a rewrite from table_rewrite as well as ddl_command_end
ALTER TABLE oob_items ADD COLUMN note text, DROP COLUMN id;
ALTER TABLE oob_items ALTER COLUMN note TYPE varchar(20) USING note::varchar(20);
ALTER TABLE oob_items ALTER COLUMN note TYPE int USING 0;
CREATE INDEX oob_items_note ON oob_items (note);
DROP TABLE oob_items;
:log;
:clear;

-- never logged: temporary objects, REFRESH MATERIALIZED VIEW, REINDEX
CREATE TEMP TABLE tmp_items (id serial PRIMARY KEY, note text);
CREATE INDEX ON tmp_items (note);
ALTER TABLE tmp_items ADD COLUMN extra int;
ALTER TABLE tmp_items ALTER COLUMN extra TYPE bigint;
COMMENT ON TABLE tmp_items IS 'scratch';
CREATE TEMP VIEW tmp_view AS SELECT * FROM tmp_items;
GRANT SELECT ON tmp_items, tmp_view TO regress_ddl_app;
REVOKE SELECT ON tmp_items FROM regress_ddl_app;
GRANT USAGE ON SEQUENCE tmp_items_id_seq TO regress_ddl_app;
DROP TABLE tmp_items CASCADE;
SELECT count(*) AS temporary_rows FROM migrate.ddl_log;
CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one;
:clear;
REFRESH MATERIALIZED VIEW mv;
REINDEX TABLE migrate.ddl_log;
SELECT count(*) AS never_logged FROM migrate.ddl_log;
DROP MATERIALIZED VIEW mv;
:clear;

-- migrations: each row names its migration and source, the statement is
-- the migration's own, not the call; the worker's DDL too
\! rm -rf @testdir@/ddl_log && mkdir -p @testdir@/ddl_log
\! printf 'CREATE TABLE ddl_users (id int PRIMARY KEY);\nALTER TABLE ddl_users ADD COLUMN email text;\n' > @testdir@/ddl_log/0001_users.sql
\! printf 'DROP TABLE ddl_users;\n' > @testdir@/ddl_log/0001_users.down.sql
\! printf -- '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY ddl_users_email ON ddl_users (email);\n' > @testdir@/ddl_log/0002_email_index.sql
\! printf -- '-- migrate:no-transaction\nDROP INDEX CONCURRENTLY ddl_users_email;\n' > @testdir@/ddl_log/0002_email_index.down.sql
SELECT name, action FROM migrate.apply('@testdir@/ddl_log', target => '0001_users');
CALL migrate.run('@testdir@/ddl_log');
SELECT event, command_tag, object_identity, statement, migration, origin,
       migration_source = '@testdir@/ddl_log' AS from_folder
FROM migrate.ddl_log ORDER BY id;
:clear;
-- migrate.plan() runs pending migrations always rolled back: nothing logged
\! printf 'CREATE TABLE ddl_planned (id int);\n' > @testdir@/ddl_log/0003_planned.sql
SELECT migration, command, executed FROM migrate.plan('@testdir@/ddl_log');
SELECT count(*) AS plan_rows FROM migrate.ddl_log;
\! rm @testdir@/ddl_log/0003_planned.sql
-- rollback, in the transaction and with the worker
CALL migrate.run_rollback('0002_email_index');
SELECT name, action FROM migrate.rollback('0001_users');
SELECT event, command_tag, object_identity, migration, origin FROM migrate.ddl_log ORDER BY id;
:clear;
\! rm @testdir@/ddl_log/0002_email_index*

-- a migration that fails leaves no mark behind: what comes next is out of band
\! printf 'CREATE TABLE ddl_half (id int);\nSELECT 1/0;\n' > @testdir@/ddl_log/0003_fails.sql
SELECT name, action FROM migrate.apply('@testdir@/ddl_log');
CREATE TABLE after_apply_failure (id int);
CALL migrate.run('@testdir@/ddl_log');
CREATE TABLE after_run_failure (id int);
SELECT command_tag, object_identity, migration, origin FROM migrate.ddl_log ORDER BY id;
\! rm @testdir@/ddl_log/0003_fails.sql
SELECT migrate.retry('0003_fails');
DROP TABLE after_apply_failure, after_run_failure;
:clear;

-- the settings are superuser-only: the roles they watch cannot change them
SET ROLE regress_ddl_app;
SET migrate.ddl_policy = off;
SET migrate.allow_out_of_band_ddl = on;
SET migrate.ddl_log_retention = '1min';
RESET ROLE;

-- warn: logged, and one WARNING per command
SET migrate.ddl_policy = warn;
CREATE TABLE warned (id int);
ALTER TABLE warned ADD COLUMN note text, DROP COLUMN id;
CREATE INDEX warned_note ON warned (note);
CREATE TEMP TABLE tmp_warned (id int);
SELECT command_tag, object_identity, origin FROM migrate.ddl_log ORDER BY id;
:clear;

-- block: refused, nothing logged; temporary tables, migrations and
-- REFRESH MATERIALIZED VIEW still work
SET migrate.ddl_policy = block;
ALTER TABLE warned ADD COLUMN blocked int;
DROP TABLE warned;
-- CREATE INDEX CONCURRENTLY and DROP INDEX CONCURRENTLY commit before their
-- end, where refusing them would be too late: they are refused before they
-- start (on a temporary table, built without CONCURRENTLY, they are not)
CREATE INDEX CONCURRENTLY warned_note_c ON warned (note);
DROP INDEX CONCURRENTLY warned_note;
SELECT relname, indisvalid FROM pg_index JOIN pg_class ON oid = indexrelid
WHERE relname LIKE 'warned_note%' ORDER BY 1;
SET ROLE regress_ddl_app;
CREATE TABLE app_blocked (id int);
CREATE TEMP TABLE tmp_blocked (id int);
GRANT SELECT ON tmp_blocked TO PUBLIC;
CREATE INDEX CONCURRENTLY tmp_blocked_id ON tmp_blocked (id);
DROP INDEX CONCURRENTLY tmp_blocked_id;
DROP TABLE tmp_blocked;
RESET ROLE;
\! printf 'CREATE TABLE ddl_under_block (id int);\n' > @testdir@/ddl_log/0004_under_block.sql
\! printf 'DROP TABLE ddl_under_block;\n' > @testdir@/ddl_log/0004_under_block.down.sql
SELECT name, action FROM migrate.apply('@testdir@/ddl_log');
SELECT command_tag, object_identity, migration, origin FROM migrate.ddl_log ORDER BY id;
:clear;

-- breaking glass: a superuser's session setting; what it lets through is
-- logged with break_glass set, under block as under warn (no warning)
SET migrate.allow_out_of_band_ddl = on;
ALTER TABLE warned ADD COLUMN hotfix int;
SET migrate.ddl_policy = warn;
ALTER TABLE warned DROP COLUMN hotfix;
RESET migrate.allow_out_of_band_ddl;
SELECT command_tag, object_identity, statement, origin, break_glass FROM migrate.ddl_log ORDER BY id;
:clear;

-- a restore: what pg_dump's scripts and pg_restore's connections set first
-- (empty search_path, no function body checks, client_min_messages
-- warning), in a superuser's session, is neither blocked nor logged
-- (t/022_ddl_log.pl: not for another login)
SET migrate.ddl_policy = block;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
-- not without all three
CREATE TABLE public.restored (id int);
SET client_min_messages = warning;
CREATE TABLE public.restored (id int);
ALTER TABLE public.restored ADD COLUMN note text;
RESET client_min_messages;
RESET search_path;
RESET check_function_bodies;
SELECT count(*) AS restore_rows FROM migrate.ddl_log;

-- off: nothing is logged, in migrations or out of them
SET migrate.ddl_policy = off;
DROP TABLE restored;
SELECT name, action FROM migrate.rollback('0004_under_block');
SELECT count(*) AS rows_when_off FROM migrate.ddl_log;
RESET migrate.ddl_policy;

-- retention: apply and run delete rows older than migrate.ddl_log_retention
CREATE TABLE kept (id int);
CREATE TABLE pruned (id int);
UPDATE migrate.ddl_log SET logged_at = now() - interval '2 days'
WHERE object_identity = 'public.pruned';
SET migrate.ddl_log_retention = '1d';
SELECT name, action FROM migrate.apply('@testdir@/ddl_log');
SELECT object_identity, origin FROM migrate.ddl_log ORDER BY id;
RESET migrate.ddl_log_retention;

-- the log is the extension's: not writable by others, kept by pg_dump
SET ROLE regress_ddl_app;
SELECT count(*) FROM migrate.ddl_log;
RESET ROLE;
SELECT c.relname, e.extcondition IS NOT NULL AS dumped
FROM pg_extension e, unnest(e.extconfig) AS cfg(oid) JOIN pg_class c ON c.oid = cfg.oid
WHERE e.extname = 'pg_migrate' AND c.relname LIKE 'ddl_log%' ORDER BY 1;

-- dropping the extension under block works, and takes the log with it
SET migrate.ddl_policy = block;
DROP EXTENSION pg_migrate;
SELECT count(*) AS triggers_left FROM pg_event_trigger;
RESET migrate.ddl_policy;

\c contrib_regression
DROP DATABASE regress_ddl_log;
DROP ROLE regress_ddl_app;
