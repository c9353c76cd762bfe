-- 600_kpi_summary.sql — medcrm.kpi_summary() on the hand-built fixture
-- test/fixtures/kpi_fixture.sql: every KPI, overall, by tier and by region,
-- with numerator, denominator and value worked out by hand (the comments of
-- the fixture say why each row counts or not). Period: Q1 2026 in the session
-- TimeZone Asia/Shanghai. Also: the same numbers through kpi_series() and
-- v_kpi_monthly, the TimeZone rule, and the refusals.
BEGIN;
SELECT plan(36);

SET LOCAL TimeZone = 'Asia/Shanghai';
SET LOCAL session_replication_role = replica;
\ir ../fixtures/kpi_fixture.sql

-- data_error_rate reads medcrm.v_data_quality. Its checks have their own tests;
-- here a stand-in with known findings: two for 70003 (counted once), one for
-- the merged 70006 (never counts) and one product finding without an account.
CREATE OR REPLACE VIEW medcrm.v_data_quality WITH (security_barrier) AS
SELECT * FROM (VALUES
    ('hospital_without_grade', 'warning', 'account', 70003::bigint, 70003::bigint, 'x', 'y'),
    ('contact_phone_without_consent', 'warning', 'contact', 1, 70003, 'x', 'y'),
    ('hospital_without_grade', 'warning', 'account', 70006, 70006, 'x', 'y'),
    ('gtin_check_digit', 'error', 'product', 1, NULL, 'x', 'y'))
  AS f(finding_code, severity, table_name, row_id, account_id, detail, fix_hint);
SET LOCAL session_replication_role = origin;

-- Expected rows: (kpi, tier, region, numerator, denominator, value rounded to
-- 6 places). Hours KPIs: numerator = total hours; medians: numerator NULL,
-- denominator = number of work orders.
CREATE TEMP TABLE expected (kpi text, tier text, region text, numerator numeric,
                            denominator numeric, value numeric) ON COMMIT DROP;
