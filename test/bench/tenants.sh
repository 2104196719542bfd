#!/usr/bin/env bash
# pg_migrate benchmark, tenants: one ADD COLUMN migration applied to every
# tenant schema by CALL migrate.run_tenants(), with parallel 1 and 2,
# against a loop of one psql call per schema (SET search_path; ALTER
# TABLE) measured in the same run, each in a fresh copy of the same
# database; and migrate.tenant_status() over TENANTS_STATUS_N schemas.
# Not a test: it exits 0 once it has measured, and marks a missed target
# with MISSED.  Beside each figure, the machine's load (the 1-minute
# average, /proc/loadavg) when it was measured: other work on the machine
# slows every way alike, not their ratios.
#
#   TENANTS_N         tenant schemas of the run timings (1000; target < 60 s);
#                     0 skips them
#   TENANTS_BIG       tenant schemas of the large run timings (10000;
#                     target < 600 s); 0 skips them (run.sh's default)
#   TENANTS_STATUS_N  tenant schemas of the status timing (10000; target < 1 s)
#   TENANTS_PSQL_MAX  psql calls timed at most (0: one per schema); with
#                     fewer calls than schemas, the loop's time is scaled
#                     to every schema (a psql call per schema costs the
#                     same, connection and all, among 1,000 or 10,000)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. test/cluster.sh
. test/bench/common.sh

TENANTS_N=${TENANTS_N:-1000}; TENANTS_BIG=${TENANTS_BIG:-10000}
TENANTS_STATUS_N=${TENANTS_STATUS_N:-10000}; TENANTS_PSQL_MAX=${TENANTS_PSQL_MAX:-0}

[ "${1:-}" = "--as-postgres" ] || prepare test/bench/tenants.sh "$@"

work=$(mktemp -d /tmp/pg_migrate_bench_tenants.XXXXXX)
cluster_start "$work" "shared_buffers = '256MB'" "fsync = off"
mkdir -p "$work/folder"
printf 'ALTER TABLE accounts ADD COLUMN email text;\n' > "$work/folder/0001_accounts_email.sql"

verdict() { [ "$(echo "$1" | bc -l)" = 1 ] && echo met || echo MISSED; }
load() { cut -d' ' -f1 /proc/loadavg; }

# A template database of n tenant schemas, each with its accounts table
template() {
    local db=$1 n=$2
    psql_q -c "CREATE DATABASE $db"
    psql_q -d "$db" -c "CREATE EXTENSION pg_migrate" -c "
DO \$\$
BEGIN
    FOR i IN 1..$n LOOP
        EXECUTE format('CREATE SCHEMA %I', 'tenant_' || i);
        EXECUTE format('CREATE TABLE %I.accounts (id int PRIMARY KEY, name text)', 'tenant_' || i);
        -- a transaction's locks are bounded by max_locks_per_transaction
        IF i % 500 = 0 THEN COMMIT; END IF;
    END LOOP;
END
\$\$"
}

# Seconds for one way of migrating every tenant of a copy of a template
time_way() {
    local template=$1 n=$2 way=$3 db=bench_t_$RANDOM t0 t1 timed=$2
    psql_q -c "CREATE DATABASE $db TEMPLATE $template"
    t0=$(now)
    case $way in
        psql)
            [ "$TENANTS_PSQL_MAX" -gt 0 ] && [ "$TENANTS_PSQL_MAX" -lt "$n" ] && timed=$TENANTS_PSQL_MAX
            for i in $(seq 1 "$timed"); do
                psql_q -d "$db" -c "SET search_path = tenant_$i; ALTER TABLE accounts ADD COLUMN email text"
            done ;;
        parallel*)
            psql_q -d "$db" -c "SET client_min_messages = warning" -c "SET migrate.lint = off" \
                -c "CALL migrate.run_tenants('$work/folder', tenant_pattern => 'tenant\\_%', parallel => ${way#parallel})" >/dev/null ;;
    esac
    t1=$(now)
    if [ "$way" != psql ]; then
        local applied
        applied=$(psql_q -At -d "$db" -c "SELECT count(*) FROM migrate.tenant_runs WHERE state = 'applied'")
        [ "$applied" = "$n" ] || echo "  (only $applied of $n tenants applied)" >&2
    fi
    [ "${KEEP_DB:-}" = "$way" ] && echo "$db" > "$work/kept" || psql_q -c "DROP DATABASE $db"
    echo "$(echo "($t1 - $t0) * $n / $timed" | bc -l) $(load) $timed"
}

