# Helpers shared by the TAP tests of the pg_migrate command: a cluster with
# the extension and a deploy role that can read no server file and logs in
# with a password, a folder of migrations for the command to send, and the
# installed command run with that role's connection settings.
package PgMigrateCommand;

use strict;
use warnings;
use Cwd qw(abs_path);
use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(command_node migrations_dir pg_migrate pg_migrate_start
  connection_env $DEPLOYER_PASSWORD);

our $DEPLOYER_PASSWORD = 'deploy secret';

# A started cluster with pg_migrate in database postgres, and role
# "deployer": no superuser, no pg_read_server_files, a password checked for
# every connection (md5 in pg_hba.conf takes SCRAM passwords too), and
# EXECUTE on the forms that take a folder as data.  Server folders are
# confined to one that does not exist, so that no server-side read of a
# folder could succeed, whoever asked.
sub command_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
	$node->append_conf('postgresql.conf',
		"migrate.allowed_directories = '/nonexistent/pg_migrate_server_side'\n");
	my $hba = $node->data_dir . '/pg_hba.conf';
	my $rules = PostgreSQL::Test::Utils::slurp_file($hba);
	open my $fh, '>', $hba or die "could not write $hba: $!";
	print $fh "local all deployer md5\nhost all deployer 127.0.0.1/32 md5\n$rules";
	close $fh;
	$node->start;
	$node->safe_psql(
		'postgres', qq{
		CREATE EXTENSION pg_migrate;
		CREATE ROLE deployer LOGIN PASSWORD '$DEPLOYER_PASSWORD';
		GRANT CREATE ON SCHEMA public TO deployer;
		GRANT USAGE ON SCHEMA migrate TO deployer;
		GRANT EXECUTE ON FUNCTION migrate.apply(jsonb, text, boolean, text, text, boolean),
		                          migrate.status(jsonb, text, text),
		                          migrate.status(text, text),
		                          migrate.rollback(text, boolean),
		                          migrate.verify(jsonb, text, text) TO deployer;
		GRANT EXECUTE ON PROCEDURE migrate.run(jsonb, text, boolean, text, text, boolean) TO deployer;
	});
	return $node;
}

# A new folder for migrations, readable by this test's OS user only
sub migrations_dir
{
	my $dir = PostgreSQL::Test::Utils::tempdir;
	chmod 0700, $dir or die "chmod $dir: $!";
	return abs_path($dir);
}

# The environment the command connects with: deployer on the node, by its
# socket, with the password in PGPASSWORD unless told otherwise
sub connection_env
{
	my ($node, %override) = @_;
	my %env = (
		PGHOST => $node->host,
		PGPORT => $node->port,
		PGUSER => 'deployer',
		PGDATABASE => 'postgres',
		PGPASSWORD => $DEPLOYER_PASSWORD,
		%override);
	return %env;
}

sub with_env
{
	my ($env, $code) = @_;
	local %ENV = %ENV;
	delete @ENV{qw(DATABASE_URL PGSERVICE PGSERVICEFILE PGPASSFILE PGOPTIONS)};
	for my $k (keys %$env)
	{
		if (defined $env->{$k}) { $ENV{$k} = $env->{$k}; }
		else { delete $ENV{$k}; }
	}
	return $code->();
}

# Run the installed pg_migrate with @args as deployer; returns its exit
# status, standard output and standard error.  %env adds to or (undef)
# removes from the connection environment.
sub pg_migrate
{
	my ($node, $args, %env) = @_;
	my ($out, $err) = ('', '');
	with_env({ connection_env($node, %env) },
		sub {
			IPC::Run::run([ 'pg_migrate', @$args ], '<', \undef, '>', \$out, '2>', \$err);
		});
	note("pg_migrate @$args: exit " . ($? >> 8) . "\n$out$err");
	return ($? >> 8, $out, $err);
}

# Start pg_migrate in the background; returns the IPC::Run harness and
# references to what it prints
sub pg_migrate_start
{
	my ($node, $args, %env) = @_;
	my ($out, $err) = ('', '');
	my $h = with_env({ connection_env($node, %env) },
		sub {
			IPC::Run::start([ 'pg_migrate', @$args ], '<', \undef, '>', \$out, '2>', \$err);
		});
	return ($h, \$out, \$err);
}

1;
