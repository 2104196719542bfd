# The server stopped with -m immediate in the middle of a
# CREATE INDEX CONCURRENTLY migration: after the restart, migrate.runs
# shows the run as interrupted, the index it left is invalid, and the next
# pg_migrate run drops it, builds it again and goes on from the first
# migration not recorded.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PgMigrateCommand;

my $node = command_node('resume_concurrently');
$node->safe_psql(
	'postgres', q{
	GRANT EXECUTE ON FUNCTION migrate.start(jsonb, text, boolean, text, text, boolean),
	                          migrate.cancel(bigint), migrate.resume(bigint) TO deployer;
	GRANT EXECUTE ON PROCEDURE migrate.wait(bigint, interval, boolean, text) TO deployer;
	GRANT SELECT ON migrate.runs TO deployer;
});
my $dir = migrations_dir();
write_migration($dir, '0001_big.sql',
	"CREATE TABLE big (id int);\nINSERT INTO big SELECT generate_series(1, 10000);\n");
write_migration($dir, '0002_index.sql',
	"-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY big_id ON big (id);\n");
write_migration($dir, '0003_after.sql', "CREATE TABLE after_index (id int);\n");

# A session whose snapshot the build waits for, at its end
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM pg_class;');

my ($h, $out, $err) = pg_migrate_start($node, [ 'run', $dir ]);
ok( $node->poll_query_until('postgres',
		"SELECT index_phase IS NOT NULL AND migration = '0002_index' FROM migrate.runs"),
	'migrate.runs shows the index build in progress');
my $phase = $node->safe_psql('postgres', 'SELECT index_phase FROM migrate.runs');
note("index build phase: $phase");
is( $node->safe_psql('postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_id'::regclass"),
	'f', 'the index is there, not valid yet');

$node->stop('immediate');
$h->finish;
eval { $holder->quit; };
$node->start;

is($node->safe_psql('postgres', 'SELECT state FROM migrate.runs'),
	'interrupted', 'after the restart, migrate.runs shows the run as interrupted');
is( $node->safe_psql('postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_id'::regclass"),
	'f', 'and the interrupted build left an invalid index');
is( $node->safe_psql('postgres', 'SELECT string_agg(name, \',\' ORDER BY name) FROM migrate.migrations'),
	'0001_big', 'the migration before it is recorded, not the interrupted one');

my ($rc, $o, $e) = pg_migrate($node, [ 'run', $dir ]);
is($rc, 0, 'the next run succeeds');
like($e, qr/dropping the invalid index an interrupted attempt at migration "0002_index" left, to build it again/,
	'it says it drops the invalid index');
like($o, qr/^applied 0002_index .*\napplied 0003_after /ms,
	'and goes on from the first migration not recorded');
is( $node->safe_psql('postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_id'::regclass"),
	't', 'the index is valid');
is( $node->safe_psql('postgres',
		"SELECT name || ': ' || detail FROM migrate.history WHERE action = 'index_rebuilt'"),
	'0002_index: DROP INDEX CONCURRENTLY public.big_id;', 'the history says what was dropped');
is( $node->safe_psql('postgres',
		"SELECT string_agg(state, ',' ORDER BY run_id) FROM migrate.runs"),
	'interrupted,succeeded', 'migrate.runs: the first run interrupted, the second succeeded');

$node->stop;
done_testing();
