#!/usr/bin/env bash
# install-deps.sh — install the Debian packages medcrm's build, tests and demo need.
#
# Idempotent and quiet when everything is present: it only calls apt-get for the
# packages dpkg does not report as installed. Needs root (or sudo) the first time.
set -euo pipefail

PACKAGES=(
  build-essential
  clang libclang-rt-14-dev
  postgresql-15 postgresql-contrib postgresql-server-dev-15 postgresql-15-pgtap
  libpq-dev libxlsxwriter-dev libcjson-dev libcurl4-openssl-dev libssl-dev
  python3 python3-openpyxl python3-psycopg2 python3-xlsxwriter python3-aiosmtpd time
  libreoffice-calc-nogui poppler-utils openssl
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "medcrm: installing missing packages: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has empty package lists; refresh them once, then install.
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
