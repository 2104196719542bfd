# Real migration folders, as public projects keep them (test/fixtures/real,
# each with a SOURCE.md naming the repository, commit, path and licence):
# each is applied by migrate.apply into one database and by migrate.run into
# another, and its up scripts are applied by psql, in the order and the way
# the project's own tool runs them, into a third. The three schemas must be
# identical, status must show every migration applied in that order, and
# where the folder has down scripts, rollback must undo the latest
# migrations back to the schema of the ones before.  The DDL log holds
# every DDL command of apply and run as in_migration, none out of band.
# After each apply, run and rollback, migrate.drift() finds nothing: the
# fingerprint taken after a migration is the schema it left.
#
# A folder that pg_migrate does not take as its tool does is marked TODO,
# saying why: remove the mark when pg_migrate follows the tool there.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use JSON::PP;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $srcdir = $ENV{TESTDIR} || '.';

my @fixtures = (
	{
		dir => 'drizzle-ai-chatbot',
		format => 'drizzle',
		# migrate.blame: the migrations whose statements concern each
		# object, read from the files (a column dropped since included)
		blame => {
			'public."Chat"' => '0000_keen_devos,0002_wandering_riptide,0003_cloudy_glorian,'
			  . '0007_flowery_ben_parker,0008_flat_forgotten_one',
			'"Chat".visibility' => '0003_cloudy_glorian',
			'public."Chat"."lastContext"' => '0007_flowery_ben_parker,0008_flat_forgotten_one',
		}
	},
	# 0130_abandoned_dagger.sql is not in the journal: drizzle-orm, and
	# pg_migrate since issue 8 (with a WARNING), leave it alone
	{ dir => 'drizzle-dokploy', format => 'drizzle' },
	{
		dir => 'dbmate-measure',
		format => 'dbmate',
		# what the project's init-postgres.sh does before dbmate runs: its
		# migrations name some tables without their schema
		setup => sub {
			my ($db) = @_;
			return "CREATE SCHEMA measure; "
			  . "ALTER DATABASE $db SET search_path TO measure, \"\$user\", public";
		},
		# named through that search_path too
		blame => {
			'measure.teams' => '20240830080707_create_teams_table,20260121151953_alter_teams_table,'
			  . '20260421120000_alter_teams_table,20260421120003_alter_teams_table,'
			  . '20260427120000_alter_teams_unique_autumn_customer_id,'
			  . '20260501120000_alter_teams_autumn_customer_id_to_uuid',
			'teams.autumn_customer_id' => '20260421120000_alter_teams_table,'
			  . '20260501120000_alter_teams_autumn_customer_id_to_uuid',
			'idx_teams_autumn_customer' => '20260421120000_alter_teams_table,'
			  . '20260427120000_alter_teams_unique_autumn_customer_id,'
			  . '20260501120000_alter_teams_autumn_customer_id_to_uuid',
		}
	},
	# down scripts of 0 bytes or of a comment only (issue 8 rule 1)
	{ dir => 'golang-migrate-openmeter', format => 'golang-migrate' },
	{
		dir => 'golang-migrate-tracetest',
		format => 'golang-migrate',
		# down scripts of comments only, files wrapped in BEGIN; ... COMMIT;
		# (issue 8 rules 1 and 2), and 36_migrate_users_to_opentelemetry.sql,
		# neither .up.sql nor .down.sql, which golang-migrate skips and
		# pg_migrate ignores with a warning
	},
	{
		dir => 'flyway-marquez',
		format => 'flyway',
		# V47__add_lineage_event_indexes.sql is a single CREATE INDEX
		# CONCURRENTLY, which Flyway runs outside a transaction, and run too
		# (issue 8 rule 5); apply, in one transaction, refuses it
		apply_refused => 'V47__add_lineage_event_indexes'
	});

my $node = start_node('real_folders');
my $tmp = PostgreSQL::Test::Utils::tempdir;

# --- what each tool runs, by its own rules -------------------------------

sub slurp
{
	my ($file) = @_;
	open my $fh, '<:raw', $file or die "could not read $file: $!";
	local $/;
	my $text = <$fh>;
	close $fh;
	return $text;
}

# Whether a script has anything but comments and blanks
sub has_statements
{
	my ($sql) = @_;
	$sql =~ s/--[^\n]*//g;
	$sql =~ s{/\*.*?\*/}{}gs;
	return $sql =~ /\S/;
}

sub files_of
{
	my ($dir, $re) = @_;
	opendir my $dh, $dir or die "could not open $dir: $!";
	my @files = grep { /$re/ && -f "$dir/$_" } readdir $dh;
	closedir $dh;
	return @files;
}

