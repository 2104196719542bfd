# Safe by default (0.5): with nothing set, a migration that needs a lock a
# long reader holds never queues the application's queries behind it for
# much longer than the default migrate.lock_timeout, retries until the
# reader is gone, and says what it retried (NOTICE, history); retries stop
# at migrate.lock_retry_max_time with an error naming file, line, table and
# attempts; and a CONCURRENTLY build in the background worker is not cut
# short by the default timeout, while one that was set still applies.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = start_node('safe_defaults');
my $dir = PostgreSQL::Test::Utils::tempdir;
$node->safe_psql('postgres',
	'CREATE TABLE accounts (id int); INSERT INTO accounts VALUES (1); CREATE TABLE elsewhere (id int)');
write_migration($dir, '0001_add_email.sql',
	"-- the reader's ACCESS SHARE blocks it\nALTER TABLE accounts ADD COLUMN email text;\n");

is( $node->safe_psql('postgres',
		"LOAD 'pg_migrate'; SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_settings"
		  . " WHERE name IN ('migrate.lock_timeout', 'migrate.lock_retries', 'migrate.lock_retry_max_time')"),
	'migrate.lock_retries=30,migrate.lock_retry_max_time=300000,migrate.lock_timeout=1000',
	'the defaults');

# A reader holds ACCESS SHARE on the table
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN; LOCK TABLE accounts IN ACCESS SHARE MODE;');

# run, with nothing set, waits, retrying
my $runner = $node->background_psql('postgres', on_error_stop => 0);
$runner->query_until(qr/started/, "\\echo started\nCALL migrate.run('$dir');\n");
ok( $node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Extension'"
		  . " AND query LIKE 'CALL migrate.run%'"),
	'the run pauses before a retry');

# meanwhile the application's queries wait at most about the default
# timeout, however long the reader lasts
my $max = 0;
my $until = time + 4;
while (time < $until)
{
	my $t0 = time;
	$node->safe_psql('postgres', 'SELECT count(*) FROM accounts');
	my $took = time - $t0;
	$max = $took if $took > $max;
	sleep 0.05;
}
ok($max < 2, sprintf('the application waited at most %.2f s (< 2 x the default lock_timeout)', $max));

$holder->query_safe('COMMIT');
$runner->query('SELECT 1');
like(
	$runner->{stderr},
	qr/NOTICE:  migration "0001_add_email" could not obtain a lock on table "accounts" within lock_timeout \(1s\), retrying in \d+ ms \(retry 1 of 30\)\nDETAIL:  0001_add_email\.sql, line 2: canceling statement due to lock timeout/,
	'each retry names the migration, table, timeout, pause, attempt, file and line');
is(status_of($node, $dir), '0001_add_email=applied', 'the migration was applied once the reader was gone');
ok( $node->safe_psql('postgres',
		"SELECT lock_retries FROM migrate.history WHERE name = '0001_add_email' AND action = 'apply'") > 0,
	'its history row counts the retries');
$runner->quit;

# apply retries the statement, the same way
write_migration($dir, '0002_add_phone.sql', "SELECT 1;\n\nALTER TABLE public.accounts ADD COLUMN phone text;\n");
$holder->query_safe('BEGIN; LOCK TABLE accounts IN ACCESS SHARE MODE;');
$runner = $node->background_psql('postgres', on_error_stop => 0);
$runner->query_until(qr/started/, "\\echo started\nSELECT count(*) FROM migrate.apply('$dir');\n");
sleep 2;
$holder->query_safe('COMMIT');
$runner->query('SELECT 1');
like(
	$runner->{stderr},
	qr/migration "0002_add_phone" could not obtain a lock on table "public.accounts" within lock_timeout \(1s\), retrying in \d+ ms \(retry 1 of 30\)\nDETAIL:  0002_add_phone\.sql, line 3: /,
	'apply says what it retries too');
is(status_of($node, $dir), '0001_add_email=applied,0002_add_phone=applied', 'and applies the migration');
$runner->quit;

