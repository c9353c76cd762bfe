-- 630_kpi_by_kind.sql — every KPI by account kind: medcrm.kpi_summary_by_kind(),
-- medcrm.kpi_series_by_kind() and medcrm.v_kpi_monthly_by_kind.
--   * on generated demo data (scale 1): for every period of 24 months and of
--     31 weeks, the kinds of every additive KPI add up to the overall row of
--     kpi_series() (numerator and denominator), the medians of each kind are
--     percentile_cont(0.5) computed here in SQL, and the engine gives the
--     same rows with and without its parallel workers;
--   * on the hand-built fixture test/fixtures/kpi_fixture.sql (Q1 2026,
--     TimeZone Asia/Shanghai, as 600_kpi_summary.sql): every KPI of every
--     kind with numerator, denominator and value worked out by hand;
--   * refusals (same SQLSTATEs as kpi_summary), grants and catalogue.
-- The demo data is committed by demo/generate.sql, so this file works in a
-- database of its own, created here and dropped at the end.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP DATABASE IF EXISTS medcrm_tap_kind;
CREATE DATABASE medcrm_tap_kind;
\c medcrm_tap_kind
SET client_min_messages = warning;
CREATE EXTENSION pgtap;
CREATE EXTENSION medcrm CASCADE;
\set scale 1
\set seed 42
\ir ../../demo/generate.sql
\set QUIET on
ANALYZE;

BEGIN;
SELECT plan(50);
SET LOCAL TimeZone = 'Asia/Shanghai';

-- ---- generated data ----------------------------------------------------------

-- The KPIs whose numerator and denominator are sums over rows (all but the
-- recall processing time, which is a mean over the recalls whose actions of
-- the group are all done); medians: the denominators (row counts) add up.
-- Hours numerators are seconds / 3600, each rounded to numeric's division
-- scale, so their sums may differ from the overall one in the last place.
CREATE TEMP TABLE additive ON COMMIT DROP AS
SELECT k AS kpi, k NOT LIKE '%median' AS has_numerator,
       k IN ('first_response_hours_mean', 'resolution_hours_mean') AS hours
  FROM unnest(medcrm.kpi_keys()) AS k
 WHERE k <> 'recall_processing_hours_mean';

CREATE TEMP TABLE months (b date[]) ON COMMIT DROP;
INSERT INTO months SELECT ARRAY(
    SELECT (date_trunc('month', current_date) - make_interval(months => 23 - g))::date
      FROM generate_series(0, 24) AS g ORDER BY g);
INSERT INTO months SELECT ARRAY(
    SELECT (date_trunc('week', current_date)::date - 7 * (30 - g))
      FROM generate_series(0, 31) AS g ORDER BY g);

-- The demo's devices (and so its work orders) are all at hospitals: make a
-- third of the hospitals other kinds, so that every kind has work orders and
-- the medians below compare several non-empty kinds.
SET LOCAL session_replication_role = replica;
UPDATE medcrm.account
   SET kind = (ARRAY['clinic', 'group', 'distributor', 'agent'])[1 + (id / 3) % 4], hospital_grade = NULL
 WHERE kind = 'hospital' AND id % 3 = 0;
SET LOCAL session_replication_role = origin;

CREATE TEMP TABLE gen_overall ON COMMIT DROP AS
SELECT m.b[1] AS series, s.period_from, s.kpi, s.numerator, s.denominator
  FROM months AS m, medcrm.kpi_series(m.b) AS s
 WHERE s.tier IS NULL AND s.region IS NULL;
CREATE TEMP TABLE gen_kind ON COMMIT DROP AS
SELECT m.b[1] AS series, s.*
  FROM months AS m, medcrm.kpi_series_by_kind(m.b) AS s;

SELECT is((SELECT array_agg(DISTINCT kind ORDER BY kind) FROM gen_kind
            WHERE kpi = 'first_response_hours_median' AND denominator > 0),
          ARRAY['agent', 'clinic', 'distributor', 'group', 'hospital'],
          'generated data: every kind has work orders (the medians compare five non-empty kinds)');
