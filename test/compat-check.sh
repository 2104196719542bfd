#!/usr/bin/env bash
# Compile src/*/*.c (and the command's client/*.c) with warnings as errors
# against the server headers of
# PostgreSQL 13, 17 and 18, taken from other Debian releases, so that the
# guards in src/util/compat.h stay true. PostgreSQL 15 is built and tested for
# real; these are compiled only. Debian 12 has no 14 or 16.
#   test/compat-check.sh --download   fetch the headers (as root), then stop
#   test/compat-check.sh              compile, one "compat PGnn ... ok" line each
# Headers that cannot be fetched are reported as skipped, not as failures.
set -uo pipefail
cd "$(dirname "$0")/.."
cache=${PG_COMPAT_CACHE:-/var/cache/pg_migrate-compat}
versions="13:bullseye 17:trixie 18:sid"

if [ "${1:-}" = "--download" ]; then
    mkdir -p "$cache/lists/partial" "$cache/archives/partial"
    : > "$cache/sources.list"
    for pair in $versions; do
        echo "deb http://deb.debian.org/debian ${pair#*:} main" >> "$cache/sources.list"
    done
    apt_opts=(-o "Dir::Etc::sourcelist=$cache/sources.list" -o Dir::Etc::sourceparts=-
              -o "Dir::State::Lists=$cache/lists" -o "Dir::Cache::Archives=$cache/archives"
              -o APT::Sandbox::User=root)
    timeout 300 apt-get "${apt_opts[@]}" update -qq >/dev/null 2>&1 || exit 0
    for pair in $versions; do
        v=${pair%%:*}
        [ -d "$cache/$v/usr/include/postgresql/$v/server" ] && continue
        (cd "$cache" && timeout 120 apt-get "${apt_opts[@]}" download -qq "postgresql-server-dev-$v" >/dev/null 2>&1) || continue
        dpkg -x "$cache"/postgresql-server-dev-"${v}"_*.deb "$cache/$v"
    done
    chmod -R a+rX "$cache"
    exit 0
fi

failed=0
for pair in $versions; do
    v=${pair%%:*}
    inc=$cache/$v/usr/include/postgresql/$v/server
    if [ ! -d "$inc" ]; then
        echo "compat PG$v ... skipped (headers not available)"
        continue
    fi
    ok=1
    for f in src/*/*.c; do
        gcc -fsyntax-only -std=gnu99 -D_GNU_SOURCE -Werror -Wall -Wextra \
            -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers \
            -Wmissing-prototypes -Wdeclaration-after-statement \
            -I src -I "$inc" -I /usr/include/postgresql "$f" || ok=0
    done
    # the pg_migrate command too (libpq's headers are the machine's)
    for f in client/*.c; do
        gcc -fsyntax-only -std=gnu99 -D_GNU_SOURCE -Werror -Wall -Wextra \
            -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers \
            -Wmissing-prototypes -Wdeclaration-after-statement -DPG_MIGRATE_VERSION='"check"' \
            -I client -I "$inc" -I /usr/include/postgresql -I /usr/include/postgresql/internal \
            "$f" || ok=0
    done
    if [ $ok -eq 1 ]; then echo "compat PG$v ... ok"; else echo "compat PG$v ... FAILED"; failed=1; fi
done
exit $failed
