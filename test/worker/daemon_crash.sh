#!/usr/bin/env bash
# daemon_crash.sh — a daemon killed with kill -9 in the middle of a run: its
# workbook process dies with it, the outbox shows nothing of the run, the
# lease expires and another daemon takes the run over and does it once
# (attempts 2, same row count as an undisturbed run, one file with the
# recorded SHA-256, the dead attempt's staged file removed). A run out of
# attempts whose worker died is failed, not retried, and its staged file is
# swept by the next daemon. A daemon frozen past its lease (SIGSTOP) is taken
# over and, woken, discards its copy. SIGTERM in the middle of a run releases
# it to the queue (attempt not counted) and exits 0.
#
# "In the middle" is made deterministic with the test-only pause of the
# workbook process (MEDCRM_REPORT_TEST_PAUSE_MS): the workbook is staged, not
# yet published.
. "$(dirname "$0")/daemon_lib.bash"

db=medcrm_daemon_crash
daemon_setup $db '"poll_seconds": 60, "lease_seconds": 2, "retry_base_seconds": 1, "retry_max_seconds": 4'

# an undisturbed run of the period, for comparison
r0=$(q $db "SELECT medcrm.request_report('kpi', '2026-10-01', '2026-11-01')")
medcrm-report daemon --once --config "$WORK/daemon.json" 2>"$WORK/once.log" || { cat "$WORK/once.log"; fail "undisturbed run"; }
rows0=$(q $db "SELECT row_count FROM medcrm.report_run WHERE id = $r0 AND status = 'ok' AND attempts = 1")
[ -n "$rows0" ] || fail "the undisturbed run is not ok"
echo "# undisturbed run $r0: $rows0 rows"

# kill -9 while the workbook is staged but not published
r1=$(q $db "SELECT medcrm.request_report('kpi', '2026-10-01', '2026-11-01')")
MEDCRM_REPORT_TEST_PAUSE_MS=60000 start_daemon a --config "$WORK/daemon.json"; pid_a=$LAST_PID
for _ in $(seq 1 300); do [ -f "$out/.staging/r$r1-a1.xlsx" ] && break; sleep 0.1; done
[ -f "$out/.staging/r$r1-a1.xlsx" ] || { cat "$WORK/a.log"; fail "daemon a never staged run $r1"; }
child=$(pgrep -P "$pid_a" || true)
[ -n "$child" ] || fail "no workbook process under daemon a"
kill -9 "$pid_a"
wait "$pid_a" 2>/dev/null || true
echo "ok - daemon a killed with SIGKILL in the middle of run $r1"
for _ in $(seq 1 50); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
kill -0 "$child" 2>/dev/null && fail "the workbook process outlived its daemon"
echo "ok - its workbook process died with it"
expect_eq "the run is still running under the dead worker" "running|1|1" \
  "$(q $db "SELECT status || '|' || attempts || '|' || (worker LIKE '%:$pid_a:%')::int FROM medcrm.report_run WHERE id = $r1")"
expect_eq "the outbox shows only the undisturbed workbook" "kpi-2026-10_run$r0.xlsx" "$(cd "$out" && ls)"

start_daemon b --config "$WORK/daemon.json"; pid_b=$LAST_PID
wait_sql "run $r1 taken over and done" 30 $db "SELECT status = 'ok' FROM medcrm.report_run WHERE id = $r1"
expect_eq "done once, at the second attempt, by daemon b, same rows as undisturbed" "ok|2|1|$rows0" \
  "$(q $db "SELECT status || '|' || attempts || '|' || (worker LIKE '%:$pid_b:%')::int || '|' || row_count FROM medcrm.report_run WHERE id = $r1")"
wait_log "daemon b logs the take-over" 5 "$WORK/b.log" "run=$r1 event=taken_over attempt=2 from=[^ ]*:$pid_a:"
echo "ok - daemon b logs the take-over from daemon a"
expect_eq "daemon b claimed it once" 1 "$(grep -c "run=$r1 event=claimed" "$WORK/b.log")"
expect_eq "the outbox: exactly the two workbooks, staging empty" \
  "kpi-2026-10_run$r0.xlsx kpi-2026-10_run$r1.xlsx" "$(outbox_files "$out")"
expect_eq "the published file has the recorded SHA-256" \
  "$(q $db "SELECT file_sha256 FROM medcrm.report_run WHERE id = $r1")" "$(sha256sum <"$out/kpi-2026-10_run$r1.xlsx" | cut -d' ' -f1)"
stop_daemon "daemon b" "$pid_b"

# a run out of attempts whose worker died is failed
r2=$(q $db "SELECT medcrm.request_report('compliance', '2026-10-01', '2026-11-01')")
q $db "UPDATE medcrm.report_run SET max_attempts = 1 WHERE id = $r2" >/dev/null
MEDCRM_REPORT_TEST_PAUSE_MS=60000 start_daemon c --config "$WORK/daemon.json"; pid_c=$LAST_PID
for _ in $(seq 1 300); do [ -f "$out/.staging/r$r2-a1.xlsx" ] && break; sleep 0.1; done
[ -f "$out/.staging/r$r2-a1.xlsx" ] || { cat "$WORK/c.log"; fail "daemon c never staged run $r2"; }
kill -9 "$pid_c"
wait "$pid_c" 2>/dev/null || true
sleep 2.5
medcrm-report daemon --once --config "$WORK/daemon.json" 2>"$WORK/once2.log" || { cat "$WORK/once2.log"; fail "--once after the death of c"; }
expect_eq "a dead worker's run out of attempts is failed, not retried" \
  "failed|1|worker $(q $db "SELECT worker FROM medcrm.report_run WHERE id = $r2") stopped renewing its lease during attempt 1 of 1" \
  "$(q $db "SELECT status || '|' || attempts || '|' || error FROM medcrm.report_run WHERE id = $r2")"
