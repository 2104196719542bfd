#!/usr/bin/env bash
# Install what building and testing pg_migrate needs on Debian 12, as root.
# Cheap to run again: apt is only called when something is missing.
set -euo pipefail

packages=(make gcc postgresql-15 postgresql-server-dev-15 postgresql-15-cron
          libipc-run-perl python3 bc nodejs npm)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# a node from elsewhere on PATH (e.g. a preinstalled one) does as well as Debian's
if command -v node >/dev/null && command -v npm >/dev/null; then
    missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<< "${missing[*]}"

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${missing[*]}; run this script as root to install them" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