INSERT INTO expected VALUES
  ('touch_rate', NULL, NULL, 3, 4, 0.750000),
  ('touch_rate', 'A', NULL, 2, 2, 1.000000),
  ('touch_rate', 'B', NULL, 1, 1, 1.000000),
  ('touch_rate', 'C', NULL, 0, 0, NULL),
  ('touch_rate', 'D', NULL, 0, 1, 0.000000),
  ('touch_rate', '(none)', NULL, 0, 0, NULL),
  ('touch_rate', NULL, 'East', 2, 2, 1.000000),
  ('touch_rate', NULL, 'North', 1, 1, 1.000000),
  ('touch_rate', NULL, 'South', 0, 1, 0.000000),
  ('touch_rate', NULL, '(none)', 0, 0, NULL),
  ('first_response_hours_median', NULL, NULL, NULL, 5, 3),
  ('first_response_hours_median', 'A', NULL, NULL, 2, 4),
  ('first_response_hours_median', 'B', NULL, NULL, 2, 2),
  ('first_response_hours_median', 'C', NULL, NULL, 1, 5),
  ('first_response_hours_median', 'D', NULL, NULL, 0, NULL),
  ('first_response_hours_median', '(none)', NULL, NULL, 0, NULL),
  ('first_response_hours_median', NULL, 'East', NULL, 2, 4),
  ('first_response_hours_median', NULL, 'North', NULL, 3, 3),
  ('first_response_hours_median', NULL, 'South', NULL, 0, NULL),
  ('first_response_hours_median', NULL, '(none)', NULL, 0, NULL),
  ('first_response_hours_mean', NULL, NULL, 17, 5, 3.400000),
  ('first_response_hours_mean', 'A', NULL, 8, 2, 4.000000),
  ('first_response_hours_mean', 'B', NULL, 4, 2, 2.000000),
  ('first_response_hours_mean', 'C', NULL, 5, 1, 5.000000),
  ('first_response_hours_mean', 'D', NULL, 0, 0, NULL),
  ('first_response_hours_mean', '(none)', NULL, 0, 0, NULL),
  ('first_response_hours_mean', NULL, 'East', 8, 2, 4.000000),
  ('first_response_hours_mean', NULL, 'North', 9, 3, 3.000000),
  ('first_response_hours_mean', NULL, 'South', 0, 0, NULL),
  ('first_response_hours_mean', NULL, '(none)', 0, 0, NULL),
  ('resolution_hours_median', NULL, NULL, NULL, 5, 24),
  ('resolution_hours_median', 'A', NULL, NULL, 2, 15),
  ('resolution_hours_median', 'B', NULL, NULL, 0, NULL),
  ('resolution_hours_median', 'C', NULL, NULL, 1, 30),
  ('resolution_hours_median', 'D', NULL, NULL, 2, 204),
  ('resolution_hours_median', '(none)', NULL, NULL, 0, NULL),
  ('resolution_hours_median', NULL, 'East', NULL, 2, 15),
  ('resolution_hours_median', NULL, 'North', NULL, 1, 30),
  ('resolution_hours_median', NULL, 'South', NULL, 2, 204),
  ('resolution_hours_median', NULL, '(none)', NULL, 0, NULL),
  ('resolution_hours_mean', NULL, NULL, 468, 5, 93.600000),
  ('resolution_hours_mean', 'A', NULL, 30, 2, 15.000000),
  ('resolution_hours_mean', 'B', NULL, 0, 0, NULL),
  ('resolution_hours_mean', 'C', NULL, 30, 1, 30.000000),
  ('resolution_hours_mean', 'D', NULL, 408, 2, 204.000000),
  ('resolution_hours_mean', '(none)', NULL, 0, 0, NULL),
  ('resolution_hours_mean', NULL, 'East', 30, 2, 15.000000),
  ('resolution_hours_mean', NULL, 'North', 30, 1, 30.000000),
  ('resolution_hours_mean', NULL, 'South', 408, 2, 204.000000),
  ('resolution_hours_mean', NULL, '(none)', 0, 0, NULL),
  ('sla_compliance', NULL, NULL, 2, 4, 0.500000),
  ('sla_compliance', 'A', NULL, 1, 2, 0.500000),
  ('sla_compliance', 'B', NULL, 1, 1, 1.000000),
  ('sla_compliance', 'C', NULL, 0, 0, NULL),
  ('sla_compliance', 'D', NULL, 0, 1, 0.000000),
  ('sla_compliance', '(none)', NULL, 0, 0, NULL),
  ('sla_compliance', NULL, 'East', 1, 2, 0.500000),
  ('sla_compliance', NULL, 'North', 1, 1, 1.000000),
  ('sla_compliance', NULL, 'South', 0, 1, 0.000000),
  ('sla_compliance', NULL, '(none)', 0, 0, NULL),
  ('conversion_rate', NULL, NULL, 2, 4, 0.500000),
  ('conversion_rate', 'A', NULL, 1, 2, 0.500000),
  ('conversion_rate', 'B', NULL, 1, 1, 1.000000),
  ('conversion_rate', 'C', NULL, 0, 0, NULL),
  ('conversion_rate', 'D', NULL, 0, 0, NULL),
  ('conversion_rate', '(none)', NULL, 0, 1, 0.000000),
  ('conversion_rate', NULL, 'East', 1, 2, 0.500000),
  ('conversion_rate', NULL, 'North', 1, 1, 1.000000),
  ('conversion_rate', NULL, 'South', 0, 0, NULL),
  ('conversion_rate', NULL, '(none)', 0, 1, 0.000000),
  ('sales_cycle_days', NULL, NULL, 141, 2, 70.500000),
  ('sales_cycle_days', 'A', NULL, 61, 1, 61.000000),
  ('sales_cycle_days', 'B', NULL, 80, 1, 80.000000),
  ('sales_cycle_days', 'C', NULL, 0, 0, NULL),
  ('sales_cycle_days', 'D', NULL, 0, 0, NULL),
  ('sales_cycle_days', '(none)', NULL, 0, 0, NULL),
  ('sales_cycle_days', NULL, 'East', 61, 1, 61.000000),
  ('sales_cycle_days', NULL, 'North', 80, 1, 80.000000),
  ('sales_cycle_days', NULL, 'South', 0, 0, NULL),
  ('sales_cycle_days', NULL, '(none)', 0, 0, NULL),
  ('renewal_rate', NULL, NULL, 3, 4, 0.750000),
  ('renewal_rate', 'A', NULL, 2, 2, 1.000000),
  ('renewal_rate', 'B', NULL, 0, 1, 0.000000),
  ('renewal_rate', 'C', NULL, 0, 0, NULL),
  ('renewal_rate', 'D', NULL, 1, 1, 1.000000),
  ('renewal_rate', '(none)', NULL, 0, 0, NULL),
  ('renewal_rate', NULL, 'East', 2, 2, 1.000000),
  ('renewal_rate', NULL, 'North', 0, 1, 0.000000),
  ('renewal_rate', NULL, 'South', 1, 1, 1.000000),
  ('renewal_rate', NULL, '(none)', 0, 0, NULL),
  ('repeat_purchase_rate', NULL, NULL, 2, 5, 0.400000),
  ('repeat_purchase_rate', 'A', NULL, 1, 2, 0.500000),
  ('repeat_purchase_rate', 'B', NULL, 0, 1, 0.000000),
  ('repeat_purchase_rate', 'C', NULL, 1, 1, 1.000000),
  ('repeat_purchase_rate', 'D', NULL, 0, 1, 0.000000),
  ('repeat_purchase_rate', '(none)', NULL, 0, 0, NULL),
  ('repeat_purchase_rate', NULL, 'East', 1, 2, 0.500000),
  ('repeat_purchase_rate', NULL, 'North', 1, 2, 0.500000),
  ('repeat_purchase_rate', NULL, 'South', 0, 1, 0.000000),
  ('repeat_purchase_rate', NULL, '(none)', 0, 0, NULL),
  ('clv_mean', NULL, NULL, 1600, 4, 400.000000),
  ('clv_mean', 'A', NULL, 600, 2, 300.000000),
  ('clv_mean', 'B', NULL, 900, 1, 900.000000),
  ('clv_mean', 'C', NULL, 0, 0, NULL),
  ('clv_mean', 'D', NULL, 100, 1, 100.000000),
  ('clv_mean', '(none)', NULL, 0, 0, NULL),
  ('clv_mean', NULL, 'East', 600, 2, 300.000000),
  ('clv_mean', NULL, 'North', 900, 1, 900.000000),
  ('clv_mean', NULL, 'South', 100, 1, 100.000000),
  ('clv_mean', NULL, '(none)', 0, 0, NULL),
  ('collection_rate', NULL, NULL, 1700, 3000, 0.566667),
  ('collection_rate', 'A', NULL, 1700, 2300, 0.739130),
  ('collection_rate', 'B', NULL, 0, 500, 0.000000),
  ('collection_rate', 'C', NULL, 0, 0, NULL),
  ('collection_rate', 'D', NULL, 0, 200, 0.000000),
  ('collection_rate', '(none)', NULL, 0, 0, NULL),
  ('collection_rate', NULL, 'East', 1700, 2300, 0.739130),
  ('collection_rate', NULL, 'North', 0, 500, 0.000000),
  ('collection_rate', NULL, 'South', 0, 200, 0.000000),
  ('collection_rate', NULL, '(none)', 0, 0, NULL),
  ('a_tier_share', NULL, NULL, 2, 5, 0.400000),
  ('a_tier_share', 'A', NULL, 2, 2, 1.000000),
  ('a_tier_share', 'B', NULL, 0, 1, 0.000000),
  ('a_tier_share', 'C', NULL, 0, 1, 0.000000),
  ('a_tier_share', 'D', NULL, 0, 1, 0.000000),
  ('a_tier_share', '(none)', NULL, 0, 0, NULL),
  ('a_tier_share', NULL, 'East', 2, 2, 1.000000),
  ('a_tier_share', NULL, 'North', 0, 2, 0.000000),
  ('a_tier_share', NULL, 'South', 0, 1, 0.000000),
  ('a_tier_share', NULL, '(none)', 0, 0, NULL),
  ('a_tier_margin_share', NULL, NULL, 500, 1100, 0.454545),
  ('a_tier_margin_share', 'A', NULL, 500, 500, 1.000000),
  ('a_tier_margin_share', 'B', NULL, 0, 500, 0.000000),
  ('a_tier_margin_share', 'C', NULL, 0, 0, NULL),
  ('a_tier_margin_share', 'D', NULL, 0, 100, 0.000000),
  ('a_tier_margin_share', '(none)', NULL, 0, 0, NULL),
  ('a_tier_margin_share', NULL, 'East', 500, 500, 1.000000),
  ('a_tier_margin_share', NULL, 'North', 0, 500, 0.000000),
  ('a_tier_margin_share', NULL, 'South', 0, 100, 0.000000),
  ('a_tier_margin_share', NULL, '(none)', 0, 0, NULL),
  ('service_coverage', NULL, NULL, 2, 4, 0.500000),
  ('service_coverage', 'A', NULL, 1, 2, 0.500000),
  ('service_coverage', 'B', NULL, 0, 1, 0.000000),
  ('service_coverage', 'C', NULL, 0, 0, NULL),
  ('service_coverage', 'D', NULL, 1, 1, 1.000000),
  ('service_coverage', '(none)', NULL, 0, 0, NULL),
  ('service_coverage', NULL, 'East', 1, 2, 0.500000),
  ('service_coverage', NULL, 'North', 0, 1, 0.000000),
  ('service_coverage', NULL, 'South', 1, 1, 1.000000),
  ('service_coverage', NULL, '(none)', 0, 0, NULL),
  ('recall_closure_rate', NULL, NULL, 4, 5, 0.800000),
  ('recall_closure_rate', 'A', NULL, 1, 1, 1.000000),
  ('recall_closure_rate', 'B', NULL, 3, 3, 1.000000),
  ('recall_closure_rate', 'C', NULL, 0, 0, NULL),
  ('recall_closure_rate', 'D', NULL, 0, 1, 0.000000),
  ('recall_closure_rate', '(none)', NULL, 0, 0, NULL),
  ('recall_closure_rate', NULL, 'East', 1, 1, 1.000000),
  ('recall_closure_rate', NULL, 'North', 3, 3, 1.000000),
  ('recall_closure_rate', NULL, 'South', 0, 1, 0.000000),
  ('recall_closure_rate', NULL, '(none)', 0, 0, NULL),
  ('recall_processing_hours_mean', NULL, NULL, 108, 1, 108.000000),
  ('recall_processing_hours_mean', 'A', NULL, 216, 1, 216.000000),
  ('recall_processing_hours_mean', 'B', NULL, 564, 2, 282.000000),
  ('recall_processing_hours_mean', 'C', NULL, 0, 0, NULL),
  ('recall_processing_hours_mean', 'D', NULL, 0, 0, NULL),
  ('recall_processing_hours_mean', '(none)', NULL, 0, 0, NULL),
  ('recall_processing_hours_mean', NULL, 'East', 216, 1, 216.000000),
  ('recall_processing_hours_mean', NULL, 'North', 564, 2, 282.000000),
  ('recall_processing_hours_mean', NULL, 'South', 0, 0, NULL),
  ('recall_processing_hours_mean', NULL, '(none)', 0, 0, NULL),
  ('task_timeliness', NULL, NULL, 3, 6, 0.500000),
  ('task_timeliness', 'A', NULL, 2, 3, 0.666667),
  ('task_timeliness', 'B', NULL, 0, 2, 0.000000),
  ('task_timeliness', 'C', NULL, 0, 0, NULL),
  ('task_timeliness', 'D', NULL, 0, 0, NULL),
  ('task_timeliness', '(none)', NULL, 1, 1, 1.000000),
  ('task_timeliness', NULL, 'East', 2, 3, 0.666667),
  ('task_timeliness', NULL, 'North', 0, 2, 0.000000),
  ('task_timeliness', NULL, 'South', 0, 0, NULL),
  ('task_timeliness', NULL, '(none)', 1, 1, 1.000000),
  ('data_error_rate', NULL, NULL, 1, 6, 0.166667),
  ('data_error_rate', 'A', NULL, 0, 2, 0.000000),
  ('data_error_rate', 'B', NULL, 1, 1, 1.000000),
  ('data_error_rate', 'C', NULL, 0, 1, 0.000000),
  ('data_error_rate', 'D', NULL, 0, 1, 0.000000),
  ('data_error_rate', '(none)', NULL, 0, 1, 0.000000),
  ('data_error_rate', NULL, 'East', 0, 2, 0.000000),
  ('data_error_rate', NULL, 'North', 1, 2, 0.500000),
  ('data_error_rate', NULL, 'South', 0, 1, 0.000000),
  ('data_error_rate', NULL, '(none)', 0, 1, 0.000000),
  ('a_visit_coverage', NULL, NULL, 1, 2, 0.500000),
  ('a_visit_coverage', 'A', NULL, 1, 2, 0.500000),
  ('a_visit_coverage', 'B', NULL, 0, 0, NULL),
  ('a_visit_coverage', 'C', NULL, 0, 0, NULL),
  ('a_visit_coverage', 'D', NULL, 0, 0, NULL),
  ('a_visit_coverage', '(none)', NULL, 0, 0, NULL),
  ('a_visit_coverage', NULL, 'East', 1, 2, 0.500000),
  ('a_visit_coverage', NULL, 'North', 0, 0, NULL),
  ('a_visit_coverage', NULL, 'South', 0, 0, NULL),
  ('a_visit_coverage', NULL, '(none)', 0, 0, NULL)
