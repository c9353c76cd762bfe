#!/usr/bin/env bash
# report_atomic.sh — the target is never a partial workbook: kill -9 in the
# middle of a large write leaves the old target untouched and nothing new at
# its name; a completed run replaces it in one rename. Rows are streamed:
# peak memory at 400,000 rows stays within 10% of that at 40,000 rows.
. "$(dirname "$0")/report_lib.bash"

db=medcrm_report_atomic
fresh_db $db
export PGDATABASE=$db
cat >"$WORK/big.json" <<'JSON'
{"report": "big", "title": "Many rows",
 "sheets": [{"name": "Rows",
   "sql": "SELECT g AS id, md5(g::text) AS digest, $1::date + (g % 365) AS day, g * 1.5 AS amount FROM generate_series(1, 1200000) AS g"}]}
JSON
out=$WORK/out
mkdir -p "$out"
echo "previous workbook" >"$out/big.xlsx"
before=$(md5sum <"$out/big.xlsx")

medcrm-report run big --layout "$WORK/big.json" -o "$out/big.xlsx" 2>"$WORK/stderr" &
pid=$!
# wait until the worker is writing its temporary file, then kill it hard
for _ in $(seq 1 300); do
  tmpf=$(find "$out" -name '.big.xlsx.*' -size +0 2>/dev/null | head -n 1)
  [ -n "$tmpf" ] && break
  sleep 0.1
done
[ -n "$tmpf" ] || { kill -9 $pid 2>/dev/null; fail "the worker never wrote its temporary file"; }
sleep 0.2
kill -9 $pid
wait $pid 2>/dev/null && fail "the worker finished before it could be killed"
echo "ok - killed with SIGKILL while writing ($(basename "$tmpf"))"
expect_eq "the target is untouched after kill -9" "$before" "$(md5sum <"$out/big.xlsx")"
[ -z "$(find "$out" -maxdepth 1 -name '*.xlsx' ! -name big.xlsx)" ] || fail "another workbook appeared"
echo "ok - no partial workbook under any .xlsx name"
rm -f "$out"/.big.xlsx.*

# a complete run replaces the target in one rename and leaves no temporary file
sed -i 's/1200000/40000/' "$WORK/big.json"
/usr/bin/time -f '%M' -o "$WORK/rss-40k" medcrm-report run big --layout "$WORK/big.json" -o "$out/big.xlsx"
$PY -c "import openpyxl,sys; ws=openpyxl.load_workbook(sys.argv[1], read_only=True)['Rows']; n=sum(1 for _ in ws.iter_rows(min_row=5)); sys.exit(n != 40000)" "$out/big.xlsx" \
  || fail "the new workbook does not hold 40,000 rows"
echo "ok - a complete run replaces the target (40,000 rows)"
expect_eq "no temporary file left" "big.xlsx" "$(ls -A "$out")"

# streaming: ten times the rows, about the same peak memory
sed -i 's/40000/400000/' "$WORK/big.json"
/usr/bin/time -f '%M' -o "$WORK/rss-400k" medcrm-report run big --layout "$WORK/big.json" -o "$out/big.xlsx"
small=$(tail -n 1 "$WORK/rss-40k"); large=$(tail -n 1 "$WORK/rss-400k")
echo "# peak RSS: ${small} kB at 40,000 rows, ${large} kB at 400,000 rows"
[ "$large" -le $(( small * 11 / 10 )) ] || fail "peak memory grows with rows: $small kB -> $large kB"
echo "ok - peak memory does not grow with rows"

# more rows than Excel's 1,048,576 continue on "Rows (2)", header repeated
cat >"$WORK/long.json" <<'JSON'
{"report": "long", "title": "Long", "sheets": [{"name": "Rows", "sql": "SELECT g AS n FROM generate_series(1, 1048600) AS g"}]}
JSON
medcrm-report run long --layout "$WORK/long.json" -o "$out/long.xlsx" || fail "a sheet longer than Excel's limit"
$PY - "$out/long.xlsx" <<'PY' || fail "continuation sheet"
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1], read_only=True)
assert wb.sheetnames == ["Rows", "Rows (2)"], wb.sheetnames
first = list(wb["Rows"].iter_rows(min_row=1048576, max_row=1048576, values_only=True))[0][0]
second = list(wb["Rows (2)"].iter_rows(min_row=4, values_only=True))
assert first == 1048572, first
assert second[0][0] == "N" and second[1][0] == 1048573 and second[-1][0] == 1048600 and len(second) == 29, second[:2]
print("ok - rows beyond Excel's limit continue on \"Rows (2)\" under the same header")
PY
dropdb $db
