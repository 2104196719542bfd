-- Prisma Migrate's folders: "<timestamp>_<name>/migration.sql" beside
-- migration_lock.toml, and Prisma's own table, _prisma_migrations, adopted
-- and kept in step.
SET migrate.generate_down = off;
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/prisma && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/prisma" @testdir@/prisma

-- detected by its layout; ordered by folder name; "down.sql" beside a
-- migration.sql is its down script
SELECT name, state FROM migrate.status('@testdir@/prisma');
SELECT name, action FROM migrate.apply('@testdir@/prisma');
SELECT name, format, down_sql IS NOT NULL AS has_down FROM migrate.migrations ORDER BY id;
\d "Post"

-- Prisma's table, created as Prisma creates it, holds a finished row per
-- migration, as Prisma writes it: the SHA-256 hex of migration.sql, a
-- version 4 UUID, one step applied
SELECT migration_name,
       checksum = encode(sha256(pg_read_binary_file('@testdir@/prisma/' || migration_name || '/migration.sql')), 'hex') AS prisma_checksum,
       id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' AS uuid,
       finished_at IS NOT NULL AS finished, rolled_back_at IS NULL AS not_rolled_back,
       started_at IS NOT NULL AS started, logs IS NULL AS no_logs, applied_steps_count
  FROM _prisma_migrations ORDER BY migration_name;
\d _prisma_migrations

-- rollback deletes the migration's row: Prisma sees it pending again
SELECT name, action FROM migrate.rollback('20240102000000_add_posts');
SELECT migration_name FROM _prisma_migrations ORDER BY migration_name;

-- a changed migration.sql is drift, as for every format
\! printf -- '-- edited\n' >> @testdir@/prisma/20240101000000_init/migration.sql
SELECT name, state FROM migrate.status('@testdir@/prisma');
\! cp "$PG_ABS_SRCDIR/fixtures/prisma/20240101000000_init/migration.sql" @testdir@/prisma/20240101000000_init/

-- Adopting what "prisma migrate deploy" applied: rows written as Prisma
-- writes them.  The second migration's first attempt failed and was
-- resolved as rolled back ("prisma migrate resolve --rolled-back"), then
-- applied; the third never ran.
DELETE FROM migrate.migrations WHERE name = '20240101000000_init';
DROP TABLE "User";
DROP TYPE "Role";
DELETE FROM _prisma_migrations;
CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');
CREATE TABLE "User" ("id" SERIAL NOT NULL, "email" TEXT NOT NULL, "role" "Role" NOT NULL DEFAULT 'USER', CONSTRAINT "User_pkey" PRIMARY KEY ("id"));
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE TABLE "Post" ("id" SERIAL NOT NULL, "title" TEXT NOT NULL, "authorId" INTEGER NOT NULL, CONSTRAINT "Post_pkey" PRIMARY KEY ("id"));
ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count) VALUES
  ('0d4f1b1e-5b8e-4a4a-9a53-0c8d0f6f1a01', encode(sha256(pg_read_binary_file('@testdir@/prisma/20240101000000_init/migration.sql')), 'hex'), now(), '20240101000000_init', NULL, NULL, now(), 1),
  ('0d4f1b1e-5b8e-4a4a-9a53-0c8d0f6f1a02', encode(sha256(pg_read_binary_file('@testdir@/prisma/20240102000000_add_posts/migration.sql')), 'hex'), NULL, '20240102000000_add_posts', 'ERROR: relation "User" does not exist', now(), now(), 0),
  ('0d4f1b1e-5b8e-4a4a-9a53-0c8d0f6f1a03', encode(sha256(pg_read_binary_file('@testdir@/prisma/20240102000000_add_posts/migration.sql')), 'hex'), now(), '20240102000000_add_posts', NULL, NULL, now(), 1);
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
SELECT name, state FROM migrate.status('@testdir@/prisma');
SELECT name, action FROM migrate.apply('@testdir@/prisma');
SELECT migration_name, finished_at IS NOT NULL AS finished, rolled_back_at IS NOT NULL AS rolled_back
  FROM _prisma_migrations ORDER BY migration_name, rolled_back;

