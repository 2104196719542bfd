# Switching from node-pg-migrate: the real node-pg-migrate (from the npm
# registry, pinned in test/node_pg_migrate/package-lock.json) and pg_migrate
# on one database.  What node-pg-migrate applied is adopted, not run again;
# what pg_migrate applies or rolls back is recorded in its pgmigrations as
# node-pg-migrate records it, so that node-pg-migrate agrees.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $srcdir = $ENV{TESTDIR} || '.';
my $npm_dir = "$srcdir/test/node_pg_migrate";
my $npm_tool = "$npm_dir/node_modules/.bin/node-pg-migrate";
plan skip_all => 'node and npm are not installed'
  unless system('node --version >/dev/null 2>&1') == 0
  && system('npm --version >/dev/null 2>&1') == 0;
plan skip_all => 'node-pg-migrate could not be installed from the npm registry'
  unless system("cd '$npm_dir' && npm install --no-save --no-audit --no-fund --loglevel=error >/dev/null 2>&1") == 0;

my $node = start_node('node_pg_migrate');
my $superuser = $node->safe_psql('postgres', 'SELECT current_user');
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION pg_migrate');

# Three SQL migrations as node-pg-migrate writes them ("create
# --migration-file-language sql"), in a folder of the first two too
my $tmp = PostgreSQL::Test::Utils::tempdir;
my ($full, $older) = ("$tmp/full", "$tmp/older");
mkdir $_ for ($full, $older);
my %files = (
	'1700000000000_create-widgets.sql' =>
	  "-- Up Migration\nCREATE TABLE widgets (id serial PRIMARY KEY, name text NOT NULL);\n\n-- Down Migration\nDROP TABLE widgets;\n",
	'1700000001000_widget-price.sql' =>
	  "-- Up Migration\nALTER TABLE widgets ADD COLUMN price numeric;\n\n-- Down Migration\nALTER TABLE widgets DROP COLUMN price;\n",
	'1700000002000_widget-sku.sql' =>
	  "-- Up Migration\nALTER TABLE widgets ADD COLUMN sku text;\n\n-- Down Migration\nALTER TABLE widgets DROP COLUMN sku;\n");
foreach my $file (sort keys %files)
{
	write_migration($full, $file, $files{$file});
	write_migration($older, $file, $files{$file}) unless $file =~ /sku/;
}
my ($create, $price, $sku) = map { s/\.sql$//r } sort keys %files;

# node-pg-migrate itself, on the app database, with the folder
sub npm_tool
{
	my ($dir, @args) = @_;
	my $url = sprintf('postgres://%s@localhost/app?host=%s&port=%s',
		$superuser, $node->host, $node->port);
	local $ENV{DATABASE_URL} = $url;
	my $out = `'$npm_tool' -m '$dir' --migration-file-language sql @args 2>&1`;
	return ($? == 0, $out);
}

sub query { my ($sql) = @_; return $node->safe_psql('app', $sql); }

my ($ok, $out) = npm_tool($older, 'up');
ok($ok, 'node-pg-migrate applies the first two migrations') or diag $out;
is(query('SELECT string_agg(name, \',\' ORDER BY id) FROM pgmigrations'),
	"$create,$price", '... and records them in pgmigrations');

# pg_migrate adopts them, runs the third, and records it as node-pg-migrate does
is(query("SELECT string_agg(name || ':' || action, ',') FROM migrate.apply('$full')"),
	"$create:adopted,$price:adopted,$sku:applied",
	'pg_migrate adopts what node-pg-migrate applied and applies the rest');
is(query('SELECT string_agg(name, \',\' ORDER BY id) FROM pgmigrations'),
	"$create,$price,$sku", '... recording it in pgmigrations');
is(query("SELECT count(*) FROM pgmigrations WHERE run_on IS NULL"), '0', '... with run_on set');
($ok, $out) = npm_tool($full, 'up');
ok($ok, 'node-pg-migrate up afterwards') or diag $out;
like($out, qr/No migrations to run/, '... finds nothing to run');

# pg_migrate rolls the third back: node-pg-migrate sees it pending and runs it
is(query("SELECT string_agg(name, ',') FROM migrate.rollback('$sku')"), $sku,
	'pg_migrate rolls back the third migration');
is(query('SELECT count(*) FROM pgmigrations WHERE name = ' . "'$sku'"), '0',
	'... and deletes its row');
($ok, $out) = npm_tool($full, 'up');
ok($ok, 'node-pg-migrate runs it again') or diag $out;
like($out, qr/\Q$sku\E/, '... naming it');
is(query("SELECT count(*) FROM pg_attribute WHERE attrelid = 'widgets'::regclass AND attname = 'sku'"),
	'1', '... and the column is back');

done_testing();
