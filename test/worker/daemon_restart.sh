#!/usr/bin/env bash
# daemon_restart.sh — the database server restarted (pg_ctl restart -m fast)
# in the middle of a run:
#   1. while the workbook is staged: the daemon's connection breaks, it
#      reconnects with backoff, keeps its lease and publishes the run once
#      (ok, attempts 1);
#   2. while the workbook process is reading: that attempt fails, is recorded
#      with its error and retried after the backoff (1 s): ok at attempt 2.
# Nothing is lost: every run ends ok, one file each, nothing left in staging.
. "$(dirname "$0")/daemon_lib.bash"

[ -n "${MEDCRM_CLUSTER:-}" ] || fail "MEDCRM_CLUSTER is not set (run through make check)"
db=medcrm_daemon_restart
daemon_setup $db '"poll_seconds": 60, "lease_seconds": 6, "retry_base_seconds": 1, "retry_max_seconds": 4'

# 1. restart while the workbook is staged
r1=$(q $db "SELECT medcrm.request_report('compliance', '2026-10-01', '2026-11-01')")
MEDCRM_REPORT_TEST_PAUSE_MS=4000 start_daemon a --config "$WORK/daemon.json"; pid_a=$LAST_PID
for _ in $(seq 1 300); do [ -f "$out/.staging/r$r1-a1.xlsx" ] && break; sleep 0.1; done
[ -f "$out/.staging/r$r1-a1.xlsx" ] || { cat "$WORK/a.log"; fail "daemon a never staged run $r1"; }
pg_restart
echo "ok - the server restarted while run $r1 was staged"
wait_sql "run $r1 done" 60 $db "SELECT status = 'ok' FROM medcrm.report_run WHERE id = $r1"
expect_eq "run $r1: ok at the first attempt, by daemon a" "ok|1|1|" \
  "$(q $db "SELECT status || '|' || attempts || '|' || (worker LIKE '%:$pid_a:%')::int || '|' || coalesce(error, '') FROM medcrm.report_run WHERE id = $r1")"
grep -qE "event=(db_lost|db_unavailable|heartbeat_failed)" "$WORK/a.log" || { cat "$WORK/a.log"; fail "daemon a did not notice the restart"; }
expect_eq "daemon a reconnected" 2 "$(grep -c 'event=connected' "$WORK/a.log")"
expect_eq "run $r1 published once" 1 "$(grep -c "run=$r1 event=ok" "$WORK/a.log")"
expect_eq "its file has the recorded SHA-256" \
  "$(q $db "SELECT file_sha256 FROM medcrm.report_run WHERE id = $r1")" "$(sha256sum <"$out/compliance-2026-10_run$r1.xlsx" | cut -d' ' -f1)"
stop_daemon "daemon a" "$pid_a"

# 2. restart while the workbook process holds its connection
r2=$(q $db "SELECT medcrm.request_report('compliance', '2026-09-01', '2026-10-01')")
MEDCRM_REPORT_TEST_PAUSE_AT=connected MEDCRM_REPORT_TEST_PAUSE_MS=3000 start_daemon b --config "$WORK/daemon.json"; pid_b=$LAST_PID
wait_log "daemon b claims run $r2" 20 "$WORK/b.log" "run=$r2 event=claimed .*attempt=1"
sleep 1
pg_restart
echo "ok - the server restarted while the workbook process of run $r2 was connected"
wait_sql "run $r2 done" 60 $db "SELECT status = 'ok' FROM medcrm.report_run WHERE id = $r2"
expect_eq "run $r2: ok at the second attempt, the first one's error kept" "ok|2|1" \
  "$(q $db "SELECT status || '|' || attempts || '|' || (error ~ 'terminating connection|server closed the connection|no connection to the server')::int FROM medcrm.report_run WHERE id = $r2")"
grep -qE "run=$r2 event=attempt_failed attempt=1 retry_in=1s error=" "$WORK/b.log" || { cat "$WORK/b.log"; fail "the failed attempt was not logged with its backoff"; }
echo "ok - the failed attempt is logged with its backoff (1 s)"
expect_eq "run $r2 claimed twice (attempts 1 and 2), published once" "2 1" \
  "$(grep -c "run=$r2 event=claimed" "$WORK/b.log") $(grep -c "run=$r2 event=ok" "$WORK/b.log")"
stop_daemon "daemon b" "$pid_b"

expect_eq "nothing lost: every run ok" "2 ok" "$(q $db "SELECT count(*) || ' ' || string_agg(DISTINCT status, ',') FROM medcrm.report_run")"
expect_eq "the outbox: one file per run, staging empty" \
  "compliance-2026-09_run$r2.xlsx compliance-2026-10_run$r1.xlsx" "$(outbox_files "$out")"
dropdb $db
