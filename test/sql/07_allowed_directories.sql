-- migrate.allowed_directories: a superuser can confine migration folders;
-- what is checked is the folder or file opened, links followed, so none
-- leads out.  (Roles, connection options, long link chains and races are
-- in test/t/009_allowed_directories.pl.)
\! rm -rf /tmp/pg_migrate_regress/allowed && mkdir -p /tmp/pg_migrate_regress/allowed/inside /tmp/pg_migrate_regress/allowed/outside
\! printf 'CREATE TABLE allowed_t (id int);\n' > /tmp/pg_migrate_regress/allowed/inside/0001_t.sql
\! printf 'DROP TABLE allowed_t;\n' > /tmp/pg_migrate_regress/allowed/inside/0001_t.down.sql
\! printf 'CREATE TABLE outside_t (id int);\n' > /tmp/pg_migrate_regress/allowed/outside/0001_out.sql
\! ln -s /tmp/pg_migrate_regress/allowed/outside /tmp/pg_migrate_regress/allowed/inside_link
\! ln -s /tmp/pg_migrate_regress/allowed/outside/0001_out.sql /tmp/pg_migrate_regress/allowed/inside/0002_linked.sql

-- only superusers may set it (once the module is loaded; a value set before
-- that which the role may not set leaves the session reading no folder)
SELECT count(*) >= 0 AS loaded FROM migrate.status();
CREATE ROLE regress_not_super;
SET ROLE regress_not_super;
SET migrate.allowed_directories = '/';
RESET ROLE;
DROP ROLE regress_not_super;

SET migrate.allowed_directories = '/tmp/pg_migrate_regress/allowed/inside';
SHOW migrate.allowed_directories;

-- a folder outside, and a link that leads outside, are refused
SELECT * FROM migrate.status('/tmp/pg_migrate_regress/allowed/outside');
SELECT * FROM migrate.status('/tmp/pg_migrate_regress/allowed/inside/../outside');
SELECT * FROM migrate.status('/tmp/pg_migrate_regress/allowed/inside_link');

-- a file inside that links outside is refused too
SELECT * FROM migrate.apply('/tmp/pg_migrate_regress/allowed/inside');
\! rm /tmp/pg_migrate_regress/allowed/inside/0002_linked.sql
-- a link that stays inside is fine
\! ln -s /tmp/pg_migrate_regress/allowed/inside/0001_t.sql /tmp/pg_migrate_regress/allowed/inside/0001_t_again.sql
SELECT name, state FROM migrate.status('/tmp/pg_migrate_regress/allowed/inside');
\! rm /tmp/pg_migrate_regress/allowed/inside/0001_t_again.sql
SELECT name, action FROM migrate.apply('/tmp/pg_migrate_regress/allowed/inside');

-- several folders, comma-separated; a prefix of a name is not a parent;
-- a folder that does not exist, or a relative path, allows nothing
SET migrate.allowed_directories = '/tmp/pg_migrate_regress/allowed/ins, /tmp/pg_migrate_regress/allowed/outside';
SELECT count(*) FROM migrate.status('/tmp/pg_migrate_regress/allowed/outside');
SELECT count(*) FROM migrate.status('/tmp/pg_migrate_regress/allowed/inside');
SET migrate.allowed_directories = '/tmp/pg_migrate_regress/allowed/missing, inside';
SELECT count(*) FROM migrate.status('/tmp/pg_migrate_regress/allowed/inside');
-- "/" allows every folder
SET migrate.allowed_directories = '/';
SELECT count(*) FROM migrate.status('/tmp/pg_migrate_regress/allowed/outside');

RESET migrate.allowed_directories;
SELECT name, action FROM migrate.rollback('0001_t');

-- Errors about a folder name its files, and count them, only for a role
-- that could list the folder anyway: a superuser, or one allowed to run
-- pg_ls_dir().  pg_read_server_files alone reads files, it does not list.
\! mkdir -p /tmp/pg_migrate_regress/allowed/listing/none /tmp/pg_migrate_regress/allowed/listing/mixed
\! printf 'x\n' > /tmp/pg_migrate_regress/allowed/listing/none/private_notes.txt
\! printf 'SELECT 1;\n' > /tmp/pg_migrate_regress/allowed/listing/mixed/V1__flyway.sql
\! printf 'SELECT 1;\n' > /tmp/pg_migrate_regress/allowed/listing/mixed/0002_plain.sql
CREATE ROLE regress_reader IN ROLE pg_read_server_files;
GRANT USAGE ON SCHEMA migrate TO regress_reader;
GRANT EXECUTE ON FUNCTION migrate.status(text, text) TO regress_reader;
SET ROLE regress_reader;
SELECT * FROM migrate.status('/tmp/pg_migrate_regress/allowed/listing/none');
SELECT * FROM migrate.status('/tmp/pg_migrate_regress/allowed/listing/mixed');
SELECT * FROM pg_ls_dir('/tmp/pg_migrate_regress/allowed/listing/none');
RESET ROLE;
GRANT EXECUTE ON FUNCTION pg_ls_dir(text) TO regress_reader;
SET ROLE regress_reader;
SELECT * FROM pg_ls_dir('/tmp/pg_migrate_regress/allowed/listing/none');
SELECT * FROM migrate.status('/tmp/pg_migrate_regress/allowed/listing/none');
SELECT * FROM migrate.status('/tmp/pg_migrate_regress/allowed/listing/mixed');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION pg_ls_dir(text) FROM regress_reader;
DROP OWNED BY regress_reader;
DROP ROLE regress_reader;
