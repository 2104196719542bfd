-- A down script runs as the role that applied its migration, never with
-- more privilege than that role had, whoever calls rollback; history says
-- who called and as whom the script ran.
\! rm -rf @testdir@/roles && mkdir -p @testdir@/roles/owned @testdir@/roles/gone
\! printf 'CREATE TABLE roles_owned (id int);\n' > @testdir@/roles/owned/0001_owned.sql
\! printf 'CREATE TABLE roles_marker AS SELECT current_user AS ran_as, session_user AS called_by;\nDROP TABLE roles_owned;\n' > @testdir@/roles/owned/0001_owned.down.sql
\! printf 'SELECT 1;\n' > @testdir@/roles/gone/0001_gone.sql
\! printf 'SELECT 1;\n' > @testdir@/roles/gone/0001_gone.down.sql

CREATE ROLE regress_roles_deployer;
CREATE ROLE regress_roles_other;
GRANT CREATE ON SCHEMA public TO regress_roles_deployer;
GRANT USAGE ON SCHEMA migrate TO regress_roles_deployer, regress_roles_other;
GRANT EXECUTE ON FUNCTION migrate.apply(text, text, boolean, text, boolean),
                          migrate.rollback(text, boolean)
    TO regress_roles_deployer, regress_roles_other;
GRANT pg_read_server_files TO regress_roles_deployer;

-- the deploy role applies the migration
SET ROLE regress_roles_deployer;
SELECT name, action FROM migrate.apply('@testdir@/roles/owned');
RESET ROLE;
SELECT applied_by FROM migrate.migrations WHERE name = '0001_owned';

-- a session of another role may not roll it back: the down script would
-- run as the deploy role, which that session cannot become
SET SESSION AUTHORIZATION regress_roles_other;
SELECT name, action FROM migrate.rollback('0001_owned');
RESET SESSION AUTHORIZATION;
SELECT count(*) AS still_applied FROM migrate.migrations WHERE name = '0001_owned';

-- the superuser may, and the down script runs as the deploy role
SELECT name, action FROM migrate.rollback('0001_owned');
SELECT ran_as, called_by = current_user AS called_by_me FROM roles_marker;
SELECT pg_get_userbyid(relowner) AS marker_owner FROM pg_class WHERE relname = 'roles_marker';
SELECT action, name, performed_by = current_user AS by_me, performed_as
FROM migrate.history WHERE name = '0001_owned' ORDER BY id;
DROP TABLE roles_marker;

-- a migration whose role no longer exists is not rolled back by anyone
CREATE ROLE regress_roles_gone;
GRANT USAGE ON SCHEMA migrate TO regress_roles_gone;
GRANT EXECUTE ON FUNCTION migrate.apply(text, text, boolean, text, boolean) TO regress_roles_gone;
GRANT pg_read_server_files TO regress_roles_gone;
SET ROLE regress_roles_gone;
SELECT name, action FROM migrate.apply('@testdir@/roles/gone');
RESET ROLE;
DROP OWNED BY regress_roles_gone;
DROP ROLE regress_roles_gone;
SELECT name, action FROM migrate.rollback('0001_gone');
CREATE ROLE regress_roles_gone;
SELECT name, action FROM migrate.rollback('0001_gone');

DROP ROLE regress_roles_gone;

