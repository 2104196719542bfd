-- The fingerprint after a migration reads only the schemas its DDL log
-- rows name, and those whose objects depend on theirs, when the event
-- triggers saw all it did; the whole schema otherwise.  Either way no
-- drift is made up and none is lost.  In a database of its own.
CREATE DATABASE regress_drift_scope;
\c regress_drift_scope
CREATE EXTENSION pg_migrate;
SET migrate.lint = off;
\! rm -rf @testdir@/drift_scope && mkdir -p @testdir@/drift_scope && cp -R "$PG_ABS_SRCDIR/fixtures/drift_scope/." @testdir@/drift_scope/
\set drift 'SELECT object_type, object_identity, change FROM migrate.drift() ORDER BY 1, 2'
-- Which schemas a take read: when a migration is recorded, before the
-- take, a trigger marks each schema's own row in the fingerprint stale,
-- and the take puts back those of the schemas it reads.
CREATE FUNCTION mark_unread() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE migrate.fingerprint SET digest = 'unread' WHERE object_type = 'schema';
    RETURN NULL;
END $$;
CREATE TRIGGER mark_unread AFTER INSERT OR DELETE ON migrate.migrations
    FOR EACH STATEMENT EXECUTE FUNCTION mark_unread();
\set read 'SELECT string_agg(object_identity, \', \' ORDER BY object_identity) AS schemas_read FROM migrate.fingerprint WHERE object_type = \'schema\' AND digest <> \'unread\'; UPDATE migrate.fingerprint SET digest = md5(definition) WHERE digest = \'unread\''
\set run 'CALL migrate.run(\'@testdir@/drift_scope\', target => :\'target\')'

-- the first take reads every schema
\set target 0001_init
:run;
:read;
:drift;
SELECT schema_name, refs FROM migrate.fingerprint
WHERE refs IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2;

-- drift made before: in schema a, which the next migrations change, with
-- the event triggers; in d, which they do not, without
CREATE TABLE a.hotfix (id int);
SET session_replication_role = replica;
ALTER TABLE d.x ADD COLUMN hotfix_d int;
RESET session_replication_role;
:drift;

-- renaming a's type, table, column, sequence and function changes b's
-- column types, default, foreign key and view: b is read too
\set target 0002_rename
:run;
:read;
:drift;
-- moving objects out of a: the log names c only, a is found too
\set target 0003_move
:run;
:read;
:drift;
-- a trigger's and a policy's schema is read from their identity
\set target 0004_trigger
:run;
:read;
:drift;
-- GRANT names no object: every schema
\set target 0005_grant
:run;
:read;
:drift;
-- a cascade drops objects of b that no log row names
\set target 0006_drop
:run;
:read;
:drift;

-- event triggers disabled: the log may miss the migration, every schema
ALTER EVENT TRIGGER pg_migrate_ddl_command_end DISABLE;
\set target 0007_disabled
:run;
:read;
ALTER EVENT TRIGGER pg_migrate_ddl_command_end ENABLE;
:drift;
-- bypassed by this session: likewise
SET session_replication_role = replica;
\set target 0008_replica
:run;
:read;
RESET session_replication_role;
:drift;

-- a no-transaction migration: its rows, the worker's, bound the take
\set target 0009_worker
:run;
:read;
:drift;
-- and the worker inherits the session's bypass
SET session_replication_role = replica;
\set target 0010_worker_disabled
:run;
:read;
RESET session_replication_role;
:drift;

-- a migration without DDL reads no schema
\set target 0011_nothing
:run;
:read;

-- a statement whose effect no log row records: every schema
CREATE ROLE regress_scope_old;
CREATE ROLE regress_scope_new;
\set target 0012_owned
:run;
:read;
\set target 0013_reassign
:run;
:read;
:drift;

-- apply and rollback bound theirs the same way
SELECT name, action FROM migrate.apply('@testdir@/drift_scope');
:read;
SELECT name, action FROM migrate.rollback('0014_public');
:read;
:drift;

-- the earlier drift still shows; undone, there is none
DROP TABLE a.hotfix;
ALTER TABLE d.x DROP COLUMN hotfix_d;
:drift;

\c contrib_regression
DROP DATABASE regress_drift_scope;
DROP ROLE regress_scope_old, regress_scope_new;
