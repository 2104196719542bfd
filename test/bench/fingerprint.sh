#!/usr/bin/env bash
# pg_migrate benchmark, the schema's fingerprint in migrate.run(): run()
# commits each migration with a fingerprint of what it changed. In a
# database of FP_SCHEMAS schemas of FP_TABLES tables each (a serial primary
# key, two more columns, an index: about 8 objects a table), run() applies
# FP_N migrations that each add a column to one table of the first schema.
# Timed three ways, each in a fresh copy of the same database, alternating,
# median of REPEAT:
#   none     the fingerprint table removed (as before 0.3): the baseline;
#   bounded  as installed: each take reads the schemas the migration's DDL
#            log rows name (here one schema of FP_TABLES tables);
#   whole    the DDL log's ddl_command_end trigger disabled, so that each
#            take reads every schema, as all takes did before the log
#            bounded them (it also skips writing the log's rows).
# Not a test: it exits 0 once it has measured, and marks a missed target
# with MISSED.
#
#   FP_SCHEMAS  schemas (10)
#   FP_TABLES   tables per schema (100)
#   FP_N        migrations run() applies (100, at most FP_TABLES)
#   REPEAT      runs per timing, the median is kept (3)
#   FP_WAYS     which of the three to time ("none bounded whole")
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. test/cluster.sh
. test/bench/common.sh

FP_SCHEMAS=${FP_SCHEMAS:-10}; FP_TABLES=${FP_TABLES:-100}; FP_N=${FP_N:-100}
REPEAT=${REPEAT:-3}; FP_WAYS=${FP_WAYS:-none bounded whole}

[ "${1:-}" = "--as-postgres" ] || prepare test/bench/fingerprint.sh "$@"

work=$(mktemp -d /tmp/pg_migrate_bench_fp.XXXXXX)
cluster_start "$work" "shared_buffers = '256MB'" "fsync = off"

echo "building $FP_SCHEMAS schemas of $FP_TABLES tables, and $FP_N migrations..."
psql_q -c "CREATE DATABASE bench_fp_template"
psql_q -d bench_fp_template -c "CREATE EXTENSION pg_migrate" -c "
DO \$\$
BEGIN
    FOR s IN 1..$FP_SCHEMAS LOOP
        EXECUTE format('CREATE SCHEMA s_%s', s);
        FOR t IN 1..$FP_TABLES LOOP
            EXECUTE format('CREATE TABLE s_%s.t_%s (id serial PRIMARY KEY, name text NOT NULL, created_at timestamptz DEFAULT now())', s, t);
            EXECUTE format('CREATE INDEX ON s_%s.t_%s (name)', s, t);
        END LOOP;
    END LOOP;
END \$\$" -c "TRUNCATE migrate.ddl_log" \
    -c "INSERT INTO migrate.fingerprint SELECT * FROM migrate.schema_objects()"
objects=$(psql_q -At -d bench_fp_template -c "SELECT count(*) FROM migrate.fingerprint")
mkdir -p "$work/fp"
for i in $(seq 1 "$FP_N"); do
    printf -- '-- migrate:allow lock_timeout_unset\nALTER TABLE s_1.t_%d ADD COLUMN extra int;\n' "$i" \
        > "$work/fp/$(printf '%05d' "$i")_extra_$i.sql"
done

# one run() in a fresh copy of the template, set up as $2 says
run_ms() {
    psql_q -c "DROP DATABASE IF EXISTS bench_fp" -c "CREATE DATABASE bench_fp TEMPLATE bench_fp_template"
    case $1 in
        none) psql_q -d bench_fp -c "ALTER EXTENSION pg_migrate DROP TABLE migrate.fingerprint" \
                  -c "DROP TABLE migrate.fingerprint" ;;
        whole) psql_q -d bench_fp -c "ALTER EVENT TRIGGER pg_migrate_ddl_command_end DISABLE" ;;
    esac
    local t0 t1
    t0=$(now)
    psql_q -d bench_fp -c "SET client_min_messages = warning" -c "CALL migrate.run('$work/fp')"
    t1=$(now)
    echo "($t1 - $t0) * 1000" | bc
}
: > "$work/none"; : > "$work/bounded"; : > "$work/whole"
for _ in $(seq 1 "$REPEAT"); do
    for way in $FP_WAYS; do
        run_ms $way >> "$work/$way"
    done
done
none=$(median < "$work/none"); bounded=$(median < "$work/bounded"); whole=$(median < "$work/whole")
none=${none:-0}; bounded=${bounded:-0}; whole=${whole:-0}

verdict() { if [ "$(echo "$1" | bc)" -eq 1 ]; then echo "ok"; else echo "MISSED"; fi; }
# what the fingerprint adds to each migration, each way
per_bounded=$(echo "($bounded - $none) / $FP_N" | bc -l)
per_whole=$(echo "($whole - $none) / $FP_N" | bc -l)
echo
echo "fingerprint in run() ($(psql_q -At -c 'SHOW server_version'), median of $REPEAT): $FP_SCHEMAS schemas x $FP_TABLES tables ($objects objects), $FP_N migrations on one schema"
printf '  no fingerprint %.0f ms; bounded takes %.0f ms (%.1f ms a migration); every schema each time %.0f ms (%.1f ms a migration)\n' \
    "$none" "$bounded" "$per_bounded" "$whole" "$per_whole"
if [ "$whole" != 0 ] && [ "$bounded" != 0 ]; then
    printf '  a bounded take costs %.2f of a take of every schema (target <= 0.5, reading 1 schema of %d: %s)\n' \
        "$(echo "$per_bounded / $per_whole" | bc -l)" "$FP_SCHEMAS" "$(verdict "$per_bounded / $per_whole <= 0.5")"
fi
