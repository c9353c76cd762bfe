#!/usr/bin/env bash
# 70-reports.sh — the KPI workbook of the last 12 full months and the compliance extract up to today (out/kpi.xlsx, out/compliance.xlsx).
#
# medcrm-report reads the demo database through libpq and writes the KPI
# workbook for the 12 full months before this month (a year shows the demo
# data better than one month; the Summary compares it with the 12 months
# before). The compliance extract runs from the same day up to today
# included, so that its audit trail shows the changes the demo itself just
# made. Each sheet's row count is printed; a sheet whose source is not
# installed says so in the workbook.
set -euo pipefail
to=$(date +%Y-%m-01)
from=$(date -d "$to -12 months" +%Y-%m-01)
medcrm-report run kpi --from "$from" --to "$to" -o "$MEDCRM_OUT/kpi.xlsx"
medcrm-report run compliance --from "$from" --to "$(date -d tomorrow +%Y-%m-%d)" -o "$MEDCRM_OUT/compliance.xlsx"
/usr/bin/python3 - "$MEDCRM_OUT" <<'PY'
import os, sys
import openpyxl
out = sys.argv[1]
for name in ("kpi", "compliance"):
    path = os.path.join(out, name + ".xlsx")
    wb = openpyxl.load_workbook(path, read_only=True)
    parts = []
    for ws in wb.worksheets:
        a4 = ws["A4"].value or ""
        if str(a4).startswith("source"):
            parts.append(f"{ws.title}: not installed")
        else:
            # data rows have several values; an empty sheet has only its note
            rows = sum(1 for r in ws.iter_rows(min_row=5, values_only=True)
                       if sum(v is not None for v in r) > 1)
            parts.append(f"{ws.title}: {rows}")
    props = openpyxl.load_workbook(path, read_only=True).properties
    print(f"   {name}.xlsx ({os.path.getsize(path) // 1024} kB, {props.subject.split(', ')[-1]}) — " + ", ".join(parts))
PY
