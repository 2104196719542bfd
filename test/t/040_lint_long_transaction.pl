# Lint reads the transactions open right now: one that has held a lock on
# a table the migration will lock for longer than
# migrate.lint_long_transaction is a finding naming its process, age and
# query start, so that the deploy knows it would wait (or, with
# migrate.lock_timeout, fail) before it starts.  Here the migrations run
# without the default lock timeout and retries of 0.5, so that
# lock_timeout_unset is a finding too and a lock wait fails at once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = start_node('lint_long_transaction');
$node->safe_psql('postgres', 'CREATE TABLE busy (id int); CREATE TABLE quiet (id int)');

my $dir = PostgreSQL::Test::Utils::tempdir;
write_migration($dir, '0001_alter_busy.sql',
	"CREATE TABLE side (id int);\nALTER TABLE busy ADD COLUMN note text;\n");

# a reader keeps its transaction open on busy
my $reader = $node->background_psql('postgres');
$reader->query_safe('BEGIN');
$reader->query_safe('SELECT count(*) FROM busy');
my $pid = $reader->query_safe('SELECT pg_backend_pid()');
$pid =~ s/\s+//g;
sleep 2;

my $lint = "SELECT line || ' ' || rule || ' ' || message || ' / ' || hint FROM migrate.lint('$dir') WHERE rule = 'long_transaction'";

my $found = $node->safe_psql('postgres',
	"SET migrate.lint_long_transaction = '1s'; $lint");
like($found, qr/^2 long_transaction process $pid has had a transaction open for 00:00:0\d \(its latest query started at \d{4}-\d\d-\d\d [\d:.]+[^)]*\) holding AccessShareLock on table "busy"/,
	'the transaction on the table is a finding with its pid, age and query start');
like($found, qr/pg_terminate_backend\($pid\)/, 'the hint names the process');

is($node->safe_psql('postgres', "SET migrate.lint_long_transaction = '1h'; $lint"),
	'', 'not when it is younger than migrate.lint_long_transaction');

# a migration that only takes locks a reader does not block finds nothing
write_migration($dir, '0001_alter_busy.sql', "CREATE INDEX CONCURRENTLY quiet_id ON quiet (id);\nCREATE TABLE side (id int);\n");
is($node->safe_psql('postgres', "SET migrate.lint_long_transaction = '1s'; $lint"),
	'', 'not on a table the migration does not lock in a conflicting mode');
write_migration($dir, '0001_alter_busy.sql',
	"CREATE TABLE side (id int);\nALTER TABLE busy ADD COLUMN note text;\n");

# apply warns before it starts waiting; with migrate.lint = error it refuses
my $unset = 'SET migrate.lock_timeout = 0; SET migrate.lock_retries = 0;';
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"$unset SET migrate.lint_long_transaction = '1s'; SET migrate.lint = error; SELECT * FROM migrate.apply('$dir')");
like($stderr, qr/ERROR:  migration "0001_alter_busy" has 2 lint findings.*long_transaction: process $pid has had a transaction open/s,
	'apply refuses with migrate.lint = error');
is($node->safe_psql('postgres', "SELECT to_regclass('side') IS NULL"), 't', 'nothing ran');

# allowed, the run goes on once the reader is gone, and the finding is logged
write_migration($dir, '0001_alter_busy.sql',
	"-- migrate:allow long_transaction lock_timeout_unset\nCREATE TABLE side (id int);\nALTER TABLE busy ADD COLUMN note text;\n");
($ret, $stdout, $stderr) = $node->psql('postgres',
	"$unset SET migrate.lint_long_transaction = '1s'; SET migrate.lint = error; SET lock_timeout = '300ms'; SELECT * FROM migrate.apply('$dir')");
like($stderr, qr/canceling statement due to lock timeout/,
	'allowed: apply goes on, and waits for the lock as the finding said');
$reader->query_safe('COMMIT');
$reader->quit;
$node->safe_psql('postgres', "$unset SET migrate.lint = error; CALL migrate.run('$dir')");
is( $node->safe_psql('postgres',
		"SELECT string_agg(message, ',') FROM migrate.history WHERE action = 'lint_allowed'"),
	'lock_timeout_unset',
	'the reader gone, only the allowed finding still found is logged, once the run succeeded');
is($node->safe_psql('postgres', "SELECT to_regclass('side') IS NOT NULL"), 't', 'the migration ran');

done_testing();
