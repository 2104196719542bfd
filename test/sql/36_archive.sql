-- Dropped data is kept (issue 18, section 2): DROP TABLE and ALTER TABLE
-- ... DROP COLUMN in a migration copy their rows and values into the
-- schema migrate_archive first, and the generated down script brings them
-- back; rollback says how much, and drops the archive.  The size limit,
-- the retention and the purge, a table without a key, who may read it.
\! rm -rf @testdir@/archive && mkdir -p @testdir@/archive && cp -R "$PG_ABS_SRCDIR/fixtures/archive/." @testdir@/archive/

SET migrate.lint = off;
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();

-- the archive is the extension's, and nobody else's
SELECT nspname, nspowner = (SELECT relowner FROM pg_class WHERE oid = 'migrate.migrations'::regclass) AS owned_by_extension_owner,
       has_schema_privilege('public', oid, 'USAGE') AS public_usage
FROM pg_namespace WHERE nspname = 'migrate_archive';
SELECT has_table_privilege('public', 'migrate.archive', 'SELECT') AS public_reads_list;

SELECT name, action FROM migrate.apply('@testdir@/archive', target => '0001_create');
-- (the enum as text: the copy must not depend on arch.mood)
CREATE TEMP TABLE saved_orders AS SELECT id, customer, note, mood::text AS mood, amount, created FROM arch.orders;
CREATE TEMP TABLE saved_lines AS SELECT * FROM arch.lines;

-- 0002 drops three columns (text with nulls, an enum, a NOT NULL date
-- with a default) and a table (an identity key, a generated column, an
-- array, a foreign key): all is kept, the down script is not partial
SELECT name, action FROM migrate.apply('@testdir@/archive', target => '0002_drop');
SELECT down_partial, regexp_replace(down_sql, 'migrate_archive\."\d+_', 'migrate_archive."<id>_', 'g') AS down_sql
FROM migrate.migrations WHERE name = '0002_drop';
-- (archive tables are named by their id in migrate.archive, written <id>)
SELECT migration, kind, schema_name, table_name, column_name,
       regexp_replace(archive_name, '^\d+_', '<id>_') AS archive_name, rows,
       bytes > 0 AS has_bytes, archived_by = current_user AS by_caller,
       expires_at - archived_at AS retention, file LIKE '%0002_drop.sql' AS file, line, statement
FROM migrate.archive ORDER BY id;
-- values of types outside pg_catalog are kept as text: the copy does not
-- hold on to arch.mood
SELECT regexp_replace(a.archive_name, '^\d+_', '<id>_') AS archive_name, string_agg(format('%s %s', c.attname, format_type(c.atttypid, c.atttypmod)), ', ' ORDER BY c.attnum) AS columns
FROM migrate.archive a JOIN pg_attribute c ON c.attrelid = ('migrate_archive.' || quote_ident(a.archive_name))::regclass
WHERE c.attnum > 0 GROUP BY a.id, a.archive_name ORDER BY a.id;

-- rollback brings every row and value back, and says how much
SELECT name, action FROM migrate.rollback();
SELECT (SELECT count(*) FROM arch.orders) AS orders,
       (SELECT count(*) FROM (SELECT id, customer, note, mood::text, amount, created FROM arch.orders
                              EXCEPT SELECT id, customer, note, mood, amount, created FROM saved_orders) d) AS orders_differ,
       (SELECT count(*) FROM arch.lines) AS lines,
       (SELECT count(*) FROM (SELECT id, order_id, qty, doubled, tags FROM arch.lines
                              EXCEPT SELECT id, order_id, qty, doubled, tags FROM saved_lines) d) AS lines_differ;
SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'arch.orders'::regclass AND attname = 'created';
-- the identity and serial columns go on after the restored keys
INSERT INTO arch.lines (order_id, qty) VALUES (3, 1) RETURNING id, doubled;
INSERT INTO arch.orders (customer) VALUES ('dee') RETURNING id, amount, created;
DELETE FROM arch.lines WHERE id = 5;
DELETE FROM arch.orders WHERE id = 4;
-- the archive is gone with the rollback
SELECT count(*) AS archived FROM migrate.archive;
SELECT count(*) AS archive_tables FROM pg_class WHERE relnamespace = 'migrate_archive'::regnamespace;

