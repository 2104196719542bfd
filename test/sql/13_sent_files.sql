-- A folder sent as data (files jsonb: relative path -> text) runs through
-- the same runner as a folder on the server's disk, and needs no right to
-- read server files.
CREATE ROLE regress_sender;
GRANT CREATE ON SCHEMA public TO regress_sender;
-- What the tests before did by hand, and this GRANT, are drift: start the
-- fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
GRANT USAGE ON SCHEMA migrate TO regress_sender;
GRANT EXECUTE ON FUNCTION migrate.apply(jsonb, text, boolean, text, text, boolean),
                          migrate.apply(text, text, boolean, text, boolean),
                          migrate.status(jsonb, text, text),
                          migrate.rollback(text, boolean) TO regress_sender;
GRANT EXECUTE ON PROCEDURE migrate.run(jsonb, text, boolean, text, text, boolean) TO regress_sender;

-- not superuser, not in pg_read_server_files, and the folder form is refused
SET ROLE regress_sender;
SELECT rolsuper, pg_has_role('pg_read_server_files', 'member') AS reads_files
FROM pg_roles WHERE rolname = current_user;
SELECT * FROM migrate.apply('/tmp');

-- the same migrations sent as data
SELECT name, state FROM migrate.status('{
  "0001_users.sql": "CREATE TABLE sent_users (id int PRIMARY KEY);\n",
  "0001_users.down.sql": "DROP TABLE sent_users;\n",
  "0002_seed.sql": "INSERT INTO sent_users VALUES (1), (2);\n",
  "0002_seed.down.sql": "DELETE FROM sent_users;\n",
  "README.md": "not a migration",
  "notes/0003_elsewhere.sql": "files in subfolders are not migrations"
}'::jsonb, source => 'client:ci-runner:/app/db/migrations');
SELECT name, action FROM migrate.apply('{
  "0001_users.sql": "CREATE TABLE sent_users (id int PRIMARY KEY);\n",
  "0001_users.down.sql": "DROP TABLE sent_users;\n",
  "0002_seed.sql": "INSERT INTO sent_users VALUES (1), (2);\n",
  "0002_seed.down.sql": "DELETE FROM sent_users;\n"
}'::jsonb, source => 'client:ci-runner:/app/db/migrations');
SELECT count(*) FROM sent_users;
-- a source that reads as a server folder's path is refused
SELECT name, state FROM migrate.status('{"0001_users.sql": "SELECT 1;\n"}'::jsonb,
                                       source => '/app/db/migrations');
RESET ROLE;
SELECT name, source, applied_by FROM migrate.migrations
WHERE name IN ('0001_users', '0002_seed') ORDER BY id;

-- run, with a no-transaction migration in the background worker
SET ROLE regress_sender;
CALL migrate.run('{
  "0001_users.sql": "CREATE TABLE sent_users (id int PRIMARY KEY);\n",
  "0001_users.down.sql": "DROP TABLE sent_users;\n",
  "0002_seed.sql": "INSERT INTO sent_users VALUES (1), (2);\n",
  "0002_seed.down.sql": "DELETE FROM sent_users;\n",
  "0003_index.sql": "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY sent_users_idx ON sent_users (id);\n",
  "0003_index.down.sql": "DROP INDEX sent_users_idx;\n"
}'::jsonb);
SELECT indisvalid FROM pg_index WHERE indexrelid = 'sent_users_idx'::regclass;
SELECT name, action FROM migrate.rollback('0001_users');
-- errors name the file and line, as for a folder on disk
SELECT * FROM migrate.apply('{"0001_bad.sql": "SELECT 1;\n\nCREATE TABEL t (id int);\n"}'::jsonb);
RESET ROLE;

-- migrate.allowed_directories confines server folders, not data
SET migrate.allowed_directories = '/nonexistent';
SELECT name, state FROM migrate.status('{"0001_x.sql": "SELECT 1;"}'::jsonb);
RESET migrate.allowed_directories;

-- a drizzle folder, journal included, as the pg_migrate command sends it
SELECT name, state FROM migrate.status(jsonb_build_object(
  'meta/_journal.json', '{"version": "7", "dialect": "postgresql", "entries": [{"idx": 0, "version": "7", "when": 1700000000000, "tag": "0000_first", "breakpoints": true}]}',
  '0000_first.sql', 'CREATE TABLE sent_first (id int);'));

-- bad data is refused before anything runs
SELECT * FROM migrate.apply('["0001_x.sql"]'::jsonb);
SELECT * FROM migrate.apply('{"0001_x.sql": 1}'::jsonb);
SELECT * FROM migrate.apply('{"/etc/0001_x.sql": "SELECT 1;"}'::jsonb);
SELECT * FROM migrate.apply('{"../0001_x.sql": "SELECT 1;"}'::jsonb);
SELECT * FROM migrate.apply('{"meta/../0001_x.sql": "SELECT 1;"}'::jsonb);
SELECT * FROM migrate.apply('{"./0001_x.sql": "SELECT 1;"}'::jsonb);
SELECT * FROM migrate.apply('{"meta//x.json": "{}"}'::jsonb);
SELECT * FROM migrate.apply('{"": "SELECT 1;"}'::jsonb);
SELECT * FROM migrate.apply(NULL::jsonb);
-- text with a NUL, or not valid in the database encoding, is not even jsonb
SELECT '{"0001_x.sql": "SELECT 1;\u0000"}'::jsonb;
SELECT * FROM migrate.apply('{}'::jsonb);

REVOKE ALL ON SCHEMA public FROM regress_sender;
DROP OWNED BY regress_sender;
DROP ROLE regress_sender;
