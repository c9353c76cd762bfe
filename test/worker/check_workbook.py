#!/usr/bin/python3
"""check_workbook.py — checks a medcrm workbook against its layout and database.

Usage: check_workbook.py WORKBOOK LAYOUT FROM TO PREV_FROM PREV_TO

Opens the workbook with openpyxl and, for every sheet of the layout:
  * a sheet whose source is not installed shows the note naming it;
  * otherwise the headers are the layout's, and every cell equals the value
    the sheet's SQL returns when run again through psycopg2 in the same
    database (numbers, dates, text, NULL as an empty cell);
  * text that looks like a formula is a text cell, and no sheet holds a formula;
  * the declared charts are there, headers are frozen.
For the KPI workbook, every Summary value is also checked against
medcrm.kpi_summary() directly, and the Service and Tiers sheets, written by
their own SQL, must add up to the sla_compliance and a_tier_share of the
engine. Prints TAP lines; exits 1 on any failure.
The connection comes from the PG* environment.
"""
import datetime
import decimal
import json
import re
import sys
import zipfile

import openpyxl
import psycopg2

FIRST_DATA_ROW = 5  # 1-based: title, subtitle, blank, header
HEADER_ROW = 4
failures = 0
count = 0


def ok(cond, what, detail=""):
    global failures, count
    count += 1
    if not cond:
        failures += 1
    print(("ok" if cond else "not ok") + f" {count} - {what}")
    if not cond and detail:
        print("#   " + str(detail).replace("\n", "\n#   "))


def expected_cell(value, typname):
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, decimal.Decimal)):
        return float(value)
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    if isinstance(value, list):
        return "; ".join(str(v) for v in value if v is not None)
    return str(value)


def same(got, want):
    if want is None:
        return got is None or got == ""
    if isinstance(want, float):
        return isinstance(got, (int, float)) and not isinstance(got, bool) and \
            abs(got - want) <= 1e-9 * max(1.0, abs(want))
    if isinstance(want, datetime.datetime):
        return isinstance(got, datetime.datetime) and abs((got - want).total_seconds()) < 0.002
    return got == want


