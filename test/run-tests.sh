#!/usr/bin/env bash
# Command 2 of the README: install what the tests need, build with warnings
# as errors, install, and run every suite (pg_regress, isolation, TAP)
# against throwaway clusters. Exits non-zero when anything fails, and ends
# with a line "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. test/cluster.sh

if [ "${1:-}" != "--as-postgres" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        # npm for the servers below (prepare checks again: a no-op then)
        bash test/install-deps.sh || exit 1
        # other releases' server headers, for the compile check and the runs
        # on other versions below, and those releases' servers
        command -v apt-get >/dev/null && bash test/compat-check.sh --download
        bash test/multiversion.sh --download
    fi
    prepare test/run-tests.sh "$@"
fi

work=$(mktemp -d /tmp/pg_migrate_run.XXXXXX)
cluster_start "$work" || exit 1
# the migration folders of the regress and isolation tests (@testdir@ in
# them, see test/launcher.sh): this run's own, removed with the cluster
export PG_MIGRATE_TEST_DIR=$work/testdir
mkdir "$PG_MIGRATE_TEST_DIR"
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
# two TAP files at a time: most of their time is spent waiting on servers
# and processes they start (each has its own cluster and port), not on the
# CPU, and one file (045, six real folders rolled back one migration at a
# time) takes a quarter of the suite on its own
run_suite "TAP" REGRESS= ISOLATION= PROVE_FLAGS=-j2
echo "== compile against other PostgreSQL versions"
bash test/compat-check.sh 2>&1 | tee -a "$log" || failed_suites=$((failed_suites + 1))
echo "== pg_regress and isolation on PostgreSQL 13, 17 and 18"
bash test/multiversion.sh 2>&1 | tee -a "$log" || failed_suites=$((failed_suites + 1))

# pg_regress and isolation print "test NAME ... ok|FAILED" (from 16 on
# "ok|not ok N - NAME"), prove "FILE .. ok", the compile check
# "compat PGnn ... ok|FAILED", the other versions "PGnn SUITE ... ok|FAILED"
passed=$(grep -cE '^(test [^ ]+ +\.\.\. ok|ok [0-9]+ +[-+] |test/t/[^ ]+ \.+ ok|(compat PG[0-9]+|PG[0-9]+ [a-z]+) \.\.\. ok)' "$log")
failed=$(grep -cE '^(test [^ ]+ +\.\.\. FAILED|not ok [0-9]+ +[-+] |test/t/[^ ]+ \.+ (Dubious|Failed|not ok)|(compat PG[0-9]+|PG[0-9]+ [a-z]+) \.\.\. FAILED)' "$log")
skipped=$(grep -cE '^(compat PG[0-9]+|PG[0-9]+ [a-z]+) \.\.\. skipped' "$log")
# prove folds failures into its summary; count failing files from there too
tap_failed=$(grep -cE '^test/t/[^ ]+ +\(Wstat' "$log")
[ "$tap_failed" -gt "$failed" ] && failed=$tap_failed
if [ "$failed_suites" -gt 0 ] && [ "$failed" -eq 0 ]; then
    failed=$failed_suites
fi
[ "$skipped" -gt 0 ] && echo "$skipped skipped: other PostgreSQL versions whose headers or servers could not be fetched (see above)"
echo "$passed passed, $failed failed"
[ "$failed_suites" -eq 0 ] && [ "$failed" -eq 0 ]
