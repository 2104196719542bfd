# Drift found from the schema's fingerprint alone, where no event trigger
# sees the DDL: a superuser's session with session_replication_role =
# replica (and, from PostgreSQL 17, event_triggers = off) changes the
# schema; an event trigger of the database's own does not fire, and still
# migrate.drift(), migrate.status() and migrate.check() find the change.
# And a run terminated between two migrations leaves no false drift.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = start_node('drift_without_event_triggers');
my $dir = PostgreSQL::Test::Utils::tempdir;

# the schema, and an event trigger that logs every DDL command
write_migration($dir, '0001_accounts.sql', <<'EOF');
CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL);
CREATE TABLE ddl_seen (tag text, identity text);
CREATE FUNCTION log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
        INSERT INTO public.ddl_seen VALUES (r.command_tag, r.object_identity);
    END LOOP;
END $$;
CREATE EVENT TRIGGER log_ddl ON ddl_command_end EXECUTE FUNCTION log_ddl();
EOF
$node->safe_psql('postgres', "SELECT count(*) FROM migrate.apply('$dir')");
is($node->safe_psql('postgres', 'SELECT count(*) FROM migrate.drift()'),
	'0', 'no drift after the migration');

my $drift_query =
    "SELECT string_agg(format('%s %s %s: %s', object_type, object_identity, "
  . "change, description), E'\\n' ORDER BY object_type, object_identity) "
  . "FROM migrate.drift()";

# a hotfix typed by a superuser with event triggers out of the way
$node->safe_psql(
	'postgres', q{
SET session_replication_role = replica;
ALTER TABLE accounts ADD COLUMN sneaky text;
CREATE INDEX accounts_email ON accounts (email);
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM ddl_seen'),
	'0', 'the event trigger did not see the hotfix');
is( $node->safe_psql('postgres', $drift_query),
	"index public.accounts_email added: CREATE INDEX accounts_email ON public.accounts USING btree (email)\n"
	  . "table column public.accounts.sneaky added: text",
	'drift() finds the column and the index');

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SELECT count(*) FROM migrate.status('$dir')");
like(
	$stderr,
	qr/WARNING:  2 objects changed outside migrations since the last migration\nDETAIL:  index public.accounts_email \(added\), table column public.accounts.sneaky \(added\)\./,
	'status warns of it');

($ret, $stdout, $stderr) =
  $node->psql('postgres', "SELECT migrate.check('$dir')");
isnt($ret, 0, 'check fails');
like(
	$stderr,
	qr/database schema changed outside migrations since the last migration.*Changed outside migrations \(2\): index public.accounts_email \(added\), table column public.accounts.sneaky \(added\)/s,
	'... naming the changes');

# event_triggers = off (PostgreSQL 17 on) is no way around it either
SKIP:
{
	skip 'event_triggers exists from PostgreSQL 17 on', 2
	  if $node->safe_psql('postgres', 'SHOW server_version_num') < 170000;
	$node->safe_psql(
		'postgres', q{
SET event_triggers = off;
ALTER TABLE accounts ALTER COLUMN email DROP NOT NULL;
});
	is($node->safe_psql('postgres', 'SELECT count(*) FROM ddl_seen'),
		'0', 'event_triggers = off: the event trigger did not fire');
	like(
		$node->safe_psql('postgres', $drift_query),
		qr/^table column public.accounts.email changed: removed "not null"$/m,
		'... and drift() finds the change');
	$node->safe_psql('postgres',
		'ALTER TABLE accounts ALTER COLUMN email SET NOT NULL');
}

# undone by hand, the drift is gone and check passes again
$node->safe_psql(
	'postgres', q{
SET session_replication_role = replica;
ALTER TABLE accounts DROP COLUMN sneaky;
DROP INDEX accounts_email;
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM migrate.drift()'),
	'0', 'undone, nothing has drifted');
($ret, $stdout, $stderr) =
  $node->psql('postgres', "SELECT migrate.check('$dir')");
is($ret, 0, 'check passes again') or diag $stderr;

# run() takes the fingerprint with each migration it commits: a run
# terminated in the middle leaves no drift behind
write_migration($dir, '0002_orders.sql', "CREATE TABLE orders (id int);\n");
write_migration($dir, '0003_slow.sql', "SELECT pg_sleep(300);\n");
my $runner = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $runner->query_safe('SELECT pg_backend_pid()');
$runner->query_until(qr/started/, "\\echo started\nCALL migrate.run('$dir');\n");
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $pid AND wait_event = 'PgSleep'")
  or die 'the run never reached the slow migration';
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
# psql exits once its server process is gone, maybe before quit writes \q
# to it (a broken pipe, which would end the test)
eval { $runner->quit; };
is(status_of($node, $dir),
	'0001_accounts=applied,0002_orders=applied,0003_slow=pending',
	'a run terminated in its third migration kept the second');
is($node->safe_psql('postgres', $drift_query), '',
	'... and the fingerprint with it: no drift');

$node->stop;
done_testing();
