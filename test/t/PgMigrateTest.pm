# Helpers shared by pg_migrate's TAP tests: a started cluster with the
# extension, migration files written into a folder, and status as a string.
package PgMigrateTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

our @EXPORT = qw(start_node write_migration status_of drizzle_fixtures);

# A new cluster, started, with pg_migrate created in database postgres
sub start_node
{
	my ($name, %init) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%init);
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_migrate');
	return $node;
}

sub write_migration
{
	my ($dir, $file, $sql) = @_;
	open my $fh, '>', "$dir/$file" or die "could not write $dir/$file: $!";
	print $fh $sql;
	close $fh;
	return;
}

# "name=state,..." for every migration of the folder, by name
sub status_of
{
	my ($node, $dir, $db) = @_;
	return $node->safe_psql($db // 'postgres',
		"SELECT string_agg(name || '=' || state, ',' ORDER BY name) FROM migrate.status('$dir')");
}

# Two copies of test/fixtures/drizzle in a temporary folder: the whole
# fixture, and the folder as an older deploy saw it (without its last
# migration, in the files and in the journal)
sub drizzle_fixtures
{
	my ($srcdir) = @_;
	my $tmp = PostgreSQL::Test::Utils::tempdir;
	my $full = "$tmp/full";
	my $older = "$tmp/older";
	system('cp', '-R', "$srcdir/test/fixtures/drizzle", $full) == 0 or die;
	system('cp', '-R', "$srcdir/test/fixtures/drizzle", $older) == 0 or die;
	unlink "$older/0002_lesson_position.sql", "$older/0002_lesson_position.down.sql";
	open my $fh, '<', "$full/meta/_journal.json" or die;
	my $journal = do { local $/; <$fh> };
	close $fh;
	$journal =~ s/,\s*\{[^{}]*"0002_lesson_position"[^{}]*\}//s or die 'journal edit failed';
	open $fh, '>', "$older/meta/_journal.json" or die;
	print $fh $journal;
	close $fh;
	return ($full, $older);
}

1;
