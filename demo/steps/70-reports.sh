#!/usr/bin/env bash
# 70-reports.sh — the KPI and compliance workbooks of the last 12 full months (out/kpi.xlsx, out/compliance.xlsx).
#
# medcrm-report reads the demo database through libpq and writes both
# workbooks for the 12 full months before this month (a year shows the demo
# data better than one month; the Summary compares it with the 12 months
# before). Each sheet's row count is printed; a sheet whose source is not
# installed says so in the workbook.
set -euo pipefail
to=$(date +%Y-%m-01)
from=$(date -d "$to -12 months" +%Y-%m-01)
for r in kpi compliance; do
  medcrm-report run "$r" --from "$from" --to "$to" -o "$MEDCRM_OUT/$r.xlsx"
done
/usr/bin/python3 - "$MEDCRM_OUT" "$from" "$to" <<'PY'
import os, sys
import openpyxl
out, frm, to = sys.argv[1:4]
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
    print(f"   {name}.xlsx ({os.path.getsize(path) // 1024} kB, {frm} to {to}, exclusive) — " + ", ".join(parts))
PY
