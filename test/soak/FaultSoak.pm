# The fault soak of pg_migrate (test/soak/README.md): the real folders of
# test/fixtures/real run by migrate.run, migrate.apply, migrate.rollback and
# migrate.run_rollback, killed at a random moment (kill -9 of the backend,
# kill -9 of the pg_migrate worker, pg_ctl stop -m immediate, or
# pg_terminate_backend of the runner), then checked: what migrate.migrations
# records is exactly what the schema holds, the tools' tables agree, no lock
# and no worker is left, no unexplained invalid index, and the next run
# completes to the schema of a clean run.
#
# Used by test/t/050_fault_soak.pl (a few iterations in the test command)
# and test/soak/run.sh (SOAK_ITERATIONS=1000).
package FaultSoak;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use JSON::PP;
use Digest::SHA qw(sha256_hex);
use Time::HiRes qw(time sleep);

# The folders, with what each needs: the tool's own table, created empty
# in the template as the tool creates it at its first run, so that
# pg_migrate keeps it in step (drizzle's is created by pg_migrate itself)
my @FIXTURES = (
	{
		dir => 'drizzle-ai-chatbot',
		format => 'drizzle',
		tool_table => 'drizzle.__drizzle_migrations'
	},
	{
		dir => 'drizzle-dokploy',
		format => 'drizzle',
		tool_table => 'drizzle.__drizzle_migrations'
	},
	{
		dir => 'dbmate-measure',
		format => 'dbmate',
		# as the project's init-postgres.sh; dbmate's table is in the
		# current schema
		setup => 'CREATE SCHEMA measure; '
		  . 'CREATE TABLE measure.schema_migrations (version varchar PRIMARY KEY)',
		db_setting => "search_path TO measure, \"\$user\", public",
		tool => 'dbmate',
		tool_table => 'measure.schema_migrations'
	},
	{
		dir => 'golang-migrate-openmeter',
		format => 'golang-migrate',
		setup => 'CREATE TABLE public.schema_migrations '
		  . '(version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)',
		tool => 'golang-migrate',
		tool_table => 'public.schema_migrations'
	},
	{
		dir => 'golang-migrate-tracetest',
		format => 'golang-migrate',
		setup => 'CREATE TABLE public.schema_migrations '
		  . '(version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)',
		tool => 'golang-migrate',
		tool_table => 'public.schema_migrations'
	},
	# V47 is a CREATE INDEX CONCURRENTLY, run by the worker
	{ dir => 'flyway-marquez', format => 'flyway' });


sub new
{
	my ($class, %opts) = @_;
	my $self = bless {
		srcdir => $opts{srcdir},
		seed => $opts{seed},
		n => 0,
		stats => {},
		problems => [],
		refs => {},
	}, $class;
	$self->{tmp} = PostgreSQL::Test::Utils::tempdir;
	my $node = PostgreSQL::Test::Cluster->new('soak');
	$node->init;
	# fsync = off: a crash of the server (not of the machine) loses nothing
	# wal_level as on a production server (the test clusters' minimal one
	# skips WAL for relations created in the transaction)
	$node->append_conf('postgresql.conf',
		"wal_level = replica\nmax_wal_senders = 0\nfsync = off\nmax_worker_processes = 16\nrestart_after_crash = on\n"
		  . "log_min_messages = warning\nlog_min_error_statement = panic\n");
	$node->start;
	$self->{node} = $node;
	$self->{strategy} =
	  $node->safe_psql('postgres', 'SHOW server_version_num') >= 150000
	  ? ' STRATEGY FILE_COPY'
	  : '';
	return $self;
}

sub node { return $_[0]->{node} }

sub count
{
	my ($self, $what, $n) = @_;
	$self->{stats}{$what} += $n // 1;
	return;
}

# --- cluster helpers ------------------------------------------------------

sub sql
{
	my ($self, $db, $sql) = @_;
	return $self->{node}->safe_psql($db, $sql);
}

