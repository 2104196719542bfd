# migrate.plan() on a busy table: each statement runs under
# migrate.plan_lock_timeout, so a statement that would queue behind a long
# transaction fails fast with 55P03 (named in its row) instead of stalling
# the queries on the table, and nothing is left held afterwards.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = start_node('plan_lock_timeout');
$node->safe_psql('postgres', 'CREATE TABLE busy (id int); INSERT INTO busy VALUES (1)');

my $dir = PostgreSQL::Test::Utils::tempdir;
write_migration($dir, '0001_alter_busy.sql',
	"CREATE TABLE side (id int);\n\nALTER TABLE busy ADD COLUMN note text;\n");
write_migration($dir, '0002_free.sql', "CREATE TABLE free (id int);\n");

# A long read transaction on the table
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe('SELECT * FROM busy');

my $plan = "SELECT migration || ' ' || coalesce(line::text, '-') || ' ' || executed || ' ' || coalesce(error, note, 'ok')"
  . " FROM migrate.plan('$dir')";
my $t0 = time;
my $rows = $node->safe_psql('postgres', "SET migrate.plan_lock_timeout = '200ms'; $plan");
ok(time - $t0 < 30, 'plan gave up on the lock instead of waiting');
is( $rows,
	"0001_alter_busy 1 true ok\n"
	  . "0001_alter_busy 3 true 55P03: canceling statement due to lock timeout\n"
	  . "0002_free 1 true ok",
	'the statement that waited fails with 55P03 and its line; the next migration is planned');

# the default, 1s, applies without any setting
$t0 = time;
$rows = $node->safe_psql('postgres', $plan);
like($rows, qr/55P03/, 'migrate.plan_lock_timeout defaults to a short timeout');
ok(time - $t0 < 30, 'and it is short');

# 0 falls back to migrate.lock_timeout
$rows = $node->safe_psql('postgres',
	"SET migrate.plan_lock_timeout = 0; SET migrate.lock_timeout = '150ms'; $plan");
like($rows, qr/55P03/, 'with migrate.plan_lock_timeout 0, migrate.lock_timeout applies');

# nothing is left held or recorded: the app's writes go through at once
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname IN ('busy', 'side', 'free') AND l.pid <> " . $holder->query_safe('SELECT pg_backend_pid()')),
	'0', 'no lock of the plan is left on the tables');
is($node->safe_psql('postgres', 'SELECT count(*) FROM migrate.migrations'),
	'0', 'nothing was recorded');
is($node->safe_psql('postgres', "SELECT to_regclass('side') IS NULL AND to_regclass('free') IS NULL"),
	't', 'nothing the plan ran was kept');

$holder->query_safe('COMMIT');
$holder->quit;

# once the table is free, the same plan runs through
is( $node->safe_psql('postgres', "SET migrate.plan_lock_timeout = '5s'; $plan"),
	"0001_alter_busy 1 true ok\n0001_alter_busy 3 true ok\n0002_free 1 true ok",
	'every statement runs once the table is free');

# The locks of a migration the plan keeps (later migrations build on it)
# are held for at most migrate.plan_lock_timeout, not for as long as the
# later migrations take: an application's SELECT on a table the first
# migration locked waits for the budget at most, not for the slow second
# migration, which is canceled, and nothing after it is executed.
$node->safe_psql('postgres', 'CREATE TABLE app (id int); INSERT INTO app VALUES (1)');
my $slow = PostgreSQL::Test::Utils::tempdir;
write_migration($slow, '0001_alter_app.sql', "ALTER TABLE app ADD COLUMN note text;\n");
write_migration($slow, '0002_slow.sql', "SELECT pg_sleep(60);\n");
write_migration($slow, '0003_after.sql', "CREATE TABLE after_slow (id int);\n");
my $planner = $node->background_psql('postgres');
$planner->query_until(qr/started/,
	"SET migrate.plan_lock_timeout = '2s';\n\\echo started\n"
	  . "SELECT migration || ' ' || executed || ' ' || coalesce(note, error, 'ok') FROM migrate.plan('$slow');\n");
ok( $node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'app' AND l.mode = 'AccessExclusiveLock' AND l.granted"),
	'(the plan holds its lock on app)');
$t0 = Time::HiRes::time();
is($node->safe_psql('postgres', 'SELECT count(*) FROM app'), '1', "the application's SELECT on app went through");
my $waited = Time::HiRes::time() - $t0;
ok($waited < 20, "it waited for the plan's budget, not for the slow migration (${waited}s)");
$planner->quit;
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'app'"),
	'0', 'no lock is left on app');

done_testing();
