#!/usr/bin/env bash
# report_cli.sh — medcrm-report's command line, configuration and layout
# errors: usage and configuration problems exit 2 naming file, place and fix;
# an unreachable database or a failing query exits 1 and leaves the target alone.
. "$(dirname "$0")/report_lib.bash"

expect_exit "--help" 0 medcrm-report --help
grep -q "run kpi|compliance" "$WORK/stdout" || fail "--help does not show the run command"
expect_exit "--version" 0 medcrm-report --version
want="medcrm-report (medcrm) $(sed -n "s/^default_version = '\(.*\)'/\1/p" medcrm.control)"
expect_eq "--version text" "$want" "$(cat "$WORK/stdout")"

expect_exit "no command" 2 medcrm-report
expect_stderr "no command message" "no command given"
expect_exit "unknown option" 2 medcrm-report run kpi --colour
expect_stderr "unknown option hint" 'Try "medcrm-report --help"'
expect_exit "unknown command" 2 medcrm-report print kpi
expect_exit "bad date" 2 medcrm-report run kpi --from 2026-02-30
expect_stderr "bad date message" 'invalid --from date "2026-02-30"'
expect_exit "empty period" 2 medcrm-report run kpi --from 2026-10-01 --to 2026-10-01
expect_stderr "empty period hint" "--to is exclusive"
expect_exit "unknown report" 2 medcrm-report run sales -o "$WORK/x.xlsx"
expect_stderr "unknown report message" 'unknown report "sales"'

# configuration file errors
echo '{"dbname": "x", "fetchrows": 10}' >"$WORK/bad.conf"
expect_exit "config: unknown key" 2 medcrm-report run kpi --config "$WORK/bad.conf"
expect_stderr "config: unknown key named" "$WORK/bad.conf: unknown key \"fetchrows\""
expect_stderr "config: hint lists keys" "Allowed keys: dbname, layouts, tmpdir, fetch_rows"
expect_exit "config: missing file" 2 medcrm-report run kpi --config "$WORK/none.conf"

# layout errors: syntax, unknown key, wrong type, missing query, bad reference
layout() { printf '%s\n' "$1" >"$WORK/bad.json"; }
layout '{"report": "t", "title": "T",
  "sheets": [{"name": "S", "sql": "SELECT 1",}]}'
expect_exit "layout: syntax error" 2 medcrm-report run t --layout "$WORK/bad.json" -o "$WORK/t.xlsx"
expect_stderr "layout: syntax error place" "$WORK/bad.json: line 2, column 47: JSON syntax error"
expect_stderr "layout: syntax error hint" "HINT: Check the punctuation"
layout '{"report": "t", "title": "T", "sheets": [{"name": "S", "sql": "SELECT 1", "colums": []}]}'
expect_exit "layout: unknown key" 2 medcrm-report run t --layout "$WORK/bad.json"
expect_stderr "layout: unknown key place" "$WORK/bad.json: sheets[0]: unknown key \"colums\""
expect_stderr "layout: unknown key hint" "Allowed keys here: name, title, description, requires, sql, columns"
layout '{"report": "t", "title": "T", "sheets": [{"name": "S", "sql": "SELECT 1", "freeze": "yes"}]}'
expect_exit "layout: wrong type" 2 medcrm-report run t --layout "$WORK/bad.json"
expect_stderr "layout: wrong type place" "sheets[0].freeze: expected true or false"
layout '{"report": "t", "title": "T", "sheets": [{"name": "S", "title": "no query"}]}'
expect_exit "layout: missing query" 2 medcrm-report run t --layout "$WORK/bad.json"
expect_stderr "layout: missing query place" "sheets[0]: missing required key \"sql\""
layout '{"report": "t", "title": "T", "sheets": [{"name": "S", "sql": "SELECT 1, 2",
  "columns": [{"header": "A"}, {"header": "B"}],
  "charts": [{"type": "line", "title": "C", "categories": "A", "series": ["b"]}]}]}'
