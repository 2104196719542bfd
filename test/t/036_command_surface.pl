# The pg_migrate command's lifecycle commands, each a call of the SQL
# function of the same name with the folder sent as data: lint, plan and
# check judge a folder and change nothing; baseline, mark-applied, forget,
# accept and retry change what the database recorded; --target on apply
# and run stops at a migration.  Each one: its lines and summary, --json,
# a failure's exit status and message, and its usage errors.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PgMigrateCommand;

my $node = command_node('command_surface');
$node->safe_psql(
	'postgres', q{
	GRANT EXECUTE ON FUNCTION migrate.lint(jsonb, text, text),
	                          migrate.plan(jsonb, text, text),
	                          migrate.check(jsonb, text, text),
	                          migrate.baseline(jsonb, text, text, text),
	                          migrate.mark_applied(jsonb, text, text, text),
	                          migrate.forget(text),
	                          migrate.accept(jsonb, text, text, text),
	                          migrate.retry(text) TO deployer;
});
my $dir = migrations_dir();
sub migration { write_migration($dir, @_); }
sub applied
{
	return $node->safe_psql('postgres',
		q{SELECT coalesce(string_agg(name, ',' ORDER BY id), '') FROM migrate.migrations});
}
my ($rc, $out, $err);

migration('0001_users.sql', "CREATE TABLE users (id int PRIMARY KEY);\n");
migration('0002_email.sql', "ALTER TABLE users ADD COLUMN email text;\n");

# --- lint: findings of the pending migrations, nothing run
($rc, $out, $err) = pg_migrate($node, [ 'lint', $dir ]);
is($rc, 0, 'lint of a clean folder exits 0');
like($out, qr/^no findings$/m, 'lint says there is nothing to say');
($rc, $out, $err) = pg_migrate($node, [ '--json', 'lint', $dir ]);
is_deeply(decode_json($out), [], 'lint --json of a clean folder is []');

my $bad = migrations_dir();
write_migration($bad, '0001_broken.sql', "CREATE TABLE broken (id int;\n");
write_migration($bad, '0002_gone.sql', "ALTER TABLE nosuch ADD COLUMN x int;\n");
($rc, $out, $err) = pg_migrate($node, [ 'lint', $bad ]);
is($rc, 1, 'lint exits 1 when a finding is an error');
like($out, qr/^0001_broken +error +0001_broken\.sql:1 +invalid_statement: 42601: syntax error/m,
	'lint prints the finding: migration, severity, file and line, rule, message');
like($out, qr/^1 finding: 1 error$/m, 'lint counts its findings');
($rc, $out, $err) = pg_migrate($node, [ '--json', 'lint', $bad ]);
my $rows = decode_json($out);
is(scalar @$rows, 1, 'lint --json: one object per finding');
is_deeply([ @{ $rows->[0] }{qw(migration file line rule severity)} ],
	[ '0001_broken', '0001_broken.sql', 1, 'invalid_statement', 'error' ],
	'lint --json has the columns of migrate.lint');

# --server-dir calls the text form (which deployer may not execute)
($rc, $out, $err) = pg_migrate($node, [ '--server-dir', 'lint', $dir ]);
is($rc, 1, 'lint --server-dir refused by the server exits 1');
like($err, qr/ERROR:  permission denied for function lint/,
	'lint --server-dir calls migrate.lint(dir, format)');

# --- plan: a test run, always rolled back
($rc, $out, $err) = pg_migrate($node, [ 'plan', $dir ]);
is($rc, 0, 'plan exits 0');
like($out, qr/^0001_users +0001_users\.sql:1 +CREATE TABLE +locks .*users AccessExclusiveLock/m,
	'plan prints each statement with the locks it took');
like($out, qr/^0002_email +0002_email\.sql:1 +ALTER TABLE /m, 'and the next migration\'s');
like($out, qr/^2 statements: 2 executed \(all rolled back\)$/m, 'plan counts the statements');
is(applied(), '', 'plan applied nothing');
($rc, $out, $err) = pg_migrate($node, [ '--json', 'plan', $dir ]);
$rows = decode_json($out);
is(scalar @$rows, 2, 'plan --json: one object per statement');
is($rows->[0]{command}, 'CREATE TABLE', 'with its command');
ok($rows->[0]{executed}, 'whether it was executed');
ok(grep({ /users AccessExclusiveLock/ } @{ $rows->[0]{locks} }), 'the locks, as an array');
like($rows->[0]{duration}, qr/^[0-9.e-]+$/, 'the duration in seconds');

