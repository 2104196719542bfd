# Migrated test databases (issue 20): migrate.test_database() clones a
# template built once per folder checksum and role, holding the folder's
# schema and migration records as apply leaves them.  Twenty test
# databases from a real folder with its history; an edit to a file builds
# a new template, and older ones beyond migrate.test_database_templates_keep
# are dropped; two sessions asking at once for a template that does not
# exist build it once; a role without CREATEDB is refused; a pool hands
# out ready databases; migrate.drop_test_databases() drops the caller's
# only.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use IPC::Run;
use JSON::PP;

my $srcdir = $ENV{TESTDIR} || '.';
my $node = start_node('testdb');
$node->safe_psql('postgres', 'ALTER SYSTEM SET client_min_messages = error');
$node->reload;

# A real folder with its history: kubeshop/tracetest's 39 golang-migrate
# migrations (and a file that is neither up nor down)
my $tmp = PostgreSQL::Test::Utils::tempdir;
my $real = "$tmp/tracetest";
system('cp', '-R', "$srcdir/test/fixtures/real/golang-migrate-tracetest", $real) == 0
  or die 'copy failed';

# The reference: the same folder applied by migrate.apply into a database
$node->safe_psql('postgres', 'CREATE DATABASE reference');
$node->safe_psql('reference', 'CREATE EXTENSION pg_migrate');
$node->safe_psql('reference',
	"SET client_min_messages = error; SELECT count(*) FROM migrate.apply('$real', 'golang-migrate')");

# What a database holds: its tables and columns, and the migration records
my $schema_query = q{
	SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ','
	                  ORDER BY table_name, column_name)
	FROM information_schema.columns WHERE table_schema = 'public'};
my $records_query = q{
	SELECT count(*) || ':' || string_agg(name || '=' || checksum, ',' ORDER BY name)
	FROM migrate.migrations};
my $schema = $node->safe_psql('reference', $schema_query);
my $records = $node->safe_psql('reference', $records_query);
like($records, qr/^39:/, 'the reference has the 39 migrations');

my @names;
for my $i (1 .. 20)
{
	my $row = $node->safe_psql('postgres',
		"SELECT name || '|' || connstr || '|' || template || '|' || from_pool
		 FROM migrate.test_database('$real', 'golang-migrate')");
	my ($name, $connstr, $template, $from_pool) = split /\|/, $row;
	push @names, $name;
	like($name, qr/^pgm_test_[0-9a-f]{12}_\d+$/, "test database $i has the prefix")
	  if $i == 1;
	is($connstr, "dbname=$name", 'the connection string names it') if $i == 1;
}
my %distinct = map { $_ => 1 } @names;
is(scalar(keys %distinct), 20, '20 distinct test databases');
my $all_same = 1;
for my $name (@names)
{
	$all_same &&= $node->safe_psql($name, $schema_query) eq $schema;
	$all_same &&= $node->safe_psql($name, $records_query) eq $records;
}
ok($all_same, 'each holds the schema and the migration records apply leaves');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_database WHERE datname LIKE 'pgm\\_template\\_%'
		 AND datistemplate AND NOT datallowconn"),
	'1', 'one template, built once, that nobody can connect to');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM migrate.test_databases WHERE NOT pooled
		 AND owner = 'postgres'::regrole::oid"),
	'20', 'the calling database records them');
is($node->safe_psql($names[0], 'SELECT state FROM migrate.status(\'' . $real
		  . "', 'golang-migrate') GROUP BY state"),
	'applied', 'status in a test database says every migration is applied');

# An edit builds a new template; the next clone has the edit.  Keeping one
# template per folder drops the older one.
my $plain = "$tmp/plain";
mkdir $plain;
write_migration($plain, '0001_items.sql', "CREATE TABLE items (id int);\n");
my $first = $node->safe_psql('postgres',
	"SELECT template FROM migrate.test_database('$plain')");
