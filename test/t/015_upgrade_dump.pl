# A database that had pg_migrate 0.1, one that had 0.2 and one that had 0.3,
# updated to the current version with ALTER EXTENSION ... UPDATE, keep their
# tracking rows (and, once updated, their DDL log) through pg_dump and
# pg_restore, and
# their catalog is that of a fresh install (\dx+, the tables' definitions,
# the DDL log's event triggers).  The schema's fingerprint, taken at the
# update, comes through the dump: the restored database has the drift the
# dumped one had.  A down script generated after the update (0.4) comes
# through the dump, and rollback runs it in the restored database.  A
# tenant migrated after the update (0.5) comes through the dump too.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;
my $dir = PostgreSQL::Test::Utils::tempdir;
write_migration($dir, '0001_users.sql', "CREATE TABLE users (id int PRIMARY KEY);\n");
write_migration($dir, '0001_users.down.sql', "DROP TABLE users;\n");
write_migration($dir, '0002_seed.sql', "INSERT INTO users VALUES (1);\n");
write_migration($dir, '0002_seed.down.sql', "DELETE FROM users;\n");

$node->safe_psql('postgres',
	q{CREATE DATABASE old; CREATE DATABASE old_02; CREATE DATABASE old02; CREATE DATABASE old03; CREATE DATABASE fresh});
$node->safe_psql('old', q{CREATE EXTENSION pg_migrate VERSION '0.1'});
$node->safe_psql('old', "SELECT count(*) FROM migrate.apply('$dir')");
$node->safe_psql('old_02', q{CREATE EXTENSION pg_migrate VERSION '0.2'});
$node->safe_psql('old_02', "SELECT count(*) FROM migrate.apply('$dir')");
my $rows_before = $node->safe_psql('old',
	'SELECT string_agg(name || checksum, \',\' ORDER BY id) FROM migrate.migrations');
my $history_02 = $node->safe_psql('old_02',
	'SELECT string_agg(id || action || name || performed_at, \',\' ORDER BY id) FROM migrate.history');
$node->safe_psql('old', 'ALTER EXTENSION pg_migrate UPDATE');
$node->safe_psql('old_02', 'ALTER EXTENSION pg_migrate UPDATE');
$node->safe_psql('fresh', 'CREATE EXTENSION pg_migrate');

$node->safe_psql('old02', q{CREATE EXTENSION pg_migrate VERSION '0.2'});
$node->safe_psql('old02', "SELECT count(*) FROM migrate.apply('$dir')");
$node->safe_psql('old02', "SELECT count(*) FROM migrate.rollback('0002_seed')");
my $rows_before_02 = $node->safe_psql('old02',
	'SELECT string_agg(name || checksum, \',\' ORDER BY id) FROM migrate.migrations');
my $history_before_02 = $node->safe_psql('old02',
	'SELECT string_agg(id || action || name, \',\' ORDER BY id) FROM migrate.history');
$node->safe_psql('old02', 'ALTER EXTENSION pg_migrate UPDATE');
is( $node->safe_psql('old02',
		'SELECT string_agg(name || checksum, \',\' ORDER BY id) FROM migrate.migrations'),
	$rows_before_02, '0.2: the tracking rows came through the update');
is( $node->safe_psql('old02',
		'SELECT string_agg(id || action || name, \',\' ORDER BY id) FROM migrate.history'),
	$history_before_02, '0.2: and the history rows');
is($node->safe_psql('old02', 'SELECT count(*) FROM migrate.drift()'),
	'0', '0.2: no drift after the update');

$node->safe_psql('old03', q{CREATE EXTENSION pg_migrate VERSION '0.3'});
$node->safe_psql('old03', "SELECT count(*) FROM migrate.apply('$dir')");
my $rows_before_03 = $node->safe_psql('old03',
	'SELECT string_agg(name || checksum || down_sql, \',\' ORDER BY id) FROM migrate.migrations');
$node->safe_psql('old03', 'ALTER EXTENSION pg_migrate UPDATE');
is( $node->safe_psql('old03',
		'SELECT string_agg(name || checksum || down_sql, \',\' ORDER BY id) FROM migrate.migrations'),
	$rows_before_03, '0.3: the tracking rows and their down scripts came through the update');
is( $node->safe_psql('old03',
		'SELECT count(*) FILTER (WHERE NOT down_generated AND down_partial IS NULL) FROM migrate.migrations'),
	'2', '0.3: their down scripts are the written ones');

# a tenant migrated after the update (0.5): its tracking rows and its run's
# outcome come through the dump
$node->safe_psql('old03', 'CREATE SCHEMA tenant_a');
$node->safe_psql('old03', "CALL migrate.run_tenants('$dir', tenants => '{tenant_a}')");
my $tenant_query = q{SELECT string_agg(tenant || ':' || name || ':' || checksum, ',' ORDER BY tenant, id) FROM migrate.migrations};
my $tenant_rows = $node->safe_psql('old03', $tenant_query);
like($tenant_rows, qr/^:0001_users:\w+,:0002_seed:\w+,tenant_a:0001_users:\w+,tenant_a:0002_seed:\w+$/,
	'0.3 updated: the old rows are the database\'s own, the tenant\'s apart');
# a run the server owned (migrate.start()) comes through the dump too (0.6)
my $job = $node->safe_psql('old03', "SELECT migrate.start('$dir')");
$node->safe_psql('old03', "CALL migrate.wait($job)");
my $jobs_query = q{SELECT string_agg(run_id || ':' || kind || ':' || state, ',' ORDER BY run_id) FROM migrate.run_jobs};
my $jobs = $node->safe_psql('old03', $jobs_query);
is($jobs, '2:run:succeeded', 'a detached run, finished');
my $dump03 = "$dir/../old03.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump03, '-d', $node->connstr('old03') ],
	'pg_dump of the updated database with a tenant');
