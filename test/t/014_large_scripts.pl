# Scripts are split into statements with the server's own scanner, then each
# statement is parsed on its own, so that a script of millions of statements
# (seed data) does not need all its parse trees in memory at once.  The split
# must be the one psql makes: a ';' inside parentheses or inside a
# SQL-standard function body (BEGIN ATOMIC ... END, with CASE ... END in it)
# does not end a statement.  Errors keep their file and line, however far
# into the file they are.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Digest::SHA qw(sha256_hex);
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $node = start_node('large');

# Each folder in a database of its own
sub fresh_db
{
	my ($db) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION pg_migrate');
	return $db;
}

# Bodies and parentheses holding ';'
my $bodies = PostgreSQL::Test::Utils::tempdir;
write_migration($bodies, '0001_bodies.sql', <<'SQL');
CREATE TABLE scores (score int);
CREATE TABLE score_log (note text);

CREATE FUNCTION grade(s int) RETURNS text LANGUAGE sql
BEGIN ATOMIC
  SELECT CASE WHEN s >= 90 THEN 'A'
              WHEN s >= 50 THEN 'B'
              ELSE 'C' END;
END;

CREATE OR REPLACE PROCEDURE add_score(s int) LANGUAGE sql
BEGIN ATOMIC
  INSERT INTO scores VALUES (s);
  INSERT INTO score_log SELECT CASE s WHEN 0 THEN 'zero' ELSE 'score ' || s END;
END;

CREATE RULE scores_log AS ON INSERT TO scores
  DO ALSO (INSERT INTO score_log VALUES ('rule 1'); INSERT INTO score_log VALUES ('rule 2'));
;;
CALL add_score(95);
-- "begin" as a name: psql's rule keeps the next ';' from ending the
-- statement, and the server's parser splits what psql sent as one
CREATE FUNCTION begin() RETURNS int LANGUAGE sql AS 'SELECT 7';
CREATE TABLE after_begin AS SELECT begin() AS b;
SQL
$node->safe_psql(fresh_db('bodies'), "SELECT * FROM migrate.apply('$bodies')");
is($node->safe_psql('bodies', 'SELECT grade(95) || grade(60) || grade(1)'),
	'ABC', 'a BEGIN ATOMIC body with CASE ... END runs as one statement');
is( $node->safe_psql(
		'bodies', 'SELECT string_agg(note, \',\' ORDER BY note) FROM score_log'),
	'rule 1,rule 2,score 95',
	'a procedure body and a rule with several actions run whole');
is($node->safe_psql('bodies', 'SELECT b FROM after_begin'),
	'7', 'statements after a function named "begin" run');

# Errors after such bodies and names: the line of the failing statement
my $late = PostgreSQL::Test::Utils::tempdir;
write_migration($late, '0001_late.sql', <<'SQL');
CREATE FUNCTION twice(i int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT i * 2;
END;
CREATE FUNCTION begin(i int) RETURNS int LANGUAGE sql AS 'SELECT i';
SELECT 1;
SELECT twice(1) / 0;
SQL
my ($ret, $stdout, $stderr) =
  $node->psql(fresh_db('late'), "SELECT * FROM migrate.apply('$late')");
like($stderr, qr/division by zero/, 'a runtime error after the bodies');
like($stderr, qr/CONTEXT:.*migration 0001_late\.sql, line 7/s,
	'names the line of its statement');

# Thousands of statements: all run, the file is recorded byte for byte
my $n = 5000;
my $seed = PostgreSQL::Test::Utils::tempdir;
my $sql = "CREATE TABLE seed (id int PRIMARY KEY, note text);\n";
$sql .= "INSERT INTO seed VALUES ($_, 'row $_; with a semicolon');\n"
  for 1 .. $n;
write_migration($seed, '0001_seed.sql', $sql);
$node->safe_psql(fresh_db('seed'), "SELECT * FROM migrate.apply('$seed')");
is($node->safe_psql('seed', 'SELECT count(*), sum(id) FROM seed'),
	"$n|" . ($n * ($n + 1) / 2), "all $n statements ran");
is( $node->safe_psql(
		'seed',
		"SELECT up_sql = pg_read_file('$seed/0001_seed.sql') AND checksum = '"
		  . sha256_hex($sql)
		  . "' FROM migrate.migrations WHERE name = '0001_seed'"),
	't',
	'the script is recorded as it is in the file, with its checksum');

# A syntax error near the end is found before anything runs
my $syntax = PostgreSQL::Test::Utils::tempdir;
my $bad = "CREATE TABLE not_created (id int);\n";
$bad .= "INSERT INTO not_created VALUES ($_);\n" for 1 .. 3000;
$bad .= "INSERT INTO not_created VALUES (1;\n";
write_migration($syntax, '0001_syntax.sql', $bad);
($ret, $stdout, $stderr) =
  $node->psql(fresh_db('syntax'), "CALL migrate.run('$syntax')");
like($stderr, qr/syntax error at or near ";"/, 'a syntax error on line 3002');
like($stderr, qr/CONTEXT:  migration 0001_syntax\.sql, line 3002/,
	'is reported with its line');
is($node->safe_psql('syntax', "SELECT to_regclass('not_created') IS NULL"),
	't', 'before any statement ran');

# A runtime error deep in the file: its line, and nothing applied
my $dup = PostgreSQL::Test::Utils::tempdir;
my $dupsql = "CREATE TABLE dup (id int PRIMARY KEY);\n";
$dupsql .= "INSERT INTO dup VALUES ($_);\n" for 1 .. 4000;
$dupsql .= "-- a comment line\nINSERT INTO dup VALUES (17);\n";
write_migration($dup, '0001_dup.sql', $dupsql);
($ret, $stdout, $stderr) =
  $node->psql(fresh_db('dup'), "SELECT * FROM migrate.apply('$dup')");
like($stderr, qr/duplicate key value violates unique constraint "dup_pkey"/,
	'a duplicate key after 4000 statements');
like($stderr, qr/CONTEXT:.*migration 0001_dup\.sql, line 4003/s,
	'is reported on its line');

# Thousands of statements outside a transaction, in the background worker
my $notx = PostgreSQL::Test::Utils::tempdir;
my $notxsql = "-- migrate:no-transaction\nCREATE TABLE notx (id int);\n";
$notxsql .= "INSERT INTO notx VALUES ($_);\n" for 1 .. 3000;
$notxsql .= "CREATE INDEX CONCURRENTLY notx_id_idx ON notx (id);\n";
write_migration($notx, '0001_notx.sql', $notxsql);
$node->safe_psql(fresh_db('notx'), "CALL migrate.run('$notx')");
is($node->safe_psql('notx', 'SELECT count(*) FROM notx'),
	'3000', 'the worker runs every statement of a long script');

$node->stop;
done_testing();
