#!/usr/bin/env bash
# pg_regress's and pg_isolation_regress's --launcher (see the Makefile): runs
# psql or isolationtester on a test with @testdir@ standing for this run's
# directory of migration folders, $PG_MIGRATE_TEST_DIR.
#
# The tests copy their fixtures into folders there and hand those paths to
# the server, which names them back in NOTICEs, errors and result rows. A
# fixed path such as /tmp/pg_migrate_regress would let two runs on one
# machine overwrite each other's folders; a per-run path would make the
# expected output change with every run. So, as pg_regress once did with
# @abs_srcdir@ in its input/ and output/ files, the test files say
# @testdir@: it is replaced by the run's directory on the way in (the test
# on standard input, where pg_regress puts it) and the directory by
# @testdir@ on the way out (psql's or isolationtester's output, errors
# included, in the order they wrote them).
#
# To run one test by hand against a server of your own:
#   PG_MIGRATE_TEST_DIR=$(mktemp -d) PG_ABS_SRCDIR=$PWD/test \
#       test/launcher.sh psql -X -a -q < test/sql/01_apply.sql
set -uo pipefail

if [ -z "${PG_MIGRATE_TEST_DIR:-}" ]; then
    echo "launcher.sh: PG_MIGRATE_TEST_DIR is not set (the Makefile sets it for make installcheck)" >&2
    exit 2
fi
# The server names folders by their canonical path: map that one
dir=$(cd "$PG_MIGRATE_TEST_DIR" && pwd -P) || exit 2
# only characters that need no quoting in a path, a sed expression or SQL
case $dir in
    *[!A-Za-z0-9._/-]*)
        echo "launcher.sh: PG_MIGRATE_TEST_DIR \"$dir\" has characters other than letters, digits and ._/-" >&2
        exit 2 ;;
esac

sed "s|@testdir@|$dir|g" | "$@" 2>&1 | sed "s|${dir//./\\.}|@testdir@|g"
