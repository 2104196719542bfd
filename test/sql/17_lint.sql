-- Lint: findings on pending migrations from their parse trees and the
-- live catalog, nothing executed; apply and run lint first, as
-- migrate.lint says.  Thresholds are set low rather than tables made large.
CREATE TABLE lint_big (id int, email text, name varchar(10), n numeric(10,2), ref int,
                       CONSTRAINT lint_big_ref_nn CHECK (ref IS NOT NULL));
INSERT INTO lint_big SELECT g, 'x', 'n', 1, 1 FROM generate_series(1, 500) g;
CREATE UNIQUE INDEX lint_big_id ON lint_big (id);
CREATE TABLE lint_parent (id int PRIMARY KEY);
INSERT INTO lint_parent VALUES (1);
CREATE TABLE lint_empty (id int);
CREATE TYPE lint_mood AS ENUM ('sad');
CREATE MATERIALIZED VIEW lint_mv AS SELECT id FROM lint_big;
ANALYZE lint_big, lint_parent, lint_mv;
-- What the tests before did by hand, and these tables, are drift: start the
-- fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
SET migrate.lint_large_table_rows = 100;
SET migrate.lock_timeout = '1s';

-- each rule fires
SELECT migration, file, line, rule, severity FROM migrate.lint(jsonb_build_object(
    '0001_index.sql', E'CREATE INDEX lint_big_email ON lint_big (email);\n',
    '0002_primary_key.sql', E'ALTER TABLE lint_big ADD PRIMARY KEY (id);\n',
    '0003_unique.sql', E'ALTER TABLE lint_big ADD UNIQUE (email);\n',
    '0004_refresh.sql', E'REFRESH MATERIALIZED VIEW lint_mv;\n',
    '0005_vacuum_full.sql', E'VACUUM FULL lint_big;\n',
    '0006_cluster.sql', E'CLUSTER lint_big USING lint_big_id;\n',
    '0007_foreign_key.sql', E'ALTER TABLE lint_big\n  ADD FOREIGN KEY (ref) REFERENCES lint_parent (id);\n',
    '0008_check.sql', E'ALTER TABLE lint_big ADD CHECK (id > 0);\n',
    '0009_not_null.sql', E'ALTER TABLE lint_big ALTER COLUMN email SET NOT NULL;\n',
    '0010_type.sql', E'ALTER TABLE lint_big ALTER COLUMN id TYPE bigint;\nALTER TABLE lint_big ALTER COLUMN name TYPE varchar(5);\nALTER TABLE lint_big ALTER COLUMN n TYPE numeric(10,3);\nALTER TABLE lint_big ALTER COLUMN email TYPE text USING lower(email);\n',
    '0011_volatile_default.sql', E'ALTER TABLE lint_big ADD COLUMN token uuid DEFAULT gen_random_uuid();\nALTER TABLE lint_big ADD COLUMN seq bigserial;\n',
    '0012_unlogged.sql', E'ALTER TABLE lint_big SET UNLOGGED;\n',
    '0013_enum.sql', E'ALTER TYPE lint_mood ADD VALUE \'happy\';\nCREATE TABLE lint_feelings (m lint_mood);\nINSERT INTO lint_feelings VALUES (\'happy\');\n',
    '0014_drop_column.sql', E'ALTER TABLE lint_big DROP COLUMN name;\n',
    '0015_drop_table.sql', E'DROP TABLE lint_parent;\n',
    '0016_rename.sql', E'ALTER TABLE lint_big RENAME COLUMN email TO mail;\nALTER TABLE lint_big RENAME TO lint_huge;\n'))
ORDER BY migration, line, rule;

-- what a finding says
SELECT rule, message, hint FROM migrate.lint(jsonb_build_object(
    '0001_index.sql', E'CREATE INDEX lint_big_email ON lint_big (email);\n',
    '0002_enum.sql', E'ALTER TYPE lint_mood ADD VALUE \'happy\';\nSELECT \'happy\'::lint_mood;\n',
    '0003_not_null.sql', E'ALTER TABLE lint_big ALTER COLUMN email SET NOT NULL;\n'));

