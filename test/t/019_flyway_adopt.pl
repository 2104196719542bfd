# Switching from Flyway: its flyway_schema_history, written here by the
# statements Flyway runs on PostgreSQL (PostgreSQLDatabase.getRawCreateScript,
# Database.getInsertStatement, with Flyway's ChecksumCalculator), is
# adopted: versioned migrations by version, repeatable ones when their
# last run had the file's checksum, everything up to a baseline.
# pg_migrate only reads the table, so a trigger on it never runs; a view
# in its place, or a table whose owner the caller cannot act as, is refused.
use strict;
use warnings;
use Compress::Zlib qw(crc32);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = start_node('flyway');
$node->safe_psql('postgres', 'CREATE ROLE app LOGIN; CREATE ROLE deployer LOGIN');

# A Flyway folder; the repeatable view has a byte order mark and CRLF line
# ends, which Flyway's checksum leaves out
my $dir = PostgreSQL::Test::Utils::tempdir . '/migrations';
mkdir $dir;
my %sql = (
	'V1__create_users.sql' => "CREATE TABLE fw_users (id int PRIMARY KEY);\n",
	'V1_1__add_email.sql' => "ALTER TABLE fw_users\n  ADD COLUMN email text;\n",
	'V2__lessons.sql' => "CREATE TABLE fw_lessons (id int);\n",
	'U2__lessons.sql' => "DROP TABLE fw_lessons;\n",
	'R__user_emails.sql' =>
	  "\xEF\xBB\xBFCREATE OR REPLACE VIEW fw_user_emails AS\r\nSELECT id, email FROM fw_users;\r\n");
write_migration($dir, $_, $sql{$_}) foreach keys %sql;

sub query { my ($db, $sql, @opts) = @_; return $node->safe_psql($db, $sql, @opts); }

# Flyway's ChecksumCalculator: the CRC-32 of the file's lines, read
# without their line breaks and the first without a byte order mark, as a
# Java int
sub flyway_checksum
{
	my ($text) = @_;
	my @lines = split /\r\n|\r|\n/, $text;
	$lines[0] =~ s/^\xEF\xBB\xBF// if @lines;
	my $crc = crc32(join('', @lines));
	return $crc >= 2**31 ? $crc - 2**32 : $crc;
}

# The table as Flyway creates it in schema "public"
sub flyway_create
{
	my ($db, @opts) = @_;
	query($db, q{
CREATE TABLE "public"."flyway_schema_history" (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL
);
ALTER TABLE "public"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");
}, @opts);
	return;
}

# A row as Flyway's getInsertStatement() writes it, at the next rank
sub flyway_row
{
	my ($db, $version, $description, $type, $script, $checksum, $success, @opts) = @_;
	my $v = defined $version ? "'$version'" : 'NULL';
	my $c = defined $checksum ? $checksum : 'NULL';
	query($db, qq{
INSERT INTO "public"."flyway_schema_history" ("installed_rank", "version", "description", "type", "script", "checksum", "installed_by", "execution_time", "success")
SELECT coalesce(max(installed_rank), 0) + 1, $v, '$description', '$type', '$script', $c, current_user, 12, $success
FROM "public"."flyway_schema_history"}, @opts);
	return;
}

# Flyway's "migrate" of these files: each run, then logged
sub flyway_migrate
{
	my ($db, @files) = @_;
	foreach my $file (@files)
	{
		my ($kind, $version, $description) = $file =~ /^([VR])([\d_]*)__(.*)\.sql$/ or die $file;
		$version =~ s/_/./g;
		$description =~ s/_/ /g;
		query($db, $sql{$file});
		flyway_row($db, $kind eq 'V' ? $version : undef, $description, 'SQL', $file,
			flyway_checksum($sql{$file}), 'true');
	}
	return;
}

sub history_row_count
{
	my ($db) = @_;
	return query($db, 'SELECT count(*) FROM flyway_schema_history');
}

