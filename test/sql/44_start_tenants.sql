-- migrate.start_tenants(): migrate.run_tenants() as a run the server owns.
-- It returns the run's id at once; migrate.runs shows it (kind tenants),
-- migrate.tenant_runs its tenants under the same id; a tenant that fails
-- fails the run, and migrate.resume() of it, the cause fixed, migrates the
-- failed tenant only.  In a database of its own.
CREATE DATABASE regress_start_tenants;
\c regress_start_tenants
CREATE EXTENSION pg_migrate;
SET migrate.lint = off;
SET migrate.ddl_policy = off;
\set folder '{"0001_users.sql": "CREATE TABLE users (id int PRIMARY KEY);\\n", "0002_email.sql": "ALTER TABLE users ADD COLUMN email text;\\n"}'
CREATE SCHEMA t_acme;
CREATE SCHEMA t_globex;
CREATE SCHEMA t_initech;
-- t_globex already has a users table: 0001 fails there
CREATE TABLE t_globex.users (id int PRIMARY KEY, email text);

SELECT migrate.start_tenants(:'folder'::jsonb, tenant_pattern => 't\_%',
                             canary => 1, on_failure => 'continue') AS run \gset
CALL migrate.wait(:run);
SELECT kind, state, source, error_sqlstate FROM migrate.runs WHERE run_id = :run;
SELECT position, tenant, canary, state, migrations, file, line
FROM migrate.tenant_runs WHERE run_id = :run ORDER BY position;
SELECT tenant, name FROM migrate.migrations ORDER BY tenant, name;

-- the cause fixed, the same run resumed: t_globex alone is migrated
DROP TABLE t_globex.users;
CREATE TEMP TABLE others AS
SELECT tenant, name, applied_at FROM migrate.migrations WHERE tenant <> 't_globex';
SELECT migrate.resume(:run) = :run AS same_run;
CALL migrate.wait(:run);
SELECT kind, state, attempts FROM migrate.runs WHERE run_id = :run;
SELECT position, tenant, state, migrations FROM migrate.tenant_runs
WHERE run_id = :run ORDER BY position;
SELECT count(*) AS others_untouched FROM others o JOIN migrate.migrations m USING (tenant, name)
WHERE m.applied_at = o.applied_at;
SELECT tenant, count(*) FROM migrate.migrations GROUP BY 1 ORDER BY 1;

-- the run takes the caller's settings over, pg_migrate's own included
SET migrate.lock_retry_max_time = '42s';
SELECT migrate.start_tenants(:'folder'::jsonb, tenants => '{t_acme}') AS quiet_run \gset
CALL migrate.wait(:quiet_run);
SELECT settings->>'migrate.lock_retry_max_time' AS max_time,
       settings->>'search_path' AS search_path,
       settings ? 'lock_timeout' AS lock_timeout
FROM migrate.run_jobs WHERE run_id = :quiet_run;
RESET migrate.lock_retry_max_time;

-- bad arguments are refused before anything is queued
SELECT migrate.start_tenants(:'folder'::jsonb, tenants => '{t_acme}', on_failure => 'maybe');
-- a role that may start but not run_tenants is refused at start: the
-- worker would call run_tenants as that role
CREATE ROLE regress_start_tenants_nobody;
GRANT USAGE ON SCHEMA migrate TO regress_start_tenants_nobody;
GRANT EXECUTE ON FUNCTION migrate.start_tenants(jsonb, text[], text, text, integer, integer, text, text, boolean, text, text, boolean, text[], text) TO regress_start_tenants_nobody;
SET ROLE regress_start_tenants_nobody;
SELECT migrate.start_tenants(:'folder'::jsonb, tenants => '{t_acme}');
RESET ROLE;
SELECT count(*) AS runs FROM migrate.run_jobs;  -- the two above
REVOKE ALL ON FUNCTION migrate.start_tenants(jsonb, text[], text, text, integer, integer, text, text, boolean, text, text, boolean, text[], text) FROM regress_start_tenants_nobody;
REVOKE USAGE ON SCHEMA migrate FROM regress_start_tenants_nobody;
DROP ROLE regress_start_tenants_nobody;

\c contrib_regression
DROP DATABASE regress_start_tenants;