-- the safe forms find nothing, nor do tables and types the folder creates
SELECT * FROM migrate.lint(jsonb_build_object(
    '0001_index.sql', E'CREATE INDEX CONCURRENTLY lint_big_email ON lint_big (email);\n',
    '0002_primary_key.sql', E'ALTER TABLE lint_big ADD CONSTRAINT lint_big_pk PRIMARY KEY USING INDEX lint_big_id;\n',
    '0003_refresh.sql', E'REFRESH MATERIALIZED VIEW CONCURRENTLY lint_mv;\n',
    '0004_vacuum.sql', E'VACUUM lint_big;\n',
    '0005_not_valid.sql', E'ALTER TABLE lint_big ADD FOREIGN KEY (ref) REFERENCES lint_parent (id) NOT VALID;\nALTER TABLE lint_big ADD CHECK (id > 0) NOT VALID;\n',
    '0006_not_null.sql', E'ALTER TABLE lint_big ALTER COLUMN ref SET NOT NULL;\n',
    '0007_no_rewrite.sql', E'ALTER TABLE lint_big ALTER COLUMN name TYPE varchar(20);\nALTER TABLE lint_big ALTER COLUMN name TYPE text;\nALTER TABLE lint_big ALTER COLUMN n TYPE numeric(12,2);\nALTER TABLE lint_big ADD COLUMN created timestamptz DEFAULT now();\nALTER TABLE lint_big ADD COLUMN flag boolean NOT NULL DEFAULT false;\n',
    '0008_enum.sql', E'-- migrate:no-transaction\nALTER TYPE lint_mood ADD VALUE \'happy\';\nSELECT \'happy\'::lint_mood;\n',
    '0009_new_enum.sql', E'CREATE TYPE lint_new AS ENUM (\'a\');\nALTER TYPE lint_new ADD VALUE \'b\';\nSELECT \'b\'::lint_new;\n',
    '0010_new_table.sql', E'CREATE TABLE lint_new_t (id int, v text);\nINSERT INTO lint_new_t VALUES (1, \'a\');\nCREATE INDEX ON lint_new_t (id);\nALTER TABLE lint_new_t ADD CHECK (id > 0), ALTER COLUMN id TYPE bigint;\nALTER TABLE lint_new_t RENAME TO lint_new_t2;\n',
    '0011_created_before.sql', E'ALTER TABLE lint_new_t2 DROP COLUMN v;\nDROP TABLE lint_new_t2;\n',
    '0012_small_and_empty.sql', E'CREATE INDEX ON lint_parent (id);\nALTER TABLE lint_empty ADD CHECK (id > 0), ALTER COLUMN id TYPE bigint, ALTER COLUMN id SET NOT NULL;\n'));

-- a table over the threshold only: raise it and the index is fine
SET migrate.lint_large_table_rows = 1000;
SELECT rule FROM migrate.lint(jsonb_build_object(
    '0001_index.sql', E'CREATE INDEX lint_big_email ON lint_big (email);\nVACUUM FULL lint_big;\n'));
SET migrate.lint_large_table_rows = 100;

-- an ACCESS EXCLUSIVE lock with no lock timeout; none with a timeout, or
-- on a table the migration creates
SET migrate.lock_timeout = 0;
SELECT migration, line, rule FROM migrate.lint(jsonb_build_object(
    '0001_add.sql', E'CREATE TABLE lint_other (id int);\nALTER TABLE lint_other ADD COLUMN v int;\nALTER TABLE lint_big ADD COLUMN v int, ADD COLUMN w int;\n',
    '0002_index.sql', E'CREATE INDEX CONCURRENTLY lint_big_v ON lint_big (v);\n'))
ORDER BY 1, 2;
SET migrate.lock_timeout = '1s';

-- the opt-out comment, several rules on one line or several lines; an
-- unknown rule is a WARNING; any white space separates rules (a form feed
-- once made the scan loop forever)
SELECT migration, rule FROM migrate.lint(jsonb_build_object(
    '0001_allowed.sql', E'-- drops what the previous release stopped using\n-- migrate:allow drop_column, drop_table\n-- migrate:allow table_rewrite\nALTER TABLE lint_big DROP COLUMN name;\nALTER TABLE lint_big ALTER COLUMN id TYPE bigint;\nDROP TABLE lint_parent;\nCREATE INDEX ON lint_big (email);\n',
    '0002_later.sql', E'SELECT 1;\n-- migrate:allow index_not_concurrent\nCREATE INDEX ON lint_big (email);\n',
    '0003_typo.sql', E'-- migrate:allow drop_tabel\nDROP TABLE lint_parent;\n',
    '0004_feed.sql', E'-- migrate:allow drop_column\fdrop_table\nDROP TABLE lint_parent;\n'))
ORDER BY 1, 2;

-- the dir form; applied migrations are not linted
\! rm -rf @testdir@/lint && mkdir -p @testdir@/lint
\! printf 'CREATE TABLE lint_applied (id int);\n' > @testdir@/lint/0001_table.sql
\! printf 'DROP TABLE lint_applied;\n' > @testdir@/lint/0001_table.down.sql
\! printf 'ALTER TABLE lint_big ADD COLUMN name text;\nALTER TABLE lint_big RENAME COLUMN mail TO email;\n' > @testdir@/lint/0002_drop.down.sql
\! printf 'DROP INDEX lint_big_n;\n' > @testdir@/lint/0003_index.down.sql
\! printf 'ALTER TABLE lint_big DROP COLUMN name;\n' > @testdir@/lint/0002_drop.sql
\! printf 'CREATE INDEX lint_big_n ON lint_big (n);\n' > @testdir@/lint/0003_index.sql
SELECT migration, file, line, rule FROM migrate.lint('@testdir@/lint');
SELECT name, action FROM migrate.apply('@testdir@/lint', target => '0001_table');
SELECT migration, file, line, rule FROM migrate.lint('@testdir@/lint');