write_migration($plain, '0001_items.sql', "CREATE TABLE items (id int, edited text);\n");
my ($second, $db) = split /\|/, $node->safe_psql('postgres',
	"SET migrate.test_database_templates_keep = 1;
	 SELECT template || '|' || name FROM migrate.test_database('$plain')");
isnt($second, $first, 'an edited file makes a new template');
is( $node->safe_psql($db,
		"SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns
		 WHERE table_name = 'items'"),
	'edited,id', 'the next clone has the edit');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = '$first'"),
	'0', 'the older template is dropped beyond migrate.test_database_templates_keep');

# A down file is part of the template's checksum too.  One session asks
# again and again: the down files' checksums it keeps (a file whose stamp
# is unchanged is not read again) must not hide an edit made meanwhile,
# even to a file whose checksum was kept two calls before.
my $gm = "$tmp/downs";
mkdir $gm;
write_migration($gm, '1_things.up.sql', "CREATE TABLE things (id int);\n");
write_migration($gm, '1_things.down.sql', "DROP TABLE things;\n");
my $ask = "SELECT template FROM migrate.test_database('$gm', 'golang-migrate');";
my @asked = split /\n/, $node->safe_psql('postgres', qq{
	$ask
	SELECT NULL FROM pg_sleep(2.2);
	$ask
	$ask
	\\! printf 'DROP TABLE things CASCADE;\\n' > $gm/1_things.down.sql
	$ask
	SELECT NULL FROM pg_sleep(2.2);
	$ask
	$ask
});
@asked = grep { $_ ne '' } @asked;
is(scalar(@asked), 6, 'six test databases in one session');
is(join(',', map { $_ eq $asked[0] ? 'a' : $_ eq $asked[3] ? 'b' : '?' } @asked),
	'a,a,a,b,b,b', 'an edited down file makes a new template, also once its checksum was kept');
isnt($asked[3], $asked[0], 'the two templates differ');

# A migration that fails leaves no template; the error is the migration's
my $broken = "$tmp/broken";
mkdir $broken;
write_migration($broken, '0001_bad.sql', "CREATE TABLE t (id int);\nSELECT 1/0;\n");
like(error_of($node, 'postgres', "SELECT * FROM migrate.test_database('$broken')"),
	qr/division by zero/, 'a failing migration fails the call with its error');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_database WHERE datname LIKE 'pgm\\_template\\_%' AND NOT datistemplate"),
	'1', 'what it left is no template');
write_migration($broken, '0001_bad.sql', "CREATE TABLE t (id int);\n");
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM migrate.test_database('$broken')"),
	'1', 'fixed, the folder makes a test database');

# Two sessions ask at once for a template that does not exist: one builds
# it (its migration says so), the other waits and clones it
my $slow = "$tmp/slow";
mkdir $slow;
write_migration($slow, '0001_slow.sql',
	"DO \$\$ BEGIN RAISE WARNING 'building the template'; END \$\$;\n"
	  . "SELECT pg_sleep(2);\nCREATE TABLE slow (id int);\n");
my @sessions = map { $node->background_psql('postgres', on_error_stop => 0) } 1 .. 2;
$_->query_safe('SET client_min_messages = warning') for @sessions;
$_->query_until(qr/started/,
	"\\echo started\nSELECT template FROM migrate.test_database('$slow');\n")
  for @sessions;
my (@templates, $warnings);
for my $s (@sessions)
{
	my $out = $s->query("SELECT 'end'");
	my ($template) = $out =~ /(pgm_template_[0-9a-f]{12})/;
	push @templates, $template // 'none';
	$warnings += () = $s->{stderr} =~ /building the template/g;
	$s->quit;
}
is($templates[0], $templates[1], 'both sessions get the same template');
like($templates[0], qr/^pgm_template_/, 'and it is one');
is($warnings, 1, 'it was built once');

# A role without CREATEDB is refused, clearly; with it, its test database
# is its own, and it may drop only its own
$node->safe_psql('postgres', q{
	CREATE ROLE ci LOGIN;
	GRANT USAGE ON SCHEMA migrate TO ci;
	GRANT pg_read_server_files TO ci;
	GRANT EXECUTE ON FUNCTION migrate.test_database(text, text) TO ci;
	GRANT EXECUTE ON FUNCTION migrate.drop_test_databases(text, interval, boolean) TO ci;
});
my $err = error_of($node, 'postgres',
	"SELECT * FROM migrate.test_database('$plain')", extra_params => [ '-U', 'ci' ]);
