#!/usr/bin/env bash
# pg_migrate benchmark: figures as ratios against a baseline measured in the
# same run, on a throwaway cluster. Not a test: it always exits 0 once it has
# measured, and marks a missed target with MISSED.
#
#   N, M      migrations and statements per migration for apply (1000, 5)
#   STATUS_N  applied migrations for the status timing (10000)
#   BIG_MB    size of the one large script for the memory figure (40)
#   REPEAT    runs per timing, the median is kept (3)
#   STATUS_REPEAT runs of each status timing after a warm-up (5)
#   LOCK_BENCH 0 skips lock_retries.sh (its settings: see that script)
#   STALL_BENCH 0 skips stall.sh (the same with default settings)
#   FP_BENCH  0 skips fingerprint.sh (its settings: see that script)
#   TENANTS_BENCH 0 skips tenants.sh (its settings: see that script; its
#             10,000-tenant runs only with TENANTS_BIG=10000)
#   TESTDB_BENCH 0 skips testdb.sh (its settings: see that script)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. test/cluster.sh
. test/bench/common.sh

N=${N:-1000}; M=${M:-5}; STATUS_N=${STATUS_N:-10000}; REPEAT=${REPEAT:-3}
BIG_MB=${BIG_MB:-40}

[ "${1:-}" = "--as-postgres" ] || prepare test/bench/run.sh "$@"

work=$(mktemp -d /tmp/pg_migrate_bench.XXXXXX)
cluster_start "$work" "shared_buffers = '256MB'" "fsync = off"