-- apply: a WARNING per finding (the default), with file and line
SHOW migrate.lint;
BEGIN;
SELECT name, action FROM migrate.apply('@testdir@/lint');
ROLLBACK;
-- each finding's WARNING has the SQLSTATE its ERROR has
\set VERBOSITY sqlstate
BEGIN;
SELECT name, action FROM migrate.apply('@testdir@/lint');
ROLLBACK;
\set VERBOSITY default

-- off: nothing said
SET migrate.lint = off;
BEGIN;
SELECT name, action FROM migrate.apply('@testdir@/lint');
ROLLBACK;

-- error: apply and run refuse before anything runs, listing the findings
SET migrate.lint = error;
SELECT name, action FROM migrate.apply('@testdir@/lint');
\! printf -- '-- migrate:allow drop_column\nALTER TABLE lint_big DROP COLUMN name;\nALTER TABLE lint_big RENAME COLUMN email TO mail;\n' > @testdir@/lint/0002_drop.sql
CALL migrate.run('@testdir@/lint');
-- a single finding is raised as it is, with the rule's own hint
SELECT name, action FROM migrate.apply('@testdir@/lint', target => '0002_drop');
SELECT count(*) AS columns_left FROM pg_attribute
WHERE attrelid = 'lint_big'::regclass AND attname IN ('name', 'email');
SELECT name, state FROM migrate.status('@testdir@/lint');

-- allowed findings let the run go on, and are logged in the history
\! printf -- '-- migrate:allow drop_column rename_column\nALTER TABLE lint_big DROP COLUMN name;\nALTER TABLE lint_big RENAME COLUMN email TO mail;\n' > @testdir@/lint/0002_drop.sql
\! printf -- '-- migrate:allow index_not_concurrent\nCREATE INDEX lint_big_n ON lint_big (n);\n' > @testdir@/lint/0003_index.sql
SELECT migration, rule FROM migrate.lint('@testdir@/lint');
SELECT name, action FROM migrate.apply('@testdir@/lint');
SELECT action, name, message, detail, file, line, checksum IS NOT NULL AS has_checksum
FROM migrate.history WHERE action = 'lint_allowed' ORDER BY id;
SELECT name, action FROM migrate.rollback('0001_table');
RESET migrate.lint;
RESET migrate.lint_large_table_rows;
RESET migrate.lock_timeout;

-- the settings
SELECT name, setting, unit, context FROM pg_settings
WHERE name IN ('migrate.lint', 'migrate.lint_large_table_rows', 'migrate.lint_long_transaction')
ORDER BY name;
SET migrate.lint = 'sometimes';

RESET migrate.lint;
SET migrate.lint_large_table_rows = 100;
SET migrate.lock_timeout = '1s';

-- lint follows what the migration does to search_path (SET, RESET,
-- set_config() of a constant), and the caller's is left as it was
CREATE SCHEMA lint_other;
CREATE TABLE lint_other.lint_far (id int);
INSERT INTO lint_other.lint_far SELECT g FROM generate_series(1, 500) g;
ANALYZE lint_other.lint_far;
SELECT migration, line, rule FROM migrate.lint(jsonb_build_object(
    '0001_set.sql', E'SET search_path = lint_other;\nCREATE INDEX ON lint_far (id);\n',
    '0002_set_config.sql', E'SELECT set_config(\'search_path\', \'lint_other, public\', false);\nCREATE INDEX ON lint_far (id);\n',
    '0003_reset.sql', E'SET search_path = lint_other;\nRESET search_path;\nCREATE INDEX ON lint_far (id);\n'));
SHOW search_path;
DROP SCHEMA lint_other CASCADE;

-- a statement lint cannot judge (an invalid name or type modifier, a
-- syntax error) is a finding of its file and line; the rest of the
-- migration and of the folder is still linted
SELECT migration, file, line, rule, severity, message FROM migrate.lint(jsonb_build_object(
    '0001_dots.sql', E'CREATE TABLE lint_a (id int);\nDROP TABLE a.b.c.d;\nCREATE INDEX ON lint_big (email);\n',
    '0002_typmod.sql', E'ALTER TABLE lint_big ALTER COLUMN id TYPE int4(3);\n',
    '0003_syntax.sql', E'CREATE TABLE lint_x (id int);\nALTER TABLE lint_big\n  ADD COLUMN;\n',
    '0004_after.sql', E'CREATE INDEX ON lint_big (name);\n'))
