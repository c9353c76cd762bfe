#!/usr/bin/env bash
# bench_report.sh — medcrm-report: a detail sheet of 100,000 and 1,000,000 rows
# against COPY (the same query) TO STDOUT CSV through libpq into a file, and
# against Python XlsxWriter (constant_memory, psycopg2 server-side cursor) when
# Debian's python3-xlsxwriter and python3-psycopg2 are installed. Reports wall
# time, the ratio to COPY, and peak RSS (/usr/bin/time), one run each.
#
# The rows are an audit-trail-like extract (bigint, timestamptz, text, numeric,
# date) of a scratch table built in medcrm_bench; it is dropped at the end.
set -euo pipefail
cd "${MEDCRM_TOP:-$(dirname "$0")/../..}"
export PGDATABASE=medcrm_bench
work=$(mktemp -d /tmp/medcrm-bench-report.XXXXXX)
trap 'rm -rf "$work"; psql -X -q -c "DROP TABLE IF EXISTS public.bench_report_rows" >/dev/null 2>&1 || true' EXIT

echo "   building 1,000,000 detail rows"
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS public.bench_report_rows;
CREATE TABLE public.bench_report_rows AS
SELECT g AS id,
       TIMESTAMPTZ '2026-01-01 00:00+00' + g * interval '31 seconds' AS logged_at,
       (ARRAY['alice', 'bob', 'carol', 'dave'])[1 + g % 4] AS login,
       (ARRAY['medcrm.account', 'medcrm.contract', 'medcrm.work_order'])[1 + g % 3] AS table_name,
       (ARRAY['INSERT', 'UPDATE', 'DELETE'])[1 + g % 3] AS op,
       g * 7 % 1000003 AS row_id,
       round((g % 100000) * 1.37, 2)::numeric(14,2) AS amount,
       DATE '2026-01-01' + g % 365 AS due_on,
       'quarterly review of account ' || (g % 5000) AS reason
  FROM generate_series(1, 1000000) AS g;
ALTER TABLE public.bench_report_rows ADD PRIMARY KEY (id);
VACUUM ANALYZE public.bench_report_rows;
SQL

cc -O2 -o "$work/copy_csv" test/bench/copy_csv.c -I"$(pg_config --includedir)" -I/usr/include/postgresql -lpq
have_py=0
/usr/bin/python3 -c 'import xlsxwriter, psycopg2' 2>/dev/null && have_py=1

ratio() { awk -v a="$1" -v b="$2" -v d="$3" 'BEGIN { printf "%.*f", d, (b > 0 ? a / b : 0) }'; }

# measure NAME CMD...: wall seconds and peak RSS (kB) into $work/NAME
measure() {
  local name=$1; shift
  /usr/bin/time -f '%e %M %U %S' -o "$work/$name" "$@" >/dev/null 2>"$work/$name.err" \
    || { cat "$work/$name.err" "$work/$name" >&2; echo "bench_report: $name failed" >&2; exit 1; }
  tail -n 1 "$work/$name"
}

for n in 100000 1000000; do
  query="SELECT id, logged_at, login, table_name, op, row_id, amount, due_on, reason FROM public.bench_report_rows WHERE id <= $n ORDER BY id"
  printf '{"report": "bench", "title": "Detail", "sheets": [{"name": "Detail", "sql": "%s"}]}\n' "$query" >"$work/bench.json"
  read -r copy_s copy_kb _ _ < <(measure "copy-$n" "$work/copy_csv" "$query" "$work/rows.csv")
  read -r rep_s rep_kb rep_u rep_sys < <(measure "report-$n" medcrm-report run bench --layout "$work/bench.json" -o "$work/rows.xlsx")
  rep_cpu=$(awk -v u="$rep_u" -v s="$rep_sys" 'BEGIN { printf "%.2f", u + s }')
  line="   $n rows: COPY CSV ${copy_s} s ($(du -k "$work/rows.csv" | cut -f1) kB), medcrm-report ${rep_s} s (CPU ${rep_cpu} s, $(du -k "$work/rows.xlsx" | cut -f1) kB, peak RSS ${rep_kb} kB)"
  line="$line, ratio $(ratio "$rep_s" "$copy_s" 1)x"
  if [ $have_py = 1 ]; then
    read -r py_s py_kb _ _ < <(measure "python-$n" /usr/bin/python3 test/bench/xlsxwriter_baseline.py "$query" "$work/py.xlsx")
    line="$line; Python XlsxWriter ${py_s} s (peak RSS ${py_kb} kB), ratio $(ratio "$py_s" "$copy_s" 1)x"
  fi
  echo "$line"
  eval "rss_$n=$rep_kb"
done
echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   medcrm-report peak RSS 1M / 100k rows: $(ratio "$rss_1000000" "$rss_100000" 2) (${rss_1000000} kB at 1M rows)"
