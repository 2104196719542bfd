-- Drift: an applied migration whose file changed or vanished stops apply().
\! rm -rf /tmp/pg_migrate_regress/drift && mkdir -p /tmp/pg_migrate_regress/drift && cp -R "$PG_ABS_SRCDIR/test/fixtures/basic/." /tmp/pg_migrate_regress/drift/
\! rm /tmp/pg_migrate_regress/drift/10_rewards*.sql
SELECT name, action FROM migrate.apply('/tmp/pg_migrate_regress/drift');

-- Edit an applied file, add a pending one: apply refuses, applies nothing
\! printf -- '-- edited\n' >> /tmp/pg_migrate_regress/drift/0001_users.sql
\! printf 'CREATE TABLE pending_one (id int);\n' > /tmp/pg_migrate_regress/drift/0004_pending_one.sql
\! printf 'DROP TABLE pending_one;\n' > /tmp/pg_migrate_regress/drift/0004_pending_one.down.sql
SELECT name, action FROM migrate.apply('/tmp/pg_migrate_regress/drift');
SELECT to_regclass('pending_one') AS pending_one;

-- Several drifted migrations are all named
\! rm /tmp/pg_migrate_regress/drift/0002_lessons*.sql
SELECT name, action FROM migrate.apply('/tmp/pg_migrate_regress/drift');

-- allow_drift => true warns and goes on
SELECT name, action FROM migrate.apply('/tmp/pg_migrate_regress/drift', allow_drift => true);
SELECT name, state FROM migrate.status('/tmp/pg_migrate_regress/drift');

-- Restoring the files ends the drift
\! cp "$PG_ABS_SRCDIR/test/fixtures/basic/0001_users.sql" "$PG_ABS_SRCDIR/test/fixtures/basic/0002_lessons.sql" /tmp/pg_migrate_regress/drift/
SELECT name, state FROM migrate.status('/tmp/pg_migrate_regress/drift');
SELECT name, action FROM migrate.apply('/tmp/pg_migrate_regress/drift');

-- Clean up
SELECT name, action FROM migrate.rollback('0001_users');
