-- Atlas migration directories: files in name order, atlas.sum verified as
-- Atlas verifies it, "-- atlas:txmode none", and atlas_schema_revisions
-- adopted and kept in step.
SET migrate.generate_down = off;
SET migrate.lock_timeout = '5s';
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/atlas && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/atlas" @testdir@/atlas
\set VERBOSITY default

SELECT name, state FROM migrate.status('@testdir@/atlas');
-- "-- atlas:txmode none" runs outside a transaction: apply refuses, run runs it
SELECT name, action FROM migrate.apply('@testdir@/atlas');
CALL migrate.run('@testdir@/atlas');
SELECT name, version, format, transaction_mode, down_sql IS NULL AS no_down
FROM migrate.migrations WHERE format = 'atlas' ORDER BY id;
SELECT indexrelid::regclass, indisvalid FROM pg_index WHERE indrelid = 'atlas_accounts'::regclass AND NOT indisprimary;

-- A folder that does not match its atlas.sum is refused, as Atlas refuses
-- it, naming the file: an edited file
\! printf -- '-- edited\n' >> @testdir@/atlas/20240102120000_accounts_name.sql
SELECT name, state FROM migrate.status('@testdir@/atlas');
\! cp "$PG_ABS_SRCDIR/fixtures/atlas/20240102120000_accounts_name.sql" @testdir@/atlas/
-- a file added without "atlas migrate hash"
\! printf -- 'CREATE TABLE atlas_extra ();\n' > @testdir@/atlas/20240104120000_extra.sql
SELECT name, action FROM migrate.apply('@testdir@/atlas');
SELECT to_regclass('atlas_extra') IS NULL AS not_run;
\! rm @testdir@/atlas/20240104120000_extra.sql
-- a file removed; a file added before the others
\! mv @testdir@/atlas/20240101120000_create_accounts.sql @testdir@/atlas_moved.sql
SELECT name, state FROM migrate.status('@testdir@/atlas');
\! mv @testdir@/atlas_moved.sql @testdir@/atlas/20240101120000_create_accounts.sql
\! printf -- 'SELECT 1;\n' > @testdir@/atlas/20240101000000_early.sql
SELECT name, state FROM migrate.status('@testdir@/atlas');
\! rm @testdir@/atlas/20240101000000_early.sql
-- atlas.sum's own first line no longer matching its lines; no atlas.sum
\! sed -i '1s/.*/h1:AAAA/' @testdir@/atlas/atlas.sum
SELECT name, state FROM migrate.status('@testdir@/atlas');
\! rm @testdir@/atlas/atlas.sum
SELECT name, state FROM migrate.status('@testdir@/atlas', format => 'atlas');
-- without atlas.sum, the folder is no Atlas folder
SELECT name, state FROM migrate.status('@testdir@/atlas');
\! cp "$PG_ABS_SRCDIR/fixtures/atlas/atlas.sum" @testdir@/atlas/
SELECT name, state FROM migrate.status('@testdir@/atlas');

-- atlas.sum with CRLF line ends (checked out on Windows) is the same sum
\! sed -i 's/$/\r/' @testdir@/atlas/atlas.sum
SELECT count(*) AS migrations FROM migrate.status('@testdir@/atlas');
\! cp "$PG_ABS_SRCDIR/fixtures/atlas/atlas.sum" @testdir@/atlas/

-- rollback: Atlas has no down files
SELECT name, action FROM migrate.rollback('20240103120000_email_index');
DROP INDEX atlas_accounts_email;
SELECT name FROM migrate.forget('20240103120000_email_index');
SELECT name FROM migrate.forget('20240102120000_accounts_name');
SELECT name FROM migrate.forget('20240101120000_create_accounts');
DROP TABLE atlas_accounts;

