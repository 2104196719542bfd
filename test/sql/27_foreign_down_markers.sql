-- A file written for another migration tool holds its down section in the
-- same file, below a marker comment that pg_migrate would read as a mere
-- comment: run as plain, the down section would run right after the up
-- section, and the column the migration adds would be gone. Such a file is
-- read in its tool's format where pg_migrate has one (goose), and every
-- path refuses it otherwise, naming the file, the line and the tool.
\! rm -rf @testdir@/foreign && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/foreign" @testdir@/foreign
CREATE TABLE fm_users (id int);
-- What the tests before did by hand, and this table, are drift: start the
-- fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
SELECT coalesce(max(id), 0) AS start FROM migrate.migrations \gset
\set VERBOSITY default

-- goose: the folder is detected as goose's and read by goose's rules
-- (51_goose tests them): its down sections do not run, the columns its
-- migrations add are there
SET migrate.lint = off;
CALL migrate.run('@testdir@/foreign/goose');
\echo :LAST_ERROR_SQLSTATE
SELECT attname FROM pg_attribute
WHERE attrelid = 'fm_users'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
-- naming the format plain does not make its down section an up one
CALL migrate.run('@testdir@/foreign/goose', format => 'plain');
SELECT * FROM migrate.apply('@testdir@/foreign/goose', format => 'golang-migrate');
SELECT name, action FROM migrate.rollback('00001_add_email');
RESET migrate.lint;
DROP TABLE goose_db_version;
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
-- sql-migrate: the folder is detected as that tool's, which pg_migrate
-- does not read; every function that reads it refuses it
SELECT * FROM migrate.apply('@testdir@/foreign/sql_migrate');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM migrate.status('@testdir@/foreign/sql_migrate');
SELECT migrate.check('@testdir@/foreign/sql_migrate');
SELECT count(*) FROM migrate.plan('@testdir@/foreign/sql_migrate');
SELECT count(*) FROM migrate.lint('@testdir@/foreign/sql_migrate');
-- sent as data; annotations are case-insensitive
SELECT name, state FROM migrate.status('{
  "00001_add_email.sql": "-- +goose up\nALTER TABLE fm_users ADD COLUMN email text;\n-- +goose down\nALTER TABLE fm_users DROP COLUMN email;\n"
}'::jsonb);
-- a plain folder whose second file is goose's
CALL migrate.run('{
  "0001_name.sql": "ALTER TABLE fm_users ADD COLUMN name text;\n",
  "0002_email.sql": "ALTER TABLE fm_users ADD COLUMN email text;\n\n  -- +goose Down\nALTER TABLE fm_users DROP COLUMN email;\n"
}'::jsonb);

-- a marker is a comment line wherever it stands, also inside a statement
SELECT * FROM migrate.status('{
  "0001_t.sql": "CREATE TABLE fm_t (\n  a int\n-- +goose Down\n);\n"
}'::jsonb, format => 'plain');
-- a goose file without a down section is plain SQL when the format is named
SELECT name, state FROM migrate.status('{
  "00001_add_email.sql": "-- +goose Up\nALTER TABLE fm_users ADD COLUMN email text;\n"
}'::jsonb, format => 'plain');

-- node-pg-migrate's SQL migrations are read in its format
-- (55_node_pg_migrate): the down section is never part of the up one
CALL migrate.run('@testdir@/foreign/node_pg_migrate');
SELECT attname FROM pg_attribute
WHERE attrelid = 'fm_users'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SELECT name FROM migrate.rollback('1700000000000_add-email');
DROP TABLE public.pgmigrations;
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
-- and refused in another format, with the format to use
SELECT * FROM migrate.apply('{
  "1700000000000_add-email.sql": "ALTER TABLE fm_users ADD COLUMN email text;\n--- down migration\nALTER TABLE fm_users DROP COLUMN email;\n"
}'::jsonb, format => 'plain');

-- dbmate's sections in a folder that is not read as dbmate's
CALL migrate.run('@testdir@/foreign/dbmate_in_plain');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM migrate.status('@testdir@/foreign/dbmate_in_plain', format => 'plain');

-- the other tools that keep a down section in the migration's file
CALL migrate.run('@testdir@/foreign/sql_migrate');
SELECT * FROM migrate.status('@testdir@/foreign/liquibase');
SELECT * FROM migrate.status('@testdir@/foreign/play');
SELECT * FROM migrate.status('@testdir@/foreign/mybatis');
SELECT * FROM migrate.status('@testdir@/foreign/tern');
SELECT * FROM migrate.status('@testdir@/foreign/shmig');
SELECT * FROM migrate.status('@testdir@/foreign/micrate');
SELECT * FROM migrate.lint('@testdir@/foreign/micrate', format => 'plain');

-- nothing of any of them ran
SELECT attname FROM pg_attribute
WHERE attrelid = 'fm_users'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SELECT name FROM migrate.migrations WHERE id > :start ORDER BY id;

-- markers inside a string, a quoted name or a function body are text
CALL migrate.run('@testdir@/foreign/in_literals');
SELECT fm_note_count();
SELECT name, state FROM migrate.status('@testdir@/foreign/in_literals');
SELECT name FROM migrate.rollback('0001_markers_as_text');

-- In the plain format "<name>_down.sql" is the down script of
-- "<name>.sql": apply and run say so when they apply the pair (it may be
-- meant as a migration of its own, "0002_slow_down"); status, called often,
-- does not; ".down.sql" says it itself.
SELECT name, action FROM migrate.apply('{
  "0001_fm_a.sql": "CREATE TABLE fm_a ();\n",
  "0001_fm_a.down.sql": "DROP TABLE fm_a;\n",
  "0002_fm_b.sql": "CREATE TABLE fm_b ();\n",
  "0002_fm_b_down.sql": "DROP TABLE fm_b;\n"
}'::jsonb);
SELECT name, state FROM migrate.status('{
  "0001_fm_a.sql": "CREATE TABLE fm_a ();\n",
  "0001_fm_a.down.sql": "DROP TABLE fm_a;\n",
  "0002_fm_b.sql": "CREATE TABLE fm_b ();\n",
  "0002_fm_b_down.sql": "DROP TABLE fm_b;\n"
}'::jsonb);
SELECT name FROM migrate.rollback('0001_fm_a');
SELECT to_regclass('fm_b') IS NULL AS fm_b_dropped;

DROP TABLE fm_users;
