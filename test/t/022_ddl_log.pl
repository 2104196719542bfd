# The DDL log and migrate.ddl_policy seen from a second session: an
# ordinary login role with its own application_name adds a column outside
# any migration (logged with that role, application and statement; named
# by drift() and blame(); warned about; blocked), a superuser breaks glass
# (the change logged, and the setting in the server log), a role may be
# let through by name; and a database with a long DDL log goes through
# pg_dump and pg_restore (custom format, in parallel, and plain through
# psql) under every policy, the log coming through whole and no restore
# statement blocked, warned about or logged.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use IPC::Run;
use PgMigrateTest;
use PostgreSQL::Test::Utils;

my $node = start_node('ddl_log');
my $dir = PostgreSQL::Test::Utils::tempdir;
# TCP too, for client_addr
$node->append_conf('postgresql.conf', "listen_addresses = '127.0.0.1'");
$node->restart;

$node->safe_psql('postgres', q{
	CREATE ROLE app LOGIN;
	GRANT CREATE ON SCHEMA public TO app;
});
write_migration($dir, '0001_items.sql', "CREATE TABLE items (id int PRIMARY KEY);\nALTER TABLE items OWNER TO app;\n");
$node->safe_psql('postgres', "SELECT count(*) FROM migrate.apply('$dir')");

# Another extension is one row, not one per object its script creates; so
# is dropping it.  (Not in 31_ddl_log: pg_migrate needs plpgsql, and a
# server built without contrib has no other extension to install.)
SKIP:
{
	my $ext = $node->safe_psql('postgres', q{
		SELECT name FROM pg_available_extensions
		WHERE name IN ('citext', 'pg_trgm', 'tsm_system_rows') AND installed_version IS NULL
		ORDER BY name LIMIT 1});
	skip 'no extension besides plpgsql on this server (built without contrib)', 1
	  if $ext eq '';
	$node->safe_psql('postgres', "CREATE EXTENSION $ext; DROP EXTENSION $ext;");
	is( $node->safe_psql('postgres', q{
			SELECT string_agg(concat_ws('|', event, command_tag, object_type, object_identity, origin), ',' ORDER BY id)
			FROM migrate.ddl_log WHERE command_tag LIKE '% EXTENSION'}),
		"ddl_command_end|CREATE EXTENSION|extension|$ext|out_of_band,sql_drop|DROP EXTENSION|extension|$ext|out_of_band",
		'another extension: one row to create it, one to drop it');
	$node->safe_psql('postgres', 'DELETE FROM migrate.ddl_log WHERE migration IS NULL');
}

# the application's session: its own login and application_name
sub app
{
	my ($sql, $db) = @_;
	my ($ret, $stdout, $stderr) = $node->psql($db // 'postgres',
		"SET application_name = 'hotfix-console';\n$sql",
		extra_params => [ '-U', 'app' ]);
	return ($ret, $stderr);
}

sub set_policy
{
	my ($policy) = @_;
	$node->safe_psql('postgres',
		"LOAD 'pg_migrate'; ALTER SYSTEM SET migrate.ddl_policy = '$policy'; SELECT pg_reload_conf()");
	return;
}

sub last_row
{
	my ($db) = @_;
	return $node->safe_psql($db // 'postgres', q{
		SELECT concat_ws('|', session_user_name, current_user_name, application_name,
		                 command_tag, object_identity, statement, origin,
		                 coalesce(migration, '-'), break_glass)
		FROM migrate.ddl_log ORDER BY id DESC LIMIT 1});
}

is( $node->safe_psql('postgres',
		q{SELECT string_agg(command_tag || ' ' || object_identity || ' ' || migration || ' ' || origin, ',' ORDER BY id) FROM migrate.ddl_log WHERE migration IS NOT NULL}),
	'CREATE TABLE public.items 0001_items in_migration,CREATE INDEX public.items_pkey 0001_items in_migration,ALTER TABLE public.items 0001_items in_migration',
	'the migration\'s DDL is logged as in_migration, naming it');

# record, the default
my ($ret, $stderr) = app('ALTER TABLE items ADD COLUMN note text;');
is($ret, 0, 'record: the out-of-band change is made');
unlike($stderr, qr/WARNING/, 'record: without a warning');
is(last_row(),
	'app|app|hotfix-console|ALTER TABLE|public.items|ALTER TABLE items ADD COLUMN note text;|out_of_band|-|f',
	'record: the row names the role, the application and the statement');
is( $node->safe_psql('postgres', q{
		SELECT concat_ws('|', object_type, object_identity, change, changed_by,
		                 changed_at = (SELECT logged_at FROM migrate.ddl_log ORDER BY id DESC LIMIT 1))
		FROM migrate.drift()}),
	'table column|public.items.note|added|app|t',
	'drift() names the role that made the change and when');
is( $node->safe_psql('postgres', q{
		SELECT string_agg(concat_ws(' ', origin, migration, session_user_name, application_name), ',')
		FROM migrate.blame('items.note')}),
	'out_of_band app hotfix-console',
	'blame() of the column names the same');

