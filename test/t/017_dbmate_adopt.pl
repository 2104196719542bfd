# Switching from dbmate: the real dbmate binary (from the npm registry,
# pinned in test/dbmate/package-lock.json) and pg_migrate on one database.
# What dbmate applied is adopted, not run again; what pg_migrate applies
# or rolls back is recorded in dbmate's schema_migrations, so dbmate
# agrees; and dbmate's table, owned by the app's role, is refused when it
# carries code of that role.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $srcdir = $ENV{TESTDIR} || '.';
my $npm_dir = "$srcdir/test/dbmate";
my $dbmate = "$npm_dir/node_modules/.bin/dbmate";
plan skip_all => 'node and npm are not installed'
  unless system('node --version >/dev/null 2>&1') == 0
  && system('npm --version >/dev/null 2>&1') == 0;
plan skip_all => 'dbmate could not be installed from the npm registry'
  unless system("cd '$npm_dir' && npm install --no-save --no-audit --no-fund --loglevel=error >/dev/null 2>&1") == 0;
plan skip_all => 'the npm package has no dbmate binary for this platform'
  unless system("'$dbmate' --version >/dev/null 2>&1") == 0;

my $node = start_node('dbmate');
my $superuser = $node->safe_psql('postgres', 'SELECT current_user');
$node->safe_psql('postgres', 'CREATE ROLE app LOGIN; CREATE ROLE deployer LOGIN');

# A folder of three dbmate migrations, and the first two as an older
# deploy saw them
my $tmp = PostgreSQL::Test::Utils::tempdir;
my ($full, $older) = ("$tmp/full", "$tmp/older");
mkdir $_ for ($full, $older);
my %files = (
	'20240101000000_create_widgets.sql' =>
	  "-- migrate:up\nCREATE TABLE widgets (id serial PRIMARY KEY, name text NOT NULL);\n\n-- migrate:down\nDROP TABLE widgets;\n",
	'20240102000000_widget_price.sql' =>
	  "-- migrate:up\nALTER TABLE widgets ADD COLUMN price numeric;\n\n-- migrate:down\nALTER TABLE widgets DROP COLUMN price;\n",
	'20240103000000_widget_sku.sql' =>
	  "-- migrate:up\nALTER TABLE widgets ADD COLUMN sku text;\n\n-- migrate:down\nALTER TABLE widgets DROP COLUMN sku;\n");
