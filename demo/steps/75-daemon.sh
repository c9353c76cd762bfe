#!/usr/bin/env bash
# 75-daemon.sh — scheduled workbooks: a weekly KPI schedule and a requested run, served by two report daemons at once, each run produced once (out/outbox/, out/report_runs.txt)
#
# The schedule is due since the latest Monday 07:00 that has passed (the
# week before it is the period), and a compliance run is requested from SQL. Two daemons in --once
# mode, started together, share the queue (FOR UPDATE SKIP LOCKED); a third
# pass afterwards finds nothing left to do. No SMTP relay is configured in the
# demo, so the workbooks only land in the outbox.
set -euo pipefail
outbox=$MEDCRM_OUT/outbox
rm -rf "$outbox"
mkdir -p "$outbox"
psql_q() { psql -X -qAt -v ON_ERROR_STOP=1 -c "$1"; }

psql_q "INSERT INTO medcrm.report_schedule (report, every, next_run_at, time_zone)
        VALUES ('kpi', '7 days', date_trunc('week', now() - interval '7 hours') + interval '7 hours',
                current_setting('TimeZone'))" >/dev/null
run=$(psql_q "SELECT medcrm.request_report('compliance', date_trunc('month', now())::date, current_date + 1)")

medcrm-report daemon --once --outbox "$outbox" >"$MEDCRM_OUT/daemon-1.log" 2>&1 &
first=$!
medcrm-report daemon --once --outbox "$outbox" >"$MEDCRM_OUT/daemon-2.log" 2>&1 &
second=$!
wait "$first" "$second"
medcrm-report daemon --once --outbox "$outbox" >"$MEDCRM_OUT/daemon-3.log" 2>&1

psql_q "SELECT format('   %s runs by %s daemon(s): %s', count(*), count(DISTINCT worker), string_agg(format('%s %s [%s, %s) %s after %s attempt(s)',
          id, report, period_from, period_to, status, attempts), '; ' ORDER BY id))
          FROM medcrm.report_run"
echo "   requested run $run and the schedule's week; the third pass found nothing: $(grep -c 'event=produced' "$MEDCRM_OUT/daemon-3.log" || true) produced"
echo "   outbox: $(cd "$outbox" && ls -- *.xlsx | tr '\n' ' ')"
echo "   next KPI run due $(psql_q "SELECT to_char(next_run_at, 'Dy YYYY-MM-DD HH24:MI') FROM medcrm.report_schedule")"
psql -X -q -v ON_ERROR_STOP=1 -P footer=off -o "$MEDCRM_OUT/report_runs.txt" \
  -c "SELECT id, schedule_id, report, period_from, period_to, status, attempts, worker, row_count,
             left(file_sha256, 16) AS sha256_prefix, delivery_status FROM medcrm.report_run ORDER BY id"
