# The pg_migrate command deploys a folder the database server cannot read:
# it reads the folder on the client and sends it with the call.  The role
# it connects as has neither superuser nor pg_read_server_files, and server
# folders are confined elsewhere, so any read on the server's side would
# fail.  Shown here: status, apply, run with a no-transaction migration,
# rollback, verify, --json read back, status --check, a drizzle folder (its journal
# in a subfolder), connection settings as psql takes them (PG* variables,
# -d conninfo or URI, DATABASE_URL, .pgpass), -q, and usage errors.
use strict;
use warnings;
use Scalar::Util qw(looks_like_number);
use JSON::PP;
use Sys::Hostname;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PgMigrateCommand;

my $node = command_node('command');
my $dir = migrations_dir();
sub migration { write_migration($dir, @_); }

is( $node->safe_psql('postgres',
		"SELECT rolsuper, pg_has_role('deployer', 'pg_read_server_files', 'member')
		 FROM pg_roles WHERE rolname = 'deployer'"),
	'f|f', 'deployer is no superuser and may not read server files');

my ($rc, $out, $err) = pg_migrate($node, ['--version']);
is($rc, 0, '--version exits 0');
like($out, qr/^pg_migrate \(pg_migrate\) \d+\.\d+$/m, '--version prints the version');
($rc, $out, $err) = pg_migrate($node, ['--help']);
like($out, qr/status \[--check\] \[DIR\].*apply DIR.*run DIR.*rollback \[--skip-partial\] \[NAME\].*down \[NAME\]/s,
	'--help lists the commands');

migration('0001_users.sql', "CREATE TABLE users (id int PRIMARY KEY, name text);\n");
migration('0001_users.down.sql', "DROP TABLE users;\n");
migration('0002_seed.sql', "INSERT INTO users VALUES (1, 'ada'), (2, 'grace');\n");
migration('0002_seed.down.sql', "DELETE FROM users;\n");
migration('README.md', "Notes that are not migrations.\n");
mkdir "$dir/.git" or die;
migration('.git/0003_hidden.sql', "not sent: in a dot folder\n");

# status of a new folder: everything pending
($rc, $out, $err) = pg_migrate($node, [ 'status', $dir ]);
is($rc, 0, 'status exits 0');
like($out, qr/^0001_users +pending\n0002_seed +pending\n2 migrations: 2 pending$/m,
	'status lists the folder\'s migrations as pending');

# the server could not read this folder for deployer, had it been asked to
($rc, $out, $err) = pg_migrate($node, [ '--server-dir', 'status', $dir ]);
isnt($rc, 0, 'the same folder read on the server\'s side is refused');
like($err, qr/ERROR:  .*(permission denied|not allowed|outside)/,
	'because deployer may not read server files');

# apply: one transaction, each migration with its duration, then a summary
($rc, $out, $err) = pg_migrate($node, [ 'apply', $dir ]);
is($rc, 0, 'apply exits 0');
like(
	$out,
	qr/^applied 0001_users \(\d+ ms\)\napplied 0002_seed \(\d+ ms\)\n2 migrations applied in \d+ ms$/,
	'apply prints each migration with its duration, then a summary');
is($node->safe_psql('postgres', 'SELECT count(*) FROM users'), '2', 'the migrations ran');
my $host = hostname();
is( $node->safe_psql('postgres',
		"SELECT string_agg(DISTINCT source || ' ' || applied_by, ',') FROM migrate.migrations"),
	"client:$host:$dir deployer",
	'the source recorded is client:<host>:<folder>, applied by deployer');

($rc, $out, $err) = pg_migrate($node, [ 'apply', $dir ]);
is($rc, 0, 'apply with nothing pending exits 0');
is($out, "nothing to apply\n", 'and says so');

# status --check: the gate before promoting to the next environment
($rc, $out, $err) = pg_migrate($node, [ 'status', '--check', $dir ]);
is($rc, 0, 'status --check exits 0 when everything is applied');

migration('0003_users_name_idx.sql',
	"-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n");
migration('0003_users_name_idx.down.sql', "DROP INDEX users_name_idx;\n");
migration('0004_lessons.sql', "CREATE TABLE lessons (id int, user_id int REFERENCES users);\n");
migration('0004_lessons.down.sql', "DROP TABLE lessons;\n");
($rc, $out, $err) = pg_migrate($node, [ 'status', '--check', $dir ]);
is($rc, 3, 'status --check exits 3 when something is pending');
like($out, qr/^0003_users_name_idx +pending$/m, 'and shows what');
($rc, $out, $err) = pg_migrate($node, [ '-q', 'status', '--check', $dir ]);
is($rc . $out . $err, '3', 'status --check -q: the exit status alone');

# run: commits each migration; the no-transaction one runs in the worker
($rc, $out, $err) = pg_migrate($node, [ 'run', $dir ]);
is($rc, 0, 'run exits 0');
like(
	$out,
	qr/^applied 0003_users_name_idx \(\d+ ms\)\napplied 0004_lessons \(\d+ ms\)\n2 migrations applied in \d+ ms$/,
	'run prints each migration as it ends, then a summary');
is( $node->safe_psql('postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_name_idx'::regclass"),
	't', 'the index was built concurrently');
is( $node->safe_psql('postgres',
		"SELECT transaction_mode FROM migrate.migrations WHERE name = '0003_users_name_idx'"),
	'no-transaction', 'outside a transaction');

# --json: the result rows, for pipelines
($rc, $out, $err) = pg_migrate($node, [ '--json', 'status', $dir ]);
is($rc, 0, 'status --json exits 0');
my $rows = decode_json($out);
is_deeply([ map { "$_->{name}=$_->{state}" } @$rows ],
	[ '0001_users=applied', '0002_seed=applied', '0003_users_name_idx=applied', '0004_lessons=applied' ],
	'status --json: every migration and its state');
ok((grep { $_->{checksum} =~ /^[0-9a-f]{64}$/ } @$rows) == 4, 'with its checksum');
ok( (grep { $_->{applied_at} =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/ } @$rows) == 4,
	'and when it was applied, in ISO 8601');

($rc, $out, $err) = pg_migrate($node, [ '--json', 'rollback', '0003_users_name_idx' ]);
is($rc, 0, 'rollback NAME exits 0');
$rows = decode_json($out);
is_deeply([ map { "$_->{name}=$_->{action}" } @$rows ],
	[ '0004_lessons=rolled back', '0003_users_name_idx=rolled back' ],
	'rollback --json: it and every later migration, newest first');
# (a JSON number: Perl prints a tiny one as 3.1e-05)
ok((grep { looks_like_number($_->{duration}) && $_->{duration} >= 0 && $_->{duration} < 60 } @$rows) == 2,
	'with durations in seconds');
is($node->safe_psql('postgres', "SELECT to_regclass('users_name_idx') IS NULL"),
	't', 'the down scripts ran');

($rc, $out, $err) = pg_migrate($node, [ 'rollback' ]);
is($rc, 0, 'rollback without a name exits 0');
like($out, qr/^rolled back 0002_seed \(\d+ ms\)\n1 migration rolled back in \d+ ms$/,
	'and undoes the latest migration only');

($rc, $out, $err) = pg_migrate($node, [ '--json', 'run', $dir ]);
$rows = decode_json($out);
is_deeply([ map { "$_->{name}=$_->{action}" } @$rows ],
	[ '0002_seed=applied', '0003_users_name_idx=applied', '0004_lessons=applied' ],
	'run --json: the migrations applied, as they ended');
ok((grep { looks_like_number($_->{duration}) && $_->{duration} >= 0 } @$rows) == 3,
	'with durations in seconds');
pg_migrate($node, [ 'rollback' ]);
($rc, $out, $err) = pg_migrate($node, [ '--json', 'apply', $dir ]);
$rows = decode_json($out);
is_deeply([ map { "$_->{name}=$_->{action}" } @$rows ],
	[ '0004_lessons=applied' ], 'apply --json: the migration applied');
ok(looks_like_number($rows->[0]{duration}) && $rows->[0]{duration} >= 0, 'with its duration in seconds');
($rc, $out, $err) = pg_migrate($node, [ '--json', 'apply', $dir ]);
is($out, "[]\n", '--json with nothing to do: an empty array');

# -q prints nothing when all goes well, notices included
($rc, $out, $err) = pg_migrate($node, [ '-q', 'apply', $dir ]);
is($rc . $out . $err, '0', '-q prints nothing on success');

# status without a folder: what the database recorded
($rc, $out, $err) = pg_migrate($node, [ 'status' ]);
like($out, qr/^4 migrations: 4 applied$/m, 'status without DIR lists the tracking table');

# A drizzle folder: its journal, in a subfolder, is sent too
my $drizzle = migrations_dir() . '/drizzle';
system('cp', '-R', ($ENV{TESTDIR} || '.') . '/test/fixtures/drizzle', $drizzle) == 0 or die;
$node->safe_psql('postgres', 'CREATE DATABASE drizzle_db');
$node->safe_psql('drizzle_db', q{
	CREATE EXTENSION pg_migrate;
	GRANT USAGE ON SCHEMA migrate TO deployer;
	GRANT EXECUTE ON FUNCTION migrate.status(jsonb, text, text) TO deployer;
});
($rc, $out, $err) = pg_migrate($node, [ '--format=drizzle', 'status', $drizzle ],
	PGDATABASE => 'drizzle_db');
is($rc, 0, 'status of a drizzle folder exits 0');
like($out, qr/^0000_initial +pending\n0001_quiz_answers +pending\n0002_lesson_position +pending\n/,
	'its migrations, from meta/_journal.json');

# Connection settings as psql takes them
my $socket = $node->host;
my $port = $node->port;
my %none = (PGHOST => undef, PGPORT => undef, PGUSER => undef, PGDATABASE => undef);
($rc, $out, $err) = pg_migrate($node,
	[ '-d', "host=$socket port=$port user=deployer dbname=postgres", 'status', '--check', $dir ], %none);
is($rc, 0, '-d takes a conninfo string');
($rc, $out, $err) = pg_migrate($node,
	[ '-h', $socket, '-p', $port, '-U', 'deployer', '-d', 'postgres', 'status', '--check', $dir ], %none);
is($rc, 0, '-h -p -U -d');
($rc, $out, $err) = pg_migrate($node, [ 'status', '--check', $dir ],
	%none, DATABASE_URL => "postgresql://deployer\@localhost/postgres?host=$socket&port=$port");
is($rc, 0, 'DATABASE_URL when no -d is given');
($rc, $out, $err) = pg_migrate($node, [ '-d', 'nosuchdb', 'status', $dir ],
	DATABASE_URL => "postgresql://deployer\@localhost/postgres?host=$socket&port=$port");
is($rc, 2, '-d wins over DATABASE_URL');
like($err, qr/database "nosuchdb" does not exist/, 'and names its database');

my $pgpass = PostgreSQL::Test::Utils::tempdir . '/pgpass';
open my $fh, '>', $pgpass or die;
print $fh "*:*:*:deployer:deploy secret\n";
close $fh;
chmod 0600, $pgpass;
($rc, $out, $err) = pg_migrate($node, [ 'status', '--check', $dir ],
	PGPASSWORD => undef, PGPASSFILE => $pgpass);
is($rc, 0, 'the password from a .pgpass file');
($rc, $out, $err) = pg_migrate($node, [ '-w', 'status', $dir ], PGPASSWORD => undef);
is($rc, 2, 'no password and -w: a connection error, exit 2');
like($err, qr/^pg_migrate: error: .*password/m, 'saying a password is needed');

# verify: each pending migration run, then its down script, compared with
# the schema before, all rolled back; exit 1 when a down script does not
# undo its migration
my $vdir = migrations_dir();
write_migration($vdir, '0001_notes.sql', "CREATE TABLE notes (id int);\n");
write_migration($vdir, '0001_notes.down.sql', "DROP TABLE notes;\n");
write_migration($vdir, '0002_tags.sql', "CREATE TABLE tags (id int);\nCREATE TABLE labels (id int);\n");
write_migration($vdir, '0002_tags.down.sql', "DROP TABLE tags;\n");
($rc, $out, $err) = pg_migrate($node, [ 'verify', $vdir ]);
is($rc, 1, 'verify exits 1 when a down script forgets something');
like(
	$out,
	qr/^0001_notes  exact         written down\n0002_tags   differs       written down: added table public\.labels\n2 migrations: 1 exact, 1 differs$/,
	'verify prints each migration\'s round trip, then a summary');
($rc, $out, $err) = pg_migrate($node, [ '--json', 'verify', $vdir ]);
my $verified = decode_json($out);
is_deeply(
	[ map { "$_->{name} $_->{result} $_->{down}" } @$verified ],
	[ '0001_notes exact written', '0002_tags differs written' ],
	'verify --json: one row per migration');
is($verified->[1]{objects}[0]{object_identity}, 'public.labels',
	'verify --json: the objects that differ');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname IN ('notes', 'tags', 'labels')"),
	'0', 'verify left nothing behind');
write_migration($vdir, '0002_tags.down.sql', "DROP TABLE tags;\nDROP TABLE labels;\n");
($rc, $out, $err) = pg_migrate($node, [ 'verify', $vdir ]);
is($rc, 0, 'verify exits 0 when every down script undoes its migration');

# Usage and folder errors exit 2
for my $case (
	[ [], qr/no command given/ ],
	[ ['migrate'], qr/unrecognized command "migrate"/ ],
	[ ['apply'], qr/apply needs the migrations folder DIR/ ],
	[ [ 'apply', '--check', $dir ], qr/--check goes with status only/ ],
	[ ['verify'], qr/verify needs the migrations folder DIR/ ],
	[ [ 'verify', '--allow-drift', $dir ], qr/--allow-drift goes with apply and run only/ ],
	[ [ 'status', $dir, 'extra' ], qr/too many arguments/ ],
	[ [ '--bogus', 'status' ], qr/unrecognized option/ ],
	[ [ 'apply', "$dir/nonexistent" ], qr/could not open migrations folder ".*nonexistent": No such file/ ],
	[ [ 'apply', "$dir/README.md" ], qr/is not a folder/ ])
{
	($rc, $out, $err) = pg_migrate($node, $case->[0]);
	is($rc, 2, "pg_migrate @{$case->[0]}: exit 2");
	like($err, $case->[1], "pg_migrate @{$case->[0]}: says why");
}

$node->stop;
done_testing();
