# What the pg_migrate command reports of a run is what the server
# committed: with lock retries, each migration once, a failed one not as
# applied, in the lines, in --json and in the summary; a migration adopted
# from the folder's own tool names that tool; and a reader of standard
# output that goes away neither kills the command nor stops the run.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use IPC::Run;
use Time::HiRes qw(sleep);
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PgMigrateCommand;

my $node = command_node('command_progress');
my $dir = migrations_dir();
sub migration { write_migration($dir, @_); }

$node->safe_psql('postgres', 'SET ROLE deployer; CREATE TABLE accounts (id int)');
# The settings of 016_lock_retries.pl, for the command's session
sub retries
{
	my ($n) = @_;
	return (PGOPTIONS => '-c migrate.lock_timeout=100ms -c migrate.lock_retry_delay=50ms'
		  . " -c migrate.lock_retries=$n");
}

# Wait until the run has retried at least twice
sub wait_retries
{
	my ($h, $err) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		$h->pump_nb;
		my @n = ($$err =~ /retrying in \d+ ms/g);
		return 1 if @n >= 2;
		sleep 0.1;
	}
	return 0;
}

# A reader holds a lock that the second migration needs
migration('0001_other.sql', "CREATE TABLE other (id int);\n");
migration('0002_add_column.sql', "SELECT 1;\nALTER TABLE accounts ADD COLUMN email text;\n");
migration('0003_no_tx.sql',
	"-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY other_id ON other (id);\n");
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN; LOCK TABLE accounts IN ACCESS SHARE MODE;');

# The lock is never released: the retries run out and the migration fails
my ($rc, $out, $err) = pg_migrate($node, [ '--json', 'run', $dir ], retries(2));
is($rc, 1, 'run whose retries run out exits 1');
like($err, qr/retry 2 of 2/, 'it was retried');
my $rows = decode_json($out);
is_deeply([ map { "$_->{name}=$_->{action}" } @$rows ], ['0001_other=applied'],
	'--json lists the migration committed, not the one that failed after retries');
like($err, qr/run stopped at migration "0002_add_column"; the migration applied before it stays applied\n/,
	'the summary counts one migration applied');

# Retries until the reader is gone: each migration once
my ($h, $hout, $herr) = pg_migrate_start($node, [ 'run', $dir ], retries(1000));
ok(wait_retries($h, $herr), '(run is retrying)');
$holder->query_safe('COMMIT');
$h->finish;
is($h->result(0), 0, 'run that got its lock after retries exits 0');
like($$hout,
	qr/\Aapplied 0002_add_column \(\d+ ms\)\napplied 0003_no_tx \(\d+ ms\)\n2 migrations applied in [\d.]+ m?s\n\z/,
	'each migration printed once, the retried one included, and counted once');
is( $node->safe_psql('postgres', 'SELECT string_agg(name, \',\' ORDER BY id) FROM migrate.migrations'),
	'0001_other,0002_add_column,0003_no_tx', 'as the server recorded them');

# The same with --json
migration('0004_drop_column.sql', "ALTER TABLE accounts DROP COLUMN email;\n");
migration('0005_more.sql', "CREATE TABLE more (id int);\n");
$holder->query_safe('BEGIN; LOCK TABLE accounts IN ACCESS SHARE MODE;');
($h, $hout, $herr) = pg_migrate_start($node, [ '--json', 'run', $dir ], retries(1000));
ok(wait_retries($h, $herr), '(run --json is retrying)');
$holder->query_safe('COMMIT');
$h->finish;
is($h->result(0), 0, 'run --json exits 0');
$rows = decode_json($$hout);
is_deeply([ map { "$_->{name}=$_->{action}" } @$rows ],
	[ '0004_drop_column=applied', '0005_more=applied' ],
	'--json lists each migration once');
$holder->quit;

# Adopted migrations name the folder's tool (dbmate here), in apply and run
my $dbmate = migrations_dir();
write_migration($dbmate, '20240101000000_widgets.sql',
	"-- migrate:up\nCREATE TABLE widgets (id int);\n\n-- migrate:down\nDROP TABLE widgets;\n");
write_migration($dbmate, '20240102000000_gadgets.sql',
	"-- migrate:up\nCREATE TABLE gadgets (id int);\n\n-- migrate:down\nDROP TABLE gadgets;\n");
$node->safe_psql('postgres', q{
	CREATE DATABASE dbmate_db;
});
$node->safe_psql('dbmate_db', q{
	CREATE EXTENSION pg_migrate;
	GRANT CREATE ON SCHEMA public TO deployer;
	GRANT USAGE ON SCHEMA migrate TO deployer;
	GRANT EXECUTE ON FUNCTION migrate.apply(jsonb, text, boolean, text, text, boolean) TO deployer;
	GRANT EXECUTE ON PROCEDURE migrate.run(jsonb, text, boolean, text, text, boolean) TO deployer;
	SET ROLE deployer;
	CREATE TABLE widgets (id int);
	CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY);
	INSERT INTO schema_migrations VALUES ('20240101000000');
});
($rc, $out, $err) = pg_migrate($node, [ 'apply', $dbmate ], PGDATABASE => 'dbmate_db');
is($rc, 0, 'apply of a dbmate folder exits 0');
like($out, qr/^adopted 20240101000000_widgets \(applied by dbmate\)\napplied 20240102000000_gadgets \(\d+ ms\)\n/,
	'apply names dbmate as the tool that applied what it adopted');
write_migration($dbmate, '20240103000000_gizmos.sql',
	"-- migrate:up\nCREATE TABLE gizmos (id int);\n\n-- migrate:down\nDROP TABLE gizmos;\n");
$node->safe_psql('dbmate_db',
	"SET ROLE deployer; CREATE TABLE gizmos (id int); INSERT INTO schema_migrations VALUES ('20240103000000')");
($rc, $out, $err) = pg_migrate($node, [ 'run', $dbmate ], PGDATABASE => 'dbmate_db');
is($rc, 0, 'run of a dbmate folder exits 0');
like($out, qr/\Aadopted 20240103000000_gizmos \(applied by dbmate\)\n1 migration applied in [\d.]+ m?s\n\z/,
	'run names dbmate too, and counts the adopted migration');

# A reader of standard output that goes away: the command is not killed,
# the run goes on to its end, and the exit status is the run's
migration('0006_six.sql', "CREATE TABLE six (id int);\n");
migration('0007_seven.sql', "CREATE TABLE seven (id int);\n");
my $pipe_err = '';
{
	local %ENV = (%ENV, connection_env($node));
	delete $ENV{PGOPTIONS};
	# as in a terminal: the harness may ignore SIGPIPE, which children inherit
	local $SIG{PIPE} = 'DEFAULT';
	IPC::Run::run(
		[
			'bash', '-c',
			'pg_migrate run "$1" | (exec 0<&-; sleep 1); echo "exit ${PIPESTATUS[0]}" >&2',
			'bash', $dir
		],
		'<', \undef, '>', \my $ignored, '2>', \$pipe_err);
}
note($pipe_err);
like($pipe_err, qr/^exit 0$/m, 'a closed standard output does not kill the command (not 141)');
like($pipe_err, qr/could not write to standard output: Broken pipe; the rest of the results are not printed, and the call goes on/,
	'it says once that the results are not printed');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM migrate.migrations WHERE name IN ('0006_six', '0007_seven')"),
	'2', 'and the run went on to its end');

$node->stop;
done_testing();
