-- Rows changed by UPDATE and DELETE are kept when the migration asks for
-- it with "-- migrate:keep-rows" (issue 18, section 2): the table's rows
-- are copied into the archive before the statement, pruned to those it
-- changed after, and the generated down script puts them back by the
-- table's key.  Without the directive, without a key, over the size
-- limit, or with a written down script, nothing is kept.
\! rm -rf @testdir@/keep_rows && mkdir -p @testdir@/keep_rows && cp -R "$PG_ABS_SRCDIR/fixtures/keep_rows/." @testdir@/keep_rows/ && mkdir -p @testdir@/keep_rows_later && mv @testdir@/keep_rows/0003_no_directive.sql @testdir@/keep_rows/0004_no_key.sql @testdir@/keep_rows/0005_written.sql @testdir@/keep_rows/0005_written.down.sql @testdir@/keep_rows_later/

SET migrate.lint = off;
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();

SELECT name, action FROM migrate.apply('@testdir@/keep_rows', target => '0001_create');
CREATE TEMP TABLE saved_items AS SELECT id, name, price, mood::text AS mood, meta::text AS meta, doubled FROM kr.items;
CREATE TEMP TABLE saved_codes AS SELECT * FROM kr.codes;

-- more than migrate.archive_max_size fails the migration, with a hint,
-- and changes nothing
SET migrate.archive_max_size = 0;
SELECT name, action FROM migrate.apply('@testdir@/keep_rows');
RESET migrate.archive_max_size;
SELECT count(*) AS archived FROM migrate.archive;
SELECT count(*) AS items_differ FROM (SELECT id, name, price, mood::text, meta::text, doubled FROM kr.items
                                      EXCEPT SELECT * FROM saved_items) d;

-- UPDATE and DELETE under the directive: each keeps the rows it changes,
-- and the generated script is not partial
SELECT name, action FROM migrate.apply('@testdir@/keep_rows');
SELECT down_partial, regexp_replace(down_sql, 'migrate_archive\."\d+_', 'migrate_archive."<id>_', 'g') AS down_sql
FROM migrate.migrations WHERE name = '0002_change';
SELECT migration, kind, schema_name, table_name, column_name,
       regexp_replace(archive_name, '^\d+_', '<id>_') AS archive_name, rows, line, statement
FROM migrate.archive ORDER BY id;
SELECT id, name, price, mood, meta, doubled FROM kr.items ORDER BY id;
SELECT * FROM kr.codes ORDER BY code;

-- rollback puts every row and value back, and says how many rows
SELECT name, action FROM migrate.rollback();
SELECT (SELECT count(*) FROM kr.items) AS items,
       (SELECT count(*) FROM (SELECT id, name, price, mood::text, meta::text, doubled FROM kr.items
                              EXCEPT SELECT * FROM saved_items) d) AS items_differ,
       (SELECT count(*) FROM kr.codes) AS codes,
       (SELECT count(*) FROM (SELECT * FROM kr.codes EXCEPT SELECT * FROM saved_codes) d) AS codes_differ;
SELECT count(*) AS archived FROM migrate.archive;
SELECT count(*) AS archive_tables FROM pg_class WHERE relnamespace = 'migrate_archive'::regnamespace;
-- the identity column goes on after the restored keys
INSERT INTO kr.items (name) VALUES ('new') RETURNING id;
DELETE FROM kr.items WHERE name = 'new';

-- without the directive nothing is kept: the script is partial, as before
\! mv @testdir@/keep_rows/0002_change.sql @testdir@/keep_rows_later/ && mv @testdir@/keep_rows_later/0003_no_directive.sql @testdir@/keep_rows/
SELECT name, action FROM migrate.apply('@testdir@/keep_rows');
SELECT jsonb_path_query_array(down_partial, '$[*].reason') AS reasons FROM migrate.migrations WHERE name = '0003_no_directive';
SELECT count(*) AS archived FROM migrate.archive;
SELECT name, action FROM migrate.rollback(skip_partial => true);
TRUNCATE kr.codes;
INSERT INTO kr.codes SELECT * FROM saved_codes;

-- a table without a key cannot have its rows matched back, nor can rows
-- whose key the UPDATE changes, nor the rows of tables that inherit from
-- the one named without ONLY: partial, saying why; the UPDATE ONLY of
-- the parent is kept
\! mv @testdir@/keep_rows/0003_no_directive.sql @testdir@/keep_rows_later/ && mv @testdir@/keep_rows_later/0004_no_key.sql @testdir@/keep_rows/
SELECT name, action FROM migrate.apply('@testdir@/keep_rows');
SELECT jsonb_path_query(down_partial, '$[*].reason') AS reasons FROM migrate.migrations WHERE name = '0004_no_key';
SELECT count(*) AS archived FROM migrate.archive;
SELECT name, action FROM migrate.rollback(skip_partial => true);
SELECT tableoid::regclass AS "table", * FROM kr.parent ORDER BY id;
TRUNCATE kr.codes;
INSERT INTO kr.codes SELECT * FROM saved_codes;

-- a written down script wins: the directive keeps nothing
\! mv @testdir@/keep_rows/0004_no_key.sql @testdir@/keep_rows_later/ && mv @testdir@/keep_rows_later/0005_written.sql @testdir@/keep_rows_later/0005_written.down.sql @testdir@/keep_rows/
SELECT name, action FROM migrate.apply('@testdir@/keep_rows');
SELECT down_generated, down_partial FROM migrate.migrations WHERE name = '0005_written';
SELECT count(*) AS archived FROM migrate.archive;
SELECT name, action FROM migrate.rollback();
SELECT * FROM kr.codes ORDER BY code;

