# drizzle.__drizzle_migrations belongs to the application.  When its role
# (here "app", not a superuser) owns the table and hangs code on it, a
# superuser's status, apply and rollback must refuse, with an error saying
# what to fix, and never run that code.  The code here would make app a
# superuser and leave a row in appfn.pwned naming who ran it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $srcdir = $ENV{TESTDIR} || '.';
my $node = start_node('drizzle_owner');
my $superuser = $node->safe_psql('postgres', 'SELECT current_user');
$node->safe_psql('postgres', 'CREATE ROLE app LOGIN; CREATE ROLE deployer LOGIN');

# the fixture, and a copy as an older deploy saw it: two of its three entries
my ($full, $older) = drizzle_fixtures($srcdir);

# One database per case, with app's schema for its functions and the
# tracking table as drizzle-orm creates it, owned by app
my $ndb = 0;

sub app_database
{
	my $db = 'case' . ++$ndb;
	$node->safe_psql('postgres', "CREATE DATABASE $db; ALTER ROLE app NOSUPERUSER");
	$node->safe_psql($db, q{
		CREATE EXTENSION pg_migrate;
		CREATE SCHEMA drizzle AUTHORIZATION app;
	});
	app_code($node, $db);
	as_app($db, q{
		CREATE TABLE drizzle.__drizzle_migrations (
			id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint);
	});
	return $db;
}

sub as_app
{
	my ($db, $sql) = @_;
	return $node->safe_psql($db, $sql, extra_params => [ '-U', 'app' ]);
}

# stderr of a statement expected to fail
sub refused
{
	my ($db, $sql, %opts) = @_;
	my ($ret, $stdout, $stderr) = $node->psql($db, $sql, %opts);
	return $ret == 0 ? "succeeded: $stdout" : $stderr;
}

# What app can hang on its table, and the error that names it
my @cases = (
	[
		'a trigger',
		'CREATE TRIGGER t BEFORE INSERT OR DELETE ON drizzle.__drizzle_migrations
		 FOR EACH ROW EXECUTE FUNCTION appfn.pwn_trigger()',
		qr/tracking table "drizzle\.__drizzle_migrations" has triggers\n.*DETAIL:  Trigger "t" would run its function.*\n.*HINT:  Drop the table's triggers; DROP TRIGGER t ON drizzle\.__drizzle_migrations drops this one\./
	],
	[
		'a view over its function in place of the table',
		'ALTER TABLE drizzle.__drizzle_migrations RENAME TO real;
		 CREATE VIEW drizzle.__drizzle_migrations AS
		 SELECT id, hash, created_at FROM drizzle.real WHERE appfn.pwn() IS NOT NULL',
		qr/ERROR:  drizzle-orm's tracking table "drizzle\.__drizzle_migrations" is not a plain table\n.*DETAIL:  It is a view.*\n.*HINT:  Replace it by a plain table/
	],
	[
		'row-level security with a policy calling its function',
		'ALTER TABLE drizzle.__drizzle_migrations ENABLE ROW LEVEL SECURITY;
		 CREATE POLICY p ON drizzle.__drizzle_migrations USING (appfn.pwn() IS NOT NULL)',
		qr/has row-level security enabled\n.*\n.*HINT:  Disable row-level security on it with ALTER TABLE drizzle\.__drizzle_migrations DISABLE ROW LEVEL SECURITY/
	],
	[
		'a default calling its function',
		'ALTER TABLE drizzle.__drizzle_migrations ADD COLUMN note text DEFAULT appfn.pwn()',
		qr/the default of column "note" of drizzle-orm's tracking table "drizzle\.__drizzle_migrations" calls functions that pg_migrate does not trust\n.*\n.*HINT:  Drop the default with ALTER TABLE drizzle\.__drizzle_migrations ALTER COLUMN note DROP DEFAULT\./
	],
	[
		'an index on its function',
		'CREATE INDEX pwn_idx ON drizzle.__drizzle_migrations (appfn.pwn_immutable(hash))',
		qr/index "pwn_idx" of drizzle-orm's tracking table "drizzle\.__drizzle_migrations" calls functions that pg_migrate does not trust\n.*\n.*HINT:  Drop the index with DROP INDEX drizzle\.pwn_idx\./
	],
	[
		'an inheritance child with a trigger, holding copies of the rows',
		'CREATE TABLE drizzle.child () INHERITS (drizzle.__drizzle_migrations);
		 CREATE TRIGGER t BEFORE DELETE ON drizzle.child
		 FOR EACH ROW EXECUTE FUNCTION appfn.pwn_trigger();
		 INSERT INTO drizzle.child (hash, created_at)
		 SELECT hash, created_at FROM drizzle.__drizzle_migrations',
		qr/has inheritance children\n.*DETAIL:  Table "drizzle\.child" inherits from it.*\n.*HINT:  Make the child stop inheriting from it with ALTER TABLE drizzle\.child NO INHERIT drizzle\.__drizzle_migrations\./
	],
	[
		'a check constraint calling its function',
		'ALTER TABLE drizzle.__drizzle_migrations
		 ADD CONSTRAINT pwn_check CHECK (appfn.pwn_immutable(hash) IS NOT NULL)',
		qr/check constraint "pwn_check" of drizzle-orm's tracking table "drizzle\.__drizzle_migrations" calls functions that pg_migrate does not trust/
	],
	[
		'a column of its domain',
		'CREATE DOMAIN appfn.pwn_domain AS int CHECK (appfn.pwn() IS NOT NULL);
		 ALTER TABLE drizzle.__drizzle_migrations ADD COLUMN d appfn.pwn_domain',
		qr/column "d" of drizzle-orm's tracking table "drizzle\.__drizzle_migrations" has a type that is not built in/
	],
	[
		'rules',
		'CREATE RULE r_insert AS ON INSERT TO drizzle.__drizzle_migrations DO ALSO SELECT appfn.pwn();
		 CREATE RULE r_delete AS ON DELETE TO drizzle.__drizzle_migrations DO ALSO SELECT appfn.pwn()',
		qr/tracking table "drizzle\.__drizzle_migrations" has rules/
	]);