run_sizes() {
    local n=$1 target=$2 psql_s p1 p2 psql_l p1_l p2_l psql_n
    echo "building $n tenant schemas..."
    template bench_tenants_$n "$n"
    read -r psql_s psql_l psql_n < <(time_way bench_tenants_$n "$n" psql)
    read -r p1 p1_l _ < <(time_way bench_tenants_$n "$n" parallel1)
    read -r p2 p2_l _ < <(KEEP_DB=parallel2 time_way bench_tenants_$n "$n" parallel2)
    printf 'ADD COLUMN across %d tenant schemas (target < %d s):\n' "$n" "$target"
    printf '  psql, one call per schema   %8.1f s  (%.1f ms a tenant)                load %s%s\n' "$psql_s" \
        "$(echo "$psql_s * 1000 / $n" | bc -l)" "$psql_l" \
        "$([ "$psql_n" = "$n" ] || echo "  ($psql_n schemas timed, scaled to $n)")"
    printf '  run_tenants, parallel 1     %8.1f s  (%.1f ms a tenant)  %.2f x psql  %s  load %s\n' "$p1" \
        "$(echo "$p1 * 1000 / $n" | bc -l)" "$(echo "$p1 / $psql_s" | bc -l)" "$(verdict "$p1 < $target")" "$p1_l"
    printf '  run_tenants, parallel 2     %8.1f s  (%.1f ms a tenant)  %.2f x psql  %s  load %s\n' "$p2" \
        "$(echo "$p2 * 1000 / $n" | bc -l)" "$(echo "$p2 / $psql_s" | bc -l)" "$(verdict "$p2 < $target")" "$p2_l"
}

if [ "$TENANTS_N" != 0 ]; then
    run_sizes "$TENANTS_N" 60
fi
if [ "$TENANTS_BIG" != 0 ]; then
    run_sizes "$TENANTS_BIG" 600
fi

# tenant_status over TENANTS_STATUS_N schemas: the database the largest
# run left (every tenant applied), when it has that many tenants; a new
# one otherwise, timed with nothing applied, then again once
# run_tenants has applied the folder to every tenant
status_timing() {
    : > "$work/status.times"
    for r in 1 2 3; do
        t0=$(now)
        psql_q -d "$kept" -c "SELECT count(*), sum(applied), sum(pending) FROM migrate.tenant_status('$work/folder', tenant_pattern => 'tenant\\_%')" >/dev/null
        t1=$(now)
        echo "$t1 - $t0" | bc >> "$work/status.times"
    done
    status_s=$(median < "$work/status.times")
    counts=$(psql_q -At -d "$kept" -c "SELECT format('%s applied, %s pending', sum(applied), sum(pending)) FROM migrate.tenant_status('$work/folder', tenant_pattern => 'tenant\\_%')")
    printf 'tenant_status of %d tenant schemas, %s (%s): %.3f s (target < 1 s: %s)  load %s\n' "$TENANTS_STATUS_N" "$1" "$counts" "$status_s" \
        "$(verdict "$status_s < 1")" "$(load)"
}
kept=$(cat "$work/kept" 2>/dev/null || echo postgres)
if [ "$(psql_q -At -d "$kept" -c "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenant\\_%'")" != "$TENANTS_STATUS_N" ]; then
    echo "building $TENANTS_STATUS_N tenant schemas..."
    template bench_tenants_status "$TENANTS_STATUS_N"
    kept=bench_tenants_status
    status_timing "nothing applied"
    psql_q -d "$kept" -c "SET client_min_messages = warning" \
        -c "CALL migrate.run_tenants('$work/folder', tenant_pattern => 'tenant\\_%', parallel => 2)" >/dev/null
fi
status_timing "every one applied"