write_migration($bad, '0001_broken.sql', "CREATE TABLE broken (id int);\n");
write_migration($bad, '0003_conc.sql',
	"-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY broken_id ON broken (id);\n");
($rc, $out, $err) = pg_migrate($node, [ 'plan', $bad ]);
is($rc, 1, 'plan exits 1 when a statement fails');
like($out, qr/^0002_gone +0002_gone\.sql:1 +ALTER TABLE +error: 42P01: relation "nosuch" does not exist$/m,
	'plan prints the failed statement with its error');
like($out, qr/^0003_conc +0003_conc\.sql:2 +CREATE INDEX +not executed: the migration runs outside a transaction block, so it cannot be rolled back$/m,
	'plan prints a statement not executed with the reason');
like($out, qr/^3 statements: 1 executed, 1 failed, 1 not executed \(all rolled back\)$/m, 'and counts each');

# --- check: 3 when not up to date, as status --check
($rc, $out, $err) = pg_migrate($node, [ 'check', $dir ]);
is($rc, 3, 'check of a folder with pending migrations exits 3');
like($err, qr/ERROR:  database is not up to date with migrations folder .*\nDETAIL:  Pending \(2\): "0001_users", "0002_email"\./,
	'check prints the server\'s error and what is pending');
($rc, $out, $err) = pg_migrate($node, [ '--json', 'check', $dir ]);
$rows = decode_json($out);
is_deeply([ $rows->[0]{up_to_date}, $rows->[0]{detail} ],
	[ JSON::PP::false, 'Pending (2): "0001_users", "0002_email".' ],
	'check --json says it is not up to date, and why');

# --- --target on apply and run
($rc, $out, $err) = pg_migrate($node, [ 'apply', '--target', 'nosuch', $dir ]);
is($rc, 1, 'apply --target of a migration not in the folder exits 1');
like($err, qr/ERROR:  .*"nosuch"/, 'and names it');
($rc, $out, $err) = pg_migrate($node, [ 'apply', '--target', '0001_users', $dir ]);
is($rc, 0, 'apply --target exits 0');
like($out, qr/^applied 0001_users .*\n1 migration applied in/m, 'apply --target applies up to the target');
is(applied(), '0001_users', 'and nothing after it');
($rc, $out, $err) = pg_migrate($node, [ 'run', '--target=0002', $dir ]);
is($rc, 0, 'run --target (a version) exits 0');
is(applied(), '0001_users,0002_email', 'run --target applies up to it');

($rc, $out, $err) = pg_migrate($node, [ 'check', $dir ]);
is($rc, 0, 'check of a folder applied exits 0');
like($out, qr/^the database is up to date with the folder$/m, 'check says so');
($rc, $out, $err) = pg_migrate($node, [ '--json', 'check', $dir ]);
is_deeply(decode_json($out), [ { up_to_date => JSON::PP::true } ], 'check --json says so');

# --- forget: the record goes, the column stays
($rc, $out, $err) = pg_migrate($node, [ 'forget', '0002_email' ]);
is($rc, 0, 'forget exits 0');
like($out, qr/^0002_email  forgotten\n1 migration: 1 forgotten$/m, 'forget prints the migration and a summary');
is(applied(), '0001_users', 'forget deleted the record');
($rc, $out, $err) = pg_migrate($node, [ '--json', 'forget', '0002_email' ]);
is($rc, 1, 'forget of a migration not applied exits 1');
like($err, qr/ERROR:  migration "0002_email" is not applied/, 'and says so');
is_deeply(decode_json($out), [], 'forget --json that failed prints []');

# --- mark-applied: recorded, not run
$node->safe_psql('postgres', 'ALTER TABLE users DROP COLUMN email');
($rc, $out, $err) = pg_migrate($node, [ '--json', 'mark-applied', $dir, '0002_email' ]);
is($rc, 0, 'mark-applied exits 0');
is_deeply(decode_json($out), [ { name => '0002_email', action => 'marked applied' } ],
	'mark-applied --json prints the row of migrate.mark_applied');
is(applied(), '0001_users,0002_email', 'the migration is recorded');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'email'}),
	'0', 'but was not run');
($rc, $out, $err) = pg_migrate($node, [ 'mark-applied', $dir, '0002_email' ]);
is($rc, 1, 'mark-applied of a migration applied exits 1');
like($err, qr/ERROR:  .*"0002_email" .*already/, 'and says so');