# For each: the older folder applied by the superuser into app's plain
# table, then app adds its code; status, apply (which would insert the
# third row) and rollback (which would delete one) are refused.
foreach my $case (@cases)
{
	my ($what, $sql, $error) = @$case;
	my $db = app_database();

	$node->safe_psql($db, "SELECT count(*) FROM migrate.apply('$older')");
	as_app($db, $sql);
	is(app_code_ran($node, $db), '0,false', "$what: app's code has not run yet");

	like(refused($db, "SELECT * FROM migrate.status('$full')"),
		$error, "$what: status is refused");
	like(refused($db, "SELECT * FROM migrate.apply('$full')"),
		$error, "$what: apply is refused");
	like(refused($db, "SELECT * FROM migrate.rollback('0001_quiz_answers')"),
		$error, "$what: rollback is refused");
	is(app_code_ran($node, $db), '0,false', "$what: app's code did not run as the superuser");
	is($node->safe_psql($db, 'SELECT count(*) FROM migrate.migrations'),
		'2', "$what: nothing was applied or rolled back");
}

# The plain table as drizzle-orm creates it, owned by app: the superuser
# reads and writes it
my $db = app_database();
is(status_of($node, $full, $db),
	'0000_initial=pending,0001_quiz_answers=pending,0002_lesson_position=pending',
	'plain table owned by app: status');
$node->safe_psql($db, "SELECT count(*) FROM migrate.apply('$older')");
is( $node->safe_psql($db, "SELECT string_agg(name || ':' || action, ',') FROM migrate.apply('$full')"),
	'0002_lesson_position:applied', 'plain table owned by app: apply');
is( $node->safe_psql($db,
		'SELECT string_agg(created_at::text, \',\' ORDER BY id) FROM drizzle.__drizzle_migrations'),
	'1795494245473,1795494250367,1795494251706',
	'plain table owned by app: each migration recorded in it');
is( $node->safe_psql($db, "SELECT string_agg(name, ',') FROM migrate.rollback('0002_lesson_position')"),
	'0002_lesson_position', 'plain table owned by app: rollback');
is($node->safe_psql($db, 'SELECT count(*) FROM drizzle.__drizzle_migrations'),
	'2', 'plain table owned by app: rollback removed its row');
is( $node->safe_psql($db,
		"SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'drizzle.__drizzle_migrations'::regclass"),
	'app', 'plain table owned by app: still app\'s');

# A statistics object's expression runs when a query on the table is
# planned (its constant part is folded), but pg_migrate plans none
SKIP:
{
	skip 'expression statistics need PostgreSQL 14', 4
	  if $node->safe_psql('postgres', 'SHOW server_version_num') < 140000;
	as_app($db, q{CREATE STATISTICS appfn.pwn_stats ON (appfn.pwn_immutable('x') || hash)
		FROM drizzle.__drizzle_migrations});
	is(status_of($node, $full, $db),
		'0000_initial=applied,0001_quiz_answers=applied,0002_lesson_position=pending',
		'statistics object on app\'s function: status');
	is( $node->safe_psql($db, "SELECT string_agg(name || ':' || action, ',') FROM migrate.apply('$full')"),
		'0002_lesson_position:applied', 'statistics object on app\'s function: apply');
	is( $node->safe_psql($db, "SELECT string_agg(name, ',') FROM migrate.rollback('0002_lesson_position')"),
		'0002_lesson_position', 'statistics object on app\'s function: rollback');
	is(app_code_ran($node, $db), '0,false', 'statistics object on app\'s function: it did not run');
}

