#!/usr/bin/env bash
# Command 2 of the README: install what the tests need, build with warnings
# as errors, install, and run every suite (pg_regress, isolation, TAP)
# against throwaway clusters. Exits non-zero when anything fails, and ends
# with a line "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. test/cluster.sh

[ "${1:-}" = "--as-postgres" ] || prepare test/run-tests.sh "$@"

work=$(mktemp -d /tmp/pg_migrate_run.XXXXXX)
cluster_start "$work" || exit 1
log=$work/make.log
failed_suites=0

# Each suite on its own, so that one failing does not hide the others
run_suite() {
    local name=$1; shift
    echo "== $name"
    if ! make installcheck "$@" 2>&1 | tee -a "$log"; then
        failed_suites=$((failed_suites + 1))
        for f in regression.diffs output_iso/regression.diffs; do
            [ -s "$f" ] && { echo "--- $f"; cat "$f"; }
        done
        for f in tmp_check/log/regress_log_*; do
            [ -f "$f" ] && grep -q "not ok" "$f" && { echo "--- $f"; tail -50 "$f"; }
        done
    fi
}
run_suite "pg_regress" ISOLATION= TAP_TESTS=
run_suite "isolation" REGRESS= TAP_TESTS=
run_suite "TAP" REGRESS= ISOLATION=
if [ -x test/drizzle/run.sh ]; then
    echo "== drizzle interop"
    if bash test/drizzle/run.sh 2>&1 | tee -a "$log"; then
        echo "drizzle interop ... ok" | tee -a "$log"
    else
        echo "drizzle interop ... FAILED" | tee -a "$log"
        failed_suites=$((failed_suites + 1))
    fi
fi

# pg_regress and isolation print "test NAME ... ok|FAILED", prove "FILE .. ok"
passed=$(grep -cE '^(test [^ ]+ +\.\.\. ok|test/t/[^ ]+ \.+ ok|drizzle interop \.\.\. ok)' "$log")
failed=$(grep -cE '^(test [^ ]+ +\.\.\. FAILED|test/t/[^ ]+ \.+ (Dubious|Failed|not ok)|drizzle interop \.\.\. FAILED)' "$log")
# prove folds failures into its summary; count failing files from there too
tap_failed=$(grep -cE '^test/t/[^ ]+ +\(Wstat' "$log")
[ "$tap_failed" -gt "$failed" ] && failed=$tap_failed
if [ "$failed_suites" -gt 0 ] && [ "$failed" -eq 0 ]; then
    failed=$failed_suites
fi
echo "$passed passed, $failed failed"
[ "$failed_suites" -eq 0 ] && [ "$failed" -eq 0 ]
