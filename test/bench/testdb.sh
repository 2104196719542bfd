#!/usr/bin/env bash
# pg_migrate benchmark, test databases: the time per migrated test database
# handed out by migrate.test_database() from the pool, cloned from the
# folder's template without the pool, and made by applying the folder into
# an empty database (CREATE DATABASE, CREATE EXTENSION, migrate.apply: the
# baseline), for folders of 10 and 300 migrations, in the same run; and
# CREATE DATABASE ... TEMPLATE with each STRATEGY (15 and later), which
# chose the one migrate.test_database() uses.  Server-side times (psql's
# \timing), median of TESTDB_REPEAT.  Not a test: it exits 0 once it has
# measured, and marks a missed target with MISSED.
#
#   TESTDB_SIZES   the folders' numbers of migrations ("10 300"), each of
#                  5 statements (test/bench/generate.py)
#   TESTDB_REPEAT  timings per figure (5)
#   TESTDB_DATA_DIR where the throwaway cluster lives (/tmp): a clone's
#                  time is mostly CREATE DATABASE's own, creating and
#                  copying the template's files, which the storage decides;
#                  /dev/shm (tmpfs) measures it as test clusters in CI
#                  usually run, on memory
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. test/cluster.sh
. test/bench/common.sh

TESTDB_SIZES=${TESTDB_SIZES:-10 300}; TESTDB_REPEAT=${TESTDB_REPEAT:-5}
POOL=3

[ "${1:-}" = "--as-postgres" ] || prepare test/bench/testdb.sh "$@"

work=$(mktemp -d "${TESTDB_DATA_DIR:-/tmp}/pg_migrate_bench_testdb.XXXXXX")
cluster_start "$work" "shared_buffers = '256MB'" "fsync = off"
psql_q -c "CREATE EXTENSION pg_migrate"

verdict() { [ "$(echo "$1" | bc -l)" = 1 ] && echo met || echo MISSED; }

