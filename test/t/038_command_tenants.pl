# The command's run in tenant schemas: `pg_migrate run --tenant-pattern P
# DIR` starts migrate.start_tenants() and follows it; a tenant that fails is
# named with its state, file and line, with the count of each state, and
# the exit status is 1; `pg_migrate resume ID`, the cause fixed, migrates it
# alone.  Usage errors for the tenant options.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PgMigrateCommand;

my $node = command_node('command_tenants');
$node->safe_psql(
	'postgres', q{
	GRANT EXECUTE ON FUNCTION migrate.start_tenants(jsonb, text[], text, text, integer, integer, text, text, boolean, text, text, boolean, text[], text),
	                          migrate.resume(bigint) TO deployer;
	GRANT EXECUTE ON PROCEDURE migrate.run_tenants(jsonb, text[], text, text, integer, integer, text, bigint, text, boolean, text, text, boolean, text[], text),
	                           migrate.wait(bigint, interval, boolean, text) TO deployer;
	GRANT SELECT ON migrate.runs, migrate.tenant_runs TO deployer;
	CREATE SCHEMA ten_a AUTHORIZATION deployer;
	CREATE SCHEMA ten_b AUTHORIZATION deployer;
	CREATE SCHEMA ten_c AUTHORIZATION deployer;
	CREATE TABLE ten_b.accounts (id int);
	ALTER TABLE ten_b.accounts OWNER TO deployer;
});
my $dir = migrations_dir();
write_migration($dir, '0001_accounts.sql', "CREATE TABLE accounts (id int PRIMARY KEY);\n");
write_migration($dir, '0002_email.sql', "ALTER TABLE accounts ADD COLUMN email text;\n");

my ($rc, $out, $err) = pg_migrate($node,
	[ 'run', '--tenant-pattern', 'ten\_%', '--on-failure', 'continue', $dir ]);
is($rc, 1, 'a failed tenant: exit 1');
like($err, qr/^tenant ten_b: failed: 0001_accounts\.sql:1: relation "accounts" already exists$/m,
	'the failed tenant named with its file and line');
like($err, qr/^run \d+: 3 tenants: 2 applied, 1 failed$/m, 'the count of each state');
is( $node->safe_psql('postgres',
		"SELECT string_agg(tenant || '=' || count, ',' ORDER BY tenant) FROM (SELECT tenant, count(*) FROM migrate.migrations GROUP BY 1) c"),
	'ten_a=2,ten_c=2', 'the other tenants are migrated, each tracked apart');

my ($run) = $err =~ /^run (\d+): 3 tenants/m;
$node->safe_psql('postgres', 'DROP TABLE ten_b.accounts');
($rc, $out, $err) = pg_migrate($node, [ 'resume', $run ]);
is($rc, 0, 'resume of the tenant run exits 0');
is( $node->safe_psql('postgres',
		"SELECT string_agg(tenant || '=' || state, ',' ORDER BY position) FROM migrate.tenant_runs WHERE run_id = $run"),
	'ten_a=applied,ten_b=applied,ten_c=applied', 'every tenant applied');
is( $node->safe_psql('postgres', "SELECT count(*) FROM migrate.history WHERE action = 'apply'"),
	'6', 'the resume applied ten_b\'s two migrations only');

($rc, $out, $err) = pg_migrate($node, [ 'apply', '--tenants', 'ten_a', $dir ]);
is($rc, 2, '--tenants with apply: usage error');
like($err, qr/go with run only/, 'and says why');
($rc, $out, $err) = pg_migrate($node, [ 'run', '--tenants', 'ten_a', '--tenant-pattern', 'x', $dir ]);
is($rc, 2, 'two ways of naming tenants: usage error');
($rc, $out, $err) = pg_migrate($node, [ 'run', '--canary', '2', $dir ]);
like($err, qr/go with the tenants of run/, '--canary without tenants: usage error');
($rc, $out, $err) = pg_migrate($node, [ 'run', '--canary', '0', $dir ]);
is($rc, 2, '--canary 0 without tenants: usage error too');
like($err, qr/go with the tenants of run/, '--canary 0 without tenants: says why');

# bad counts are refused before anything is started: nothing, a sign, a
# suffix, or a number too large for an int (which atoi() wrapped around)
my $runs = $node->safe_psql('postgres', 'SELECT count(*) FROM migrate.run_jobs');
($rc, $out, $err) = pg_migrate($node, [ 'run', '--tenant-pattern', 'ten\_%', '--tenant-workers', '0', $dir ]);
is($rc, 2, '--tenant-workers 0: usage error');
like($err, qr/--tenant-workers needs a number of workers of 1 or more, not "0"/, 'and says why');
($rc, $out, $err) = pg_migrate($node,
	[ 'run', '--tenant-pattern', 'ten\_%', '--tenant-workers', '99999999999', $dir ]);
is($rc, 2, '--tenant-workers beyond an int: usage error');
foreach my $bad ('', 'x', '-1', '2x', '99999999999')
{
	($rc, $out, $err) = pg_migrate($node, [ 'run', '--tenant-pattern', 'ten\_%', '--canary', $bad, $dir ]);
	is($rc, 2, "--canary '$bad': usage error");
	like($err, qr/--canary needs a number of tenants, not "\Q$bad\E"/, "--canary '$bad': says why");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM migrate.run_jobs'),
	$runs, 'no run was started by a bad count');

$node->stop;
done_testing();
