-- Tenants: schemas whose migrations are tracked apart from the database's
-- own and from each other's.  migrate.run_tenants() migrates each one as
-- CALL migrate.run() would, with the tenant's schema first in search_path;
-- migrate.tenant_runs keeps one row per tenant; migrate.use_tenant() makes
-- status, check, rollback and drift a tenant's.  In a database of its own.
CREATE DATABASE regress_tenants;
\c regress_tenants
CREATE EXTENSION pg_migrate;
SET migrate.lint = off;
SET migrate.ddl_policy = off;
\set VERBOSITY default
-- a folder sent as data; 0003 uses a table of public through search_path
\set folder '{"0001_users.sql": "CREATE TABLE users (id int PRIMARY KEY);\\n", "0002_email.sql": "ALTER TABLE users ADD COLUMN email text;\\n", "0003_view.sql": "CREATE VIEW user_plans AS SELECT u.id, p.name FROM users u CROSS JOIN plans p;\\n"}'
CREATE TABLE public.plans (name text);
CREATE SCHEMA acme;
CREATE SCHEMA globex;
CREATE SCHEMA initech;

-- the database's own migrations first: public.users, public.user_plans
CALL migrate.run(:'folder'::jsonb);

-- two tenants by name: each gets its own tables, tracked under its name
CALL migrate.run_tenants(:'folder'::jsonb, tenants => '{acme,globex}');
SELECT tenant, name FROM migrate.migrations ORDER BY tenant, id;
SELECT table_schema, count(*) AS columns FROM information_schema.columns
WHERE table_name = 'users' GROUP BY 1 ORDER BY 1;
-- the view reads the tenant's users and the shared plans of public
SELECT schemaname, definition FROM pg_views WHERE viewname = 'user_plans' ORDER BY 1;
SELECT run_id, position, tenant, database = current_database() AS here, canary,
       state, migrations, error, started_at <= finished_at AS timed
FROM migrate.tenant_runs ORDER BY run_id, position;
-- every tenant's history is its own
SELECT tenant, action, count(*) FROM migrate.history GROUP BY 1, 2 ORDER BY 1, 2;

-- a tenant named by a query run as the caller; nothing pending is nothing done
CALL migrate.run_tenants(:'folder'::jsonb,
    tenant_query => $$SELECT nspname FROM pg_namespace WHERE nspname IN ('initech', 'acme') ORDER BY 1 DESC$$);
SELECT run_id, position, tenant, state, migrations FROM migrate.tenant_runs
WHERE run_id = 2 ORDER BY position;

-- one row per tenant, from one query: a pattern (LIKE) on schema names
SELECT tenant, applied, pending, failed, last_applied IS NOT NULL AS applied_once
FROM migrate.tenant_status(:'folder'::jsonb, tenant_pattern => '%e%');
CREATE SCHEMA hooli;
SELECT tenant, applied, pending, failed
FROM migrate.tenant_status(:'folder'::jsonb, tenants => '{hooli,acme}');

-- status, check, rollback and drift of one tenant: migrate.use_tenant()
SELECT migrate.use_tenant('acme');
SHOW migrate.tenant;
SELECT name, state FROM migrate.status(:'folder'::jsonb);
SELECT name, action FROM migrate.rollback('0003_view');
SELECT schemaname FROM pg_views WHERE viewname = 'user_plans' ORDER BY 1;
SELECT name, state FROM migrate.status(:'folder'::jsonb);
SELECT migrate.check(:'folder'::jsonb);
-- drift is the tenant's schema's: globex's hotfix is not acme's
CREATE TABLE globex.hotfix (id int);
SELECT object_type, object_identity, change FROM migrate.drift();
BEGIN;
SELECT migrate.use_tenant('globex', true);
SELECT object_type, object_identity, change FROM migrate.drift();
COMMIT;
-- is_local: for the transaction only
SHOW migrate.tenant;
DROP TABLE globex.hotfix;
-- the database's own migrations are untouched
SELECT migrate.use_tenant(NULL);
RESET search_path;
SELECT name, state FROM migrate.status(:'folder'::jsonb);
SELECT count(*) AS own_rows FROM migrate.migrations WHERE tenant = '';