SELECT is((SELECT count(*) FROM gen_overall o JOIN additive a USING (kpi)
            WHERE o.denominator IS DISTINCT FROM
                  (SELECT sum(k.denominator) FROM gen_kind k
                    WHERE (k.series, k.period_from, k.kpi) = (o.series, o.period_from, o.kpi))
               OR (a.has_numerator AND NOT a.hours AND o.numerator IS DISTINCT FROM
                  (SELECT sum(k.numerator) FROM gen_kind k
                    WHERE (k.series, k.period_from, k.kpi) = (o.series, o.period_from, o.kpi)))
               OR (a.hours AND abs(o.numerator -
                  (SELECT sum(k.numerator) FROM gen_kind k
                    WHERE (k.series, k.period_from, k.kpi) = (o.series, o.period_from, o.kpi))) > 1e-12)),
          0::bigint,
          'generated data, 24 months and 31 weeks: the kinds of every additive KPI sum to its overall numerator and denominator');
SELECT ok((SELECT count(*) FROM gen_overall o JOIN additive a USING (kpi) WHERE o.denominator > 0) > 200,
          'generated data: the sums above compare non-empty rows');

-- Medians per kind, computed here from the work orders (accounts merged
-- into another never count; periods are [month, next month) in local time).
SELECT set_eq(
    $$SELECT period_from, kind, denominator, value FROM gen_kind
       WHERE kpi = 'first_response_hours_median' AND kind <> '(none)' AND series = (SELECT min(b[1]) FROM months)$$,
    $$SELECT m.f, k.kind, count(w.id)::numeric,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM w.first_response_at - w.reported_at)::float8)::numeric / 3600
        FROM (SELECT u AS f, lead(u) OVER (ORDER BY u) AS t
                FROM unnest((SELECT b FROM months ORDER BY b[1] LIMIT 1)) AS u) AS m
       CROSS JOIN (SELECT DISTINCT kind FROM medcrm.account) AS k
        LEFT JOIN (medcrm.work_order AS w JOIN medcrm.account AS a
                     ON a.id = w.account_id AND a.merged_into IS NULL)
               ON a.kind = k.kind AND w.first_response_at IS NOT NULL
              AND w.reported_at >= m.f::timestamptz AND w.reported_at < m.t::timestamptz
       WHERE m.t IS NOT NULL
       GROUP BY m.f, k.kind$$,
    'generated data: first_response_hours_median of every kind and month = percentile_cont in SQL');
SELECT set_eq(
    $$SELECT period_from, kind, denominator, value FROM gen_kind
       WHERE kpi = 'resolution_hours_median' AND kind <> '(none)' AND series = (SELECT min(b[1]) FROM months)$$,
    $$SELECT m.f, k.kind, count(w.id)::numeric,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM w.resolved_at - w.reported_at)::float8)::numeric / 3600
        FROM (SELECT u AS f, lead(u) OVER (ORDER BY u) AS t
                FROM unnest((SELECT b FROM months ORDER BY b[1] LIMIT 1)) AS u) AS m
       CROSS JOIN (SELECT DISTINCT kind FROM medcrm.account) AS k
        LEFT JOIN (medcrm.work_order AS w JOIN medcrm.account AS a
                     ON a.id = w.account_id AND a.merged_into IS NULL)
               ON a.kind = k.kind
              AND w.resolved_at >= m.f::timestamptz AND w.resolved_at < m.t::timestamptz
       WHERE m.t IS NOT NULL
       GROUP BY m.f, k.kind$$,
    'generated data: resolution_hours_median of every kind and month = percentile_cont in SQL');

-- The same rows, in the same order, without parallel workers.
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT results_eq(
    $$SELECT row_number() OVER () AS n, s::text
        FROM medcrm.kpi_series_by_kind((SELECT b FROM months ORDER BY b[1] LIMIT 1)) AS s$$,
    $$SELECT row_number() OVER () AS n, s::text
        FROM (SELECT period_from, period_to, kpi, kind, numerator, denominator, value
                FROM gen_kind WHERE series = (SELECT min(b[1]) FROM months)) AS s$$,
    'generated data: kpi_series_by_kind without parallel workers = with them');
RESET max_parallel_workers_per_gather;

