#!/usr/bin/env bash
# bench_kpi.sh — the KPI engine against a sequential scan of what it reads.
#
# Measures, in one run on the same cluster:
#   baseline  SELECT count(*) of every table the KPI engine reads, summed:
#             the ten it scans (account, visit, work_order, opportunity,
#             contract, sales_order, invoice, installed_device, task, recall)
#             and the three more that medcrm.v_data_quality (data_error_rate)
#             reads (contact, certificate, duplicate_candidate); the ratio to
#             the ten alone is printed too
#   summary   SELECT * FROM medcrm.kpi_summary(current_date - 12 months, current_date)
#   monthly   SELECT * FROM medcrm.v_kpi_monthly (24 months)
#   by kind   SELECT * FROM medcrm.kpi_summary_by_kind(the same 12 months),
#             also as a ratio to kpi_summary (one more engine run)
# and prints each as a ratio to the baseline (target: <= 3). Every query runs
# twice and the faster run counts, so that both sides are measured warm.
# Uses medcrm_bench; when that holds no business facts (fewer than 1,000 sales
# orders) it loads test/fixtures/kpi_bench_data.sql at MEDCRM_BENCH_SCALE
# into medcrm_bench_kpi first.
set -euo pipefail
cd "$(dirname "$0")/../.."
scale=${MEDCRM_BENCH_SCALE:-500}
db=${MEDCRM_BENCH_DB:-medcrm_bench}

orders=$(psql -X -qAt -d "$db" -c 'SELECT count(*) FROM medcrm.sales_order')
if [ "$orders" -lt 1000 ]; then
  echo "   $db has $orders sales orders: loading the KPI benchmark data (scale $scale) into medcrm_bench_kpi"
  dropdb --if-exists medcrm_bench_kpi
  createdb medcrm_bench_kpi
  db=medcrm_bench_kpi
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION medcrm CASCADE'
  start=$(date +%s)
  psql -X -q -1 -v ON_ERROR_STOP=1 -v scale="$scale" -v seed=1 -d "$db" -f test/fixtures/kpi_bench_data.sql >/dev/null
  psql -X -q -d "$db" -c 'VACUUM ANALYZE'
  echo "   loaded in $(( $(date +%s) - start )) s"
fi
psql -X -qAt -d "$db" -c "SELECT format('   %s accounts, %s orders, %s invoices, %s work orders, %s visits, %s tasks',
  (SELECT count(*) FROM medcrm.account), (SELECT count(*) FROM medcrm.sales_order),
  (SELECT count(*) FROM medcrm.invoice), (SELECT count(*) FROM medcrm.work_order),
  (SELECT count(*) FROM medcrm.visit), (SELECT count(*) FROM medcrm.task))"

# ms SQL...: milliseconds of the statements, each run twice, faster run kept, summed
ms() {
  local args=() s
  for s in "$@"; do args+=(-c "$s" -c "$s"); done
  psql -X -q -d "$db" -o /dev/null -c '\timing on' "${args[@]}" |
    sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' |
    awk '{ if (NR % 2) a = $1; else { s += (a < $1 ? a : $1) } } END { printf "%.0f", s }'
}

scanned=(account visit work_order opportunity contract sales_order invoice installed_device task recall)
via_dq=(contact certificate duplicate_candidate)
tables=("${scanned[@]}" "${via_dq[@]}")
scans=()
for t in "${scanned[@]}"; do scans+=("SELECT count(*) FROM medcrm.$t"); done
base_scanned=$(ms "${scans[@]}")
scans=()
for t in "${via_dq[@]}"; do scans+=("SELECT count(*) FROM medcrm.$t"); done
base=$(( base_scanned + $(ms "${scans[@]}") ))
summary=$(ms "SELECT * FROM medcrm.kpi_summary((current_date - interval '12 months')::date, current_date)")
monthly=$(ms "SELECT * FROM medcrm.v_kpi_monthly")
by_kind=$(ms "SELECT * FROM medcrm.kpi_summary_by_kind((current_date - interval '12 months')::date, current_date)")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   baseline (count(*) of ${#tables[@]} tables): ${base} ms; of the ${#scanned[@]} the engine scans whole: ${base_scanned} ms"
echo "   kpi_summary, 12 months:      ${summary} ms  ratio $(ratio "$summary" "$base")  (target <= 3; $(ratio "$summary" "$base_scanned") to the ${#scanned[@]} tables)"
echo "   SELECT * FROM v_kpi_monthly: ${monthly} ms  ratio $(ratio "$monthly" "$base")  (target <= 3; $(ratio "$monthly" "$base_scanned") to the ${#scanned[@]} tables)"
echo "   kpi_summary_by_kind, 12 months: ${by_kind} ms  ratio $(ratio "$by_kind" "$base"); $(ratio "$by_kind" "$summary") x kpi_summary"
