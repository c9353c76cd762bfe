#!/usr/bin/env bash
# daemon_schedule.sh — the queue in SQL, without a daemon: a schedule's
# periods (weekly in Europe/Berlin across the end of daylight saving time,
# monthly, caught up after an outage), next_run_at's advance, the unique key,
# retry/backoff bookkeeping, lease take-over, release, delivery states,
# refused schedules (interval, time zone, recipients) with their SQLSTATEs,
# and the functions' security (SECURITY DEFINER, pinned search_path, not
# executable by PUBLIC).
. "$(dirname "$0")/daemon_lib.bash"

db=medcrm_daemon_schedule
fresh_db $db
export PGDATABASE=$db
t() { q $db "$1"; }
t "DELETE FROM medcrm.report_run; DELETE FROM medcrm.report_schedule" >/dev/null

# weekly, Monday 07:00 Berlin, across the end of summer time (25 Oct 2026)
t "INSERT INTO medcrm.report_schedule (id, report, every, next_run_at, time_zone, recipients)
   VALUES (1, 'kpi', '7 days', '2026-10-19 07:00 Europe/Berlin', 'Europe/Berlin', '{a@example.com}'),
          (2, 'compliance', '1 month', '2026-09-01 06:00+00', 'UTC', '{}'),
          (3, 'kpi', '1 day', now() + interval '1 hour', 'UTC', '{}')" >/dev/null
claimed=$(t "SELECT run_id FROM medcrm.report_claim('w1:1:a', 60)")
expect_eq "weekly: every missed Monday becomes one run, the week before each" \
  "2026-10-12..2026-10-19,2026-10-19..2026-10-26,2026-10-26..2026-11-02,2026-11-02..2026-11-09,2026-11-09..2026-11-16,2026-11-16..2026-11-23" \
  "$(t "SELECT string_agg(period_from || '..' || period_to, ',' ORDER BY period_from) FROM medcrm.report_run WHERE schedule_id = 1 AND period_to <= DATE '2026-11-23'")"
expect_eq "weekly: next_run_at stays 07:00 in Berlin after the clocks went back" "07:00 Mon" \
  "$(t "SELECT to_char(next_run_at AT TIME ZONE 'Europe/Berlin', 'HH24:MI Dy') FROM medcrm.report_schedule WHERE id = 1")"
expect_eq "weekly: … which is 06:00 UTC in winter, 05:00 UTC in summer" "06:00 05:00" \
  "$(t "SELECT to_char(next_run_at AT TIME ZONE 'UTC', 'HH24:MI') || ' ' || to_char(TIMESTAMPTZ '2026-10-19 07:00 Europe/Berlin' AT TIME ZONE 'UTC', 'HH24:MI') FROM medcrm.report_schedule WHERE id = 1")"
expect_eq "weekly: next_run_at is the first Monday 07:00 after now" "t" \
  "$(t "SELECT next_run_at > now() AND next_run_at - interval '7 days' <= now() FROM medcrm.report_schedule WHERE id = 1")"
expect_eq "weekly runs carry the schedule's recipients" "{a@example.com}" \
  "$(t "SELECT DISTINCT recipients FROM medcrm.report_run WHERE schedule_id = 1")"
expect_eq "monthly on the 1st: the calendar months before, from September 2026" \
  "2026-08-01..2026-09-01,2026-09-01..2026-10-01,2026-10-01..2026-11-01" \
  "$(t "SELECT string_agg(period_from || '..' || period_to, ',' ORDER BY period_from) FROM medcrm.report_run WHERE schedule_id = 2 AND period_to <= DATE '2026-11-01'")"
expect_eq "a schedule not yet due has no run" 0 "$(t "SELECT count(*) FROM medcrm.report_run WHERE schedule_id = 3")"
expect_eq "the claim took the oldest due run, attempt 1, with a lease of 60 s" "running|1|w1:1:a|60" \
  "$(t "SELECT status || '|' || attempts || '|' || worker || '|' || extract(epoch FROM lease_expires_at - started_at)::int FROM medcrm.report_run WHERE id = $claimed")"
