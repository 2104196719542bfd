#!/usr/bin/env bash
# The long fault soak (test/soak/README.md): test/t/050_fault_soak.pl with
# 1,000 iterations, on a cluster of its own. Prints the seed, one line per
# iteration, and the figures at the end; exits non-zero when an iteration
# found an inconsistency.
#
#   bash test/soak/run.sh [iterations]      (as root: builds and installs first)
#   SOAK_SEED=<seed>      repeat the draws of an earlier run
#   SOAK_MINUTES=<m>      stop after m minutes, whatever the count
#   SOAK_FIXTURES=a,b     only these folders of test/fixtures/real
#   SOAK_LOGS=<dir>       where the logs are kept (/tmp/pg_migrate_soak_logs)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. test/cluster.sh

[ "${1:-}" = "--as-postgres" ] && shift || prepare test/soak/run.sh "$@"

export SOAK_ITERATIONS=${1:-${SOAK_ITERATIONS:-1000}}
export SOAK_SEED=${SOAK_SEED:-$((RANDOM * 32768 + RANDOM))}
[ -n "${SOAK_MINUTES:-}" ] && export SOAK_MINUTES
make installcheck REGRESS= ISOLATION= PROVE_TESTS=test/t/050_fault_soak.pl \
    PROVE_FLAGS=-v
rc=$?
# the test's own log and the server's, kept: the tree may be a copy
logs=${SOAK_LOGS:-/tmp/pg_migrate_soak_logs}
rm -rf "$logs" && cp -R tmp_check/log "$logs" && echo "logs in $logs"
exit $rc
