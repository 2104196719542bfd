# A script the background worker runs cannot leave the role it runs as.
# A down script runs as the role that applied its migration, whoever rolls
# it back: a deploy role's no-transaction down script must not become the
# superuser who calls run_rollback by RESET ROLE or SET SESSION
# AUTHORIZATION.  An up script runs as the caller's current user: after
# SET ROLE from a superuser session, RESET ROLE in the worker does not
# give the superuser back either.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = start_node('worker_roles');
my $super = $node->safe_psql('postgres', 'SELECT current_user');
$node->safe_psql('postgres', q{
	CREATE ROLE deployer LOGIN;
	CREATE ROLE app_owner NOLOGIN;
	GRANT CREATE ON SCHEMA public TO deployer, app_owner;
	GRANT USAGE ON SCHEMA migrate TO deployer, app_owner;
	GRANT EXECUTE ON PROCEDURE migrate.run(text, text, boolean, text, boolean),
		migrate.run_rollback(text, boolean) TO deployer, app_owner;
	GRANT pg_read_server_files TO deployer, app_owner;
});

my $dir = PostgreSQL::Test::Utils::tempdir;
sub migration { write_migration($dir, @_); }
sub deployer_is_super
{
	return $node->safe_psql('postgres',
		"SELECT rolsuper FROM pg_roles WHERE rolname = 'deployer'");
}

# An up script run for a superuser session SET ROLE to the deploy role
migration('0001_up.sql',
	"-- migrate:no-transaction\nRESET ROLE;\n"
	  . "CREATE TABLE up_ran_as AS SELECT current_user AS who;\n");
$node->safe_psql('postgres',
	"SET ROLE deployer; CALL migrate.run('$dir')");
is($node->safe_psql('postgres', "SELECT who FROM up_ran_as"),
	'deployer', 'an up script cannot RESET ROLE to the superuser who SET ROLE');
is(deployer_is_super(), 'f', 'the deploy role is no superuser');

# RESET ROLE goes back to the role that applied the migration, no further
migration('0002_reset.sql', "CREATE TABLE t2 (id int);\n");
migration('0002_reset.down.sql',
	"-- migrate:no-transaction\nRESET ROLE;\n"
	  . "CREATE TABLE down_ran_as AS SELECT current_user AS who, session_user AS via;\n"
	  . "DROP TABLE t2;\n");
$node->safe_psql('postgres', "CALL migrate.run('$dir')",
	extra_params => [ '-U', 'deployer' ]);
$node->safe_psql('postgres', "CALL migrate.run_rollback('0002_reset')");
is($node->safe_psql('postgres', "SELECT who || ',' || via FROM down_ran_as"),
	'deployer,deployer', 'after RESET ROLE the down script still runs as the deploy role');
is( $node->safe_psql('postgres',
		"SELECT performed_as FROM migrate.history WHERE name = '0002_reset' AND action = 'rollback'"),
	'deployer', 'as history says');

# The deploy role applies a migration whose down script, run outside a
# transaction block, tries to become the superuser who rolls it back
migration('0003_session.sql', "CREATE TABLE t3 (id int);\n");
migration('0003_session.down.sql',
	"-- migrate:no-transaction\nSET SESSION AUTHORIZATION $super;\n"
	  . "ALTER ROLE deployer SUPERUSER;\nDROP TABLE t3;\n");
$node->safe_psql('postgres', "CALL migrate.run('$dir')",
	extra_params => [ '-U', 'deployer' ]);
like(
	error_of($node, 'postgres', "CALL migrate.run_rollback('0003_session')"),
	qr/permission denied to set session authorization/,
	'SET SESSION AUTHORIZATION in a no-transaction down script is refused');
is(deployer_is_super(), 'f', 'and the deploy role did not become a superuser');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM migrate.migrations WHERE name = '0003_session'"),
	'1', 'the migration is still applied');
$node->safe_psql('postgres',
	"DELETE FROM migrate.migrations WHERE name = '0003_session'; DROP TABLE t3");
unlink "$dir/0003_session.sql", "$dir/0003_session.down.sql";

# A role that cannot log in: from PostgreSQL 17 the worker logs in as it
# all the same; before, its no-transaction down script is refused before
# anything is undone
migration('0004_nologin.sql', "CREATE TABLE t4 (id int);\n");
migration('0004_nologin.down.sql',
	"-- migrate:no-transaction\nCREATE TABLE nologin_ran_as AS SELECT current_user AS who;\n"
	  . "DROP TABLE t4;\n");
$node->safe_psql('postgres', "SET ROLE app_owner; CALL migrate.run('$dir')");
if ($node->pg_version >= 17)
{
	$node->safe_psql('postgres', "CALL migrate.run_rollback('0004_nologin')");
	is($node->safe_psql('postgres', "SELECT who FROM nologin_ran_as"),
		'app_owner', 'a down script of a role without LOGIN runs as it');
}
else
{
	like(
		error_of($node, 'postgres', "CALL migrate.run_rollback('0004_nologin')"),
		qr/cannot roll back migration "0004_nologin" as role "app_owner", which cannot log in/,
		'a no-transaction down script of a role without LOGIN is refused before 17');
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM migrate.migrations WHERE name = '0004_nologin'"),
		'1', 'and nothing was undone');
}

$node->stop;
done_testing();
