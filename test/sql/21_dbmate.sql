-- dbmate folders: "-- migrate:up" and "-- migrate:down" sections in one file.
-- only written down scripts here: generated ones are 35_generated_down's
SET migrate.generate_down = off;
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/dbmate @testdir@/dbmate_notx && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/dbmate" "$PG_ABS_SRCDIR/fixtures/dbmate_notx" @testdir@/

SELECT name, state FROM migrate.status('@testdir@/dbmate');
SELECT name, action FROM migrate.apply('@testdir@/dbmate');
SELECT email, name FROM accounts ORDER BY id;
-- the up section is what is stored and checksummed; an empty down section is no down script
SELECT name, up_sql, down_sql IS NULL AS no_down FROM migrate.migrations ORDER BY id;
SELECT name, action FROM migrate.apply('@testdir@/dbmate');

-- the seed has no down section, so rolling back past it is refused
SELECT name, action FROM migrate.rollback('20240102093000_add_accounts_name');
DELETE FROM accounts WHERE email = 'grace@example.com';
DELETE FROM migrate.migrations WHERE name = '20240103000000_seed_only';
\! rm @testdir@/dbmate/20240103000000_seed_only.sql
SELECT name, action FROM migrate.rollback('20240102093000_add_accounts_name');
SELECT name, state FROM migrate.status('@testdir@/dbmate');

-- errors point at the line within the file, not within the section
\! printf -- '-- migrate:up\nALTER TABLE accounts\n  ADD COLUMN age int;\nUPDATE accounts SET age = nosuch;\n\n-- migrate:down\nSELECT 1;\n' > @testdir@/dbmate/20240105000000_bad_line.sql
SELECT name, action FROM migrate.apply('@testdir@/dbmate');
\! rm @testdir@/dbmate/20240105000000_bad_line.sql

-- a changed up section is modified; a changed down section is not drift
\! sed -i 's/DROP TABLE accounts;/DROP TABLE accounts CASCADE;/' @testdir@/dbmate/20240101120000_create_accounts.sql
SELECT name, state FROM migrate.status('@testdir@/dbmate');
\! sed -i 's/email text NOT NULL/email text/' @testdir@/dbmate/20240101120000_create_accounts.sql
SELECT name, state FROM migrate.status('@testdir@/dbmate');
SELECT name, action FROM migrate.rollback('20240101120000_create_accounts');

-- "-- migrate:up transaction:false": apply refuses, run runs it outside a transaction
SELECT name, action FROM migrate.apply('@testdir@/dbmate_notx');
CALL migrate.run('@testdir@/dbmate_notx');
SELECT name, transaction_mode FROM migrate.migrations ORDER BY id;
SELECT indexrelid::regclass, indisvalid FROM pg_index WHERE indrelid = 'accounts'::regclass AND NOT indisprimary;

-- bad input: a file without "-- migrate:up"; two files with one version
\! rm -rf @testdir@/format_errors && cp -R "$PG_ABS_SRCDIR/fixtures/format_errors" @testdir@/format_errors
SELECT * FROM migrate.apply('@testdir@/format_errors/dbmate_noup');
SELECT * FROM migrate.apply('@testdir@/format_errors/dbmate_dup');
SELECT to_regclass('db_ok') AS db_ok, to_regclass('db_a') AS db_a;

-- rollback runs down scripts in one transaction, where CONCURRENTLY cannot run
SELECT name, action FROM migrate.rollback('20240104000000_accounts_email_idx');

-- clean up
DROP INDEX accounts_email_idx;
DELETE FROM migrate.migrations WHERE name = '20240104000000_accounts_email_idx';
SELECT name, action FROM migrate.rollback('20240101120000_create_accounts');
-- dbmate's table, created before the first migration as dbmate does
-- (the row of the migration deleted by hand above stays)
SELECT count(*) AS dbmate_rows FROM schema_migrations;
DROP TABLE schema_migrations;

-- A row in dbmate's table counts only while no role but the table's owner
-- (and the roles with its privileges) may write the table: PostgreSQL does
-- not record who wrote a row, and a role allowed only to INSERT there must
-- not make pg_migrate skip a migration
\! mkdir -p @testdir@/dbmate_guarded
\! printf -- '-- migrate:up\nCREATE TABLE dbmate_guarded (id int);\n' > @testdir@/dbmate_guarded/20240301000000_guarded.sql
CREATE ROLE regress_dbmate_owner;
CREATE ROLE regress_dbmate_writer;
CREATE TABLE public.schema_migrations (version varchar(128) PRIMARY KEY);
ALTER TABLE public.schema_migrations OWNER TO regress_dbmate_owner;
GRANT INSERT ON public.schema_migrations TO regress_dbmate_writer;
SET ROLE regress_dbmate_writer;
INSERT INTO public.schema_migrations VALUES ('20240301000000');
RESET ROLE;
SELECT name, state FROM migrate.status('@testdir@/dbmate_guarded');
SELECT name, action FROM migrate.apply('@testdir@/dbmate_guarded');
-- a grant to PUBLIC, on a column, counts too
REVOKE INSERT ON public.schema_migrations FROM regress_dbmate_writer;
GRANT UPDATE (version) ON public.schema_migrations TO PUBLIC;
SELECT name, state FROM migrate.status('@testdir@/dbmate_guarded');
REVOKE UPDATE (version) ON public.schema_migrations FROM PUBLIC;
-- a member of the owner role writes as the owner would
GRANT regress_dbmate_owner TO regress_dbmate_writer;
SELECT name, action FROM migrate.apply('@testdir@/dbmate_guarded');
SELECT to_regclass('dbmate_guarded') IS NULL AS not_run;
DELETE FROM migrate.migrations WHERE name = '20240301000000_guarded';
DROP TABLE public.schema_migrations;
DROP ROLE regress_dbmate_owner, regress_dbmate_writer;
