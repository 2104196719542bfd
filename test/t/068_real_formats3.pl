# Real folders of the formats issue 16 added, as 060 and 065 do for the
# others (test/fixtures/real, each with a SOURCE.md naming the repository,
# commit and licence): a Liquibase formatted SQL project's changelogs,
# applied by migrate.apply into one database and by migrate.run into
# another, and each changeset's SQL by psql, in the order Liquibase runs
# them, into a third; the three schemas must be identical, and status must
# show every changeset applied in Liquibase's order.  Liquibase is not in
# Debian: its DATABASECHANGELOG (and lock table) is written into the psql
# database as Liquibase 4 creates and fills them on PostgreSQL, and
# pg_migrate must adopt every changeset from it, run none, write nothing
# to it, and run a changeset added afterwards.  The latest changesets'
# "--rollback" lines must take the schema back to the one of the
# changesets before.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Digest::MD5 qw(md5_hex);
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PgMigrateCommand;

my $srcdir = $ENV{TESTDIR} || '.';
my $node = start_node('real_formats3');
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

# Liquibase formatted SQL: the folder's changelogs (first non-blank line
# "--liquibase formatted sql") in name order, as includeAll reads them, and
# in each its changesets in order: "--changeset author:id" up to the next;
# the "--rollback" lines are the changeset's rollback.  Each is
# [ "<file>::<id>::<author>", sql, rollback or undef ].
sub liquibase_changesets
{
	my ($dir) = @_;
	opendir my $dh, $dir or die "could not open $dir: $!";
	my @files = sort grep { /\.sql$/ } readdir $dh;
	closedir $dh;
	my @out;
	for my $file (@files)
	{
		my $text = slurp("$dir/$file");
		next unless $text =~ /\A\s*--\s*liquibase\s+formatted\s+sql/i;
		my $cur;
		for my $line (split /^/m, $text)
		{
			if ($line =~ /^--\s*changeset\s+([^:\s]+):(\S+)/i)
			{
				push @out, $cur = [ "${file}::$2::$1", '', undef ];
				next;
			}
			next unless $cur;
			if ($line =~ /^--\s*rollback\s*(.*)$/i)
			{
				$cur->[2] .= "$1\n";
				next;
			}
			$cur->[1] .= $line;
		}
	}
	return @out;
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

# The schema without pg_migrate's and Liquibase's own tables
sub schema_of
{
	my ($db) = @_;
	my ($dump, $err) = ('', '');
	IPC::Run::run(
		[
			'pg_dump', '--schema-only', '-N', 'migrate',
			'-T', 'databasechangelog', '-T', 'databasechangeloglock',
			'-d', $node->connstr($db)
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

# DATABASECHANGELOG and its lock table as Liquibase 4 creates them on
# PostgreSQL (unquoted, so lowercase), and its rows as "liquibase update"
# writes them for the changesets, given the master changelog that
# includes the files as <path>/<file>.  MD5SUM is Liquibase's checksum of
# the changeset as it normalizes it, which pg_migrate neither reads nor
# computes: any value of its form does here.
sub liquibase_table
{
	my ($path, @changesets) = @_;
	my $sql =
	    "CREATE TABLE public.databasechangeloglock (ID INTEGER NOT NULL, LOCKED BOOLEAN NOT NULL, LOCKGRANTED TIMESTAMP WITHOUT TIME ZONE, LOCKEDBY VARCHAR(255), CONSTRAINT databasechangeloglock_pkey PRIMARY KEY (ID));\n"
	  . "INSERT INTO public.databasechangeloglock (ID, LOCKED) VALUES (1, FALSE);\n"
	  . "CREATE TABLE public.databasechangelog (ID VARCHAR(255) NOT NULL, AUTHOR VARCHAR(255) NOT NULL, FILENAME VARCHAR(255) NOT NULL, DATEEXECUTED TIMESTAMP WITHOUT TIME ZONE NOT NULL, ORDEREXECUTED INTEGER NOT NULL, EXECTYPE VARCHAR(10) NOT NULL, MD5SUM VARCHAR(35), DESCRIPTION VARCHAR(255), COMMENTS VARCHAR(255), TAG VARCHAR(255), LIQUIBASE VARCHAR(20), CONTEXTS VARCHAR(255), LABELS VARCHAR(255), DEPLOYMENT_ID VARCHAR(10));\n";
	my $order = 0;
	for my $c (@changesets)
	{
		my ($file, $id, $author) = split /::/, $c->[0];
		$order++;
		$sql .=
		    "INSERT INTO public.databasechangelog (ID, AUTHOR, FILENAME, DATEEXECUTED, ORDEREXECUTED, MD5SUM, DESCRIPTION, COMMENTS, EXECTYPE, CONTEXTS, LABELS, LIQUIBASE, DEPLOYMENT_ID) "
		  . "VALUES ('$id', '$author', '$path/$file', NOW(), $order, '9:"
		  . md5_hex($c->[1])
		  . "', 'sql', '', 'EXECUTED', NULL, NULL, '4.29.2', '3314567890');\n";
	}
	return $sql;
}

my @fixtures = (
	# AB2D's first two changelogs, which its YAML master includes first
	{ dir => 'liquibase-ab2d', format => 'liquibase', path => 'db/changelog/v001' });

for my $fixture (@fixtures)
{
	my $name = $fixture->{dir};
	(my $db = $name) =~ tr/-/_/;
	my $dir = "$tmp/$name";
	system('cp', '-R', "$srcdir/test/fixtures/real/$name", $dir) == 0
	  or die "could not copy $name";
	my @changesets = liquibase_changesets($dir);
	my $order = join ',', map { $_->[0] } @changesets;

	# what Liquibase runs, by psql
	my ($ok, $err) = psql_scripts(fresh_db("${db}_psql"), "$tmp/${db}_psql",
		map { $_->[1] } @changesets);
	ok($ok, "$name: psql runs the " . scalar(@changesets) . " changesets") or diag $err;
	my $expected = schema_of("${db}_psql");

	fresh_db("${db}_apply");
	my ($ret, $out, $stderr) =
	  $node->psql("${db}_apply", "SELECT count(*) FROM migrate.apply('$dir')");
	is($ret, 0, "$name: migrate.apply") or diag $stderr;
	like($stderr, qr/is in \Q$fixture->{format}\E format/, '... detects the format');
	is_deeply([ applied_of("${db}_apply", $dir) ], [ '0 not applied', $order ],
		'... every changeset applied, in Liquibase\'s order');
	is(schema_of("${db}_apply"), $expected, '... the schema is the one psql made');

	fresh_db("${db}_run");
	($ret, $out, $stderr) = $node->psql("${db}_run",
		"SET migrate.generate_down = off; CALL migrate.run('$dir', format => '$fixture->{format}')");
	is($ret, 0, "$name: migrate.run") or diag $stderr;
	is_deeply([ applied_of("${db}_run", $dir) ], [ '0 not applied', $order ],
		'... every changeset applied, in Liquibase\'s order');
	is(schema_of("${db}_run"), $expected, '... the schema is the one psql made');

	# the pg_migrate command sends the folder's files
	fresh_db("${db}_cmd");
	my ($rc, $cout, $cerr) = pg_migrate($node, [ 'apply', $dir ],
		PGUSER => undef, PGPASSWORD => undef, PGDATABASE => "${db}_cmd");
	is($rc, 0, "$name: the pg_migrate command applies the folder it sends")
	  or diag $cerr;
	is(schema_of("${db}_cmd"), $expected, '... to the schema psql made');

	# DATABASECHANGELOG as Liquibase leaves it: everything adopted, nothing
	# run, nothing written to it
	$node->safe_psql("${db}_psql", liquibase_table($fixture->{path}, @changesets));
	($ret, $out, $stderr) = $node->psql("${db}_psql",
		"SELECT count(*) FILTER (WHERE state = 'applied') FROM migrate.status('$dir')");
	is($out, scalar(@changesets), "$name: status adopts every changeset from DATABASECHANGELOG")
	  or diag $stderr;
	($ret, $out, $stderr) = $node->psql("${db}_psql",
		"SELECT string_agg(DISTINCT action, ',') FROM migrate.apply('$dir')");
	is($out, 'adopted', '... and apply records them all as adopted, running none')
	  or diag $stderr;
	is(schema_of("${db}_psql"), $expected, '... the schema unchanged');
	my $rows = $node->safe_psql("${db}_psql",
		'SELECT count(*) FROM public.databasechangelog');

	# a changeset added afterwards runs, and Liquibase's table is left alone
	open my $fh, '>', "$dir/zz_after.sql" or die;
	print $fh "--liquibase formatted sql\n\n--changeset pg_migrate:after-adoption\n"
	  . "CREATE TABLE after_adoption (id bigint PRIMARY KEY);\n"
	  . "--rollback DROP TABLE after_adoption;\n";
	close $fh;
	is( $node->safe_psql("${db}_psql",
			"SELECT string_agg(name || ':' || action, ',') FROM migrate.apply('$dir') WHERE action <> 'skipped'"),
		'zz_after.sql::after-adoption::pg_migrate:applied',
		'... a changeset added afterwards is applied');
	is($node->safe_psql("${db}_psql", 'SELECT count(*) FROM public.databasechangelog'),
		$rows, '... and DATABASECHANGELOG is left as Liquibase wrote it');
	unlink "$dir/zz_after.sql";

	# rollback of the latest changesets that have "--rollback" lines
	my $last = $#changesets;
	$last-- while $last >= 0 && !defined $changesets[$last][2];
	my $undo = 0;
	$undo++ while $undo < 3 && $last - $undo >= 0 && defined $changesets[ $last - $undo ][2];
	next unless $undo;
	my $keep = $last + 1 - $undo;
	my $first = $changesets[$keep][0];
	fresh_db("${db}_rollback");
	($ret, $out, $stderr) = $node->psql("${db}_rollback",
		"SELECT count(*) FROM migrate.apply('$dir', target => '$changesets[$last][0]')");
	is($ret, 0, "$name: migrate.apply up to $changesets[$last][0]") or diag $stderr;
	($ok, $err) = psql_scripts(fresh_db("${db}_before"), "$tmp/${db}_before",
		map { $_->[1] } @changesets[ 0 .. $keep - 1 ]);
	ok($ok, "$name: psql runs the first $keep changesets") or diag $err;
	($ret, $out, $stderr) = $node->psql("${db}_rollback",
		"SELECT string_agg(name, ',' ORDER BY name) FROM migrate.rollback('$first') "
		  . "WHERE action = 'rolled back'");
	is($out, join(',', sort map { $_->[0] } @changesets[ $keep .. $last ]),
		"... rollback('$first') undoes the latest $undo changesets by their --rollback lines")
	  or diag $stderr;
	is(schema_of("${db}_rollback"), schema_of("${db}_before"),
		'... back to the schema psql made with the ones before');
}

$node->stop;
done_testing();
