# The pg_migrate command sends the layouts of the formats that keep each
# migration in a folder of its own, Prisma's and Diesel's, with their
# subfolders, and the server reads them as it reads them on its disk; a
# migration's script that cannot be read is refused, naming it, before
# anything is sent.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgMigrateTest;
use PgMigrateCommand;

my $srcdir = $ENV{TESTDIR} || '.';
my $node = command_node('command_formats1');
my ($rc, $out, $err);

for my $format ('prisma', 'diesel')
{
	my $dir = migrations_dir() . "/$format";
	system('cp', '-R', "$srcdir/test/fixtures/$format", $dir) == 0
	  or die "could not copy $format";

	# a migration's script, one folder down, that cannot be read
	my ($sub) = grep { -d "$dir/$_" && !/^\./ } sort(do { opendir my $dh, $dir; readdir $dh });
	my $script = $format eq 'prisma' ? 'migration.sql' : 'up.sql';
	chmod 0000, "$dir/$sub/$script";
	($rc, $out, $err) = pg_migrate($node, [ 'status', $dir ]);
	isnt($rc, 0, "$format: an unreadable $sub/$script is refused");
	like($err, qr/\Q$sub\/$script\E/, '... naming it');
	chmod 0644, "$dir/$sub/$script";

	if ($format eq 'diesel')
	{
		# metadata.toml is sent and read: its migration runs outside a
		# transaction, which apply refuses
		my $notx = "$dir/2024-01-02-120000_posts_title_index";
		($rc, $out, $err) = pg_migrate($node, [ 'apply', $dir ]);
		like($err, qr/posts_title_index" cannot run inside a transaction block/,
			'diesel: metadata.toml is sent, and its run_in_transaction = false read');
		unlink "$notx/metadata.toml";
		write_migration($notx, 'up.sql',
			"CREATE INDEX diesel_posts_title_idx ON diesel_posts (title);\n");
	}
	($rc, $out, $err) = pg_migrate($node, [ 'apply', $dir ]);
	is($rc, 0, "$format: the command applies the folder") or diag $err;
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM migrate.migrations WHERE format = '$format'"),
		3,
		"... all 3 migrations, read from their subfolders in $format format");

	# one database keeps one history: the next folder starts afresh
	$node->safe_psql('postgres', 'DELETE FROM migrate.migrations');
}

$node->stop;
done_testing();