-- v_kpi_monthly_by_kind: the 24 months of v_kpi_monthly, adding up to it.
SELECT results_eq(
    $$SELECT count(DISTINCT month), min(month), max(month) FROM medcrm.v_kpi_monthly_by_kind$$,
    $$SELECT 24::bigint, (date_trunc('month', current_date) - interval '23 months')::date,
             date_trunc('month', current_date)::date$$,
    'v_kpi_monthly_by_kind covers the 24 months up to the current one');
SELECT set_eq(
    $$SELECT month, kpi, sum(denominator) FROM medcrm.v_kpi_monthly_by_kind GROUP BY month, kpi$$,
    $$SELECT month, kpi, denominator FROM medcrm.v_kpi_monthly WHERE tier IS NULL AND region IS NULL
        AND kpi <> 'recall_processing_hours_mean'
      UNION ALL
      SELECT month, kpi, sum(denominator) FROM medcrm.v_kpi_monthly_by_kind
       WHERE kpi = 'recall_processing_hours_mean' GROUP BY month, kpi$$,
    'v_kpi_monthly_by_kind: the denominators of the kinds sum to the overall rows of v_kpi_monthly');

-- ---- the hand-built fixture -------------------------------------------------

SET LOCAL session_replication_role = replica;
TRUNCATE medcrm.account, medcrm.product, medcrm.recall, medcrm.task, medcrm.visit,
         medcrm.installed_device, medcrm.work_order, medcrm.opportunity, medcrm.contract,
         medcrm.sales_order, medcrm.invoice CASCADE;
\ir ../fixtures/kpi_fixture.sql
-- The data-quality stand-in of 600_kpi_summary.sql: 70003 has findings
-- (counted once), the merged 70006 never counts.
CREATE OR REPLACE VIEW medcrm.v_data_quality WITH (security_barrier) AS
SELECT * FROM (VALUES
    ('hospital_without_grade', 'warning', 'account', 70003::bigint, 70003::bigint, 'x', 'y'),
    ('contact_phone_without_consent', 'warning', 'contact', 1, 70003, 'x', 'y'),
    ('hospital_without_grade', 'warning', 'account', 70006, 70006, 'x', 'y'),
    ('gtin_check_digit', 'error', 'product', 1, NULL, 'x', 'y'))
  AS f(finding_code, severity, table_name, row_id, account_id, detail, fix_hint);
SET LOCAL session_replication_role = origin;

-- Kinds of the fixture's counted accounts: hospital = 70001 (A, East),
-- 70002 (A by override, East), 70007 (D, South); clinic = 70003 (B, North);
-- distributor = 70004 (C, North, prospect); agent = 70005 (no tier, no
-- region, churned). 70006 (hospital) is merged and never counts. No account
-- is a group, so there is no 'group' row; task TK5 has no account: kind
-- '(none)'. Hours KPIs: numerator = total hours; medians: numerator NULL,
-- denominator = number of work orders.
CREATE TEMP TABLE expected (kpi text, kind text, numerator numeric,
                            denominator numeric, value numeric) ON COMMIT DROP;
