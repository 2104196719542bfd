-- Who changed what: drift()'s changed_by and changed_at, accept_drift()
-- and blame() (issue 17, section 4), in a database of their own
CREATE DATABASE regress_blame;
\c regress_blame
SET client_min_messages = warning;
CREATE EXTENSION pg_migrate;
RESET client_min_messages;
SET migrate.lint = off;
CREATE ROLE regress_blame_alice SUPERUSER;
CREATE ROLE regress_blame_reader;
GRANT USAGE ON SCHEMA migrate TO regress_blame_reader;

-- two migrations, sent as files
SELECT name, action FROM migrate.apply('{
  "0001_users.sql": "CREATE SCHEMA app;\nCREATE TABLE app.users (id bigint PRIMARY KEY, email text NOT NULL);\nCREATE INDEX users_email ON app.users (email);",
  "0002_orders.sql": "CREATE TABLE app.orders (id bigint PRIMARY KEY, user_id bigint REFERENCES app.users);\nALTER TABLE app.users ADD COLUMN name text;\nCREATE FUNCTION app.order_count(u bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM app.orders WHERE user_id = u $$;\nCREATE TYPE app.mood AS ENUM (''ok'');"
}'::jsonb, 'plain');
SELECT * FROM migrate.drift();

-- a hotfix by another role, from another application; then a change
-- that bypasses the event triggers, which the log cannot know
SET SESSION AUTHORIZATION regress_blame_alice;
SET application_name = 'psql-hotfix';
ALTER TABLE app.users ADD COLUMN phone text;
CREATE INDEX users_name ON app.users (name);
GRANT SELECT (email) ON app.users TO regress_blame_reader;
ALTER TABLE app.orders ADD CONSTRAINT orders_id_positive CHECK (id > 0);
RESET application_name;
RESET SESSION AUTHORIZATION;
SET session_replication_role = replica;
ALTER TABLE app.orders ADD COLUMN note text;
RESET session_replication_role;

-- who and when, where the log knows: the column added, the index, the
-- column granted (GRANT is logged against no object: its statement names
-- the table and the column), the constraint (logged against its table)
SELECT object_type, object_identity, change, changed_by,
       changed_at > now() - interval '1 hour' AS changed_recently
FROM migrate.drift();

-- accept_drift: what it refuses, and nothing is accepted then
SELECT * FROM migrate.accept_drift(ARRAY['app.nothing']);
SELECT * FROM migrate.accept_drift(ARRAY['app.users']);
SELECT * FROM migrate.accept_drift(ARRAY['app.users.phone', NULL]);
SELECT * FROM migrate.accept_drift(ARRAY['app.users.phone', 'app.users.email', 'app.nothing']);
SELECT count(*) AS still_drifted FROM migrate.drift();
-- not for everyone, like baseline
SET ROLE regress_blame_reader;
SELECT * FROM migrate.accept_drift();
SELECT * FROM migrate.blame('app.users');
RESET ROLE;

-- accepted by identity or by "type identity"; drift() no longer lists
-- them, history logs each, their log rows are marked
SELECT * FROM migrate.accept_drift(ARRAY['app.users.phone', 'index app.users_name']);
SELECT object_type, object_identity, change, changed_by FROM migrate.drift();
SELECT action, name, detail, performed_by = current_user AS by_caller
FROM migrate.history WHERE action = 'accept_drift' ORDER BY id;
SELECT command_tag, object_identity, accepted FROM migrate.ddl_log
WHERE origin = 'out_of_band' ORDER BY id;

-- all the rest, then there is nothing left to accept
SELECT * FROM migrate.accept_drift() ORDER BY 1, 2;
SELECT * FROM migrate.drift();
SELECT * FROM migrate.accept_drift();
SELECT migrate.check('{
  "0001_users.sql": "CREATE SCHEMA app;\nCREATE TABLE app.users (id bigint PRIMARY KEY, email text NOT NULL);\nCREATE INDEX users_email ON app.users (email);",
  "0002_orders.sql": "CREATE TABLE app.orders (id bigint PRIMARY KEY, user_id bigint REFERENCES app.users);\nALTER TABLE app.users ADD COLUMN name text;\nCREATE FUNCTION app.order_count(u bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM app.orders WHERE user_id = u $$;\nCREATE TYPE app.mood AS ENUM (''ok'');"
}'::jsonb, 'plain');

-- a later out-of-band change on the same table is named, not the
-- accepted ones
SET SESSION AUTHORIZATION regress_blame_alice;
ALTER TABLE app.users ALTER COLUMN phone TYPE varchar(20);
RESET SESSION AUTHORIZATION;
SELECT object_identity, change, changed_by FROM migrate.drift();
SELECT object_identity FROM migrate.accept_drift();

-- blame: a table, with its columns', indexes', constraints' rows
\set blame 'SELECT origin, migration, command_tag, object_type, object_identity, statement, session_user_name, application_name FROM migrate.blame'
:blame('app.users');
-- a column: its table's rows whose statement names it
:blame('app.users.email');
:blame('app.users.name');
-- named as drift() prints it, or as psql would find it
SET search_path = app, public;
SELECT count(*) FROM migrate.blame('users.phone');
SELECT count(*) FROM migrate.blame('users');
RESET search_path;
:blame('app.users_email');
:blame('index app.users_email');
:blame('app.order_count(bigint)');
:blame('app.order_count');
:blame('app.mood');
:blame('orders_id_positive on app.orders');
-- a dropped object, known from the log
DROP TABLE app.orders;
SELECT origin, command_tag, object_type, object_identity FROM migrate.blame('app.orders');
SELECT object_identity FROM migrate.accept_drift() ORDER BY 1;

-- bad input (without the PL/pgSQL line each error comes from)
\set SHOW_CONTEXT never
SELECT * FROM migrate.blame(NULL);
SELECT * FROM migrate.blame('');
SELECT * FROM migrate.blame('app.nothing');
SELECT * FROM migrate.blame('nothing');
SELECT * FROM migrate.blame('app.users.nothing');
SELECT * FROM migrate.blame('a.b.c.d.e');
SELECT * FROM migrate.blame('app.order_count(text)');
\set SHOW_CONTEXT errors

-- migrations the log has no row of (applied before 0.3, or pruned): their
-- up scripts that mention the object, marked migration_script
DELETE FROM migrate.ddl_log;
:blame('app.users.name');
:blame('app.users_email');

\c contrib_regression
DROP DATABASE regress_blame;
DROP ROLE regress_blame_alice;
DROP OWNED BY regress_blame_reader;
DROP ROLE regress_blame_reader;
