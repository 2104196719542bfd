#!/usr/bin/env bash
# Run every suite (pg_regress, isolation, TAP with the real fixtures of
# test/t/020_real_folders.pl) on PostgreSQL 15 built from source (the
# upstream tarball of Debian's source package postgresql-15) with
# assertions (--enable-cassert, which brings CLOBBER_FREED_MEMORY and
# MEMORY_CONTEXT_CHECKING): freed memory is overwritten at once, so a use of
# memory a transaction has freed crashes there instead of passing by luck,
# and a broken assertion stops the backend with TRAP in the server log.
# Developers run it before resolving an issue; it is not part of
# run-tests.sh because the build alone takes longer than CI can afford
# (see test/README.md).
#   test/cassert.sh --build   build the server (as root), then stop
#   test/cassert.sh           build once (cached), install pg_migrate into a
#                             copy of that server and run the suites (as
#                             root: build first, then go on as postgres in a
#                             copy of the tree)
#   test/cassert.sh ARGS...   the same, but one `make installcheck ARGS`
#                             instead of the three suites, e.g.
#                             REGRESS="01_apply 16_worker_statements" ISOLATION= TAP_TESTS=
# The server is built once into $PG_CASSERT_CACHE (default
# /var/cache/pg_migrate-cassert), one folder per Debian version of
# postgresql-15: that of the installed package, else the newest source.
# Ends with "N passed, N failed"; fails when a test fails or the server logs
# show a crash ("terminated by signal" 11, 6, ...) or an assertion failure
# (TRAP).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
cache=${PG_CASSERT_CACHE:-/var/cache/pg_migrate-cassert}

# The Debian versions of PostgreSQL 15 to try, best first: that of the
# installed package, then the sources apt knows of, newest first (the
# mirror may list a version whose files it does not have)
source_versions() {
    {
        dpkg-query -W -f='${Version}\n' postgresql-15 2>/dev/null
        apt-cache showsrc postgresql-15 2>/dev/null | sed -n 's/^Version: //p' | sort -rV
    } | awk 'NF && !seen[$0]++'
}

# Debian's source lines for bookworm, in the form of the machine's own
# debian.sources, unless some deb-src line is there already
add_deb_src() {
    grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/ \
        && return 0
    cat > /etc/apt/sources.list.d/pg_migrate-src.sources <<'EOF'
# added by pg_migrate's test/cassert.sh, for apt-get source postgresql-15
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt-get update -qq
}

# Build and install the server into $cache/VERSION, all or nothing.
# Returns 2 when the source could not be downloaded, 1 when the build failed
build_server() {
    local ver=$1 dest=$cache/$1 src start
    start=$(date +%s)
    rm -rf "$dest" "$cache/build"
    mkdir -p "$cache/build"
    src=$cache/build
    # apt warns that it downloads as root, which is expected here
    (cd "$src" && apt-get source --download-only -qq "postgresql-15=$ver" >/dev/null 2>"$src/source.log") \
        || { sed -n 's/^E: /cassert.sh: /p' "$src/source.log" >&2; return 2; }
    # PostgreSQL's own sources, without Debian's patches: those put the
    # modules and pgxs into /usr/lib/postgresql/15/lib whatever the
    # prefix, so "make install" would overwrite the installed server's
    tar xjf "$src"/postgresql-15_*.orig.tar.bz2 -C "$src" \
        || { echo "cassert.sh: could not unpack the source of postgresql-15 $ver" >&2; return 1; }
    src=$(find "$src" -maxdepth 1 -type d -name 'postgresql-15*' | head -1)
    [ -n "$src" ] || { echo "cassert.sh: no source tree in the source package" >&2; return 1; }
    echo "cassert.sh: building PostgreSQL $ver with assertions in $src (log: $cache/build/build.log)"
    (
        cd "$src" &&
        ./configure --prefix="$dest" --enable-cassert --enable-debug --enable-tap-tests \
            --with-readline --with-icu --with-openssl --without-llvm &&
        make -j2 && make -C contrib -j2 &&
        make install && make -C contrib install
    ) > "$cache/build/build.log" 2>&1 \
        || { tail -40 "$cache/build/build.log" >&2; rm -rf "$dest"; return 1; }
    chmod -R a+rX "$dest"
    rm -rf "$cache/build"
    echo "cassert.sh: built PostgreSQL $ver in $(( $(date +%s) - start ))s into $dest"
}

