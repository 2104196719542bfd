# Helpers shared by pg_migrate's TAP tests: a started cluster with the
# extension, migration files written into a folder, and status as a string.
package PgMigrateTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

our @EXPORT =
  qw(start_node write_migration status_of drizzle_fixtures app_code app_code_ran
  error_of run_lock_holders_query);

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

# In database db, a schema "appfn" of role app (which must exist, and not
# be a superuser) holding code that app could hang on a tool's tracking
# table it owns: run by a superuser, it would make app a superuser, and it
# leaves a row in appfn.pwned naming who ran it.  pwn() is the code,
# pwn_immutable(text) the same labelled immutable, pwn_trigger() a trigger
# function calling it.
sub app_code
{
	my ($node, $db) = @_;
	$node->safe_psql($db, 'CREATE SCHEMA appfn AUTHORIZATION app');
	$node->safe_psql(
		$db, q{
		CREATE TABLE appfn.pwned (who text);
		CREATE FUNCTION appfn.pwn() RETURNS text LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO appfn.pwned VALUES (current_user);
			IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
				ALTER ROLE app SUPERUSER;
			END IF;
			RETURN 'x';
		END $$;
		CREATE FUNCTION appfn.pwn_immutable(text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
		BEGIN PERFORM appfn.pwn(); RETURN $1; END $$;
		CREATE FUNCTION appfn.pwn_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM appfn.pwn(); RETURN COALESCE(NEW, OLD); END $$;
	}, extra_params => [ '-U', 'app' ]);
	return;
}

# "N,super": how many times app's code ran as another role than app, and
# whether app became a superuser; "0,false" when nothing happened
sub app_code_ran
{
	my ($node, $db) = @_;
	return $node->safe_psql($db,
		"SELECT (SELECT count(*) FROM appfn.pwned WHERE who <> 'app') || ','
		 || (SELECT rolsuper FROM pg_roles WHERE rolname = 'app')");
}

# A query counting the holders of the run lock: a lock on the extension's
# pg_extension row (objsubid 1), not an advisory lock
sub run_lock_holders_query
{
	return "SELECT count(*) FROM pg_locks WHERE locktype = 'object'
	        AND classid = 'pg_extension'::regclass AND objsubid = 1 AND granted
	        AND objid = (SELECT oid FROM pg_extension WHERE extname = 'pg_migrate')";
}

# The error output of a statement expected to fail, or "succeeded: ..."
sub error_of
{
	my ($node, $db, $sql, %opts) = @_;
	my ($ret, $stdout, $stderr) = $node->psql($db, $sql, %opts);
	return $ret == 0 ? "succeeded: $stdout" : $stderr;
}

1;