-- Adopted: a database Atlas migrated, its table and rows written as
-- Atlas writes them (ent's schema; Executor.writeRevision)
CREATE SCHEMA "atlas_schema_revisions";
CREATE TABLE "atlas_schema_revisions"."atlas_schema_revisions" (
  "version" character varying NOT NULL, "description" character varying NOT NULL,
  "type" bigint NOT NULL DEFAULT 2, "applied" bigint NOT NULL DEFAULT 0,
  "total" bigint NOT NULL DEFAULT 0, "executed_at" timestamptz NOT NULL,
  "execution_time" bigint NOT NULL, "error" text NULL, "error_stmt" text NULL,
  "hash" character varying NOT NULL, "partial_hashes" jsonb NULL,
  "operator_version" character varying NOT NULL, PRIMARY KEY ("version"));
CREATE TABLE "public"."atlas_accounts" ("id" integer NOT NULL, "email" text NOT NULL, PRIMARY KEY ("id"));
INSERT INTO atlas_schema_revisions.atlas_schema_revisions
  (version, description, type, applied, total, executed_at, execution_time, hash, operator_version)
VALUES ('20240101120000', 'create_accounts', 2, 1, 1, now(), 5512000, '4rMsCSK79LD2U818QwzK1iLk8zfnqa8xkrtBqQJ4HxA=', 'Atlas CLI v0.28.1');
SELECT name, state FROM migrate.status('@testdir@/atlas');
-- (a down script generated as it runs, to roll it back below)
SET migrate.generate_down = on;
SELECT name, action FROM migrate.apply('@testdir@/atlas', target => '20240102120000_accounts_name');
SET migrate.generate_down = off;
-- the row pg_migrate writes is the one Atlas would
SELECT version, description, type, applied, total, execution_time >= 0 AS timed, hash,
       hash = (regexp_match(pg_read_file('@testdir@/atlas/atlas.sum'), version || '_\S+ h1:(\S+)'))[1] AS hash_in_sum,
       operator_version, error IS NULL AS no_error
FROM atlas_schema_revisions.atlas_schema_revisions ORDER BY version;
SELECT * FROM migrate.drift();
-- rollback deletes it, as "atlas migrate down" does
SELECT name, action FROM migrate.rollback('20240102120000_accounts_name');
SELECT version FROM atlas_schema_revisions.atlas_schema_revisions ORDER BY version;

-- the last revision ran part of its statements: refused until resolved
INSERT INTO atlas_schema_revisions.atlas_schema_revisions
  (version, description, type, applied, total, executed_at, execution_time, error, error_stmt, hash, operator_version)
VALUES ('20240102120000', 'accounts_name', 2, 0, 1, now(), 1000, 'pq: column "name" already exists', 'ALTER TABLE ...', 'bvO9XLsXfMy95eqkzkQUhgvdfQSD/I20DmSDjUFBNFg=', 'Atlas CLI v0.28.1');
SELECT name, state FROM migrate.status('@testdir@/atlas');
SELECT name, action FROM migrate.apply('@testdir@/atlas');
DELETE FROM atlas_schema_revisions.atlas_schema_revisions WHERE version = '20240102120000';
SELECT name, state FROM migrate.status('@testdir@/atlas');
SELECT name FROM migrate.forget('20240101120000_create_accounts');
DROP TABLE atlas_accounts;
DROP SCHEMA atlas_schema_revisions CASCADE;
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();

-- refused: checkpoint files, another delimiter, files whose name order is
-- not their version order, a file without a version, txmode all
\! rm -rf @testdir@/format_errors && cp -R "$PG_ABS_SRCDIR/fixtures/format_errors" @testdir@/format_errors
SELECT * FROM migrate.status('@testdir@/format_errors/atlas_checkpoint');
SELECT * FROM migrate.status('@testdir@/format_errors/atlas_delimiter');
SELECT * FROM migrate.status('@testdir@/format_errors/atlas_order');
SELECT * FROM migrate.status('@testdir@/format_errors/atlas_version');
SELECT * FROM migrate.apply('@testdir@/format_errors/atlas_txmode');
-- a capture cannot write into an Atlas folder (atlas.sum would not match)
CREATE TABLE atlas_out_of_band ();
SELECT * FROM migrate.capture((SELECT jsonb_object_agg(f, pg_read_file('@testdir@/atlas/' || f))
                               FROM pg_ls_dir('@testdir@/atlas') f), 'more');
DROP TABLE atlas_out_of_band;
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
