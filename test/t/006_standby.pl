# On a hot standby, status works and every function that would write says
# it cannot; what the primary applied reaches the standby with its tracking
# rows.  A crash of the primary keeps exactly what was committed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION pg_migrate');
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

my $dir = PostgreSQL::Test::Utils::tempdir;
sub migration { write_migration($dir, @_); }
migration('0001_a.sql', "CREATE TABLE a (id int);\n");
migration('0001_a.down.sql', "DROP TABLE a;\n");
migration('0002_b.sql', "CREATE TABLE b (id int);\n");

$primary->safe_psql('postgres', "SELECT count(*) FROM migrate.apply('$dir')");
$primary->wait_for_catchup($standby);

is( status_of($standby, $dir),
	'0001_a=applied,0002_b=applied', 'status works on the standby');
is($standby->safe_psql('postgres', "SELECT migrate.check('$dir')"),
	'', 'check passes on the standby');

migration('0003_c.sql', "CREATE TABLE c (id int);\n");
my ($ret, $stdout, $stderr) = $standby->psql('postgres',
	"SELECT * FROM migrate.apply('$dir')");
like($stderr, qr/cannot execute migrate\.apply\(\) in a read-only transaction/,
	'apply on the standby: read-only error');
($ret, $stdout, $stderr) = $standby->psql('postgres', "CALL migrate.run('$dir')");
like($stderr, qr/cannot execute migrate\.run\(\) in a read-only transaction/,
	'run on the standby: read-only error');
($ret, $stdout, $stderr) = $standby->psql('postgres', "SELECT * FROM migrate.rollback()");
like($stderr, qr/cannot execute migrate\.rollback\(\) in a read-only transaction/,
	'rollback on the standby: read-only error');
foreach my $call ("baseline('$dir', '1')", "mark_applied('$dir', '0003_c')",
	"forget('0001_a')", "accept('$dir', '0001_a')")
{
	my ($function) = $call =~ /^(\w+)/;
	($ret, $stdout, $stderr) = $standby->psql('postgres',
		"SELECT * FROM migrate.$call");
	like($stderr,
		qr/cannot execute migrate\.$function\(\) in a read-only transaction/,
		"$function on the standby: read-only error");
}
($ret, $stdout, $stderr) = $standby->psql('postgres',
	"SELECT migrate.check('$dir')");
like($stderr, qr/not up to date.*\n.*Pending \(1\): "0003_c"/,
	'check on the standby: lists the pending migration');
# lint only reads, and plan rolls back: both answer there, each statement
# plan executes failing as read-only
is( $standby->safe_psql('postgres',
		"SELECT count(*) FROM migrate.lint('$dir')"),
	'0', 'lint works on the standby');
is( $standby->safe_psql('postgres',
		"SELECT string_agg(migration || ' ' || executed || ' ' || error, ',') FROM migrate.plan('$dir')"),
	'0003_c true 25006: cannot execute CREATE TABLE in a read-only transaction',
	'plan on the standby: the statement fails as read-only');

# A crash in the middle of a run keeps the migrations committed before it
migration('0004_slow.sql', "CREATE TABLE d (id int);\nSELECT pg_sleep(60);\n");
my $runner = $primary->background_psql('postgres', on_error_stop => 0);
$runner->query_safe('SET client_min_messages = warning');
$runner->query_until(qr/started/, "\\echo started\nCALL migrate.run('$dir');\n");
$primary->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'")
  or die 'the run never reached the slow migration';
$primary->stop('immediate');
eval { $runner->quit; };
$primary->start;
is( status_of($primary, $dir),
	'0001_a=applied,0002_b=applied,0003_c=applied,0004_slow=pending',
	'after a crash, committed migrations stay and the interrupted one is pending');
is($primary->safe_psql('postgres', "SELECT to_regclass('d') IS NULL"),
	't', 'nothing of the interrupted migration remains');
is( $primary->safe_psql('postgres',
		run_lock_holders_query()),
	'0', 'no run lock survives the crash');

$standby->stop;
$primary->stop;
done_testing();