INSERT INTO expected VALUES
  -- active accounts with a visit in Q1: 70001 (edge call) and 70002 touched,
  -- 70007's email is 04-01 00:30 local; 70003 touched; 70004 is a prospect
  ('touch_rate', 'hospital', 2, 3, 0.666667),
  ('touch_rate', 'clinic', 1, 1, 1.000000),
  ('touch_rate', 'distributor', 0, 0, NULL),
  ('touch_rate', 'agent', 0, 0, NULL),
  ('touch_rate', '(none)', 0, 0, NULL),
  -- responses: W1 2 h, W2 6 h (hospital); W3 1 h, W4 3 h (clinic); W9 5 h
  ('first_response_hours_median', 'hospital', NULL, 2, 4),
  ('first_response_hours_median', 'clinic', NULL, 2, 2),
  ('first_response_hours_median', 'distributor', NULL, 1, 5),
  ('first_response_hours_median', 'agent', NULL, 0, NULL),
  ('first_response_hours_median', '(none)', NULL, 0, NULL),
  ('first_response_hours_mean', 'hospital', 8, 2, 4.000000),
  ('first_response_hours_mean', 'clinic', 4, 2, 2.000000),
  ('first_response_hours_mean', 'distributor', 5, 1, 5.000000),
  ('first_response_hours_mean', 'agent', 0, 0, NULL),
  ('first_response_hours_mean', '(none)', 0, 0, NULL),
  -- resolved in Q1: hospital W1 10 h, W2 20 h, W6 384 h, preventive W16
  -- 24 h: median (20 + 24) / 2 = 22, mean 438 / 4; distributor W9 30 h
  ('resolution_hours_median', 'hospital', NULL, 4, 22),
  ('resolution_hours_median', 'clinic', NULL, 0, NULL),
  ('resolution_hours_median', 'distributor', NULL, 1, 30),
  ('resolution_hours_median', 'agent', NULL, 0, NULL),
  ('resolution_hours_median', '(none)', NULL, 0, NULL),
  ('resolution_hours_mean', 'hospital', 438, 4, 109.500000),
  ('resolution_hours_mean', 'clinic', 0, 0, NULL),
  ('resolution_hours_mean', 'distributor', 30, 1, 30.000000),
  ('resolution_hours_mean', 'agent', 0, 0, NULL),
  ('resolution_hours_mean', '(none)', 0, 0, NULL),
  -- judged: W1 met, W2 and W5 missed (hospital); W3 met (clinic)
  ('sla_compliance', 'hospital', 1, 3, 0.333333),
  ('sla_compliance', 'clinic', 1, 1, 1.000000),
  ('sla_compliance', 'distributor', 0, 0, NULL),
  ('sla_compliance', 'agent', 0, 0, NULL),
  ('sla_compliance', '(none)', 0, 0, NULL),
  -- closed in Q1: O1 won, O2 lost (hospital); O3 won (clinic); O8 lost (agent)
  ('conversion_rate', 'hospital', 1, 2, 0.500000),
  ('conversion_rate', 'clinic', 1, 1, 1.000000),
  ('conversion_rate', 'distributor', 0, 0, NULL),
  ('conversion_rate', 'agent', 0, 1, 0.000000),
  ('conversion_rate', '(none)', 0, 0, NULL),
  ('sales_cycle_days', 'hospital', 61, 1, 61.000000),
  ('sales_cycle_days', 'clinic', 80, 1, 80.000000),
  ('sales_cycle_days', 'distributor', 0, 0, NULL),
  ('sales_cycle_days', 'agent', 0, 0, NULL),
  ('sales_cycle_days', '(none)', 0, 0, NULL),
  -- ending in Q1: K1, K2, K6 all with a successor (hospital); K3 none (clinic)
  ('renewal_rate', 'hospital', 3, 3, 1.000000),
  ('renewal_rate', 'clinic', 0, 1, 0.000000),
  ('renewal_rate', 'distributor', 0, 0, NULL),
  ('renewal_rate', 'agent', 0, 0, NULL),
  ('renewal_rate', '(none)', 0, 0, NULL),
  -- accounts with an order in the 12 months: 70001 (2 orders), 70002, 70007;
  -- 70003 (1 in the window); 70004 (2)
  ('repeat_purchase_rate', 'hospital', 1, 3, 0.333333),
  ('repeat_purchase_rate', 'clinic', 0, 1, 0.000000),
  ('repeat_purchase_rate', 'distributor', 1, 1, 1.000000),
  ('repeat_purchase_rate', 'agent', 0, 0, NULL),
  ('repeat_purchase_rate', '(none)', 0, 0, NULL),
  -- margins of active accounts: 100 + 200 + 300 + 100 over 3 (hospital);
  -- 400 + 500 over 1 (clinic)
  ('clv_mean', 'hospital', 700, 3, 233.333333),
  ('clv_mean', 'clinic', 900, 1, 900.000000),
  ('clv_mean', 'distributor', 0, 0, NULL),
  ('clv_mean', 'agent', 0, 0, NULL),
  ('clv_mean', '(none)', 0, 0, NULL),
  -- due in Q1, paid by the due date: 1000 + 400 + 300 (capped) of
  -- 1000 + 1000 + 200 + 300 (hospital); 0 of 500 (clinic)
  ('collection_rate', 'hospital', 1700, 2500, 0.680000),
  ('collection_rate', 'clinic', 0, 500, 0.000000),
  ('collection_rate', 'distributor', 0, 0, NULL),
  ('collection_rate', 'agent', 0, 0, NULL),
  ('collection_rate', '(none)', 0, 0, NULL),
  ('a_tier_share', 'hospital', 2, 3, 0.666667),
  ('a_tier_share', 'clinic', 0, 1, 0.000000),
  ('a_tier_share', 'distributor', 0, 1, 0.000000),
  ('a_tier_share', 'agent', 0, 0, NULL),
  ('a_tier_share', '(none)', 0, 0, NULL),
  -- margins of Q1 orders: 200 + 300 of A accounts, 100 of 70007 (hospital)
  ('a_tier_margin_share', 'hospital', 500, 600, 0.833333),
  ('a_tier_margin_share', 'clinic', 0, 500, 0.000000),
  ('a_tier_margin_share', 'distributor', 0, 0, NULL),
  ('a_tier_margin_share', 'agent', 0, 0, NULL),
  ('a_tier_margin_share', '(none)', 0, 0, NULL),
  -- active devices 1 (covered), 2, 5 (covered) (hospital); 3 (clinic)
  ('service_coverage', 'hospital', 2, 3, 0.666667),
  ('service_coverage', 'clinic', 0, 1, 0.000000),
  ('service_coverage', 'distributor', 0, 0, NULL),
  ('service_coverage', 'agent', 0, 0, NULL),
  ('service_coverage', '(none)', 0, 0, NULL),
  -- actions of R1 and R3: 70001 done, 70007 open (hospital); three done (clinic)
  ('recall_closure_rate', 'hospital', 1, 2, 0.500000),
  ('recall_closure_rate', 'clinic', 3, 3, 1.000000),
  ('recall_closure_rate', 'distributor', 0, 0, NULL),
  ('recall_closure_rate', 'agent', 0, 0, NULL),
  ('recall_closure_rate', '(none)', 0, 0, NULL),
  -- R1's hospital actions are not all done (70007 open): no hospital recall;
  -- clinic: R1 done 01-20 (456 h), R3 done 02-05 12:00 (108 h)
  ('recall_processing_hours_mean', 'hospital', 0, 0, NULL),
  ('recall_processing_hours_mean', 'clinic', 564, 2, 282.000000),
  ('recall_processing_hours_mean', 'distributor', 0, 0, NULL),
  ('recall_processing_hours_mean', 'agent', 0, 0, NULL),
  ('recall_processing_hours_mean', '(none)', 0, 0, NULL),
  -- due in Q1: TK1 on time, TK2 late, TK8 on time (hospital); TK3, TK4
  -- (clinic); TK5 without an account, on time
  ('task_timeliness', 'hospital', 2, 3, 0.666667),
  ('task_timeliness', 'clinic', 0, 2, 0.000000),
  ('task_timeliness', 'distributor', 0, 0, NULL),
  ('task_timeliness', 'agent', 0, 0, NULL),
  ('task_timeliness', '(none)', 1, 1, 1.000000),
  ('data_error_rate', 'hospital', 0, 3, 0.000000),
  ('data_error_rate', 'clinic', 1, 1, 1.000000),
  ('data_error_rate', 'distributor', 0, 1, 0.000000),
  ('data_error_rate', 'agent', 0, 1, 0.000000),
  ('data_error_rate', '(none)', 0, 0, NULL),
  -- A accounts 70001 (visit on 03-02, first day of the 30) and 70002 (not)
  ('a_visit_coverage', 'hospital', 1, 2, 0.500000),
  ('a_visit_coverage', 'clinic', 0, 0, NULL),
  ('a_visit_coverage', 'distributor', 0, 0, NULL),
  ('a_visit_coverage', 'agent', 0, 0, NULL),
  ('a_visit_coverage', '(none)', 0, 0, NULL)