-- a column of a table without a primary key or unique NOT NULL key
-- cannot be matched back: the generated script is partial, and says why
\! mv @testdir@/archive/0002_drop.sql @testdir@/0002_drop.sql.saved && printf 'ALTER TABLE arch.logbook DROP COLUMN at;\n' > @testdir@/archive/0003_no_key.sql
SELECT name, action FROM migrate.apply('@testdir@/archive');
SELECT down_partial -> 0 ->> 'reason' AS reason FROM migrate.migrations WHERE name = '0003_no_key';
SELECT count(*) AS archived FROM migrate.archive;
SELECT name, action FROM migrate.rollback(skip_partial => true);
\! rm @testdir@/archive/0003_no_key.sql

-- more than migrate.archive_max_size fails the migration, with a hint
\! printf 'DROP TABLE arch.big;\n' > @testdir@/archive/0003_drop_big.sql
SET migrate.archive_max_size = 0;
SELECT name, action FROM migrate.apply('@testdir@/archive');
SELECT to_regclass('arch.big') IS NOT NULL AS big_still_there;
RESET migrate.archive_max_size;
-- keeping nothing is asked for in the migration itself
\! printf 'SET migrate.archive_dropped = off;\nDROP TABLE arch.big;\n' > @testdir@/archive/0003_drop_big.sql
SELECT name, action FROM migrate.apply('@testdir@/archive');
SELECT down_partial -> 0 ->> 'reason' AS reason FROM migrate.migrations WHERE name = '0003_drop_big';
SELECT count(*) AS archived FROM migrate.archive;
SELECT name, action FROM migrate.rollback(skip_partial => true);
-- and migrate.generate_down = off generates nothing, so keeps nothing
\! printf 'DROP TABLE arch.big;\n' > @testdir@/archive/0003_drop_big.sql
SET migrate.generate_down = off;
SELECT name, action FROM migrate.apply('@testdir@/archive');
RESET migrate.generate_down;
SELECT count(*) AS archived FROM migrate.archive;
SELECT name, action FROM migrate.forget('0003_drop_big');
CREATE TABLE arch.big (id int PRIMARY KEY, payload text);
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();

-- the retention ran out: migrate.purge_archive() drops what expired, and
-- the down script no longer restores from it, so rollback refuses rather
-- than bring back an empty table
\! rm @testdir@/archive/0003_drop_big.sql && mv @testdir@/0002_drop.sql.saved @testdir@/archive/0002_drop.sql
SELECT name, action FROM migrate.apply('@testdir@/archive');
UPDATE migrate.archive SET expires_at = now() - interval '1 day' WHERE kind = 'table';
SELECT migration, kind, object, rows FROM migrate.purge_archive();
SELECT kind, column_name FROM migrate.archive ORDER BY id;
SELECT count(*) AS archive_tables FROM pg_class WHERE relnamespace = 'migrate_archive'::regnamespace;
SELECT down_partial, regexp_replace(down_sql, 'migrate_archive\."\d+_', 'migrate_archive."<id>_', 'g') AS down_sql
FROM migrate.migrations WHERE name = '0002_drop';
SELECT name, action FROM migrate.rollback();
-- skip_partial brings back what is still kept: the columns' values, and
-- the table without its rows
SELECT name, action FROM migrate.rollback(skip_partial => true);
SELECT (SELECT count(*) FROM (SELECT id, customer, note, mood::text, amount, created FROM arch.orders
                              EXCEPT SELECT id, customer, note, mood, amount, created FROM saved_orders) d) AS orders_differ,
       (SELECT count(*) FROM arch.lines) AS lines;
-- apply and run drop what expired when they start, and say so
SELECT name, action FROM migrate.apply('@testdir@/archive');
UPDATE migrate.archive SET expires_at = now() - interval '1 day' WHERE column_name = 'note';
SELECT name, action FROM migrate.apply('@testdir@/archive');
SELECT column_name FROM migrate.archive ORDER BY id;
-- purge by name drops a migration's archives whatever their expiry
SELECT migration, kind, object, rows FROM migrate.purge_archive('0002_drop');
SELECT count(*) AS archived FROM migrate.archive;
SELECT jsonb_array_length(down_partial) AS not_undone FROM migrate.migrations WHERE name = '0002_drop';
SELECT name, action FROM migrate.forget('0002_drop');
SET client_min_messages = warning;
SELECT name, action FROM migrate.rollback('0001_create');
RESET client_min_messages;

