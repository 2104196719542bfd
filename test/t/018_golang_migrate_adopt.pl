# Switching from golang-migrate: its schema_migrations(version, dirty),
# written here by the statements golang-migrate's postgres driver runs
# (database/postgres/postgres.go: ensureVersionTable, SetVersion), is
# adopted: every migration up to its version is applied, and is not run
# again.  Afterwards pg_migrate keeps the one row in step, as
# golang-migrate would write it; a dirty version is refused; and the table,
# owned by the app's role, is refused when it carries code of that role.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = start_node('golang_migrate');
$node->safe_psql('postgres', 'CREATE ROLE app LOGIN; CREATE ROLE deployer LOGIN');

# Four migrations, numbered as golang-migrate allows (not contiguous)
my $dir = PostgreSQL::Test::Utils::tempdir . '/migrations';
mkdir $dir;
my @migrations = (
	[ 1, 'create_users', 'CREATE TABLE users (id int PRIMARY KEY);', 'DROP TABLE users;' ],
	[ 2, 'add_email', 'ALTER TABLE users ADD COLUMN email text;', 'ALTER TABLE users DROP COLUMN email;' ],
	[ 5, 'add_name', 'ALTER TABLE users ADD COLUMN name text;', 'ALTER TABLE users DROP COLUMN name;' ],
	[ 10, 'add_age', 'ALTER TABLE users ADD COLUMN age int;', 'ALTER TABLE users DROP COLUMN age;' ]);
foreach my $m (@migrations)
{
	write_migration($dir, "$m->[0]_$m->[1].up.sql", "$m->[2]\n");
	write_migration($dir, "$m->[0]_$m->[1].down.sql", "$m->[3]\n");
}
my @names = map { "$_->[0]_$_->[1]" } @migrations;

sub query { my ($db, $sql, @opts) = @_; return $node->safe_psql($db, $sql, @opts); }

# golang-migrate's "up" of the first $n migrations, as its postgres driver
# runs it, against the table "schema"."table" (its schema is the current
# one, its table x-migrations-table or schema_migrations)
sub golang_up
{
	my ($db, $n, $schema, $table, @opts) = @_;
	my $t = qq{"$schema"."$table"};
	query($db, qq{CREATE TABLE IF NOT EXISTS $t (version bigint not null primary key, dirty boolean not null)}, @opts);
	foreach my $m (@migrations[ 0 .. $n - 1 ])
	{
		query($db, "BEGIN; TRUNCATE $t; INSERT INTO $t (version, dirty) VALUES ($m->[0], true); COMMIT;", @opts);
		query($db, $m->[2], @opts);
		query($db, "BEGIN; TRUNCATE $t; INSERT INTO $t (version, dirty) VALUES ($m->[0], false); COMMIT;", @opts);
	}
	return;
}

