-- goose folders: "<version>_<name>.sql" with "-- +goose Up" and
-- "-- +goose Down" sections, and goose's own table, goose_db_version,
-- adopted and kept in step.
SET migrate.generate_down = off;
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/goose && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/goose" @testdir@/goose

-- First of all: a goose file's down section never runs as part of its up
-- migration.  The folder is detected as goose's by its annotations, each
-- file split at "-- +goose Down": the column 00002 adds is there after it.
SELECT name, state FROM migrate.status('@testdir@/goose');
SELECT name, action FROM migrate.apply('@testdir@/goose');
\d goose_users
INSERT INTO goose_users (name, email) VALUES ('ADA', 'ada@example.com') RETURNING name, email;
-- what is stored: the up section as up_sql, the down section as down_sql
SELECT name, format, up_sql, down_sql FROM migrate.migrations WHERE format = 'goose' ORDER BY id;

-- goose's table, created as goose creates it (with its own row of version
-- 0), and a row (version, true) per migration applied
SELECT version_id, is_applied, tstamp IS NOT NULL AS stamped FROM goose_db_version ORDER BY id;
\d goose_db_version

-- "-- +goose NO TRANSACTION": apply refuses the file, run runs it outside
-- a transaction
\! printf -- '-- +goose NO TRANSACTION\n\n-- +goose Up\nCREATE INDEX CONCURRENTLY goose_users_email_idx ON goose_users (email);\n\n-- +goose Down\nDROP INDEX goose_users_email_idx;\n' > @testdir@/goose/00004_email_index.sql
SELECT name, action FROM migrate.apply('@testdir@/goose');
CALL migrate.run('@testdir@/goose');
SELECT name, transaction_mode FROM migrate.migrations WHERE format = 'goose' ORDER BY id;

-- NO TRANSACTION covers the down section too, as goose runs it: stored
-- with pg_migrate's directive, for run_rollback (rollback runs it in its
-- own transaction, where this plain DROP INDEX can run)
SELECT down_sql FROM migrate.migrations WHERE name = '00004_email_index';
-- rollback runs the down sections, newest first, and deletes the
-- versions' rows, as goose's "down" does
SELECT name, action FROM migrate.rollback('00003_touch_function');
SELECT version_id, is_applied FROM goose_db_version ORDER BY id;
\d goose_users

-- a changed up section is drift; a changed down section is not
\! sed -i 's/DROP TABLE goose_users;/DROP TABLE goose_users CASCADE;/' @testdir@/goose/00001_create_users.sql
SELECT name, state FROM migrate.status('@testdir@/goose');
\! sed -i 's/name text NOT NULL/name text/' @testdir@/goose/00001_create_users.sql
SELECT name, state FROM migrate.status('@testdir@/goose');
\! cp "$PG_ABS_SRCDIR/fixtures/goose/00001_create_users.sql" @testdir@/goose/

-- Adopting what goose applied: its table written as goose writes it.  The
-- latest row of a version decides: version 3 was applied, then rolled back
-- by an older goose, which logged (3, false); version 0 is goose's own.
DELETE FROM migrate.migrations WHERE format = 'goose';
DROP TABLE goose_db_version;
CREATE TABLE goose_db_version (id serial NOT NULL, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NULL DEFAULT now(), PRIMARY KEY (id));
INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (3, true), (3, false);
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
SELECT name, state FROM migrate.status('@testdir@/goose');
CALL migrate.run('@testdir@/goose');
SELECT name, action FROM migrate.history WHERE action IN ('adopt', 'apply') AND name LIKE '0000%' ORDER BY id DESC LIMIT 4;
SELECT version_id, is_applied FROM goose_db_version ORDER BY id;

-- The files of other tools: with format => 'plain', a goose file is
-- refused, as it would run its down section
\! rm -rf @testdir@/goose_errors && cp -R "$PG_ABS_SRCDIR/fixtures/goose_errors" @testdir@/goose_errors
SELECT * FROM migrate.status('@testdir@/goose', format => 'plain');

-- bad input, each naming the file (and line)
-- a Go migration, which only a program built with goose can run
\! printf 'package migrations\n' > @testdir@/goose_errors/00002_backfill.go
SELECT * FROM migrate.status('@testdir@/goose_errors');
\! rm @testdir@/goose_errors/00002_backfill.go
-- a .sql file goose cannot read a version from
\! printf -- '-- +goose Up\nSELECT 1;\n' > @testdir@/goose_errors/seed.sql
SELECT * FROM migrate.status('@testdir@/goose_errors');
\! rm @testdir@/goose_errors/seed.sql
\! printf -- '-- +goose Up\nSELECT 1;\n' > @testdir@/goose_errors/0_zero.sql
SELECT * FROM migrate.status('@testdir@/goose_errors');
\! rm @testdir@/goose_errors/0_zero.sql
-- SQL above the up section; no up section; down before up; ENVSUB
\! printf -- '-- a comment\nCREATE TABLE ge_early (id int);\n-- +goose Up\nSELECT 1;\n' > @testdir@/goose_errors/00002_early.sql
SELECT * FROM migrate.status('@testdir@/goose_errors');
\! printf -- 'CREATE TABLE ge_noup (id int);\n' > @testdir@/goose_errors/00002_early.sql
SELECT * FROM migrate.status('@testdir@/goose_errors', format => 'goose');
\! printf -- '-- +goose Down\nDROP TABLE ge_x;\n-- +goose Up\nCREATE TABLE ge_x (id int);\n' > @testdir@/goose_errors/00002_early.sql
SELECT * FROM migrate.status('@testdir@/goose_errors');
\! printf -- '-- +goose Up\n-- +goose ENVSUB ON\nCREATE TABLE ${TABLE_NAME} (id int);\n' > @testdir@/goose_errors/00002_early.sql
SELECT * FROM migrate.status('@testdir@/goose_errors');
\! rm @testdir@/goose_errors/00002_early.sql
SELECT to_regclass('ge_ok') AS ge_ok;

-- clean up
SELECT name, action FROM migrate.rollback('00001_create_users');
SELECT version_id, is_applied FROM goose_db_version ORDER BY id;
DROP TABLE goose_db_version;
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
