-- ALTER EXTENSION pg_migrate UPDATE from 0.1, from 0.2 and from 0.3 keeps every
-- tracking row, installs the DDL log's event triggers, and an updated
-- database has the same catalog as a fresh install; drift is counted from
-- the schema as it was at the update.  migrate.ddl_policy = block never
-- stands in the way of the update.
\! rm -rf @testdir@/upgrade && mkdir -p @testdir@/upgrade && cp -R "$PG_ABS_SRCDIR/../examples/migrations/." @testdir@/upgrade/

-- what a fresh install has: its tables' columns and its functions, in
-- name order (not in pg_proc's, which differs as dead rows' space is reused)
\set catalog 'SELECT string_agg(format(\'%s %s %s %s\', c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull), \', \' ORDER BY c.relname, a.attnum) || \' / \' || (SELECT string_agg(format(\'%s %s %s\', p.oid::regprocedure, pg_get_function_result(p.oid), p.proacl), \', \' ORDER BY p.oid::regprocedure::text) FROM pg_proc p WHERE p.pronamespace = \'migrate\'::regnamespace) AS catalog FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = \'migrate\'::regnamespace AND c.relkind IN (\'r\', \'S\') AND a.attnum > 0 AND NOT a.attisdropped'
CREATE DATABASE regress_fresh;
\c regress_fresh
CREATE EXTENSION pg_migrate;
:catalog \gset fresh_
SELECT :'fresh_catalog' LIKE '%history performed_as text%' AS has_performed_as,
       :'fresh_catalog' LIKE '%history tool_table text%' AS has_tool_table,
       :'fresh_catalog' LIKE '%fingerprint digest text%' AS has_fingerprint;
SELECT pg_get_constraintdef(oid) LIKE '%tool_record%tool_forget%' AS tool_actions
FROM pg_constraint WHERE conname = 'history_action_check';
\c contrib_regression
DROP DATABASE regress_fresh;

CREATE DATABASE regress_upgrade;
\c regress_upgrade
CREATE EXTENSION pg_migrate VERSION '0.1';
SELECT extversion FROM pg_extension WHERE extname = 'pg_migrate';

-- the library works on 0.1's tables: apply, roll back one, fail one
SELECT name, action FROM migrate.apply('@testdir@/upgrade');
SELECT name, action FROM migrate.rollback();
\! printf 'SELECT 1/0;\n' > @testdir@/upgrade/0006_fails.sql
CALL migrate.run('@testdir@/upgrade');
\! rm @testdir@/upgrade/0006_fails.sql
-- a deploy role granted the functions before the update keeps them
CREATE ROLE regress_upgrade_deployer;
GRANT EXECUTE ON FUNCTION migrate.apply(text, text, boolean) TO regress_upgrade_deployer;
GRANT EXECUTE ON PROCEDURE migrate.run(text, text, boolean) TO regress_upgrade_deployer;
CREATE TEMP TABLE before_migrations AS SELECT * FROM migrate.migrations;
CREATE TEMP TABLE before_history AS SELECT * FROM migrate.history;

SET migrate.ddl_policy = block;
ALTER EXTENSION pg_migrate UPDATE;
RESET migrate.ddl_policy;
SELECT extversion FROM pg_extension WHERE extname = 'pg_migrate';
-- the DDL log's triggers are installed; the update itself is not logged
SELECT evtname, evtevent, evtenabled FROM pg_event_trigger ORDER BY evtname;
SELECT count(*) AS rows_logged_by_update FROM migrate.ddl_log;

SELECT has_function_privilege('regress_upgrade_deployer', 'migrate.apply(text, text, boolean, text, boolean)', 'EXECUTE') AS apply_granted,
       has_function_privilege('regress_upgrade_deployer', 'migrate.run(text, text, boolean, text, boolean)', 'EXECUTE') AS run_granted,
       has_function_privilege('regress_upgrade_deployer', 'migrate.rollback(text, boolean)', 'EXECUTE') AS rollback_not_granted;

-- nothing was lost; old history rows ran as their caller
SELECT count(*) AS migrations FROM migrate.migrations;
SELECT (SELECT count(*) FROM before_migrations) AS before,
       (SELECT count(*) FROM (SELECT * FROM before_migrations
                              EXCEPT SELECT id, name, version, checksum, up_sql, down_sql, source,
                                            applied_at, applied_by, duration, transaction_mode,
                                            format, repeatable FROM migrate.migrations) d) AS lost;
SELECT count(*) AS history,
       count(*) FILTER (WHERE performed_as = performed_by) AS as_caller
