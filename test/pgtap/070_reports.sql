-- 070_reports.sql — medcrm.request_report() queues a report run and refuses
-- bad requests with precise SQLSTATEs; the report worker's role may read what
-- the workbooks need and nothing of contacts' personal data.
BEGIN;
SELECT plan(23);

SELECT has_function('medcrm', 'request_report', ARRAY['text', 'date', 'date'], 'request_report exists');
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'medcrm.request_report(text,date,date)'::regprocedure),
          true, 'request_report is SECURITY DEFINER');
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = 'medcrm.request_report(text,date,date)'::regprocedure),
          ARRAY['search_path=pg_catalog, pg_temp'], 'request_report pins its search_path');
SELECT ok(NOT has_function_privilege('public', 'medcrm.request_report(text,date,date)', 'EXECUTE'),
          'PUBLIC may not request reports');
SELECT ok(has_function_privilege('medcrm_reporter', 'medcrm.request_report(text,date,date)', 'EXECUTE'),
          'medcrm_reporter may request reports');
SELECT isnt(obj_description('medcrm.request_report(text,date,date)'::regprocedure, 'pg_proc'), NULL,
            'request_report has a comment');

SELECT lives_ok($$SELECT set_config('test.run_id', medcrm.request_report('kpi', '2026-10-01', '2026-11-01')::text, true)$$,
                'a KPI run is requested');
SELECT results_eq(
  $$SELECT report, period_from, period_to, status, attempts, schedule_id IS NULL
      FROM medcrm.report_run WHERE id = current_setting('test.run_id')::bigint$$,
  $$VALUES ('kpi'::text, DATE '2026-10-01', DATE '2026-11-01', 'queued'::text, 0, true)$$,
  'the run is queued for that period, by hand');
SELECT ok(medcrm.request_report('compliance', '2026-01-01', '2027-01-01') > current_setting('test.run_id')::bigint,
          'a compliance run gets the next id');
SELECT is((SELECT recipients FROM medcrm.report_run WHERE id = current_setting('test.run_id')::bigint),
          '{}'::text[], 'a run requested without recipients only lands in the outbox');
SELECT lives_ok($$SELECT set_config('test.mail_run',
                    medcrm.request_report('kpi', '2026-10-01', '2026-11-01',
                                          ARRAY['anna.weber@example.com', 'ben.okafor@example.org'])::text, true)$$,
                'a KPI run is requested for two managers');
SELECT results_eq(
  $$SELECT recipients, status, delivery_status FROM medcrm.report_run
     WHERE id = current_setting('test.mail_run')::bigint$$,
  $$VALUES ('{anna.weber@example.com,ben.okafor@example.org}'::text[], 'queued'::text, 'none'::text)$$,
  'the run keeps its recipients; delivery waits for the workbook');
SELECT throws_ok($$SELECT medcrm.request_report('kpi', '2026-10-01', '2026-11-01', ARRAY['Anna <anna@example.com>'])$$,
                 '23514', 'invalid report recipients', 'a recipient with a display name is refused');

SELECT throws_ok($$SELECT medcrm.request_report('sales', '2026-10-01', '2026-11-01')$$,
                 '22023', 'unknown report "sales"', 'an unknown report is refused');
SELECT throws_ok($$SELECT medcrm.request_report(NULL, '2026-10-01', '2026-11-01')$$,
                 '22023', 'unknown report "<NULL>"', 'a NULL report is refused');
SELECT throws_ok($$SELECT medcrm.request_report('kpi', NULL, '2026-11-01')$$,
                 '22004', 'report period must not be null', 'a NULL date is refused');
SELECT throws_ok($$SELECT medcrm.request_report('kpi', '2026-11-01', '2026-11-01')$$,
                 '22023', 'report period is empty', 'an empty period is refused');

SELECT ok(has_table_privilege('medcrm_reporter', 'medcrm.audit_log', 'SELECT'),
          'medcrm_reporter reads the audit trail');
SELECT ok(has_table_privilege('medcrm_reporter', 'medcrm.work_order', 'SELECT')
          AND has_table_privilege('medcrm_reporter', 'medcrm.sales_order', 'SELECT'),
          'medcrm_reporter reads the tables the workbooks summarise');
SELECT ok(NOT has_column_privilege('medcrm_reporter', 'medcrm.contact', 'phone', 'SELECT')
          AND NOT has_column_privilege('medcrm_reporter', 'medcrm.contact', 'national_id', 'SELECT'),
          'medcrm_reporter never reads contacts'' personal data');
SELECT ok(NOT has_table_privilege('medcrm_reporter', 'medcrm.audit_log', 'UPDATE')
          AND NOT has_table_privilege('medcrm_reporter', 'medcrm.audit_log', 'DELETE'),
          'medcrm_reporter cannot change the audit trail');
SELECT ok(has_table_privilege('medcrm_reporter', 'medcrm.report_run', 'SELECT')
          AND has_function_privilege('medcrm_reporter', 'medcrm.report_claim(text,integer)', 'EXECUTE'),
          'medcrm_reporter reads the queue and claims runs through medcrm.report_claim');
SELECT ok(NOT has_table_privilege('medcrm_reporter', 'medcrm.report_run', 'INSERT')
          AND NOT has_table_privilege('medcrm_reporter', 'medcrm.report_run', 'UPDATE')
          AND NOT has_table_privilege('medcrm_reporter', 'medcrm.report_schedule', 'UPDATE'),
          'medcrm_reporter changes the queue only through its functions');

SELECT * FROM finish();
ROLLBACK;
