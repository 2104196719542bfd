# Runs the server owns (migrate.start): the pg_migrate command killed with
# SIGKILL in the middle of a run of a real folder leaves the run going on
# the server to its end, and migrate.runs says so; Ctrl-C still cancels
# the run; two pg_migrate run of the same folder at once make one run,
# the second attaching to it; run --detach, wait, cancel, runs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PgMigrateCommand;

my $srcdir = $ENV{TESTDIR} || '.';
my $node = command_node('detached');
$node->safe_psql(
	'postgres', q{
	GRANT EXECUTE ON FUNCTION migrate.start(jsonb, text, boolean, text, text, boolean),
	                          migrate.cancel(bigint), migrate.resume(bigint) TO deployer;
	GRANT EXECUTE ON PROCEDURE migrate.wait(bigint, interval, boolean, text) TO deployer;
	GRANT SELECT ON migrate.runs TO deployer;
	CREATE TABLE public.gate (open boolean);
	GRANT SELECT ON public.gate TO deployer;
});

# A migration that waits until the test opens the gate
my $gate = "DO \$\$ BEGIN WHILE NOT EXISTS (SELECT FROM public.gate) LOOP"
  . " PERFORM pg_sleep(0.05); END LOOP; END \$\$;\n";

sub wait_for_gate
{
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE backend_type = 'pg_migrate run' AND wait_event = 'PgSleep'")
	  or die 'the run never reached the gate';
}

sub runs
{
	my ($where) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg(state || ':' || coalesce(applied::text, '-'), ',' ORDER BY run_id)"
		  . " FROM migrate.runs WHERE $where");
}

# --- SIGKILL in the middle of a real folder's run -----------------------
my $dir = PostgreSQL::Test::Utils::tempdir . '/tracetest';
system('cp', '-R', "$srcdir/test/fixtures/real/golang-migrate-tracetest", $dir) == 0
  or die 'could not copy the folder';
my @ups = glob("$dir/*.up.sql");
open my $fh, '>>', "$dir/17_reset_server_id.up.sql" or die $!;
print $fh "\n$gate";
close $fh;

my ($h, $out, $err) = pg_migrate_start($node, [ 'run', $dir ]);
wait_for_gate();
is(runs('true'), 'running:17', 'the run is in progress on the server, 17 migrations committed');
$h->signal('KILL');
$h->finish;
isnt($h->full_result(0) & 127, 0, 'the command was killed');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'deployer'
		 AND backend_type = 'client backend'"),
	'its session is gone');
is(runs('true'), 'running:17', 'the run goes on without it');
my $progress = $node->safe_psql('postgres',
	"SELECT migration, migration_number < migrations, statement_number IS NOT NULL"
	  . " FROM migrate.runs");
is($progress, '17_reset_server_id|t|t', 'migrate.runs shows where it is');
$node->safe_psql('postgres', 'INSERT INTO public.gate VALUES (true)');
ok( $node->poll_query_until('postgres',
		"SELECT state = 'succeeded' FROM migrate.runs"),
	'the run completes on the server');
is( $node->safe_psql('postgres', 'SELECT count(*) FROM migrate.migrations'),
	scalar(@ups), 'every migration of the folder is applied');
is(runs('true'), 'succeeded:' . scalar(@ups), 'migrate.runs says so, with the count');
my ($rc, $json) = pg_migrate($node, [ '--json', 'runs' ]);
is($rc, 0, 'pg_migrate runs exits 0');
is(decode_json($json)->[0]{state}, 'succeeded', 'and lists the run as succeeded');
$node->safe_psql('postgres', 'TRUNCATE public.gate');

# --- Ctrl-C cancels the run ---------------------------------------------
my $slow = migrations_dir();
write_migration($slow, '0001_first.sql', "CREATE TABLE first (id int);\n");
write_migration($slow, '0002_slow.sql', "CREATE TABLE during (id int);\n$gate");
($h, $out, $err) = pg_migrate_start($node, [ 'run', '--allow-drift', $slow ]);
wait_for_gate();
$h->signal('INT');
$h->finish;
is($h->result(0), 1, 'run interrupted exits 1');
like($$out, qr/^applied 0001_first /m, 'the migration before it was committed');
like($$err, qr/canceling statement due to user request/, 'the cancel is reported');
like($$err, qr/run stopped at migration "0002_slow" \(cancelled\)/, 'with where run stopped');
is(runs("source LIKE '%$slow'"), 'cancelled:1', 'migrate.runs shows the run cancelled');
is($node->safe_psql('postgres', "SELECT to_regclass('during') IS NULL"),
	't', 'the interrupted migration is rolled back');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_migrate run'"),
	'0', 'the run\'s worker is gone');

# --- two runs of the same folder at once: one run, the second attaches --
$node->safe_psql('postgres', "SELECT migrate.retry('0002_slow')");
write_migration($slow, '0003_after.sql', "CREATE TABLE after_slow (id int);\n");
my ($h1, $out1, $err1) = pg_migrate_start($node, [ 'run', '--allow-drift', $slow ]);
wait_for_gate();
my ($h2, $out2, $err2) = pg_migrate_start($node, [ 'run', '--allow-drift', $slow ]);
$node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE usename = 'deployer'
	 AND backend_type = 'client backend' AND query LIKE 'CALL migrate.wait%'")
  or die 'the second command never waited';
$node->safe_psql('postgres', 'INSERT INTO public.gate VALUES (true)');
$h1->finish;
$h2->finish;
is($h1->result(0), 0, 'the first run exits 0');
is($h2->result(0), 0, 'the second exits 0');
like($$err2, qr/NOTICE:  run \d+ of the same folder and arguments is running: attaching to it/,
	'the second attaches to the first');
like($$out2, qr/^applied 0003_after /m, 'and reports what the run applied');
is(runs("source LIKE '%$slow'"), 'cancelled:1,succeeded:2', 'one run, not two');

# --- --detach, wait, cancel, resume ---------------------------------------
write_migration($slow, '0004_detached.sql', "CREATE TABLE detached (id int);\n");
($rc, $out) = pg_migrate($node, [ 'run', '--detach', '--allow-drift', $slow ]);
is($rc, 0, 'run --detach exits 0');
like($out, qr/\A\d+\n\z/, 'and prints the run\'s id');
chomp(my $id = $out);
($rc, $out, $err) = pg_migrate($node, [ 'wait', $id ]);
is($rc, 0, 'wait exits 0');
is($node->safe_psql('postgres', "SELECT state FROM migrate.runs WHERE run_id = $id"),
	'succeeded', 'the detached run succeeded');
($rc, $out, $err) = pg_migrate($node, [ 'cancel', $id ]);
is($rc, 0, 'cancel of a run that ended exits 0');
like($out, qr/was not in progress/, 'and says there was nothing to cancel');
($rc, $out, $err) = pg_migrate($node, [ 'wait', '999999' ]);
is($rc, 1, 'wait for a run that does not exist exits 1');
like($err, qr/run 999999 does not exist/, 'and says so');
($rc, $out, $err) = pg_migrate($node, [ 'resume', $id ]);
is($rc, 1, 'resume of a run that succeeded exits 1');
like($err, qr/there is nothing to resume/, 'and says why');

$node->stop;
done_testing();
