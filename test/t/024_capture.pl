# A hotfix adopted: a second session, an ordinary role with its own
# application_name, adds a column outside any migration; the DDL log names
# the role, the application and the statement; migrate.check() fails and
# names the change; `pg_migrate capture DIR NAME` makes the change the
# folder's next migration, recorded as applied, and check passes again;
# a fresh database that applies the folder gets the same schema (pg_dump
# --schema-only).  For a plain folder and a drizzle folder (file and
# journal entry); and a capture whose file cannot be written records
# nothing.
use strict;
use warnings;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PgMigrateCommand;

my $node = command_node('capture');
my $json = JSON::PP->new->canonical;

# What every database of the story starts with, the same in each, so that
# the dumps differ only by what the migrations make.  The setup's own
# statements are accepted: they are not the hotfix.
sub setup_db
{
	my ($db) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db") if $db ne 'postgres';
	$node->safe_psql($db, q{
		CREATE EXTENSION IF NOT EXISTS pg_migrate;
		GRANT CREATE ON SCHEMA public TO deployer, app;
		GRANT USAGE ON SCHEMA migrate TO deployer;
		GRANT EXECUTE ON FUNCTION migrate.capture(jsonb, text, bigint[], text, text),
		                          migrate.check(jsonb, text, text) TO deployer;
		UPDATE migrate.ddl_log SET accepted = true;
	});
	return;
}

# The folder as the command sends it: its .sql files and drizzle's journal
sub folder_json
{
	my ($dir) = @_;
	my %files;
	for my $path (glob("$dir/*.sql"), grep { -e } "$dir/meta/_journal.json")
	{
		(my $rel = $path) =~ s{^\Q$dir\E/}{};
		$files{$rel} = slurp_file($path);
	}
	return $json->encode(\%files);
}

sub check_folder
{
	my ($db, $dir) = @_;
	my $files = folder_json($dir);
	my ($ret, $out, $err) = $node->psql($db,
		"SELECT migrate.check(\$json\$$files\$json\$::jsonb)");
	return ($ret, $err);
}

# The application's session, as in 022_ddl_log.pl
sub app
{
	my ($db, $sql) = @_;
	my ($ret, $stdout, $stderr) = $node->psql($db,
		"SET application_name = 'hotfix-console';\n$sql",
		extra_params => [ '-U', 'app' ]);
	is($ret, 0, "the application's change is made in $db") or diag($stderr);
	return;
}

# Run the command as the superuser (migrations give tables to app), or as
# deployer for capture, in database $db
sub command_as
{
	my ($user, $db, @args) = @_;
	return pg_migrate($node, \@args, PGDATABASE => $db,
		$user eq 'deployer' ? () : (PGUSER => undef, PGPASSWORD => undef));
}

# The schema of public as pg_dump writes it, without what changes between
# dumps of equal schemas
sub schema_of
{
	my ($db) = @_;
	my ($stdout, $stderr);
	IPC::Run::run([ 'pg_dump', '--schema-only', '--no-owner', '-n', 'public',
			'-d', $node->connstr($db) ], '>', \$stdout, '2>', \$stderr)
	  or die "pg_dump $db: $stderr";
	$stdout =~ s/^\\(?:un)?restrict .*$//mg;
	$stdout =~ s/^--.*$//mg;
	$stdout =~ s/\n{2,}/\n/g;
	return $stdout;
}

$node->safe_psql('postgres', 'CREATE ROLE app LOGIN');