expect_eq "… and not claimed again" 0 "$(grep -c "run=$r2 event=claimed" "$WORK/once2.log")"
expect_eq "its staged file is still there" "r$r2-a1.xlsx" "$(ls -A "$out/.staging")"
medcrm-report daemon --once --config "$WORK/daemon.json" 2>"$WORK/once2b.log" || { cat "$WORK/once2b.log"; fail "--once to sweep"; }
expect_eq "the next daemon sweeps the staged file of the failed run" "run=$r2 event=staging_swept file=r$r2-a1.xlsx" \
  "$(sed -n 's/.* \(run=[0-9]* event=staging_swept .*\)/\1/p' "$WORK/once2b.log")"
expect_eq "… staging is empty" "" "$(ls -A "$out/.staging")"

# a daemon frozen (SIGSTOP) past its lease is only slow, not dead: another
# daemon takes the run over and publishes it; when the first one wakes up it
# finds the run no longer its own and discards its copy — one file, one ok
r5=$(q $db "SELECT medcrm.request_report('compliance', '2026-08-01', '2026-09-01')")
MEDCRM_REPORT_TEST_PAUSE_MS=4000 start_daemon e --config "$WORK/daemon.json"; pid_e=$LAST_PID
for _ in $(seq 1 300); do [ -f "$out/.staging/r$r5-a1.xlsx" ] && break; sleep 0.1; done
[ -f "$out/.staging/r$r5-a1.xlsx" ] || { cat "$WORK/e.log"; fail "daemon e never staged run $r5"; }
child_e=$(pgrep -P "$pid_e")
kill -STOP "$pid_e" "$child_e"
echo "ok - daemon e frozen with run $r5 staged"
sleep 2.5
start_daemon f --config "$WORK/daemon.json"; pid_f=$LAST_PID
wait_sql "run $r5 taken over and done" 30 $db "SELECT status = 'ok' FROM medcrm.report_run WHERE id = $r5"
stop_daemon "daemon f" "$pid_f"
sha5=$(q $db "SELECT file_sha256 FROM medcrm.report_run WHERE id = $r5")
kill -CONT "$pid_e" "$child_e"
wait_log "daemon e, woken, finds the run taken over" 20 "$WORK/e.log" "run=$r5 event=lease_lost attempt=1"
echo "ok - daemon e, woken, finds run $r5 no longer its own"
expect_eq "run $r5: ok once, at attempt 2, by daemon f" "ok|2|1" \
  "$(q $db "SELECT status || '|' || attempts || '|' || (worker LIKE '%:$pid_f:%')::int FROM medcrm.report_run WHERE id = $r5")"
expect_eq "daemon e published nothing" 0 "$(grep -c "run=$r5 event=ok" "$WORK/e.log")"
expect_eq "the outbox holds daemon f's workbook, staging is empty" \
  "compliance-2026-08_run$r5.xlsx kpi-2026-10_run$r0.xlsx kpi-2026-10_run$r1.xlsx" "$(outbox_files "$out")"
expect_eq "… with the recorded SHA-256" "$sha5" "$(sha256sum <"$out/compliance-2026-08_run$r5.xlsx" | cut -d' ' -f1)"
stop_daemon "daemon e" "$pid_e"

# SIGTERM in the middle of a run: released, exit 0; the next daemon does it
r3=$(q $db "SELECT medcrm.request_report('compliance', '2026-10-01', '2026-11-01')")
MEDCRM_REPORT_TEST_PAUSE_MS=60000 start_daemon d --config "$WORK/daemon.json"; pid_d=$LAST_PID
for _ in $(seq 1 300); do [ -f "$out/.staging/r$r3-a1.xlsx" ] && break; sleep 0.1; done
[ -f "$out/.staging/r$r3-a1.xlsx" ] || { cat "$WORK/d.log"; fail "daemon d never staged run $r3"; }
stop_daemon "daemon d in the middle of a run" "$pid_d"
grep -q "run=$r3 event=released attempt=1" "$WORK/d.log" || { cat "$WORK/d.log"; fail "no release logged"; }
echo "ok - … logs the release of run $r3"
expect_eq "the run is queued again, the attempt not counted, no lease" "queued|0||" \
  "$(q $db "SELECT status || '|' || attempts || '|' || coalesce(lease_expires_at::text, '') || '|' || coalesce(started_at::text, '') FROM medcrm.report_run WHERE id = $r3")"
expect_eq "nothing of it in the outbox or staging" \
  "compliance-2026-08_run$r5.xlsx kpi-2026-10_run$r0.xlsx kpi-2026-10_run$r1.xlsx" "$(outbox_files "$out")"
medcrm-report daemon --once --config "$WORK/daemon.json" 2>"$WORK/once3.log" || { cat "$WORK/once3.log"; fail "--once after SIGTERM"; }
expect_eq "the released run is done at its first counted attempt" "ok|1" \
  "$(q $db "SELECT status || '|' || attempts FROM medcrm.report_run WHERE id = $r3")"
dropdb $db