if [ "${1:-}" != "--as-postgres" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "cassert.sh: run as root (it installs the build dependencies and builds the server)" >&2
        exit 1
    fi
    bash test/install-deps.sh --cassert || exit 1
    add_deb_src || exit 1
    mkdir -p "$cache"
    server=
    for ver in $(source_versions); do
        # contrib too: the real folders' migrations create pgcrypto, ltree
        # and pg_trgm (a build of before that is built again)
        [ -x "$cache/$ver/bin/postgres" ] &&
            [ -f "$cache/$ver/share/postgresql/extension/pgcrypto.control" ] && { server=$cache/$ver; break; }
    done
    if [ -z "$server" ]; then
        for ver in $(source_versions); do
            build_server "$ver"
            case $? in
                0) server=$cache/$ver; break ;;
                2) echo "cassert.sh: no source of postgresql-15 $ver, trying an older one" >&2 ;;
                *) exit 1 ;;
            esac
        done
    fi
    [ -n "$server" ] || { echo "cassert.sh: could not download any source of postgresql-15" >&2; exit 1; }
    [ "${1:-}" = "--build" ] && exit 0
    . test/cluster.sh
    as_postgres_copy test/cassert.sh "$server" "$@"
fi

# As postgres, in a copy of the tree: the cached server, then make's args
shift
cached=$1
shift
. test/cluster.sh
work=$(mktemp -d /tmp/pg_migrate_cassert.XXXXXX)
cleanup() {
    cluster_stop
    rm -rf "$work"
}
trap cleanup EXIT
start=$(date +%s)

# installing pg_migrate must not change the cache other runs use
cp -a "$cached" "$work/server"
pg_config=$work/server/bin/pg_config
export PATH=$work/server/bin:$PATH
echo "== PostgreSQL $("$work/server/bin/postgres" --version | awk '{print $NF}') with assertions ($cached)"
mk=(make --no-print-directory "PG_CONFIG=$pg_config")
"${mk[@]}" -s clean >/dev/null
if ! "${mk[@]}" -s WERROR=1 || ! "${mk[@]}" -s install >/dev/null; then
    echo "cassert.sh: build failed"
    echo "0 passed, 1 failed"
    exit 1
fi

mkdir "$work/cluster"
PG_BINDIR=$work/server/bin
cluster_start "$work/cluster" || exit 1
trap cleanup EXIT   # cluster_start replaced it
# the regress and isolation tests' migration folders (@testdir@ in them, see
# test/launcher.sh): this run's own, removed with $work
export PG_MIGRATE_TEST_DIR=$work/testdir
mkdir "$PG_MIGRATE_TEST_DIR"
log=$work/make.log
failed_suites=0
run_suite() {
    local name=$1; shift
    echo "== $name"
    if ! "${mk[@]}" installcheck "$@" 2>&1 | tee -a "$log"; then
        failed_suites=$((failed_suites + 1))
        for f in regression.diffs output_iso/regression.diffs; do
            [ -s "$f" ] && { echo "--- $f"; cat "$f"; }
        done
        for f in tmp_check/log/regress_log_*; do
            [ -f "$f" ] && grep -q "not ok" "$f" && { echo "--- $f"; tail -50 "$f"; }
        done
    fi
}
if [ $# -gt 0 ]; then
    run_suite "make installcheck $*" "$@"
else
    run_suite "pg_regress" ISOLATION= TAP_TESTS=
    run_suite "isolation" REGRESS= TAP_TESTS=
    # every TAP test, test/t/020_real_folders.pl with the real fixtures among them
    run_suite "TAP" REGRESS= ISOLATION=
fi

# A crash or a failed assertion in a background worker shows only in the
# server log: that of the cluster above and those of the TAP tests' own.
# The signals are those of a crash or an assertion (abort): a test may kill
# a backend on purpose with SIGKILL or SIGTERM.
echo "== server logs"
crash='TRAP:|terminated by signal (4|6|7|8|11)\b'
crashes=$(grep -lE "$crash" "$work/cluster/server.log" tmp_check/log/*.log 2>/dev/null)
{
    for f in $crashes; do
        echo "--- $f"
        grep -E -B2 -A5 "$crash" "$f" | head -60
    done
    if [ -n "$crashes" ]; then
        echo "server log ... FAILED"
    else
        echo "server log ... ok"
    fi
} | tee -a "$log"

passed=$(grep -cE '^(test [^ ]+ +\.\.\. ok|ok [0-9]+ +[-+] |test/t/[^ ]+ \.+ ok|server log \.\.\. ok)' "$log")
failed=$(grep -cE '^(test [^ ]+ +\.\.\. FAILED|not ok [0-9]+ +[-+] |test/t/[^ ]+ \.+ (Dubious|Failed|not ok)|server log \.\.\. FAILED)' "$log")
tap_failed=$(grep -cE '^test/t/[^ ]+ +\(Wstat' "$log")
[ "$tap_failed" -gt "$failed" ] && failed=$tap_failed
[ "$failed_suites" -gt 0 ] && [ "$failed" -eq 0 ] && failed=$failed_suites
echo "suites took $(( $(date +%s) - start ))s"
echo "$passed passed, $failed failed"
[ "$failed_suites" -eq 0 ] && [ "$failed" -eq 0 ] && [ -z "$crashes" ]
