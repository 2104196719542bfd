# Databases of the cluster as tenants: migrate.run_tenants(databases =>,
# database_pattern =>) migrates each database with its own tracking
# tables, by a background worker logged in to it as the calling role, and
# writes one outcome row per database into the caller's
# migrate.tenant_runs.  A database without pg_migrate, named, fails with a
# clear error; a pattern leaves it out.  One database made to fail is
# named with its file and line, the others are applied; called again with
# the run's id after the cause is removed, the run migrates that database
# only.  A role without CONNECT on a database is refused before anything
# runs.  The command's --tenant-databases and --tenant-database-pattern
# run through migrate.start_tenants, and resume migrates the failed one.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PgMigrateCommand;

my $node = command_node('tenant_databases');
my $sig = 'text[], text, text, integer, integer, text, bigint, text, boolean, text, text, boolean, text[], text';
$node->safe_psql(
	'postgres', qq{
	GRANT EXECUTE ON PROCEDURE migrate.run_tenants(jsonb, $sig),
	                           migrate.wait(bigint, interval, boolean, text) TO deployer;
	GRANT EXECUTE ON FUNCTION migrate.start_tenants(jsonb, text[], text, text, integer, integer, text, text, boolean, text, text, boolean, text[], text),
	                          migrate.resume(bigint) TO deployer;
	GRANT SELECT ON migrate.runs, migrate.tenant_runs TO deployer;
});

# tdb_a, tdb_b, tdb_c and tdb_fail have pg_migrate, and deployer may run
# migrations there; tdb_plain has not
for my $db (qw(tdb_a tdb_b tdb_c tdb_fail tdb_plain))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	next if $db eq 'tdb_plain';
	$node->safe_psql(
		$db, q{
		CREATE EXTENSION pg_migrate;
		GRANT CREATE ON SCHEMA public TO deployer;
		GRANT USAGE ON SCHEMA migrate TO deployer;
		GRANT EXECUTE ON PROCEDURE migrate.run(jsonb, text, boolean, text, text, boolean) TO deployer;
	});
}
# the failing database: it holds a table of the index's name
$node->safe_psql('tdb_fail', 'CREATE TABLE accounts_email_idx (x int)');

my %files = (
	'0001_accounts.sql' => "CREATE TABLE accounts (id int PRIMARY KEY, name text);\n",
	'0002_accounts_email.sql' => "ALTER TABLE accounts ADD COLUMN email text;\n"
	  . "CREATE INDEX accounts_email_idx ON accounts (email);\n",
	'0003_accounts_name.sql' => "-- migrate:no-transaction\n"
	  . "CREATE INDEX CONCURRENTLY accounts_name_idx ON accounts (name);\n");