;

CREATE TEMP TABLE actual ON COMMIT DROP AS
SELECT kpi, kind, numerator, denominator, round(value, 6) AS value
  FROM medcrm.kpi_summary_by_kind('2026-01-01', '2026-04-01');

SELECT is((SELECT count(*) FROM actual), 100::bigint,
          'kpi_summary_by_kind: 20 KPIs x 5 kinds (hospital, clinic, distributor, agent, (none)) = 100 rows');
SELECT results_eq(
    $$SELECT kind FROM medcrm.kpi_summary_by_kind('2026-01-01', '2026-04-01') WHERE kpi = 'touch_rate'$$,
    $$VALUES ('(none)'), ('agent'), ('clinic'), ('distributor'), ('hospital')$$,
    'one row per kind present, ordered by kind; no row for group (no such account)');

-- One assertion per KPI: every kind, numerator, denominator and value.
SELECT set_eq(format('SELECT * FROM actual WHERE kpi = %L', k),
              format('SELECT * FROM expected WHERE kpi = %L', k),
              format('%s by kind: hand-computed numerator, denominator and value', k))
  FROM unnest(medcrm.kpi_keys()) WITH ORDINALITY AS x(k, o)
 ORDER BY o;

-- The breakdown by kind leaves kpi_summary as it was: by tier and region.
SELECT results_eq(
    $$SELECT count(*), count(*) FILTER (WHERE tier IS NULL AND region IS NULL)
        FROM medcrm.kpi_summary('2026-01-01', '2026-04-01')$$,
    $$VALUES (200::bigint, 20::bigint)$$,
    'kpi_summary keeps its 200 rows (overall, 5 tiers, 4 regions)');