# 1. Flyway applied V1, V1.1 and the repeatable view: status shows them
# applied, run adopts them and applies only V2, and Flyway's table is read,
# never written
query('postgres', 'CREATE DATABASE one');
query('one', 'CREATE EXTENSION pg_migrate');
flyway_create('one');
flyway_migrate('one', 'V1__create_users.sql', 'V1_1__add_email.sql', 'R__user_emails.sql');
is(status_of($node, $dir, 'one'),
	'R__user_emails=applied,V1_1__add_email=applied,V1__create_users=applied,V2__lessons=pending',
	'status shows what Flyway applied as applied');
query('one', "CALL migrate.run('$dir')");
is( query('one', "SELECT string_agg(action || ':' || name || coalesce(':' || tool_table, ''), ',' ORDER BY id) FROM migrate.history"),
	'adopt:V1__create_users:public.flyway_schema_history,adopt:V1_1__add_email:public.flyway_schema_history,'
	  . 'apply:V2__lessons,adopt:R__user_emails:public.flyway_schema_history',
	'run adopts the three and applies V2 only, each logged');
is(history_row_count('one'), '3', 'Flyway\'s table is not written');
is(query('one', "SELECT to_regclass('fw_lessons') IS NOT NULL"), 't', 'V2 ran');
is( query('one', "SELECT string_agg(name, ',' ORDER BY name) FROM migrate.rollback('V2__lessons')"),
	'V2__lessons', 'rollback of V2 with its undo script');
is(history_row_count('one'), '3', 'leaves Flyway\'s table alone');

# 2. The repeatable view changed after Flyway last ran it: pending, and run
# again; a versioned file changed after Flyway ran it is adopted with a
# warning naming both checksums
query('postgres', 'CREATE DATABASE two');
query('two', 'CREATE EXTENSION pg_migrate');
flyway_create('two');
flyway_migrate('two', 'V1__create_users.sql', 'V1_1__add_email.sql');
query('two', $sql{'R__user_emails.sql'});
flyway_row('two', undef, 'user emails', 'SQL', 'R__user_emails.sql',
	flyway_checksum("CREATE VIEW fw_user_emails AS SELECT id FROM fw_users;\n"), 'true');
query('two', q{UPDATE flyway_schema_history SET checksum = 12345 WHERE version = '1'});
is(status_of($node, $dir, 'two'),
	'R__user_emails=pending,V1_1__add_email=applied,V1__create_users=applied,V2__lessons=pending',
	'a repeatable whose last run had another checksum is pending');
my ($ret, $stdout, $stderr) =
  $node->psql('two', "\\set VERBOSITY verbose\nCALL migrate.run('$dir')");
like($stderr,
	qr/WARNING:  XX001: migration "V1__create_users" changed after Flyway applied it\nDETAIL:  Flyway's tracking table "public\.flyway_schema_history" records checksum 12345 for version 1, and file "V1__create_users\.sql" has checksum -?\d+ now\./,
	'a versioned migration whose file changed is adopted with a warning (data_corrupted, as drift is)');
is( query('two', "SELECT string_agg(name || ':' || action, ',' ORDER BY id) FROM migrate.history"),
	'V1__create_users:adopt,V1_1__add_email:adopt,V2__lessons:apply,R__user_emails:apply',
	'the changed repeatable runs again');

# 3. A baseline at 1.1 (flyway baseline -baselineVersion=1.1) and a failed
# run of V2 (Flyway keeps those of non-transactional migrations): V1 and
# V1.1 are applied, V2 is not.  A version that "repair" marked deleted is
# not applied either
query('postgres', 'CREATE DATABASE three');
query('three', 'CREATE EXTENSION pg_migrate');
flyway_create('three');
flyway_row('three', '1.1', '<< Flyway Baseline >>', 'BASELINE', '<< Flyway Baseline >>', undef, 'true');
flyway_row('three', '2', 'lessons', 'SQL', 'V2__lessons.sql', flyway_checksum($sql{'V2__lessons.sql'}), 'false');
is(status_of($node, $dir, 'three'),
	'R__user_emails=pending,V1_1__add_email=applied,V1__create_users=applied,V2__lessons=pending',
	'up to the baseline is applied, a failed run is not');
