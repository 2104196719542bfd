-- format => 'auto' says which format it found; a folder that looks like
-- two formats, or like none, is an error listing what it holds.
-- What the tests before did by hand is drift: start the fingerprint here
TRUNCATE migrate.fingerprint;
INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects();
\! rm -rf @testdir@/format_errors && mkdir -p @testdir@ && cp -R "$PG_ABS_SRCDIR/fixtures/format_errors" @testdir@/format_errors
\! rm -rf @testdir@/detect && mkdir -p @testdir@/detect && cp -R "$PG_ABS_SRCDIR/fixtures/golang" "$PG_ABS_SRCDIR/fixtures/flyway" "$PG_ABS_SRCDIR/fixtures/dbmate" "$PG_ABS_SRCDIR/fixtures/drizzle" "$PG_ABS_SRCDIR/fixtures/basic" @testdir@/detect/

SELECT count(*) FROM migrate.status('@testdir@/detect/basic');
SELECT count(*) FROM migrate.status('@testdir@/detect/golang');
SELECT count(*) FROM migrate.status('@testdir@/detect/flyway');
SELECT count(*) FROM migrate.status('@testdir@/detect/dbmate');
SELECT count(*) FROM migrate.status('@testdir@/detect/drizzle');

-- naming the format skips detection (and its NOTICE)
SELECT count(*) FROM migrate.status('@testdir@/detect/golang', format => 'golang-migrate');
-- a golang-migrate folder read as plain gives the same migrations
SELECT name FROM migrate.status('@testdir@/detect/golang', format => 'plain');

SELECT * FROM migrate.status('@testdir@/format_errors/mixed');
SELECT * FROM migrate.status('@testdir@/format_errors/mixed', format => 'flyway');
SELECT * FROM migrate.status('@testdir@/detect/basic', format => 'mybatis');
