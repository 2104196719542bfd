#!/usr/bin/env bash
# Command 1 of the README: build and install pg_migrate, start a throwaway
# cluster, apply the example migrations, show their status, roll two back,
# and stop the cluster.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. test/cluster.sh

[ "${1:-}" = "--as-postgres" ] || prepare test/demo.sh "$@"

work=$(mktemp -d /tmp/pg_migrate_demo.XXXXXX)
cluster_start "$work"
# the server reads the folder itself, so it must be where it can
cp -R examples/migrations "$work/migrations"
dir=$work/migrations
echo "Throwaway cluster on port $PGPORT; migrations in $dir"
echo

psql -X -q -v ON_ERROR_STOP=1 -v dir="$dir" <<'SQL'
\set ECHO queries
CREATE EXTENSION pg_migrate;

-- what is there to do?
SELECT name, state FROM migrate.status(:'dir');

-- apply everything pending, in one transaction
SELECT name, action FROM migrate.apply(:'dir');

-- the schema is in place
\d quiz_answers
SELECT name, state, applied_at IS NOT NULL AS recorded FROM migrate.status(:'dir');

-- applying again does nothing
SELECT name, action FROM migrate.apply(:'dir');

-- undo the rewards system and everything applied after it
SELECT name, action FROM migrate.rollback('0004_rewards_system');
SELECT name, state FROM migrate.status(:'dir');

-- what happened, in order
SELECT action, name, performed_by FROM migrate.history ORDER BY id;
SQL
echo
echo "Demo done; stopping the cluster."
