# Helpers shared by pg_migrate's TAP tests: a started cluster with the
# extension, migration files written into a folder, and status as a string.
package PgMigrateTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(start_node write_migration status_of);

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

1;