-- errors
CALL migrate.run_tenants(:'folder'::jsonb);
CALL migrate.run_tenants(:'folder'::jsonb, tenants => '{acme}', tenant_pattern => 'a%');
CALL migrate.run_tenants(:'folder'::jsonb, tenants => '{acme,nosuch}');
CALL migrate.run_tenants(:'folder'::jsonb, tenants => '{acme,acme}');
CALL migrate.run_tenants(:'folder'::jsonb, tenant_pattern => 'zz%');
CALL migrate.run_tenants(:'folder'::jsonb, tenants => '{acme}', parallel => 0);
CALL migrate.run_tenants(:'folder'::jsonb, tenants => '{acme}', canary => -1);
CALL migrate.run_tenants(:'folder'::jsonb, tenants => '{acme}', on_failure => 'maybe');
BEGIN;
CALL migrate.run_tenants(:'folder'::jsonb, tenants => '{acme}');
ROLLBACK;
SELECT migrate.use_tenant('nosuch');
SET migrate.tenant = 'nosuch';
CALL migrate.run(:'folder'::jsonb);
RESET migrate.tenant;

-- the fleet's workers take the caller's migrate.* settings (lint is
-- off: no lint warning) and client_min_messages
SET client_min_messages = warning;

-- failure policy: t2 holds a table of the same name beforehand
CREATE SCHEMA t1;
CREATE SCHEMA t2;
CREATE SCHEMA t3;
CREATE SCHEMA t4;
CREATE TABLE t2.users (legacy int);
-- stop (the default): the tenants after t2 are left pending
CALL migrate.run_tenants(:'folder'::jsonb, tenant_pattern => 't_');
SELECT max(run_id) AS stopped FROM migrate.tenant_runs \gset
SELECT tenant, state, migrations, sqlstate, error, file, line
FROM migrate.tenant_runs WHERE run_id = :stopped ORDER BY position;
SELECT tenant, name, action, file, line FROM migrate.history
WHERE action = 'failure' ORDER BY id;
SELECT finished_at AS t1_finished FROM migrate.tenant_runs
WHERE run_id = :stopped AND tenant = 't1' \gset
-- the same run again, the cause fixed: the failed and pending tenants
-- only, and t2's failed migration runs again as with retry => true
DROP TABLE t2.users;
CALL migrate.run_tenants(:'folder'::jsonb, run_id => :stopped);
SELECT tenant, state, migrations, error, file
FROM migrate.tenant_runs WHERE run_id = :stopped ORDER BY position;
SELECT finished_at = :'t1_finished' AS t1_untouched FROM migrate.tenant_runs
WHERE run_id = :stopped AND tenant = 't1';
SELECT tenant, count(*) FILTER (WHERE action = 'apply') AS applies
FROM migrate.history WHERE tenant LIKE 't_' GROUP BY 1 ORDER BY 1;
-- nothing is left to retry
CALL migrate.run_tenants(:'folder'::jsonb, run_id => :stopped);

-- continue: every tenant is tried, and the call fails at the end
CREATE SCHEMA u1;
CREATE SCHEMA u2;
CREATE SCHEMA u3;
CREATE TABLE u1.users (legacy int);
\set VERBOSITY terse
CALL migrate.run_tenants(:'folder'::jsonb, tenant_pattern => 'u_', on_failure => 'continue', parallel => 2);
\set VERBOSITY default
SELECT tenant, state, migrations, file, line FROM migrate.tenant_runs
WHERE run_id = (SELECT max(run_id) FROM migrate.tenant_runs) ORDER BY position;

-- a canary that fails stops the fleet before the others
CREATE SCHEMA v1;
CREATE SCHEMA v2;
CREATE TABLE v1.users (legacy int);
\set VERBOSITY terse
CALL migrate.run_tenants(:'folder'::jsonb, tenant_pattern => 'v_', canary => 1, on_failure => 'continue');
\set VERBOSITY default
SELECT tenant, canary, state, migrations FROM migrate.tenant_runs
WHERE run_id = (SELECT max(run_id) FROM migrate.tenant_runs) ORDER BY position;

\c contrib_regression
DROP DATABASE regress_tenants;
