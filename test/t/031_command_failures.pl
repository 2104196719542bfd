# What the pg_migrate command says, and the exit status it gives, when
# something is wrong: an applied file edited since (1, naming it), a
# failing migration (1, the server's error with file and line, nothing
# recorded), a wrong password (2), a database without the extension or
# with an older one (2, saying what to run), a file it cannot read or that
# is not valid text (2).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PgMigrateCommand;

my $node = command_node('command_failures');
my $dir = migrations_dir();
sub migration { write_migration($dir, @_); }
sub applied
{
	return $node->safe_psql('postgres',
		'SELECT string_agg(name, \',\' ORDER BY id) FROM migrate.migrations');
}

migration('0001_users.sql', "CREATE TABLE users (id int PRIMARY KEY);\n");
migration('0002_seed.sql', "INSERT INTO users VALUES (1);\n");
my ($rc, $out, $err) = pg_migrate($node, [ 'apply', $dir ]);
is($rc, 0, 'two migrations applied');

# An applied file edited since: drift, exit 1, the file named
migration('0001_users.sql', "CREATE TABLE users (id bigint PRIMARY KEY);\n");
migration('0003_more.sql', "CREATE TABLE more (id int);\n");
for my $command ('apply', 'run')
{
	($rc, $out, $err) = pg_migrate($node, [ $command, $dir ]);
	is($rc, 1, "$command with an edited applied file exits 1");
	like($err, qr/ERROR:  migration "0001_users" was modified after it was applied\nDETAIL:  File "0001_users\.sql" has checksum/,
		"$command names the edited file");
}
is(applied(), '0001_users,0002_seed', 'nothing ran');
($rc, $out, $err) = pg_migrate($node, [ 'status', $dir ]);
is($rc, 1, 'status exits 1 when it finds drift');
like($out, qr/^0001_users +modified /m, 'and shows the file as modified');
($rc, $out, $err) = pg_migrate($node, [ 'status', '--check', $dir ]);
is($rc, 3, 'status --check exits 3');
($rc, $out, $err) = pg_migrate($node, [ '--allow-drift', 'apply', $dir ]);
is($rc, 0, '--allow-drift applies anyway');
like($err, qr/WARNING:  .*0001_users/, 'with a warning naming the file');
migration('0001_users.sql', "CREATE TABLE users (id int PRIMARY KEY);\n");

# A failing migration: the server's error as it gave it, file and line
# included, and nothing of the call recorded (apply is one transaction)
migration('0004_posts.sql', "CREATE TABLE posts (id int);\n");
migration('0005_broken.sql',
	"-- a comment\nINSERT INTO posts VALUES (1);\n\nINSERT INTO no_such_table VALUES (1);\n");
($rc, $out, $err) = pg_migrate($node, [ 'apply', $dir ]);
is($rc, 1, 'apply of a failing migration exits 1');
like(
	$err,
	qr/^ERROR:  relation "no_such_table" does not exist\nLINE 1: INSERT INTO no_such_table VALUES \(1\)\n +\^\nQUERY:  INSERT INTO no_such_table VALUES \(1\)\nCONTEXT:  migration 0005_broken\.sql, line 4\n/m,
	'the error as the server gives it, with the file and line');
like($err, qr/apply failed: nothing was applied \(one transaction\)/, 'then a summary');
is($out, '', 'nothing on standard output');
is(applied(), '0001_users,0002_seed,0003_more', 'nothing of the call is recorded');
is($node->safe_psql('postgres', "SELECT to_regclass('posts') IS NULL"), 't',
	'nor left behind');

# run commits the migrations before the failing one, and logs the failure
($rc, $out, $err) = pg_migrate($node, [ 'run', $dir ]);
is($rc, 1, 'run of a failing migration exits 1');
like($out, qr/^applied 0004_posts \(\d+ ms\)$/m, 'the migration before it is applied');
like($err, qr/CONTEXT:  migration 0005_broken\.sql, line 4\n/, 'the failure names file and line');
like($err, qr/run stopped at migration "0005_broken"; the migration applied before it stays applied/,
	'the summary says where run stopped');
is( $node->safe_psql('postgres',
		"SELECT sqlstate || ' ' || file || ' ' || line FROM migrate.history WHERE action = 'failure'"),
	'42P01 0005_broken.sql 4', 'the server logged the failure');
unlink "$dir/0005_broken.sql";

# A wrong password is a connection error
($rc, $out, $err) = pg_migrate($node, [ 'status', $dir ], PGPASSWORD => 'wrong');
is($rc, 2, 'a wrong password exits 2');
like($err, qr/^pg_migrate: error: .*password authentication failed for user "deployer"/m,
	'with the server\'s message');

# A database without the extension: what to run, not "function does not exist"
$node->safe_psql('postgres', 'CREATE DATABASE plain_db; CREATE DATABASE old_db');
($rc, $out, $err) = pg_migrate($node, [ 'status', $dir ], PGDATABASE => 'plain_db');
is($rc, 2, 'a database without the extension exits 2');
like($err, qr/^pg_migrate: error: extension "pg_migrate" is not installed in database "plain_db"\npg_migrate: hint: Run CREATE EXTENSION pg_migrate; in that database as a superuser\.$/m,
	'saying so, and what to run');
unlike($err, qr/does not exist/, 'not that a function does not exist');

# An extension older than sending folders needs
$node->safe_psql('old_db', "CREATE EXTENSION pg_migrate VERSION '0.1'");
($rc, $out, $err) = pg_migrate($node, [ 'apply', $dir ], PGDATABASE => 'old_db');
is($rc, 2, 'an extension too old to take a folder sent exits 2');
like($err, qr/extension "pg_migrate" in database "old_db" is version 0\.1, and sending a folder needs version 0\.2 or later/,
	'naming both versions');
like($err, qr/hint: Run ALTER EXTENSION pg_migrate UPDATE;/, 'and how to update');

# Files the command cannot send
migration('0006_secret.sql', "SELECT 1;\n");
chmod 0000, "$dir/0006_secret.sql";
($rc, $out, $err) = pg_migrate($node, [ 'status', $dir ]);
is($rc, 2, 'an unreadable migration file exits 2');
like($err, qr/could not open file ".*0006_secret\.sql": Permission denied/, 'naming it');
unlink "$dir/0006_secret.sql";

migration('0006_latin1.sql', "SELECT 1;\nSELECT 'caf\xe9';\n");
($rc, $out, $err) = pg_migrate($node, [ 'status', $dir ]);
is($rc, 2, 'a migration file not valid in the client encoding exits 2');
like($err, qr/file ".*0006_latin1\.sql" is not valid text in encoding "UTF8": invalid byte 0xe9 at line 2/,
	'naming the file and line');
unlink "$dir/0006_latin1.sql";

# Other files are left out when they are not text, as they cannot be sent
migration('diagram.png', "\x89PNG\r\n\x1a\n\0\0\0binary");
($rc, $out, $err) = pg_migrate($node, [ 'status', '--check', $dir ]);
is($rc, 0, 'a binary file beside the migrations is left out');

$node->stop;
done_testing();