n=$(t "SELECT count(*) FROM medcrm.report_run")
t "SELECT medcrm.report_claim('w2:2:b', 60)" >/dev/null
expect_eq "claiming again creates no run for a period already there" "$n" "$(t "SELECT count(*) FROM medcrm.report_run")"
err=$(psql -X -q -v ON_ERROR_STOP=1 -c "INSERT INTO medcrm.report_run (schedule_id, report, period_from, period_to) VALUES (1, 'kpi', '2026-10-12', '2026-10-19')" 2>&1 || true)
expect_eq "the unique key refuses a second run for a period (23505)" \
  'ERROR:  duplicate key value violates unique constraint "report_run_schedule_period_key"' "$(echo "$err" | head -n 1)"

# failure bookkeeping: backoff and max_attempts
t "DELETE FROM medcrm.report_run; DELETE FROM medcrm.report_schedule" >/dev/null
r=$(t "SELECT medcrm.request_report('kpi', '2026-10-01', '2026-11-01')")
t "UPDATE medcrm.report_run SET max_attempts = 2 WHERE id = $r" >/dev/null
t "SELECT medcrm.report_claim('w1:1:a', 60)" >/dev/null
# run_row ID: the columns a stale or foreign worker must not touch
run_row() { t "SELECT concat_ws('|', status, attempts, worker, error, next_attempt_at, lease_expires_at, file_path, file_sha256, row_count, finished_at) FROM medcrm.report_run WHERE id = $1"; }
before=$(run_row "$r")
expect_eq "report_fail by another worker returns nothing" "" "$(t "SELECT medcrm.report_fail($r, 'w9:9:z', 'x', 10)")"
expect_eq "… and changes nothing" "$before" "$(run_row "$r")"
expect_eq "report_fail: queued again" "queued" "$(t "SELECT medcrm.report_fail($r, 'w1:1:a', 'disk full', 120)")"
expect_eq "… with its error, not before the backoff, no lease" "queued|1|disk full|120|" \
  "$(t "SELECT status || '|' || attempts || '|' || error || '|' || round(extract(epoch FROM next_attempt_at - now())) || '|' || coalesce(lease_expires_at::text, '') FROM medcrm.report_run WHERE id = $r")"
expect_eq "a run waiting for its retry is not claimed" "" "$(t "SELECT run_id FROM medcrm.report_claim('w1:1:a', 60)")"
expect_eq "report_due_in: the retry in 120 s" "120" "$(t "SELECT round(medcrm.report_due_in(false))")"
t "UPDATE medcrm.report_run SET next_attempt_at = now() WHERE id = $r" >/dev/null
expect_eq "after the backoff: claimed, attempt 2" "$r|2" "$(t "SELECT run_id || '|' || attempts FROM medcrm.report_claim('w1:1:a', 60)")"
expect_eq "the last attempt failing: failed" "failed" "$(t "SELECT medcrm.report_fail($r, 'w1:1:a', 'disk still full', 240)")"
expect_eq "… with finished_at, never claimed again" "true|" \
  "$(t "SELECT (finished_at IS NOT NULL)::text || '|' || coalesce((SELECT run_id::text FROM medcrm.report_claim('w1:1:a', 60)), '') FROM medcrm.report_run WHERE id = $r")"

# lease expiry: taken over; the old worker can no longer complete or heartbeat
r=$(t "SELECT medcrm.request_report('compliance', '2026-10-01', '2026-11-01')")
t "SELECT medcrm.report_claim('old:1:a', 60)" >/dev/null
expect_eq "heartbeat of the holder renews" "t" "$(t "SELECT medcrm.report_heartbeat($r, 'old:1:a', 60)")"
t "UPDATE medcrm.report_run SET lease_expires_at = now() - interval '1 second' WHERE id = $r" >/dev/null
expect_eq "an expired lease is taken over, attempt 2, naming the old worker" "$r|2|old:1:a" \
  "$(t "SELECT run_id || '|' || attempts || '|' || taken_over_from FROM medcrm.report_claim('new:2:b', 60)")"
