# Cancelling, timing out or terminating migrate.run() while a no-transaction
# migration runs in the background worker stops the worker too: no orphan
# keeps running, the failure is logged, and the run lock is released.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = start_node('cancel');

my $dir = PostgreSQL::Test::Utils::tempdir;
sub migration { write_migration($dir, @_); }

sub worker_count
{
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_migrate worker'");
}

migration('0001_table.sql', "CREATE TABLE t (id int);\n");
migration('0002_slow.sql',
	"-- migrate:no-transaction\nCREATE TABLE IF NOT EXISTS before_sleep (id int);\nSELECT pg_sleep(300);\n");

# Cancel the caller (as a client's Ctrl-C or pg_cancel_backend would)
my $runner = $node->background_psql('postgres', on_error_stop => 0);
$runner->query_safe('SET client_min_messages = warning');
my $pid = $runner->query_safe('SELECT pg_backend_pid()');
$runner->query_until(qr/started/, "\\echo started\nCALL migrate.run('$dir');\n");
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'pg_migrate worker' AND wait_event = 'PgSleep'")
  or die 'the worker never reached the slow statement';
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
my ($out, $err) = $runner->query('SELECT 1');
like($runner->{stderr}, qr/canceling statement due to user request/,
	'the caller sees the cancel');
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_migrate worker'")
  or die 'the worker kept running';
is(worker_count(), '0', 'the worker stopped with the caller');
is( $node->safe_psql('postgres',
		"SELECT sqlstate FROM migrate.history WHERE action = 'failure' AND name = '0002_slow'"),
	'57014', 'the cancel is logged as a failure');
is( status_of($node, $dir),
	'0001_table=applied,0002_slow=failed', 'the slow migration shows as failed');
is( $node->safe_psql('postgres',
		run_lock_holders_query()),
	'0', 'the run lock is released');

# The session's statement_timeout limits the whole CALL, worker included
$runner->{stderr} = '';
($out, $err) = $runner->query("SET statement_timeout = '500ms'; CALL migrate.run('$dir')");
like($runner->{stderr}, qr/canceling statement due to statement timeout/,
	'the session\'s statement_timeout stops the run');
$runner->{stderr} = '';
$runner->query_safe('RESET statement_timeout');
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_migrate worker'")
  or die 'the worker kept running';
is(worker_count(), '0', 'no worker left after the timeout');

# migrate.statement_timeout limits each statement, in the worker too
$runner->{stderr} = '';
($out, $err) = $runner->query(
	"SET migrate.statement_timeout = '300ms'; CALL migrate.run('$dir')");
like($runner->{stderr}, qr/canceling statement due to statement timeout/,
	'migrate.statement_timeout applies in the worker');
like($runner->{stderr}, qr/migration 0002_slow\.sql, line 3/,
	'the error names the file and line of the statement');
$runner->{stderr} = '';
$runner->query_safe('RESET migrate.statement_timeout');

# Terminating the caller terminates the worker
$runner->{stderr} = '';
$runner->query_until(qr/again/, "\\echo again\nCALL migrate.run('$dir');\n");
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'pg_migrate worker' AND wait_event = 'PgSleep'")
  or die 'the worker never reached the slow statement';
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_migrate worker'")
  or die 'the worker outlived its caller';
is(worker_count(), '0', 'the worker stopped when its caller was terminated');
eval { $runner->quit; };    # its server process is gone
is( $node->safe_psql('postgres',
		run_lock_holders_query()),
	'0', 'no lock is left behind');

# No free worker slot: a clear error that names the setting
$node->append_conf('postgresql.conf', "max_worker_processes = 1\nmax_parallel_workers = 0\nmax_logical_replication_workers = 0");
$node->restart;
my ($ret, $stdout, $stderr);
my $blocker = $node->background_psql('postgres', on_error_stop => 0);
$blocker->query_safe('SET client_min_messages = warning');
$blocker->query_until(qr/blocking/, "\\echo blocking\nCALL migrate.run('$dir');\n");
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_migrate worker'")
  or die 'the first worker never started';
# a second runner would wait for the run lock, so start the worker directly
# through a second database, where the lock is not held
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION pg_migrate');
($ret, $stdout, $stderr) = $node->psql('other', "CALL migrate.run('$dir')");
like($stderr, qr/could not start a background worker for migration "0002_slow"/,
	'no free slot: refused');
like($stderr, qr/HINT:.*max_worker_processes/s, 'the hint names max_worker_processes');
$node->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	 WHERE query LIKE 'CALL migrate.run%' AND pid <> pg_backend_pid()");
eval { $blocker->quit; };

$node->stop;
done_testing();