# The folder as data, a jsonb literal
sub files_json
{
	my @pairs;
	for my $name (sort keys %files)
	{
		(my $sql = $files{$name}) =~ s/(["\\])/\\$1/g;
		$sql =~ s/\n/\\n/g;
		push @pairs, "\"$name\": \"$sql\"";
	}
	my $json = '{' . join(', ', @pairs) . '}';
	$json =~ s/'/''/g;
	return "'$json'::jsonb";
}

sub as_deployer
{
	my ($sql) = @_;
	return $node->psql('postgres',
		"SET ROLE deployer; SET migrate.lint = off; \\set VERBOSITY verbose\n$sql");
}

# --- a database without the extension, named: a clear error
my ($ret, $stdout, $stderr) = as_deployer(
	'CALL migrate.run_tenants(files => ' . files_json() . ", databases => '{tdb_plain}')");
isnt($ret, 0, 'a named database without pg_migrate fails the run');
like($stderr, qr/WARNING:  42704: database "tdb_plain" failed: extension "pg_migrate" is not installed in database "tdb_plain"/,
	'the error names the database');
like($stderr, qr/HINT:  Run CREATE EXTENSION pg_migrate in database "tdb_plain"/,
	'with a hint');
like($stderr, qr/ERROR:  42704: 1 tenant of 1 failed/, 'the run ends on it');
is( $node->safe_psql('postgres',
		"SELECT database || ',' || tenant || ',' || state || ',' || sqlstate
		 FROM migrate.tenant_runs WHERE database = 'tdb_plain'"),
	'tdb_plain,,failed,42704', 'its outcome row: the database, tenant empty, failed');

# --- no CONNECT: refused before anything runs
$node->safe_psql('postgres', 'REVOKE CONNECT ON DATABASE tdb_c FROM PUBLIC');
my $rows_before = $node->safe_psql('postgres', 'SELECT count(*) FROM migrate.tenant_runs');
($ret, $stdout, $stderr) = as_deployer(
	'CALL migrate.run_tenants(files => ' . files_json() . ", databases => '{tdb_a,tdb_c}')");
like($stderr, qr/ERROR:  42501: permission denied for database "tdb_c"/,
	'a database the role may not connect to: 42501');
like($stderr, qr/HINT:  GRANT CONNECT ON DATABASE tdb_c TO deployer/, 'the hint says how');
is($node->safe_psql('postgres', 'SELECT count(*) FROM migrate.tenant_runs'),
	$rows_before, 'no outcome row is written');
is($node->safe_psql('tdb_a', 'SELECT count(*) FROM migrate.migrations'),
	'0', 'and no database is migrated');
$node->safe_psql('postgres', 'GRANT CONNECT ON DATABASE tdb_c TO deployer');

# --- every database with the extension, canary first, two at a time
($ret, $stdout, $stderr) = as_deployer(
	'CALL migrate.run_tenants(files => ' . files_json() . ", database_pattern => 'tdb\\_%',
	                          canary => 1, parallel => 2, on_failure => 'continue')");
isnt($ret, 0, 'the run fails when a database fails');
like($stderr, qr/ERROR:  42P07: 1 tenant of 4 failed/, 'four databases: the one without pg_migrate is left out');
like($stderr, qr/database "tdb_fail" failed first \(0002_accounts_email\.sql, line 2\)/,
	'the error names the database, file and line');
my $run_id = $node->safe_psql('postgres', 'SELECT max(run_id) FROM migrate.tenant_runs');
is( $node->safe_psql('postgres',
		"SELECT string_agg(concat_ws('|', database, tenant, canary, state, migrations, sqlstate, file, line), E'\\n' ORDER BY position)
		 FROM migrate.tenant_runs WHERE run_id = $run_id"),
	"tdb_a||t|applied|3\ntdb_b||f|applied|3\ntdb_c||f|applied|3\n"
	  . "tdb_fail||f|failed|1|42P07|0002_accounts_email.sql|2",
	'one outcome row per database, in the caller\'s tenant_runs');
for my $db (qw(tdb_a tdb_b tdb_c))
{
	is( $node->safe_psql($db,
			"SELECT string_agg(name || '=' || applied_by || '/' || tenant, ',' ORDER BY name)
			 FROM migrate.migrations"),
		'0001_accounts=deployer/,0002_accounts_email=deployer/,0003_accounts_name=deployer/',
		"$db: its own tracking, applied as the calling role");
}
is( $node->safe_psql('tdb_a',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'accounts_name_idx'::regclass"),
	't', 'the no-transaction migration ran there too');
is($node->safe_psql('postgres', 'SELECT count(*) FROM migrate.migrations'),
	'0', 'the caller\'s database is not migrated');

# --- the cause removed, the same run again: the failed database only
$node->safe_psql('tdb_fail', 'DROP TABLE accounts_email_idx');
my $others = "SELECT string_agg(database || state || started_at || finished_at, ',' ORDER BY position)
	FROM migrate.tenant_runs WHERE run_id = $run_id AND database <> 'tdb_fail'";
my $before = $node->safe_psql('postgres', $others);
my $history_a = $node->safe_psql('tdb_a', 'SELECT count(*) FROM migrate.history');
($ret, $stdout, $stderr) = as_deployer(
	'CALL migrate.run_tenants(files => ' . files_json() . ", run_id => $run_id, parallel => 2)");
is($ret, 0, 'the run called again succeeds') or diag($stderr);
like($stderr, qr/run $run_id: 1 tenants migrated/, 'it migrates one database');
is($node->safe_psql('postgres', $others), $before, 'the other databases\' rows are untouched');
is($node->safe_psql('tdb_a', 'SELECT count(*) FROM migrate.history'),
	$history_a, 'and their history');
is( $node->safe_psql('postgres',
		"SELECT state || ',' || migrations || ',' || (error IS NULL)
		 FROM migrate.tenant_runs WHERE run_id = $run_id AND database = 'tdb_fail'"),
	'applied,2,true', 'the failed database is applied now, its two other migrations run');

# --- the command: --tenant-databases, then a pattern with a failure and resume
my $dir = migrations_dir();
write_migration($dir, $_, $files{$_}) for keys %files;
write_migration($dir, '0004_accounts_plan.sql', "ALTER TABLE accounts ADD COLUMN plan text;\n");
my ($rc, $out, $err) = pg_migrate($node,
	[ 'run', '--tenant-databases', 'tdb_a,tdb_b', '--tenant-workers', '2', $dir ]);
is($rc, 0, 'run --tenant-databases exits 0') or diag($err);
like($err, qr/^run \d+: 2 tenants: 2 applied$/m, 'the count of each state');
is($node->safe_psql('tdb_b', "SELECT count(*) FROM migrate.migrations WHERE name = '0004_accounts_plan'"),
	'1', 'the listed databases are migrated');

$node->safe_psql('tdb_c', 'ALTER TABLE accounts ADD COLUMN plan int');
($rc, $out, $err) = pg_migrate($node,
	[ 'run', '--tenant-database-pattern', 'tdb\_%', '--on-failure', 'continue', $dir ]);
is($rc, 1, 'a failed database: exit 1');
like($err, qr/^database tdb_c: failed: 0004_accounts_plan\.sql:1: column "plan" of relation "accounts" already exists$/m,
	'the failed database named with its file and line');
like($err, qr/^run \d+: 4 tenants: 3 applied, 1 failed$/m, 'the count of each state');
my ($run) = $err =~ /^run (\d+): 4 tenants/m;
$node->safe_psql('tdb_c', 'ALTER TABLE accounts DROP COLUMN plan');
($rc, $out, $err) = pg_migrate($node, [ 'resume', $run ]);
is($rc, 0, 'resume of the database run exits 0') or diag($err);
is( $node->safe_psql('postgres',
		"SELECT string_agg(database || '=' || state, ',' ORDER BY position) FROM migrate.tenant_runs WHERE run_id = $run"),
	'tdb_a=applied,tdb_b=applied,tdb_c=applied,tdb_fail=applied', 'every database applied');
is( $node->safe_psql('postgres',
		"SELECT string_agg(database || '=' || migrations, ',' ORDER BY position) FROM migrate.tenant_runs WHERE run_id = $run"),
	'tdb_a=0,tdb_b=0,tdb_c=1,tdb_fail=1', 'the resume touched tdb_c only; tdb_a and tdb_b had it already');

($rc, $out, $err) = pg_migrate($node, [ 'run', '--tenants', 'x', '--tenant-databases', 'tdb_a', $dir ]);
is($rc, 2, 'tenant schemas and databases at once: usage error');
like($err, qr/name the tenants one way/, 'and says why');
($rc, $out, $err) = pg_migrate($node, [ 'apply', '--tenant-database-pattern', '%', $dir ]);
like($err, qr/go with run only/, '--tenant-database-pattern with apply: usage error');

done_testing();
