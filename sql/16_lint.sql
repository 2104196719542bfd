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
-- unknown rule is a WARNING
SELECT migration, rule FROM migrate.lint(jsonb_build_object(
    '0001_allowed.sql', E'-- drops what the previous release stopped using\n-- migrate:allow drop_column, drop_table\n-- migrate:allow table_rewrite\nALTER TABLE lint_big DROP COLUMN name;\nALTER TABLE lint_big ALTER COLUMN id TYPE bigint;\nDROP TABLE lint_parent;\nCREATE INDEX ON lint_big (email);\n',
    '0002_later.sql', E'SELECT 1;\n-- migrate:allow index_not_concurrent\nCREATE INDEX ON lint_big (email);\n',
    '0003_typo.sql', E'-- migrate:allow drop_tabel\nDROP TABLE lint_parent;\n'))
ORDER BY 1, 2;

-- the dir form; applied migrations are not linted
\! rm -rf /tmp/pg_migrate_regress/lint && mkdir -p /tmp/pg_migrate_regress/lint
\! printf 'CREATE TABLE lint_applied (id int);\n' > /tmp/pg_migrate_regress/lint/0001_table.sql
\! printf 'DROP TABLE lint_applied;\n' > /tmp/pg_migrate_regress/lint/0001_table.down.sql
\! printf 'ALTER TABLE lint_big ADD COLUMN name text;\nALTER TABLE lint_big RENAME COLUMN mail TO email;\n' > /tmp/pg_migrate_regress/lint/0002_drop.down.sql
\! printf 'DROP INDEX lint_big_n;\n' > /tmp/pg_migrate_regress/lint/0003_index.down.sql
\! printf 'ALTER TABLE lint_big DROP COLUMN name;\n' > /tmp/pg_migrate_regress/lint/0002_drop.sql
\! printf 'CREATE INDEX lint_big_n ON lint_big (n);\n' > /tmp/pg_migrate_regress/lint/0003_index.sql
SELECT migration, file, line, rule FROM migrate.lint('/tmp/pg_migrate_regress/lint');
SELECT name, action FROM migrate.apply('/tmp/pg_migrate_regress/lint', target => '0001_table');
SELECT migration, file, line, rule FROM migrate.lint('/tmp/pg_migrate_regress/lint');

-- apply: a WARNING per finding (the default), with file and line
SHOW migrate.lint;
BEGIN;
SELECT name, action FROM migrate.apply('/tmp/pg_migrate_regress/lint');
ROLLBACK;

-- off: nothing said
SET migrate.lint = off;
BEGIN;
SELECT name, action FROM migrate.apply('/tmp/pg_migrate_regress/lint');
ROLLBACK;

-- error: apply and run refuse before anything runs, listing the findings
SET migrate.lint = error;
SELECT name, action FROM migrate.apply('/tmp/pg_migrate_regress/lint');
\! printf -- '-- migrate:allow drop_column\nALTER TABLE lint_big DROP COLUMN name;\nALTER TABLE lint_big RENAME COLUMN email TO mail;\n' > /tmp/pg_migrate_regress/lint/0002_drop.sql
CALL migrate.run('/tmp/pg_migrate_regress/lint');
SELECT count(*) AS columns_left FROM pg_attribute
WHERE attrelid = 'lint_big'::regclass AND attname IN ('name', 'email');
SELECT name, state FROM migrate.status('/tmp/pg_migrate_regress/lint');

-- allowed findings let the run go on, and are logged in the history
\! printf -- '-- migrate:allow drop_column rename_column\nALTER TABLE lint_big DROP COLUMN name;\nALTER TABLE lint_big RENAME COLUMN email TO mail;\n' > /tmp/pg_migrate_regress/lint/0002_drop.sql
\! printf -- '-- migrate:allow index_not_concurrent\nCREATE INDEX lint_big_n ON lint_big (n);\n' > /tmp/pg_migrate_regress/lint/0003_index.sql
SELECT migration, rule FROM migrate.lint('/tmp/pg_migrate_regress/lint');
SELECT name, action FROM migrate.apply('/tmp/pg_migrate_regress/lint');
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

DROP MATERIALIZED VIEW lint_mv;
DROP TABLE lint_big, lint_parent, lint_empty;
DROP TYPE lint_mood;
