# The pg_migrate command against several targets: three databases of one
# cluster and a second cluster (reached by a URI with a password), one of
# them made to fail.  One line per target, in the order given, with the
# password masked; a summary; the highest exit status; --parallel N runs
# at most N at once (seen in pg_stat_activity); --targets FILE with
# comments and blank lines; --json, one object per target; usage errors.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PgMigrateCommand;

my $grants = q{
	GRANT CREATE ON SCHEMA public TO deployer;
	GRANT USAGE ON SCHEMA migrate TO deployer;
	GRANT EXECUTE ON FUNCTION migrate.status(jsonb, text, text),
	                          migrate.check(jsonb, text, text) TO deployer;
	GRANT EXECUTE ON PROCEDURE migrate.run(jsonb, text, boolean, text, text, boolean) TO deployer;
};
my $node = command_node('fleet_one');
$node->safe_psql('postgres', 'GRANT EXECUTE ON FUNCTION migrate.check(jsonb, text, text) TO deployer');
for my $db ('t1', 't2', 'noext')
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	next if $db eq 'noext';
	$node->safe_psql($db, "CREATE EXTENSION pg_migrate; $grants");
}
# t2 is made to fail: the table its first migration creates is there
$node->safe_psql('t2', 'CREATE TABLE users (id int)');

# a second cluster, whose deployer has another password, given in the URI
my $other_password = 'fleet two+pw';
my $node2 = command_node('fleet_two');
$node2->safe_psql('postgres', "ALTER ROLE deployer PASSWORD '$other_password'; "
	  . 'GRANT EXECUTE ON FUNCTION migrate.check(jsonb, text, text) TO deployer');
(my $encoded = $other_password) =~ s/([^A-Za-z0-9])/sprintf('%%%02X', ord $1)/ge;
my $uri = 'postgresql://deployer:' . $encoded . '@/postgres?host='
  . $node2->host . '&port=' . $node2->port;
my $uri_shown = 'postgresql://deployer:***@/postgres?host='
  . $node2->host . '&port=' . $node2->port;

my $dir = migrations_dir();
write_migration($dir, '0001_users.sql', "CREATE TABLE users (id int PRIMARY KEY);\n");
write_migration($dir, '0002_email.sql', "ALTER TABLE users ADD COLUMN email text;\n");
my ($rc, $out, $err);

# run against four targets: the lines in the order given, t2 failed
($rc, $out, $err) = pg_migrate($node,
	[ '-d', 'postgres', '-d', 't1', '-d', 't2', '-d', $uri, 'run', $dir ]);
is($rc, 1, 'run against four targets, one failing, exits 1');
my $w = length $uri_shown;
my @lines = map { quotemeta(sprintf('%-*s  ', $w, $_->[0])) . $_->[1] } (
	[ 'postgres', '2 migrations applied in [^\n]+' ],
	[ 't1', '2 migrations applied in [^\n]+' ],
	[ 't2', 'failed: relation "users" already exists' ],
	[ $uri_shown, '2 migrations applied in [^\n]+' ]);
my $expected = join("\n", @lines, '4 targets: 3 succeeded, 1 failed') . "\n";
like($out, qr/\A$expected\z/,
	'one line per target, in the order given, and the summary');
like($err, qr/^t2: ERROR:  relation "users" already exists/m,
	'the failed target\'s error follows, after its name');
unlike("$out$err", qr/\Q$encoded\E|\Q$other_password\E/, 'the password is printed nowhere');
is($node2->safe_psql('postgres', 'SELECT string_agg(name, \',\' ORDER BY id) FROM migrate.migrations'),
	'0001_users,0002_email', 'the second cluster was migrated, with the URI\'s password');
is($node->safe_psql('t2', 'SELECT count(*) FROM migrate.migrations'), '0',
	'the failed target applied nothing');

# the highest exit status: a database without the extension is 2
($rc, $out, $err) = pg_migrate($node, [ '-d', 't1', '-d', 'noext', 'status', $dir ]);
is($rc, 2, 'the exit status is the highest of the targets\'');
like($out, qr/^t1     2 migrations: 2 applied\nnoext  failed: extension "pg_migrate" is not installed in database "noext"\n2 targets: 1 succeeded, 1 failed$/m,
	'status: each target\'s summary, or its error');

# check, 3 where something is pending
($rc, $out, $err) = pg_migrate($node, [ '-d', 't1', '-d', 't2', 'check', $dir ]);
is($rc, 3, 'check against several targets exits 3 when one is not up to date');
like($out, qr/^t1  the database is up to date with the folder\nt2  failed: database is not up to date/m,
	'check: a line per target');

