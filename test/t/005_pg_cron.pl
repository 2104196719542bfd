# Scheduling migrate.run() with pg_cron: the recipe from the README, for
# real.  A scheduled job applies a folder; a failing migration dropped in
# later makes the next run fail, logged in cron.job_run_details and
# migrate.history, with the earlier migrations left in place.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
if (!-e $node->config_data('--pkglibdir') . '/pg_cron.so')
{
	plan skip_all => 'pg_cron is not installed';
}
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.host = '@{[ $node->host ]}'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
$node->safe_psql('postgres', 'CREATE EXTENSION pg_migrate');

my $dir = PostgreSQL::Test::Utils::tempdir;
sub migration { write_migration($dir, @_); }
migration('0001_users.sql', "CREATE TABLE users (id int PRIMARY KEY);\n");
migration('0002_seed.sql', "INSERT INTO users VALUES (1);\n");

# pg_cron 1.4 runs jobs at minute granularity: wait up to two minutes a run
$PostgreSQL::Test::Utils::timeout_default = 150;
$node->safe_psql('postgres',
	"SELECT cron.schedule('migrate', '* * * * *', \$\$CALL migrate.run('$dir')\$\$)");

$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM cron.job_run_details WHERE status = 'succeeded'")
  or die 'the scheduled run never succeeded';
is( $node->safe_psql('postgres',
		"SELECT string_agg(name, ',' ORDER BY name) FROM migrate.migrations"),
	'0001_users,0002_seed', 'the scheduled run applied the folder');
is( $node->safe_psql('postgres',
		"SELECT string_agg(action || ':' || name, ',' ORDER BY id) FROM migrate.history"),
	'apply:0001_users,apply:0002_seed', 'and logged it in migrate.history');

# A failing migration: the next scheduled run records the failure
migration('0003_broken.sql', "CREATE TABLE orders (id int);\nINSERT INTO users VALUES (1);\n");
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM cron.job_run_details WHERE status = 'failed'")
  or die 'the scheduled run never failed';
like( $node->safe_psql('postgres',
		"SELECT return_message FROM cron.job_run_details WHERE status = 'failed' LIMIT 1"),
	qr/duplicate key value violates unique constraint "users_pkey"/,
	'cron.job_run_details has the error');
is( $node->safe_psql('postgres',
		"SELECT name || ' ' || sqlstate || ' ' || file || ' ' || line
		 FROM migrate.history WHERE action = 'failure' LIMIT 1"),
	'0003_broken 23505 0003_broken.sql 2',
	'migrate.history has the failure with file and line');
is( status_of($node, $dir),
	'0001_users=applied,0002_seed=applied,0003_broken=failed',
	'the earlier migrations stay in place');
is($node->safe_psql('postgres', "SELECT to_regclass('orders') IS NULL"),
	't', 'nothing of the failed migration remains');

$node->safe_psql('postgres', "SELECT cron.unschedule('migrate')");
$node->stop;
done_testing();