FROM migrate.history;
SELECT count(*) AS lost_history FROM (
    SELECT id, action, name, performed_by, performed_at, duration, source,
           sqlstate, message, detail, file, line FROM before_history
    EXCEPT
    SELECT id, action, name, performed_by, performed_at, duration, source,
           sqlstate, message, detail, file, line FROM migrate.history) d;

-- the same catalog as a fresh install
:catalog \gset updated_
SELECT :'updated_catalog' = :'fresh_catalog' AS same_catalog;

-- the schema as it is at the update is the fingerprint: no drift
SELECT count(*) > 0 AS fingerprinted FROM migrate.fingerprint;
SELECT * FROM migrate.drift();

-- and it goes on working: status, apply, rollback with performed_as
SELECT name, state FROM migrate.status('@testdir@/upgrade');
SELECT name, action FROM migrate.apply('@testdir@/upgrade');
SELECT name, action FROM migrate.rollback('0004_rewards_system');
SELECT action, name, performed_as = performed_by AS as_caller
FROM migrate.history ORDER BY id DESC LIMIT 3;
SELECT * FROM migrate.drift();

\c contrib_regression
DROP DATABASE regress_upgrade;
DROP ROLE regress_upgrade_deployer;

-- from 0.2, with migrations applied, one rolled back and one failed: DDL
-- made before the update is not in the log (there was none), DDL made
-- after it is
CREATE DATABASE regress_upgrade_02;
\c regress_upgrade_02
CREATE EXTENSION pg_migrate VERSION '0.2';
SELECT name, action FROM migrate.apply('@testdir@/upgrade');
\! printf 'SELECT 1/0;\n' > @testdir@/upgrade/0006_fails.sql
CALL migrate.run('@testdir@/upgrade');
\! rm @testdir@/upgrade/0006_fails.sql
SELECT name, action FROM migrate.rollback('0005_leaderboard');
CREATE TEMP TABLE before_migrations AS SELECT * FROM migrate.migrations;
CREATE TEMP TABLE before_history AS SELECT * FROM migrate.history;
CREATE TABLE before_update (id int);
SET migrate.ddl_policy = block;
ALTER EXTENSION pg_migrate UPDATE;
RESET migrate.ddl_policy;
SELECT extversion FROM pg_extension WHERE extname = 'pg_migrate';
SELECT (SELECT count(*) FROM before_migrations) AS before,
       (SELECT count(*) FROM (SELECT * FROM before_migrations
                              EXCEPT SELECT id, name, version, checksum, up_sql, down_sql, source,
                                            applied_at, applied_by, duration, transaction_mode,
                                            format, repeatable FROM migrate.migrations) d) AS lost;
SELECT (SELECT count(*) FROM before_history) AS history_before,
       (SELECT count(*) FROM (SELECT to_jsonb(b) FROM before_history b
                              EXCEPT SELECT to_jsonb(h) - 'tenant' FROM migrate.history h) d) AS lost_history;
SELECT evtname, evtevent, evtenabled FROM pg_event_trigger ORDER BY evtname;
SELECT count(*) AS rows_logged_by_update FROM migrate.ddl_log;
:catalog \gset updated_02_
SELECT :'updated_02_catalog' = :'fresh_catalog' AS same_catalog;
-- the schema as it was at the update, before_update included, is no drift
SELECT * FROM migrate.drift();
CREATE TABLE after_update (id int);
SELECT name, action FROM migrate.apply('@testdir@/upgrade');
SELECT command_tag, object_identity, migration, origin FROM migrate.ddl_log ORDER BY id;

-- a change by hand after the update is drift, and stays drift after the
-- next migrations
ALTER TABLE users ADD COLUMN hotfix int;
SELECT object_type, object_identity, change, description FROM migrate.drift();
SELECT name, action FROM migrate.rollback();
SELECT name, action FROM migrate.apply('@testdir@/upgrade');
SELECT object_type, object_identity, change, description FROM migrate.drift();
-- who: the log's rows from before the update have accepted = false; the
-- hotfix is named, and accepted
SELECT object_identity, changed_by IS NOT NULL AS who_known FROM migrate.drift();
SELECT count(*) FILTER (WHERE accepted) AS accepted, count(*) AS logged FROM migrate.ddl_log;
SELECT * FROM migrate.accept_drift(ARRAY['public.users.hotfix']);
SELECT object_identity FROM migrate.drift();
-- blame: the migrations applied before the update are found by their
-- scripts, those after it and the hotfix by the log
SELECT origin, migration, command_tag FROM migrate.blame('users');
SELECT origin, migration, command_tag FROM migrate.blame('users.tokens');

\c contrib_regression
DROP DATABASE regress_upgrade_02;

