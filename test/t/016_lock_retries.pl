# With a short migrate.lock_timeout and migrate.lock_retries, a migration
# waits as long as it must for a long query to finish, while never holding
# the application's queries behind its lock request for longer than the
# timeout; without retries, it fails with 55P03 naming file and line.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = start_node('retries');
my $dir = PostgreSQL::Test::Utils::tempdir;
$node->safe_psql('postgres', 'CREATE TABLE accounts (id int)');
write_migration($dir, '0001_other.sql', "CREATE TABLE other (id int);\n");
write_migration($dir, '0002_add_column.sql',
	"SELECT 1;\nALTER TABLE accounts ADD COLUMN email text;\n");

my $settings = "SET migrate.lock_timeout = '100ms'; SET migrate.lock_retry_delay = '100ms';";

# A reader holds ACCESS SHARE on the table
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN; LOCK TABLE accounts IN ACCESS SHARE MODE;');

# without retries (on by default since 0.5): 55P03, with the file and
# line, nothing of it applied
my ($ret, $out, $err) = $node->psql('postgres', "$settings SET migrate.lock_retries = 0; CALL migrate.run('$dir')");
like($err, qr/canceling statement due to lock timeout/, 'without retries the lock wait times out');
like($err, qr/migration 0002_add_column\.sql, line 2/, 'naming file and line');
is(status_of($node, $dir), '0001_other=applied,0002_add_column=failed',
	'the migration before it stays applied');

# with retries: run waits, retrying, until the reader is gone
my $runner = $node->background_psql('postgres', on_error_stop => 0);
$runner->query_until(qr/started/,
	"$settings SET migrate.lock_retries = 100;\n\\echo started\nCALL migrate.run('$dir');\n");
ok( $node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM migrate.history WHERE name = '0002_add_column' AND action = 'failure'"),
	'(the earlier failure is there)');
sleep 1;
# meanwhile the application's queries are not blocked behind the migration
my $t0 = time;
$node->safe_psql('postgres', 'SELECT count(*) FROM accounts');
ok(time - $t0 < 2, 'a query of the application is not queued behind the migration');
$holder->query_safe('COMMIT');
$runner->query('SELECT 1');
like($runner->{stderr}, qr/migration "0002_add_column" could not obtain a lock on table "accounts" within lock_timeout \(100ms\), retrying in \d+ ms \(retry 1 of 100\)/,
	'each retry is announced');
is(status_of($node, $dir), '0001_other=applied,0002_add_column=applied',
	'run succeeded once the reader was gone');
ok( $node->safe_psql('postgres',
		"SELECT lock_retries FROM migrate.history WHERE name = '0002_add_column' AND action = 'apply'") > 0,
	'history counts the retries');
$runner->quit;

# apply retries the statement, keeping the migrations before it
write_migration($dir, '0003_third.sql', "CREATE TABLE third (id int);\n");
write_migration($dir, '0004_drop_column.sql', "ALTER TABLE accounts DROP COLUMN email;\n");
$holder->query_safe('BEGIN; LOCK TABLE accounts IN ACCESS SHARE MODE;');
$runner = $node->background_psql('postgres', on_error_stop => 0);
$runner->query_until(qr/started/,
	"$settings SET migrate.lock_retries = 100;\n\\echo started\nSELECT count(*) FROM migrate.apply('$dir');\n");
sleep 2;
$holder->query_safe('COMMIT');
$runner->query('SELECT 1');
like($runner->{stderr}, qr/retrying in \d+ ms/, 'apply retried the statement');
is(status_of($node, $dir),
	'0001_other=applied,0002_add_column=applied,0003_third=applied,0004_drop_column=applied',
	'and applied everything in one transaction');
$runner->quit;

# A cancel during the pause before a retry fails the migration like any
# other error: run logs it
write_migration($dir, '0005_add_phone.sql', "ALTER TABLE accounts ADD COLUMN phone text;\n");
$holder->query_safe('BEGIN; LOCK TABLE accounts IN ACCESS SHARE MODE;');
$runner = $node->background_psql('postgres', on_error_stop => 0);
$runner->query_until(qr/started/,
	"SET migrate.lock_timeout = '100ms'; SET migrate.lock_retry_delay = '20s'; SET migrate.lock_retries = 5;\n"
	  . "\\echo started\nCALL migrate.run('$dir');\n");
my $pausing = "FROM pg_stat_activity WHERE wait_event_type = 'Extension' AND query LIKE 'CALL migrate.run%'";
$node->poll_query_until('postgres', "SELECT count(*) = 1 $pausing")
  or die 'the run never paused before a retry';
$node->safe_psql('postgres', "SELECT pg_cancel_backend(pid) $pausing");
$runner->query('SELECT 1');
like($runner->{stderr}, qr/canceling statement due to user request/, 'the run is cancelled in its pause');
is( $node->safe_psql('postgres',
		"SELECT sqlstate || ' line ' || line FROM migrate.history WHERE name = '0005_add_phone' AND action = 'failure'"),
	'57014 line 1', 'and the cancel is logged as the migration\'s failure');
$runner->quit;
$holder->query_safe('COMMIT');
$holder->quit;

# apply retries the statements that take locks, not each row of a seed
# file: a thousand INSERTs cost about one transaction ID, not one each
my $seed = PostgreSQL::Test::Utils::tempdir;
write_migration($seed, '0001_seed.sql',
	"CREATE TABLE seed (n int);\n" . join('', map { "INSERT INTO seed VALUES ($_);\n" } 1 .. 1000));
my $xid_before = $node->safe_psql('postgres', 'SELECT txid_current()');
$node->safe_psql('postgres',
	"$settings SET migrate.lock_retries = 3; SELECT count(*) FROM migrate.apply('$seed', allow_drift => true)");
my $xids = $node->safe_psql('postgres', 'SELECT txid_current()') - $xid_before;
ok($xids < 20, "applying 1000 INSERTs with lock_retries used $xids transaction IDs");
is($node->safe_psql('postgres', 'SELECT count(*) FROM seed'), '1000', 'and inserted every row');

$node->stop;
done_testing();