# What golang-migrate's Version() reads: "version,dirty", or "" for none
sub golang_version
{
	my ($db, $t) = @_;
	return query($db, "SELECT version || ',' || dirty FROM " . ($t // 'schema_migrations') . ' LIMIT 1');
}

sub history
{
	my ($db, $from) = @_;
	return query($db,
		"SELECT string_agg(action || ':' || name || coalesce(':' || tool_table, ''), ',' ORDER BY id)
		 FROM migrate.history WHERE id > $from");
}

# 1. golang-migrate applied 1 and 2; run adopts them and applies 5 and 10
query('postgres', 'CREATE DATABASE one');
query('one', 'CREATE EXTENSION pg_migrate');
golang_up('one', 2, 'public', 'schema_migrations');
is(status_of($node, $dir, 'one'),
	"$names[3]=pending,$names[0]=applied,$names[1]=applied,$names[2]=pending",
	'status shows what golang-migrate applied, up to its version, as applied');
query('one', "CALL migrate.run('$dir')");
is( history('one', 0),
	"adopt:$names[0]:public.schema_migrations,adopt:$names[1]:public.schema_migrations,"
	  . "apply:$names[2],tool_record:$names[2]:public.schema_migrations,"
	  . "apply:$names[3],tool_record:$names[3]:public.schema_migrations",
	'run adopts two, applies two, and writes golang-migrate\'s table after each');
is(golang_version('one'), '10,false', 'golang-migrate\'s table holds version 10, clean');
is(query('one', 'SELECT count(*) FROM schema_migrations'), '1', 'in one row');
is( query('one', "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attnum > 0"),
	'id,email,name,age', 'each migration ran once');

# 2. rollback steps the version back to the highest one still applied, and
# leaves no row when none is, as golang-migrate's "down" does
my $mark = query('one', 'SELECT max(id) FROM migrate.history');
query('one', "SELECT count(*) FROM migrate.rollback('$names[2]')");
is(golang_version('one'), '2,false', 'rollback of 5 and 10: version 2');
is( history('one', $mark),
	"rollback:$names[3],tool_forget:$names[3]:public.schema_migrations,"
	  . "rollback:$names[2],tool_forget:$names[2]:public.schema_migrations",
	'each write is logged');
query('one', "SELECT count(*) FROM migrate.rollback('$names[0]')");
is(query('one', 'SELECT count(*) FROM schema_migrations'), '0',
	'rollback of everything: no row, golang-migrate\'s "no version"');
is(status_of($node, $dir, 'one'),
	"$names[3]=pending,$names[0]=pending,$names[1]=pending,$names[2]=pending",
	'and everything is pending');
is(query('one', "SELECT string_agg(name || ':' || action, ',') FROM migrate.apply('$dir')"),
	"$names[0]:applied,$names[1]:applied,$names[2]:applied,$names[3]:applied",
	'apply runs them all again');
is(golang_version('one'), '10,false', 'and the table follows');

# golang-migrate failing half-way through a down migration leaves the
# version dirty: a rollback refuses before it undoes anything
query('one', 'UPDATE schema_migrations SET dirty = true');
like(error_of($node, 'one', "SELECT * FROM migrate.rollback('$names[3]')"),
	qr/ERROR:  golang-migrate's tracking table "public\.schema_migrations" marks version 10 as dirty/,
	'dirty: rollback is refused');
is( query('one', "SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'age'")
	  . ',' . query('one', 'SELECT count(*) FROM migrate.migrations'),
	'1,4', 'dirty: nothing was undone');
query('one', 'UPDATE schema_migrations SET dirty = false');

# forget and mark_applied, which record without running, keep the table in
# step as rollback and apply do
$mark = query('one', 'SELECT max(id) FROM migrate.history');
query('one', "SELECT count(*) FROM migrate.forget('$names[3]')");
is(golang_version('one'), '5,false', 'forget of 10: version 5');
query('one', "SELECT count(*) FROM migrate.mark_applied('$dir', '$names[3]')");
is(golang_version('one'), '10,false', 'mark_applied of 10: version 10');
is( history('one', $mark),
	"forget:$names[3],tool_forget:$names[3]:public.schema_migrations,"
	  . "mark_applied:$names[3],tool_record:$names[3]:public.schema_migrations",
	'each write is logged');

# So does run_rollback, whose no-transaction down scripts commit on their
# own in the worker: the table is checked before the first one runs
my $idx = PostgreSQL::Test::Utils::tempdir . '/index';
mkdir $idx;
write_migration($idx, '1_gm_table.up.sql', "CREATE TABLE gm_table (a int);\n");
write_migration($idx, '1_gm_table.down.sql', "DROP TABLE gm_table;\n");
write_migration($idx, '2_gm_index.up.sql', "CREATE INDEX gm_index ON gm_table (a);\n");
write_migration($idx, '2_gm_index.down.sql',
	"-- migrate:no-transaction\nDROP INDEX CONCURRENTLY gm_index;\n");
query('postgres', 'CREATE DATABASE five');
query('five', 'CREATE EXTENSION pg_migrate');
golang_up('five', 0, 'public', 'schema_migrations');
query('five', "CALL migrate.run('$idx')");
is(golang_version('five'), '2,false', 'run records the versions in an empty table');
query('five', 'UPDATE schema_migrations SET dirty = true');
like(error_of($node, 'five', "CALL migrate.run_rollback('2_gm_index')"),
	qr/ERROR:  golang-migrate's tracking table "public\.schema_migrations" marks version 2 as dirty/,
	'dirty: run_rollback is refused');
is(query('five', "SELECT to_regclass('gm_index') IS NOT NULL"), 't',
	'dirty: the no-transaction down script did not run');

# 3. A dirty version: golang-migrate failed half-way through a migration.
# status, apply and run refuse, naming the version and what to do
query('postgres', 'CREATE DATABASE two');
query('two', 'CREATE EXTENSION pg_migrate');
golang_up('two', 1, 'public', 'schema_migrations');
query('two', 'BEGIN; TRUNCATE "public"."schema_migrations"; INSERT INTO "public"."schema_migrations" (version, dirty) VALUES (2, true); COMMIT;');
my $dirty =
  qr/ERROR:  golang-migrate's tracking table "public\.schema_migrations" marks version 2 as dirty\n.*DETAIL:  golang-migrate marks a version dirty while a migration runs, and leaves it so when the migration fails: the database might hold part of migration 2 or of the one after it\.\n.*HINT:  Find out what the failed migration changed, then complete or undo it by hand, and record the version the database is at, as golang-migrate's "force" command does, with UPDATE public\.schema_migrations SET version = <that version>, dirty = false, or with DELETE FROM public\.schema_migrations when no migration is applied\./;
like(error_of($node, 'two', "SELECT * FROM migrate.status('$dir')"), $dirty, 'dirty: status is refused');
like(error_of($node, 'two', "SELECT * FROM migrate.apply('$dir')"), $dirty, 'dirty: apply is refused');
like(error_of($node, 'two', "CALL migrate.run('$dir')"), $dirty, 'dirty: run is refused');
is(query('two', 'SELECT count(*) FROM migrate.migrations'), '0', 'dirty: nothing was recorded');
is(golang_version('two'), '2,true', 'dirty: the row is left as it is');
# cleaned up by hand (migration 2 undone), as golang-migrate's force 1 would
query('two', 'UPDATE schema_migrations SET version = 1, dirty = false');
is(query('two', "SELECT string_agg(name || ':' || action, ',') FROM migrate.apply('$dir')"),
	"$names[0]:adopted,$names[1]:applied,$names[2]:applied,$names[3]:applied",
	'once clean, apply goes on from the version recorded');

# 4. The table of the current schema, as golang-migrate uses it, or the
# one migrate.tool_table names (x-migrations-table)
query('postgres', 'CREATE DATABASE three');
query('three', 'CREATE EXTENSION pg_migrate; CREATE SCHEMA app');
golang_up('three', 2, 'app', 'schema_migrations');
is(status_of($node, $dir, 'three'),
	"$names[3]=pending,$names[0]=pending,$names[1]=pending,$names[2]=pending",
	'a table in another schema than the current one is not golang-migrate\'s');
is( query('three', "SET search_path = app, public;
		SELECT string_agg(name || '=' || state, ',' ORDER BY name) FROM migrate.status('$dir')"),
	"$names[3]=pending,$names[0]=applied,$names[1]=applied,$names[2]=pending",
	'with that schema first in search_path, it is');
query('three', 'ALTER TABLE app.schema_migrations RENAME TO versions');
is( query('three', "SET migrate.tool_table = 'app.versions';
		SELECT string_agg(name || ':' || action, ',') FROM migrate.apply('$dir')"),
	"$names[0]:adopted,$names[1]:adopted,$names[2]:applied,$names[3]:applied",
	'migrate.tool_table names it elsewhere');
is(golang_version('three', 'app.versions'), '10,false', 'and that table follows');

# 5. The table golang-migrate created as app, owned by app: the superuser
# uses it as it is, and refuses it once app hangs code on it
query('postgres', 'CREATE DATABASE four');
query('four', 'CREATE EXTENSION pg_migrate; GRANT ALL ON SCHEMA public TO app');
app_code($node, 'four');
golang_up('four', 2, 'public', 'schema_migrations', extra_params => [ '-U', 'app' ]);
my @cases = (
	[
		'a trigger',
		'CREATE TRIGGER t BEFORE INSERT OR DELETE ON schema_migrations
		 FOR EACH ROW EXECUTE FUNCTION appfn.pwn_trigger()',
		qr/ERROR:  golang-migrate's tracking table "public\.schema_migrations" has triggers\n.*\n.*HINT:  Drop the table's triggers; DROP TRIGGER t ON public\.schema_migrations drops this one\./,
		'DROP TRIGGER t ON schema_migrations'
	],
	[
		'a default calling its function',
		'ALTER TABLE schema_migrations ADD COLUMN note text DEFAULT appfn.pwn()',
		qr/ERROR:  the default of column "note" of golang-migrate's tracking table "public\.schema_migrations" calls functions that pg_migrate does not trust\n.*\n.*HINT:  Drop the default with ALTER TABLE public\.schema_migrations ALTER COLUMN note DROP DEFAULT\./,
		'ALTER TABLE schema_migrations DROP COLUMN note'
	],
	[
		'a view over its function in place of the table',
		'ALTER TABLE schema_migrations RENAME TO real_versions;
		 CREATE VIEW schema_migrations AS
		 SELECT version, dirty FROM real_versions WHERE appfn.pwn() IS NOT NULL',
		qr/ERROR:  golang-migrate's tracking table "public\.schema_migrations" is not a plain table\n.*DETAIL:  It is a view.*\n.*HINT:  Replace it by a plain table, keeping its rows; create that table as golang-migrate does, with CREATE TABLE public\.schema_migrations \(version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL\)\./,
		'DROP VIEW schema_migrations; ALTER TABLE real_versions RENAME TO schema_migrations'
	]);
foreach my $case (@cases)
{
	my ($what, $sql, $error, $undo) = @$case;

	query('four', $sql, extra_params => [ '-U', 'app' ]);
	like(error_of($node, 'four', "SELECT * FROM migrate.status('$dir')"),
		$error, "$what: status is refused");
	like(error_of($node, 'four', "CALL migrate.run('$dir')"), $error, "$what: run is refused");
	is(app_code_ran($node, 'four'), '0,false', "$what: app's code did not run as the superuser");
	is(query('four', 'SELECT count(*) FROM migrate.migrations'), '0', "$what: nothing was recorded");
	query('four', $undo, extra_params => [ '-U', 'app' ]);
}
query('four', q{
	GRANT USAGE ON SCHEMA migrate TO deployer;
	GRANT EXECUTE ON FUNCTION migrate.apply(text, text, boolean, text, boolean) TO deployer;
	GRANT pg_read_server_files TO deployer});
like( error_of($node, 'four', "SELECT * FROM migrate.apply('$dir')", extra_params => [ '-U', 'deployer' ]),
	qr/ERROR:  permission denied to use golang-migrate's tracking table "public\.schema_migrations"\n.*DETAIL:  It is owned by role "app", and role "deployer" does not have the privileges of that role\./,
	'a role without app\'s privileges is refused');
query('four', "CALL migrate.run('$dir')");
is(golang_version('four'), '10,false', 'the plain table owned by app: run writes it');
is( query('four', "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'schema_migrations'::regclass"),
	'app', 'and it stays app\'s');
is(app_code_ran($node, 'four'), '0,false', 'none of app\'s code ran');

$node->stop;
done_testing();