;

CREATE TEMP TABLE actual ON COMMIT DROP AS
SELECT kpi, tier, region, numerator, denominator, round(value, 6) AS value
  FROM medcrm.kpi_summary('2026-01-01', '2026-04-01');

SELECT is((SELECT count(*) FROM actual), 200::bigint,
          'kpi_summary: 20 KPIs x (overall, 5 tiers, 4 regions) = 200 rows');
SELECT set_eq('SELECT DISTINCT kpi FROM actual',
              'SELECT unnest(medcrm.kpi_keys())',
              'kpi_summary returns every KPI key');
SELECT ok(ARRAY['touch_rate', 'first_response_hours_median', 'first_response_hours_mean',
                'resolution_hours_median', 'resolution_hours_mean', 'sla_compliance',
                'conversion_rate', 'sales_cycle_days', 'renewal_rate', 'repeat_purchase_rate',
                'clv_mean', 'collection_rate', 'a_tier_share', 'a_tier_margin_share',
                'service_coverage', 'recall_closure_rate', 'task_timeliness', 'data_error_rate',
                'a_visit_coverage'] <@ medcrm.kpi_keys(),
          'every KPI key of CONTRACT.md is there');

-- One assertion per KPI: all 10 groups, numerator, denominator and value.
SELECT set_eq(format('SELECT * FROM actual WHERE kpi = %L', k),
              format('SELECT * FROM expected WHERE kpi = %L', k),
              format('%s: hand-computed numerator, denominator and value in every group', k))
  FROM unnest(medcrm.kpi_keys()) WITH ORDINALITY AS x(k, o)
 ORDER BY o;