# The server-side milliseconds of each statement psql runs with \timing on,
# one per line
timings() { psql -X -q -v ON_ERROR_STOP=1 "$@" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'; }
# The last of them
last_timing() { timings -c '\timing on' "$@" | tail -1; }

# wait until the pool holds POOL databases
pool_full() {
    psql_q -c "DO \$\$ BEGIN WHILE (SELECT count(*) FROM migrate.test_databases WHERE pooled) < $POOL
               LOOP PERFORM pg_sleep(0.02); END LOOP; END \$\$"
}

echo "test databases: per database, median of $TESTDB_REPEAT (server-side, fsync off, cluster in ${TESTDB_DATA_DIR:-/tmp}: $(stat -f -c %T "$work"))"
for n in $TESTDB_SIZES; do
    python3 test/bench/generate.py "$work/f$n" "$work/f$n.sql" "$n" 5
    dir="$work/f$n"
    call="SELECT name FROM migrate.test_database('$dir')"

    # the baseline: an empty database, the extension, the folder applied
    : > "$work/apply.times"
    for r in $(seq 1 "$TESTDB_REPEAT"); do
        db=bench_apply_${n}_$r
        t=$(last_timing -c "CREATE DATABASE $db")
        t2=$(timings -d "$db" -c '\timing on' -c "SET client_min_messages = warning" -c "CREATE EXTENSION pg_migrate" \
                -c "SELECT count(*) FROM migrate.apply('$dir')" | tail -2 | paste -sd+ | bc)
        echo "$t + $t2" | bc >> "$work/apply.times"
        psql_q -c "DROP DATABASE $db"
    done
    apply=$(median < "$work/apply.times")

    # the template, built by the first call
    build=$(last_timing -c "SET client_min_messages = warning" -c "$call")

    # cloned without the pool, then from the pool (refilled between
    # calls: the wait is not timed), each in one session after a first
    # call that is not counted (it loads the library), as a test suite's
    # connection that asks for one database per test
    {
        echo "SET client_min_messages = warning;"
        echo "$call;"
        echo '\timing on'
        for r in $(seq 1 "$TESTDB_REPEAT"); do echo "$call;"; done
    } > "$work/clone.sql"
    timings -f "$work/clone.sql" > "$work/clone.times"
    clone=$(median < "$work/clone.times")

    # the floor: PostgreSQL's own CREATE DATABASE ... TEMPLATE of that
    # template, with the strategy test_database() uses, in one session
    template=$(psql -XAtc "SELECT name FROM migrate.test_database_templates ORDER BY built_at DESC LIMIT 1")
    strategy=
    [ "$(psql -XAtc 'SHOW server_version_num')" -ge 150000 ] && strategy=" STRATEGY FILE_COPY"
    {
        echo '\timing on'
        for r in $(seq 1 "$TESTDB_REPEAT"); do
            echo "CREATE DATABASE bench_raw_$r TEMPLATE $template$strategy;"
        done
    } > "$work/raw.sql"
    timings -f "$work/raw.sql" > "$work/raw.times"
    raw=$(median < "$work/raw.times")
    for r in $(seq 1 "$TESTDB_REPEAT"); do psql_q -c "DROP DATABASE bench_raw_$r"; done

    {
        echo "SET client_min_messages = warning;"
        echo "SET migrate.test_database_pool = $POOL;"
        echo "$call;"
        for r in $(seq 1 "$TESTDB_REPEAT"); do
            echo '\timing off'
            echo "DO \$\$ BEGIN WHILE (SELECT count(*) FROM migrate.test_databases WHERE pooled) < $POOL
                  LOOP PERFORM pg_sleep(0.02); END LOOP; END \$\$;"
            echo '\timing on'
            echo "$call;"
        done
    } > "$work/pool.sql"
    timings -f "$work/pool.sql" > "$work/pool.times"
    pool=$(median < "$work/pool.times")
    pool_full
    psql_q -c "SELECT count(*) FROM migrate.drop_test_databases()" >/dev/null

    printf '%4d migrations: apply into an empty database %.1f ms; clone %.1f ms (%.3f x apply); from the pool %.1f ms (%.3f x apply); template built once in %.1f ms\n' \
        "$n" "$apply" "$clone" "$(echo "$clone / $apply" | bc -l)" "$pool" "$(echo "$pool / $apply" | bc -l)" "$build"
    printf '      CREATE DATABASE ... TEMPLATE alone (%s): %.1f ms, so a clone adds %.1f ms to it\n' \
        "$(psql -XAtc "SELECT pg_size_pretty(pg_database_size('$template'))")" "$raw" "$(echo "$clone - $raw" | bc -l)"
    printf '      targets: from the pool < 20 ms: %s; a clone < 100 ms: %s\n' \
        "$(verdict "$pool < 20")" "$(verdict "$clone < 100")"
done

# CREATE DATABASE ... TEMPLATE of the last folder's template, each strategy
if [ "$(psql -XAtc 'SHOW server_version_num')" -ge 150000 ]; then
    template=$(psql -XAtc "SELECT name FROM migrate.test_database_templates ORDER BY built_at DESC LIMIT 1")
    size=$(psql -XAtc "SELECT pg_size_pretty(pg_database_size('$template'))")
    line="CREATE DATABASE ... TEMPLATE $template ($size):"
    for s in WAL_LOG FILE_COPY; do
        : > "$work/$s.times"
        for r in $(seq 1 "$TESTDB_REPEAT"); do
            last_timing -c "CREATE DATABASE bench_${s}_$r TEMPLATE $template STRATEGY $s" >> "$work/$s.times"
            psql_q -c "DROP DATABASE bench_${s}_$r"
        done
        line="$line $s $(median < "$work/$s.times" | xargs printf '%.1f') ms;"
    done
    echo "$line (migrate.test_database() uses FILE_COPY)"
fi
psql_q -c "SELECT count(*) FROM migrate.drop_test_databases(templates => true)" >/dev/null
