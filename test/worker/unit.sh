#!/usr/bin/env bash
# unit.sh — unit tests of medcrm-report's pure parts (test/worker/unit_tests.c):
# dates and periods, value conversion, layout and config validation.
set -euo pipefail
exec </dev/null
cd "${MEDCRM_TOP:-$(dirname "$0")/../..}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make --no-print-directory -C workers unit UNIT_BIN="$tmp/unit_tests" WERROR=1
