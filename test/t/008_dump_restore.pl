# pg_dump keeps the tracking tables (they are extension configuration
# tables): after a dump and restore, status sees what was applied, and new
# migrations apply on top without clashing with the restored rows.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PostgreSQL::Test::Utils;

my $node = start_node('dump');
my $dir = PostgreSQL::Test::Utils::tempdir;
sub migration { write_migration($dir, @_); }

migration('0001_users.sql', "CREATE TABLE users (id int PRIMARY KEY);\n");
migration('0001_users.down.sql', "DROP TABLE users;\n");
migration('0002_seed.sql', "INSERT INTO users VALUES (1);\n");
migration('0002_seed.down.sql', "DELETE FROM users;\n");
$node->safe_psql('postgres', "SELECT count(*) FROM migrate.apply('$dir')");

my $dump = "$dir/../app.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ],
	'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ],
	'pg_restore');

is(status_of($node, $dir, 'restored'), '0001_users=applied,0002_seed=applied',
	'the restored database knows what was applied');
is( $node->safe_psql('restored',
		"SELECT string_agg(action || ':' || name, ',' ORDER BY id) FROM migrate.history"),
	'apply:0001_users,apply:0002_seed', 'and its history');

migration('0003_more.sql', "CREATE TABLE more (id int);\n");
migration('0003_more.down.sql', "DROP TABLE more;\n");
is( $node->safe_psql('restored',
		"SELECT string_agg(name, ',') FROM migrate.apply('$dir')"),
	'0003_more', 'a new migration applies after the restore');
is( $node->safe_psql('restored',
		"SELECT string_agg(name, ',' ORDER BY name) FROM migrate.rollback('0002_seed')"),
	'0002_seed,0003_more', 'and rollback walks back through restored rows in order');

$node->stop;
done_testing();
