# The background worker reports each statement it runs the way a client
# backend does: pg_stat_activity shows the statement (not only the file),
# with its start time.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = start_node('activity');
my $dir = PostgreSQL::Test::Utils::tempdir;

write_migration($dir, '0001_slow.sql',
	"-- migrate:no-transaction\nSELECT 1;\nSELECT pg_sleep(60) AS worker_statement_marker;\n");

my $runner = $node->background_psql('postgres', on_error_stop => 0);
$runner->query_safe('SET client_min_messages = warning');
my $pid = $runner->query_safe('SELECT pg_backend_pid()');
$runner->query_until(qr/started/, "\\echo started\nCALL migrate.run('$dir');\n");

ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE backend_type = 'pg_migrate worker'
		   AND query = 'SELECT pg_sleep(60) AS worker_statement_marker'
		   AND state = 'active'"),
	'pg_stat_activity shows the statement the worker runs');
is( $node->safe_psql('postgres',
		"SELECT query_start >= backend_start AND query_start > xact_start - interval '1 second'
		 FROM pg_stat_activity WHERE backend_type = 'pg_migrate worker'"),
	't', 'with the statement\'s start time');

$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$runner->query('SELECT 1');
$runner->quit;
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_migrate worker'"),
	'the worker stops with the caller');

$node->stop;
done_testing();
