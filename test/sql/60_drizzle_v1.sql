-- drizzle-kit 1.0's layout ("<timestamp>_<name>/migration.sql" beside a
-- "snapshot.json", no journal) is refused, never taken for Prisma's, whose
-- folders look the same: read as Prisma's, it would be recorded in a
-- _prisma_migrations table drizzle-orm's migrator knows nothing of.  In a
-- database of its own.
CREATE DATABASE regress_drizzle_v1;
\c regress_drizzle_v1
CREATE EXTENSION pg_migrate;
\! rm -rf @testdir@/drizzle_v1 @testdir@/prisma_snap && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/drizzle_v1" @testdir@/drizzle_v1
\set VERBOSITY default

-- detected: refused, naming the folder and a migration folder
SELECT name, state FROM migrate.status('@testdir@/drizzle_v1');
SELECT name, action FROM migrate.apply('@testdir@/drizzle_v1');
CALL migrate.run('@testdir@/drizzle_v1');
-- named as Prisma's or drizzle's: refused the same
SELECT name, action FROM migrate.apply('@testdir@/drizzle_v1', format => 'prisma');
SELECT name, action FROM migrate.apply('@testdir@/drizzle_v1', format => 'drizzle');
-- the same files sent (as the pg_migrate command sends a folder)
SELECT name FROM migrate.status('{"20250301120000_init/migration.sql": "CREATE TABLE users (id int);\n", "20250301120000_init/snapshot.json": "{}\n"}'::jsonb);
-- nothing ran, and no tool's table was created
SELECT to_regclass('public._prisma_migrations') IS NULL AS no_prisma_table,
       to_regclass('public.users') IS NULL AS nothing_ran,
       count(*) AS recorded FROM migrate.migrations WHERE name LIKE '2025030%';

-- A Prisma folder stays Prisma's with a snapshot.json in a migration
-- folder, when its migration_lock.toml is there
\! cp -R "$PG_ABS_SRCDIR/fixtures/prisma" @testdir@/prisma_snap && echo '{}' > @testdir@/prisma_snap/20240101000000_init/snapshot.json
SELECT count(*) AS migrations FROM migrate.status('@testdir@/prisma_snap');
\! rm -rf @testdir@/drizzle_v1 @testdir@/prisma_snap

\c contrib_regression
DROP DATABASE regress_drizzle_v1;
