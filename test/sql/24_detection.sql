-- format => 'auto' says which format it found; a folder that looks like
-- two formats, or like none, is an error listing what it holds.
\! rm -rf /tmp/pg_migrate_regress/format_errors && mkdir -p /tmp/pg_migrate_regress && cp -R "$PG_ABS_SRCDIR/test/fixtures/format_errors" /tmp/pg_migrate_regress/format_errors
\! rm -rf /tmp/pg_migrate_regress/detect && mkdir -p /tmp/pg_migrate_regress/detect && cp -R "$PG_ABS_SRCDIR/test/fixtures/golang" "$PG_ABS_SRCDIR/test/fixtures/flyway" "$PG_ABS_SRCDIR/test/fixtures/dbmate" "$PG_ABS_SRCDIR/test/fixtures/drizzle" "$PG_ABS_SRCDIR/test/fixtures/basic" /tmp/pg_migrate_regress/detect/

SELECT count(*) FROM migrate.status('/tmp/pg_migrate_regress/detect/basic');
SELECT count(*) FROM migrate.status('/tmp/pg_migrate_regress/detect/golang');
SELECT count(*) FROM migrate.status('/tmp/pg_migrate_regress/detect/flyway');
SELECT count(*) FROM migrate.status('/tmp/pg_migrate_regress/detect/dbmate');
SELECT count(*) FROM migrate.status('/tmp/pg_migrate_regress/detect/drizzle');

-- naming the format skips detection (and its NOTICE)
SELECT count(*) FROM migrate.status('/tmp/pg_migrate_regress/detect/golang', format => 'golang-migrate');
-- a golang-migrate folder read as plain gives the same migrations
SELECT name FROM migrate.status('/tmp/pg_migrate_regress/detect/golang', format => 'plain');

SELECT * FROM migrate.status('/tmp/pg_migrate_regress/format_errors/mixed');
SELECT * FROM migrate.status('/tmp/pg_migrate_regress/format_errors/mixed', format => 'flyway');
SELECT * FROM migrate.status('/tmp/pg_migrate_regress/detect/basic', format => 'liquibase');