-- A migration that failed and was not resolved: Prisma refuses to go on
-- (its error P3009), and so does pg_migrate, before changing anything
INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
  VALUES ('0d4f1b1e-5b8e-4a4a-9a53-0c8d0f6f1a04', 'x', NULL, '20240104000000_broken', 'ERROR: syntax error', NULL, now(), 0);
SELECT name, state FROM migrate.status('@testdir@/prisma');
SELECT name, action FROM migrate.rollback('20240103000000_posts_index');
-- resolved as Prisma's "migrate resolve --rolled-back" does
UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = '20240104000000_broken';
SELECT name, action FROM migrate.rollback('20240103000000_posts_index');
SELECT migration_name FROM _prisma_migrations WHERE rolled_back_at IS NULL ORDER BY migration_name;

-- a file edited after Prisma applied it is adopted with a warning; a file
-- whose line breaks alone changed is not (Prisma accepts both)
DELETE FROM migrate.migrations WHERE format = 'prisma';
\! sed -i 's/$/\r/' @testdir@/prisma/20240101000000_init/migration.sql
\! printf -- '-- edited\n' >> @testdir@/prisma/20240102000000_add_posts/migration.sql
SELECT name, state FROM migrate.status('@testdir@/prisma');
\! cp "$PG_ABS_SRCDIR/fixtures/prisma/20240101000000_init/migration.sql" @testdir@/prisma/20240101000000_init/
\! cp "$PG_ABS_SRCDIR/fixtures/prisma/20240102000000_add_posts/migration.sql" @testdir@/prisma/20240102000000_add_posts/

-- bad input: a folder generated for another database; a migration folder
-- without its migration.sql
\! mkdir -p @testdir@/prisma_mysql/20240101000000_init && printf 'provider = "mysql"\n' > @testdir@/prisma_mysql/migration_lock.toml && printf 'CREATE TABLE t (id int);\n' > @testdir@/prisma_mysql/20240101000000_init/migration.sql
SELECT * FROM migrate.status('@testdir@/prisma_mysql');
\! mkdir -p @testdir@/prisma/20240105000000_empty
SELECT * FROM migrate.status('@testdir@/prisma');
\! rmdir @testdir@/prisma/20240105000000_empty
-- Prisma runs folders by name, pg_migrate by number: where the two orders
-- differ, the folder is refused rather than run in another order
\! mkdir -p @testdir@/prisma_order/9_a @testdir@/prisma_order/10_b && printf 'SELECT 1;\n' > @testdir@/prisma_order/9_a/migration.sql && printf 'SELECT 1;\n' > @testdir@/prisma_order/10_b/migration.sql
SELECT * FROM migrate.status('@testdir@/prisma_order');
-- two folders of one number are two migrations, as Prisma keys on names
\! mv @testdir@/prisma_order/10_b @testdir@/prisma_order/9_b
SELECT name, state FROM migrate.status('@testdir@/prisma_order');
-- a Prisma folder named with another format finds nothing there
SELECT * FROM migrate.status('@testdir@/prisma', format => 'plain');

-- sent as data, with its subfolders, as the pg_migrate command sends it
SELECT name, state FROM migrate.status(jsonb_build_object(
  'migration_lock.toml', 'provider = "postgresql"',
  '20240101000000_init/migration.sql', pg_read_file('@testdir@/prisma/20240101000000_init/migration.sql'),
  '20240102000000_add_posts/migration.sql', pg_read_file('@testdir@/prisma/20240102000000_add_posts/migration.sql')),
  source => 'client:test:prisma');

-- clean up
DELETE FROM migrate.migrations WHERE format = 'prisma';
DROP TABLE "Post", "User", _prisma_migrations;
DROP TYPE "Role";
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
