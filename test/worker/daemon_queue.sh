#!/usr/bin/env bash
# daemon_queue.sh — two daemons on one queue: every due period of a schedule
# becomes exactly one run, done once (one "claimed" line in all logs
# together, attempts 1, one file each in the outbox with the recorded
# SHA-256), next_run_at advances period by period; the unique key refuses a
# second run for a period; idle daemons send no queries; a request_report()
# is picked up at once through LISTEN although both daemons poll only every
# 60 s; SIGTERM stops both cleanly (exit 0).
. "$(dirname "$0")/daemon_lib.bash"

db=medcrm_daemon_queue
daemon_setup $db '"poll_seconds": 60, "lease_seconds": 30, "retry_base_seconds": 1, "retry_max_seconds": 4'

# a daily KPI schedule three periods behind, a weekly compliance schedule one
# period behind, and four runs requested by hand
q $db "INSERT INTO medcrm.report_schedule (id, report, every, next_run_at)
       VALUES (1, 'kpi', '1 day', date_trunc('hour', now()) - interval '2 days 1 hour'),
              (2, 'compliance', '7 days', date_trunc('hour', now()) - interval '1 hour')" >/dev/null
s1=$(q $db "SELECT next_run_at FROM medcrm.report_schedule WHERE id = 1")
s2=$(q $db "SELECT next_run_at FROM medcrm.report_schedule WHERE id = 2")
q $db "SELECT medcrm.request_report('compliance', d::date, (d + interval '1 month')::date)
         FROM generate_series(DATE '2026-07-01', DATE '2026-10-01', interval '1 month') AS d" >/dev/null

start_daemon a --config "$WORK/daemon.json"; pid_a=$LAST_PID
start_daemon b --config "$WORK/daemon.json"; pid_b=$LAST_PID
wait_sql "eight runs done" 120 $db "SELECT count(*) FILTER (WHERE status = 'ok') = 8 FROM medcrm.report_run"

expect_eq "schedule 1: one run per due period, each ok at the first attempt" \
  "$(q $db "SELECT string_agg(format('%s..%s ok 1', d - 1, d), ',' ORDER BY d)
              FROM generate_series(TIMESTAMPTZ '$s1', TIMESTAMPTZ '$s1' + interval '2 days', interval '1 day') AS g,
                   LATERAL (SELECT (g AT TIME ZONE 'UTC')::date AS d) AS x")" \
  "$(q $db "SELECT string_agg(format('%s..%s %s %s', period_from, period_to, status, attempts), ',' ORDER BY period_from)
              FROM medcrm.report_run WHERE schedule_id = 1")"
expect_eq "schedule 1: next_run_at advanced by three periods" "t" \
  "$(q $db "SELECT next_run_at = TIMESTAMPTZ '$s1' + interval '3 days' FROM medcrm.report_schedule WHERE id = 1")"
expect_eq "schedule 2: one run for the week before, ok at the first attempt" \
  "$(q $db "SELECT format('%s..%s ok 1', (TIMESTAMPTZ '$s2' AT TIME ZONE 'UTC')::date - 7, (TIMESTAMPTZ '$s2' AT TIME ZONE 'UTC')::date)")" \
  "$(q $db "SELECT string_agg(format('%s..%s %s %s', period_from, period_to, status, attempts), ',') FROM medcrm.report_run WHERE schedule_id = 2")"
expect_eq "schedule 2: next_run_at advanced by one period" "t" \
  "$(q $db "SELECT next_run_at = TIMESTAMPTZ '$s2' + interval '7 days' FROM medcrm.report_schedule WHERE id = 2")"
expect_eq "the requested runs: four, each ok at the first attempt" "2026-07-01 ok 1,2026-08-01 ok 1,2026-09-01 ok 1,2026-10-01 ok 1" \
  "$(q $db "SELECT string_agg(format('%s %s %s', period_from, status, attempts), ',' ORDER BY period_from) FROM medcrm.report_run WHERE schedule_id IS NULL")"
