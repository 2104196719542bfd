# Migrations marked "-- migrate:no-transaction" run statement by statement at
# top level in a background worker: CREATE INDEX CONCURRENTLY builds without
# blocking writers, VACUUM and ALTER SYSTEM run, and ALTER TYPE ... ADD VALUE
# can be followed by a use of the new value.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = start_node('notx');

my $dir = PostgreSQL::Test::Utils::tempdir;
sub migration { write_migration($dir, @_); }

migration('0001_events.sql',
	"CREATE TABLE events (id serial PRIMARY KEY, kind text NOT NULL);\n"
	  . "INSERT INTO events (kind) SELECT 'seed' FROM generate_series(1, 1000);\n");
$node->safe_psql('postgres', "CALL migrate.run('$dir')");

# A long transaction keeps writing the table while the index is built
my $writer = $node->background_psql('postgres');
$writer->query_safe('BEGIN');
$writer->query_safe("INSERT INTO events (kind) VALUES ('during')");

migration('0002_events_kind_idx.sql',
	"-- migrate:no-transaction\n"
	  . "-- built without locking out writers\n"
	  . "CREATE INDEX CONCURRENTLY events_kind_idx ON events (kind);\n");
my $runner = $node->background_psql('postgres', on_error_stop => 0);
$runner->query_safe('SET client_min_messages = warning');
$runner->query_until(qr/started/, "\\echo started\nCALL migrate.run('$dir');\n");

# The build waits for the writer's transaction, in the worker, as the caller
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'pg_migrate worker' AND wait_event_type = 'Lock'")
  or die 'the worker never started waiting for the writer';
is( $node->safe_psql('postgres',
		"SELECT usename FROM pg_stat_activity WHERE backend_type = 'pg_migrate worker'"),
	$node->safe_psql('postgres', 'SELECT current_user'),
	'the worker runs as the calling user');

# ... and the writer is not blocked by it
my $t0 = time;
$writer->query_safe("INSERT INTO events (kind) VALUES ('still writing')");
ok(time - $t0 < 5, 'the writer keeps writing during the build');
$writer->query_safe('COMMIT');
$writer->quit;