like($err, qr/permission denied to create a test database/, 'no CREATEDB: refused');
like($err, qr/HINT:  A CI role needs CREATEDB/, 'the hint says what a CI role needs');
is($node->safe_psql('postgres', "SELECT count(*) FROM migrate.test_databases WHERE owner = 'ci'::regrole::oid"),
	'0', 'and nothing was made');
$node->safe_psql('postgres', 'ALTER ROLE ci CREATEDB');
my $ci_db = $node->safe_psql('postgres',
	"SELECT name FROM migrate.test_database('$plain')", extra_params => [ '-U', 'ci' ]);
is( $node->safe_psql('postgres',
		"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '$ci_db'"),
	'ci', 'the test database belongs to the role that asked');
is( $node->safe_psql($ci_db, "SELECT tableowner FROM pg_tables WHERE tablename = 'items'"),
	'ci', 'and so do the objects its migrations made');
like(error_of($node, 'postgres', "DROP DATABASE $names[0]", extra_params => [ '-U', 'ci' ]),
	qr/must be owner/, 'another role cannot drop a test database that is not its own');
is( $node->safe_psql('postgres',
		"SELECT string_agg(name, ',') FROM migrate.drop_test_databases()",
		extra_params => [ '-U', 'ci' ]),
	$ci_db, "migrate.drop_test_databases() drops the caller's only");
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = '$names[0]'"),
	'1', "the others' are left");

# The command, as ci: test-db DIR sends the folder and prints a URL that
# connects to the new database; --json; test-db --drop
$node->safe_psql('postgres',
	'GRANT EXECUTE ON FUNCTION migrate.test_database(jsonb, text, text) TO ci');
sub command
{
	my ($out, $err) = ('', '');
	local %ENV = %ENV;
	delete @ENV{qw(DATABASE_URL PGSERVICE PGOPTIONS PGPASSWORD)};
	@ENV{qw(PGHOST PGPORT PGUSER PGDATABASE)} = ($node->host, $node->port, 'ci', 'postgres');
	IPC::Run::run([@_], '<', \undef, '>', \$out, '2>', \$err);
	note("@_: exit " . ($? >> 8) . "\n$out$err");
	return ($? >> 8, $out, $err);
}
my ($rc, $out, $cerr) = command('pg_migrate', 'test-db', $plain);
is($rc, 0, 'pg_migrate test-db DIR succeeds');
like($out, qr{^postgresql://ci@[^/]+:\d+/pgm_test_[0-9a-f]{12}_\d+\n\z}, 'and prints a URL');
chomp $out;
($rc, my $columns) = command('psql', '-XAt', '-d', $out, '-c',
	"SELECT current_user || ' ' || string_agg(column_name, ',' ORDER BY column_name)
	 FROM information_schema.columns WHERE table_name = 'items'");
is($columns, "ci edited,id\n", 'which connects to the migrated database');
($rc, $out) = command('pg_migrate', '--json', 'test-db', $plain);
my $json = decode_json($out);
like($json->{url}, qr{/\Q$json->{name}\E$}, '--json: the URL ends with the name');
is($json->{from_pool}, JSON::PP::false, '--json: and says whether it came from the pool');
($rc, $out, $cerr) = command('pg_migrate', 'test-db');
is($rc, 2, 'test-db without DIR or --drop is a usage error');
($rc, $out) = command('pg_migrate', 'test-db', '--drop');
is($rc, 0, 'pg_migrate test-db --drop succeeds');
like($out, qr/^dropped pgm_test_\S+\ndropped pgm_test_\S+\n2 databases dropped\n\z/,
	'and names the two it dropped');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_database WHERE datdba = 'ci'::regrole AND NOT datistemplate"),
	'0', "ci's test databases are gone");

# The pool: the first call clones, a worker fills the pool, the next calls
# are handed a ready database
is( $node->safe_psql('postgres',
		"SET migrate.test_database_pool = 2;
		 SELECT from_pool FROM migrate.test_database('$real', 'golang-migrate')"),
	'f', 'an empty pool: the call clones');
$node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM migrate.test_databases WHERE pooled")
  or die 'the pool was never filled';
my ($pooled, $from_pool) = split /\|/, $node->safe_psql('postgres',
	"SET migrate.test_database_pool = 2;
	 SELECT name || '|' || from_pool FROM migrate.test_database('$real', 'golang-migrate')");
is($from_pool, 'true', 'the next call is handed one from the pool');
is($node->safe_psql($pooled, $records_query), $records, 'with the migration records');
$node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM migrate.test_databases WHERE pooled")
  or die 'the pool was never refilled';
pass('the worker refills the pool');

# Dropping: by template, by age, all, then the templates
my $real_template = $node->safe_psql('postgres',
	"SELECT template FROM migrate.test_databases WHERE name = '$names[0]'");
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM migrate.drop_test_databases(older_than => '1 hour')"),
	'0', 'none is older than an hour');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM migrate.drop_test_databases(template => '$real_template')"),
	'24', "by template: the 20, the pool's 2 and the 2 it handed out");
$node->safe_psql('postgres', 'SELECT * FROM migrate.drop_test_databases()');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_database WHERE datname LIKE 'pgm\\_test\\_%'"),
	'0', 'all test databases dropped');
$node->safe_psql('postgres', 'SELECT * FROM migrate.drop_test_databases(templates => true)');
is( $node->safe_psql('postgres',
		"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname LIKE 'pgm\\_%'"),
	'ci', "a superuser's call drops its own, not ci's template");
my $ci_template = $node->safe_psql('postgres',
	"SELECT datname FROM pg_database WHERE datname LIKE 'pgm\\_%'");
is( $node->safe_psql('postgres',
		"SELECT name FROM migrate.drop_test_databases(template => '$ci_template', templates => true)"),
	$ci_template, "a superuser drops another role's by naming the template");
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_database WHERE datname LIKE 'pgm\\_%'"),
	'0', 'with templates => true, the templates too');
