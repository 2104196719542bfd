#!/usr/bin/env bash
# pg_migrate benchmark, the application's side of a migration that needs a
# lock a long query holds: pgbench runs single-row reads and updates on
# pgbench_accounts; a session holds a read transaction on it for HOLD
# seconds; meanwhile a migration adds a column. Done twice in one run, on a
# throwaway cluster: the ALTER through psql (no lock timeout), then through
# migrate.run with migrate.lock_timeout = 200ms and migrate.lock_retries. For
# each, it prints pgbench's 99th percentile and maximum latency for the
# transactions that overlapped the migration, and whether the migration
# succeeded. Not a test: it exits 0 once it has measured, and marks a missed
# target with MISSED. With DEFAULTS=1 (test/bench/stall.sh), migrate.run
# runs with nothing set: the default lock timeout and retries of 0.5.
#
#   SCALE        pgbench -i scale (10: 1,000,000 rows)
#   CLIENTS      pgbench clients (4)
#   RATE         pgbench transactions per second, all clients (400)
#   HOLD         seconds the reader keeps its transaction open (5)
#   LOCK_TIMEOUT migrate.lock_timeout in ms (200)
#   RETRIES      migrate.lock_retries (50)
#   DEFAULTS     1: set neither, and compare with the default lock_timeout (0)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. test/cluster.sh
. test/bench/common.sh

SCALE=${SCALE:-10}; CLIENTS=${CLIENTS:-4}; RATE=${RATE:-400}; HOLD=${HOLD:-5}
LOCK_TIMEOUT=${LOCK_TIMEOUT:-200}; RETRIES=${RETRIES:-50}; DEFAULTS=${DEFAULTS:-0}
# pgbench runs this long in each phase: the wait before the reader, the
# reader, and room for the retries' backoff (500 ms doubling, jittered)
# after it
WARMUP=2
DURATION=$((WARMUP + HOLD + 20))

[ "${1:-}" = "--as-postgres" ] || prepare test/bench/lock_retries.sh "$@"

work=$(mktemp -d /tmp/pg_migrate_bench_locks.XXXXXX)
cluster_start "$work" "fsync = off"

echo "pgbench -i -s $SCALE..."
pgbench -i -q -s "$SCALE" >"$work/init.log" 2>&1 || { cat "$work/init.log" >&2; exit 1; }
psql_q -c "CREATE EXTENSION pg_migrate"
if [ "$DEFAULTS" = 1 ]; then
    # the defaults, as a session that sets nothing has them (ms)
    read -r LOCK_TIMEOUT RETRIES < <(psql_q -At -F ' ' -c "LOAD 'pg_migrate'" \
        -c "SELECT (SELECT setting FROM pg_settings WHERE name = 'migrate.lock_timeout'),
                   (SELECT setting FROM pg_settings WHERE name = 'migrate.lock_retries')" | tail -1)
    settings_label="defaults: lock_timeout ${LOCK_TIMEOUT}ms, lock_retries $RETRIES"
else
    settings_label="lock_timeout ${LOCK_TIMEOUT}ms, lock_retries $RETRIES"
fi

cat > "$work/app.sql" <<'EOF'
\set aid random(1, :naccounts)
BEGIN;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
END;
EOF
mkdir "$work/migrations"
echo "ALTER TABLE pgbench_accounts ADD COLUMN note text;" > "$work/migrations/0001_accounts_note.sql"

# phase NAME MIGRATION...: pgbench load, a reader holding ACCESS SHARE on
# pgbench_accounts for HOLD seconds, and the migration command while it
# does; leaves NAME.window (start end), NAME.reader_end, NAME.rc and
# pgbench's per-transaction logs NAME_log.*
phase() {
    local name=$1; shift
    psql_q -c "ALTER TABLE pgbench_accounts DROP COLUMN IF EXISTS note" \
        -c "VACUUM pgbench_accounts" 2>/dev/null
    pgbench -n -f "$work/app.sql" -D naccounts=$((SCALE * 100000)) \
        -c "$CLIENTS" -j 2 -R "$RATE" -T "$DURATION" \
        -l --log-prefix="$work/${name}_log" >"$work/$name.pgbench" 2>&1 &
    local bench=$!
    sleep "$WARMUP"
    { psql_q -v hold="$HOLD" <<'EOF'
SET application_name = 'bench_reader';
BEGIN;
SELECT count(*) FROM pgbench_accounts;
SELECT pg_sleep(:hold);
COMMIT;
EOF
      now > "$work/$name.reader_end"; } >/dev/null &
    local reader=$!
    # the reader holds its lock once it sleeps
    until [ "$(psql_q -At -c "SELECT count(*) FROM pg_stat_activity
                               WHERE application_name = 'bench_reader'
                                 AND wait_event = 'PgSleep'")" = 1 ]; do
        sleep 0.05
    done
    local t0 t1 rc=0
    t0=$(now)
    "$@" >"$work/$name.out" 2>&1 || rc=$?
    t1=$(now)
    echo "$t0 $t1" > "$work/$name.window"
    echo "$rc" > "$work/$name.rc"
    wait "$reader"
    wait "$bench" || { cat "$work/$name.pgbench" >&2; exit 1; }
}

migrate_psql() {
    psql -X -v ON_ERROR_STOP=1 -f "$work/migrations/0001_accounts_note.sql"
}
migrate_run() {
    if [ "$DEFAULTS" = 1 ]; then
        psql -X -v ON_ERROR_STOP=1 -c "CALL migrate.run('$work/migrations')"
    else
        psql -X -v ON_ERROR_STOP=1 -c "SET migrate.lock_timeout = '${LOCK_TIMEOUT}ms'" \
            -c "SET migrate.lock_retries = $RETRIES" -c "CALL migrate.run('$work/migrations')"
    fi
}

echo "phase 1: psql, no lock timeout..."
phase psql migrate_psql
echo "phase 2: migrate.run, $settings_label..."
phase run migrate_run

# stats NAME FROM TO: "count p99 max" in ms of the transactions that were
# running at some point between FROM and TO (epoch seconds). A log line is
# "client tx latency_us script end_epoch end_us"; with -R the latency
# counts from the scheduled start, so it includes waiting for the client.
stats() {
    cat "$work/$1_log".* |
        awk -v from="$2" -v to="$3" '{
            end = $5 + $6 / 1e6; start = end - $3 / 1e6;
            if (end >= from && start <= to) print $3 / 1000 }' |
        sort -n |
        awk '{ a[NR] = $1 } END {
            if (NR == 0) { print "0 0 0"; exit }
            i = int(NR * 0.99); if (i < NR * 0.99) i++;
            printf "%d %.1f %.1f\n", NR, a[i], a[NR] }'
}
has_note() {
    psql_q -At -c "SELECT count(*) FROM pg_attribute
                   WHERE attrelid = 'pgbench_accounts'::regclass
                     AND attname = 'note' AND NOT attisdropped"
}

