# A drizzle migration whose COMMIT; ends drizzle-orm's transaction (issue
# 16), run by drizzle-orm's own migrate() (from the npm registry, pinned in
# test/drizzle/package-lock.json) and by migrate.run() on databases of their
# own: the same schema, and after a failure past the COMMIT the same state
# (the statements before it committed, an invalid index, the migration not
# recorded).  test/sql/65_drizzle_commit.sql has the rest.
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
system("cd '$npm_dir' && npm ci --no-audit --no-fund --loglevel=error >/dev/null") == 0
  or die 'npm ci failed in test/drizzle';

my $node = start_node('drizzle_commit');

# test/fixtures/drizzle_commit with only the journal entries named
sub fixture_with
{
	my ($name, @tags) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir . "/$name";
	system('cp', '-R', "$srcdir/test/fixtures/drizzle_commit", $dir) == 0 or die;
	open my $fh, '<', "$dir/meta/_journal.json" or die;
	my $journal = do { local $/; <$fh> };
	close $fh;
	my %keep = map { $_ => 1 } @tags;
	$journal =~ s/,?\s*\{[^{}]*"tag": "([^"]+)"[^{}]*\}/$keep{$1} ? $& : ''/ges;
	$journal =~ s/\[\s*,/[/;
	open $fh, '>', "$dir/meta/_journal.json" or die;
	print $fh $journal;
	close $fh;
	return $dir;
}

sub drizzle_migrate
{
	my ($folder, $db) = @_;
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGUSER} = scalar getpwuid($<);
	my $out = `node '$npm_dir/migrate.mjs' '$folder' '$db' 2>&1`;
	return ($? == 0, $out);
}

# the schema public of db as pg_dump writes it, without its random keys
sub public_schema
{
	my ($db) = @_;
	my $dump = `pg_dump -s -n public -h '${\ $node->host}' -p ${\ $node->port} '$db'`;
	$dump =~ s/^\\(un)?restrict .*$//mg;
	return $dump;
}

sub query { my ($db, $sql) = @_; return $node->safe_psql($db, $sql); }

# 1. the folder up to its COMMIT last (0005's BEGIN after a COMMIT is
# refused, 0002 fails): drizzle-orm's schema and pg_migrate's are the same
my $good = fixture_with('good', qw(0000_tasks 0001_priority 0003_begin_first 0004_trailing_commit));
query('postgres', 'CREATE DATABASE orm');
query('postgres', 'CREATE DATABASE pgm');
my ($ok, $out) = drizzle_migrate($good, 'orm');
ok($ok, 'drizzle-orm migrate() runs the folder') or diag $out;
query('pgm', 'CREATE EXTENSION pg_migrate');
my ($rc, $stdout, $stderr) = $node->psql('pgm', "CALL migrate.run('$good')");
is($rc, 0, 'migrate.run() runs it') or diag $stderr;
like($stderr, qr/migration "0001_priority" will run in two parts/, 'saying it runs 0001 in two parts');
is(public_schema('pgm'), public_schema('orm'), 'the same schema as drizzle-orm\'s');
is( query('pgm', "SELECT string_agg(c.relname || '=' || i.indisvalid, ',' ORDER BY c.relname) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'public'::regnamespace AND c.relname LIKE '%idx'"),
	'notes_body_idx=true,tasks_priority_idx=true', 'the indexes built CONCURRENTLY are valid');
is( query('pgm', 'SELECT string_agg(status::text, \',\' ORDER BY id) FROM tasks'),
	query('orm', 'SELECT string_agg(status::text, \',\' ORDER BY id) FROM tasks'),
	'the enum value added after the COMMIT is used the same way');
is( query('pgm', 'SELECT string_agg(hash || created_at, \',\' ORDER BY id) FROM drizzle.__drizzle_migrations'),
	query('orm', 'SELECT string_agg(hash || created_at, \',\' ORDER BY id) FROM drizzle.__drizzle_migrations'),
	'drizzle-orm\'s table has the rows drizzle-orm writes');
($ok, $out) = drizzle_migrate($good, 'pgm');
ok($ok, 'drizzle-orm migrate() after migrate.run() raises nothing') or diag $out;
is(query('pgm', 'SELECT count(*) FROM drizzle.__drizzle_migrations'), '4', 'and applies nothing');

# 2. a failure after the COMMIT: the same state left by both
my $fails = fixture_with('fails', qw(0000_tasks 0001_priority 0002_events));
query('postgres', 'CREATE DATABASE orm_fail');
query('postgres', 'CREATE DATABASE pgm_fail');
($ok, $out) = drizzle_migrate($fails, 'orm_fail');
ok(!$ok, 'drizzle-orm migrate() fails on the unique index') or diag $out;
query('pgm_fail', 'CREATE EXTENSION pg_migrate');
($rc, $stdout, $stderr) = $node->psql('pgm_fail', "CALL migrate.run('$fails')");
like($stderr, qr/could not create unique index "events_kind_key"/, 'so does migrate.run()');
like($stderr, qr/before its COMMIT at line 6 committed/, 'saying what committed');
my $state = 'SELECT (SELECT count(*) FROM events) || \',\' || '
  . '(SELECT indisvalid FROM pg_index WHERE indexrelid = \'events_kind_key\'::regclass) || \',\' || '
  . '(SELECT count(*) FROM drizzle.__drizzle_migrations)';
is(query('orm_fail', $state), '2,false,2', 'drizzle-orm leaves the rows committed, an invalid index, 0002 unrecorded');
is(query('pgm_fail', $state), '2,false,2', 'and so does pg_migrate');
is(status_of($node, $fails, 'pgm_fail'), '0000_tasks=applied,0001_priority=applied,0002_events=failed',
	'0002 is failed');

# drizzle-orm cannot run it again (the invalid index is in the way);
# pg_migrate, the cause fixed and the retry allowed, drops it and builds it
($ok, $out) = drizzle_migrate($fails, 'orm_fail');
like($out, qr/relation "events_kind_key" already exists/, 'drizzle-orm trips on the invalid index');
query('pgm_fail', "UPDATE events SET kind = 'login' WHERE id = 2");
query('pgm_fail', "SELECT migrate.retry('0002_events')");
($rc, $stdout, $stderr) = $node->psql('pgm_fail', "CALL migrate.run('$fails')");
is($rc, 0, 'migrate.run() runs the whole file again') or diag $stderr;
is(query('pgm_fail', $state), '2,true,3', 'the index is valid and 0002 recorded');

$node->stop;
done_testing();
