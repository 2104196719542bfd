# migrate.allowed_directories against those it confines: a role cannot
# loosen it by connection options, SET, set_config(), ALTER ROLE/DATABASE
# ... SET or the order in which pg_migrate is loaded; a link chain too long
# to resolve is checked all the same; and a folder or file swapped for a
# link between the check and the read is never read outside.  Also the
# steps the reference gives administrators to set it.
use strict;
use warnings;
use Cwd qw(getcwd);
use Digest::SHA qw(sha256_hex);
use File::Path qw(make_path);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = start_node('allowed_directories');
my $base = PostgreSQL::Test::Utils::tempdir;
my $allowed = "$base/allowed";
my $inside = "$allowed/app";
my $outside = "$base/outside/app";
make_path($inside, $outside);
write_migration($inside, '0001_users.sql', "CREATE TABLE users (id int);\n");
write_migration($outside, '0001_secret.sql', "CREATE TABLE secret (id int);\n");

$node->safe_psql(
	'postgres', q{
	CREATE ROLE deployer LOGIN IN ROLE pg_read_server_files;
	GRANT USAGE ON SCHEMA migrate TO deployer;
	GRANT EXECUTE ON FUNCTION migrate.status(text, text) TO deployer;
	CREATE DATABASE deployer_db OWNER deployer;
});