fresh_db() { psql_q -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" 2>/dev/null; psql_q -d "$1" -c "CREATE EXTENSION pg_migrate"; }

echo "generating $N migrations of $M statements, and $STATUS_N small ones..."
python3 test/bench/generate.py "$work/apply" "$work/apply.sql" "$N" "$M"
python3 test/bench/generate.py "$work/status" "$work/status.sql" "$STATUS_N" 2 rows
python3 test/bench/generate.py "$work/mem_small" "$work/mem_small.sql" "$N" "$M" rows
python3 test/bench/generate.py "$work/mem_large" "$work/mem_large.sql" $((N * 10)) "$M" rows
# one script of BIG_MB of seed data (INSERTs of ~110 bytes), and a one-line one
python3 test/bench/generate.py "$work/mem_script" "$work/mem_script.sql" 1 $((BIG_MB * 1024 * 1024 / 110)) seed
python3 test/bench/generate.py "$work/mem_tiny" "$work/mem_tiny.sql" 1 1 seed

# 1. apply against psql --single-transaction, alternating, median of REPEAT;
#    and the pg_migrate command, which reads the folder on the client and
#    sends it with the call (upload included)
: > "$work/psql.times"; : > "$work/apply.times"; : > "$work/command.times"
: > "$work/apply_off.times"; : > "$work/apply_nogen.times"
for r in $(seq 1 "$REPEAT"); do
    fresh_db bench_psql
    t0=$(now); psql_q -d bench_psql --single-transaction -f "$work/apply.sql"; t1=$(now)
    echo "$t1 - $t0" | bc >> "$work/psql.times"
    fresh_db bench_apply
    t0=$(now)
    psql_q -d bench_apply -c "SET client_min_messages = warning" \
        -c "SELECT count(*) FROM migrate.apply('$work/apply')" >/dev/null
    t1=$(now)
    echo "$t1 - $t0" | bc >> "$work/apply.times"
    # the same without the DDL log (its event triggers return at once)
    fresh_db bench_apply_off
    t0=$(now)
    psql_q -d bench_apply_off -c "SET client_min_messages = warning" -c "SET migrate.ddl_policy = off" \
        -c "SELECT count(*) FROM migrate.apply('$work/apply')" >/dev/null
    t1=$(now)
    echo "$t1 - $t0" | bc >> "$work/apply_off.times"
    # the same without generated down scripts
    fresh_db bench_apply_nogen
    t0=$(now)
    psql_q -d bench_apply_nogen -c "SET client_min_messages = warning" -c "SET migrate.generate_down = off" \
        -c "SELECT count(*) FROM migrate.apply('$work/apply')" >/dev/null
    t1=$(now)
    echo "$t1 - $t0" | bc >> "$work/apply_nogen.times"
    fresh_db bench_command
    t0=$(now); "$PG_BINDIR/pg_migrate" -q -d bench_command apply "$work/apply"; t1=$(now)
    echo "$t1 - $t0" | bc >> "$work/command.times"
done
psql_time=$(median < "$work/psql.times")
apply_time=$(median < "$work/apply.times")
apply_off_time=$(median < "$work/apply_off.times")
ddl_log_ratio=$(echo "scale=3; $apply_time / $apply_off_time" | bc)
apply_nogen_time=$(median < "$work/apply_nogen.times")
gen_ratio=$(echo "scale=3; $apply_time / $apply_nogen_time" | bc)
ddl_log_rows=$(psql_q -At -d bench_apply -c "SELECT count(*) FROM migrate.ddl_log")
command_time=$(median < "$work/command.times")
ratio=$(echo "scale=3; $apply_time / $psql_time" | bc)
command_ratio=$(echo "scale=3; $command_time / $psql_time" | bc)

# 2. status with STATUS_N applied migrations: server-side time (\timing)
#    of the dir form (every file read and checksummed on the server the
#    first time in a session; then only those whose stamp changed) and of
#    the files form the command uses (the folder as jsonb, here built on
#    the server once, in a table made before the folder is applied: made
#    after, it would be drift, which status warns of and costs more to
#    tell), each against a plain SELECT of the
#    tracking table's rows that status shows (name, version, checksum,
#    applied_at, in the order applied) sent to psql, alternating, each
#    round in a new session whose first status call is timed apart;
#    median of STATUS_REPEAT rounds after a warm-up one
fresh_db bench_status
psql_q -d bench_status -c "CREATE TABLE status_files AS SELECT pg_catalog.jsonb_object_agg(f, pg_catalog.pg_read_file('$work/status/' || f)) AS files FROM pg_catalog.pg_ls_dir('$work/status') f"
psql_q -d bench_status -c "SET client_min_messages = warning" \
    -c "SELECT count(*) FROM migrate.apply('$work/status')" >/dev/null
STATUS_REPEAT=${STATUS_REPEAT:-5}
status_dir_sql="SELECT count(*) FROM migrate.status('$work/status');"
status_files_sql="SELECT count(*) FROM migrate.status((SELECT files FROM status_files));"
status_base_sql="SELECT name, version, checksum, applied_at FROM migrate.migrations ORDER BY id;"
{
    for r in $(seq 0 "$STATUS_REPEAT"); do
        echo '\c'; echo '\timing on'
        echo "\\echo status_new $r"; echo "$status_dir_sql"
        echo "\\echo status_dir $r"; echo "$status_dir_sql"
        echo "\\echo status_files $r"; echo "$status_files_sql"
        echo "\\echo status_base $r"; echo '\o /dev/null'; echo "$status_base_sql"; echo '\o'
    done
} | psql_q -d bench_status -v ON_ERROR_STOP=1 |
    awk '/^status_/ {what = $1; run = $2} /^Time: / && run > 0 {print $2 > ("'"$work"'/" what)}'
status_ms=$(median < "$work/status_dir")
status_new_ms=$(median < "$work/status_new")
status_files_ms=$(median < "$work/status_files")
status_base_ms=$(median < "$work/status_base")
status_ratio=$(echo "scale=2; $status_ms / $status_base_ms" | bc)
status_files_ratio=$(echo "scale=2; $status_files_ms / $status_base_ms" | bc)

# 2b. drift() on the N tables apply made (a table, its columns, primary
#     key, sequence and index each): server-side time, in a new session
#     (catalog caches cold, as a pipeline's check finds them) and warm,
#     against a plain scan of the same tables' pg_class and pg_attribute
#     rows in the same sessions
drift_ms() {
    { echo '\timing on'; echo "$1"; echo "$1"; } | psql_q -d bench_apply 2>/dev/null |
        sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
}
scan_sql="SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid WHERE c.relnamespace = 'public'::regnamespace;"
: > "$work/drift_cold"; : > "$work/drift_warm"; : > "$work/scan_cold"; : > "$work/scan_warm"
for _ in $(seq 1 "$REPEAT"); do
    drift_ms "SELECT count(*) FROM migrate.drift();" | { read -r c; read -r w; echo "$c" >> "$work/drift_cold"; echo "$w" >> "$work/drift_warm"; }
    drift_ms "$scan_sql" | { read -r c; read -r w; echo "$c" >> "$work/scan_cold"; echo "$w" >> "$work/scan_warm"; }
done
drift_objects=$(psql_q -At -d bench_apply -c "SELECT count(*) FROM migrate.fingerprint")
drift_cold=$(median < "$work/drift_cold"); drift_warm=$(median < "$work/drift_warm")
scan_cold=$(median < "$work/scan_cold"); scan_warm=$(median < "$work/scan_warm")

# 3. peak private memory (RssAnon: shared buffers excluded) of the backend
#    applying N and 10*N migrations that create no new objects, sampled
#    while it runs, so that only the runner's own memory could grow
peak_kb() {
    fresh_db "$1"
    psql_q -d "$1" -c "SET application_name = 'pg_migrate_bench_mem'" \
        -c "SET client_min_messages = warning" -c "SELECT pg_sleep(0.5)" \
        -c "SELECT count(*) FROM migrate.apply('$2')" >/dev/null &
    local client=$! pid="" max=0 kb
    while [ -z "$pid" ]; do
        pid=$(psql_q -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pg_migrate_bench_mem'")
    done
    while kb=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null) && [ -n "$kb" ]; do
        [ "$kb" -gt "$max" ] && max=$kb
        sleep 0.02
    done
    wait "$client"
    echo "$max"
}
small_kb=$(peak_kb bench_mem_small "$work/mem_small")
large_kb=$(peak_kb bench_mem_large "$work/mem_large")
mem_ratio=$(echo "scale=2; $large_kb / $small_kb" | bc)
# what each extra migration costs: its entry in the folder's index and its
# result row stay for the call; its scripts and parse trees must not
per_migration_b=$(echo "($large_kb - $small_kb) * 1024 / ($N * 9)" | bc)

# 4. peak private memory applying one large script, against a one-statement
#    one: the script is read, split, run and recorded (migrate.migrations
#    keeps it), and what that takes must stay a small multiple of its size
tiny_kb=$(peak_kb bench_mem_tiny "$work/mem_tiny")
script_kb=$(peak_kb bench_mem_script "$work/mem_script")
script_bytes=$(stat -c %s "$work/mem_script.sql")
script_stmts=$(grep -c ';$' "$work/mem_script.sql")
script_ratio=$(echo "scale=2; ($script_kb - $tiny_kb) * 1024 / $script_bytes" | bc)

verdict() { if [ "$(echo "$1" | bc)" -eq 1 ]; then echo "ok"; else echo "MISSED"; fi; }
echo
echo "pg_migrate benchmark ($(psql_q -At -c 'SHOW server_version'), median of $REPEAT)"
printf 'apply N=%d M=%d: psql --single-transaction %.3f s, migrate.apply %.3f s, ratio %.2f (target <= 1.2: %s)\n' \
    "$N" "$M" "$psql_time" "$apply_time" "$ratio" "$(verdict "$ratio <= 1.2")"
printf 'DDL log: migrate.apply N=%d M=%d logging %d rows %.3f s, with migrate.ddl_policy = off %.3f s, ratio %.2f (target <= 1.1: %s)\n' \
    "$N" "$M" "$ddl_log_rows" "$apply_time" "$apply_off_time" "$ddl_log_ratio" "$(verdict "$ddl_log_ratio <= 1.1")"
printf 'generated down scripts: migrate.apply N=%d M=%d %.3f s, with migrate.generate_down = off %.3f s, ratio %.2f (target <= 1.2: %s)\n' \
    "$N" "$M" "$apply_time" "$apply_nogen_time" "$gen_ratio" "$(verdict "$gen_ratio <= 1.2")"
printf 'pg_migrate apply N=%d M=%d, folder read on the client and sent: %.3f s, ratio %.2f to psql (target <= 1.2: %s)\n' \
    "$N" "$M" "$command_time" "$command_ratio" "$(verdict "$command_ratio <= 1.2")"
printf 'status with %d applied migrations: migrate.status(dir) %.1f ms, migrate.status(files) %.1f ms (target < 100 ms: %s, %s);\n' \
    "$STATUS_N" "$status_ms" "$status_files_ms" "$(verdict "$status_ms < 100")" "$(verdict "$status_files_ms < 100")"
printf '  a plain SELECT of the tracking table'"'"'s %d rows to psql %.1f ms: ratio %.1f (dir), %.1f (files);\n' \
    "$STATUS_N" "$status_base_ms" "$status_ratio" "$status_files_ratio"
printf '  migrate.status(dir) first in a new session, every file read: %.1f ms, ratio %.1f\n' \
    "$status_new_ms" "$(echo "scale=2; $status_new_ms / $status_base_ms" | bc)"
printf 'drift() on %d tables (%d objects): %.1f ms in a new session, %.1f ms warm (target < 500 ms: %s);\n' \
    "$N" "$drift_objects" "$drift_cold" "$drift_warm" "$(verdict "$drift_cold < 500")"
printf '  a plain scan of their pg_class and pg_attribute rows: %.1f ms new, %.1f ms warm (ratio %.1f warm)\n' \
    "$scan_cold" "$scan_warm" "$(echo "$drift_warm / $scan_warm" | bc -l)"
printf 'peak private memory of the backend, apply of %d -> %d migrations: %.1f MB -> %.1f MB, ratio %.2f,\n' \
    "$N" $((N * 10)) "$(echo "$small_kb / 1024" | bc -l)" "$(echo "$large_kb / 1024" | bc -l)" "$mem_ratio"
printf '  %d bytes per extra migration (target < 1024, no script text kept: %s)\n' \
    "$per_migration_b" "$(verdict "$per_migration_b < 1024")"
printf 'peak private memory of the backend, apply of one %.1f MB script of %d statements: %.1f MB, %.2f x the script;\n' \
    "$(echo "$script_bytes / 1048576" | bc -l)" "$script_stmts" "$(echo "$script_kb / 1024" | bc -l)" \
    "$(echo "$script_kb * 1024 / $script_bytes" | bc -l)"
printf '  %.1f MB over a one-statement script (%.1f MB): %.2f x the script (target < 3: %s)\n' \
    "$(echo "($script_kb - $tiny_kb) / 1024" | bc -l)" "$(echo "$tiny_kb / 1024" | bc -l)" \
    "$script_ratio" "$(verdict "$script_ratio < 3")"

# 4b. the fingerprint taken after each migration of run(), bounded by the
#     DDL log, against none and against every schema each time (its own
#     throwaway cluster; FP_BENCH=0 skips it)
if [ "${FP_BENCH:-1}" != 0 ]; then
    echo
    bash test/bench/fingerprint.sh --as-postgres
fi

# 4c. tenants: an ADD COLUMN across tenant schemas by run_tenants() with
#     parallel 1 and 2 against a psql call per schema, and tenant_status()
#     (its own throwaway cluster; TENANTS_BENCH=0 skips it)
if [ "${TENANTS_BENCH:-1}" != 0 ]; then
    echo
    TENANTS_BIG=${TENANTS_BIG:-0} bash test/bench/tenants.sh --as-postgres
fi

# 4d. test databases: migrate.test_database() from the pool and cloned,
#     against applying the folder into an empty database (its own
#     throwaway cluster; TESTDB_BENCH=0 skips it)
if [ "${TESTDB_BENCH:-1}" != 0 ]; then
    echo
    bash test/bench/testdb.sh --as-postgres
fi

# 5. the application's side of a migration behind a long query: pgbench
#    latency with psql, then with migrate.run's lock timeout and retries
#    (its own throwaway cluster; LOCK_BENCH=0 skips it)
if [ "${LOCK_BENCH:-1}" != 0 ]; then
    echo
    bash test/bench/lock_retries.sh --as-postgres
fi

# 6. the same stall with nothing set: migrate.run at the defaults of 0.5
#    (default lock timeout, retries on) against psql, a 6 s reader (its own
#    throwaway cluster; STALL_BENCH=0 skips it)
if [ "${STALL_BENCH:-1}" != 0 ]; then
    echo
    bash test/bench/stall.sh --as-postgres
fi
