# Sourced by the test and demo scripts: a throwaway PostgreSQL cluster in a
# directory of our own, on a free loopback port, with its socket in that
# directory. It is never the machine's own cluster, and it is stopped on exit.

PG_BINDIR=$(pg_config --bindir)

# A TCP port nothing listens on, from the dynamic range
free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}

# cluster_start DIR [setting=value ...]: initdb and start; exports PGHOST/PGPORT
cluster_start() {
    local dir=$1; shift
    CLUSTER_DIR=$dir
    CLUSTER_PORT=$(free_port)
    "$PG_BINDIR/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; return 1; }
    {
        echo "port = $CLUSTER_PORT"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$dir'"
        echo "max_worker_processes = 16"
        for setting in "$@"; do echo "$setting"; done
    } >> "$dir/data/postgresql.conf"
    trap cluster_stop EXIT
    "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null \
        || { cat "$dir/server.log" >&2; return 1; }
    export PGHOST=$dir PGPORT=$CLUSTER_PORT PGUSER=postgres PGDATABASE=postgres
}

cluster_stop() {
    if [ -n "${CLUSTER_DIR:-}" ] && [ -f "$CLUSTER_DIR/data/postmaster.pid" ]; then
        "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1 \
            || "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    [ -n "${CLUSTER_DIR:-}" ] && rm -rf "$CLUSTER_DIR"
}

# PostgreSQL refuses to run as root: as root, build and install here, then
# go on as the postgres user in a copy of the tree it owns.
# Usage, from the repository root: as_postgres_copy test/x.sh "$@"
# (returns only when not root)
as_postgres_copy() {
    local script=$1; shift
    [ "$(id -u)" -eq 0 ] || return 0
    local copy
    copy=$(mktemp -d /tmp/pg_migrate_test.XXXXXX)
    cp -a "$PWD/." "$copy/"
    chown -R postgres: "$copy"
    cd /
    runuser -u postgres -- env PATH="$PATH" bash "$copy/$script" --as-postgres "$@"
    local rc=$?
    rm -rf "$copy"
    exit $rc
}

# The common start of the scripts, from the repository root: as root,
# install the dependencies, build (warnings are errors), install, and go on
# as postgres in a copy of the tree (this does not return). Otherwise just
# build.
# Usage: prepare test/x.sh "$@"
prepare() {
    local script=$1; shift
    if [ "$(id -u)" -eq 0 ]; then
        bash test/install-deps.sh || exit 1
        make -s clean >/dev/null
        make -s WERROR=1 || { echo "build failed" >&2; exit 1; }
        make -s install >/dev/null || { echo "install failed" >&2; exit 1; }
        as_postgres_copy "$script" "$@"
    fi
    make -s WERROR=1 || { echo "build failed" >&2; exit 1; }
}
