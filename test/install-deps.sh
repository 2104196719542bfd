#!/usr/bin/env bash
# Install what building and testing pg_migrate needs on Debian 12, as root.
# Cheap to run again: apt is only called when something is missing.
#   test/install-deps.sh            what run-tests.sh needs
#   test/install-deps.sh --cassert  also what test/cassert.sh needs to build
#                                   PostgreSQL 15 from Debian's source
set -euo pipefail

packages=(make gcc postgresql-15 postgresql-server-dev-15 libpq-dev postgresql-15-cron
          libipc-run-perl python3 bc nodejs npm locales
          # t/065_real_formats2.pl deploys a Sqitch project with Sqitch itself
          sqitch libdbd-pg-perl)
if [ "${1:-}" = "--cassert" ]; then
    # dpkg-dev unpacks the source package (dpkg-source); the rest is what a
    # configure with readline, zlib, ICU, OpenSSL (contrib's pgcrypto) and
    # the TAP tests needs
    packages+=(dpkg-dev bison flex libreadline-dev zlib1g-dev libicu-dev pkg-config libssl-dev)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# a node from elsewhere on PATH (e.g. a preinstalled one) does as well as Debian's
if command -v node >/dev/null && command -v npm >/dev/null; then
    missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<< "${missing[*]}"

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages: ${missing[*]}; run this script as root to install them" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A non-English locale, for the test that error lines do not depend on the
# language of messages (lc_messages)
if ! locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$'; then
    if [ "$(id -u)" -eq 0 ]; then
        localedef -i de_DE -f UTF-8 de_DE.UTF-8
    else
        echo "locale de_DE.UTF-8 is missing; run this script as root to generate it" >&2
    fi
fi
