#!/usr/bin/python3
"""xlsxwriter_baseline.py — the same detail sheet written by Python XlsxWriter
(constant_memory) from a psycopg2 server-side cursor: what a typical script
would do. Usage: xlsxwriter_baseline.py QUERY FILE (PG* environment)."""
import sys

import psycopg2
import xlsxwriter

query, path = sys.argv[1:3]
conn = psycopg2.connect("")
cur = conn.cursor(name="bench")
cur.itersize = 5000
cur.execute(query)
wb = xlsxwriter.Workbook(path, {"constant_memory": True, "remove_timezone": True})
ws = wb.add_worksheet("Detail")
date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
ts_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
row = None
r = 0
for row in cur:
    if r == 0:
        ws.write_row(0, 0, [d.name for d in cur.description])
        r = 1
    for c, v in enumerate(row):
        if v is None:
            continue
        if hasattr(v, "hour"):
            ws.write_datetime(r, c, v, ts_fmt)
        elif hasattr(v, "day"):
            ws.write_datetime(r, c, v, date_fmt)
        elif isinstance(v, str):
            ws.write_string(r, c, v)
        else:
            ws.write_number(r, c, float(v))
    r += 1
wb.close()
