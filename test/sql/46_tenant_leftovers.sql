-- Tenant leftovers (issue 19): migrate.schema_objects() of given schemas
-- reads their objects by the catalogs' indexes (0.6), and its rows are
-- those 0.5's read of the whole catalog gave, byte for byte, for every
-- class of object; migrate.run_jobs is kept by pg_dump; start_tenants
-- and run_tenants refuse a null on_failure before anything starts.  In a
-- database of its own, created at 0.5 and updated.
CREATE DATABASE regress_tenant_leftovers;
\c regress_tenant_leftovers
CREATE EXTENSION pg_migrate VERSION '0.5';
SET migrate.lint = off;
SET migrate.ddl_policy = off;

-- every class of object schema_objects() describes, in three schemas (one
-- whose name needs quotes) that reference each other, beside other
-- tools' tracking tables, which it leaves out
CREATE SCHEMA app;
CREATE SCHEMA "Odd ""Name""";
CREATE SCHEMA other;
CREATE ROLE regress_leftovers_reader;
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN app.posint AS int NOT NULL DEFAULT 1 CONSTRAINT posint_positive CHECK (VALUE > 0);
CREATE TYPE app.pair AS (a int, b text);
CREATE SEQUENCE app.counter AS int INCREMENT 5 MINVALUE 10 MAXVALUE 1000 START 20 CACHE 2 CYCLE;
CREATE TABLE other.plans (id int PRIMARY KEY, name text UNIQUE);
CREATE TABLE app.accounts (
    id serial PRIMARY KEY,
    code bigint GENERATED ALWAYS AS IDENTITY,
    name text COLLATE "C" NOT NULL DEFAULT 'nobody',
    mood app.mood,
    n app.posint,
    twice int GENERATED ALWAYS AS (id * 2) STORED,
    span int4range,
    plan int REFERENCES other.plans (id) ON DELETE CASCADE,
    ticket int DEFAULT nextval('app.counter'),
    CONSTRAINT name_length CHECK (length(name) < 100),
    CONSTRAINT name_unique UNIQUE (name),
    CONSTRAINT no_overlap EXCLUDE USING gist (span WITH &&)
) WITH (fillfactor = 90);
ALTER TABLE app.accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.accounts FORCE ROW LEVEL SECURITY;
GRANT SELECT (name) ON app.accounts TO regress_leftovers_reader;
GRANT SELECT ON app.accounts TO regress_leftovers_reader;
CREATE INDEX accounts_lower ON app.accounts (lower(name)) WHERE id > 10;
CREATE UNIQUE INDEX accounts_code ON app.accounts (code) INCLUDE (mood);
CREATE POLICY readers ON app.accounts FOR SELECT TO regress_leftovers_reader
    USING (id > 0);
CREATE POLICY writers ON app.accounts AS RESTRICTIVE FOR INSERT WITH CHECK (n > 1);
CREATE UNLOGGED TABLE app.scratch (x int);
CREATE TABLE app.events (at date NOT NULL, what text) PARTITION BY RANGE (at);
CREATE TABLE app.events_2026 PARTITION OF app.events
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX events_at ON app.events (at);
CREATE VIEW app.names WITH (security_barrier) AS SELECT id, name FROM app.accounts;
CREATE MATERIALIZED VIEW app.counts AS SELECT count(*) AS n FROM app.accounts;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.name := lower(NEW.name);
    RETURN NEW;
END
$$;
CREATE FUNCTION app.add(a int, b int DEFAULT 1) RETURNS int LANGUAGE sql IMMUTABLE
    AS $$ SELECT a + b $$;
CREATE PROCEDURE app.reset(n int) LANGUAGE sql AS $$ DELETE FROM app.scratch WHERE x > n $$;
CREATE AGGREGATE app.total(int) (sfunc = int4pl, stype = int, initcond = '0');
REVOKE ALL ON FUNCTION app.add(int, int) FROM PUBLIC;
CREATE TRIGGER accounts_touch BEFORE INSERT OR UPDATE OF name ON app.accounts
    FOR EACH ROW WHEN (NEW.name IS NOT NULL) EXECUTE FUNCTION app.touch();
CREATE TRIGGER accounts_off AFTER DELETE ON app.accounts
    FOR EACH STATEMENT EXECUTE FUNCTION app.touch();
ALTER TABLE app.accounts DISABLE TRIGGER accounts_off;
CREATE FOREIGN DATA WRAPPER regress_leftovers_fdw;
CREATE SERVER regress_leftovers_server FOREIGN DATA WRAPPER regress_leftovers_fdw;
CREATE FOREIGN TABLE app.remote (id int NOT NULL, v text) SERVER regress_leftovers_server;
CREATE TABLE "Odd ""Name"""."Table ""T""" (id int PRIMARY KEY, m app.mood,
                                          CHECK (m <> 'sad'));
CREATE VIEW other.odd AS SELECT t.id, app.add(t.id) FROM "Odd ""Name"""."Table ""T""" t;
CREATE TABLE other.schema_migrations (version bigserial PRIMARY KEY);
CREATE TABLE other.dropped (a int, b int);
ALTER TABLE other.dropped DROP COLUMN a;
COMMENT ON TABLE app.accounts IS 'comments are not in the fingerprint';