# psql that may fail: (ok, stdout, stderr)
sub try_sql
{
	my ($self, $db, $sql) = @_;
	my ($ret, $out, $err) =
	  $self->{node}->psql($db, $sql, on_error_stop => 1, timeout => 600);
	return ($ret == 0, $out, $err);
}

sub clone
{
	my ($self, $fx, $from, $db) = @_;
	$self->sql('postgres', "DROP DATABASE IF EXISTS $db WITH (FORCE)");
	$self->sql('postgres',
		"CREATE DATABASE $db TEMPLATE $from$self->{strategy}");
	# a database's settings are not copied with it
	$self->sql('postgres', "ALTER DATABASE $db SET $fx->{db_setting}")
	  if $fx->{db_setting};
	return $db;
}

# The schema as pg_dump shows it, without pg_migrate's and drizzle's
# tables (their contents are checked on their own), nor \restrict keys
sub schema_of
{
	my ($self, $db) = @_;
	my ($dump, $err) = ('', '');
	IPC::Run::run(
		[
			'pg_dump', '--schema-only', '-N', 'migrate', '-N', 'drizzle',
			'-d', $self->{node}->connstr($db)
		],
		'>', \$dump, '2>', \$err)
	  or die "pg_dump of $db failed: $err";
	$dump =~ s/^\\(?:un)?restrict .*\n//mg;
	return $dump;
}

# Where the server log is now, and what it says from there on
sub log_pos { return -s $_[0]->{node}->logfile }

sub log_since
{
	my ($self, $pos) = @_;
	open my $fh, '<', $self->{node}->logfile or return '';
	seek $fh, $pos, 0;
	local $/;
	my $text = <$fh> // '';
	close $fh;
	return $text;
}

# After a kill -9, the postmaster reinitializes: wait for that, then for
# connections
sub wait_up
{
	my ($self, $pos) = @_;
	my $t0 = time;
	sleep 0.01
	  while $self->log_since($pos) !~ /reinitializing|database system is ready/
	  && time < $t0 + 60;
	$self->{node}->poll_query_until('postgres', 'SELECT true')
	  or die 'the server did not come back after the crash';
	$self->count('recovery seconds', time - $t0);
	return;
}

# --- each folder, once ----------------------------------------------------

sub fixtures { return @FIXTURES }