run_added=$(has_note)
run_retries=$(psql_q -At -c "SELECT coalesce(max(lock_retries), 0) FROM migrate.history")

report() {
    local name=$1 label=$2 added=$3 t0 t1 rc reader_end n p99 max ok
    read -r t0 t1 < "$work/$name.window"
    rc=$(cat "$work/$name.rc")
    reader_end=$(cat "$work/$name.reader_end")
    read -r n p99 max < <(stats "$name" "$t0" "$t1")
    if [ "$rc" = 0 ] && [ "$added" = 1 ]; then ok=succeeded; else ok=FAILED; fi
    printf '%s: migration %s in %.2f s (%.2f s after the reader committed)\n' \
        "$label" "$ok" "$(echo "$t1 - $t0" | bc)" "$(echo "$t1 - $reader_end" | bc)"
    printf '  app during the migration: %d transactions, p99 %.1f ms, max %.1f ms\n' "$n" "$p99" "$max"
    eval "${name}_max=$max ${name}_ok=$ok"
}
# the psql phase's column was dropped before the second phase: it succeeded
# if psql did (checked again here from its exit status and output)
psql_added=$(if [ "$(cat "$work/psql.rc")" = 0 ] && grep -q '^ALTER TABLE' "$work/psql.out"; then echo 1; else echo 0; fi)

read -r t0 _ < "$work/psql.window"
read -r bn bp99 bmax < <(stats psql 0 "$(echo "$t0 - 0.5" | bc)")
verdict() { if [ "$(echo "$1" | bc)" -eq 1 ]; then echo "ok"; else echo "MISSED"; fi; }

echo
echo "pg_migrate lock retries benchmark ($(psql_q -At -c 'SHOW server_version'), pgbench scale $SCALE," \
     "$CLIENTS clients at $RATE tps, a reader holding ACCESS SHARE for $HOLD s)"
printf 'app before the migration: %d transactions, p99 %.1f ms, max %.1f ms\n' "$bn" "$bp99" "$bmax"
report psql "psql, no lock timeout" "$psql_added"
report run "migrate.run, $settings_label ($run_retries retries taken)" "$run_added"
printf 'app max latency: psql %.1f ms vs migrate.run %.1f ms, ratio %.1f\n' \
    "$psql_max" "$run_max" "$(echo "scale=3; $psql_max / $run_max" | bc)"
printf 'migrate.run app max latency / lock_timeout (%d ms): %.2f\n' \
    "$LOCK_TIMEOUT" "$(echo "scale=3; $run_max / $LOCK_TIMEOUT" | bc)"
printf 'target: migrate.run max < 2 x lock_timeout (%d ms) and the migration completes: %s\n' \
    $((2 * LOCK_TIMEOUT)) \
    "$(if [ "$run_ok" = succeeded ]; then verdict "$run_max < 2 * $LOCK_TIMEOUT"; else echo MISSED; fi)"
