# Files of a folder that the pg_migrate command and the server's own
# folder reader must treat alike: a FIFO, a device or a link to nothing
# named .sql is refused, naming it (the server would otherwise leave it
# out, and apply it later, out of order); a file whose stat() size is 0 is
# read to its end; a file no format reads need not be readable; a file
# larger than a jsonb string is refused before anything is sent.  Also:
# control characters in names reach no terminal raw, the password of a
# malformed URL is not echoed, and the GRANTs of doc/pg_migrate-command.md
# work on the extension's current version.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use POSIX qw(mkfifo);
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PgMigrateCommand;

my $node = command_node('command_files');
my $dir = migrations_dir();
sub migration { write_migration($dir, @_); }
my ($rc, $out, $err);

migration('0001_users.sql', "CREATE TABLE users (id int);\n");

# A FIFO, a device and a link to nothing, named .sql: exit 2, naming it
mkfifo("$dir/0002_fifo.sql", 0600) or die "mkfifo: $!";
($rc, $out, $err) = pg_migrate($node, [ 'status', $dir ]);
is($rc, 2, 'a FIFO named .sql exits 2');
like($err, qr/error: migration file ".*\/0002_fifo\.sql" is not a regular file/, 'naming it');
unlink "$dir/0002_fifo.sql";
symlink('/dev/null', "$dir/0002_device.sql") or die "symlink: $!";
($rc, $out, $err) = pg_migrate($node, [ 'status', $dir ]);
is($rc, 2, 'a device named .sql exits 2');
like($err, qr/error: migration file ".*\/0002_device\.sql" is not a regular file/, 'naming it');
unlink "$dir/0002_device.sql";
symlink("$dir/nowhere.sql", "$dir/0002_dangling.sql") or die "symlink: $!";
($rc, $out, $err) = pg_migrate($node, [ 'status', $dir ]);
is($rc, 2, 'a link to nothing named .sql exits 2');
like($err, qr/error: migration file ".*\/0002_dangling\.sql" is a link to nothing/, 'naming it');
unlink "$dir/0002_dangling.sql";

# Those that are not migrations are left out, as the server leaves them
mkfifo("$dir/notes.fifo", 0600) or die "mkfifo: $!";
symlink("$dir/nowhere.md", "$dir/CHANGES.md") or die "symlink: $!";
migration('README.md', "# migrations\n");
chmod 0000, "$dir/README.md";
mkdir "$dir/archive";
write_migration("$dir/archive", '0000_old.sql', "SELECT 1;\n");
chmod 0000, "$dir/archive/0000_old.sql";
($rc, $out, $err) = pg_migrate($node, [ 'apply', $dir ]);
is($rc, 0, 'an unreadable README.md, a FIFO and a link to nothing that no format reads do not block a deploy');
like($out, qr/^applied 0001_users /m, 'the migration is applied');
unlink "$dir/notes.fifo", "$dir/CHANGES.md", "$dir/README.md", "$dir/archive/0000_old.sql";
rmdir "$dir/archive";

# A file whose size stat() gives as 0 (as /proc's) is read to its end
symlink('/proc/version', "$dir/0003_proc.sql") or die "symlink: $!";
($rc, $out, $err) = pg_migrate($node, [ 'apply', $dir ]);
is($rc, 1, 'a migration read from a file of size 0 that has text');
like($err, qr/syntax error at or near "Linux"/, 'is sent with its text, not empty');
unlink "$dir/0003_proc.sql";

# Larger than a jsonb string can be: exit 2, before connecting
open my $fh, '>', "$dir/0003_huge.sql" or die $!;
truncate $fh, 256 * 1024 * 1024 or die "truncate: $!";
close $fh;
($rc, $out, $err) = pg_migrate($node, [ 'status', $dir ], PGPORT => 1);
is($rc, 2, 'a migration file over 256 MiB exits 2');
like($err, qr/error: file ".*\/0003_huge\.sql" is too large to send: a file sent may be at most 268435455 bytes \(256 MiB\)/,
	'naming the file and the limit');
unlike($err, qr/connect/, 'before connecting');
unlink "$dir/0003_huge.sql";

# Control characters in a name are printed as \xNN, in the command's lines
# and in the server's messages alike
migration("0004_\e[31mred.sql", "CREATE TABLE red (id int);\n");
migration("0005_\e]0;title\abad.sql", "SELECT 1/0;\n");
($rc, $out, $err) = pg_migrate($node, [ 'run', $dir ]);
is($rc, 1, 'run of a folder with control characters in names');
like($out, qr/^applied 0004_\\x1b\[31mred \(\d+ ms\)$/m, 'a line names the migration escaped');
like($err, qr/^migration 0005_\\x1b\]0;title\\x07bad\.sql, line 1$/m,
	'the server\'s error too');