def main():
    book, layout_path, p1, p2, p3, p4 = sys.argv[1:7]
    layout = json.load(open(layout_path))
    wb = openpyxl.load_workbook(book)
    conn = psycopg2.connect("")
    conn.set_session(readonly=True)
    cur = conn.cursor()
    params = {"p1": p1, "p2": p2, "p3": p3, "p4": p4}

    # no formula anywhere: every <c> of every sheet is a value
    with zipfile.ZipFile(book) as z:
        sheets_xml = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        formulas = [n for n in sheets_xml if b"<f>" in z.read(n) or b"<f " in z.read(n)]
        ok(not formulas, "no sheet holds a formula", formulas)
        custom = z.read("docProps/custom.xml").decode() if "docProps/custom.xml" in z.namelist() else ""
    cur.execute("SELECT current_database()")
    db = cur.fetchone()[0]
    ok(f">{db}<" in custom and f">{p1}<" in custom, "document properties name the database and period")
    ok(wb.properties.title == layout["title"], "document title", wb.properties.title)
    ok(wb.sheetnames == [s["name"] for s in layout["sheets"]], "sheets in layout order", wb.sheetnames)

    for sheet in layout["sheets"]:
        name = sheet["name"]
        ws = wb[name]
        missing = None
        for req in sheet.get("requires", []):
            fn = "to_regprocedure" if "(" in req else "to_regclass"
            cur.execute(f"SELECT pg_catalog.{fn}(%s) IS NULL", (req,))
            if cur.fetchone()[0]:
                missing = req
                break
        if missing:
            ok(ws.cell(HEADER_ROW, 1).value == f"source {missing} is not installed in this database",
               f"{name}: says that {missing} is not installed", ws.cell(HEADER_ROW, 1).value)
            continue
        sql = sheet["sql"] if isinstance(sheet["sql"], str) else "\n".join(sheet["sql"])
        sql = re.sub(r"\$([1-4])", r"%(p\1)s::date", sql.replace("%", "%%"))
        cur.execute(sql, params)
        rows = cur.fetchall()
        types = [d.type_code for d in cur.description]
        cols = sheet.get("columns")
        written = [i for i in range(len(types)) if not (cols and cols[i].get("row_format"))]
        headers = [c["header"] for c in cols if not c.get("row_format")] if cols else None
        got_headers = [ws.cell(HEADER_ROW, j + 1).value for j in range(len(written))]
        if headers:
            ok(got_headers == headers, f"{name}: headers", got_headers)
        if not rows:
            note = sheet.get("empty_note", "No rows for this period.")
            ok(ws.cell(FIRST_DATA_ROW, 1).value == note, f"{name}: empty note", ws.cell(FIRST_DATA_ROW, 1).value)
            continue
        bad = []
        for r, row in enumerate(rows):
            if row[0] == "Verified at":
                continue  # the time of the run itself: differs between two runs
            for j, i in enumerate(written):
                cell = ws.cell(FIRST_DATA_ROW + r, j + 1)
                want = expected_cell(row[i], types[i])
                if cols and cols[i].get("format") == "text" and want is not None and not isinstance(want, str):
                    want = str(row[i])
                if not same(cell.value, want):
                    bad.append((cell.coordinate, cell.value, want))
                if isinstance(want, str) and want[:1] in ("=", "+", "-", "@") and cell.data_type != "s":
                    bad.append((cell.coordinate, "not a text cell", cell.data_type))
        ok(not bad, f"{name}: all {len(rows)} rows x {len(written)} cells equal the SQL", bad[:5])
        ok(ws.cell(FIRST_DATA_ROW + len(rows), 1).value is None, f"{name}: no rows beyond the query's")
        if sheet.get("freeze", True):
            ok(ws.freeze_panes == "A5", f"{name}: header frozen", ws.freeze_panes)
        ok(len(ws._charts) == len(sheet.get("charts", [])), f"{name}: {len(sheet.get('charts', []))} charts",
           len(ws._charts))

    # the Summary against the KPI function itself
    if layout["report"] == "kpi":
        cur.execute("SELECT to_regprocedure('medcrm.kpi_summary(date,date)') IS NOT NULL")
        if cur.fetchone()[0]:
            ws = wb["Summary"]
            n = 0
            bad = []
            for r in range(FIRST_DATA_ROW, ws.max_row + 1):
                key = ws.cell(r, 6).value  # "KPI key"
                if not key:
                    continue
                for col, (a, b) in ((2, (p1, p2)), (3, (p3, p4))):
                    cur.execute("SELECT value FROM medcrm.kpi_summary(%s, %s) "
                                "WHERE kpi = %s AND tier IS NULL AND region IS NULL", (a, b, key))
                    res = cur.fetchall()
                    want = float(res[0][0]) if res and res[0][0] is not None else None
                    if not same(ws.cell(r, col).value, want):
                        bad.append((key, col, ws.cell(r, col).value, want))
                    n += 1
            ok(n >= 38 and not bad, f"Summary: {n} KPI cells equal medcrm.kpi_summary()", bad[:5])

            # detail sheets that add up to a KPI: their own SQL must agree with the engine
            def column(ws, header):
                heads = [ws.cell(HEADER_ROW, j).value for j in range(1, ws.max_column + 1)]
                j = heads.index(header) + 1
                return [ws.cell(r, j).value for r in range(FIRST_DATA_ROW, ws.max_row + 1)
                        if ws.cell(r, 1).value is not None]

            def kpi_overall(key):
                cur.execute("SELECT numerator, denominator FROM medcrm.kpi_summary(%s, %s) "
                            "WHERE kpi = %s AND tier IS NULL AND region IS NULL", (p1, p2, key))
                num, den = cur.fetchone()
                return float(num or 0), float(den or 0)

            met, missed = column(wb["Service"], "SLA met"), column(wb["Service"], "SLA missed")
            want = kpi_overall("sla_compliance")
            got = (float(sum(met)), float(sum(met) + sum(missed)))
            ok(got == want and want[1] > 0,
               f"Service: SLA met {got[0]:.0f} and met + missed {got[1]:.0f} over the teams = sla_compliance", (got, want))
            tiers = dict(zip(column(wb["Tiers"], "Tier"), column(wb["Tiers"], "Accounts")))
            want = kpi_overall("a_tier_share")
            got = (float(tiers.get("A", 0)), float(sum(v for k, v in tiers.items() if k != "untiered")))
            ok(got == want and want[0] > 0,
               f"Tiers: {got[0]:.0f} A accounts of {got[1]:.0f} tiered = a_tier_share", (got, want))
    print(f"1..{count}")
    return 1 if failures else 0


sys.exit(main())