-- Values are exactly numerator / denominator (no rounding inside).
SELECT is((SELECT value FROM medcrm.kpi_summary('2026-01-01', '2026-04-01')
            WHERE kpi = 'collection_rate' AND tier IS NULL AND region IS NULL),
          1700 / 3000::numeric, 'collection_rate value is numerator / denominator, unrounded');

-- Timestamps are compared at midnight in the session TimeZone: in UTC the
-- edge visits move (70001's call leaves the period, 70002's and 70007's enter).
SET LOCAL TimeZone = 'UTC';
SELECT results_eq(
    $$SELECT numerator, denominator FROM medcrm.kpi_summary('2026-01-01', '2026-04-01')
       WHERE kpi = 'touch_rate' AND tier IS NULL AND region IS NULL$$,
    $$VALUES (4::numeric, 4::numeric)$$,
    'touch_rate follows the session TimeZone (UTC: 4 of 4 active accounts touched)');
SET LOCAL TimeZone = 'Asia/Shanghai';

-- kpi_series over several periods gives exactly what kpi_summary gives per
-- period: monthly (trailing windows overlap) and long periods (longer than
-- the 12-month window).
SELECT set_eq(
    $$SELECT period_from, kpi, tier, region, numerator, denominator, value
        FROM medcrm.kpi_series(ARRAY['2026-01-01', '2026-02-01', '2026-03-01', '2026-04-01']::date[])$$,
    $$SELECT m, s.* FROM unnest(ARRAY['2026-01-01', '2026-02-01', '2026-03-01']::date[]) AS m,
             medcrm.kpi_summary(m, (m + interval '1 month')::date) AS s$$,
    'kpi_series by month = kpi_summary of each month');
SELECT set_eq(
    $$SELECT period_from, kpi, tier, region, numerator, denominator, value
        FROM medcrm.kpi_series(ARRAY['2023-01-01', '2025-03-15', '2026-01-01', '2026-01-02', '2027-06-01']::date[])$$,
    $$SELECT b.f, s.* FROM (VALUES ('2023-01-01'::date, '2025-03-15'::date), ('2025-03-15', '2026-01-01'),
                                  ('2026-01-01', '2026-01-02'), ('2026-01-02', '2027-06-01')) AS b(f, t),
             medcrm.kpi_summary(b.f, b.t) AS s$$,
    'kpi_series with uneven periods (1 day to 2 years) = kpi_summary of each period');

-- v_kpi_monthly: the trailing 24 months up to the current one, each the same
-- as kpi_summary of that month.
SELECT results_eq(
    $$SELECT count(DISTINCT month), min(month), max(month) FROM medcrm.v_kpi_monthly$$,
    $$SELECT 24::bigint, (date_trunc('month', current_date) - interval '23 months')::date,
             date_trunc('month', current_date)::date$$,
    'v_kpi_monthly covers the 24 months up to the current one');
SELECT set_eq(
    $$SELECT kpi, tier, region, numerator, denominator, value FROM medcrm.v_kpi_monthly
       WHERE month = date_trunc('month', current_date)::date$$,
    $$SELECT * FROM medcrm.kpi_summary(date_trunc('month', current_date)::date,
                                       (date_trunc('month', current_date) + interval '1 month')::date)$$,
    'v_kpi_monthly of the current month = kpi_summary of that month');

-- Durations only where they count, and sums as sum() makes them: an order
-- reported in the period but resolved never ('infinity') still counts for
-- first response (4 h) and raises no error; an invoice amount of NaN (numeric
-- allows it) makes the collection denominator NaN, its paid 100 counts.
SET LOCAL session_replication_role = replica;
INSERT INTO medcrm.work_order (id, account_id, device_id, kind, priority, reported_at,
                               first_response_at, resolved_at, status)
VALUES (70099, 70001, 70001, 'fault', 2, '2026-02-01 08:00+08', '2026-02-01 12:00+08', 'infinity', 'resolved');
INSERT INTO medcrm.invoice (id, account_id, issued_on, due_on, amount, paid_on, paid_amount)
VALUES (70099, 70001, '2026-02-01', '2026-03-01', 'NaN', '2026-02-10', 100);
SET LOCAL session_replication_role = origin;
SELECT results_eq(
    $$SELECT kpi, numerator, denominator FROM medcrm.kpi_summary('2026-01-01', '2026-04-01')
       WHERE tier IS NULL AND region IS NULL
         AND kpi IN ('first_response_hours_mean', 'first_response_hours_median', 'collection_rate')
       ORDER BY kpi$$,
    $$SELECT kpi, numerator + CASE kpi WHEN 'first_response_hours_mean' THEN 4 WHEN 'collection_rate' THEN 100 ELSE 0 END,
             denominator + CASE kpi WHEN 'collection_rate' THEN 'NaN'::numeric ELSE 1 END
        FROM expected
       WHERE tier IS NULL AND region IS NULL
         AND kpi IN ('first_response_hours_mean', 'first_response_hours_median', 'collection_rate')
       ORDER BY kpi$$,
    'an infinite resolved_at outside the period and a NaN amount: counted as the definitions say, no error');

-- Refusals.
SELECT throws_ok($$SELECT * FROM medcrm.kpi_summary('2026-04-01', '2026-01-01')$$,
                 '22023', 'kpi period is empty', 'from_date after to_date is refused');
SELECT throws_ok($$SELECT * FROM medcrm.kpi_summary('2026-04-01', '2026-04-01')$$,
                 '22023', 'kpi period is empty', 'an empty period is refused');
SELECT throws_ok($$SELECT * FROM medcrm.kpi_summary(NULL, '2026-04-01')$$,
                 '22004', 'kpi period must not be null', 'a NULL date is refused');
SELECT throws_ok($$SELECT * FROM medcrm.kpi_series(ARRAY(SELECT d::date FROM generate_series('2024-01-01'::date, '2026-09-01', '1 month') AS d))$$,
                 '54000', 'too many kpi periods', 'more than 31 periods are refused');
SELECT throws_ok($$SELECT * FROM medcrm.kpi_series(ARRAY['2026-02-01', '2026-01-01']::date[])$$,
                 '22023', 'kpi period bounds must increase', 'decreasing bounds are refused');
SELECT throws_ok($$SELECT * FROM medcrm.kpi_series(ARRAY['2026-02-01']::date[])$$,
                 '22023', 'kpi periods need at least two bounds', 'a single bound is refused');

SELECT * FROM finish();
ROLLBACK;
