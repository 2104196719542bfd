-- golang-migrate folders: N_name.up.sql / N_name.down.sql, unique versions.
\! rm -rf /tmp/pg_migrate_regress/golang && mkdir -p /tmp/pg_migrate_regress && cp -R "$PG_ABS_SRCDIR/test/fixtures/golang" /tmp/pg_migrate_regress/golang

SELECT name, state FROM migrate.status('/tmp/pg_migrate_regress/golang');
SELECT name, action FROM migrate.apply('/tmp/pg_migrate_regress/golang');
\d gm_users
SELECT name, version, format FROM migrate.migrations ORDER BY id;
SELECT name, action FROM migrate.apply('/tmp/pg_migrate_regress/golang', format => 'golang-migrate');

-- modified
\! printf -- '-- edited\n' >> /tmp/pg_migrate_regress/golang/2_add_email.up.sql
SELECT name, state FROM migrate.status('/tmp/pg_migrate_regress/golang');
\! cp "$PG_ABS_SRCDIR/test/fixtures/golang/2_add_email.up.sql" /tmp/pg_migrate_regress/golang/

SELECT name, action FROM migrate.rollback('2_add_email');
SELECT name, state FROM migrate.status('/tmp/pg_migrate_regress/golang');
SELECT name, action FROM migrate.apply('/tmp/pg_migrate_regress/golang');

-- bad input: two migrations of one version; a file that is neither up nor down
\! rm -rf /tmp/pg_migrate_regress/format_errors && cp -R "$PG_ABS_SRCDIR/test/fixtures/format_errors" /tmp/pg_migrate_regress/format_errors
SELECT * FROM migrate.apply('/tmp/pg_migrate_regress/format_errors/golang_dup');
\! printf 'SELECT 1;\n' > /tmp/pg_migrate_regress/golang/3_no_suffix.sql
SELECT * FROM migrate.apply('/tmp/pg_migrate_regress/golang', format => 'golang-migrate');
SELECT to_regclass('gd_a') AS gd_a;

-- clean up
SELECT name, action FROM migrate.rollback('1_create_users');
-- golang-migrate's table: created before the first migration, as
-- golang-migrate does; no row once nothing is applied
SELECT count(*) AS golang_rows FROM schema_migrations;
DROP TABLE schema_migrations;
