# The fault soak (test/soak/README.md), short: a few iterations of a real
# folder's migrate.run, apply, rollback or run_rollback killed at a random
# moment (kill -9 of the backend or of the pg_migrate worker, pg_ctl stop
# -m immediate, pg_terminate_backend), each followed by the checks: what
# migrate.migrations records is exactly what the schema holds, the tools'
# tables agree, no lock or worker is left, no unexplained invalid index,
# and the next run completes to a clean run's schema.
#
# The seed is printed: SOAK_SEED=<seed> repeats the same draws.
# SOAK_ITERATIONS=<n> runs n iterations (test/soak/run.sh runs 1,000),
# SOAK_MINUTES=<m> stops after m minutes.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../soak";
use FaultSoak;

my $seed = $ENV{SOAK_SEED} // int(rand(2**31));
my $iterations = $ENV{SOAK_ITERATIONS} // 4;
diag("fault soak: seed $seed, $iterations iterations (SOAK_SEED=$seed to repeat)");

my $soak = FaultSoak->new(srcdir => $ENV{TESTDIR} || '.', seed => $seed);
$soak->soak($iterations, $ENV{SOAK_MINUTES});
diag($soak->summary);
$soak->node->stop;
done_testing();