# --targets FILE, with a comment and a blank line, and -d besides
my $file = PostgreSQL::Test::Utils::tempdir() . '/targets';
open my $fh, '>', $file or die "$file: $!";
print $fh "# staging databases\n\n  t1  \n$uri\n";
close $fh;
($rc, $out, $err) = pg_migrate($node, [ '-d', 'postgres', '--targets', $file, '--json', 'status', $dir ]);
is($rc, 0, 'status of three targets, from -d and --targets FILE, exits 0');
my $rows = decode_json($out);
is_deeply([ map { $_->{target} } @$rows ], [ 'postgres', 't1', $uri_shown ],
	'--json: one object per target, comment and blank line skipped, password masked');
is_deeply([ map { $_->{exit} } @$rows ], [ 0, 0, 0 ], 'with its exit status');
is_deeply([ map { $_->{state} } @{ $rows->[1]{rows} } ], [ 'applied', 'applied' ],
	'and the rows the command prints for it');
like($rows->[0]{outcome}, qr/^2 migrations: 2 applied$/, 'and its outcome');

# --parallel 2: never more than two at once, and two at once seen
write_migration($dir, '0003_slow.sql', "SELECT pg_sleep(2);\n");
for my $db ('postgres', 't1', 't2')
{
	$node->safe_psql($db, 'DROP TABLE IF EXISTS users CASCADE');
	$node->safe_psql($db, 'DELETE FROM migrate.migrations; DELETE FROM migrate.history');
}
my ($h, $hout, $herr) = pg_migrate_start($node,
	[ '-d', 'postgres', '-d', 't1', '-d', 't2', '--parallel', '2', 'run', $dir ]);
my $most = 0;
while ($h->pumpable)
{
	my $n = $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity
		  WHERE state = 'active' AND query LIKE 'CALL migrate.run%'});
	$most = $n if $n > $most;
	usleep(100_000);
	$h->pump_nb;
}
$h->finish;
is($h->result(0), 0, 'run --parallel 2 against three targets exits 0');
is($most, 2, 'two targets ran at once, never three');
like($$hout, qr/^3 targets: 3 succeeded, 0 failed$/m, 'all three succeeded');

# Ctrl-C: passed on to the targets running, which cancel their call; the
# target not started is not run
write_migration($dir, '0004_slower.sql', "SELECT pg_sleep(60);\n");
($h, $hout, $herr) = pg_migrate_start($node,
	[ '-d', 'postgres', '-d', 't1', '-d', 't2', '--parallel', '2', 'run', $dir ]);
my $running = 0;
for (1 .. 300)
{
	$running = $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity
		  WHERE state = 'active' AND query LIKE 'CALL migrate.run%'});
	last if $running == 2;
	usleep(100_000);
}
is($running, 2, '(two targets running)');
$h->signal('INT');
$h->finish;
is($h->result(0), 1, 'run interrupted by Ctrl-C exits 1');
like($$hout, qr/^postgres  failed: canceling statement due to user request\nt1        failed: canceling statement due to user request\nt2        failed: not run \(interrupted\)\n3 targets: 0 succeeded, 3 failed$/m,
	'the targets running were cancelled, the one not started was not run');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CALL migrate.run%'}),
	'0', 'no call goes on in the server');
is($node->safe_psql('t2', q{SELECT count(*) FROM migrate.history WHERE name = '0004_slower'}),
	'0', 'the target not started was not touched');

# usage errors, before connecting
for my $case (
	[ [ '-d', 'a', '-d', 'b', 'rollback' ], qr/rollback runs against one database/ ],
	[ [ '-d', 'a', '-d', 'b', 'forget', 'x' ], qr/forget runs against one database/ ],
	[ [ '--parallel', '0', '-d', 'a', '-d', 'b', 'status' ], qr/--parallel needs a number of targets of 1 or more/ ],
	[ [ '--parallel', '2', 'status' ], qr/--parallel goes with several targets/ ],
	[ [ '-W', '-d', 'a', '-d', 'b', 'status' ], qr/-W does not go with several targets/ ],
	[ [ '--targets', '/nonexistent/targets', 'status' ], qr/could not open targets file/ ])
{
	($rc, $out, $err) = pg_migrate($node, $case->[0], PGPORT => 1);
	is($rc, 2, "pg_migrate @{$case->[0]}: exit 2");
	like($err, $case->[1], "pg_migrate @{$case->[0]}: says what is wrong");
}

done_testing();
