# Real migration folders of Prisma Migrate, goose, sqlx and Diesel projects
# (test/fixtures/real, each with a SOURCE.md naming the repository, commit,
# path and licence), as test/t/020_real_folders.pl does for the first five
# formats: each is applied by migrate.apply (the format detected, or named
# for sqlx, whose files are named as plain's) into one database and by
# migrate.run into another, and its up scripts by psql, in the order and
# the way the tool runs them, into a third; the three schemas must be
# identical, and status must show every migration applied in the tool's
# order.  Then the tool's own table is written into the psql database
# exactly as the tool writes it after running the folder, and pg_migrate
# must adopt every migration from it, running none, and write nothing back.
# Where the latest migrations have down scripts, rollback must take the
# schema back to the one of the migrations before.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Digest::SHA qw(sha256_hex sha384_hex);
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $srcdir = $ENV{TESTDIR} || '.';

my @fixtures = (
	# 19 folders "01_init" ... "19_add_session_replay": numbered, not
	# timestamped, so Prisma's order by name is the numbers'
	{ dir => 'prisma-umami', format => 'prisma' },
	# enums, a pg_trgm extension and GIN indexes, a custom migration
	{ dir => 'prisma-hoppscotch', format => 'prisma' },
	# StatementBegin/End around functions; "-- +goose NO TRANSACTION"
	# files of CREATE INDEX CONCURRENTLY, which apply refuses
	{
		dir => 'goose-hatchet',
		format => 'goose',
		apply_refused => '20240703194656_v0_35_1'
	},
	# simple migrations, never detected: named
	{ dir => 'sqlx-atuin', format => 'sqlx', named => 1 },
	# the whole folder: dumped migrations of 2014, one line each,
	# metadata.toml's run_in_transaction = false, versions of 14 and 18
	# digits; its latest down.sql is a DROP INDEX CONCURRENTLY, which a
	# rollback in one transaction refuses
	{
		dir => 'diesel-cratesio',
		format => 'diesel',
		apply_refused => '2024-02-12-120203_remove_unused_index',
		no_rollback => 1
	});

my $node = start_node('real_formats1');
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

sub has_statements
{
	my ($sql) = @_;
	$sql =~ s/--[^\n]*//g;
	$sql =~ s{/\*.*?\*/}{}gs;
	$sql =~ s/;//g;
	return $sql =~ /\S/;
}

sub entries_of
{
	my ($dir, $re, $want_dir) = @_;
	opendir my $dh, $dir or die "could not open $dir: $!";
	my @names = grep {
		/$re/ && !/^\./ && ($want_dir ? -d "$dir/$_" : -f "$dir/$_")
	} readdir $dh;
	closedir $dh;
	return @names;
}

# Each tool's migrations in the order it runs them: [name as pg_migrate
# names it, up script, down script or undef, what the tool's table row
# holds (see tool_rows)]

# Prisma: every subfolder, by name; its migration.sql is the script
sub prisma_migrations
{
	my ($dir) = @_;
	return map {
		my $up = slurp("$dir/$_/migration.sql");
		[ $_, $up, undef, sha256_hex($up) ]
	} sort(entries_of($dir, qr/./, 1));
}