# A non-superuser who is not a member of app is refused: the table's owner
# could change it under them
$node->safe_psql($db, q{
	GRANT USAGE ON SCHEMA migrate TO deployer;
	GRANT EXECUTE ON FUNCTION migrate.apply(text, text, boolean, text, boolean),
	                          migrate.status(text, text),
	                          migrate.rollback(text, boolean) TO deployer;
	GRANT pg_read_server_files TO deployer;
});
my $ownership =
  qr/ERROR:  permission denied to use drizzle-orm's tracking table "drizzle\.__drizzle_migrations"\n.*DETAIL:  It is owned by role "app", and role "deployer" does not have the privileges of that role\.\n.*HINT:  Run the migrations as role "app", or grant that role to the role running them with GRANT app TO deployer\./;
like(refused($db, "SELECT * FROM migrate.status('$full')", extra_params => [ '-U', 'deployer' ]),
	$ownership, 'a non-member of the owner: status is refused');
like(refused($db, "SELECT * FROM migrate.apply('$full')", extra_params => [ '-U', 'deployer' ]),
	$ownership, 'a non-member of the owner: apply is refused');
$node->safe_psql('postgres', 'GRANT app TO deployer');
is( $node->safe_psql(
		$db, "SELECT string_agg(name || '=' || state, ',' ORDER BY name) FROM migrate.status('$full')",
		extra_params => [ '-U', 'deployer' ]),
	'0000_initial=applied,0001_quiz_answers=applied,0002_lesson_position=pending',
	'once a member of the owner, status works');
is(app_code_ran($node, $db), '0,false', 'plain table owned by app: none of app\'s code ran');

# No table yet: pg_migrate creates it, owned by the caller, with built-in
# types even when the caller's search_path puts app's "text" first
my $mini = PostgreSQL::Test::Utils::tempdir . "/mini";
mkdir $mini;
mkdir "$mini/meta";
write_migration($mini, '0000_widgets.sql', "CREATE TABLE public.widgets (id int);\n");
write_migration($mini, '0000_widgets.down.sql', "DROP TABLE public.widgets;\n");
write_migration($mini, 'meta/_journal.json',
	'{"version": "7", "dialect": "postgresql", "entries": [{"idx": 0, "version": "7", "when": 1700000000000, "tag": "0000_widgets", "breakpoints": true}]}'
);
$db = app_database();
$node->safe_psql($db, q{
	DROP TABLE drizzle.__drizzle_migrations;
	DROP SCHEMA drizzle;
	CREATE SCHEMA evil AUTHORIZATION app;
});
as_app($db, 'CREATE DOMAIN evil.text AS pg_catalog.text CHECK (appfn.pwn() IS NOT NULL)');
is( $node->safe_psql($db,
		"SET search_path = evil, pg_catalog, public;
		 SELECT string_agg(name || ':' || action, ',') FROM migrate.apply('$mini')"),
	'0000_widgets:applied', 'missing table: apply creates it');
is( $node->safe_psql($db,
		"SELECT c.relkind::text || ',' || pg_get_userbyid(c.relowner) || ',' ||
		        (SELECT string_agg(attname || ' ' || format_type(atttypid, NULL), ', ' ORDER BY attnum)
		         FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0)
		 FROM pg_class c WHERE c.oid = 'drizzle.__drizzle_migrations'::regclass"),
	"r,$superuser,id integer, hash text, created_at bigint",
	'missing table: created as drizzle-orm does, owned by the caller, with built-in types');
is( $node->safe_psql($db, 'SELECT created_at FROM drizzle.__drizzle_migrations'),
	'1700000000000', 'missing table: the migration is recorded in it');
is(status_of($node, $mini, $db), '0000_widgets=applied', 'missing table: status');
$node->safe_psql($db, "SELECT count(*) FROM migrate.rollback('0000_widgets')");
is($node->safe_psql($db, 'SELECT count(*) FROM drizzle.__drizzle_migrations'),
	'0', 'missing table: rollback removes the row');
is(app_code_ran($node, $db), '0,false', 'missing table: none of app\'s code ran');

$node->stop;
done_testing();