# client_addr: the address of a TCP connection, null over a Unix socket
my ($tcp_out, $tcp_err);
IPC::Run::run(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d',
		'host=127.0.0.1 port=' . $node->port . ' dbname=postgres user=app',
		'-c', 'CREATE TABLE over_tcp (id int);' ],
	'>', \$tcp_out, '2>', \$tcp_err) or diag $tcp_err;
is( $node->safe_psql('postgres',
		q{SELECT string_agg(concat_ws('|', object_identity, coalesce(host(client_addr), 'null')), ',' ORDER BY id)
		  FROM migrate.ddl_log WHERE object_identity IN ('public.over_tcp', 'public.items') AND origin = 'out_of_band'}),
	'public.items|null,public.over_tcp|127.0.0.1',
	'client_addr: 127.0.0.1 over TCP, null over a Unix socket');

# warn
set_policy('warn');
($ret, $stderr) = app('ALTER TABLE items ADD COLUMN warned int;');
is($ret, 0, 'warn: the change is made');
like($stderr, qr/WARNING:  ALTER TABLE ran outside any migration/, 'warn: with a warning');
my $warnings = () = $stderr =~ /WARNING/g;
is($warnings, 1, 'warn: one warning');
like(last_row(), qr/^app\|app\|hotfix-console\|ALTER TABLE\|public\.items\|.*ADD COLUMN warned int;\|out_of_band/s,
	'warn: logged');

# block
set_policy('block');
my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM migrate.ddl_log');
($ret, $stderr) = app('ALTER TABLE items ADD COLUMN blocked int;');
isnt($ret, 0, 'block: the change is refused');
like($stderr, qr/ERROR:  permission denied to run ALTER TABLE outside a migration/, 'block: with the error');
like($stderr, qr/HINT:  Write the statement into a migration file/, 'block: saying how to make it');
($ret, $stderr) = app("SET migrate.allow_out_of_band_ddl = on;\nALTER TABLE items ADD COLUMN glass int;");
like($stderr, qr/permission denied to run ALTER TABLE outside a migration/,
	'block: the application cannot break glass');
{
	local $ENV{PGOPTIONS} = '-c migrate.ddl_policy=off';
	($ret, $stderr) = app('ALTER TABLE items ADD COLUMN policy_off int;');
	like($stderr, qr/ERROR:  permission denied to run ALTER TABLE outside a migration.*DETAIL:  This session gave migrate.ddl_policy a value/s,
		'block: nor turn the policy off from its connection options');
}
($ret, $stderr) = app(q{SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET client_min_messages = warning;
ALTER TABLE public.items ADD COLUMN restoring int;});
like($stderr, qr/permission denied to run ALTER TABLE outside a migration/,
	'block: a restore\'s settings let no ordinary login through');
($ret, $stderr) = app('CREATE TEMP TABLE scratch (id int); DROP TABLE scratch;');
is($ret, 0, 'block: temporary tables are never blocked');
is($node->safe_psql('postgres', 'SELECT count(*) FROM migrate.ddl_log'), $rows,
	'block: nothing refused was logged');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attnum > 0}),
	'id,note,warned', 'block: the table has no blocked column');

# ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY commits its first half
# before its end: under block it is refused before it starts, and leaves
# no partition half detached (refused at its end, it would)
SKIP:
{
	skip 'DETACH PARTITION ... CONCURRENTLY exists from PostgreSQL 14 on', 2
	  if $node->safe_psql('postgres', 'SHOW server_version_num') < 140000;
	$node->safe_psql('postgres', q{
		SET migrate.allow_out_of_band_ddl = on;
		CREATE TABLE parted (id int) PARTITION BY RANGE (id);
		CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10);});
	($ret, undef, $stderr) = $node->psql('postgres',
		'ALTER TABLE parted DETACH PARTITION parted_1 CONCURRENTLY');
	like($stderr,
		qr/ERROR:  permission denied to run ALTER TABLE outside a migration\nDETAIL:  migrate.ddl_policy is "block": the schema changes only through migrations\./,
		'block: DETACH PARTITION CONCURRENTLY is refused before it starts');
	is( $node->safe_psql('postgres',
			q{SELECT inhrelid::regclass || ' ' || inhdetachpending FROM pg_inherits WHERE inhparent = 'parted'::regclass}),
		'parted_1 false', '... and the partition is attached, no detach pending');
	$node->safe_psql('postgres',
		'SET migrate.allow_out_of_band_ddl = on; DROP TABLE parted');
}

# migrations run under block, the worker's too
write_migration($dir, '0002_sku.sql', "ALTER TABLE items ADD COLUMN sku text;\n");
write_migration($dir, '0003_sku_index.sql', "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY items_sku ON items (sku);\n");
$node->safe_psql('postgres', "CALL migrate.run('$dir')");
is( $node->safe_psql('postgres',
		q{SELECT string_agg(command_tag || ' ' || migration, ',' ORDER BY id) FROM migrate.ddl_log WHERE migration IN ('0002_sku', '0003_sku_index')}),
	'ALTER TABLE 0002_sku,CREATE INDEX 0003_sku_index', 'block: migrations still run and are logged');