-- A down script cannot leave the role it runs as: whoever rolls it back,
-- RESET ROLE, SET [LOCAL] ROLE, SET SESSION AUTHORIZATION and set_config()
-- are refused, also from a DO block or a function, and nothing is undone.
-- Each migration is added to the folder, applied by the deploy role, and
-- its rollback by the superuser fails.
CREATE ROLE regress_roles_admin SUPERUSER;
\! mkdir -p @testdir@/roles/escape
\! printf 'CREATE FUNCTION roles_escape() RETURNS void LANGUAGE plpgsql AS $f$BEGIN EXECUTE %s; END$f$;\n' "'SET ROLE regress_roles_admin'" > @testdir@/roles/escape/0001_reset.sql
\! printf 'SELECT 1;\nRESET ROLE;\nALTER ROLE regress_roles_deployer SUPERUSER;\n' > @testdir@/roles/escape/0001_reset.down.sql
SET ROLE regress_roles_deployer;
SELECT name, action FROM migrate.apply('@testdir@/roles/escape');
RESET ROLE;
SELECT name, action FROM migrate.rollback('0001_reset');
\! printf 'SELECT 2;\n' > @testdir@/roles/escape/0002_set.sql
\! printf 'SET ROLE regress_roles_admin;\nALTER ROLE regress_roles_deployer SUPERUSER;\n' > @testdir@/roles/escape/0002_set.down.sql
\! printf 'SELECT 3;\n' > @testdir@/roles/escape/0003_local.sql
\! printf 'SET LOCAL ROLE regress_roles_admin;\nALTER ROLE regress_roles_deployer SUPERUSER;\n' > @testdir@/roles/escape/0003_local.down.sql
\! printf 'SELECT 4;\n' > @testdir@/roles/escape/0004_session.sql
\! printf 'SET SESSION AUTHORIZATION regress_roles_admin;\nALTER ROLE regress_roles_deployer SUPERUSER;\n' > @testdir@/roles/escape/0004_session.down.sql
\! printf 'SELECT 5;\n' > @testdir@/roles/escape/0005_set_config.sql
\! printf 'SELECT set_config(%s, %s, false);\nALTER ROLE regress_roles_deployer SUPERUSER;\n' "'role'" "'regress_roles_admin'" > @testdir@/roles/escape/0005_set_config.down.sql
\! printf 'SELECT 6;\n' > @testdir@/roles/escape/0006_do.sql
\! printf 'DO $$BEGIN\n  EXECUTE %s;\n  ALTER ROLE regress_roles_deployer SUPERUSER;\nEND$$;\n' "'RESET ROLE'" > @testdir@/roles/escape/0006_do.down.sql
\! printf 'SELECT 7;\n' > @testdir@/roles/escape/0007_function.sql
\! printf 'SELECT roles_escape();\nALTER ROLE regress_roles_deployer SUPERUSER;\n' > @testdir@/roles/escape/0007_function.down.sql
SET ROLE regress_roles_deployer;
SELECT name, action FROM migrate.apply('@testdir@/roles/escape');
RESET ROLE;
SELECT name, action FROM migrate.rollback('0007_function');
DELETE FROM migrate.migrations WHERE name = '0007_function';
SELECT name, action FROM migrate.rollback('0006_do');
DELETE FROM migrate.migrations WHERE name = '0006_do';
SELECT name, action FROM migrate.rollback('0005_set_config');
DELETE FROM migrate.migrations WHERE name = '0005_set_config';
SELECT name, action FROM migrate.rollback('0004_session');
DELETE FROM migrate.migrations WHERE name = '0004_session';
SELECT name, action FROM migrate.rollback('0003_local');
DELETE FROM migrate.migrations WHERE name = '0003_local';
SELECT name, action FROM migrate.rollback('0002_set');
SELECT rolsuper AS deployer_is_superuser FROM pg_roles WHERE rolname = 'regress_roles_deployer';
SELECT count(*) AS still_applied FROM migrate.migrations WHERE name LIKE '000%' AND source LIKE '%escape';
DELETE FROM migrate.migrations WHERE source LIKE '%/roles/escape';
DELETE FROM migrate.history WHERE source LIKE '%/roles/escape';
DROP FUNCTION roles_escape();
DROP ROLE regress_roles_admin;
-- Whoever replaces a stored down script with migrate.accept() must be able
-- to act as the role it will run as: the deploy role cannot plant a down
-- script in a migration the superuser applied, which a rollback by the
-- superuser would run as the superuser.
\! mkdir -p @testdir@/roles/accept
\! printf 'CREATE TABLE roles_accept_super (id int);\n' > @testdir@/roles/accept/0001_super.sql
\! printf 'DROP TABLE roles_accept_super;\n' > @testdir@/roles/accept/0001_super.down.sql
CREATE ROLE regress_roles_root SUPERUSER;
SET ROLE regress_roles_root;
SELECT name, action FROM migrate.apply('@testdir@/roles/accept');
RESET ROLE;
GRANT EXECUTE ON FUNCTION migrate.accept(text, text, text) TO regress_roles_deployer;
\! printf 'ALTER ROLE regress_roles_deployer SUPERUSER;\nDROP TABLE roles_accept_super;\n' > @testdir@/roles/accept/0001_super.down.sql
SET ROLE regress_roles_deployer;
SELECT name, action FROM migrate.accept('@testdir@/roles/accept', '0001_super');
RESET ROLE;
SELECT down_sql FROM migrate.migrations WHERE name = '0001_super';
-- its own migration, the deploy role may accept; and the superuser may
-- accept the deploy role's
\! printf 'CREATE TABLE roles_accept_own (id int);\n' > @testdir@/roles/accept/0002_own.sql
SET ROLE regress_roles_deployer;
SELECT name, action FROM migrate.apply('@testdir@/roles/accept');
\! printf 'DROP TABLE roles_accept_own;\n' > @testdir@/roles/accept/0002_own.down.sql
SELECT name, action FROM migrate.accept('@testdir@/roles/accept', '0002_own');
RESET ROLE;
\! printf 'DROP TABLE roles_accept_own; -- reviewed\n' > @testdir@/roles/accept/0002_own.down.sql
SELECT name, action FROM migrate.accept('@testdir@/roles/accept', '0002_own');
SELECT action, name, performed_by = current_user AS by_me FROM migrate.history
WHERE source LIKE '%/roles/accept' ORDER BY id;
DELETE FROM migrate.migrations WHERE source LIKE '%/roles/accept';
DELETE FROM migrate.history WHERE source LIKE '%/roles/accept';
DROP TABLE roles_accept_super, roles_accept_own;
DROP ROLE regress_roles_root;

REVOKE ALL ON SCHEMA public FROM regress_roles_deployer;
DROP OWNED BY regress_roles_deployer, regress_roles_other;
DROP ROLE regress_roles_deployer, regress_roles_other;
