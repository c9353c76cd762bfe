# report_lib.bash — helpers of the report worker's tests (sourced, not run).
# shellcheck disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

# The suite runner feeds the list of tests on stdin: never read it.
exec </dev/null

# Debian's python3: openpyxl and psycopg2 come from Debian packages.
PY=/usr/bin/python3
REPORT_FROM=2026-10-01
REPORT_TO=2026-11-01
WORK=$(mktemp -d /tmp/medcrm-report-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# report_db DB: a fresh database with the fixture and the report data set
report_db() {
  fresh_db "$1"
  psql -X -q -v ON_ERROR_STOP=1 -d "$1" -f test/fixtures/one_row_each.sql >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 -d "$1" -f test/worker/report_data.sql >/dev/null
}

# expect_exit WHAT CODE CMD...: run CMD, stderr into $WORK/stderr, check the exit code
expect_exit() {
  local what=$1 want=$2 rc=0
  shift 2
  "$@" >"$WORK/stdout" 2>"$WORK/stderr" || rc=$?
  [ "$rc" = "$want" ] || { cat "$WORK/stderr" >&2; fail "$what: exit $rc, expected $want"; }
  echo "ok - $what (exit $want)"
}

# expect_stderr WHAT TEXT: the last command's stderr contains TEXT (fixed string)
expect_stderr() {
  grep -qF -- "$2" "$WORK/stderr" || { cat "$WORK/stderr" >&2; fail "$1: stderr lacks: $2"; }
  echo "ok - $1"
}
