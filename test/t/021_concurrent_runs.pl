# Deploys that start together: replicas of an application each running
# `pg_migrate run` at start, pg_cron starting a run while the last one is
# still busy, someone calling apply, plan or check meanwhile.  The folder
# has a no-transaction CREATE INDEX CONCURRENTLY, which waits for every
# transaction holding an older snapshot: a caller waiting for the run lock
# while holding a snapshot would wait for the run, and the run for it.
# Each migration runs exactly once, and nobody waits forever: a waiter
# that the running migration waits for gives up with 40P01.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PgMigrateCommand;

# no process of this test may take longer than this
my $limit = 120;

my $node = start_node('concurrent');
my $dir = PostgreSQL::Test::Utils::tempdir;
sub migration { write_migration($dir, @_); }

migration('0001_items.sql',
	"CREATE TABLE items (id int);\nINSERT INTO items SELECT generate_series(1, 200000);\n"
	  . "CREATE TABLE ran (name text);\nINSERT INTO ran VALUES ('0001');\n");
# slow, so that every caller is waiting for the run lock by the time the
# index is built
migration('0002_slow.sql', "SELECT pg_sleep(1);\nINSERT INTO ran VALUES ('0002');\n");
migration('0003_index.sql',
	"-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY items_id_idx ON items (id);\n"
	  . "INSERT INTO ran VALUES ('0003');\n");
migration('0004_after.sql', "INSERT INTO ran VALUES ('0004');\n");

# the command as the test's superuser, with the cluster's trust login
my %superuser = (PGUSER => undef, PGPASSWORD => undef);

sub start_psql
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c', $sql ],
		'<', \undef, '>', \$out, '2>', \$err);
	return { h => $h, out => \$out, err => \$err, what => $sql, started => time };
}

sub start_command
{
	my ($h, $out, $err) = pg_migrate_start($node, [ 'run', $dir ], %superuser);
	return { h => $h, out => $out, err => $err, what => 'pg_migrate run', started => time };
}

# Wait for a process for at most $limit seconds from its start; its exit
# status, or "hung" when it had to be killed
sub finish
{
	my ($p) = @_;
	while ($p->{h}->pumpable && time < $p->{started} + $limit)
	{
		eval { $p->{h}->pump_nb; };
		select(undef, undef, undef, 0.1);
	}
	if ($p->{h}->pumpable)
	{
		# the first time, who waits for what: the failure's only trace
		our $dumped;
		if (!$dumped++)
		{
			diag($node->safe_psql('postgres', q{SELECT pid, backend_type, state, wait_event_type, wait_event, backend_xid, backend_xmin, left(query, 100) FROM pg_stat_activity ORDER BY pid}));
			diag($node->safe_psql('postgres', q{SELECT pid, locktype, relation::regclass, classid, objid, objsubid, virtualxid, transactionid, mode, granted FROM pg_locks WHERE locktype <> 'virtualxid' OR NOT granted ORDER BY pid}));
		}
		$p->{h}->kill_kill;
		note("$p->{what}: hung\n${$p->{out}}${$p->{err}}");
		return 'hung';
	}
	$p->{h}->finish;
	note("$p->{what}: exit " . $p->{h}->result(0) . "\n${$p->{out}}${$p->{err}}");
	return $p->{h}->result(0);
}

# Ten runs at once, and callers of apply, plan and check among them
my @runs = map { start_command() } 1 .. 10;
select(undef, undef, undef, 0.3);
my @callers = (
	(map { start_psql("SELECT name, action FROM migrate.apply('$dir')") } 1 .. 2),
	(map { start_psql("SELECT count(*) FROM migrate.plan('$dir')") } 1 .. 2),
	(map { start_psql("SELECT migrate.check('$dir')") } 1 .. 2));

my @run_results = map { finish($_) } @runs;
is(join(',', @run_results), join(',', (0) x 10), 'all ten runs succeed');

foreach my $p (@callers)
{
	my $rc = finish($p);
	isnt($rc, 'hung', "$p->{what} does not hang");
	next if $rc eq 'hung' || $rc == 0;
	# what a caller may meet: the cycle it was part of, broken; apply
	# refusing a no-transaction migration; check finding pending work
	like(
		${ $p->{err} },
		qr/deadlock detected while waiting for the pg_migrate run lock|must run outside a transaction|cannot run inside a transaction|not up to date|pending/,
		"$p->{what} fails, if at all, for a reason it names");
}

is($node->safe_psql('postgres', "SELECT string_agg(name, ',' ORDER BY name) FROM ran"),
	'0001,0002,0003,0004', 'each migration ran exactly once');
is( $node->safe_psql('postgres',
		"SELECT string_agg(name || '=' || n, ',' ORDER BY name) FROM
		 (SELECT name, count(*) AS n FROM migrate.history WHERE action = 'apply' GROUP BY name) a"),
	'0001_items=1,0002_slow=1,0003_index=1,0004_after=1',
	'and was recorded once');
is($node->safe_psql('postgres', "SELECT count(*) FROM migrate.history WHERE action = 'failure'"),
	'0', 'no migration failed');
is( $node->safe_psql('postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_id_idx'::regclass"),
	't', 'the index is valid');
is($node->safe_psql('postgres', run_lock_holders_query()), '0', 'the run lock is free');

# The cycle itself, step by step: a run sleeps in its first migration, apply
# waits for the run lock in a transaction holding a snapshot, and the run's
# CREATE INDEX CONCURRENTLY then waits for that transaction.  apply gives up,
# saying why; the run goes on and builds a valid index.
migration('0005_sleep.sql', "SELECT pg_sleep(2);\n");
migration('0006_index.sql',
	"-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY items_id2_idx ON items (id);\n");
my $run = start_psql("CALL migrate.run('$dir')");
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'")
  or die 'the run never started sleeping';
my $apply = start_psql("BEGIN; SELECT count(*) FROM migrate.apply('$dir'); COMMIT;");
isnt(finish($apply), 0, 'apply holding a snapshot that the index build waits for fails');
like(${ $apply->{err} }, qr/ERROR:  deadlock detected while waiting for the pg_migrate run lock/,
	'with a deadlock error');
like(${ $apply->{err} }, qr/DETAIL:  .*background worker.*waits for this transaction/s,
	'that says who waits for whom');
like(${ $apply->{err} }, qr/HINT:  .*CALL migrate\.run/s, 'and points at migrate.run');
is(finish($run), 0, 'the run goes on');
is( $node->safe_psql('postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_id2_idx'::regclass"),
	't', 'and its index is valid');

# A migration calling pg_advisory_unlock_all() does not release the run
# lock: a second run waits for the first and finds nothing to do
migration('0007_unlock.sql',
	"CREATE TABLE unlocked (n int);\nINSERT INTO unlocked VALUES (1);\n"
	  . "SELECT pg_advisory_unlock_all();\nSELECT pg_sleep(1);\n");
my $first = start_psql("CALL migrate.run('$dir')");
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'")
  or die 'the first run never started sleeping';
my $second = start_psql("CALL migrate.run('$dir')");
is(finish($first), 0, 'the run whose migration unlocks all advisory locks succeeds');
is(finish($second), 0, 'a run started meanwhile succeeds');
is($node->safe_psql('postgres', 'SELECT count(*) FROM unlocked'), '1',
	'the migration ran once');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM migrate.history WHERE name = '0007_unlock'"),
	'1', 'and is recorded once');

$node->stop;
done_testing();
