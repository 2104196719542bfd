# The file line of an error is carried as a number, never read back from
# message text: with messages in another language (lc_messages), an error
# inside a DO block still names its line, in the error and in history.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;

my $locale = 'de_DE.UTF-8';
plan skip_all => "locale $locale is not installed (test/install-deps.sh generates it)"
  unless grep { /^de_DE\.utf-?8$/i } split /\n/, `locale -a`;

my $node = PostgreSQL::Test::Cluster->new('lines');
# a server built without --enable-nls (test/cassert.sh's) speaks English only
my @catalogue = glob($node->config_data('--localedir') . '/de/LC_MESSAGES/postgres-*.mo');
plan skip_all => 'the server has no German messages (built without --enable-nls)'
  unless @catalogue;
$node->init;
# the server's messages, the worker's included, in German
$node->append_conf('postgresql.conf', "lc_messages = '$locale'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_migrate');

my $dir = PostgreSQL::Test::Utils::tempdir;
my $do_block = <<'SQL';
CREATE TABLE lines_t (id int);
DO $$
BEGIN
  PERFORM 1;
  RAISE EXCEPTION 'boom';
END
$$;
SQL

sub failure_line
{
	my ($name) = @_;
	return $node->safe_psql('postgres',
		"SELECT line FROM migrate.history WHERE action = 'failure' AND name = '$name' ORDER BY id DESC LIMIT 1");
}

# in a transaction (SPI), and in the background worker
for my $case ([ '0001_in_transaction', '' ],
	[ '0001_no_transaction', "-- migrate:no-transaction\n" ])
{
	my ($name, $directive) = @$case;
	my $sub = "$dir/$name";
	mkdir $sub;
	my $lines = () = $directive =~ /\n/g;
	write_migration($sub, "$name.sql", $directive . $do_block);

	my ($ret, $out, $err) = $node->psql('postgres', "CALL migrate.run('$sub')");
	like($err, qr/Zeile/, "$name: PL/pgSQL's own context is in German");
	like($err, qr/migration $name\.sql, line @{[5 + $lines]}/,
		"$name: the error names the line of the RAISE");
	is(failure_line($name), 5 + $lines, "$name: history records that line");
}

# a statement outside any body, and a syntax error found before running
mkdir "$dir/plain";
write_migration("$dir/plain", '0001_plain.sql',
	"CREATE TABLE plain_t (id int);\n\nINSERT INTO plain_t\n  VALUES ('x');\n");
my ($ret, $out, $err) = $node->psql('postgres', "CALL migrate.run('$dir/plain')");
like($err, qr/migration 0001_plain\.sql, line 4/, 'a statement error names its line');
is(failure_line('0001_plain'), 4, 'history records it');

$node->stop;
done_testing();
