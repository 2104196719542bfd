-- golang-migrate folders: N_name.up.sql / N_name.down.sql, unique versions.
\! rm -rf @testdir@/golang && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/golang" @testdir@/golang

SELECT name, state FROM migrate.status('@testdir@/golang');
SELECT name, action FROM migrate.apply('@testdir@/golang');
\d gm_users
SELECT name, version, format FROM migrate.migrations ORDER BY id;
SELECT name, action FROM migrate.apply('@testdir@/golang', format => 'golang-migrate');

-- modified
\! printf -- '-- edited\n' >> @testdir@/golang/2_add_email.up.sql
SELECT name, state FROM migrate.status('@testdir@/golang');
\! cp "$PG_ABS_SRCDIR/fixtures/golang/2_add_email.up.sql" @testdir@/golang/

SELECT name, action FROM migrate.rollback('2_add_email');
SELECT name, state FROM migrate.status('@testdir@/golang');
SELECT name, action FROM migrate.apply('@testdir@/golang');

-- bad input: two migrations of one version; a file that is neither up nor down
\! rm -rf @testdir@/format_errors && cp -R "$PG_ABS_SRCDIR/fixtures/format_errors" @testdir@/format_errors
SELECT * FROM migrate.apply('@testdir@/format_errors/golang_dup');
\! printf 'SELECT 1;\n' > @testdir@/golang/3_no_suffix.sql
SELECT * FROM migrate.apply('@testdir@/golang', format => 'golang-migrate');
SELECT to_regclass('gd_a') AS gd_a;

-- clean up
SELECT name, action FROM migrate.rollback('1_create_users');
-- golang-migrate's table: created before the first migration, as
-- golang-migrate does; no row once nothing is applied
SELECT count(*) AS golang_rows FROM schema_migrations;
DROP TABLE schema_migrations;
