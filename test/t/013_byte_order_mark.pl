# A UTF-8 byte order mark, which editors on Windows put at the start of a
# file, must not hide what the first line says: "-- migrate:no-transaction"
# in a plain file, "-- migrate:up transaction:false" in a dbmate file.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $bom = "\xEF\xBB\xBF";
my $node = start_node('bom');

# plain: the directive on the first line, after the mark
my $plain = PostgreSQL::Test::Utils::tempdir;
write_migration($plain, '0001_events.sql',
	"CREATE TABLE events (id int, kind text);\n");
write_migration($plain, '0002_events_kind_idx.sql',
	$bom
	  . "-- migrate:no-transaction\n"
	  . "CREATE INDEX CONCURRENTLY events_kind_idx ON events (kind);\n");

my ($ret, $stdout, $stderr) =
  $node->psql('postgres', "SELECT * FROM migrate.apply('$plain')");
isnt($ret, 0, 'apply refuses the marked migration');
like(
	$stderr,
	qr/migration "0002_events_kind_idx" cannot run inside a transaction block/,
	'because the file is marked to run outside a transaction');
like($stderr, qr/HINT:  Apply the folder with CALL migrate\.run/,
	'with the hint to use migrate.run');

$node->safe_psql('postgres', "CALL migrate.run('$plain')");
is( $node->safe_psql(
		'postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_kind_idx'::regclass"
	),
	't',
	'run builds the index concurrently, outside a transaction');
is( $node->safe_psql(
		'postgres',
		"SELECT transaction_mode FROM migrate.migrations WHERE name = '0002_events_kind_idx'"
	),
	'no-transaction',
	'and records the migration as no-transaction');

# dbmate: the marker line is the first line, and tells the format apart
my $dbmate = PostgreSQL::Test::Utils::tempdir;
write_migration($dbmate, '20240101000000_accounts.sql',
	$bom
	  . "-- migrate:up\n"
	  . "CREATE TABLE accounts (id int, email text);\n\n"
	  . "-- migrate:down\nDROP TABLE accounts;\n");
write_migration($dbmate, '20240102000000_accounts_email_idx.sql',
	$bom
	  . "-- migrate:up transaction:false\n"
	  . "CREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);\n\n"
	  . "-- migrate:down\nDROP INDEX accounts_email_idx;\n");

$node->safe_psql('postgres', 'CREATE DATABASE dbmate');
$node->safe_psql('dbmate', 'CREATE EXTENSION pg_migrate');
($ret, $stdout, $stderr) =
  $node->psql('dbmate',
	"SET client_min_messages = debug1; SELECT * FROM migrate.status('$dbmate')");
is($ret, 0, 'status reads the folder');
like($stderr, qr/is in dbmate format/, 'and detects the dbmate format');

($ret, $stdout, $stderr) =
  $node->psql('dbmate', "SELECT * FROM migrate.apply('$dbmate')");
like(
	$stderr,
	qr/migration "20240102000000_accounts_email_idx" cannot run inside a transaction block/,
	'apply refuses the transaction:false migration');

$node->safe_psql('dbmate', "CALL migrate.run('$dbmate')");
is( $node->safe_psql(
		'dbmate',
		"SELECT string_agg(name || ' ' || transaction_mode || ' ' || (down_sql IS NOT NULL), ', ' ORDER BY name) FROM migrate.migrations"
	),
	'20240101000000_accounts transaction true, '
	  . '20240102000000_accounts_email_idx no-transaction true',
	'run applies both, with their down sections');
is( $node->safe_psql(
		'dbmate',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'accounts_email_idx'::regclass"
	),
	't',
	'the index is built concurrently');

# errors after the mark name the right line
my $broken = PostgreSQL::Test::Utils::tempdir;
write_migration($broken, '0001_broken.sql',
	$bom . "-- a comment\nCREATE TABEL broken (id int);\n");
$node->safe_psql('postgres', 'CREATE DATABASE broken');
$node->safe_psql('broken', 'CREATE EXTENSION pg_migrate');
($ret, $stdout, $stderr) =
  $node->psql('broken', "SELECT * FROM migrate.apply('$broken')");
like($stderr, qr/syntax error at or near "TABEL"/, 'a syntax error after the mark');
like($stderr, qr/CONTEXT:  migration 0001_broken\.sql, line 2/,
	'is reported on its line');

$node->stop;
done_testing();