# Each tool's migrations in the order it runs them:
# [name as pg_migrate names it, up script text, down script text or undef]

# drizzle-orm: the journal's entries in order, each file split at its
# "--> statement-breakpoint" lines, the pieces sent one by one
sub drizzle_migrations
{
	my ($dir) = @_;
	my $journal = decode_json(slurp("$dir/meta/_journal.json"));
	return map {
		my $tag = $_->{tag};
		my @pieces = split /--> statement-breakpoint/, slurp("$dir/$tag.sql");
		[ $tag, join("\n;\n", @pieces), undef ]
	} @{ $journal->{entries} };
}

# dbmate: files "<digits>*.sql" by name; the up section runs, from the
# "-- migrate:up" line to the "-- migrate:down" line
sub dbmate_migrations
{
	my ($dir) = @_;
	return map {
		my $text = slurp("$dir/$_");
		my ($up, $down) = $text =~
		  /^--\s*migrate:up[^\n]*\n(.*?)(?:^--\s*migrate:down[^\n]*\n?(.*))?\z/ms
		  or die "$_ has no -- migrate:up";
		(my $name = $_) =~ s/\.sql$//;
		[ $name, $up, has_statements($down // '') ? $down : undef ]
	} sort(files_of($dir, qr/^\d+.*\.sql$/));
}

# golang-migrate: "<version>_<name>.up.sql" by version as a number; files
# of other names are ignored
sub golang_migrate_migrations
{
	my ($dir) = @_;
	my @ups = sort { ($a =~ /^(\d+)/)[0] <=> ($b =~ /^(\d+)/)[0] }
	  files_of($dir, qr/^\d+_.*\.up\.sql$/);
	return map {
		(my $name = $_) =~ s/\.up\.sql$//;
		my $down =
		  -f "$dir/$name.down.sql" ? slurp("$dir/$name.down.sql") : '';
		[ $name, slurp("$dir/$_"), has_statements($down) ? $down : undef ]
	} @ups;
}

# Flyway: "V<version>__<description>.sql" by version, compared part by part
# as numbers, then "R__<description>.sql" by description (Flyway's
# placeholders, "${...}", are in none of these files)
sub flyway_version_cmp
{
	my @a = split /[._]/, ($_[0] =~ /^V([\d._]+?)__/)[0];
	my @b = split /[._]/, ($_[1] =~ /^V([\d._]+?)__/)[0];
	while (@a || @b)
	{
		my $c = (shift(@a) // 0) <=> (shift(@b) // 0);
		return $c if $c;
	}
	return 0;
}

sub flyway_migrations
{
	my ($dir) = @_;
	my @versioned = sort { flyway_version_cmp($a, $b) }
	  files_of($dir, qr/^V[\d._]+__.+\.sql$/);
	my @repeatable = map { $_->[1] }
	  sort { $a->[0] cmp $b->[0] }
	  map { (my $d = $_) =~ s/^R__(.*)\.sql$/$1/; $d =~ tr/_/ /; [ $d, $_ ] }
	  files_of($dir, qr/^R__.+\.sql$/);
	return map {
		(my $name = $_) =~ s/\.sql$//;
		[ $name, slurp("$dir/$_"), undef ]
	} @versioned, @repeatable;
}

my %migrations_of = (
	'drizzle' => \&drizzle_migrations,
	'dbmate' => \&dbmate_migrations,
	'golang-migrate' => \&golang_migrate_migrations,
	'flyway' => \&flyway_migrations);

# --- databases and schemas -----------------------------------------------

# A database with the fixture's setup and pg_migrate, in one psql call:
# the setup first, as it is done before the tool runs, so that the schema
# pg_migrate starts from has it
sub fresh_db
{
	my ($db, $fixture) = @_;
	my $setup = $fixture->{setup} ? $fixture->{setup}->($db) : '';
	$node->safe_psql('postgres',
		"CREATE DATABASE $db;\n\\c $db\n$setup;\nCREATE EXTENSION pg_migrate;");
	# the DDL log from here on is the migrations'
	$node->safe_psql($db, 'DELETE FROM migrate.ddl_log');
	return $db;
}

# "N in_migration, M out_of_band" of the DDL log
sub ddl_origins
{
	my ($db) = @_;
	return $node->safe_psql($db,
		"SELECT (count(*) FILTER (WHERE origin = 'in_migration' AND migration IS NOT NULL) > 0) "
		  . "|| ' in_migration, ' || count(*) FILTER (WHERE origin = 'out_of_band') || ' out_of_band' "
		  . 'FROM migrate.ddl_log');
}

# What migrate.drift() finds, one line per object: nothing after a migration
sub drift_of
{
	my ($db) = @_;
	return $node->safe_psql($db,
		    "SELECT string_agg(format('%s %s %s: %s', object_type, "
		  . "object_identity, change, description), E'\\n' "
		  . "ORDER BY object_type, object_identity) FROM migrate.drift()");
}

# The migrations migrate.blame() names for an object, in the order they
# first touched it, all of them in_migration
sub blame_of
{
	my ($db, $object) = @_;
	return $node->safe_psql($db,
		    'SELECT string_agg(migration, \',\' ORDER BY first) '
		  . "|| CASE WHEN bool_and(ours) THEN '' ELSE ' (and rows not in_migration)' END "
		  . 'FROM (SELECT migration, min(logged_at) AS first, '
		  . "bool_and(origin = 'in_migration') AS ours "
		  . "FROM migrate.blame(\$o\$$object\$o\$) GROUP BY migration) b");
}

# psql -f of each script, in order, stopping at the first error
sub psql_scripts
{
	my ($db, $dir, @scripts) = @_;
	mkdir $dir or die "could not create $dir: $!";
	my @files;
	for my $i (0 .. $#scripts)
	{
		my $file = sprintf('%s/%04d.sql', $dir, $i);
		open my $fh, '>:raw', $file or die "could not write $file: $!";
		print $fh $scripts[$i];
		close $fh;
		push @files, '-f', $file;
	}
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(
		[
			'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
			'-d', $node->connstr($db), @files
		],
		'>', \$out, '2>', \$err);
	return ($ok, $err);
}

# The schema as pg_dump shows it, without the tracking tables of pg_migrate,
# drizzle-orm, dbmate and golang-migrate (pg_migrate creates the tools'
# tables as they do), and without the random key of \restrict lines
sub schema_of
{
	my ($db) = @_;
	my ($dump, $err) = ('', '');
	IPC::Run::run(
		[
			'pg_dump', '--schema-only', '-N', 'migrate', '-N', 'drizzle',
			'-T', '*.schema_migrations', '-d', $node->connstr($db)
		],
		'>', \$dump, '2>', \$err)
	  or die "pg_dump of $db failed: $err";
	$dump =~ s/^\\(?:un)?restrict .*\n//mg;
	return $dump;
}

# Two schemas are identical, or the start of their difference
sub same_schema
{
	my ($got, $expected, $what) = @_;
	return pass($what) if $got eq $expected;
	my @g = split /\n/, $got;
	my @e = split /\n/, $expected;
	my $i = 0;
	$i++ while $i < @g && $i < @e && $g[$i] eq $e[$i];
	fail($what);
	my $indent = "\n            ";
	diag("first difference at line "
		  . ($i + 1) . "\n"
		  . "  got:      "
		  . join($indent, grep { defined } @g[ $i .. $i + 5 ]) . "\n"
		  . "  expected: "
		  . join($indent, grep { defined } @e[ $i .. $i + 5 ]));
	return 0;
}

# How many migrations of the folder status does not show applied (or its
# error), and the names migrate.migrations holds, in the order applied
sub applied_of
{
	my ($db, $dir) = @_;
	my ($ret, $out, $err) = $node->psql($db,
		"SELECT count(*) FILTER (WHERE state <> 'applied') || ' not applied' "
		  . "FROM migrate.status('$dir')");
	return (
		$ret == 0 ? $out : $err,
		$node->safe_psql(
			$db,
			"SELECT string_agg(name, ',' ORDER BY id) FROM migrate.migrations"));
}

# --- each folder ---------------------------------------------------------

for my $fixture (@fixtures)
{
	my $name = $fixture->{dir};
	(my $db = $name) =~ tr/-/_/;
	my $dir = "$tmp/$name";
	system('cp', '-R', "$srcdir/test/fixtures/real/$name", $dir) == 0
	  or die "could not copy $name";

	my @migrations = $migrations_of{ $fixture->{format} }->($dir);
	my $order = join ',', map { $_->[0] } @migrations;

	# what the tool runs, by psql
	my ($ok, $err) = psql_scripts(fresh_db("${db}_psql", $fixture),
		"$tmp/${db}_psql", map { $_->[1] } @migrations);
	ok($ok, "$name: psql applies the " . scalar(@migrations) . " up scripts")
	  or diag $err;
	my $expected = schema_of("${db}_psql");

	# migrate.apply, as a new user calls it: the format detected
	fresh_db("${db}_apply", $fixture);
	my ($ret, $stdout, $stderr) =
	  $node->psql("${db}_apply", "SELECT count(*) FROM migrate.apply('$dir')");
	{
		local $TODO = $fixture->{todo};
		like(
			$stderr,
			qr/is in \Q$fixture->{format}\E format/,
			"$name: migrate.apply detects the $fixture->{format} format");
	}
	if ($fixture->{apply_refused})
	{
		isnt($ret, 0, "$name: migrate.apply refuses the folder");
		like($stderr, qr/\Q$fixture->{apply_refused}\E/,
			'... naming the migration');
		like($stderr, qr/HINT:.*CALL migrate\.run/s,
			'... with the hint to use migrate.run');
	}
	else
	{
		local $TODO = $fixture->{todo};
		is($ret, 0, "$name: migrate.apply") or diag $stderr;
		is_deeply(
			[ applied_of("${db}_apply", $dir) ],
			[ '0 not applied', $order ],
			'... status shows every migration applied, in the tool\'s order');
		same_schema(schema_of("${db}_apply"), $expected,
			'... the schema is the one psql made');
		is(ddl_origins("${db}_apply"), 'true in_migration, 0 out_of_band',
			'... the DDL log has its DDL as in_migration, none out of band');
		is(drift_of("${db}_apply"), '', '... and drift() finds nothing');
		for my $object (sort keys %{ $fixture->{blame} // {} })
		{
			is(blame_of("${db}_apply", $object), $fixture->{blame}{$object},
				"... blame('$object') names the migrations that made and changed it");
		}
	}

	# migrate.run, with the format named
	fresh_db("${db}_run", $fixture);
	# with the folders' own down scripts only: the rollback below checks
	# that a migration without one is refused
	($ret, $stdout, $stderr) = $node->psql("${db}_run",
		"SET migrate.generate_down = off; "
		  . "CALL migrate.run('$dir', format => '$fixture->{format}')");
	{
		local $TODO = $fixture->{todo};
		is($ret, 0, "$name: migrate.run") or diag $stderr;
		is_deeply(
			[ applied_of("${db}_run", $dir) ],
			[ '0 not applied', $order ],
			'... status shows every migration applied, in the tool\'s order');
		same_schema(schema_of("${db}_run"), $expected,
			'... the schema is the one psql made');
		is(ddl_origins("${db}_run"), 'true in_migration, 0 out_of_band',
			'... the DDL log has its DDL as in_migration, none out of band');
		is(drift_of("${db}_run"), '', '... and drift() finds nothing');
	}

	# rollback, in the database migrate.run made: the latest migrations
	# (at most five) go back to the schema of the ones before them, when
	# they have down scripts; a migration without one is refused
	my $with_down = 0;
	$with_down++
	  while $with_down < @migrations
	  && defined $migrations[ -1 - $with_down ][2];
	next unless $with_down;
	my $undo = $with_down < 5 ? $with_down : 5;
	my $keep = @migrations - $undo;
	my $first = $migrations[$keep][0];
	($ok, $err) = psql_scripts(fresh_db("${db}_before", $fixture),
		"$tmp/${db}_before", map { $_->[1] } @migrations[ 0 .. $keep - 1 ]);
	ok($ok, "$name: psql applies the first $keep up scripts") or diag $err;
	{
		local $TODO = $fixture->{todo};
		if ($with_down < @migrations)
		{
			my $none = $migrations[ -1 - $with_down ][0];
			($ret, $stdout, $stderr) = $node->psql("${db}_run",
				"SELECT count(*) FROM migrate.rollback('$none')");
			like($stderr, qr/migration "\Q$none\E" has no down script/,
				"... rollback refuses to undo $none, which has no down script");
		}
		($ret, $stdout, $stderr) = $node->psql("${db}_run",
			"SELECT string_agg(name, ',' ORDER BY name) "
			  . "FROM migrate.rollback('$first') WHERE action = 'rolled back'");
		is( $stdout,
			join(',', sort map { $_->[0] } @migrations[ $keep .. $#migrations ]),
			"... rollback('$first') undoes the latest $undo migrations")
		  or diag $stderr;
		same_schema(schema_of("${db}_run"), schema_of("${db}_before"),
			'... back to the schema psql made with the ones before');
		is(drift_of("${db}_run"), '', '... and drift() finds nothing');
		($ret, $stdout, $stderr) = $node->psql("${db}_run",
			"SELECT count(*) FILTER (WHERE state = 'pending') "
			  . "FROM migrate.status('$dir')");
		is($stdout, $undo, '... and status shows them pending') or diag $stderr;
	}
}

$node->stop;
done_testing();