-- from 0.3: the library works on 0.3's tables without generating down
-- scripts (there is no column to say one was generated), and a role
-- granted rollback and run_rollback keeps them through the update, which
-- gives both skip_partial; after it, a migration without a down script
-- gets one generated, and rollback runs it
CREATE DATABASE regress_upgrade_03;
\c regress_upgrade_03
CREATE EXTENSION pg_migrate VERSION '0.3';
\! rm -rf @testdir@/upgrade_03 && mkdir @testdir@/upgrade_03 && printf 'CREATE TABLE up_03 (id int);\n' > @testdir@/upgrade_03/0001_first.sql && printf 'CREATE INDEX up_03_id ON up_03 (id);\n' > @testdir@/upgrade_03/0002_second.sql
SELECT name, action FROM migrate.apply('@testdir@/upgrade_03', target => '0001_first');
SELECT name, down_sql IS NULL AS no_down FROM migrate.migrations;
SELECT name, action FROM migrate.rollback();
CREATE ROLE regress_upgrade_03_deployer;
GRANT EXECUTE ON FUNCTION migrate.rollback(text) TO regress_upgrade_03_deployer;
GRANT EXECUTE ON PROCEDURE migrate.run_rollback(text) TO regress_upgrade_03_deployer;
GRANT EXECUTE ON FUNCTION migrate.status(text, text) TO regress_upgrade_03_deployer;
GRANT EXECUTE ON FUNCTION migrate.status(jsonb, text, text) TO regress_upgrade_03_deployer;
-- 0.3's status, four columns, from this library
SELECT name, state, applied_at IS NOT NULL AS applied, checksum IS NOT NULL AS checksum FROM migrate.status();
CREATE TEMP TABLE before_migrations AS SELECT * FROM migrate.migrations;
ALTER EXTENSION pg_migrate UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pg_migrate';
SELECT has_function_privilege('regress_upgrade_03_deployer', 'migrate.rollback(text, boolean)', 'EXECUTE') AS rollback_granted,
       has_function_privilege('regress_upgrade_03_deployer', 'migrate.run_rollback(text, boolean)', 'EXECUTE') AS run_rollback_granted,
       has_function_privilege('regress_upgrade_03_deployer', 'migrate.status(text, text)', 'EXECUTE') AS status_granted,
       has_function_privilege('regress_upgrade_03_deployer', 'migrate.status(jsonb, text, text)', 'EXECUTE') AS status_files_granted,
       has_function_privilege('regress_upgrade_03_deployer', 'migrate.down_script(text)', 'EXECUTE') AS down_script_not_granted;
SELECT (SELECT count(*) FROM before_migrations) AS before,
       (SELECT count(*) FROM (SELECT name, version, checksum, up_sql, down_sql FROM before_migrations
                              EXCEPT SELECT name, version, checksum, up_sql, down_sql FROM migrate.migrations) d) AS lost;
SELECT name, down_generated, down_partial FROM migrate.migrations;
REVOKE EXECUTE ON FUNCTION migrate.rollback(text, boolean) FROM regress_upgrade_03_deployer;
REVOKE EXECUTE ON PROCEDURE migrate.run_rollback(text, boolean) FROM regress_upgrade_03_deployer;
REVOKE EXECUTE ON FUNCTION migrate.status(text, text) FROM regress_upgrade_03_deployer;
REVOKE EXECUTE ON FUNCTION migrate.status(jsonb, text, text) FROM regress_upgrade_03_deployer;
:catalog \gset updated_03_
SELECT :'updated_03_catalog' = :'fresh_catalog' AS same_catalog;
-- the archive's schema comes with the update, the extension's, closed to PUBLIC
SELECT n.nspname, has_schema_privilege('public', n.oid, 'USAGE') AS public_usage,
       EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
               AND d.objid = n.oid AND d.deptype = 'e') AS extension_member
FROM pg_namespace n WHERE n.nspname = 'migrate_archive';
SELECT name, action FROM migrate.apply('@testdir@/upgrade_03');
SELECT name, down_generated, down_sql FROM migrate.migrations ORDER BY id;
SELECT name, state, down FROM migrate.status('@testdir@/upgrade_03');
SELECT name, action FROM migrate.rollback('0002_second');
SELECT count(*) AS index_left FROM pg_class WHERE relname = 'up_03_id';

\c contrib_regression
DROP DATABASE regress_upgrade_03;
DROP ROLE regress_upgrade_03_deployer;

