-- Drift from the schema's fingerprint: what changed outside migrations,
-- found from the catalog alone (no event trigger is needed), one row per
-- object; status warns of it and check fails on it.
\! rm -rf @testdir@/schema_drift && mkdir -p @testdir@/schema_drift && cp -R "$PG_ABS_SRCDIR/fixtures/schema_drift/." @testdir@/schema_drift/
SET migrate.lint = off;
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
CREATE ROLE regress_drift_reader;
-- the descriptions name owners: the test's own role is written ME; a
-- view's is left out, as PostgreSQL versions deparse views differently
\set drift 'SELECT object_type, object_identity, change, CASE WHEN object_type <> \'view\' THEN replace(description, current_user, \'ME\') END AS description FROM migrate.drift()'

-- nothing has drifted after a clean apply
SELECT name, action FROM migrate.apply('@testdir@/schema_drift', target => '0001_shop');
:drift;
SELECT object_type, count(*) FROM migrate.fingerprint
WHERE object_identity LIKE '%shop%' GROUP BY 1 ORDER BY 1;

-- one change of each class, made by hand
ALTER TABLE shop.orders ALTER COLUMN note TYPE varchar(100);
ALTER TABLE shop.orders ALTER COLUMN status SET DEFAULT 'paid';
ALTER TABLE shop.orders DROP CONSTRAINT orders_customer_len;
CREATE INDEX orders_status ON shop.orders (status);
DROP INDEX shop.orders_customer;
CREATE OR REPLACE VIEW shop.open_orders AS
    SELECT id, customer, total FROM shop.orders WHERE status = 'new';
CREATE OR REPLACE FUNCTION shop.order_total(bigint) RETURNS numeric LANGUAGE sql STABLE
    AS $$ SELECT coalesce(total, 0) FROM shop.orders WHERE id = $1 $$;
ALTER TABLE shop.orders DISABLE TRIGGER orders_touch;
ALTER SEQUENCE shop.invoice_no INCREMENT BY 10;
ALTER TYPE shop.status ADD VALUE 'refunded';
ALTER DOMAIN shop.price SET DEFAULT 1;
DROP POLICY orders_own ON shop.orders;
GRANT EXECUTE ON FUNCTION shop.touch() TO regress_drift_reader;
ALTER TABLE shop.items ADD COLUMN price shop.price;
-- a table dropped or created is one row, not one per column
DROP TABLE shop.items;
CREATE TABLE shop.hotfix (id int PRIMARY KEY, why text);
:drift ORDER BY 1, 2;

-- the same with event triggers out of the way
SET session_replication_role = replica;
ALTER TABLE shop.orders ADD COLUMN replica_col int;
RESET session_replication_role;
:drift WHERE object_identity LIKE '%replica_col';

-- status says so, check fails and names them
SELECT name, state FROM migrate.status('@testdir@/schema_drift');
SELECT migrate.check('@testdir@/schema_drift');

-- not drift: temporary objects, pg_migrate's own tables, another tool's
-- tracking table, and a change undone
CREATE TEMP TABLE scratch (id int);
CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL);
ALTER TABLE shop.orders DROP COLUMN replica_col;
SELECT count(*) AS drifted FROM migrate.drift();
DROP TABLE schema_migrations;

-- a migration does not hide earlier drift: apply and rollback keep it
SELECT name, action FROM migrate.apply('@testdir@/schema_drift');
SELECT count(*) AS drifted,
       count(*) FILTER (WHERE object_identity LIKE '%refunds%') AS from_migration
FROM migrate.drift();
SELECT name, action FROM migrate.rollback('0002_refunds');
SELECT count(*) AS drifted FROM migrate.drift();

-- a failed apply changes no fingerprint
\! printf 'CREATE TABLE shop.never (id int);\nSELECT 1/0;\n' > @testdir@/schema_drift/0003_fails.sql
SELECT name, action FROM migrate.apply('@testdir@/schema_drift');
\! rm @testdir@/schema_drift/0003_fails.sql
SELECT count(*) AS drifted FROM migrate.drift();

-- undoing the hotfixes by hand ends their drift
DROP TABLE shop.hotfix;
:drift WHERE object_identity LIKE '%hotfix%';

-- mark_applied says the schema has what the migration makes, however it
-- got there: it takes the whole schema, earlier drift included
SELECT name, action FROM migrate.forget('0001_shop');
SELECT name, action FROM migrate.mark_applied('@testdir@/schema_drift', '0001_shop');
SELECT count(*) AS drifted FROM migrate.drift();
SELECT migrate.check('@testdir@/schema_drift');

-- left as the next tests expect
SELECT name, action FROM migrate.rollback('0001_shop');
DROP ROLE regress_drift_reader;
RESET migrate.lint;