# The story, for a folder in format $format
sub story
{
	my ($format, $dir, $db, $fresh, $change, $name, $expected_file, $capturer) = @_;

	setup_db($db);
	my ($rc, $out, $err) = command_as('postgres', $db, 'apply', $dir);
	is($rc, 0, "$format: the folder is applied") or diag($err);
	($rc, $err) = check_folder($db, $dir);
	is($rc, 0, "$format: check passes before the hotfix") or diag($err);

	app($db, $change);
	is( $node->safe_psql($db, q{
			SELECT concat_ws('|', session_user_name, application_name, statement, origin)
			FROM migrate.ddl_log WHERE NOT accepted ORDER BY id DESC LIMIT 1}),
		"app|hotfix-console|$change|out_of_band",
		"$format: the log row names the role, the application and the statement");

	($rc, $err) = check_folder($db, $dir);
	isnt($rc, 0, "$format: check fails after the hotfix");
	like($err, qr/database schema changed outside migrations.*Changed outside migrations \(1\)/s,
		"$format: check names the change") or diag($err);

	($rc, $out, $err) = command_as($capturer, $db, 'capture', $dir, $name);
	is($rc, 0, "$format: capture succeeds") or diag($err);
	like($out, qr{wrote \Q$dir/$expected_file\E}, "$format: capture says which file it wrote");
	ok(-f "$dir/$expected_file", "$format: the migration file is written");
	like(slurp_file("$dir/$expected_file"), qr/\Q$change\E/,
		"$format: the file holds the statement");

	($rc, $err) = check_folder($db, $dir);
	is($rc, 0, "$format: check passes after the capture") or diag($err);
	(my $migration = $expected_file) =~ s/\.sql$//;
	is( $node->safe_psql($db, qq{
			SELECT (SELECT count(*) FROM migrate.ddl_log
			        WHERE captured_as = '$migration' AND statement = \$s\$$change\$s\$)
			       || '|' ||
			       (SELECT string_agg(action, ',' ORDER BY id) FROM migrate.history
			        WHERE name = '$migration')}),
		$format eq 'drizzle' ? '1|capture,tool_record' : '1|capture',
		"$format: the row is captured, the history says capture");

	# a fresh database that applies the folder has the same schema
	setup_db($fresh);
	($rc, $out, $err) = command_as('postgres', $fresh, 'apply', $dir);
	is($rc, 0, "$format: a fresh database applies the folder") or diag($err);
	is(schema_of($fresh), schema_of($db),
		"$format: the fresh database has the schema of the one with the hotfix");
	return;
}

# plain
my $plain = migrations_dir();
write_migration($plain, '0001_users.sql',
	"CREATE TABLE users (id int PRIMARY KEY, name text);\nALTER TABLE users OWNER TO app;\n");
story('plain', $plain, 'postgres', 'plain_fresh',
	'ALTER TABLE users ADD COLUMN nickname text;', 'add_nickname',
	'0002_add_nickname.sql', 'deployer');

# drizzle: the file, its journal entry, drizzle-orm's table (which the
# superuser's apply created, so the superuser captures)
my $drizzle = migrations_dir();
mkdir "$drizzle/meta" or die "mkdir: $!";
write_migration($drizzle, 'meta/_journal.json', <<'EOF');
{
  "version": "7",
  "dialect": "postgresql",
  "entries": [
    {
      "idx": 0,
      "version": "7",
      "when": 1700000000000,
      "tag": "0000_posts",
      "breakpoints": true
    }
  ]
}
EOF
write_migration($drizzle, '0000_posts.sql',
	"CREATE TABLE posts (id serial PRIMARY KEY, title text);\n--> statement-breakpoint\nALTER TABLE posts OWNER TO app;\n");
story('drizzle', $drizzle, 'dprod', 'dfresh',
	'CREATE INDEX posts_title ON posts (title);', 'index_title',
	'0001_index_title.sql', 'postgres');
my $journal = decode_json(slurp_file("$drizzle/meta/_journal.json"));
is(join(',', map { "$_->{idx}:$_->{tag}" } @{ $journal->{entries} }),
	'0:0000_posts,1:0001_index_title', 'drizzle: the journal has the new entry');
ok($journal->{entries}[1]{when} > 1700000000000 && $journal->{entries}[1]{breakpoints},
	'drizzle: the entry is newer, with breakpoints');