expect_exit "layout: chart names no column" 2 medcrm-report run t --layout "$WORK/bad.json"
expect_stderr "layout: chart reference place" 'sheets[0].charts[0].series[0]: no column with header "b"'
expect_stderr "layout: chart reference hint" 'one of: "A", "B"'
expect_exit "layout: missing file" 2 medcrm-report run t --layout "$WORK/none.json"
expect_stderr "layout: missing file message" "could not open \"$WORK/none.json\""

# the shipped layouts are valid (they get as far as connecting)
for r in kpi compliance; do
  expect_exit "shipped layout $r is valid" 1 medcrm-report run "$r" -d "host=127.0.0.1 port=1 connect_timeout=5" -o "$WORK/$r.xlsx"
done

# unreachable database: exit 1, a clear message, nothing written
expect_exit "unreachable database" 1 medcrm-report run kpi -d "host=127.0.0.1 port=1 connect_timeout=5" -o "$WORK/kpi.xlsx"
expect_stderr "unreachable database message" "medcrm-report: could not connect to the database:"
expect_stderr "unreachable database hint" "HINT: Check -d/--dbname"
[ ! -e "$WORK/kpi.xlsx" ] || fail "a workbook was written without a database"
[ -z "$(ls -A "$WORK" | grep -v -e stdout -e stderr -e bad -e '^t.xlsx$' || true)" ] || fail "temporary files left: $(ls -A "$WORK")"
echo "ok - nothing written without a database"

# with a database: a layout whose columns do not match the query exits 2,
# a failing query exits 1; both leave the existing target untouched
db=medcrm_report_cli
fresh_db $db
echo "old workbook" >"$WORK/keep.xlsx"
layout '{"report": "t", "title": "T", "sheets": [{"name": "S", "sql": "SELECT 1, 2", "columns": [{"header": "A"}]}]}'
expect_exit "layout: columns do not match the query" 2 medcrm-report run t -d $db --layout "$WORK/bad.json" -o "$WORK/keep.xlsx"
expect_stderr "column mismatch message" 'sheet "S": the query returns 2 columns but the layout declares 1'
layout '{"report": "t", "title": "T", "sheets": [{"name": "S", "sql": "SELECT 1 / ($1::date - $1::date)"}]}'
expect_exit "failing query" 1 medcrm-report run t -d $db --layout "$WORK/bad.json" -o "$WORK/keep.xlsx"
expect_stderr "failing query message" 'sheet "S": query failed: ERROR:  division by zero'
expect_eq "target untouched after failures" "old workbook" "$(cat "$WORK/keep.xlsx")"
[ "$(ls -A "$WORK" | grep -c '^\.keep' || true)" = 0 ] || fail "temporary file left after a failure"
echo "ok - no temporary file left after a failure"

# the default period is the last full month, the default name says which
(cd "$WORK" && medcrm-report run compliance -d $db) 2>"$WORK/stderr" || fail "default run failed: $(cat "$WORK/stderr")"
want="compliance-$(date -d "$(date +%Y-%m-01) -1 month" +%Y-%m).xlsx"
[ -f "$WORK/$want" ] || fail "default output $want missing: $(ls "$WORK")"
echo "ok - default period and name ($want)"
expect_eq "quiet when stderr is not a terminal" "" "$(cat "$WORK/stderr")"

# progress on stderr when it is a terminal (script(1) provides one)
if command -v script >/dev/null; then
  script -qec "medcrm-report run compliance -d $db -o '$WORK/tty.xlsx'" /dev/null >"$WORK/tty.log" 2>&1 || true
  grep -q "sheet Audit trail" "$WORK/tty.log" && grep -q "wrote $WORK/tty.xlsx" "$WORK/tty.log" \
    || fail "no progress on a terminal: $(cat "$WORK/tty.log")"
  echo "ok - progress (sheet, rows) on a terminal"
fi
dropdb $db