-- kpi_series_by_kind over several periods = kpi_summary_by_kind per period.
SELECT set_eq(
    $$SELECT period_from, kpi, kind, numerator, denominator, value
        FROM medcrm.kpi_series_by_kind(ARRAY['2026-01-01', '2026-02-01', '2026-03-01', '2026-04-01']::date[])$$,
    $$SELECT m, s.* FROM unnest(ARRAY['2026-01-01', '2026-02-01', '2026-03-01']::date[]) AS m,
             medcrm.kpi_summary_by_kind(m, (m + interval '1 month')::date) AS s$$,
    'kpi_series_by_kind by month = kpi_summary_by_kind of each month');

-- ---- refusals ---------------------------------------------------------------

SELECT throws_ok($$SELECT * FROM medcrm.kpi_summary_by_kind('2026-04-01', '2026-01-01')$$,
                 '22023', 'kpi period is empty', 'kpi_summary_by_kind: from_date after to_date is refused');
SELECT throws_ok($$SELECT * FROM medcrm.kpi_summary_by_kind('2026-04-01', '2026-04-01')$$,
                 '22023', 'kpi period is empty', 'kpi_summary_by_kind: an empty period is refused');
SELECT throws_ok($$SELECT * FROM medcrm.kpi_summary_by_kind('2026-01-01', NULL)$$,
                 '22004', 'kpi period must not be null', 'kpi_summary_by_kind: a NULL date is refused');
SELECT throws_ok($$SELECT * FROM medcrm.kpi_series_by_kind(ARRAY(SELECT d::date FROM generate_series('2024-01-01'::date, '2026-09-01', '1 month') AS d))$$,
                 '54000', 'too many kpi periods', 'kpi_series_by_kind: more than 31 periods are refused');
SELECT throws_ok($$SELECT * FROM medcrm.kpi_series_by_kind(ARRAY['2026-02-01', '2026-01-01']::date[])$$,
                 '22023', 'kpi period bounds must increase', 'kpi_series_by_kind: decreasing bounds are refused');
SELECT throws_ok($$SELECT * FROM medcrm.kpi_series_by_kind(ARRAY['2026-01-01', NULL]::date[])$$,
                 '22004', 'kpi period bounds must not be null', 'kpi_series_by_kind: a NULL bound is refused');

-- ---- grants and catalogue ---------------------------------------------------