before=$(run_row "$r")
expect_eq "the old worker's heartbeat fails" "f" "$(t "SELECT medcrm.report_heartbeat($r, 'old:1:a', 60)")"
expect_eq "… its hold fails" "f" "$(t "SELECT medcrm.report_hold($r, 'old:1:a')")"
expect_eq "… its completion fails" "f" "$(t "SELECT medcrm.report_complete($r, 'old:1:a', '/x', repeat('a', 64), 1)")"
expect_eq "… and none of them changed the run" "$before" "$(run_row "$r")"
expect_eq "the new worker completes it" "t" "$(t "SELECT medcrm.report_complete($r, 'new:2:b', '/out/c.xlsx', repeat('b', 64), 95)")"
expect_eq "… ok, no lease, no recipients: no delivery" "ok|2|new:2:b|95|none|" \
  "$(t "SELECT status || '|' || attempts || '|' || worker || '|' || row_count || '|' || delivery_status || '|' || coalesce(lease_expires_at::text, '') FROM medcrm.report_run WHERE id = $r")"

# release: back to the queue, the attempt not counted
r=$(t "SELECT medcrm.request_report('compliance', '2026-09-01', '2026-10-01')")
t "SELECT medcrm.report_claim('w1:1:a', 60)" >/dev/null
expect_eq "release by the holder" "t" "$(t "SELECT medcrm.report_release($r, 'w1:1:a')")"
expect_eq "… queued, attempts 0" "queued|0" "$(t "SELECT status || '|' || attempts FROM medcrm.report_run WHERE id = $r")"
t "SELECT medcrm.report_claim('w1:1:a', 60)" >/dev/null

# delivery states
t "UPDATE medcrm.report_run SET recipients = '{qa@example.com}', max_attempts = 2 WHERE id = $r" >/dev/null
t "SELECT medcrm.report_complete($r, 'w1:1:a', '/out/c.xlsx', repeat('c', 64), 90)" >/dev/null
expect_eq "with recipients the delivery is pending" "pending|0" "$(t "SELECT delivery_status || '|' || delivery_attempts FROM medcrm.report_run WHERE id = $r")"
expect_eq "report_due_in counts deliveries only when asked" "0|" "$(t "SELECT round(medcrm.report_due_in(true)) || '|' || coalesce(medcrm.report_due_in(false)::text, '')")"
expect_eq "claim the delivery" "$r|/out/c.xlsx|{qa@example.com}|1" \
  "$(t "SELECT run_id || '|' || file_path || '|' || recipients::text || '|' || delivery_attempts FROM medcrm.report_claim_delivery('m1:1:a', 60)")"
expect_eq "a delivery being sent is not claimed twice" "" "$(t "SELECT run_id FROM medcrm.report_claim_delivery('m2:2:b', 60)")"
expect_eq "a refused delivery is pending again" "pending" "$(t "SELECT medcrm.report_delivery_failed($r, 'm1:1:a', '451 try later', 30)")"
t "UPDATE medcrm.report_run SET next_delivery_at = now() WHERE id = $r" >/dev/null
t "SELECT medcrm.report_claim_delivery('m1:1:a', 60)" >/dev/null
expect_eq "the second refusal of two allowed: failed" "failed" "$(t "SELECT medcrm.report_delivery_failed($r, 'm1:1:a', '451 try later', 60)")"
expect_eq "… the run itself stays ok at attempt 1" "ok|1|failed|2|451 try later" \
  "$(t "SELECT status || '|' || attempts || '|' || delivery_status || '|' || delivery_attempts || '|' || delivery_error FROM medcrm.report_run WHERE id = $r")"