# --- accept: an edited file recorded as it is now
migration('0002_email.sql', "-- the address\nALTER TABLE users ADD COLUMN email text;\n");
($rc, $out, $err) = pg_migrate($node, [ 'check', $dir ]);
is($rc, 3, 'check of an edited applied file exits 3');
($rc, $out, $err) = pg_migrate($node, [ 'accept', $dir, '0002_email' ]);
is($rc, 0, 'accept exits 0');
like($out, qr/^0002_email  accepted\n1 migration: 1 accepted$/m, 'accept prints the migration');
($rc, $out, $err) = pg_migrate($node, [ 'check', $dir ]);
is($rc, 0, 'after accept, check passes');
($rc, $out, $err) = pg_migrate($node, [ 'accept', $dir, '0002_email' ]);
is($rc, 0, 'accept of a file as recorded exits 0');
like($out, qr/^nothing to accept: the files are as recorded$/m, 'and says there was nothing to accept');
($rc, $out, $err) = pg_migrate($node, [ 'accept', $dir, '0009_none' ]);
is($rc, 1, 'accept of a migration not in the folder exits 1');

# --- baseline: every migration up to UP_TO recorded, none run
($rc, $out, $err) = pg_migrate($node, [ 'baseline', $dir, '0001' ]);
is($rc, 1, 'baseline of a database with records exits 1');
like($err, qr/ERROR:  cannot baseline a database that already has migrations recorded/,
	'and says why');
pg_migrate($node, [ 'forget', $_ ]) for ('0002_email', '0001_users');
is(applied(), '', '(records forgotten)');
($rc, $out, $err) = pg_migrate($node, [ 'baseline', $dir, '0002' ]);
is($rc, 0, 'baseline exits 0');
like($out, qr/^0001_users  baselined\n0002_email  baselined\n2 migrations: 2 baselined$/m,
	'baseline prints each migration recorded');
is(applied(), '0001_users,0002_email', 'baseline recorded them');

# --- retry: a failed migration runs again though its file is unchanged
migration('0003_fails.sql', "SELECT 1/0;\n");
($rc, $out, $err) = pg_migrate($node, [ 'run', $dir ]);
is($rc, 1, '(a failing migration)');
($rc, $out, $err) = pg_migrate($node, [ 'run', $dir ]);
like($err, qr/failed before and its file has not changed/, '(refused the second time)');
($rc, $out, $err) = pg_migrate($node, [ '--json', 'retry', '0003_fails' ]);
is($rc, 0, 'retry exits 0');
is_deeply(decode_json($out), [ { name => '0003_fails', action => 'retry' } ], 'retry --json');
($rc, $out, $err) = pg_migrate($node, [ 'run', $dir ]);
like($err, qr/division by zero/, 'after retry, run executes the migration again');
unlike($err, qr/failed before/, 'instead of refusing it');
($rc, $out, $err) = pg_migrate($node, [ 'retry', '0001_users' ]);
is($rc, 1, 'retry of a migration that did not fail exits 1');
like($err, qr/ERROR:  migration "0001_users" has no failed attempt to retry/, 'and says so');

# --- usage errors: exit 2, before connecting
for my $case (
	[ [ 'lint' ], qr/lint needs the migrations folder DIR/ ],
	[ [ 'baseline', $dir ], qr/baseline needs the migrations folder DIR and UP_TO/ ],
	[ [ 'mark-applied', $dir ], qr/mark-applied needs the migrations folder DIR and NAME/ ],
	[ [ 'forget' ], qr/forget needs NAME/ ],
	[ [ 'forget', '--format=plain', 'x' ], qr/forget takes no folder/ ],
	[ [ 'retry', 'a', 'b' ], qr/too many arguments: "b"/ ],
	[ [ 'plan', '--allow-drift', $dir ], qr/plan takes no --check, --allow-drift/ ],
	[ [ 'status', '--target', 'x', $dir ], qr/--target goes with apply and run only/ ],
	[ [ 'lints', $dir ], qr/unrecognized command "lints"/ ])
{
	($rc, $out, $err) = pg_migrate($node, $case->[0], PGPORT => 1);
	is($rc, 2, "pg_migrate @{$case->[0]}: exit 2");
	like($err, $case->[1], "pg_migrate @{$case->[0]}: says what is wrong");
}

done_testing();