like($err, qr/run stopped at migration "0005_\\x1b\]0;title\\x07bad"/, 'and the summary');
unlike($out . $err, qr/[\e\a]/, 'no control character reaches the terminal');
unlink "$dir/0005_\e]0;title\abad.sql";
($rc, $out, $err) = pg_migrate($node, [ 'status', $dir ]);
like($out, qr/^0004_\\x1b\[31mred +applied /m, 'status escapes it too');

# A malformed URL: libpq's error quotes it, password and all
for my $url ('postgresql://deployer:hunter2@[::1/postgres',
	'postgresql://deployer:hun%zzter2@localhost/postgres')
{
	($rc, $out, $err) = pg_migrate($node, [ '-d', $url, 'status', $dir ]);
	is($rc, 2, "a malformed URL exits 2");
	unlike($err, qr/hunter2|hun%zzter2/, 'its password is not printed');
	like($err, qr/\*\*\*/, 'but masked');
}
($rc, $out, $err) = pg_migrate($node, [ 'status', $dir ],
	DATABASE_URL => 'postgres://deployer:hunter2@[::1/postgres');
unlike($err, qr/hunter2/, 'nor the password of a malformed DATABASE_URL');

# The GRANTs of doc/pg_migrate-command.md work on the current version,
# and give what each mode needs (in a database of their own)
my $doc = PostgreSQL::Test::Utils::slurp_file("$FindBin::RealBin/../../doc/pg_migrate-command.md");
my ($grants) = $doc =~ /## Privileges.*?```sql\n(.*?)```/s;
ok(defined $grants, 'the doc has its GRANTs');
$grants =~ s/deployer/doc_deployer/g;
$grants =~ s/PASSWORD '\.\.\.'/PASSWORD 'doc secret'/;
$node->safe_psql('postgres', 'CREATE DATABASE doc_db');
$node->safe_psql('doc_db', 'CREATE EXTENSION pg_migrate');
my ($ret, $stdout, $stderr) = $node->psql('doc_db', $grants, on_error_stop => 1);
is($ret, 0, 'the GRANTs of the doc run');
is($stderr, '', 'without an error');
$node->safe_psql('postgres', "ALTER SYSTEM SET migrate.allowed_directories = ''; SELECT pg_reload_conf()");
my $server_dir = migrations_dir();
write_migration($server_dir, '0001_server.sql', "SELECT 1;\n");
write_migration($server_dir, '0001_server.down.sql', "SELECT 1;\n");
for my $case (
	[ '--server-dir', 'status', $server_dir ],
	[ '--server-dir', 'apply', $server_dir ],
	[ '--server-dir', 'run', $server_dir ],
	[ 'run', $server_dir ],
	[ 'apply', $server_dir ],
	[ 'status', '--check', $server_dir ],
	['status'],
	['rollback'])
{
	($rc, $out, $err) = pg_migrate($node, $case,
		PGUSER => 'doc_deployer', PGPASSWORD => 'doc secret', PGDATABASE => 'doc_db');
	is($rc, 0, "with the doc's GRANTs: pg_migrate @$case");
}

# The server's own reader refuses a link to nothing and a FIFO named .sql
symlink("$server_dir/nowhere.sql", "$server_dir/0002_dangling.sql") or die "symlink: $!";
($ret, $stdout, $stderr) = $node->psql('doc_db', "SELECT * FROM migrate.status('$server_dir')");
like($stderr, qr/ERROR:  migration file ".*\/0002_dangling\.sql" is a link to nothing/,
	'the server refuses a link to nothing named .sql');
unlink "$server_dir/0002_dangling.sql";
mkfifo("$server_dir/0002_fifo.sql", 0600) or die "mkfifo: $!";
($ret, $stdout, $stderr) = $node->psql('doc_db', "SELECT * FROM migrate.status('$server_dir')");
like($stderr, qr/ERROR:  migration file ".*\/0002_fifo\.sql" is not a regular file/,
	'and a FIFO named .sql');
unlink "$server_dir/0002_fifo.sql";
symlink('/proc/version', "$server_dir/0002_proc.sql") or die "symlink: $!";
($ret, $stdout, $stderr) = $node->psql('doc_db', "SELECT * FROM migrate.apply('$server_dir')");
like($stderr, qr/syntax error at or near "Linux"/,
	'and reads a file whose size stat() gives as 0 to its end');
unlink "$server_dir/0002_proc.sql";
symlink("$server_dir/nowhere.md", "$server_dir/NOTES.md") or die "symlink: $!";
is( $node->safe_psql('doc_db',
		"SELECT string_agg(name || '=' || state, ',') FROM migrate.status('$server_dir')"),
	'0001_server=pending', 'but leaves out a link to nothing that is no migration');

$node->stop;
done_testing();
