# drizzle interop against the real thing: drizzle-orm's own migrate() (from
# the npm registry, pinned in test/drizzle/package-lock.json) and pg_migrate
# on the same database, in both orders, on a folder made by drizzle-kit.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $srcdir = $ENV{TESTDIR} || '.';
my $npm_dir = "$srcdir/test/drizzle";
plan skip_all => 'node and npm are not installed'
  unless system('node --version >/dev/null 2>&1') == 0
  && system('npm --version >/dev/null 2>&1') == 0;

# install drizzle-orm and pg as pinned by the lockfile
system("cd '$npm_dir' && npm ci --no-audit --no-fund --loglevel=error >/dev/null") == 0
  or die 'npm ci failed in test/drizzle';

my $node = start_node('drizzle');

# the fixture, and a copy as an older deploy saw it: two of its three entries
my ($full, $older) = drizzle_fixtures($srcdir);

sub drizzle_migrate
{
	my ($folder, $db) = @_;
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGUSER} = scalar getpwuid($<);
	my $out = `node '$npm_dir/migrate.mjs' '$folder' '$db' 2>&1`;
	return ($? == 0, $out);
}

sub query { my ($db, $sql) = @_; return $node->safe_psql($db, $sql); }

# 1. pg_migrate first, then the app's drizzle-orm migrate(): nothing to do
$node->safe_psql('postgres', 'CREATE DATABASE one');
query('one', 'CREATE EXTENSION pg_migrate');
query('one', "SELECT count(*) FROM migrate.apply('$full', format => 'drizzle')");
my ($ok, $out) = drizzle_migrate($full, 'one');
ok($ok, 'drizzle-orm migrate() after migrate.apply raises nothing') or diag $out;
is(query('one', 'SELECT count(*) FROM drizzle.__drizzle_migrations'), '3',
	'and applies nothing: no row added');
is(query('one', "SELECT count(*) FROM pg_attribute WHERE attrelid = 'lessons'::regclass AND attname = 'position'"),
	'1', 'the schema is as pg_migrate left it');

# 2. drizzle-orm's migrate() of an older folder, then pg_migrate of the full one
$node->safe_psql('postgres', 'CREATE DATABASE two');
query('two', 'CREATE EXTENSION pg_migrate');
($ok, $out) = drizzle_migrate($older, 'two');
ok($ok, 'drizzle-orm migrate() of the older folder') or diag $out;
is( status_of($node, $full, 'two'),
	'0000_initial=applied,0001_quiz_answers=applied,0002_lesson_position=pending',
	'status adopts what drizzle-orm applied, by hash');
is( query('two', "SELECT string_agg(name || ':' || action, ',' ORDER BY name) FROM migrate.apply('$full')"),
	'0000_initial:adopted,0001_quiz_answers:adopted,0002_lesson_position:applied',
	'apply records those and runs only the rest');
is(query('two', 'SELECT count(*) FROM migrate.migrations'), '3', 'all three are in migrate.migrations');
is( query('two', 'SELECT string_agg(created_at::text, \',\' ORDER BY id) FROM drizzle.__drizzle_migrations'),
	'1795494245473,1795494250367,1795494251706',
	'and in drizzle.__drizzle_migrations, with the journal\'s "when"');
($ok, $out) = drizzle_migrate($full, 'two');
ok($ok, 'drizzle-orm migrate() of the full folder afterwards raises nothing') or diag $out;
is(query('two', 'SELECT count(*) FROM drizzle.__drizzle_migrations'), '3', 'and applies nothing');

# 3. rollback removes the row from both tables: drizzle-orm sees it pending again
is( query('two', "SELECT string_agg(name, ',') FROM migrate.rollback('0002_lesson_position')"),
	'0002_lesson_position', 'rollback of a drizzle migration');
is(query('two', 'SELECT count(*) FROM drizzle.__drizzle_migrations'), '2',
	'its row is gone from drizzle\'s table');
($ok, $out) = drizzle_migrate($full, 'two');
ok($ok, 'drizzle-orm migrate() after the rollback') or diag $out;
is(query('two', "SELECT count(*) FROM pg_attribute WHERE attrelid = 'lessons'::regclass AND attname = 'position'"),
	'1', 'drizzle-orm applied it again');
is( status_of($node, $full, 'two'),
	'0000_initial=applied,0001_quiz_answers=applied,0002_lesson_position=applied',
	'and pg_migrate sees it applied');

$node->stop;
done_testing();
