-- Drift: an applied migration whose file changed or vanished stops apply().
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/drift && mkdir -p @testdir@/drift && cp -R "$PG_ABS_SRCDIR/fixtures/basic/." @testdir@/drift/
\! rm @testdir@/drift/10_rewards*.sql
SELECT name, action FROM migrate.apply('@testdir@/drift');

-- Edit an applied file, add a pending one: apply refuses, applies nothing
\! printf -- '-- edited\n' >> @testdir@/drift/0001_users.sql
\! printf 'CREATE TABLE pending_one (id int);\n' > @testdir@/drift/0004_pending_one.sql
\! printf 'DROP TABLE pending_one;\n' > @testdir@/drift/0004_pending_one.down.sql
SELECT name, action FROM migrate.apply('@testdir@/drift');
SELECT to_regclass('pending_one') AS pending_one;

-- Several drifted migrations are all named
\! rm @testdir@/drift/0002_lessons*.sql
SELECT name, action FROM migrate.apply('@testdir@/drift');

-- allow_drift => true warns and goes on
SELECT name, action FROM migrate.apply('@testdir@/drift', allow_drift => true);
SELECT name, state FROM migrate.status('@testdir@/drift');

-- Restoring the files ends the drift
\! cp "$PG_ABS_SRCDIR/fixtures/basic/0001_users.sql" "$PG_ABS_SRCDIR/fixtures/basic/0002_lessons.sql" @testdir@/drift/
SELECT name, state FROM migrate.status('@testdir@/drift');
SELECT name, action FROM migrate.apply('@testdir@/drift');

-- Clean up
SELECT name, action FROM migrate.rollback('0001_users');
