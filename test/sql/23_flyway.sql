-- Flyway folders: V<version>__desc.sql, undo U<version>__desc.sql, and
-- repeatable R__desc.sql that runs after the others whenever it changes.
\! rm -rf @testdir@/flyway && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/flyway" @testdir@/flyway

-- versions compare part by part as numbers: 1 < 1.1 < 1.10 < 2; R__ last
SELECT name, state FROM migrate.status('@testdir@/flyway');
SELECT name, action FROM migrate.apply('@testdir@/flyway');
SELECT name, version, repeatable, down_sql IS NOT NULL AND NOT down_generated AS has_undo, down_generated FROM migrate.migrations ORDER BY id;
SELECT name, action FROM migrate.apply('@testdir@/flyway');

-- a changed repeatable migration is pending again, and runs again
\! printf 'CREATE OR REPLACE VIEW fw_user_emails AS SELECT id, email, true AS active FROM fw_users;\n' > @testdir@/flyway/R__user_emails.sql
SELECT name, state FROM migrate.status('@testdir@/flyway') WHERE name LIKE 'R%';
SELECT name, action FROM migrate.apply('@testdir@/flyway');
SELECT column_name FROM information_schema.columns WHERE table_name = 'fw_user_emails' ORDER BY ordinal_position;
SELECT action, name FROM migrate.history WHERE name = 'R__user_emails' ORDER BY id;

-- a changed versioned migration is modified (drift)
\! printf -- '-- edited\n' >> @testdir@/flyway/V2__lessons.sql
SELECT name, state FROM migrate.status('@testdir@/flyway') WHERE state <> 'applied';
\! cp "$PG_ABS_SRCDIR/fixtures/flyway/V2__lessons.sql" @testdir@/flyway/

-- undo scripts roll back versioned migrations; repeatables stay
SELECT name, action FROM migrate.rollback('V1_10__ten');
SELECT name, state FROM migrate.status('@testdir@/flyway');

-- bad input: a name that does not parse, duplicate versions, an orphan undo
\! rm -rf @testdir@/format_errors && cp -R "$PG_ABS_SRCDIR/fixtures/format_errors" @testdir@/format_errors
SELECT * FROM migrate.apply('@testdir@/format_errors/flyway_name');
SELECT * FROM migrate.apply('@testdir@/format_errors/flyway_dup');
SELECT * FROM migrate.apply('@testdir@/format_errors/flyway_undo');
SELECT to_regclass('fn_ok') AS fn_ok, to_regclass('fd_a') AS fd_a, to_regclass('fu_a') AS fu_a;

-- clean up: the repeatable view depends on the column V1.1 added, and V1
-- has no undo script, so part of it is by hand
DROP VIEW fw_user_emails;
DELETE FROM migrate.migrations WHERE name = 'R__user_emails';
SELECT name, action FROM migrate.rollback('V1_1__add_email');
DROP TABLE fw_users;
DELETE FROM migrate.migrations;