query('three', q{DELETE FROM flyway_schema_history;
	INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success)
	VALUES (1, '1', 'create users', 'SQL', 'V1__create_users.sql', NULL, current_user, 1, true),
	       (2, '1.1', 'add email', 'SQL', 'V1_1__add_email.sql', NULL, current_user, 1, true),
	       (3, '1.1', 'add email', 'DELETE', 'V1_1__add_email.sql', NULL, current_user, 0, true)});
is(status_of($node, $dir, 'three'),
	'R__user_emails=pending,V1_1__add_email=pending,V1__create_users=applied,V2__lessons=pending',
	'a version marked deleted by repair is pending');

# 4. The table belongs to the app's role.  pg_migrate never writes it, so
# app's trigger on it stands and never runs; a view in its place would run
# app's code on reading, and is refused; so is a caller without app's
# privileges
query('postgres', 'CREATE DATABASE four');
query('four', 'CREATE EXTENSION pg_migrate; GRANT ALL ON SCHEMA public TO app');
app_code($node, 'four');
flyway_create('four', extra_params => [ '-U', 'app' ]);
flyway_row('four', '1', 'create users', 'SQL', 'V1__create_users.sql',
	flyway_checksum($sql{'V1__create_users.sql'}), 'true', extra_params => [ '-U', 'app' ]);
query('four', $sql{'V1__create_users.sql'}, extra_params => [ '-U', 'app' ]);
query('four', q{CREATE TRIGGER t BEFORE INSERT OR UPDATE OR DELETE ON flyway_schema_history
	FOR EACH ROW EXECUTE FUNCTION appfn.pwn_trigger()}, extra_params => [ '-U', 'app' ]);
is(query('four', "SELECT string_agg(name || ':' || action, ',' ORDER BY name) FROM migrate.apply('$dir')"),
	'R__user_emails:applied,V1_1__add_email:applied,V1__create_users:adopted,V2__lessons:applied',
	'app\'s table with a trigger: read, and V1 adopted');
is(app_code_ran($node, 'four'), '0,false', 'the trigger did not run');

query('four', q{ALTER TABLE flyway_schema_history RENAME TO real_history;
	CREATE VIEW flyway_schema_history AS SELECT * FROM real_history WHERE appfn.pwn() IS NOT NULL},
	extra_params => [ '-U', 'app' ]);
like(error_of($node, 'four', "SELECT * FROM migrate.status('$dir')"),
	qr/ERROR:  Flyway's tracking table "public\.flyway_schema_history" is not a plain table\n.*DETAIL:  It is a view, whose query would run with the privileges of the role running pg_migrate\./,
	'a view in place of the table: status is refused');
is(app_code_ran($node, 'four'), '0,false', 'and the view\'s function did not run');
query('four', 'DROP VIEW flyway_schema_history; ALTER TABLE real_history RENAME TO flyway_schema_history',
	extra_params => [ '-U', 'app' ]);

query('four', q{
	GRANT USAGE ON SCHEMA migrate TO deployer;
	GRANT EXECUTE ON FUNCTION migrate.status(text, text) TO deployer;
	GRANT pg_read_server_files TO deployer});
like( error_of($node, 'four', "SELECT * FROM migrate.status('$dir')", extra_params => [ '-U', 'deployer' ]),
	qr/ERROR:  permission denied to use Flyway's tracking table "public\.flyway_schema_history"\n.*DETAIL:  It is owned by role "app", and role "deployer" does not have the privileges of that role\./,
	'a role without app\'s privileges is refused');

$node->stop;
done_testing();
