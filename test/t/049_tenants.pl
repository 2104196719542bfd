# Every tenant in one call: 200 tenant schemas migrated by
# migrate.run_tenants() with canaries and two parallel workers.  One tenant
# is made to fail by an object of the same name made beforehand in its
# schema: migrate.tenant_runs names it with the file and line, the others
# are applied.  Called again with the same run_id after the cause is
# removed, the run migrates that tenant only: the others' tracking rows,
# history and outcome rows are untouched.  A canary that fails stops the
# fleet before the other tenants.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = start_node('tenants');
my $dir = PostgreSQL::Test::Utils::tempdir;
sub migration { write_migration($dir, @_); }

migration('0001_accounts.sql',
	"CREATE TABLE accounts (id int PRIMARY KEY, name text);\n");
migration('0002_accounts_email.sql',
	"ALTER TABLE accounts ADD COLUMN email text;\n"
	  . "CREATE INDEX accounts_email_idx ON accounts (email);\n");

$node->safe_psql('postgres',
	"SELECT format('CREATE SCHEMA %I', 'tenant_' || lpad(i::text, 3, '0'))
	 FROM generate_series(1, 200) i \\gexec");
# the failing tenant: its schema holds a table of the index's name
$node->safe_psql('postgres',
	'CREATE TABLE tenant_137.accounts_email_idx (x int)');

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET migrate.lint = off; SET client_min_messages = warning;
	 CALL migrate.run_tenants('$dir', tenant_pattern => 'tenant\\_%',
	                          canary => 3, parallel => 2, on_failure => 'continue')");
isnt($ret, 0, 'the run fails when a tenant fails');
like($stderr, qr/1 tenant of 200 failed/, 'the error counts the failed tenants');
like($stderr, qr/tenant "tenant_137" failed first \(0002_accounts_email.sql, line 2\)/,
	'the error names the tenant, file and line');
my $run_id = $node->safe_psql('postgres', 'SELECT max(run_id) FROM migrate.tenant_runs');

is( $node->safe_psql('postgres',
		"SELECT string_agg(state || '=' || n, ',' ORDER BY state)
		 FROM (SELECT state, count(*) AS n FROM migrate.tenant_runs
		       WHERE run_id = $run_id GROUP BY state) s"),
	'applied=199,failed=1',
	'199 tenants applied, one failed');
is( $node->safe_psql('postgres',
		"SELECT tenant, migrations, sqlstate, file, line, error
		 FROM migrate.tenant_runs WHERE run_id = $run_id AND state = 'failed'"),
	'tenant_137|1|42P07|0002_accounts_email.sql|2|relation "accounts_email_idx" already exists',
	'tenant_runs names the failed tenant with its error, file and line');
is( $node->safe_psql('postgres',
		"SELECT string_agg(tenant, ',' ORDER BY position) FROM migrate.tenant_runs
		 WHERE run_id = $run_id AND canary"),
	'tenant_001,tenant_002,tenant_003',
	'the first three tenants are the canaries');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM information_schema.columns
		 WHERE table_name = 'accounts' AND column_name = 'email'"),
	'199', 'each applied tenant has its column, in its own schema');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM migrate.migrations WHERE tenant LIKE 'tenant\\_%'"),
	'399', 'each tenant is tracked apart; the failed one keeps its first migration');
is( $node->safe_psql('postgres',
		"SELECT string_agg(applied || '/' || pending || '/' || failed || '=' || n, ',')
		 FROM (SELECT applied, pending, failed, count(*) AS n
		       FROM migrate.tenant_status('$dir', tenant_pattern => 'tenant\\_%')
		       GROUP BY 1, 2, 3 ORDER BY 1, 2, 3) s"),
	'1/0/1=1,2/0/0=199',
	'tenant_status: one row per tenant, with the failed one');
is($node->safe_psql('postgres', 'SELECT count(*) FROM migrate.migrations WHERE tenant = \'\''),
	'0', 'the database\'s own tracking is untouched');

# What the other tenants have: their tracking rows, history and outcome
my $others = "SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
	SELECT 'm' || tenant || name || applied_at || id AS x FROM migrate.migrations
	WHERE tenant <> 'tenant_137'
	UNION ALL SELECT 'h' || tenant || coalesce(name, '') || action || id || performed_at
	FROM migrate.history WHERE tenant <> 'tenant_137'
	UNION ALL SELECT 'r' || tenant || state || started_at || finished_at
	FROM migrate.tenant_runs WHERE tenant <> 'tenant_137') s";
my $before = $node->safe_psql('postgres', $others);

# the cause removed, the same run again: the failed tenant only
$node->safe_psql('postgres', 'DROP TABLE tenant_137.accounts_email_idx');
($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET migrate.lint = off;
	 CALL migrate.run_tenants('$dir', run_id => $run_id, parallel => 2)");
is($ret, 0, 'the run called again succeeds') or diag($stderr);
like($stderr, qr/run $run_id: 1 tenants migrated/, 'it migrates one tenant');
is($node->safe_psql('postgres', $others), $before,
	'the other tenants\' tracking rows, history and outcome rows are untouched');
is( $node->safe_psql('postgres',
		"SELECT state || ',' || migrations || ',' || (error IS NULL)
		 FROM migrate.tenant_runs WHERE run_id = $run_id AND tenant = 'tenant_137'"),
	'applied,1,true', 'the failed tenant is applied now, its second migration run');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM migrate.tenant_runs WHERE run_id = $run_id AND state = 'applied'"),
	'200', 'every tenant of the run is applied');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_indexes WHERE indexname = 'accounts_email_idx'"),
	'200', 'every tenant has the index');

# A failing canary stops the fleet: no tenant after the canaries is begun
migration('0003_accounts_plan.sql', "ALTER TABLE accounts ADD COLUMN plan text;\n");
$node->safe_psql('postgres', 'ALTER TABLE tenant_001.accounts ADD COLUMN plan int');
($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET migrate.lint = off; SET client_min_messages = warning;
	 CALL migrate.run_tenants('$dir', tenant_pattern => 'tenant\\_%',
	                          canary => 2, parallel => 2, on_failure => 'continue')");
like($stderr, qr/canary tenant "tenant_001" failed/, 'the canary\'s failure ends the run');
$run_id = $node->safe_psql('postgres', 'SELECT max(run_id) FROM migrate.tenant_runs');
is( $node->safe_psql('postgres',
		"SELECT string_agg(tenant || '=' || state, ',' ORDER BY position)
		 FROM migrate.tenant_runs WHERE run_id = $run_id AND state <> 'pending'"),
	'tenant_001=failed,tenant_002=applied',
	'only the canaries ran');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM migrate.tenant_runs WHERE run_id = $run_id AND state = 'pending'"),
	'198', 'the other tenants are pending, for a later call with the run_id');

done_testing();
