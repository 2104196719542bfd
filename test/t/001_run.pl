# CALL migrate.run(): one transaction per migration.  A failure in the middle
# keeps the migrations before it, is logged in its own committed transaction,
# and is raised with the file and line; atomic contexts are refused.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = start_node('run');

my $dir = PostgreSQL::Test::Utils::tempdir;
sub migration { write_migration($dir, @_); }

migration('0001_accounts.sql', "CREATE TABLE accounts (id int PRIMARY KEY);\n");
migration('0002_seed.sql', "INSERT INTO accounts VALUES (1), (2);\n");
migration('0003_broken.sql',
	"CREATE TABLE ledger (id int);\n\nINSERT INTO accounts VALUES (2);\n");
migration('0004_after.sql', "CREATE TABLE after_broken (id int);\n");

# The failing run: 0001 and 0002 stay, 0003 and 0004 are not applied
my ($ret, $stdout, $stderr) =
  $node->psql('postgres', "CALL migrate.run('$dir')");
isnt($ret, 0, 'run fails on the broken migration');
like($stderr, qr/duplicate key value violates unique constraint "accounts_pkey"/,
	'the server error is kept');
like($stderr, qr/CONTEXT:.*migration 0003_broken\.sql, line 3/s,
	'the error names the file and line');

is( $node->safe_psql('postgres',
		'SELECT string_agg(name, \',\' ORDER BY name) FROM migrate.migrations'),
	'0001_accounts,0002_seed',
	'migrations before the failure stay applied');
is($node->safe_psql('postgres', 'SELECT count(*) FROM accounts'),
	'2', 'their effects are committed');
is($node->safe_psql('postgres', "SELECT to_regclass('ledger') IS NULL"),
	't', 'nothing of the failed migration remains');
is($node->safe_psql('postgres', "SELECT to_regclass('after_broken') IS NULL"),
	't', 'migrations after the failure did not run');

is( $node->safe_psql(
		'postgres',
		"SELECT name || '|' || sqlstate || '|' || file || '|' || line
		 FROM migrate.history WHERE action = 'failure'"),
	'0003_broken|23505|0003_broken.sql|3',
	'the failure is logged with sqlstate, file and line');
is( status_of($node, $dir),
	'0001_accounts=applied,0002_seed=applied,0003_broken=failed,0004_after=pending',
	'status shows the failed migration');
is( $node->safe_psql(
		'postgres',
		run_lock_holders_query()),
	'0', 'the session lock is released after the failure');

# Fixing the file lets the next run finish the job
migration('0003_broken.sql',
	"CREATE TABLE ledger (id int);\n\nINSERT INTO accounts VALUES (3);\n");
$node->safe_psql('postgres', "CALL migrate.run('$dir')");
is( status_of($node, $dir),
	'0001_accounts=applied,0002_seed=applied,0003_broken=applied,0004_after=applied',
	'the next run applies the rest');

# A second run has nothing to do
($ret, $stdout, $stderr) = $node->psql('postgres', "CALL migrate.run('$dir')");
is($ret, 0, 'a run with nothing pending succeeds');
unlike($stderr, qr/applying/, 'and applies nothing');

# Atomic contexts are refused before anything runs
migration('0005_more.sql', "CREATE TABLE more (id int);\n");
($ret, $stdout, $stderr) = $node->psql('postgres',
	"BEGIN; CALL migrate.run('$dir'); COMMIT;");
like($stderr, qr/migrate\.run\(\) cannot run inside a transaction block/,
	'inside BEGIN/COMMIT: refused');
like($stderr, qr/HINT:.*migrate\.apply/s, 'the hint points at migrate.apply');
$node->safe_psql('postgres',
	"CREATE FUNCTION run_it() RETURNS void LANGUAGE plpgsql AS
	 \$\$ BEGIN CALL migrate.run('$dir'); END \$\$");
($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT run_it()');
like($stderr, qr/cannot run inside a transaction block/, 'from a function: refused');
is($node->safe_psql('postgres', "SELECT to_regclass('more') IS NULL"),
	't', 'nothing ran');

# A DO block at top level is nonatomic: it may call run
$node->safe_psql('postgres', "DO \$\$ BEGIN CALL migrate.run('$dir'); END \$\$");
is($node->safe_psql('postgres', "SELECT to_regclass('more') IS NOT NULL"),
	't', 'a top-level DO block may call run');

# Two runners: the second waits for the session lock, then finds nothing
migration('0006_slow.sql', "SELECT pg_sleep(2);\nCREATE TABLE slow (id int);\n");
my $first = $node->background_psql('postgres', on_error_stop => 0);
$first->query_safe('SET client_min_messages = warning');
$first->query_until(qr/started/, "\\echo started\nCALL migrate.run('$dir');\n");
$node->poll_query_until('postgres',
	"SELECT (" . run_lock_holders_query() . ") = 1")
  or die 'first runner never took the lock';
($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET client_min_messages = notice; CALL migrate.run('$dir')");
is($ret, 0, 'the second runner succeeds after waiting');
unlike($stderr, qr/applying migration 0006_slow/,
	'the second runner does not apply what the first did');
$first->query_safe('SELECT 1');
$first->quit;
is( $node->safe_psql(
		'postgres', "SELECT count(*) FROM migrate.history WHERE name = '0006_slow'"),
	'1', 'the migration was applied exactly once');

$node->stop;
done_testing();