SELECT ok(NOT has_function_privilege('public', 'medcrm.kpi_summary_by_kind(date, date)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'medcrm.kpi_series_by_kind(date[])', 'EXECUTE')
          AND NOT has_table_privilege('public', 'medcrm.v_kpi_monthly_by_kind', 'SELECT'),
          'PUBLIC can neither call kpi_summary_by_kind / kpi_series_by_kind nor read v_kpi_monthly_by_kind');
SELECT ok(NOT has_function_privilege(r, 'medcrm.kpi_engine_by_kind(date[], timestamptz[], date[], timestamptz[], timestamptz[], timestamptz)', 'EXECUTE'),
          format('%s cannot call medcrm.kpi_engine_by_kind() directly', r))
  FROM unnest(ARRAY['public', 'medcrm_bi', 'medcrm_reporter']) AS r;
SELECT ok(bool_and(has_function_privilege(r, 'medcrm.kpi_summary_by_kind(date, date)', 'EXECUTE')
                   AND has_table_privilege(r, 'medcrm.v_kpi_monthly_by_kind', 'SELECT')),
          'medcrm_bi, medcrm_reporter, medcrm_admin and medcrm_auditor may call kpi_summary_by_kind and read v_kpi_monthly_by_kind')
  FROM unnest(ARRAY['medcrm_bi', 'medcrm_reporter', 'medcrm_admin', 'medcrm_auditor']) AS r;
CREATE ROLE regress_kind_bi IN ROLE medcrm_bi;
CREATE ROLE regress_kind_sales IN ROLE medcrm_sales;
SET LOCAL ROLE regress_kind_bi;
SELECT results_eq(
    $$SELECT numerator, denominator FROM medcrm.kpi_summary_by_kind('2026-01-01', '2026-04-01')
       WHERE kpi = 'collection_rate' AND kind = 'hospital'$$,
    $$VALUES (1700::numeric, 2500::numeric)$$,
    'medcrm_bi calls kpi_summary_by_kind without any base-table privilege');
SELECT lives_ok('SELECT * FROM medcrm.v_kpi_monthly_by_kind', 'medcrm_bi reads v_kpi_monthly_by_kind');
RESET ROLE;
SET LOCAL ROLE regress_kind_sales;
SELECT throws_ok($$SELECT * FROM medcrm.kpi_summary_by_kind('2026-01-01', '2026-04-01')$$, '42501', NULL,
                 'medcrm_sales cannot call kpi_summary_by_kind');
SELECT throws_ok('SELECT * FROM medcrm.v_kpi_monthly_by_kind', '42501', NULL,
                 'medcrm_sales cannot read v_kpi_monthly_by_kind');
RESET ROLE;
SELECT ok(bool_and(p.prosecdef AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp']),
          'kpi_summary_by_kind and kpi_series_by_kind are SECURITY DEFINER with a pinned search_path')
  FROM pg_proc AS p
 WHERE p.oid IN ('medcrm.kpi_summary_by_kind(date, date)'::regprocedure,
                 'medcrm.kpi_series_by_kind(date[])'::regprocedure);
SELECT is((SELECT count(*) FROM pg_attribute AS a
            WHERE a.attrelid = 'medcrm.v_kpi_monthly_by_kind'::regclass AND a.attnum > 0
              AND col_description(a.attrelid, a.attnum) IS NULL)
          + (SELECT count(*) FROM (VALUES ('medcrm.kpi_summary_by_kind(date, date)'::regprocedure),
                                          ('medcrm.kpi_series_by_kind(date[])'),
                                          ('medcrm.kpi_engine_by_kind(date[], timestamptz[], date[], timestamptz[], timestamptz[], timestamptz)'),
                                          ('medcrm.kpi_periods(date[])')) AS f(o)
              WHERE obj_description(f.o, 'pg_proc') IS NULL)
          + (SELECT count(*) WHERE obj_description('medcrm.v_kpi_monthly_by_kind'::regclass, 'pg_class') IS NULL),
          0::bigint, 'the view, its columns and the new functions have comments');
SELECT is((SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
            WHERE attrelid = 'medcrm.v_kpi_monthly_by_kind'::regclass AND attnum > 0),
          ARRAY['month', 'kpi', 'kind', 'numerator', 'denominator', 'value'],
          'v_kpi_monthly_by_kind columns');

SELECT * FROM finish();
ROLLBACK;

\c medcrm_tap
SET client_min_messages = warning;
DROP DATABASE medcrm_tap_kind;
