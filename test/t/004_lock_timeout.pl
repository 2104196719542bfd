# migrate.lock_timeout: a migration that cannot get its lock in time fails
# cleanly, naming the migration and the line of the statement that waited,
# instead of queueing behind a busy table and stalling production traffic.
# Retries (on by default since 0.5, see 016_lock_retries.pl and
# 048_safe_defaults_stall.pl) are turned off here: the first timeout fails.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = start_node('lock_timeout');
$node->safe_psql('postgres', 'CREATE TABLE busy (id int)');

my $dir = PostgreSQL::Test::Utils::tempdir;
sub migration { write_migration($dir, @_); }

migration('0001_free.sql', "CREATE TABLE free (id int);\n");
migration('0002_alter_busy.sql',
	"-- needs ACCESS EXCLUSIVE on busy\nCREATE TABLE side (id int);\nALTER TABLE busy ADD COLUMN note text;\n");

# Someone holds ACCESS EXCLUSIVE on the table
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe('LOCK TABLE busy IN ACCESS EXCLUSIVE MODE');

# run: the migration before it stays applied, this one changes nothing
my $t0 = time;
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET migrate.lock_retries = 0; SET migrate.lock_timeout = '200ms'; CALL migrate.run('$dir')");
ok(time - $t0 < 30, 'run gave up instead of waiting');
like($stderr, qr/ERROR:  canceling statement due to lock timeout/,
	'run fails with the lock timeout');
like($stderr, qr/migration 0002_alter_busy\.sql, line 3/,
	'naming the migration and the line that waited');
is($node->safe_psql('postgres', 'SELECT string_agg(name, \',\') FROM migrate.migrations'),
	'0001_free', 'the migration before it stays applied');
is($node->safe_psql('postgres', "SELECT to_regclass('side') IS NULL"),
	't', 'nothing of the failed migration remains');
is( $node->safe_psql('postgres',
		"SELECT sqlstate || ' ' || line FROM migrate.history WHERE action = 'failure'"),
	'55P03 3', 'the failure is logged');

# apply: all or nothing
migration('0003_more.sql', "CREATE TABLE more (id int);\n");
($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET migrate.lock_retries = 0; SET migrate.lock_timeout = '200ms'; SELECT * FROM migrate.apply('$dir')");
like($stderr, qr/canceling statement due to lock timeout.*migration 0002_alter_busy\.sql, line 3/s,
	'apply fails the same way');
is($node->safe_psql('postgres', 'SELECT count(*) FROM migrate.migrations'),
	'1', 'apply changed nothing');

# The setting applies in the background worker too
migration('0002_alter_busy.sql',
	"-- migrate:no-transaction\nCREATE TABLE IF NOT EXISTS side (id int);\nALTER TABLE busy ADD COLUMN note text;\n");
($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET migrate.lock_retries = 0; SET migrate.lock_timeout = '200ms'; CALL migrate.run('$dir')");
like($stderr, qr/canceling statement due to lock timeout.*migration 0002_alter_busy\.sql, line 3/s,
	'a no-transaction migration honours migrate.lock_timeout');

# Without the setting, the session's own lock_timeout stands
($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET migrate.lock_retries = 0; SET lock_timeout = '200ms'; CALL migrate.run('$dir')");
like($stderr, qr/canceling statement due to lock timeout/,
	'the session\'s lock_timeout applies when migrate.lock_timeout is unset');

# Once the table is free, the same run succeeds
$holder->query_safe('COMMIT');
$holder->quit;
$node->safe_psql('postgres', "SET migrate.lock_timeout = '5s'; CALL migrate.run('$dir')");
is( status_of($node, $dir),
	'0001_free=applied,0002_alter_busy=applied,0003_more=applied',
	'everything applies once the lock is free');

# rollback's down scripts wait no longer than migrate.lock_timeout either
migration('0005_touch_busy.sql', "SELECT 1;\n");
migration('0005_touch_busy.down.sql', "-- needs the table\nLOCK TABLE busy;\n");
$node->safe_psql('postgres', "SELECT count(*) FROM migrate.apply('$dir')");
$holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe('LOCK TABLE busy IN ACCESS EXCLUSIVE MODE');
($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET migrate.lock_retries = 0; SET migrate.lock_timeout = '200ms'; SELECT * FROM migrate.rollback('0005_touch_busy')");
like($stderr, qr/canceling statement due to lock timeout.*migration 0005_touch_busy \(down\), line 2/s,
	'rollback honours migrate.lock_timeout, naming the down script and line');
is($node->safe_psql('postgres', "SELECT count(*) FROM migrate.migrations WHERE name = '0005_touch_busy'"),
	'1', 'and undoes nothing');
$holder->query_safe('COMMIT');
$holder->quit;

$node->stop;
done_testing();
