#!/usr/bin/env bash
# pg_migrate benchmark, the stall with default settings (0.5): pgbench as
# the application on pgbench_accounts, a reader holding ACCESS SHARE on it
# for HOLD seconds (6), and a migration adding a column, once through psql
# and once through migrate.run with nothing set. Prints the application's
# maximum latency during each, their ratio, and migrate.run's against the
# default migrate.lock_timeout; target: under 2 x that timeout, with the
# migration applied. It is test/bench/lock_retries.sh with DEFAULTS=1 (its
# other settings apply). Not a test: it exits 0 once it has measured, and
# marks a missed target with MISSED.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. test/cluster.sh

[ "${1:-}" = "--as-postgres" ] || prepare test/bench/stall.sh "$@"

HOLD=${HOLD:-6} DEFAULTS=1 exec bash test/bench/lock_retries.sh --as-postgres