# breaking glass: a superuser's session, logged, and the setting itself
# too, in the server log
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	SET migrate.allow_out_of_band_ddl = on;
	SET application_name = 'incident';
	ALTER TABLE items ADD COLUMN hotfix int;});
like(last_row(), qr/^postgres\|postgres\|incident\|ALTER TABLE\|public\.items\|.*ADD COLUMN hotfix int;\|out_of_band\|-\|t$/s,
	'break glass: the change is made and logged with break_glass');
like(slurp_file($node->logfile, $log_offset),
	qr/LOG:  migrate\.allow_out_of_band_ddl turned on: this session may change the schema outside migrations\n[^\n]*DETAIL:  Session user "postgres", current role "postgres"; each change/,
	'break glass: turning the setting on is logged, naming the session user');

# under record, a session that tries to turn the policy off gets block
set_policy('record');
{
	local $ENV{PGOPTIONS} = '-c migrate.ddl_policy=off';
	($ret, $stderr) = app('ALTER TABLE items ADD COLUMN policy_off int;');
	like($stderr, qr/permission denied to run ALTER TABLE outside a migration/,
		'a session that set migrate.ddl_policy without the right to is under block');
}
set_policy('block');

# a role let through by name (its partition maintenance, say)
$node->safe_psql('postgres', 'ALTER ROLE app SET migrate.allow_out_of_band_ddl = on');
$log_offset = -s $node->logfile;
($ret, $stderr) = app('CREATE TABLE app_partition (id int);');
is($ret, 0, 'a role given migrate.allow_out_of_band_ddl by a superuser is let through');
like(last_row(), qr/^app\|app\|hotfix-console\|CREATE TABLE\|public\.app_partition\|.*\|t$/s,
	'and what it does is logged with break_glass');
like(slurp_file($node->logfile, $log_offset),
	qr/LOG:  migrate\.allow_out_of_band_ddl turned on: this session may change the schema outside migrations\n[^\n]*DETAIL:  Session user "app", current role "app"/,
	'and its sessions\' use of the setting is logged, naming the role');
$node->safe_psql('postgres', 'ALTER ROLE app RESET migrate.allow_out_of_band_ddl');

# A long DDL log through pg_dump and pg_restore, under every policy
set_policy('record');
$node->safe_psql('postgres', q{
	CREATE TABLE churn (id int);
	DO $$
	BEGIN
		FOR i IN 1..500 LOOP
			EXECUTE format('ALTER TABLE churn ADD COLUMN c%s int', i);
			EXECUTE format('ALTER TABLE churn DROP COLUMN c%s', i);
		END LOOP;
	END
	$$;});
my $log_query = q{SELECT count(*) || ' ' || md5(string_agg(concat_ws('|', id, logged_at, xid, session_user_name,
	current_user_name, application_name, client_addr, backend_pid, event, command_tag, object_type,
	object_identity, schema_name, statement, migration, migration_source, origin, break_glass), ',' ORDER BY id))
	FROM migrate.ddl_log};
my $log = $node->safe_psql('postgres', $log_query);
cmp_ok((split / /, $log)[0], '>', 1500, 'a long DDL log');

my $dump = "$dir/../ddl.dump";
my $plain = "$dir/../ddl.sql";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ], 'pg_dump');
$node->command_ok([ 'pg_dump', '-f', $plain, '-d', $node->connstr('postgres') ], 'pg_dump, plain');

sub restore
{
	my ($name, @cmd) = @_;
	my ($out, $err);
	my $ok = IPC::Run::run(\@cmd, '>', \$out, '2>', \$err);
	ok($ok, "$name: succeeds") or diag($err);
	unlike($err // '', qr/ran outside any migration|permission denied/, "$name: no warning or refusal");
	return;
}

my $n = 0;
for my $policy ('record', 'warn', 'block', 'off')
{
	set_policy($policy);
	my @ways = (
		[ 'pg_restore', 'pg_restore', '-d' ],
		[ 'pg_restore -j 2', 'pg_restore', '-j', '2', '-d' ],
		[ 'psql -f of a plain dump', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $plain, '-d' ]);
	for my $way (@ways)
	{
		my ($label, @cmd) = @$way;
		my $db = 'restored_' . $n++;
		$node->safe_psql('postgres', "CREATE DATABASE $db");
		push @cmd, $node->connstr($db);
		push @cmd, $dump if $cmd[0] eq 'pg_restore';
		restore("$policy, $label", @cmd);
		is($node->safe_psql($db, $log_query), $log,
			"$policy, $label: the DDL log came through whole, and the restore added nothing to it");
		is( $node->safe_psql($db,
				q{SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attnum > 0 AND NOT attisdropped}),
			'id,note,warned,sku,hotfix', "$policy, $label: the schema came through");
	}
}

# the restored database's triggers work: under block, DDL there is refused
set_policy('block');
($ret, $stderr) = app('ALTER TABLE items ADD COLUMN after_restore int;', 'restored_0');
like($stderr, qr/permission denied to run ALTER TABLE outside a migration/,
	'the restored database blocks DDL outside migrations');
set_policy('record');

$node->stop;
done_testing();