$node->safe_psql('postgres', 'CREATE DATABASE restored03');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored03'), $dump03 ],
	'pg_restore of it');
is($node->safe_psql('restored03', $tenant_query), $tenant_rows,
	'the tenant\'s tracking rows came through the dump');
is( $node->safe_psql('restored03',
		q{SELECT run_id || ':' || tenant || ':' || state FROM migrate.tenant_runs}),
	'1:tenant_a:applied', 'and the outcome of its run');
is($node->safe_psql('restored03', $jobs_query), $jobs, 'and the detached run');
is( $node->safe_psql('restored03',
		"SELECT applied || '/' || pending FROM migrate.tenant_status('$dir', tenants => '{tenant_a}')"),
	'2/0', 'tenant_status reads them in the restored database');
is($node->safe_psql('restored03', q{SELECT nextval('migrate.run_id_seq')}), '3',
	'the run ids go on after the restored ones');

# the same catalog as a fresh install
for my $db ('old', 'old_02', 'old02', 'old03')
{
	for my $describe ('\dx+ pg_migrate', '\d migrate.migrations', '\d migrate.history',
		'\d migrate.ddl_log', '\d migrate.fingerprint', '\d migrate.tenant_runs', '\dy')
	{
		is($node->safe_psql($db, $describe), $node->safe_psql('fresh', $describe),
			"$db: $describe: updated and fresh installs agree");
	}
}
is( $node->safe_psql('old_02',
		'SELECT string_agg(id || action || name || performed_at, \',\' ORDER BY id) FROM migrate.history'),
	$history_02, 'the history of 0.2 came through the update');
is($node->safe_psql('old', 'SELECT count(*) FROM pg_event_trigger'), '4',
	'the DDL log\'s event triggers are installed');

# the updated database logs DDL, and its log goes through the dump too
write_migration($dir, '0003_emails.sql', "ALTER TABLE users ADD COLUMN email text;\n");
write_migration($dir, '0003_emails.down.sql', "ALTER TABLE users DROP COLUMN email;\n");
$node->safe_psql('old', "SELECT count(*) FROM migrate.apply('$dir')");
# a migration without a down script gets one generated
write_migration($dir, '0004_notes.sql', "CREATE TABLE notes (id int);\n");
$node->safe_psql('old', "SELECT count(*) FROM migrate.apply('$dir')");
my $generated_query = q{SELECT down_generated, down_sql LIKE '%DROP TABLE public.notes;%' FROM migrate.migrations WHERE name = '0004_notes'};
is($node->safe_psql('old', $generated_query), 't|t',
	'the updated database generates a down script');
$node->safe_psql('old', 'CREATE INDEX users_email ON users (email)');
my $log_query = q{SELECT string_agg(concat_ws(' ', id, logged_at, command_tag, object_identity, migration, origin), ',' ORDER BY id) FROM migrate.ddl_log};
my $log_before = $node->safe_psql('old', $log_query);
like($log_before, qr/ALTER TABLE public\.users 0003_emails in_migration,.*CREATE INDEX public\.users_email out_of_band$/,
	'the updated database logs DDL');

# dump and restore the updated database
my $dump = "$dir/../old.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('old') ],
	'pg_dump of the updated database');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ],
	'pg_restore');
like( $node->safe_psql('restored',
		'SELECT string_agg(name || checksum, \',\' ORDER BY id) FROM migrate.migrations'),
	qr/^\Q$rows_before\E,0003_emails[0-9a-f]+,0004_notes/, 'the tracking rows came through the update, the dump and the restore');
is($node->safe_psql('restored', $generated_query), 't|t',
	'the generated down script came through the dump');
is($node->safe_psql('restored', $log_query), $log_before,
	'the DDL log came through the dump and the restore, which added nothing to it');
is( $node->safe_psql('restored',
		'SELECT count(*) FILTER (WHERE performed_as IS NOT NULL) = count(*) FROM migrate.history'),
	't', 'old history rows have performed_as');
is(status_of($node, $dir, 'restored'), '0001_users=applied,0002_seed=applied,0003_emails=applied,0004_notes=applied',
	'status agrees in the restored database');
is( $node->safe_psql('restored', 'SELECT count(*) FROM migrate.fingerprint'),
	$node->safe_psql('old', 'SELECT count(*) FROM migrate.fingerprint'),
	'the fingerprint came through the dump');
my $drift_query = q{SELECT string_agg(object_type || ' ' || object_identity || ' ' || change, ',' ORDER BY object_identity) FROM migrate.drift()};
is($node->safe_psql('old', $drift_query), 'index public.users_email added',
	'the index made by hand is drift in the dumped database');
is($node->safe_psql('restored', $drift_query), $node->safe_psql('old', $drift_query),
	'the restored database has the same drift');
# and the update's new functions work there
is( $node->safe_psql('restored',
		"SELECT count(*) FROM migrate.status('{\"0001_users.sql\": \"CREATE TABLE users (id int PRIMARY KEY);\\n\"}'::jsonb)"),
	'4', 'the files form reads the restored history');
$node->safe_psql('restored', "CALL migrate.run_rollback('0002_seed')");
is(status_of($node, $dir, 'restored'), '0001_users=applied,0002_seed=pending,0003_emails=pending,0004_notes=pending',
	'run_rollback works in the restored database, the generated down script too');
is($node->safe_psql('restored', q{SELECT to_regclass('public.notes') IS NULL}), 't',
	'the generated down script dropped the table');

$node->stop;
done_testing();
