# Ctrl-C (SIGINT) sent to the pg_migrate command while a migration runs
# cancels the call on the server, as psql's Ctrl-C does: what the call had
# not committed is rolled back, the run lock is released, no worker is
# left running, and the next run goes ahead.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PgMigrateCommand;

my $node = command_node('command_cancel');
my $dir = migrations_dir();
sub migration { write_migration($dir, @_); }

# Start pg_migrate @args, wait until a backend of deployer (or the worker)
# sleeps, then press Ctrl-C; returns exit status, stdout and stderr
sub interrupted
{
	my (@args) = @_;
	my ($h, $out, $err) = pg_migrate_start($node, \@args);
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE usename = 'deployer' AND wait_event = 'PgSleep'")
	  or die 'the migration never started sleeping';
	$h->signal('INT');
	$h->finish;
	note("pg_migrate @args: exit " . $h->result(0) . "\n$$out$$err");
	return ($h->result(0), $$out, $$err);
}

sub run_lock_holders
{
	return $node->safe_psql('postgres',
		run_lock_holders_query());
}

migration('0001_users.sql', "CREATE TABLE users (id int);\n");
migration('0002_slow.sql',
	"CREATE TABLE during_slow (id int);\nINSERT INTO users VALUES (1);\nSELECT pg_sleep(300);\n");

# apply: one transaction, all of it rolled back
my ($rc, $out, $err) = interrupted('apply', $dir);
is($rc, 1, 'apply interrupted exits 1');
like($err, qr/cancel request sent\nERROR:  canceling statement due to user request\n/,
	'the server\'s cancel comes back');
like($err, qr/migration 0002_slow\.sql, line 3/, 'naming the statement that was running');
is( $node->safe_psql('postgres',
		"SELECT to_regclass('users') IS NULL AND to_regclass('during_slow') IS NULL"),
	't', 'everything the call did is rolled back');
is(run_lock_holders(), '0', 'the run lock is free');

# run: what was committed stays, the migration running is rolled back
($rc, $out, $err) = interrupted('run', $dir);
is($rc, 1, 'run interrupted exits 1');
like($out, qr/^applied 0001_users /m, 'the migration before it was committed');
like($err, qr/canceling statement due to user request/, 'the cancel is reported');
like($err, qr/run stopped at migration "0002_slow" \(cancelled\)/, 'with where run stopped');
is( $node->safe_psql('postgres',
		"SELECT (SELECT count(*) FROM users), to_regclass('during_slow') IS NULL"),
	'0|t', 'the interrupted migration is rolled back');
is(run_lock_holders(), '0', 'the run lock is released');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'deployer'"),
	'the command\'s session ends with it');

# run with a no-transaction migration sleeping in the background worker
migration('0002_slow.sql',
	"-- migrate:no-transaction\nCREATE TABLE IF NOT EXISTS during_slow (id int);\nSELECT pg_sleep(300);\n");
($rc, $out, $err) = interrupted('run', $dir);
is($rc, 1, 'run interrupted in the worker exits 1');
like($err, qr/canceling statement due to user request/, 'the cancel is reported');
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_migrate worker'")
  or die 'the worker kept running';
is(run_lock_holders(), '0', 'the run lock is released');

# the next run goes ahead
migration('0002_slow.sql', "CREATE TABLE IF NOT EXISTS during_slow (id int);\n");
($rc, $out, $err) = pg_migrate($node, [ 'run', $dir ]);
is($rc, 0, 'the next run succeeds');
like($out, qr/^applied 0002_slow /m, 'and applies the migration');

$node->stop;
done_testing();