t "UPDATE medcrm.report_run SET delivery_status = 'pending', max_attempts = 3, next_delivery_at = now() WHERE id = $r" >/dev/null
t "SELECT medcrm.report_claim_delivery('m1:1:a', 60)" >/dev/null
expect_eq "sent" "t" "$(t "SELECT medcrm.report_delivered($r, 'm1:1:a')")"
expect_eq "… with delivered_at" "sent|3|true" "$(t "SELECT delivery_status || '|' || delivery_attempts || '|' || (delivered_at IS NOT NULL)::text FROM medcrm.report_run WHERE id = $r")"

# refused schedules
refused() { # WHAT SQLSTATE SQL
  local out
  out=$(psql -X -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "$3" 2>&1 || true)
  case "$out" in *"ERROR:  $2:"*) echo "ok - $1 ($2)" ;; *) fail "$1: expected SQLSTATE $2, got: $out" ;; esac
}
refused "an interval under one day" 23514 "INSERT INTO medcrm.report_schedule (report, every, next_run_at) VALUES ('kpi', '12 hours', now())"
refused "an unknown time zone" 22023 "INSERT INTO medcrm.report_schedule (report, every, next_run_at, time_zone) VALUES ('kpi', '7 days', now(), 'Mars/Olympus')"
refused "a recipient without a domain" 23514 "INSERT INTO medcrm.report_schedule (report, every, next_run_at, recipients) VALUES ('kpi', '7 days', now(), '{anna}')"
refused "a recipient with a display name" 23514 "INSERT INTO medcrm.report_schedule (report, every, next_run_at, recipients) VALUES ('kpi', '7 days', now(), '{\"Anna <anna@example.com>\"}')"
refused "a NULL recipient" 23514 "INSERT INTO medcrm.report_schedule (report, every, next_run_at, recipients) VALUES ('kpi', '7 days', now(), ARRAY[NULL]::text[])"
refused "a run's recipient carrying a header (CR LF)" 23514 "UPDATE medcrm.report_run SET recipients = ARRAY[E'qa@example.com\\r\\nBcc: spy@example.net'] WHERE id = $r"
refused "a claim without a worker" 22023 "SELECT medcrm.report_claim('', 60)"

# security of the queue's functions
expect_eq "every queue function: SECURITY DEFINER, pinned search_path, a comment, not PUBLIC, for medcrm_reporter" \
  "report_claim report_claim_delivery report_complete report_delivered report_delivery_failed report_due_in report_fail report_heartbeat report_hold report_release" \
  "$(t "SELECT string_agg(p.proname, ' ' ORDER BY p.proname) FROM pg_proc p
         WHERE p.pronamespace = 'medcrm'::regnamespace AND p.proname LIKE 'report\_%' AND p.proname <> 'report_schedule_notify'
           AND p.prosecdef AND p.proconfig = ARRAY['search_path=pg_catalog, pg_temp']
           AND obj_description(p.oid, 'pg_proc') IS NOT NULL
           AND NOT has_function_privilege('public', p.oid, 'EXECUTE')
           AND has_function_privilege('medcrm_reporter', p.oid, 'EXECUTE')
           AND NOT has_function_privilege('medcrm_bi', p.oid, 'EXECUTE')")"

# notifications: request_report and schedule changes wake the daemons
out=$(psql -X -q -d $db <<'SQL'
LISTEN medcrm_report;
SELECT 1 FROM medcrm.request_report('kpi', '2026-10-01', '2026-11-01') \g /dev/null
INSERT INTO medcrm.report_schedule (report, every, next_run_at) VALUES ('kpi', '7 days', now() + interval '1 day');
SQL
)
expect_eq "request_report() and a schedule change notify medcrm_report" 2 \
  "$(echo "$out" | grep -c 'Asynchronous notification "medcrm_report"')"
dropdb $db
