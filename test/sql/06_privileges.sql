-- Who may run migrations, and as whom they run.
\! rm -rf @testdir@/privileges && mkdir -p @testdir@/privileges
\! printf 'CREATE TABLE deploy_owned (id int);\n' > @testdir@/privileges/0001_owned.sql
\! printf 'DROP TABLE deploy_owned;\n' > @testdir@/privileges/0001_owned.down.sql

CREATE ROLE regress_deployer;
GRANT CREATE ON SCHEMA public TO regress_deployer;
-- What the tests before did by hand, and this GRANT, are drift: start the
-- fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();

-- Nobody but the superuser may call the functions until granted
GRANT USAGE ON SCHEMA migrate TO regress_deployer;
SET ROLE regress_deployer;
SELECT * FROM migrate.status();
SELECT * FROM migrate.rollback();
RESET ROLE;

GRANT EXECUTE ON FUNCTION migrate.apply(text, text, boolean, text, boolean),
                          migrate.status(text, text),
                          migrate.rollback(text, boolean) TO regress_deployer;

-- EXECUTE alone does not let a role read server files
SET ROLE regress_deployer;
SELECT * FROM migrate.apply('@testdir@/privileges');
SELECT * FROM migrate.status('@testdir@/privileges');
-- the tracking table alone needs no file access
SELECT count(*) FROM migrate.status();
RESET ROLE;

-- pg_read_server_files does
GRANT pg_read_server_files TO regress_deployer;
SET ROLE regress_deployer;
SELECT name, action FROM migrate.apply('@testdir@/privileges');
-- migrations run as the caller: the caller owns what they create
SELECT tableowner FROM pg_tables WHERE tablename = 'deploy_owned';
-- the caller is recorded, but cannot read or edit the tracking tables
-- directly: only the functions write them, with their owner's rights
SELECT applied_by FROM migrate.migrations;
DELETE FROM migrate.migrations;
INSERT INTO migrate.history (action, performed_by) VALUES ('apply', 'someone');
SELECT name, action FROM migrate.rollback('0001_owned');
RESET ROLE;
SELECT performed_by, action, name FROM migrate.history
WHERE performed_by = 'regress_deployer' ORDER BY id;

-- A migration cannot do more than its caller may
\! printf 'CREATE ROLE sneaky SUPERUSER;\n' > @testdir@/privileges/0002_escalate.sql
-- (the server's message differs between versions: show the SQLSTATE only)
SET ROLE regress_deployer;
\set VERBOSITY sqlstate
SELECT name, action FROM migrate.apply('@testdir@/privileges');
\set VERBOSITY default
RESET ROLE;
SELECT count(*) AS sneaky FROM pg_roles WHERE rolname = 'sneaky';

-- On a read-only transaction, apply and rollback say so; status works
BEGIN TRANSACTION READ ONLY;
SELECT name, action FROM migrate.apply('@testdir@/privileges');
ROLLBACK;
BEGIN TRANSACTION READ ONLY;
SELECT name, action FROM migrate.rollback();
ROLLBACK;
BEGIN TRANSACTION READ ONLY;
SELECT name, state FROM migrate.status('@testdir@/privileges');
ROLLBACK;

-- Clean up
DROP OWNED BY regress_deployer;
DROP ROLE regress_deployer;