wa=$(sed -n 's/.* event=started worker=\([^ ]*\) .*/\1/p' "$WORK/a.log")
wb=$(sed -n 's/.* event=started worker=\([^ ]*\) .*/\1/p' "$WORK/b.log")
host=$(hostname)
[[ $wa =~ ^$host:$pid_a:[0-9a-f]{16}$ ]] || fail "worker name of daemon a: $wa is not host:pid:16 hex digits"
[[ $wb =~ ^$host:$pid_b:[0-9a-f]{16}$ ]] || fail "worker name of daemon b: $wb is not host:pid:16 hex digits"
echo "ok - worker names are host:pid and 64 random bits in hex ($wa, $wb)"
[ "${wa##*:}" != "${wb##*:}" ] || fail "both daemons drew the same random part"
echo "ok - … drawn apart for each daemon"
expect_eq "every run names one of the two workers" 0 \
  "$(q $db "SELECT count(*) FROM medcrm.report_run WHERE worker NOT IN ('$wa', '$wb')")"
claims=$(cat "$WORK/a.log" "$WORK/b.log" | grep -c 'event=claimed')
expect_eq "eight claims in both logs together: no run was done twice" 8 "$claims"
expect_eq "every run claimed once" "$(q $db "SELECT string_agg(id::text, ' ' ORDER BY id) FROM medcrm.report_run")" \
  "$(cat "$WORK/a.log" "$WORK/b.log" | sed -n 's/.* run=\([0-9]*\) event=claimed .*/\1/p' | sort -n | paste -sd' ')"
echo "# runs per daemon: a $(grep -c 'event=claimed' "$WORK/a.log"), b $(grep -c 'event=claimed' "$WORK/b.log")"
expect_eq "the workers recorded are the two daemons" "t" \
  "$(q $db "SELECT bool_and(worker LIKE '%:$pid_a:%' OR worker LIKE '%:$pid_b:%') FROM medcrm.report_run")"
expect_eq "eight workbooks in the outbox, nothing else" 8 "$(find "$out" -type f | wc -l)"
expect_eq "the staging directory is empty" "" "$(ls -A "$out/.staging")"
q $db "SELECT file_path || ' ' || file_sha256 FROM medcrm.report_run ORDER BY id" | while read -r f h; do
  [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$h" ] || fail "$f does not have the recorded SHA-256"
done
echo "ok - every file has the SHA-256 recorded in report_run"
expect_eq "row counts recorded" "t" "$(q $db "SELECT bool_and(row_count > 0) FROM medcrm.report_run")"

# the unique key: a second run for a period of a schedule is impossible
err=$(psql -X -q -d $db -c "INSERT INTO medcrm.report_run (schedule_id, report, period_from, period_to)
        SELECT schedule_id, report, period_from, period_to FROM medcrm.report_run WHERE schedule_id = 1 LIMIT 1" 2>&1 || true)
case "$err" in *'duplicate key value violates unique constraint "report_run_schedule_period_key"'*) echo "ok - a second run for a period is refused (23505)" ;;
  *) fail "a second run for a period was not refused: $err" ;; esac

# idle: the daemons sleep until the next schedule (capped by poll_seconds),
# their connections stay quiet
sleep 3
expect_eq "both idle daemons sent no query for 2 s" 2 \
  "$(q $db "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND application_name = 'medcrm-report daemon'
              AND state = 'idle' AND now() - state_change > interval '2 seconds'")"

# LISTEN: a request is picked up at once (both daemons would otherwise sleep 60 s)
t0=$(date +%s.%N)
run=$(q $db "SELECT medcrm.request_report('compliance', '2026-10-01', '2026-11-01')")
wait_sql "the requested run done" 10 $db "SELECT status = 'ok' FROM medcrm.report_run WHERE id = $run"
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
echo "# request_report to ok: $secs s"
awk -v s="$secs" 'BEGIN { exit !(s < 5) }' || fail "the request took $secs s"
echo "ok - request_report() is picked up through LISTEN within 5 s"
expect_eq "… claimed by one daemon only" 1 "$(cat "$WORK/a.log" "$WORK/b.log" | grep -c "run=$run event=claimed")"

stop_daemon "daemon a" "$pid_a"
stop_daemon "daemon b" "$pid_b"
expect_eq "both log their stop" 2 "$(cat "$WORK/a.log" "$WORK/b.log" | grep -c 'event=stopped reason="SIGTERM"')"
expect_eq "nothing running or queued is left" 0 "$(q $db "SELECT count(*) FROM medcrm.report_run WHERE status <> 'ok'")"
dropdb $db
