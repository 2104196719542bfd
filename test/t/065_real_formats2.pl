# Real folders of the formats issue 16 added (test/fixtures/real, each with
# a SOURCE.md naming the repository, commit and licence): each is applied
# by migrate.apply into one database and by migrate.run into another, and
# its up scripts by psql in the order the tool runs them into a third; the
# three schemas must be identical, and status must show every migration
# applied in the tool's order.  The Sqitch project is also deployed by
# Sqitch itself (from Debian), and that database's registry adopted: apply
# runs nothing there, and the schema stays Sqitch's.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PgMigrateCommand;

my $srcdir = $ENV{TESTDIR} || '.';
my $node = start_node('real_formats2');
my $tmp = PostgreSQL::Test::Utils::tempdir;

sub slurp
{
	my ($file) = @_;
	open my $fh, '<:raw', $file or die "could not read $file: $!";
	local $/;
	my $text = <$fh>;
	close $fh;
	return $text;
}

# Sqitch: the plan's changes in order, a change planned again making its
# earlier instance "<change>@<tag>", the first tag after it (from the
# rework back) whose deploy script exists
sub sqitch_migrations
{
	my ($dir) = @_;
	my (@changes, %tags_after);
	for my $line (split /\n/, slurp("$dir/sqitch.plan"))
	{
		$line =~ s/#.*//;
		next if $line =~ /^\s*(%|$)/;
		if ($line =~ /^\s*@(\S+)/)
		{
			push @{ $changes[-1]{tags} }, "\@$1";
			next;
		}
		my ($name) = $line =~ /^\s*([^\s\[]+)/;
		push @changes, { name => $name, tags => [] };
	}
	my @out;
	for my $i (0 .. $#changes)
	{
		my $stem = $changes[$i]{name};
		my ($next) = grep { $changes[$_]{name} eq $stem } $i + 1 .. $#changes;
		if (defined $next)
		{
			my @tags = map { @{ $changes[$_]{tags} } } reverse $i .. $next - 1;
			my ($found) = grep { -f "$dir/deploy/$stem$_.sql" } @tags;
			$stem .= $found // $tags[0];
		}
		push @out, [ $stem, slurp("$dir/deploy/$stem.sql") ];
	}
	return @out;
}

# Atlas: every .sql file, by name
sub atlas_migrations
{
	my ($dir) = @_;
	opendir my $dh, $dir or die;
	my @files = sort grep { /\.sql$/ } readdir $dh;
	closedir $dh;
	return map { (my $n = $_) =~ s/\.sql$//; [ $n, slurp("$dir/$_") ] } @files;
}

sub fresh_db
{
	my ($db) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION pg_migrate');
	return $db;
}

sub psql_scripts
{
	my ($db, $dir, @scripts) = @_;
	mkdir $dir or die "could not create $dir: $!";
	my @files;
	for my $i (0 .. $#scripts)
	{
		my $file = sprintf('%s/%04d.sql', $dir, $i);
		open my $fh, '>:raw', $file or die;
		print $fh $scripts[$i];
		close $fh;
		push @files, '-f', $file;
	}
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db), @files ],
		'>', \$out, '2>', \$err);
	return ($ok, $err);
}

# The schema without pg_migrate's and the tools' own tables
sub schema_of
{
	my ($db) = @_;
	my ($dump, $err) = ('', '');
	IPC::Run::run(
		[
			'pg_dump', '--schema-only', '-N', 'migrate', '-N', 'sqitch',
			'-N', 'atlas_schema_revisions', '-d', $node->connstr($db)
		],
		'>', \$dump, '2>', \$err)
	  or die "pg_dump of $db failed: $err";
	$dump =~ s/^\\(?:un)?restrict .*\n//mg;
	return $dump;
}

sub applied_of
{
	my ($db, $dir) = @_;
	return $node->safe_psql($db,
		"SELECT count(*) FILTER (WHERE state <> 'applied') || ' not applied' FROM migrate.status('$dir')"),
	  $node->safe_psql($db, "SELECT string_agg(name, ',' ORDER BY id) FROM migrate.migrations");
}

my @fixtures = (
	{ dir => 'sqitch-intro', format => 'sqitch', migrations => \&sqitch_migrations },
	{ dir => 'atlas-ariga', format => 'atlas', migrations => \&atlas_migrations });

for my $fixture (@fixtures)
{
	my $name = $fixture->{dir};
	(my $db = $name) =~ tr/-/_/;
	my $dir = "$tmp/$name";
	system('cp', '-R', "$srcdir/test/fixtures/real/$name", $dir) == 0
	  or die "could not copy $name";
	my @migrations = $fixture->{migrations}->($dir);
	my $order = join ',', map { $_->[0] } @migrations;

	my ($ok, $err) = psql_scripts(fresh_db("${db}_psql"), "$tmp/${db}_psql",
		map { $_->[1] } @migrations);
	ok($ok, "$name: psql applies the " . scalar(@migrations) . " scripts") or diag $err;
	my $expected = schema_of("${db}_psql");
	$fixture->{expected} = $expected;

	fresh_db("${db}_apply");
	my ($ret, $out, $stderr) =
	  $node->psql("${db}_apply", "SELECT count(*) FROM migrate.apply('$dir')");
	is($ret, 0, "$name: migrate.apply") or diag $stderr;
	like($stderr, qr/is in \Q$fixture->{format}\E format/, '... detects the format');
	is_deeply([ applied_of("${db}_apply", $dir) ], [ '0 not applied', $order ],
		'... every migration applied, in the tool\'s order');
	is(schema_of("${db}_apply"), $expected, '... the schema is the one psql made');

	fresh_db("${db}_run");
	($ret, $out, $stderr) = $node->psql("${db}_run",
		"CALL migrate.run('$dir', format => '$fixture->{format}')");
	is($ret, 0, "$name: migrate.run") or diag $stderr;
	is_deeply([ applied_of("${db}_run", $dir) ], [ '0 not applied', $order ],
		'... every migration applied, in the tool\'s order');
	is(schema_of("${db}_run"), $expected, '... the schema is the one psql made');

	if ($fixture->{format} eq 'sqitch')
	{
		my $verified = () = $stderr =~ /verifying migration/g;
		is($verified, scalar(@migrations), '... each change verified after its deploy');
	}
}

# The pg_migrate command sends each folder's files, subfolders included
# (Sqitch's plan and deploy/, revert/, verify/; Atlas's atlas.sum)
for my $fixture (@fixtures)
{
	(my $db = "cmd_$fixture->{dir}") =~ tr/-/_/;
	fresh_db($db);
	my ($rc, $out, $err) = pg_migrate($node, [ 'apply', "$tmp/$fixture->{dir}" ],
		PGUSER => undef, PGPASSWORD => undef, PGDATABASE => $db);
	is($rc, 0, "$fixture->{dir}: the pg_migrate command applies the folder it sends")
	  or diag $err;
	is(schema_of($db), $fixture->{expected}, '... to the schema psql made');
}

# Sqitch itself deploys the project; pg_migrate then adopts every change
# from its registry, runs nothing, and the schema is Sqitch's
SKIP:
{
	skip 'sqitch is not installed', 5
	  unless system('sqitch --version >/dev/null 2>&1') == 0;
	my $dir = "$tmp/sqitch-intro";
	$node->safe_psql('postgres', 'CREATE DATABASE sqitch_deployed');
	# installed first, as on a database that switches from Sqitch
	$node->safe_psql('sqitch_deployed', 'CREATE EXTENSION pg_migrate');
	# Sqitch's psql and DBD::Pg find the node by libpq's environment
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{SQITCH_FULLNAME} = 'Marge N. O\'Vera';
	local $ENV{SQITCH_EMAIL} = 'marge@example.com';
	local $ENV{SQITCH_USER_CONFIG} = "$tmp/sqitch-user.conf";
	local $ENV{SQITCH_SYSTEM_CONFIG} = "$tmp/sqitch-system.conf";
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(
		[ 'sqitch', '--chdir', $dir, 'deploy', '--verify', 'db:pg:sqitch_deployed' ],
		'>', \$out, '2>', \$err);
	ok($ok, 'sqitch deploys sqitch-intro') or diag "$out\n$err";
	my $sqitch_schema = schema_of('sqitch_deployed');
	my ($ret, $stdout, $stderr) = $node->psql('sqitch_deployed',
		"SELECT string_agg(action, ',') FROM migrate.apply('$dir')");
	is($ret, 0, 'migrate.apply on the database Sqitch deployed') or diag $stderr;
	like($stdout, qr/^(adopted,){12}adopted$/, '... adopts the 13 changes from the registry');
	unlike($stderr, qr/applying migration/, '... and runs none');
	is(schema_of('sqitch_deployed'), $sqitch_schema, '... the schema is still Sqitch\'s');
}

done_testing();