is( $node->safe_psql('postgres',
		"SELECT (SELECT count(*) FROM migrate.test_databases) + (SELECT count(*) FROM migrate.test_database_templates)"),
	'0', 'and their rows');

# The pool refilled while everything is dropped: each round asks with a
# pool of 4 (the template is built again, the call clones, a worker starts
# refilling) and at once drops every test database and template.
# Whichever comes first, what is handed out afterwards exists and holds the
# schema, and once the workers are done one drop leaves nothing behind.
my $race = "$tmp/race";
mkdir $race;
write_migration($race, '0001_items.sql', "CREATE TABLE items (id int);\n");
my $pool_workers = q{SELECT (SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'pg_migrate test database pool')};
for my $round (1 .. 3)
{
	$node->safe_psql('postgres',
		"SET migrate.test_database_pool = 4;
		 SELECT name FROM migrate.test_database('$race')");
	$node->safe_psql('postgres',
		'SELECT count(*) FROM migrate.drop_test_databases(templates => true)');
}
$node->poll_query_until('postgres', "$pool_workers = 0")
  or die 'the pool workers never ended';
my ($after, $after_pool) = split /\|/, $node->safe_psql('postgres',
	"SET migrate.test_database_pool = 4;
	 SELECT name || '|' || from_pool FROM migrate.test_database('$race')");
is( $node->safe_psql($after,
		"SELECT count(*) FROM information_schema.tables WHERE table_name = 'items'"),
	'1', 'after drops raced the pool, the next database handed out exists and holds the schema');
$node->poll_query_until('postgres', "$pool_workers = 0")
  or die 'the pool workers never ended';
$node->safe_psql('postgres', 'SELECT count(*) FROM migrate.drop_test_databases(templates => true)');
is( $node->safe_psql('postgres',
		"SELECT (SELECT count(*) FROM pg_database WHERE datname LIKE 'pgm\\_%')
		      + (SELECT count(*) FROM migrate.test_databases)
		      + (SELECT count(*) FROM migrate.test_database_templates)"),
	'0', 'and one drop once the workers are done leaves no database and no row');

done_testing();
