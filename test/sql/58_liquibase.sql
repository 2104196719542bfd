-- Liquibase formatted SQL changelogs: changesets as migrations, their
-- attributes (runInTransaction, endDelimiter, dbms, runOnChange),
-- "--rollback" lines as down scripts, and DATABASECHANGELOG adopted.
SET migrate.generate_down = off;
SET migrate.lock_timeout = '5s';
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/liquibase && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/liquibase" @testdir@/liquibase
\set VERBOSITY default

-- every changeset of the changelogs, in name order then changelog order;
-- bob:4 is for other databases (dbms:h2,oracle); the runOnChange one is
-- repeatable, after the others
SELECT name, state FROM migrate.status('@testdir@/liquibase');
-- bob:3 runs outside a transaction (runInTransaction:false)
SELECT name, action FROM migrate.apply('@testdir@/liquibase');
CALL migrate.run('@testdir@/liquibase');
SELECT name, version, transaction_mode, repeatable FROM migrate.migrations WHERE format = 'liquibase' ORDER BY id;
-- the changeset's SQL without its rollback and comment lines, at its lines;
-- the rollback lines as down script
SELECT up_sql, down_sql FROM migrate.migrations WHERE name = '001-schema.sql::2::alice';
SELECT up_sql, down_sql FROM migrate.migrations WHERE name = '001-schema.sql::5::bob';
SELECT lb_count(), (SELECT count(*) FROM lb_names) AS names;
-- "--rollback not required": a rollback that does nothing
SELECT down_sql FROM migrate.migrations WHERE name = '002-data.sql::comment::carol';

-- a changed runOnChange changeset runs again; another changed one is modified
\! sed -i 's/SELECT name FROM lb_accounts/SELECT name, email FROM lb_accounts/' @testdir@/liquibase/002-data.sql
SELECT name, state FROM migrate.status('@testdir@/liquibase') WHERE name LIKE '002%';
SELECT name, action FROM migrate.apply('@testdir@/liquibase');
\! sed -i 's/--rollback DROP TABLE lb_accounts;/--rollback DROP TABLE lb_accounts CASCADE;/' @testdir@/liquibase/001-schema.sql
SELECT name, state FROM migrate.status('@testdir@/liquibase') WHERE name LIKE '001%';
\! sed -i 's/email text NOT NULL/email text/' @testdir@/liquibase/001-schema.sql
SELECT name, state FROM migrate.status('@testdir@/liquibase') WHERE name LIKE '001%';
\! cp "$PG_ABS_SRCDIR/fixtures/liquibase/001-schema.sql" @testdir@/liquibase/

-- a rollback that fails fails the rollback
\! printf -- '--liquibase formatted sql\n--changeset dave:1\nCREATE TABLE lb_tmp ();\n--rollback DROP TABLE nosuch_lb;\n' > @testdir@/liquibase/003-tmp.sql
SELECT name, action FROM migrate.apply('@testdir@/liquibase');
SELECT name, action FROM migrate.rollback('003-tmp.sql::1::dave');
\! rm @testdir@/liquibase/003-tmp.sql
DROP TABLE lb_tmp;
SELECT name FROM migrate.forget('003-tmp.sql::1::dave');

SELECT name, action FROM migrate.rollback('001-schema.sql::5::bob');
SELECT to_regproc('lb_count') IS NULL AS function_dropped, count(*) AS accounts FROM lb_accounts;
-- a repeatable changeset (runOnChange) is left alone by rollback, as in Flyway
DROP VIEW lb_names;
SELECT name FROM migrate.forget('002-data.sql::view::carol');
SELECT name, action FROM migrate.rollback('001-schema.sql::1::alice');
SELECT to_regclass('lb_accounts') IS NULL AS all_rolled_back;

-- Adopted: a database Liquibase migrated, its table as Liquibase creates
-- it on PostgreSQL and its rows as it writes them (given the changelog as
-- db/changelog/001-schema.sql)
CREATE TABLE public.databasechangelog (ID VARCHAR(255) NOT NULL, AUTHOR VARCHAR(255) NOT NULL, FILENAME VARCHAR(255) NOT NULL, DATEEXECUTED TIMESTAMP WITHOUT TIME ZONE NOT NULL, ORDEREXECUTED INTEGER NOT NULL, EXECTYPE VARCHAR(10) NOT NULL, MD5SUM VARCHAR(35), DESCRIPTION VARCHAR(255), COMMENTS VARCHAR(255), TAG VARCHAR(255), LIQUIBASE VARCHAR(20), CONTEXTS VARCHAR(255), LABELS VARCHAR(255), DEPLOYMENT_ID VARCHAR(10));
CREATE TABLE lb_accounts (id int PRIMARY KEY, email text NOT NULL);
INSERT INTO public.databasechangelog (ID, AUTHOR, FILENAME, DATEEXECUTED, ORDEREXECUTED, MD5SUM, DESCRIPTION, COMMENTS, EXECTYPE, CONTEXTS, LABELS, LIQUIBASE, DEPLOYMENT_ID)
VALUES ('1', 'alice', 'db/changelog/001-schema.sql', NOW(), 1, '9:4bcb3c1d7a0e4b5e2b6c1f8a2d7e3c90', 'sql', 'creates the accounts table', 'EXECUTED', NULL, NULL, '4.29.2', '3214567890'),
       -- another file's changeset of the same id and author is not this one
       ('2', 'alice', 'db/changelog/other.sql', NOW(), 2, '9:0000', 'sql', '', 'EXECUTED', NULL, NULL, '4.29.2', '3214567890'),
       -- nor one that failed and was skipped
       ('2', 'alice', 'db/changelog/001-schema.sql', NOW(), 3, '9:1111', 'sql', '', 'FAILED', NULL, NULL, '4.29.2', '3214567890');