# goose: "<version>_*.sql" by version as a number; the up section runs
# from "-- +goose Up" to "-- +goose Down"
sub goose_migrations
{
	my ($dir) = @_;
	return map {
		my $text = slurp("$dir/$_");
		my ($up, $down) =
		  $text =~ /^--\s*\+goose\s+up[ \t]*\n(.*?)(?:^--\s*\+goose\s+down[ \t]*\n(.*))?\z/msi
		  or die "$_ has no -- +goose Up";
		(my $name = $_) =~ s/\.sql$//;
		[ $name, $up, has_statements($down // '') ? $down : undef, ($name =~ /^(\d+)/)[0] + 0 ]
	  } sort { ($a =~ /^(\d+)/)[0] <=> ($b =~ /^(\d+)/)[0] }
	  entries_of($dir, qr/^\d+_.*\.sql$/);
}

# sqlx: "<version>_*.sql" (not .down.sql) by version as a number
sub sqlx_migrations
{
	my ($dir) = @_;
	return map {
		my $up = slurp("$dir/$_");
		(my $name = $_) =~ s/(?:\.up)?\.sql$//;
		my $down = -f "$dir/$name.down.sql" ? slurp("$dir/$name.down.sql") : '';
		my ($version, $description) = $name =~ /^(\d+)_(.*)$/;
		$description =~ tr/_/ /;
		[
			$name, $up, has_statements($down) ? $down : undef,
			[ $version + 0, $description, sha384_hex($up) ]
		]
	  } sort { ($a =~ /^(\d+)/)[0] <=> ($b =~ /^(\d+)/)[0] }
	  entries_of($dir, qr/^\d+_.*(?<!\.down)\.sql$/);
}

# Diesel: every subfolder, by version (the name up to "_", without "-")
# compared as strings; up.sql, and down.sql
sub diesel_version
{
	my ($name) = @_;
	(my $v = (split /_/, $name)[0]) =~ s/-//g;
	return $v;
}

sub diesel_migrations
{
	my ($dir) = @_;
	return map {
		my $down = -f "$dir/$_/down.sql" ? slurp("$dir/$_/down.sql") : '';
		[
			$_, slurp("$dir/$_/up.sql"),
			has_statements($down) ? $down : undef,
			diesel_version($_)
		]
	  } sort { diesel_version($a) cmp diesel_version($b) }
	  entries_of($dir, qr/./, 1);
}

my %migrations_of = (
	'prisma' => \&prisma_migrations,
	'goose' => \&goose_migrations,
	'sqlx' => \&sqlx_migrations,
	'diesel' => \&diesel_migrations);

# The tool's table, created and filled as the tool leaves it after running
# every migration, in SQL
sub q_lit { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }

my %tool_table = (
	'prisma' => sub {
		my $i = 0;
		return "CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY NOT NULL, "
		  . "checksum VARCHAR(64) NOT NULL, finished_at TIMESTAMPTZ, "
		  . "migration_name VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at TIMESTAMPTZ, "
		  . "started_at TIMESTAMPTZ NOT NULL DEFAULT now(), "
		  . "applied_steps_count INTEGER NOT NULL DEFAULT 0);\n"
		  . join('',
			map {
				$i++;
				"INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, applied_steps_count) "
				  . "VALUES (gen_random_uuid()::text, '$_->[3]', now(), "
				  . q_lit($_->[0]) . ", 1);\n"
			} @_);
	},
	'goose' => sub {
		return "CREATE TABLE goose_db_version (id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, "
		  . "version_id bigint NOT NULL, is_applied boolean NOT NULL, "
		  . "tstamp timestamp NOT NULL DEFAULT now());\n"
		  . "INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true);\n"
		  . join('',
			map { "INSERT INTO goose_db_version (version_id, is_applied) VALUES ($_->[3], true);\n" }
			  @_);
	},
	'sqlx' => sub {
		return "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, "
		  . "installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, "
		  . "checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL);\n"
		  . join('',
			map {
				my ($v, $d, $sum) = @{ $_->[3] };
				"INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) "
				  . "VALUES ($v, " . q_lit($d) . ", TRUE, '\\x$sum', 1000);\n"
			} @_);
	},
	'diesel' => sub {
		return "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, "
		  . "run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);\n"
		  . join('',
			map { "INSERT INTO __diesel_schema_migrations (version) VALUES ('$_->[3]');\n" } @_);
	});

# the tools' tables, left out of the schemas compared
my @tool_tables = qw(_prisma_migrations goose_db_version _sqlx_migrations
  __diesel_schema_migrations);

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

sub schema_of
{
	my ($db) = @_;
	my ($dump, $err) = ('', '');
	IPC::Run::run(
		[
			'pg_dump', '--schema-only', '-N', 'migrate',
			(map { ('-T', "*.$_") } @tool_tables),
			'-d', $node->connstr($db)
		],
		'>', \$dump, '2>', \$err)
	  or die "pg_dump of $db failed: $err";
	$dump =~ s/^\\(?:un)?restrict .*\n//mg;
	return $dump;
}

sub same_schema
{
	my ($got, $expected, $what) = @_;
	return pass($what) if $got eq $expected;
	my @g = split /\n/, $got;
	my @e = split /\n/, $expected;
	my $i = 0;
	$i++ while $i < @g && $i < @e && $g[$i] eq $e[$i];
	fail($what);
	diag("first difference at line "
		  . ($i + 1)
		  . "\n  got:      "
		  . join("\n            ", grep { defined } @g[ $i .. $i + 5 ])
		  . "\n  expected: "
		  . join("\n            ", grep { defined } @e[ $i .. $i + 5 ]));
	return 0;
}

sub applied_of
{
	my ($db, $dir, $format) = @_;
	my ($ret, $out, $err) = $node->psql($db,
		"SELECT count(*) FILTER (WHERE state <> 'applied') || ' not applied' "
		  . "FROM migrate.status('$dir', format => '$format')");
	return (
		$ret == 0 ? $out : $err,
		$node->safe_psql(
			$db,
			"SELECT string_agg(name, ',' ORDER BY id) FROM migrate.migrations"));
}

for my $fixture (@fixtures)
{
	my $name = $fixture->{dir};
	my $format = $fixture->{format};
	(my $db = $name) =~ tr/-/_/;
	my $dir = "$tmp/$name";
	system('cp', '-R', "$srcdir/test/fixtures/real/$name", $dir) == 0
	  or die "could not copy $name";
	my $fmt_arg = $fixture->{named} ? ", format => '$format'" : '';

	my @migrations = $migrations_of{$format}->($dir);
	my $order = join ',', map { $_->[0] } @migrations;

	# what the tool runs, by psql
	my ($ok, $err) = psql_scripts(fresh_db("${db}_psql"), "$tmp/${db}_psql",
		map { $_->[1] } @migrations);
	ok($ok, "$name: psql applies the " . scalar(@migrations) . " up scripts")
	  or diag $err;
	my $expected = schema_of("${db}_psql");

	# migrate.apply, as a new user calls it
	fresh_db("${db}_apply");
	my ($ret, $stdout, $stderr) =
	  $node->psql("${db}_apply", "SELECT count(*) FROM migrate.apply('$dir'$fmt_arg)");
	like($stderr, qr/is in \Q$format\E format/,
		"$name: migrate.apply detects the $format format")
	  unless $fixture->{named};
	if ($fixture->{apply_refused})
	{
		isnt($ret, 0, "$name: migrate.apply refuses the folder");
		like($stderr, qr/\Q$fixture->{apply_refused}\E/, '... naming the migration');
		like($stderr, qr/HINT:.*CALL migrate\.run|cannot run inside a transaction block/s,
			'... as it cannot run in one transaction');
	}
	else
	{
		is($ret, 0, "$name: migrate.apply") or diag $stderr;
		is_deeply(
			[ applied_of("${db}_apply", $dir, $format) ],
			[ '0 not applied', $order ],
			'... status shows every migration applied, in the tool\'s order');
		same_schema(schema_of("${db}_apply"), $expected,
			'... the schema is the one psql made');
	}

	# migrate.run, with the format named
	fresh_db("${db}_run");
	($ret, $stdout, $stderr) = $node->psql("${db}_run",
		"SET migrate.generate_down = off; "
		  . "CALL migrate.run('$dir', format => '$format')");
	is($ret, 0, "$name: migrate.run") or diag $stderr;
	is_deeply(
		[ applied_of("${db}_run", $dir, $format) ],
		[ '0 not applied', $order ],
		'... status shows every migration applied, in the tool\'s order');
	same_schema(schema_of("${db}_run"), $expected,
		'... the schema is the one psql made');
	is( $node->safe_psql("${db}_run", "SELECT string_agg(version::text, ',' ORDER BY version::text COLLATE \"C\") FROM (SELECT "
			  . { prisma => 'migration_name', goose => 'version_id', sqlx => 'version',
				diesel => 'version' }->{$format}
			  . ' AS version FROM '
			  . { prisma => '_prisma_migrations', goose => 'goose_db_version WHERE version_id > 0',
				sqlx => '_sqlx_migrations', diesel => '__diesel_schema_migrations' }->{$format}
			  . ') t'),
		join(',', sort map { ref $_->[3] ? $_->[3][0] : $format eq 'prisma' ? $_->[0] : $_->[3] } @migrations),
		"... and the tool's table records each of them as the tool would");

	# the tool's table, as the tool leaves it in the database it migrated:
	# everything adopted, nothing run
	$node->safe_psql("${db}_psql", $tool_table{$format}->(@migrations));
	($ret, $stdout, $stderr) = $node->psql("${db}_psql",
		"SELECT count(*) FILTER (WHERE state = 'applied') FROM migrate.status('$dir', format => '$format')");
	is($stdout, scalar(@migrations), "$name: status adopts every migration from the tool's table")
	  or diag $stderr;
	($ret, $stdout, $stderr) = $node->psql("${db}_psql",
		"SELECT string_agg(DISTINCT action, ',') FROM migrate.apply('$dir', format => '$format')");
	is($stdout, 'adopted', '... and apply records them all as adopted, running none')
	  or diag $stderr;
	same_schema(schema_of("${db}_psql"), $expected, '... the schema unchanged');

	# rollback of the latest migrations, when they have down scripts
	next if $fixture->{no_rollback};
	my $with_down = 0;
	$with_down++
	  while $with_down < @migrations && defined $migrations[ -1 - $with_down ][2];
	next unless $with_down;
	my $undo = $with_down < 5 ? $with_down : 5;
	my $keep = @migrations - $undo;
	my $first = $migrations[$keep][0];
	($ok, $err) = psql_scripts(fresh_db("${db}_before"), "$tmp/${db}_before",
		map { $_->[1] } @migrations[ 0 .. $keep - 1 ]);
	ok($ok, "$name: psql applies the first $keep up scripts") or diag $err;
	($ret, $stdout, $stderr) = $node->psql("${db}_run",
		"SELECT string_agg(name, ',' ORDER BY name) FROM migrate.rollback('$first') "
		  . "WHERE action = 'rolled back'");
	is($stdout, join(',', sort map { $_->[0] } @migrations[ $keep .. $#migrations ]),
		"... rollback('$first') undoes the latest $undo migrations")
	  or diag $stderr;
	same_schema(schema_of("${db}_run"), schema_of("${db}_before"),
		'... back to the schema psql made with the ones before');
}

$node->stop;
done_testing();
