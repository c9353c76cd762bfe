-- 071_report_schedule.sql — report schedules count their due times from an
-- anchor (month ends and daylight-saving days do not drift), refuse intervals
-- that could give empty or overlapping periods and recipient lists that hide
-- several addresses in one element, and one schedule that cannot become a run
-- is disabled with its error instead of stopping the queue for every daemon.
BEGIN;
SELECT plan(17);

-- a monthly schedule on the 31st, due since January 2025 (caught up now)
INSERT INTO medcrm.report_schedule (id, report, every, next_run_at, time_zone)
VALUES (9001, 'kpi', '1 month', '2025-01-31 07:00+00', 'UTC');
SELECT is((SELECT anchor_at FROM medcrm.report_schedule WHERE id = 9001), '2025-01-31 07:00+00'::timestamptz,
          'a new schedule counts from its first due time');
SELECT lives_ok($$SELECT count(*) FROM medcrm.report_claim('test:1', 60)$$, 'the daemon claims');
SELECT results_eq(
  $$SELECT period_from, period_to FROM medcrm.report_run WHERE schedule_id = 9001 ORDER BY period_from LIMIT 4$$,
  $$VALUES ('2024-12-31'::date, '2025-01-31'::date), ('2025-01-31', '2025-02-28'),
           ('2025-02-28', '2025-03-31'), ('2025-03-31', '2025-04-30')$$,
  'monthly periods end on the 31st again after February, each starting where the last ended');
SELECT is((SELECT count(*)::int FROM (
             SELECT period_from, lag(period_to) OVER (ORDER BY period_from) AS prev_to
               FROM medcrm.report_run WHERE schedule_id = 9001) AS x
            WHERE prev_to IS NOT NULL AND prev_to <> period_from), 0,
          'no day is reported twice or left out');
SELECT ok((SELECT next_run_at > now()
                  AND next_run_at = (timestamp '2025-01-31 07:00' + interval '1 month' * periods_done) AT TIME ZONE 'UTC'
                  AND periods_done = (SELECT count(*) FROM medcrm.report_run WHERE schedule_id = 9001)
             FROM medcrm.report_schedule WHERE id = 9001),
          'next_run_at is the anchor plus one month per period queued');

-- weekly at 02:30 Berlin time, across the night the clocks went forward
-- (29 March 2026: 02:30 does not exist that night)
INSERT INTO medcrm.report_schedule (id, report, every, next_run_at, time_zone)
VALUES (9002, 'kpi', '7 days', '2026-03-22 02:30 Europe/Berlin', 'Europe/Berlin');
SELECT lives_ok($$SELECT count(*) FROM medcrm.report_claim('test:1', 60)$$, 'the daemon claims again');
SELECT results_eq(
  $$SELECT period_to FROM medcrm.report_run WHERE schedule_id = 9002 ORDER BY period_from LIMIT 3$$,
  $$VALUES ('2026-03-22'::date), ('2026-03-29'::date), ('2026-04-05'::date)$$,
  'weekly periods go on week by week over the change to summer time');
SELECT is((SELECT to_char(next_run_at AT TIME ZONE 'Europe/Berlin', 'Dy HH24:MI') FROM medcrm.report_schedule WHERE id = 9002),
          'Sun 02:30', 'after the night without 02:30 the schedule is back at 02:30 local time');

-- changing next_run_at by hand starts the count afresh
UPDATE medcrm.report_schedule SET next_run_at = '2027-01-31 07:00+00' WHERE id = 9001;
SELECT results_eq($$SELECT anchor_at, periods_done FROM medcrm.report_schedule WHERE id = 9001$$,
                  $$VALUES ('2027-01-31 07:00+00'::timestamptz, 0)$$,
                  'a next_run_at set by hand becomes the new anchor');

INSERT INTO medcrm.report_schedule (id, report, every, next_run_at, anchor_at, periods_done)
VALUES (9004, 'kpi', '7 days', '2027-02-01 07:00+00', NULL, NULL);
SELECT results_eq($$SELECT anchor_at, periods_done FROM medcrm.report_schedule WHERE id = 9004$$,
                  $$VALUES ('2027-02-01 07:00+00'::timestamptz, 0)$$,
                  'anchor_at and periods_done are medcrm''s: a new schedule always starts at its next_run_at');

-- intervals that could give empty or overlapping periods
SELECT throws_ok($$INSERT INTO medcrm.report_schedule (report, every, next_run_at) VALUES ('kpi', '1 month -29 days', now())$$,
                 '23514', NULL, 'an interval with a negative part is refused');
SELECT throws_ok($$INSERT INTO medcrm.report_schedule (report, every, next_run_at) VALUES ('kpi', '24 hours', now())$$,
                 '23514', NULL, 'an interval in hours is refused (a day is not always 24 hours)');
SELECT lives_ok($$INSERT INTO medcrm.report_schedule (report, every, next_run_at) VALUES ('kpi', '1 month 15 days', now() + interval '1 day')$$,
                'months and days together are accepted');

-- recipients: one address per element
SELECT throws_ok($$INSERT INTO medcrm.report_schedule (report, every, next_run_at, recipients)
                   VALUES ('kpi', '7 days', now(), '{"anna@example.com x@elsewhere.example"}')$$,
                 '23514', NULL, 'two addresses hidden in one element are refused');

-- a schedule whose due time cannot become a run is disabled, the queue goes on
CREATE FUNCTION public.test_refuse_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.schedule_id = 9003 THEN
        RAISE EXCEPTION 'test: this run cannot be queued';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_refuse_run BEFORE INSERT ON medcrm.report_run
    FOR EACH ROW EXECUTE FUNCTION public.test_refuse_run();
INSERT INTO medcrm.report_schedule (id, report, every, next_run_at) VALUES (9003, 'kpi', '7 days', now() - interval '1 hour');
DO $$ BEGIN PERFORM set_config('test.requested', medcrm.request_report('kpi', '2026-10-01', '2026-11-01')::text, true); END $$;
UPDATE medcrm.report_run SET status = 'ok' WHERE id <> current_setting('test.requested')::bigint AND status <> 'ok';
SELECT is((SELECT run_id FROM medcrm.report_claim('test:2', 60)), current_setting('test.requested')::bigint,
          'a requested run is still claimed beside the broken schedule');
SELECT ok((SELECT NOT enabled AND error LIKE '%could not become a run: test: this run cannot be queued (SQLSTATE P0001)'
             FROM medcrm.report_schedule WHERE id = 9003),
          'the broken schedule is disabled with its error');

-- who may send a workbook to addresses of their choosing
SELECT ok(has_function_privilege('medcrm_quality', 'medcrm.request_report(text,date,date)', 'EXECUTE')
          AND NOT has_function_privilege('medcrm_quality', 'medcrm.request_report(text,date,date,text[])', 'EXECUTE')
          AND NOT has_function_privilege('medcrm_auditor', 'medcrm.request_report(text,date,date,text[])', 'EXECUTE')
          AND has_function_privilege('medcrm_reporter', 'medcrm.request_report(text,date,date,text[])', 'EXECUTE'),
          'quality and audit request runs into the outbox; only report administrators choose recipients');

SELECT * FROM finish();
ROLLBACK;