my ($out, $err) = $runner->query('SELECT 1');
is($err, 0, 'the run completes once the writer commits');
is( $node->safe_psql('postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_kind_idx'::regclass"),
	't', 'the index is valid');
is( $node->safe_psql('postgres',
		"SELECT transaction_mode FROM migrate.migrations WHERE name = '0002_events_kind_idx'"),
	'no-transaction', 'the migration is recorded as no-transaction');

# VACUUM, ALTER SYSTEM and ADD VALUE followed by its use
migration('0003_enum_and_maintenance.sql', <<'SQL');
-- migrate:no-transaction
CREATE TYPE event_level AS ENUM ('info', 'warning');
ALTER TYPE event_level ADD VALUE 'critical';
ALTER TABLE events ADD COLUMN level event_level NOT NULL DEFAULT 'critical';
VACUUM (ANALYZE) events;
ALTER SYSTEM SET work_mem = '8MB';
SQL
# with a lock timeout, lint has nothing to warn of (query_safe fails on one)
$runner->query_safe("SET migrate.lock_timeout = '5s'");
$runner->query_safe("CALL migrate.run('$dir')");
$runner->query_safe("RESET migrate.lock_timeout");
is( $node->safe_psql('postgres', 'SELECT DISTINCT level FROM events'),
	'critical', 'a value added by ALTER TYPE is usable by the next statement');
ok( $node->safe_psql('postgres',
		"SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'events'") eq 't'
	  || $node->safe_psql('postgres',
		"SELECT vacuum_count > 0 FROM pg_stat_user_tables WHERE relname = 'events'") eq 't',
	'VACUUM ran');
is( $node->safe_psql('postgres',
		"SELECT setting FROM pg_file_settings WHERE name = 'work_mem'"),
	'8MB', 'ALTER SYSTEM ran');

# The worker runs with the caller's search_path
$node->safe_psql('postgres', 'CREATE SCHEMA app');
migration('0004_in_app_schema.sql',
	"-- migrate:no-transaction\nCREATE TABLE in_app AS SELECT"
	  . " current_setting('maintenance_work_mem') AS mwm,"
	  . " current_setting('lock_timeout') AS lt;\n");
$runner->query_safe("SET search_path = app, public");
$runner->query_safe("SET maintenance_work_mem = '77MB'");
$runner->query_safe("SET lock_timeout = '7s'");
$runner->query_safe("CALL migrate.run('$dir')");
is($node->safe_psql('postgres', "SELECT to_regclass('app.in_app') IS NOT NULL"),
	't', 'the worker used the caller\'s search_path');
is($node->safe_psql('postgres', "SELECT mwm || ' ' || lt FROM app.in_app"),
	'77MB 7s', 'and its maintenance_work_mem and lock_timeout');
$runner->query_safe("RESET search_path; RESET maintenance_work_mem; RESET lock_timeout");

# After SET ROLE to a role that cannot log in, the worker still runs as it
$node->safe_psql('postgres', q{
	CREATE ROLE app_owner NOLOGIN;
	GRANT CREATE ON SCHEMA public TO app_owner;
	GRANT USAGE ON SCHEMA migrate TO app_owner;
	GRANT EXECUTE ON PROCEDURE migrate.run(text, text, boolean, text, boolean) TO app_owner;
	GRANT pg_read_server_files TO app_owner;
	ALTER TABLE events OWNER TO app_owner;
});
migration('0004b_as_role.sql',
	"-- migrate:no-transaction\nCREATE TABLE owned_by_role (id int);\n"
	  . "CREATE INDEX CONCURRENTLY events_id_kind_idx ON events (id, kind);\n");
$runner->query_safe("SET ROLE app_owner");
$runner->query_safe("CALL migrate.run('$dir')");
$runner->query_safe("RESET ROLE");
is( $node->safe_psql('postgres',
		"SELECT tableowner FROM pg_tables WHERE tablename = 'owned_by_role'"),
	'app_owner', 'the worker runs as the current role, not the login role');
is( $node->safe_psql('postgres',
		"SELECT applied_by FROM migrate.migrations WHERE name = '0004b_as_role'"),
	'app_owner', 'and the tracking row names that role');

# The caller holds no snapshot while the worker builds, even when its
# session defaults to REPEATABLE READ (else the build would wait on it)
migration('0004c_repeatable_read.sql',
	"-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY events_level_idx ON events (level);\n");
$runner->query_safe("SET default_transaction_isolation = 'repeatable read'");
$runner->query_safe("SET statement_timeout = '60s'");
$runner->query_safe("CALL migrate.run('$dir')");
$runner->query_safe("RESET default_transaction_isolation");
$runner->query_safe("RESET statement_timeout");
is( $node->safe_psql('postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_level_idx'::regclass"),
	't', 'a REPEATABLE READ caller does not hold the build back');

# A failed CREATE UNIQUE INDEX CONCURRENTLY leaves an invalid index: the
# migration shows as failed and the hint says what to drop
$node->safe_psql('postgres', "INSERT INTO events (kind) VALUES ('dup'), ('dup')");
migration('0005_unique_kind.sql',
	"-- migrate:no-transaction\n\nCREATE UNIQUE INDEX CONCURRENTLY events_kind_key ON events (kind);\n");
my ($ret, $stdout, $stderr) = $node->psql('postgres', "CALL migrate.run('$dir')");
like($stderr, qr/could not create unique index "events_kind_key"/,
	'the worker\'s error comes back to the caller');
like($stderr, qr/DETAIL:  Key \(kind\)=\(.*\) is duplicated/,
	'with its detail');
like($stderr, qr/HINT:.*it drops the invalid index the migration left and builds it again/,
	'the hint says the next run drops the invalid index and builds it again');
like($stderr, qr/HINT:.*SELECT migrate\.retry\('0005_unique_kind'\);/,
	'and, the failure not being transient, the retry the next run needs');
like($stderr, qr/migration 0005_unique_kind\.sql, line 3/, 'and the file and line');
is( $node->safe_psql('postgres',
		"SELECT state FROM migrate.status('$dir') WHERE name = '0005_unique_kind'"),
	'failed', 'status shows the migration as failed');
is( $node->safe_psql('postgres',
		"SELECT sqlstate || ' ' || line FROM migrate.history WHERE action = 'failure'"),
	'23505 3', 'the failure is logged');

# Doing what the hint says lets the next run build the index
$node->safe_psql('postgres', "UPDATE events SET kind = kind || ' ' || id");
$node->safe_psql('postgres',
	"DROP INDEX CONCURRENTLY public.events_kind_key; SELECT migrate.retry('0005_unique_kind');");
$node->safe_psql('postgres', "CALL migrate.run('$dir')");
is( $node->safe_psql('postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_kind_key'::regclass"),
	't', 'after the hint\'s commands, the next run builds the index');
migration('0006_kind_again.sql',
	"-- migrate:no-transaction\n\nCREATE INDEX CONCURRENTLY events_kind2_idx ON events (kind);\n");

# apply() refuses such migrations before running anything
($ret, $stdout, $stderr) = $node->psql('postgres',
	"SELECT * FROM migrate.apply('$dir')");
like($stderr, qr/cannot run inside a transaction.*HINT:.*CALL migrate\.run/s,
	'apply refuses a no-transaction migration, pointing at run');

$node->stop;
done_testing();