SELECT name, state FROM migrate.status('@testdir@/liquibase') WHERE name LIKE '001%';
SELECT name, action FROM migrate.apply('@testdir@/liquibase', target => '001-schema.sql::2::alice');
-- pg_migrate only reads it
SELECT id, author, exectype FROM public.databasechangelog ORDER BY orderexecuted;
SELECT * FROM migrate.drift();
SELECT name, action FROM migrate.rollback('001-schema.sql::1::alice');
DROP TABLE public.databasechangelog;
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();

-- Refused, naming the file and line: an XML master changelog, a
-- precondition, runAlways, a property, a malformed changeset line, a
-- changeset twice; in another format, the header names the format to use
SELECT * FROM migrate.status('{"db.changelog-master.xml": "<databaseChangeLog><includeAll path=\"changes/\"/></databaseChangeLog>\n"}'::jsonb);
SELECT * FROM migrate.status('{"a.sql": "--liquibase formatted sql\n--changeset a:1\n--preconditions onFail:MARK_RAN\n--precondition-sql-check expectedResult:0 SELECT 1\nSELECT 1;\n"}'::jsonb);
SELECT * FROM migrate.status('{"a.sql": "--liquibase formatted sql\n--changeset a:1 runAlways:true\nSELECT 1;\n"}'::jsonb);
SELECT * FROM migrate.status('{"a.sql": "--liquibase formatted sql\n--property name:table value:t\n--changeset a:1\nSELECT 1;\n"}'::jsonb);
SELECT * FROM migrate.status('{"a.sql": "--liquibase formatted sql\n--changeset a: 1\nSELECT 1;\n"}'::jsonb);
SELECT * FROM migrate.status('{"a.sql": "--liquibase formatted sql\n--changeset a:1\nSELECT 1;\n--changeset a:1\nSELECT 2;\n"}'::jsonb);
SELECT * FROM migrate.status('{"0001_a.sql": "--liquibase formatted sql\n--changeset a:1\nSELECT 1;\n--rollback SELECT 2;\n"}'::jsonb, format => 'plain');
-- a changeset whose rollback names another changeset
-- a rollback naming another changeset: a broken down script, which does
-- not block up (as in every format), and refuses the rollback
SELECT name, action FROM migrate.apply('{"a.sql": "--liquibase formatted sql\n--changeset a:1\nCREATE TABLE lb_x ();\n--rollback changesetId:2 changesetAuthor:a\n"}'::jsonb);
SELECT name FROM migrate.forget('a.sql::1::a');
DROP TABLE lb_x;
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();

-- A .sql file without the header is raw SQL to Liquibase, which its
-- includeAll runs whole as one changeset "raw" of author "includeAll"
-- (AB2D's changelogs mix both, test/fixtures/real/liquibase-ab2d): a
-- migration in its place in name order, never left out
SELECT name, state FROM migrate.status('{"001-a.sql": "--liquibase formatted sql\n--changeset a:1\nCREATE TABLE lb_raw_a (id int);\n--rollback DROP TABLE lb_raw_a;\n", "002-raw.sql": "CREATE TABLE lb_raw_b (id int);\nCREATE INDEX lb_raw_b_id ON lb_raw_b (id);\n", "003-b.sql": "--liquibase formatted sql\n--changeset b:1\nALTER TABLE lb_raw_b ADD COLUMN note text;\n"}'::jsonb);
BEGIN;
SELECT name, action FROM migrate.apply('{"001-a.sql": "--liquibase formatted sql\n--changeset a:1\nCREATE TABLE lb_raw_a (id int);\n--rollback DROP TABLE lb_raw_a;\n", "002-raw.sql": "CREATE TABLE lb_raw_b (id int);\nCREATE INDEX lb_raw_b_id ON lb_raw_b (id);\n", "003-b.sql": "--liquibase formatted sql\n--changeset b:1\nALTER TABLE lb_raw_b ADD COLUMN note text;\n"}'::jsonb);
SELECT to_regclass('lb_raw_b_id') IS NOT NULL AS raw_file_ran,
       (SELECT count(*) FROM pg_attribute WHERE attrelid = 'lb_raw_b'::regclass AND attname = 'note') AS later_changeset_ran;
ROLLBACK;
-- an empty one does not apply, as in Liquibase
SELECT name, action FROM migrate.apply('{"001-a.sql": "--liquibase formatted sql\n--changeset a:1\nSELECT 1;\n", "002-empty.sql": ""}'::jsonb);
SELECT count(*) AS recorded FROM migrate.migrations WHERE name LIKE '00_-%.sql::%';