# Retries stop at migrate.lock_retry_max_time: the run fails, saying what
# it waited for, how often, and what to do
write_migration($dir, '0003_add_fax.sql', "-- blocked\nALTER TABLE accounts ADD COLUMN fax text;\n");
$holder->query_safe('BEGIN; LOCK TABLE accounts IN ACCESS SHARE MODE;');
my $t0 = time;
my ($ret, $out, $err) = $node->psql('postgres',
	"SET migrate.lock_timeout = '200ms'; SET migrate.lock_retry_delay = '100ms'; SET migrate.lock_retry_max_time = '2s';"
	  . " CALL migrate.run('$dir')");
my $took = time - $t0;
ok($took >= 2 && $took < 10, sprintf('the run gave up after %.1f s', $took));
like($err,
	qr/ERROR:  migration "0003_add_fax" could not obtain a lock on table "accounts" after \d+ attempts\nDETAIL:  The statement at 0003_add_fax\.sql, line 2 waited in vain for a lock at each attempt, for up to lock_timeout \(200ms\) each time; no retry starts later than migrate\.lock_retry_max_time \(2s\) after the first attempt\.\nHINT:  Run the migration again at a quieter time, or raise migrate\.lock_retry_max_time or migrate\.lock_retries; pg_locks and pg_stat_activity show which sessions hold the lock\./,
	'the error names the migration, table, attempts, file and line, and what to do');
like($err, qr/migration 0003_add_fax\.sql, line 2/, 'its context names file and line as before');
is( $node->safe_psql('postgres',
		"SELECT sqlstate || ' line ' || line || ': ' || (message LIKE '%after % attempts') FROM migrate.history"
		  . " WHERE name = '0003_add_fax' AND action = 'failure'"),
	'55P03 line 2: true', 'the failure is logged with it');

# or at migrate.lock_retries
($ret, $out, $err) = $node->psql('postgres',
	"SET migrate.lock_timeout = '100ms'; SET migrate.lock_retry_delay = '10ms'; SET migrate.lock_retries = 2;"
	  . " SELECT * FROM migrate.apply('$dir')");
like($err,
	qr/ERROR:  migration "0003_add_fax" could not obtain a lock on table "accounts" after 3 attempts\nDETAIL:  .* migrate\.lock_retries \(2\) allows no more retries\./,
	'the number of retries bounds them too');
# with migrate.lock_retries = 0 it fails as before 0.5, at the first timeout
($ret, $out, $err) = $node->psql('postgres',
	"SET migrate.lock_retries = 0; SELECT * FROM migrate.apply('$dir')");
like($err, qr/ERROR:  canceling statement due to lock timeout/, 'without retries, the lock timeout itself');
$holder->query_safe('COMMIT');

# A CONCURRENTLY build in the worker waits for an older transaction (with
# a snapshot, on another table) for longer than the default lock_timeout,
# and succeeds once it ends
write_migration($dir, '0004_index.sql',
	"-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY accounts_id ON accounts (id);\n");
$holder->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM elsewhere;');
$runner = $node->background_psql('postgres', on_error_stop => 0);
$runner->query_until(qr/started/, "\\echo started\nCALL migrate.run('$dir');\n");
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_migrate worker'"
		  . " AND query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'"),
	'the build waits for the older transaction');
sleep 2.5;
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_migrate worker'"
		  . " AND query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'"),
	'1', 'past the default lock_timeout it is still waiting');
$holder->query_safe('COMMIT');
$runner->query('SELECT 1');
is(status_of($node, $dir),
	'0001_add_email=applied,0002_add_phone=applied,0003_add_fax=applied,0004_index=applied',
	'and it succeeds once the transaction ended');
is($node->safe_psql('postgres', "SELECT indisvalid FROM pg_index WHERE indexrelid = 'accounts_id'::regclass"),
	't', 'the index is valid');
$runner->quit;

# a lock_timeout that was set applies to it as it is
write_migration($dir, '0005_index.sql',
	"-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY accounts_id2 ON accounts (id);\n");
$holder->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM elsewhere;');
($ret, $out, $err) = $node->psql('postgres',
	"SET migrate.lock_timeout = '300ms'; CALL migrate.run('$dir')");
like($err, qr/canceling statement due to lock timeout.*migration 0005_index\.sql, line 2/s,
	'a migrate.lock_timeout that was set cuts it short');
$holder->query_safe('COMMIT');
$holder->quit;

$node->stop;
done_testing();