-- run() keeps what its migrations drop too, and so does the background
-- worker that runs a no-transaction one; run_rollback() brings it back
\! mkdir -p @testdir@/archive_nt && printf 'CREATE TABLE nt_t (id int PRIMARY KEY, v text);\nINSERT INTO nt_t VALUES (1, \047one\047), (2, \047two\047);\n' > @testdir@/archive_nt/0001_create.sql && printf 'DROP TABLE nt_t;\n' > @testdir@/archive_nt/0001_create.down.sql
\! printf -- '-- migrate:no-transaction\nDROP TABLE nt_t;\n' > @testdir@/archive_nt/0002_drop.sql
CALL migrate.run('@testdir@/archive_nt');
SELECT migration, kind, table_name, rows FROM migrate.archive;
SELECT down_partial FROM migrate.migrations WHERE name = '0002_drop';
CALL migrate.run_rollback();
SELECT * FROM nt_t ORDER BY id;
CALL migrate.run_rollback();
SELECT count(*) AS archived FROM migrate.archive;

-- a deploy role's archive: owned by the extension's owner, readable by the
-- role that dropped the data (its down script reads it), and by no other
CREATE ROLE regress_archive_deployer;
CREATE ROLE regress_archive_other;
GRANT CREATE ON SCHEMA public TO regress_archive_deployer;
GRANT USAGE ON SCHEMA migrate TO regress_archive_deployer;
GRANT EXECUTE ON FUNCTION migrate.apply(text, text, boolean, text, boolean) TO regress_archive_deployer;
GRANT EXECUTE ON FUNCTION migrate.rollback(text, boolean) TO regress_archive_deployer;
GRANT pg_read_server_files TO regress_archive_deployer;
\! mkdir -p @testdir@/archive_role && printf 'CREATE TABLE deploy_t (id int PRIMARY KEY, v text);\n' > @testdir@/archive_role/0001_create.sql && printf 'DROP TABLE deploy_t;\n' > @testdir@/archive_role/0001_create.down.sql
\! printf 'DROP TABLE deploy_t;\n' > @testdir@/archive_role/0002_drop.sql
SET ROLE regress_archive_deployer;
SELECT name, action FROM migrate.apply('@testdir@/archive_role', target => '0001_create');
INSERT INTO deploy_t VALUES (1, 'kept'), (2, NULL);
SELECT name, action FROM migrate.apply('@testdir@/archive_role');
RESET ROLE;
SELECT a.archived_by, c.relowner::regrole = (SELECT relowner FROM pg_class WHERE oid = 'migrate.migrations'::regclass) AS owned_by_extension_owner,
       has_table_privilege('regress_archive_deployer', c.oid, 'SELECT') AS deployer_reads,
       has_table_privilege('regress_archive_deployer', c.oid, 'INSERT') AS deployer_writes,
       has_table_privilege('regress_archive_other', c.oid, 'SELECT') AS other_reads,
       has_schema_privilege('regress_archive_other', 'migrate_archive', 'USAGE') AS other_usage
FROM migrate.archive a JOIN pg_class c ON c.relname = a.archive_name AND c.relnamespace = 'migrate_archive'::regnamespace;
SET ROLE regress_archive_deployer;
SELECT name, action FROM migrate.rollback();
SELECT * FROM deploy_t ORDER BY id;
SELECT name, action FROM migrate.rollback();
RESET ROLE;
SELECT count(*) AS archived FROM migrate.archive;
REVOKE ALL ON SCHEMA public FROM regress_archive_deployer;
REVOKE ALL ON SCHEMA migrate FROM regress_archive_deployer;
REVOKE ALL ON SCHEMA migrate_archive FROM regress_archive_deployer;
REVOKE ALL ON FUNCTION migrate.apply(text, text, boolean, text, boolean) FROM regress_archive_deployer;
REVOKE ALL ON FUNCTION migrate.rollback(text, boolean) FROM regress_archive_deployer;
DROP ROLE regress_archive_deployer;
DROP ROLE regress_archive_other;
RESET migrate.lint;