# A new session of $role (with more connection string, e.g. options) runs
# $sql; returns psql's stdout and stderr
sub session
{
	my ($role, $sql, $conn) = @_;
	my ($ret, $out, $err) = $node->psql(
		'postgres', $sql,
		connstr => $node->connstr('postgres') . " user=$role " . ($conn // ''));
	return ($out, $err);
}

sub status_sql
{
	my ($dir) = @_;
	return "SELECT string_agg(name, ',' ORDER BY name) FROM migrate.status('$dir')";
}

my $unknown = qr/cannot read migrations folders while "migrate\.allowed_directories" is unknown/;
my $denied = qr/permission denied to set parameter "migrate\.allowed_directories"/;
my ($out, $err);

# --- The administrator's steps (doc/reference.md) ---

# Before PostgreSQL 17, ALTER SYSTEM knows only parameters the session has
# loaded; from 17 on it takes any custom one
(undef, $out, $err) = $node->psql('postgres',
	"ALTER SYSTEM SET migrate.allowed_directories = '$allowed'");
if ($node->pg_version < 17)
{
	like($err, qr/unrecognized configuration parameter "migrate\.allowed_directories"/,
		'before 17, ALTER SYSTEM without LOAD fails as documented');
}
else
{
	is($err, '', 'from 17 on, ALTER SYSTEM works without LOAD');
}
$node->safe_psql('postgres',
	"LOAD 'pg_migrate'; ALTER SYSTEM SET migrate.allowed_directories = '$allowed'; SELECT pg_reload_conf();");
$node->poll_query_until('postgres',
	"SELECT current_setting('migrate.allowed_directories', true) = '$allowed'")
  or die 'the setting never took effect';

($out, $err) = session('deployer', status_sql($inside));
is($out, '0001_users', 'LOAD, ALTER SYSTEM, pg_reload_conf: a new session reads inside');
($out, $err) = session('deployer', status_sql($outside));
like($err, qr/migrations folder ".*" is outside "migrate\.allowed_directories"/,
	'and is refused outside');

# --- A role that may not set it cannot loosen it ---

for my $value ('/', '')
{
	($out, $err) = session('deployer', status_sql($outside),
		"options='-c migrate.allowed_directories=$value'");
	like($err, $unknown,
		"connection option '$value': refused, as the setting is unknown");
	like($err, qr/set for this session was rejected/, 'the detail says why');
	($out, $err) = session('deployer', status_sql($inside),
		"options='-c migrate.allowed_directories=$value'");
	like($err, $unknown, "connection option '$value': no folder is read at all");
}

# before pg_migrate is loaded in the session, a value is only a placeholder
($out, $err) = session('deployer',
	"SET migrate.allowed_directories = '/'; " . status_sql($outside));
like($err, $unknown, 'SET before loading: refused');
($out, $err) = session('deployer',
	"SELECT set_config('migrate.allowed_directories', '', false); " . status_sql($outside));
like($err, $unknown, 'set_config() before loading: refused');
($out, $err) = session('deployer',
	"BEGIN; SET LOCAL migrate.allowed_directories = '/'; " . status_sql($outside) . "; COMMIT;");
like($err, $unknown, 'SET LOCAL before loading: refused');
($out, $err) = session('deployer',
	"BEGIN; SET LOCAL migrate.allowed_directories = '/'; SELECT count(*) FROM migrate.status(); COMMIT; "
	  . status_sql($inside));
like($err, $unknown, 'loaded meanwhile: the session stays refused after the transaction');

# once it is loaded, the server refuses the assignment itself
($out, $err) = session('deployer',
	"SELECT count(*) FROM migrate.status(); SET migrate.allowed_directories = '/'");
like($err, $denied, 'SET after loading: permission denied');
($out, $err) = session('deployer',
	"SELECT count(*) FROM migrate.status(); SELECT set_config('migrate.allowed_directories', '/', false)");
like($err, $denied, 'set_config() after loading: permission denied');

# nor can it be stored for later sessions, loaded or not
for my $load ('', 'SELECT count(*) FROM migrate.status(); ')
{
	my $when = $load ? 'after loading' : 'before loading';
	($out, $err) = session('deployer',
		$load . "ALTER ROLE deployer SET migrate.allowed_directories = '/'");
	like($err, $denied, "ALTER ROLE ... SET $when: permission denied");
	($out, $err) = session('deployer',
		$load . "ALTER DATABASE deployer_db SET migrate.allowed_directories = '/'");
	like($err, $denied, "ALTER DATABASE ... SET of its own database $when: permission denied");
}

# a value the role was entitled to is kept: a superuser's per-role setting
$node->safe_psql(
	'postgres', qq{
	CREATE ROLE outsider LOGIN IN ROLE pg_read_server_files;
	GRANT USAGE ON SCHEMA migrate TO outsider;
	GRANT EXECUTE ON FUNCTION migrate.status(text, text) TO outsider;
	ALTER ROLE outsider SET migrate.allowed_directories = '$base/outside';
});
($out, $err) = session('outsider', status_sql($outside));
is($out, '0001_secret', "a superuser's ALTER ROLE ... SET applies to the role");
($out, $err) = session('outsider', status_sql($inside));
like($err, qr/is outside "migrate\.allowed_directories"/, 'and confines it');

# and a role granted SET on the parameter may set it, also as an option
if ($node->pg_version >= 15)
{
	$node->safe_psql(
		'postgres', q{
		CREATE ROLE trusted LOGIN IN ROLE pg_read_server_files;
		GRANT USAGE ON SCHEMA migrate TO trusted;
		GRANT EXECUTE ON FUNCTION migrate.status(text, text) TO trusted;
		GRANT SET ON PARAMETER migrate.allowed_directories TO trusted;
	});
	($out, $err) = session('trusted', status_sql($outside),
		"options='-c migrate.allowed_directories=$base/outside'");
	is($out, '0001_secret', 'a role granted SET ON PARAMETER may loosen it');
}

# --- A link chain too long to resolve by name ---

# 0002_chain.sql leads through a folder so deep that its path exceeds
# PATH_MAX, then to a file outside: resolving the name fails, opening it
# does not
my $chain = "$allowed/chain";
make_path($chain, "$base/secret");
write_migration($chain, '0001_users.sql', "CREATE TABLE users (id int);\n");
write_migration("$base/secret", 'steal.sql', "CREATE TABLE chain_secret (id int);\n");
my @parts = ('deep', ('d' x 200) x 20, 'e' x 55);
{
	my $cwd = getcwd();
	chdir $chain or die "chdir: $!";
	for my $part (@parts)
	{
		mkdir $part or die "mkdir: $!";
		chdir $part or die "chdir: $!";
	}
	symlink("$base/secret/steal.sql", 'to_secret') or die "symlink: $!";
	chdir $cwd or die "chdir: $!";
}
my $target = join('/', @parts, 'to_secret');
cmp_ok(length($target), '<', 4096, 'each link is short enough to follow');
cmp_ok(length("$chain/$target"), '>=', 4096, 'the folder it passes is not');
symlink($target, "$chain/0002_chain.sql") or die "symlink: $!";

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET client_min_messages = warning; SELECT * FROM migrate.apply('$chain')");
like($stderr, qr/migration file ".*0002_chain\.sql" is outside "migrate\.allowed_directories"/,
	'a file reached through a chain too long to resolve is checked');
like($stderr, qr/The file opened is "\Q$base\E\/secret\/steal\.sql"/,
	'as what was opened');
is($node->safe_psql('postgres', "SELECT to_regclass('chain_secret') IS NULL"),
	't', 'and not run');

# --- Swapping the folder or a file for a link while it is read ---

# The folder and its file alternate, as fast as they can, between the real
# ones and links to an outside folder with the same file name (different
# content) and one more file.  Nothing outside may ever be read: not the
# extra file's name, nor the outside file's checksum, nor its table.
my $race = "$allowed/race";
my $race_outside = "$base/outside/race";
make_path($race, $race_outside);
my $inside_sql = "CREATE TABLE race_inside (id int);\n";
my $outside_sql = "CREATE TABLE race_outside (id int);\n";
write_migration($race, '0001_race.sql', $inside_sql);
write_migration($race_outside, '0001_race.sql', $outside_sql);
write_migration($race_outside, '0002_only_outside.sql', "CREATE TABLE race_only_outside (id int);\n");
my $outside_checksum = sha256_hex($outside_sql);

# Each swap is one renameat2(RENAME_EXCHANGE) where the system has it, so
# that the name never goes missing; plain renames otherwise
my $swapper_code = <<'EOS';
use strict;
use warnings;
my ($dir, $outside, $max, $seconds, $stop) = @ARGV;
my $exchange = eval {
	require 'syscall.ph';
	my $nr = &SYS_renameat2;
	sub { syscall($nr, -100, $_[0], -100, $_[1], 2) == 0 };
};
symlink("$outside/0001_race.sql", "$dir/.swap") or die "symlink: $!";
symlink($outside, "$dir.swap") or die "symlink: $!";
if (!$exchange
	|| !($exchange->("$dir/.swap", "$dir/0001_race.sql")
		&& $exchange->("$dir/.swap", "$dir/0001_race.sql")))
{
	$exchange = sub {
		my ($one, $other) = @_;
		rename($one, "$one.tmp") && rename($other, $one) && rename("$one.tmp", $other);
	};
}
my ($end, $n) = (time + $seconds, 0);
while ($n < $max && time < $end && !-e $stop)
{
	# the file for a link to the outside one, and back; then the folder
	for my $pair ([ "$dir/0001_race.sql", "$dir/.swap" ], [ $dir, "$dir.swap" ])
	{
		$exchange->(@$pair) or die "exchange: $!";
		$exchange->(@$pair) or die "exchange: $!";
	}

	# a pause after every other round, so that tries find the folder both
	# as it is and mid-swap, however fast the swaps run beside them
	select(undef, undef, undef, 0.001) if $n % 2;
	if (++$n == 1)
	{
		open my $fh, '>', "$stop.started" or die "open: $!";
		close $fh;
	}
}
print "$n\n";
EOS
my $stop = "$base/stop_swapping";
my ($swaps, $swap_err) = ('', '');
my $swapper = IPC::Run::start(
	[ $^X, '-e', $swapper_code, $race, $race_outside, 2_000_000, 120, $stop ],
	'>', \$swaps, '2>', \$swap_err);
my $waited = 0;
while (!-e "$stop.started" && $waited++ < 300)
{
	select(undef, undef, undef, 0.1);
}

# Rounds of tries until some met a swap and some did not (how the
# swapper's and the server's processes share the CPU decides which come
# first), at most 20
my $tries = 400;
$node->safe_psql('postgres',
	'CREATE TABLE race_result (leaks int, refused int, ok_reads int, other int)');
my $round = 0;
while ($round++ < 20)
{
	$node->safe_psql(
	'postgres', qq{
	SET client_min_messages = warning;
	DO \$\$
	DECLARE
		leaks int := 0;
		refused int := 0;
		ok_reads int := 0;
		other int := 0;
		n int;
	BEGIN
		FOR i IN 1..$tries LOOP
			BEGIN
				SELECT count(*) INTO n FROM migrate.status('$race')
				 WHERE name = '0002_only_outside' OR checksum = '$outside_checksum';
				leaks := leaks + n;
				ok_reads := ok_reads + 1;
			EXCEPTION
				WHEN insufficient_privilege THEN refused := refused + 1;
				WHEN others THEN other := other + 1;
			END;
			BEGIN
				PERFORM * FROM migrate.apply('$race');
				IF to_regclass('race_outside') IS NOT NULL OR
				   to_regclass('race_only_outside') IS NOT NULL THEN
					leaks := leaks + 1;
				END IF;
				ok_reads := ok_reads + 1;
				-- undo, so that the next try applies again
				RAISE EXCEPTION 'undo';
			EXCEPTION
				WHEN insufficient_privilege THEN refused := refused + 1;
				WHEN raise_exception THEN
					IF SQLERRM <> 'undo' THEN other := other + 1; END IF;
				WHEN others THEN other := other + 1;
			END;
		END LOOP;
		INSERT INTO race_result VALUES (leaks, refused, ok_reads, other);
	END
	\$\$;
});
	last
	  if $node->safe_psql('postgres',
		'SELECT sum(refused) > 0 AND sum(ok_reads) > 0 FROM race_result') eq 't';
}
open my $fh, '>', $stop or die "could not create $stop: $!";
close $fh;
$swapper->finish;
chomp $swaps;
is($swap_err, '', 'the swapper ran without error');
cmp_ok($swaps || 0, '>', 0, "the swapper swapped ($swaps rounds)");

my ($leaks, $refused, $read, $other) = split /\|/,
  $node->safe_psql('postgres',
	'SELECT sum(leaks), sum(refused), sum(ok_reads), sum(other) FROM race_result');
note(($round > 20 ? 20 : $round) . " x $tries tries of status and apply: $read read, $leaks of them outside, $refused refused, $other other errors");
is($leaks, 0, 'nothing outside was read while the folder and file were swapped');
cmp_ok($refused, '>', 0, 'tries that met a link leading outside were refused');
cmp_ok($read, '>', 0, 'and the others read the folder');
is($node->safe_psql('postgres', 'SELECT count(*) FROM migrate.migrations'),
	'0', 'no try was kept');

# --- With pg_migrate preloaded, a connection option fails the connection ---

$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_migrate'");
$node->restart;
$node->connect_fails(
	$node->connstr('postgres') . " user=deployer options='-c migrate.allowed_directories=/'",
	'preloaded: a role that may not set it cannot connect with it',
	expected_stderr => $denied);
($out, $err) = session('deployer', status_sql($outside));
like($err, qr/is outside "migrate\.allowed_directories"/, 'preloaded: still confined');
($out, $err) = session('deployer', status_sql($inside));
is($out, '0001_users', 'preloaded: reads inside');

$node->stop;
done_testing();
