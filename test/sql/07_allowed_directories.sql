-- migrate.allowed_directories: a superuser can confine migration folders;
-- what is checked is the folder or file opened, links followed, so none
-- leads out.  (Roles, connection options, long link chains and races are
-- in test/t/009_allowed_directories.pl.)
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/allowed && mkdir -p @testdir@/allowed/inside @testdir@/allowed/outside
\! printf 'CREATE TABLE allowed_t (id int);\n' > @testdir@/allowed/inside/0001_t.sql
\! printf 'DROP TABLE allowed_t;\n' > @testdir@/allowed/inside/0001_t.down.sql
\! printf 'CREATE TABLE outside_t (id int);\n' > @testdir@/allowed/outside/0001_out.sql
\! ln -s @testdir@/allowed/outside @testdir@/allowed/inside_link
\! ln -s @testdir@/allowed/outside/0001_out.sql @testdir@/allowed/inside/0002_linked.sql

-- only superusers may set it (once the module is loaded; a value set before
-- that which the role may not set leaves the session reading no folder)
SELECT count(*) >= 0 AS loaded FROM migrate.status();
CREATE ROLE regress_not_super;
SET ROLE regress_not_super;
SET migrate.allowed_directories = '/';
RESET ROLE;
DROP ROLE regress_not_super;

SET migrate.allowed_directories = '@testdir@/allowed/inside';
SELECT current_setting('migrate.allowed_directories') = '@testdir@/allowed/inside' AS set;

-- a folder outside, and a link that leads outside, are refused
SELECT * FROM migrate.status('@testdir@/allowed/outside');
SELECT * FROM migrate.status('@testdir@/allowed/inside/../outside');
SELECT * FROM migrate.status('@testdir@/allowed/inside_link');

-- a file inside that links outside is refused too
SELECT * FROM migrate.apply('@testdir@/allowed/inside');
\! rm @testdir@/allowed/inside/0002_linked.sql
-- a link that stays inside is fine
\! ln -s @testdir@/allowed/inside/0001_t.sql @testdir@/allowed/inside/0001_t_again.sql
SELECT name, state FROM migrate.status('@testdir@/allowed/inside');
\! rm @testdir@/allowed/inside/0001_t_again.sql
SELECT name, action FROM migrate.apply('@testdir@/allowed/inside');

-- several folders, comma-separated; a prefix of a name is not a parent;
-- a folder that does not exist, or a relative path, allows nothing
SET migrate.allowed_directories = '@testdir@/allowed/ins, @testdir@/allowed/outside';
SELECT count(*) FROM migrate.status('@testdir@/allowed/outside');
SELECT count(*) FROM migrate.status('@testdir@/allowed/inside');
SET migrate.allowed_directories = '@testdir@/allowed/missing, inside';
SELECT count(*) FROM migrate.status('@testdir@/allowed/inside');
-- "/" allows every folder
SET migrate.allowed_directories = '/';
SELECT count(*) FROM migrate.status('@testdir@/allowed/outside');

RESET migrate.allowed_directories;
SELECT name, action FROM migrate.rollback('0001_t');

-- Errors about a folder name its files, and count them, only for a role
-- that could list the folder anyway: a superuser, or one allowed to run
-- pg_ls_dir().  pg_read_server_files alone reads files, it does not list.
\! mkdir -p @testdir@/allowed/listing/none @testdir@/allowed/listing/mixed
\! printf 'x\n' > @testdir@/allowed/listing/none/private_notes.txt
\! printf 'SELECT 1;\n' > @testdir@/allowed/listing/mixed/V1__flyway.sql
\! printf 'SELECT 1;\n' > @testdir@/allowed/listing/mixed/0002_plain.sql
CREATE ROLE regress_reader IN ROLE pg_read_server_files;
GRANT USAGE ON SCHEMA migrate TO regress_reader;
GRANT EXECUTE ON FUNCTION migrate.status(text, text) TO regress_reader;
SET ROLE regress_reader;
SELECT * FROM migrate.status('@testdir@/allowed/listing/none');
SELECT * FROM migrate.status('@testdir@/allowed/listing/mixed');
SELECT * FROM pg_ls_dir('@testdir@/allowed/listing/none');
RESET ROLE;
GRANT EXECUTE ON FUNCTION pg_ls_dir(text) TO regress_reader;
SET ROLE regress_reader;
SELECT * FROM pg_ls_dir('@testdir@/allowed/listing/none');
SELECT * FROM migrate.status('@testdir@/allowed/listing/none');
SELECT * FROM migrate.status('@testdir@/allowed/listing/mixed');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION pg_ls_dir(text) FROM regress_reader;
DROP OWNED BY regress_reader;
DROP ROLE regress_reader;