ORDER BY migration, line, rule;

-- what lint used to miss: SET ACCESS METHOD rewrites (PostgreSQL 15 and
-- later have it); ATTACH PARTITION scans the table it attaches; ALTER
-- DOMAIN scans the tables using the domain; a partitioned table's or an
-- inheritance parent's children are rewritten, and their rows count; ADD
-- COLUMN IF NOT EXISTS of a column that exists does nothing
CREATE TABLE lint_parted (id int) PARTITION BY RANGE (id);
CREATE TABLE lint_parted_1 PARTITION OF lint_parted FOR VALUES FROM (0) TO (1000);
INSERT INTO lint_parted SELECT g FROM generate_series(1, 500) g;
CREATE TABLE lint_inh_parent (id int);
CREATE TABLE lint_inh_child () INHERITS (lint_inh_parent);
INSERT INTO lint_inh_child SELECT g FROM generate_series(1, 500) g;
CREATE TABLE lint_detached (id int);
INSERT INTO lint_detached SELECT g FROM generate_series(1000, 1499) g;
CREATE DOMAIN lint_positive AS int;
CREATE TABLE lint_dom (v lint_positive);
INSERT INTO lint_dom SELECT g FROM generate_series(1, 500) g;
ANALYZE lint_parted_1, lint_inh_child, lint_detached, lint_dom;
SELECT migration, line, rule FROM migrate.lint(jsonb_build_object(
    '0001_am.sql', E'ALTER TABLE lint_big SET ACCESS METHOD heap;\n'))
WHERE current_setting('server_version_num')::int >= 150000
UNION ALL
SELECT '0001_am', 1, 'table_rewrite'
WHERE current_setting('server_version_num')::int < 150000;
SELECT migration, line, rule FROM migrate.lint(jsonb_build_object(
    '0002_attach.sql', E'ALTER TABLE lint_parted ATTACH PARTITION lint_detached FOR VALUES FROM (1000) TO (2000);\n',
    '0003_domain.sql', E'ALTER DOMAIN lint_positive ADD CONSTRAINT lint_positive_check CHECK (VALUE > 0);\nALTER DOMAIN lint_positive ADD CONSTRAINT lint_later CHECK (VALUE > 0) NOT VALID;\nALTER DOMAIN lint_positive VALIDATE CONSTRAINT lint_later;\n',
    '0004_children.sql', E'ALTER TABLE lint_parted ADD COLUMN token uuid DEFAULT gen_random_uuid();\nALTER TABLE lint_inh_parent ADD COLUMN token uuid DEFAULT gen_random_uuid();\nALTER TABLE ONLY lint_inh_parent ADD CONSTRAINT lint_only CHECK (id > 0) NOT VALID;\nCREATE INDEX ON lint_parted (id);\n',
    '0005_if_not_exists.sql', E'ALTER TABLE lint_big ADD COLUMN IF NOT EXISTS id bigserial;\nALTER TABLE lint_big ADD COLUMN IF NOT EXISTS lint_new bigserial;\n'))
ORDER BY migration, line, rule;

-- the locks lint knows, which plan uses for its size limit: REINDEX
-- (SHARE on the table, ACCESS EXCLUSIVE on an index), CREATE RULE (ACCESS
-- EXCLUSIVE), a partition through its parent
SET migrate.lock_timeout = 0;
SELECT migration, line, rule FROM migrate.lint(jsonb_build_object(
    '0001_rule.sql', E'CREATE RULE lint_rule AS ON INSERT TO lint_empty DO INSTEAD NOTHING;\n',
    '0002_reindex.sql', E'REINDEX INDEX lint_big_id;\n'))
ORDER BY migration, line, rule;
SET migrate.plan_max_table_size = '8kB';
SELECT migration, line, executed, relation,
       regexp_replace(note, 'is [0-9]+ kB', 'is N kB') AS note
FROM migrate.plan(jsonb_build_object(
    '0001_reindex.sql', E'REINDEX TABLE lint_big;\n',
    '0002_partition.sql', E'ALTER TABLE lint_parted ALTER COLUMN id SET STATISTICS 100;\n'));
RESET migrate.plan_max_table_size;
SET migrate.lock_timeout = '1s';
DROP TABLE lint_parted, lint_inh_parent, lint_inh_child, lint_detached, lint_dom;
DROP DOMAIN lint_positive;

DROP MATERIALIZED VIEW lint_mv;
DROP TABLE lint_big, lint_parent, lint_empty;
DROP TYPE lint_mood;