sub prepare
{
	my ($self, $fx) = @_;
	return $fx if $fx->{names};
	my $t0 = time;
	my $name = $fx->{dir};
	(my $id = $name) =~ tr/-/_/;
	$fx->{id} = $id;
	$fx->{path} = "$self->{tmp}/$name";
	system('cp', '-R', "$self->{srcdir}/test/fixtures/real/$name", $fx->{path})
	  == 0
	  or die "could not copy $name";

	my $tpl = "tpl_$id";
	$self->sql('postgres', "CREATE DATABASE $tpl");
	$self->sql($tpl,
		'CREATE EXTENSION pg_migrate; ' . ($fx->{setup} // ''));
	$self->sql('postgres', "ALTER DATABASE $tpl SET $fx->{db_setting}")
	  if $fx->{db_setting};
	$fx->{template} = $tpl;
	$self->{refs}{$id}{0} = $self->schema_of($tpl);

	# a clean run: the order, what has a down script, how long it takes
	my $full = "full_$id";
	$self->clone($fx, $tpl, $full);
	my $t1 = time;
	my ($ok, $out, $err) = $self->try_sql($full, $self->run_sql($fx));
	$fx->{run_seconds} = time - $t1;
	die "$name: a clean migrate.run failed: $err" unless $ok;
	my @rows = split /\n/,
	  $self->sql($full,
		"SELECT name || '|' || (down_sql IS NOT NULL) || '|' || (transaction_mode = 'no-transaction') "
		  . 'FROM migrate.migrations ORDER BY id');
	$fx->{names} = [ map { (split /\|/)[0] } @rows ];
	$fx->{has_down} = [ map { (split /\|/)[1] eq 'true' } @rows ];
	my @no_tx = grep { (split /\|/, $rows[$_])[2] eq 'true' } 0 .. $#rows;
	my $n = @rows;
	$fx->{full} = $full;
	$self->{refs}{$id}{$n} = $self->schema_of($full);
	if ($fx->{format} eq 'drizzle')
	{
		my $journal =
		  decode_json(slurp_file("$fx->{path}/meta/_journal.json"));
		my %entry = map { $_->{tag} => $_ } @{ $journal->{entries} };
		$fx->{drizzle_rows} = [
			map {
				my $text = slurp_file("$fx->{path}/$_.sql");
				sha256_hex($text) . '|' . $entry{$_}{when}
			} @{ $fx->{names} }
		];
	}
	my $tool = $self->check_tool_table($fx, $full, $n);
	die "$name: after a clean run $tool" if $tool;

	# apply runs everything in one transaction: up to the first
	# no-transaction migration, which it refuses
	$fx->{apply_upto} = @no_tx ? $no_tx[0] : $n;

	# rollback undoes at most five of the latest, all with down scripts
	my $with_down = 0;
	$with_down++ while $with_down < $n && $fx->{has_down}[ $n - 1 - $with_down ];
	$fx->{undoable} = $with_down < 5 ? $with_down : 5;

	$self->count('setup seconds', time - $t0);
	note sprintf('%s: %d migrations, a clean run takes %.2f s', $name, $n,
		$fx->{run_seconds});
	return $fx;
}

sub run_sql
{
	my ($self, $fx, %opts) = @_;
	my $target = defined $opts{target} ? ", target => '$opts{target}'" : '';
	my $retry = $opts{retry} ? ', retry => true' : '';
	return "CALL migrate.run('$fx->{path}', format => '$fx->{format}'$target$retry)";
}

# The schema of the first k migrations, made by a run with target into a
# copy of the template, once per k (a crash leaves k from a small set:
# apply's 0 or all, the latest few for a rollback, anything for run)
sub ref_schema
{
	my ($self, $fx, $k) = @_;
	my $refs = $self->{refs}{ $fx->{id} };
	return $refs->{$k} if defined $refs->{$k};
	my $db = $self->clone($fx, $fx->{template}, 'soak_ref');
	my ($ok, $out, $err) =
	  $self->try_sql($db, $self->run_sql($fx, target => $fx->{names}[ $k - 1 ]));
	die "$fx->{dir}: run with target $fx->{names}[$k - 1] failed: $err"
	  unless $ok;
	$refs->{$k} = $self->schema_of($db);
	$self->sql('postgres', "DROP DATABASE $db");
	$self->count('reference schemas built');
	return $refs->{$k};
}

# --- the checks -----------------------------------------------------------

# What is wrong with the tool's table against the first k migrations, or ''
sub check_tool_table
{
	my ($self, $fx, $db, $k) = @_;
	my @first = @{ $fx->{names} }[ 0 .. $k - 1 ];
	my ($got, $want);
	if ($fx->{format} eq 'drizzle')
	{
		# created by the first migration's transaction: absent before
		$got = $self->sql($db,
			"SELECT to_regclass('drizzle.__drizzle_migrations') IS NULL")
		  eq 't'
		  ? ''
		  : $self->sql($db,
			"SELECT string_agg(hash || '|' || created_at, ',' ORDER BY id) "
			  . 'FROM drizzle.__drizzle_migrations');
		$want = join ',', @{ $fx->{drizzle_rows} }[ 0 .. $k - 1 ];
	}
	elsif (($fx->{tool} // '') eq 'dbmate')
	{
		$got = $self->sql($db,
			"SELECT string_agg(version, ',' ORDER BY version) FROM $fx->{tool_table}");
		$want = join ',', sort map { /^(\d+)/ } @first;
	}
	elsif (($fx->{tool} // '') eq 'golang-migrate')
	{
		# one row: the version the database is at, not dirty; none at 0
		$got = $self->sql($db,
			"SELECT string_agg(version || '|' || dirty, ',') FROM $fx->{tool_table}");
		my ($max) = sort { $b <=> $a } map { /^(\d+)/ } @first;
		$want = defined $max ? "$max|false" : '';
	}
	else
	{
		return '';
	}
	return $got eq $want ? '' : "$fx->{tool_table} holds [$got], not [$want]";
}

# Everything wrong with db after the crash, given the counts of recorded
# migrations the operation may have left; and the invalid indexes that an
# interrupted no-transaction migration explains (the next run must name
# them)
sub check_after_crash
{
	my ($self, $fx, $db, $allowed) = @_;
	my @problems;
	my @recorded = split /\n/,
	  $self->sql($db, 'SELECT name FROM migrate.migrations ORDER BY id');
	my $k = @recorded;
	my @prefix = @{ $fx->{names} }[ 0 .. $k - 1 ];
	push @problems, "migrate.migrations is not the folder's first $k: @recorded"
	  if "@recorded" ne "@prefix";
	push @problems, "$k recorded, expected one of (@$allowed)"
	  unless grep { $_ == $k } @$allowed;
	my $schema = $self->schema_of($db);
	my $ref = $self->ref_schema($fx, $k);
	push @problems,
	  "the schema is not that of the first $k migrations: " . first_diff($schema, $ref)
	  if $schema ne $ref;
	my $tool = $self->check_tool_table($fx, $db, $k);
	push @problems, $tool if $tool;

	# no lock and no worker left
	my $locks = $self->sql('postgres',
		"SELECT string_agg(pid || ' ' || mode, ', ') FROM pg_locks WHERE locktype = 'object' "
		  . "AND classid = 'pg_catalog.pg_extension'::regclass AND objsubid = 1");
	push @problems, "the pg_migrate lock is still held: $locks" if $locks ne '';
	my $workers = $self->sql('postgres',
		"SELECT string_agg(pid::text, ', ') FROM pg_stat_activity "
		  . "WHERE backend_type = 'pg_migrate worker'");
	push @problems, "a pg_migrate worker is alive after its runner: $workers"
	  if $workers ne '';

	# an invalid index: only one that the CREATE INDEX CONCURRENTLY of an
	# unrecorded migration names (interrupted: the documented case, where
	# the next run fails with a hint naming it; a crash leaves no failure
	# row in migrate.history to say so)
	my @invalid = split /\n/,
	  $self->sql($db,
		"SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid");
	my @explained;
	for my $index (@invalid)
	{
		(my $bare = $index) =~ s/^.*\.//;
		my $named = grep {
			my $file = $self->file_of($fx, $fx->{names}[$_]);
			$file && slurp_file($file) =~ /CONCURRENTLY\s+(?:IF NOT EXISTS\s+)?"?\Q$bare\E\b/i
		} $k .. $#{ $fx->{names} };
		if ($named)
		{
			push @explained, $index;
		}
		else
		{
			push @problems, "invalid index $index, which nothing explains";
		}
	}
	return (\@problems, $k, \@explained);
}

# The up file of a migration (flyway's, the only one with a no-transaction
# migration among the fixtures, is name.sql)
sub file_of
{
	my ($self, $fx, $name) = @_;
	for my $f ("$name.sql", "$name.up.sql")
	{
		return "$fx->{path}/$f" if -f "$fx->{path}/$f";
	}
	return undef;
}

sub first_diff
{
	my ($got, $want) = @_;
	my @g = split /\n/, $got;
	my @w = split /\n/, $want;
	my $i = 0;
	$i++ while $i < @g && $i < @w && $g[$i] eq $w[$i];
	return sprintf('line %d: got [%s], expected [%s]',
		$i + 1, $g[$i] // '(end)', $w[$i] // '(end)');
}

# The next plain run completes to the clean run's schema and tables.  An
# invalid index an interrupted migration left is dropped and built again
# when the migration is still pending; when it was recorded as failed, the
# run fails, as documented, with a hint naming the DROP INDEX CONCURRENTLY
# to run: then follow the hint, and run again with retry.
sub check_next_run
{
	my ($self, $fx, $db, $explained) = @_;
	my @problems;
	my ($ok, $out, $err) = $self->try_sql($db, $self->run_sql($fx));
	if (!$ok && @$explained)
	{
		for my $index (@$explained)
		{
			push @problems,
			  "the next run failed without a hint naming invalid index $index: $err"
			  unless $err =~ /HINT:.*DROP INDEX CONCURRENTLY (?:\w+\.)?\Q$index\E;/s;
			$self->sql($db, "DROP INDEX CONCURRENTLY $index");
		}
		$self->count('interrupted CREATE INDEX CONCURRENTLY, invalid index dropped as the hint says');
		($ok, $out, $err) = $self->try_sql($db, $self->run_sql($fx, retry => 1));
	}
	elsif ($ok && @$explained)
	{
		# a pending migration's own invalid index is dropped and built
		# again by the next run, which says so in the history
		my $rebuilt = $self->sql($db,
			"SELECT count(*) FROM migrate.history WHERE action = 'index_rebuilt'");
		push @problems,
		  "the next run succeeded over invalid index(es) @$explained without building them again"
		  if $rebuilt == 0;
		$self->count('interrupted CREATE INDEX CONCURRENTLY, invalid index built again by the next run');
	}
	return (@problems, "the next run failed: $err") unless $ok;
	my $n = @{ $fx->{names} };
	my $k = $self->sql($db, 'SELECT count(*) FROM migrate.migrations');
	push @problems, "after the next run $k of $n are recorded" if $k != $n;
	my $schema = $self->schema_of($db);
	push @problems,
	  'after the next run the schema is not the clean run\'s: '
	  . first_diff($schema, $self->{refs}{ $fx->{id} }{$n})
	  if $schema ne $self->{refs}{ $fx->{id} }{$n};
	my $tool = $self->check_tool_table($fx, $db, $n);
	push @problems, "after the next run $tool" if $tool;
	my $invalid = $self->sql($db,
		"SELECT string_agg(indexrelid::regclass::text, ', ') FROM pg_index WHERE NOT indisvalid");
	push @problems, "after the next run invalid index(es) $invalid" if $invalid ne '';
	return @problems;
}

# --- one iteration --------------------------------------------------------

# Read what a psql printed so far, if it is still running
sub pump
{
	my ($h) = @_;
	eval { $h->pump_nb if $h->pumpable; };
	return 1;
}

sub worker_pid
{
	my ($self) = @_;
	return $self->sql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_migrate worker' LIMIT 1");
}

# Draw one iteration: folder, operation, kind of kill, delay
sub draw
{
	my ($self) = @_;
	my @kinds = ('backend', 'backend', 'immediate', 'immediate', 'terminate',
		'worker');
	my $kind = $kinds[ int rand @kinds ];
	my ($fx, $op, $during);
	if ($kind eq 'worker' || rand() < 0.1)
	{
		# while the worker builds flyway-marquez's V47 index, held there by
		# an old snapshot: the worker, or its runner, killed then
		($fx) = grep { $_->{format} eq 'flyway' } @FIXTURES;
		($op, $during) = ('run', 'worker');
	}
	else
	{
		my @only = $ENV{SOAK_FIXTURES}
		  ? grep { my $f = $_; grep { $_ eq $f->{dir} } split /,/, $ENV{SOAK_FIXTURES} } @FIXTURES
		  : @FIXTURES;
		$fx = $only[ int rand @only ];
		my @ops = ('run', 'run', 'apply');
		push @ops, 'rollback', 'run_rollback' if !defined $fx->{undoable} || $fx->{undoable};
		$op = $ops[ int rand @ops ];
	}
	return { fx => $fx, op => $op, kind => $kind, during => $during,
		u => rand(), undo_u => rand() };
}

sub iteration
{
	my ($self, $it) = @_;
	my $i = ++$self->{n};
	my $fx = $self->prepare($it->{fx});
	my $node = $self->{node};
	my $n = @{ $fx->{names} };
	my ($op, $kind) = @$it{qw(op kind)};
	if ($op =~ /rollback/ && !$fx->{undoable})
	{
		$op = $it->{op} = 'run';
	}
	my $db = 'soak_it';
	my ($sql, @allowed, $expect_seconds);
	if ($op eq 'run')
	{
		$self->clone($fx, $fx->{template}, $db);
		$sql = $self->run_sql($fx);
		@allowed = (0 .. $n);
		$expect_seconds = $fx->{run_seconds};
	}
	elsif ($op eq 'apply')
	{
		$self->clone($fx, $fx->{template}, $db);
		my $upto = $fx->{apply_upto};
		my $target = $upto < $n ? ", target => '$fx->{names}[$upto - 1]'" : '';
		$sql = "SELECT count(*) FROM migrate.apply('$fx->{path}', format => '$fx->{format}'$target)";
		@allowed = (0, $upto);
		$expect_seconds = $fx->{run_seconds} * $upto / $n;
	}
	else
	{
		$self->clone($fx, $fx->{full}, $db);
		my $undo = 1 + int($it->{undo_u} * $fx->{undoable});
		my $first = $fx->{names}[ $n - $undo ];
		$sql = $op eq 'rollback'
		  ? "SELECT count(*) FROM migrate.rollback('$first')"
		  : "CALL migrate.run_rollback('$first')";
		@allowed = $op eq 'rollback' ? ($n - $undo, $n) : ($n - $undo .. $n);
		$expect_seconds = $fx->{run_seconds} * $undo / $n + 0.05;
		$op .= " $undo";
	}
	# kills drawn over the run's expected time and a tenth more, so that
	# most land during it and some after
	my $delay = $it->{u} * ($expect_seconds * 1.1 + 0.05);
	my $label = sprintf('%d: %s %s, %s %s', $i, $fx->{dir}, $op, $kind,
		$it->{during} ? 'while the worker runs' : sprintf('at %.3f s', $delay));

	my $pos = $self->log_pos;
	my $blocker;
	if ($it->{during})
	{
		# an open snapshot makes CREATE INDEX CONCURRENTLY wait for it
		my ($in, $bout) = ('', '');
		$blocker = IPC::Run::start(
			[ 'psql', '-X', '-q', '-A', '-t', '-d', $node->connstr($db) ],
			'<', \$in, '>', \$bout, '2>', \$bout);
		$in = "BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT 'snapshot taken';\n";
		my $until = time + 30;
		pump($blocker) while $bout !~ /snapshot taken/ && time < $until && sleep 0.01;
		die "the blocking session did not start: $bout" unless $bout =~ /snapshot taken/;
	}
	# the operation's psql prints its backend's pid first (psql flushes
	# after each command): the operation starts then, and the kill needs
	# no lookup (a psql of its own takes a few hundred ms on a busy
	# machine)
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-X', '-q', '-A', '-t', '-d',
			$node->connstr($db) . ' application_name=soak_op',
			'-c', 'SELECT pg_backend_pid()', '-c', $sql
		],
		'>', \$out, '2>', \$err);
	my $until = time + 60;
	pump($h) while $out !~ /^\d+\n/ && $h->pumpable && time < $until && sleep 0.001;
	my ($pid) = $out =~ /^(\d+)\n/ or die "the operation did not start: $err";
	my $t0 = time;
	my $midrun;
	if ($it->{during})
	{
		my $wpid = '';
		$until = time + 60;
		while ($wpid eq '' && time < $until && $h->pumpable)
		{
			$wpid = $self->worker_pid;
			sleep 0.02 if $wpid eq '';
			pump($h);
		}
		sleep 0.2 * $it->{u};
		pump($h);
		$midrun = $wpid ne '' && $h->pumpable;
		$self->count('worker seen waiting') if $wpid ne '';
		$pid = $wpid if $kind eq 'worker';
	}
	else
	{
		while (time < $t0 + $delay && $h->pumpable)
		{
			sleep 0.002;
			pump($h);
		}
		pump($h);
		$midrun = $h->pumpable;
	}
	my $when = $midrun ? 'mid-run' : 'after the run ended';
	$self->count("kills $when");
	my $crashed = 0;
	if ($kind eq 'immediate')
	{
		$node->stop('immediate');
		$node->start;
		$crashed = 1;
		$self->count("pg_ctl stop -m immediate, $when");
	}
	elsif ($pid && $midrun)
	{
		if ($kind eq 'terminate')
		{
			# what pg_terminate_backend sends
			kill 'TERM', $pid;
			$self->count('SIGTERM (pg_terminate_backend) of the runner, mid-run');
		}
		else
		{
			kill 'KILL', $pid;
			$crashed = 1;
			$self->count($kind eq 'worker'
				? 'kill -9 of the worker, mid-run'
				: 'kill -9 of the backend, mid-run');
		}
	}
	else
	{
		$self->count("$kind: nothing to kill, the run had ended");
	}
	$h->finish;
	if ($blocker)
	{
		$blocker->kill_kill;
		$blocker->finish;
	}
	$self->wait_up($pos) if $crashed;
	if (!$crashed)
	{
		# the runner is gone: its worker must follow
		$self->{node}->poll_query_until('postgres',
			"SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'soak_op' "
			  . "OR backend_type = 'pg_migrate worker'", 't');
	}

	my $log = $self->log_since($pos);
	# a server process that crashed by itself (a SIGSEGV) restarts the
	# server too
	if (!$crashed && $log =~ /terminated by signal/)
	{
		$self->wait_up($pos);
		$log = $self->log_since($pos);
	}
	my @problems;
	my $segv = () = $log =~ /was terminated by signal 11/g;
	if ($segv)
	{
		$self->count('postmaster restarts after a SIGSEGV', $segv);
		note "$label: SIGSEGV in the server log";
	}
	my $others = () = $log =~ /was terminated by signal (?!9\b|11\b)\d+/g;
	push @problems, 'a server process died of a signal other than 9 (see the server log)'
	  if $others;

	my $t1 = time;
	my ($after, $k, $explained) = $self->check_after_crash($fx, $db, \@allowed);
	push @problems, @$after;
	my $t2 = time;
	push @problems, $self->check_next_run($fx, $db, $explained);
	note sprintf('%s: killed and back in %.2f s, checked in %.2f s, next run in %.2f s',
		$label, $t1 - $t0, $t2 - $t1, time - $t2);
	$self->count('inconsistent iterations') if @problems;
	$self->count('iterations');
	$self->sql('postgres', "DROP DATABASE $db WITH (FORCE)");
	return ("$label: $k recorded", @problems);
}

# Run count iterations; the TAP outcome is one test per iteration
sub soak
{
	my ($self, $count, $minutes) = @_;
	srand($self->{seed});
	my $t0 = time;
	for (1 .. $count)
	{
		last if $minutes && time > $t0 + 60 * $minutes;
		my $it = $self->draw;
		my ($label, @problems) = eval { $self->iteration($it) };
		if (!defined $label)
		{
			# the harness itself failed: say where, bring the server back
			# and go on
			$label = "$self->{n}: $it->{fx}{dir} $it->{op}, $it->{kind}";
			@problems = ("the iteration stopped: $@");
			$self->count('iterations stopped by an error');
			$self->{node}->start(fail_ok => 1)
			  if system('pg_ctl', 'status', '-s', '-D', $self->{node}->data_dir) != 0;
			$self->{node}->poll_query_until('postgres', 'SELECT true');
		}
		ok(!@problems, $label) or diag join "\n", @problems;
		push @{ $self->{problems} }, map { "$label: $_" } @problems;
	}
	$self->count('seconds', time - $t0);
	return;
}

sub summary
{
	my ($self) = @_;
	my $s = $self->{stats};
	return join "\n", "seed $self->{seed}",
	  map { sprintf('%s: %s', $_, $s->{$_} =~ /\./ ? sprintf('%.1f', $s->{$_}) : $s->{$_}) }
	  sort keys %$s;
}

1;