-- 0.5's rows: every schema, each schema alone, two schemas and names
-- that match none (unquoted, unknown, null)
CREATE TEMP TABLE old_rows AS
SELECT s.name AS asked, o.*
FROM (VALUES ('all', NULL::text[]), ('app', '{app}'), ('odd', '{"\"Odd \"\"Name\"\"\""}'),
             ('other', '{other}'), ('two', '{other,app,app}'), ('none', '{}'),
             ('unquoted', '{"Odd \"Name\""}'), ('nulls', '{NULL,nowhere,APP}'),
             ('migrate', '{migrate,pg_catalog,information_schema}')) s(name, schemas)
CROSS JOIN LATERAL migrate.schema_objects(s.schemas) o;
SELECT asked, object_type, count(*) FROM old_rows GROUP BY 1, 2 ORDER BY 1, 2;

ALTER EXTENSION pg_migrate UPDATE TO '0.6';
-- 0.6's: the same rows, byte for byte (none listed below)
CREATE TEMP TABLE new_rows AS
SELECT s.name AS asked, o.*
FROM (VALUES ('all', NULL::text[]), ('app', '{app}'), ('odd', '{"\"Odd \"\"Name\"\"\""}'),
             ('other', '{other}'), ('two', '{other,app,app}'), ('none', '{}'),
             ('unquoted', '{"Odd \"Name\""}'), ('nulls', '{NULL,nowhere,APP}'),
             ('migrate', '{migrate,pg_catalog,information_schema}')) s(name, schemas)
CROSS JOIN LATERAL migrate.schema_objects(s.schemas) o;
SELECT count(*) AS rows, count(DISTINCT asked) AS asked FROM new_rows;
(SELECT 'only 0.5' AS side, * FROM old_rows EXCEPT ALL SELECT 'only 0.5', * FROM new_rows)
UNION ALL
(SELECT 'only 0.6', * FROM new_rows EXCEPT ALL SELECT 'only 0.6', * FROM old_rows);
-- each schema's rows are its rows among every schema's
SELECT n.asked, count(*) FROM new_rows n
WHERE n.asked IN ('app', 'odd', 'other')
  AND NOT EXISTS (SELECT FROM new_rows a
                  WHERE a.asked = 'all' AND a.schema_name = n.schema_name
                    AND a.object_type = n.object_type
                    AND a.object_identity = n.object_identity
                    AND a.digest = n.digest
                    AND a.refs IS NOT DISTINCT FROM n.refs)
GROUP BY 1;
-- refs name the other schemas an object depends on
SELECT object_type, object_identity, refs FROM new_rows
WHERE asked = 'all' AND refs IS NOT NULL ORDER BY 1, 2;

-- the same in a session whose plan is made already, after the catalog
-- changed under it
SELECT count(*) FROM migrate.schema_objects('{app}');
ALTER TABLE app.accounts ADD COLUMN extra int;
CREATE SCHEMA later;
CREATE TABLE later.t (id int);
SELECT schema_name, object_type, object_identity FROM migrate.schema_objects('{later,app}')
WHERE object_identity LIKE '%extra' OR schema_name = 'later' ORDER BY 1, 2, 3;

-- a run with no archive to drop leaves the session's cached plans alone:
-- it purged the expired archives as the archive's owner with
-- session_replication_role = replica, whose every change flushes them, so
-- that a worker migrating tenant after tenant planned schema_objects() and
-- every other query again for each (no LOG line below: nothing planned)
PREPARE cached AS SELECT count(*) > 0 FROM pg_catalog.pg_class;
EXECUTE cached;
SELECT name, action FROM migrate.apply('{"0001_cached.sql": "CREATE TABLE other.cached (id int);\n"}'::jsonb);
\set VERBOSITY terse
SET client_min_messages = log;
SET log_planner_stats = on;
EXECUTE cached;
SET log_planner_stats = off;
RESET client_min_messages;
\set VERBOSITY default
DEALLOCATE cached;

-- pg_dump keeps migrate.start()'s runs (queued and finished), as it keeps
-- the tenants' outcomes and the run ids (TAP 015 dumps and restores one)
SELECT c.relname FROM pg_extension e, unnest(e.extconfig) t(oid)
JOIN pg_class c ON c.oid = t.oid
WHERE e.extname = 'pg_migrate' AND c.relname LIKE 'run%'
ORDER BY 1;

-- a null on_failure is refused, and nothing is queued or recorded
\set folder '{"0001_t.sql": "CREATE TABLE t (id int);\\n"}'
\set VERBOSITY default
SELECT migrate.start_tenants(:'folder'::jsonb, tenants => '{other}', on_failure => NULL);
CALL migrate.run_tenants(:'folder'::jsonb, tenants => '{other}', on_failure => NULL);
\set VERBOSITY terse
SELECT (SELECT count(*) FROM migrate.run_jobs) AS runs,
       (SELECT count(*) FROM migrate.tenant_runs) AS tenants;

\c contrib_regression
DROP DATABASE regress_tenant_leftovers;
DROP ROLE regress_leftovers_reader;