SET client_min_messages = warning;
SELECT name, action FROM migrate.rollback('0001_create');
RESET client_min_messages;

-- the background worker that runs a no-transaction migration keeps the
-- rows too, and run_rollback() puts them back; what the ON DELETE
-- actions of other tables' foreign keys did is not kept (partial)
\! mkdir -p @testdir@/keep_rows_nt && printf 'CREATE TABLE nt_parent (id int PRIMARY KEY, v text);\nINSERT INTO nt_parent VALUES (1, \047one\047), (2, \047two\047), (3, \047three\047);\n' > @testdir@/keep_rows_nt/0001_create.sql && printf 'DROP TABLE nt_parent;\n' > @testdir@/keep_rows_nt/0001_create.down.sql
\! printf -- '-- migrate:no-transaction\n-- migrate:keep-rows\nUPDATE nt_parent SET v = upper(v) WHERE id > 1;\nDELETE FROM nt_parent WHERE id = 3;\n' > @testdir@/keep_rows_nt/0002_change.sql
\! printf -- '-- migrate:keep-rows\nCREATE TABLE nt_child (id int PRIMARY KEY, parent int REFERENCES nt_parent ON DELETE CASCADE);\nINSERT INTO nt_child VALUES (10, 1);\nDELETE FROM nt_parent WHERE id = 1;\n' > @testdir@/keep_rows_nt/0003_cascade.sql
CALL migrate.run('@testdir@/keep_rows_nt', target => '0002_change');
SELECT migration, kind, table_name, rows, line FROM migrate.archive ORDER BY id;
SELECT down_partial FROM migrate.migrations WHERE name = '0002_change';
SELECT * FROM nt_parent ORDER BY id;
CALL migrate.run_rollback();
SELECT * FROM nt_parent ORDER BY id;
\! rm @testdir@/keep_rows_nt/0002_change.sql
SELECT name, action FROM migrate.apply('@testdir@/keep_rows_nt');
SELECT jsonb_path_query_array(down_partial, '$[*].reason') AS reasons FROM migrate.migrations WHERE name = '0003_cascade';
SELECT name, action FROM migrate.rollback(skip_partial => true);
SELECT * FROM nt_parent ORDER BY id;
SET client_min_messages = warning;
SELECT name, action FROM migrate.rollback('0001_create');
RESET client_min_messages;
SELECT count(*) AS archived FROM migrate.archive;

-- the role running the migration is granted SELECT on the copy, which
-- holds the whole table: a role that may not read all of it keeps nothing
CREATE ROLE regress_keep_writer;
GRANT CREATE ON SCHEMA public TO regress_keep_writer;
GRANT USAGE ON SCHEMA migrate TO regress_keep_writer;
GRANT EXECUTE ON FUNCTION migrate.apply(text, text, boolean, text, boolean) TO regress_keep_writer;
GRANT EXECUTE ON FUNCTION migrate.rollback(text, boolean) TO regress_keep_writer;
GRANT pg_read_server_files TO regress_keep_writer;
CREATE TABLE keep_secret (id int PRIMARY KEY, secret text, n int);
INSERT INTO keep_secret VALUES (1, 'hidden', 1);
GRANT SELECT (id, n), UPDATE ON keep_secret TO regress_keep_writer;
\! mkdir -p @testdir@/keep_rows_role && printf -- '-- migrate:keep-rows\nUPDATE keep_secret SET n = n + 1;\n' > @testdir@/keep_rows_role/0001_bump.sql
SET ROLE regress_keep_writer;
SELECT name, action FROM migrate.apply('@testdir@/keep_rows_role');
RESET ROLE;
SELECT jsonb_path_query(down_partial, '$[*].reason') AS reasons FROM migrate.migrations WHERE name = '0001_bump';
SELECT count(*) AS archived FROM migrate.archive;
SET ROLE regress_keep_writer;
SELECT name, action FROM migrate.rollback(skip_partial => true);
RESET ROLE;
-- with SELECT on the whole table, its rows are kept, and its rollback
-- puts them back
GRANT SELECT ON keep_secret TO regress_keep_writer;
SET ROLE regress_keep_writer;
SELECT name, action FROM migrate.apply('@testdir@/keep_rows_role');
RESET ROLE;
SELECT archived_by, rows FROM migrate.archive;
SET ROLE regress_keep_writer;
SELECT name, action FROM migrate.rollback();
RESET ROLE;
-- (n is 2: the first bump, not kept, was not undone)
SELECT * FROM keep_secret;
DROP TABLE keep_secret;
REVOKE ALL ON SCHEMA public FROM regress_keep_writer;
REVOKE ALL ON SCHEMA migrate FROM regress_keep_writer;
REVOKE ALL ON SCHEMA migrate_archive FROM regress_keep_writer;
REVOKE ALL ON FUNCTION migrate.apply(text, text, boolean, text, boolean) FROM regress_keep_writer;
REVOKE ALL ON FUNCTION migrate.rollback(text, boolean) FROM regress_keep_writer;
REVOKE pg_read_server_files FROM regress_keep_writer;
DROP ROLE regress_keep_writer;
RESET migrate.lint;