foreach my $file (sort keys %files)
{
	write_migration($full, $file, $files{$file});
	write_migration($older, $file, $files{$file}) unless $file =~ /sku/;
}
my ($create, $price, $sku) = map { s/\.sql$//r } sort keys %files;

# dbmate itself, as role, on db, with the folder (and more options)
sub dbmate
{
	my ($role, $db, $dir, @args) = @_;
	my $url = sprintf('postgres://%s@localhost/%s?sslmode=disable&host=%s&port=%s',
		$role, $db, $node->host, $node->port);
	my $out = `'$dbmate' --url '$url' --migrations-dir '$dir' --no-dump-schema @args 2>&1`;
	return ($? == 0, $out);
}

sub query { my ($db, $sql) = @_; return $node->safe_psql($db, $sql); }

# 1. dbmate applied two, then the team switches: run adopts them and
# applies only the third, and dbmate's table gets its row
query('postgres', 'CREATE DATABASE one');
query('one', 'CREATE EXTENSION pg_migrate');
my ($ok, $out) = dbmate($superuser, 'one', $older, 'up');
ok($ok, 'dbmate up of the older folder') or diag $out;
is(status_of($node, $full, 'one'), "$create=applied,$price=applied,$sku=pending",
	'status shows what dbmate applied as applied');
is( query('one', "SELECT count(*) FROM migrate.status('$full') WHERE state = 'applied' AND applied_at IS NULL"),
	'2', 'with no applied_at, as pg_migrate did not apply them');
query('one', "CALL migrate.run('$full')");
is( query('one', "SELECT string_agg(action || ':' || name || ':' || coalesce(tool_table, ''), ',' ORDER BY id) FROM migrate.history"),
	"adopt:$create:public.schema_migrations,adopt:$price:public.schema_migrations,"
	  . "apply:$sku:,tool_record:$sku:public.schema_migrations",
	'run adopts the two, applies the third and records it in dbmate\'s table, each logged');
is( query('one', 'SELECT string_agg(version, \',\' ORDER BY version) FROM schema_migrations'),
	'20240101000000,20240102000000,20240103000000',
	'dbmate\'s table holds the three versions, as dbmate writes them');
is( query('one', "SELECT count(*) FROM pg_attribute WHERE attrelid = 'widgets'::regclass AND attname IN ('name', 'price', 'sku')"),
	'3', 'the schema has every migration, each applied once');

($ok, $out) = dbmate($superuser, 'one', $full, 'status');
like($out, qr/Applied: 3\s+Pending: 0/, 'dbmate status agrees: nothing pending');
($ok, $out) = dbmate($superuser, 'one', $full, 'up');
ok($ok && $out !~ /Applying/, 'dbmate up applies nothing') or diag $out;

# 2. pg_migrate's rollback deletes the row: dbmate sees the migration
# pending, applies it itself, and pg_migrate adopts it again
is(query('one', "SELECT string_agg(name, ',') FROM migrate.rollback('$sku')"),
	$sku, 'rollback of the third');
is( query('one', 'SELECT string_agg(version, \',\' ORDER BY version) FROM schema_migrations'),
	'20240101000000,20240102000000', 'its row is gone from dbmate\'s table');
is( query('one', 'SELECT action || \':\' || tool_table FROM migrate.history ORDER BY id DESC LIMIT 1'),
	'tool_forget:public.schema_migrations', 'and the delete is logged');
($ok, $out) = dbmate($superuser, 'one', $full, 'status');
like($out, qr/\[ \] 20240103000000_widget_sku\.sql.*Pending: 1/s, 'dbmate status shows it pending');
($ok, $out) = dbmate($superuser, 'one', $full, 'up');
like($out, qr/Applying: 20240103000000_widget_sku\.sql/, 'dbmate up applies it again');
is(status_of($node, $full, 'one'), "$create=applied,$price=applied,$sku=applied",
	'pg_migrate sees it applied');
is(query('one', "SELECT string_agg(name || ':' || action, ',') FROM migrate.apply('$full')"),
	"$sku:adopted", 'and apply adopts it without running it');

# 3. dbmate told to keep its table elsewhere (--migrations-table): found
# through migrate.tool_table, and apply, in one transaction, adopts too
query('postgres', 'CREATE DATABASE two');
query('two', 'CREATE EXTENSION pg_migrate');
($ok, $out) = dbmate($superuser, 'two', $older, '--migrations-table', 'tracking.versions', 'up');
ok($ok, 'dbmate up with its table in schema "tracking"') or diag $out;
is(status_of($node, $full, 'two'), "$create=pending,$price=pending,$sku=pending",
	'without the setting, public.schema_migrations is looked for, and there is none');
is( query('two', "SET migrate.tool_table = 'tracking.versions';
		SELECT string_agg(name || ':' || action, ',' ORDER BY name) FROM migrate.apply('$full')"),
	"$create:adopted,$price:adopted,$sku:applied", 'with it, apply adopts two and applies one');
($ok, $out) = dbmate($superuser, 'two', $full, '--migrations-table', 'tracking.versions', 'status');
like($out, qr/Applied: 3\s+Pending: 0/, 'dbmate status agrees');
like(error_of($node, 'two', "LOAD 'pg_migrate'; SET migrate.tool_table = 'a.b.c'"),
	qr/invalid value for parameter "migrate\.tool_table": "a\.b\.c"/,
	'a name of three parts is refused');

# 4. dbmate run by the app's role owns its table.  The superuser running
# pg_migrate uses it as it is, but not once app hangs code on it
query('postgres', 'CREATE DATABASE three');
query('three', 'CREATE EXTENSION pg_migrate; GRANT ALL ON SCHEMA public TO app');
app_code($node, 'three');
($ok, $out) = dbmate('app', 'three', $older, 'up');
ok($ok, 'dbmate up as app') or diag $out;
$node->safe_psql('three', q{
	CREATE TRIGGER t BEFORE INSERT OR DELETE ON schema_migrations
	FOR EACH ROW EXECUTE FUNCTION appfn.pwn_trigger()}, extra_params => [ '-U', 'app' ]);
my $trigger = qr/ERROR:  dbmate's tracking table "public\.schema_migrations" has triggers\n.*DETAIL:  Trigger "t" would run its function.*\n.*HINT:  Drop the table's triggers; DROP TRIGGER t ON public\.schema_migrations drops this one\./;
like(error_of($node, 'three', "SELECT * FROM migrate.status('$full')"),
	$trigger, 'a trigger of app\'s on dbmate\'s table: status is refused');
like(error_of($node, 'three', "CALL migrate.run('$full')"),
	$trigger, 'a trigger of app\'s on dbmate\'s table: run is refused');
is(app_code_ran($node, 'three'), '0,false', 'app\'s trigger did not run as the superuser');
is(query('three', 'SELECT count(*) FROM migrate.migrations'), '0', 'nothing was recorded');

$node->safe_psql('three', 'DROP TRIGGER t ON schema_migrations', extra_params => [ '-U', 'app' ]);
query('three', q{
	GRANT USAGE ON SCHEMA migrate TO deployer;
	GRANT EXECUTE ON FUNCTION migrate.status(text, text) TO deployer;
	GRANT pg_read_server_files TO deployer});
like( error_of($node, 'three', "SELECT * FROM migrate.status('$full')",
		extra_params => [ '-U', 'deployer' ]),
	qr/ERROR:  permission denied to use dbmate's tracking table "public\.schema_migrations"\n.*DETAIL:  It is owned by role "app", and role "deployer" does not have the privileges of that role\./,
	'a role without app\'s privileges is refused');
query('three', "CALL migrate.run('$full')");
is( query('three', "SELECT string_agg(version, ',' ORDER BY version) || ' ' || pg_get_userbyid(relowner)
		FROM schema_migrations, pg_class WHERE oid = 'schema_migrations'::regclass GROUP BY relowner"),
	'20240101000000,20240102000000,20240103000000 app',
	'without the trigger, run writes app\'s table, which stays app\'s');
is(app_code_ran($node, 'three'), '0,false', 'none of app\'s code ran');

$node->stop;
done_testing();