-- another tool's table is kept in step on 0.1 too, whose history can name
-- neither the table nor the writes; once updated, it logs both.
-- golang-migrate applied version 1: apply adopts it and runs 2.
CREATE DATABASE regress_upgrade_tool;
\c regress_upgrade_tool
CREATE EXTENSION pg_migrate VERSION '0.1';
SET migrate.lock_timeout = '5s';
\! rm -rf @testdir@/upgrade_golang && mkdir @testdir@/upgrade_golang && cd @testdir@/upgrade_golang && printf 'CREATE TABLE up_gm (id int);\n' > 1_gm.up.sql && printf 'DROP TABLE up_gm;\n' > 1_gm.down.sql && printf 'ALTER TABLE up_gm ADD COLUMN b int;\n' > 2_gm.up.sql && printf 'ALTER TABLE up_gm DROP COLUMN b;\n' > 2_gm.down.sql
CREATE TABLE up_gm (id int);
CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
INSERT INTO schema_migrations (version, dirty) VALUES (1, false);
SELECT name, action FROM migrate.apply('@testdir@/upgrade_golang');
SELECT version, dirty FROM schema_migrations;
SELECT name, action FROM migrate.rollback('2_gm');
SELECT version, dirty FROM schema_migrations;

ALTER EXTENSION pg_migrate UPDATE;
SELECT name, action FROM migrate.apply('@testdir@/upgrade_golang');
SELECT version, dirty FROM schema_migrations;
SELECT name, action FROM migrate.rollback('1_gm');
SELECT count(*) AS golang_rows FROM schema_migrations;
SELECT action, name, tool_table FROM migrate.history ORDER BY id;

\c contrib_regression
DROP DATABASE regress_upgrade_tool;

-- from 0.4: the library works on 0.4's tables, which have no tenant, and
-- refuses a tenant there; the update keeps every row as the database's
-- own (tenant ''), and after it the same migration can be applied again
-- to a tenant schema, tracked apart
CREATE DATABASE regress_upgrade_04;
\c regress_upgrade_04
CREATE EXTENSION pg_migrate VERSION '0.4';
SET migrate.lint = off;
\! rm -rf @testdir@/upgrade_04 && mkdir @testdir@/upgrade_04 && printf 'CREATE TABLE up_04 (id int);\n' > @testdir@/upgrade_04/0001_first.sql
CREATE SCHEMA tenant_04;
SELECT name, action FROM migrate.apply('@testdir@/upgrade_04');
SET migrate.tenant = 'tenant_04';
SELECT name, action FROM migrate.apply('@testdir@/upgrade_04');
RESET migrate.tenant;
CREATE TEMP TABLE before_history AS SELECT * FROM migrate.history;
ALTER EXTENSION pg_migrate UPDATE;
SELECT tenant, name FROM migrate.migrations;
SELECT (SELECT count(*) FROM before_history) AS before,
       (SELECT count(*) FROM migrate.history WHERE tenant = '') AS own_after;
CALL migrate.run_tenants('@testdir@/upgrade_04', tenants => '{tenant_04}');
SELECT tenant, name FROM migrate.migrations ORDER BY tenant, name;
-- the tenant's migration is no drift of the database's
SELECT name, state FROM migrate.status('@testdir@/upgrade_04');

\c contrib_regression
DROP DATABASE regress_upgrade_04;

-- from 0.5: run_tenants and start_tenants gain the tenant databases
-- (their argument lists change); a deploy role granted them keeps them
CREATE DATABASE regress_upgrade_05;
\c regress_upgrade_05
CREATE EXTENSION pg_migrate VERSION '0.5';
CREATE ROLE regress_upgrade_05_deployer;
GRANT EXECUTE ON PROCEDURE migrate.run_tenants(jsonb, text[], text, text, integer, integer, text, bigint, text, boolean, text, text, boolean) TO regress_upgrade_05_deployer;
GRANT EXECUTE ON FUNCTION migrate.start_tenants(text, text[], text, text, integer, integer, text, text, boolean, text, boolean) TO regress_upgrade_05_deployer;
ALTER EXTENSION pg_migrate UPDATE;
SELECT p.oid::regprocedure AS routine,
       has_function_privilege('regress_upgrade_05_deployer', p.oid, 'EXECUTE') AS granted
FROM pg_proc p
WHERE p.pronamespace = 'migrate'::regnamespace AND p.proname IN ('run_tenants', 'start_tenants')
ORDER BY 1::text;
\c contrib_regression
DROP DATABASE regress_upgrade_05;
DROP ROLE regress_upgrade_05_deployer;
-- from 0.5 (issue 20): the test databases' tables and sequence are the
-- extension's configuration, dumped with the database
CREATE DATABASE regress_upgrade_05;
\c regress_upgrade_05
CREATE EXTENSION pg_migrate VERSION '0.5';
ALTER EXTENSION pg_migrate UPDATE;
SELECT c::regclass::text AS dumped FROM pg_extension, unnest(extconfig) c
WHERE extname = 'pg_migrate' AND c::regclass::text LIKE 'migrate.test\_database%'
ORDER BY 1;
\c contrib_regression
DROP DATABASE regress_upgrade_05;
