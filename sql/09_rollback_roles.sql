-- A down script runs as the role that applied its migration, never with
-- more privilege than that role had, whoever calls rollback; history says
-- who called and as whom the script ran.
\! rm -rf /tmp/pg_migrate_regress/roles && mkdir -p /tmp/pg_migrate_regress/roles/owned /tmp/pg_migrate_regress/roles/gone
\! printf 'CREATE TABLE roles_owned (id int);\n' > /tmp/pg_migrate_regress/roles/owned/0001_owned.sql
\! printf 'CREATE TABLE roles_marker AS SELECT current_user AS ran_as, session_user AS called_by;\nDROP TABLE roles_owned;\n' > /tmp/pg_migrate_regress/roles/owned/0001_owned.down.sql
\! printf 'SELECT 1;\n' > /tmp/pg_migrate_regress/roles/gone/0001_gone.sql
\! printf 'SELECT 1;\n' > /tmp/pg_migrate_regress/roles/gone/0001_gone.down.sql

CREATE ROLE regress_roles_deployer;
CREATE ROLE regress_roles_other;
GRANT CREATE ON SCHEMA public TO regress_roles_deployer;
GRANT USAGE ON SCHEMA migrate TO regress_roles_deployer, regress_roles_other;
GRANT EXECUTE ON FUNCTION migrate.apply(text, text, boolean, text, boolean),
                          migrate.rollback(text)
    TO regress_roles_deployer, regress_roles_other;
GRANT pg_read_server_files TO regress_roles_deployer;

-- the deploy role applies the migration
SET ROLE regress_roles_deployer;
SELECT name, action FROM migrate.apply('/tmp/pg_migrate_regress/roles/owned');
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
SELECT name, action FROM migrate.apply('/tmp/pg_migrate_regress/roles/gone');
RESET ROLE;
DROP OWNED BY regress_roles_gone;
DROP ROLE regress_roles_gone;
SELECT name, action FROM migrate.rollback('0001_gone');
CREATE ROLE regress_roles_gone;
SELECT name, action FROM migrate.rollback('0001_gone');

DROP ROLE regress_roles_gone;
REVOKE ALL ON SCHEMA public FROM regress_roles_deployer;
DROP OWNED BY regress_roles_deployer, regress_roles_other;
DROP ROLE regress_roles_deployer, regress_roles_other;
