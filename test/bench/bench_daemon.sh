#!/usr/bin/env bash
# bench_daemon.sh — the report daemon's queue overhead: N KPI workbooks (one
# per month, the N months before this one) produced by `medcrm-report daemon
# --once` from N queued runs, against the same N workbooks written by N
# direct `medcrm-report run kpi` calls; once with one process at a time, once
# with two (two daemons on one queue against two CLI calls in parallel).
# Then the queue alone: claim + complete cycles per second through pgbench
# (1 and 2 clients, FOR UPDATE SKIP LOCKED), without any workbook.
#
# MEDCRM_BENCH_DAEMON_RUNS sets N (default 12). The runs it queues are
# removed at the end.
set -euo pipefail
cd "${MEDCRM_TOP:-$(dirname "$0")/../..}"
export PGDATABASE=medcrm_bench
n=${MEDCRM_BENCH_DAEMON_RUNS:-12}
work=$(mktemp -d /tmp/medcrm-bench-daemon.XXXXXX)
first=$(psql -X -qAt -c "SELECT coalesce(max(id), 0) + 1 FROM medcrm.report_run")
cleanup() {
  rm -rf "$work"
  psql -X -q -c "DELETE FROM medcrm.report_run WHERE id >= $first" >/dev/null 2>&1 || true
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
this_month=$(date +%Y-%m-01)
periods() { for i in $(seq 1 "$n"); do echo "$(date -d "$this_month -$i months" +%Y-%m-%d) $(date -d "$this_month -$((i - 1)) months" +%Y-%m-%d)"; done; }
queue_all() {
  periods | while read -r f t; do
    psql -X -qAt -c "SELECT medcrm.request_report('kpi', '$f', '$t')" >/dev/null
  done
}

echo "   $n KPI workbooks, one per month before $this_month"
# warm-up: one workbook, so that both sides start with the same caches
medcrm-report run kpi --from "$(date -d "$this_month -1 month" +%Y-%m-%d)" --to "$this_month" -o "$work/warm.xlsx"

# one at a time
mkdir -p "$work/cli1" "$work/d1"
t0=$(now)
periods | while read -r f t; do medcrm-report run kpi --from "$f" --to "$t" -o "$work/cli1/kpi-$f.xlsx"; done
t1=$(now)
cli1=$(secs "$t0" "$t1")
queue_all
t0=$(now)
medcrm-report daemon --once --outbox "$work/d1" 2>"$work/d1.log"
t1=$(now)
d1=$(secs "$t0" "$t1")
ok1=$(psql -X -qAt -c "SELECT count(*) FROM medcrm.report_run WHERE id >= $first AND status = 'ok'")
[ "$ok1" = "$n" ] || { cat "$work/d1.log"; echo "bench_daemon: $ok1 of $n runs ok" >&2; exit 1; }
echo "   one process: CLI ${cli1} s, daemon ${d1} s, ratio $(ratio "$d1" "$cli1")x ($(awk -v a="$d1" -v b="$cli1" -v n="$n" 'BEGIN { printf "%+.0f", (a - b) / n * 1000 }') ms per run)"
# where the daemon's time went, from its log: claimed -> produced (the
# workbook process: fork, connect, workbook) and produced -> ok -> next claim
# (publication and queue)
awk '
  function ms(ts) { split(substr(ts, 12, 12), t, ":"); return (t[1] * 3600 + t[2] * 60 + t[3]) * 1000 }
  / event=claimed / { c = ms($1); if (o) q += c - o }
  / event=produced / { p = ms($1); w += p - c }
  / event=ok / { o = ms($1); q += o - p }
  END { printf "   daemon log: workbook processes %.2f s, publication and queue %.3f s in all\n", w / 1000, q / 1000 }' "$work/d1.log"

# two at a time
mkdir -p "$work/cli2" "$work/d2"
t0=$(now)
periods | xargs -P 2 -L 1 sh -c 'medcrm-report run kpi --from "$0" --to "$1" -o "'"$work"'/cli2/kpi-$0.xlsx"'
t1=$(now)
cli2=$(secs "$t0" "$t1")
mid=$(psql -X -qAt -c "SELECT coalesce(max(id), 0) + 1 FROM medcrm.report_run")
queue_all
t0=$(now)
medcrm-report daemon --once --outbox "$work/d2" 2>"$work/d2a.log" &
a=$!
medcrm-report daemon --once --outbox "$work/d2" 2>"$work/d2b.log" &
b=$!
wait $a
wait $b
t1=$(now)
d2=$(secs "$t0" "$t1")
ok2=$(psql -X -qAt -c "SELECT count(*) FROM medcrm.report_run WHERE id >= $mid AND status = 'ok' AND attempts = 1")
[ "$ok2" = "$n" ] || { echo "bench_daemon: $ok2 of $n runs ok" >&2; exit 1; }
echo "   two processes: CLI ${cli2} s, two daemons ${d2} s ($(grep -c event=claimed "$work/d2a.log") + $(grep -c event=claimed "$work/d2b.log") runs), ratio $(ratio "$d2" "$cli2")x"

# the queue alone: claim + complete per second
runs=4000
psql -X -q -c "INSERT INTO medcrm.report_run (report, period_from, period_to)
               SELECT 'kpi', DATE '2026-10-01', DATE '2026-11-01' FROM generate_series(1, $runs)" >/dev/null
cat >"$work/cycle.sql" <<'SQL'
SELECT run_id FROM medcrm.report_claim('bench:' || :client_id, 60) \gset
SELECT medcrm.report_complete(:run_id, 'bench:' || :client_id, '/dev/null', repeat('0', 64), 0);
SQL
for c in 1 2; do
  tps=$(pgbench -n -f "$work/cycle.sql" -c $c -j $c -t $((runs / 4 / c)) 2>/dev/null | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
  echo "   queue alone, $c client(s): ${tps} claim+complete cycles/s ($(awk -v t="$tps" 'BEGIN { printf "%.2f", 1000 / t }') ms per run)"
done