is( $node->safe_psql('dprod',
		'SELECT count(*) FROM drizzle.__drizzle_migrations WHERE created_at = '
		  . $journal->{entries}[1]{when}),
	'1', "drizzle: drizzle-orm's table records the capture, as of the entry");

# drizzle-orm's own migrator agrees: nothing to do where the capture was
# recorded, and a fresh database gets the captured file, split at its
# breakpoints, as from pg_migrate
SKIP:
{
	my $npm_dir = ($ENV{TESTDIR} || '.') . '/test/drizzle';
	skip 'node and npm are not installed', 3
	  unless system('node --version >/dev/null 2>&1') == 0
	  && system('npm --version >/dev/null 2>&1') == 0;
	system("cd '$npm_dir' && npm ci --no-audit --no-fund --loglevel=error >/dev/null") == 0
	  or die 'npm ci failed in test/drizzle';
	my $drizzle_migrate = sub {
		my ($db) = @_;
		local $ENV{PGHOST} = $node->host;
		local $ENV{PGPORT} = $node->port;
		local $ENV{PGUSER} = scalar getpwuid($<);
		my $out = `node '$npm_dir/migrate.mjs' '$drizzle' '$db' 2>&1`;
		return ($? == 0, $out);
	};
	my ($ok, $orm_out) = $drizzle_migrate->('dprod');
	ok($ok, "drizzle-orm's migrate() after the capture raises nothing") or diag($orm_out);
	setup_db('dorm');
	($ok, $orm_out) = $drizzle_migrate->('dorm');
	ok($ok, "drizzle-orm's migrate() applies the folder to a fresh database") or diag($orm_out);
	is(schema_of('dorm'), schema_of('dprod'),
		"drizzle-orm's fresh database has the schema of the one with the hotfix");
}

# a file that cannot be written: nothing recorded, the folder unchanged
app('postgres', 'ALTER TABLE users ADD COLUMN score int;');
chmod 0500, $plain or die "chmod: $!";
my ($rc, $out, $err) = command_as('deployer', 'postgres', 'capture', $plain, 'add_score');
chmod 0700, $plain or die "chmod: $!";
is($rc, 2, 'capture into a folder it cannot write fails');
like($err, qr/could not create file .*0003_add_score\.sql.*nothing was recorded/s,
	'the failure says nothing was recorded') or diag($err);
ok(!-e "$plain/0003_add_score.sql", 'no file is left');
is( $node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM migrate.migrations WHERE name = '0003_add_score')
		       || '|' ||
		       (SELECT count(*) FROM migrate.ddl_log
		        WHERE statement LIKE '%score%' AND captured_as IS NULL)}),
	'0|1', 'nothing is recorded: the row still waits');

# nothing to capture: the server's error, exit 1
($rc, $out, $err) = command_as('deployer', 'postgres', 'capture', $plain, 'add_score');
is($rc, 0, 'the capture succeeds once the folder can be written') or diag($err);

# --json: one row per file written, naming the migration
app('postgres', 'ALTER TABLE users ADD COLUMN rank int;');
($rc, $out, $err) = command_as('deployer', 'postgres', '--json', 'capture', $plain, 'add_rank');
is($rc, 0, '--json capture succeeds') or diag($err);
is_deeply(eval { $json->decode($out) },
	[ { name => '0004_add_rank', action => 'captured', file => "$plain/0004_add_rank.sql" } ],
	'--json prints the file written and its migration') or diag($out);

($rc, $out, $err) = command_as('deployer', 'postgres', 'capture', $plain, 'again');
is($rc, 1, 'nothing to capture fails');
like($err, qr/there is no DDL to capture/, 'and says so');
ok(!-e "$plain/0005_again.sql", 'without a file');

# usage
($rc, $out, $err) = pg_migrate($node, [ 'capture', $plain ]);
is($rc, 2, 'capture without NAME is a usage error');
like($err, qr/capture needs the migrations folder DIR and the NAME/, 'which says what is missing');

done_testing();
