-- Databases as tenants of migrate.run_tenants(): the arguments are checked
-- before any database is reached (see test/t/039_tenant_databases.pl for
-- runs across databases).  Each error names the database and says what
-- to do.
SET migrate.lint = off;
\set folder '{"0001_users.sql": "CREATE TABLE users (id int PRIMARY KEY);\\n"}'

-- schemas and databases at once: one way only
CALL migrate.run_tenants(:'folder'::jsonb, tenants => '{a}', databases => '{b}');
-- a database that does not exist
CALL migrate.run_tenants(:'folder'::jsonb, databases => '{regress_no_such_database}');
-- one that allows no connections
CALL migrate.run_tenants(:'folder'::jsonb, databases => '{template0}');
-- a null, a database named twice
CALL migrate.run_tenants(:'folder'::jsonb, databases => ARRAY[NULL]::text[]);
CALL migrate.run_tenants(:'folder'::jsonb,
                         databases => ARRAY[current_database(), current_database()]);
-- a pattern that matches no database (templates are never tenants)
CALL migrate.run_tenants(:'folder'::jsonb, database_pattern => 'template%');
-- a role without CONNECT on the database
CREATE ROLE regress_tenant_databases_nobody;
GRANT USAGE ON SCHEMA migrate TO regress_tenant_databases_nobody;
GRANT EXECUTE ON PROCEDURE migrate.run_tenants(jsonb, text[], text, text, integer, integer, text, bigint, text, boolean, text, text, boolean, text[], text) TO regress_tenant_databases_nobody;
CREATE DATABASE regress_tenant_databases_closed;
REVOKE CONNECT ON DATABASE regress_tenant_databases_closed FROM PUBLIC;
SET ROLE regress_tenant_databases_nobody;
CALL migrate.run_tenants(:'folder'::jsonb, databases => '{regress_tenant_databases_closed}');
RESET ROLE;
-- nothing was recorded for any of these calls
SELECT count(*) AS outcome_rows FROM migrate.tenant_runs WHERE tenant = '';
DROP DATABASE regress_tenant_databases_closed;
REVOKE ALL ON PROCEDURE migrate.run_tenants(jsonb, text[], text, text, integer, integer, text, bigint, text, boolean, text, text, boolean, text[], text) FROM regress_tenant_databases_nobody;
REVOKE ALL ON SCHEMA migrate FROM regress_tenant_databases_nobody;
DROP ROLE regress_tenant_databases_nobody;
