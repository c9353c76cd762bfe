-- 610_kpi_views.sql — the BI views: who may read them (medcrm_bi reads every
-- view and calls kpi_summary without any base-table access; the RLS-limited
-- roles cannot), no personal data, a comment on every view and column, and
-- the content of each view on the KPI fixture plus rows dated relative to
-- today (the views answer "as of today").
BEGIN;
SELECT plan(32);

SET LOCAL TimeZone = 'Asia/Shanghai';
SET LOCAL session_replication_role = replica;
\ir ../fixtures/kpi_fixture.sql

-- Rows relative to today for the risk, value, task and expiry views.
-- 70011: every risk reason; 70012: one SLA miss only (not high-risk);
-- 70013..70022: margins for the top decile.
INSERT INTO medcrm.account (id, kind, name, region, lifecycle_stage, tier)
SELECT 70010 + g, 'clinic', 'KPI view account ' || g, 'West', 'active', CASE WHEN g = 1 THEN 'B' ELSE 'C' END
  FROM generate_series(1, 12) AS g;
INSERT INTO medcrm.contract (id, account_id, contract_no, kind, starts_on, ends_on, value, status) VALUES
    (70101, 70011, 'KPI-V-1', 'service', current_date - 300, current_date + 30, 1000, 'active'),
    (70102, 70012, 'KPI-V-2', 'service', current_date - 300, current_date + 30, 1000, 'active'),
    (70103, 70012, 'KPI-V-2b', 'service', current_date + 31, current_date + 400, 1000, 'draft');
UPDATE medcrm.contract SET renewed_from = 70102 WHERE id = 70103;
INSERT INTO medcrm.invoice (id, account_id, issued_on, due_on, amount, paid_on, paid_amount) VALUES
    (70101, 70011, current_date - 120, current_date - 61, 1000, current_date - 100, 200),
    (70102, 70012, current_date - 120, current_date - 60, 1000, NULL, 0);
INSERT INTO medcrm.work_order (id, account_id, kind, priority, reported_at, response_due_at,
                               resolve_due_at, first_response_at, resolved_at, status) VALUES
    (70101, 70011, 'fault', 2, now() - interval '10 days', now() - interval '10 days' + interval '4 hours',
     now() - interval '9 days', now() - interval '10 days' + interval '6 hours', now() - interval '9 days', 'resolved'),
    (70102, 70011, 'fault', 2, now() - interval '20 days', now() - interval '20 days' + interval '4 hours',
     now() - interval '19 days', NULL, NULL, 'open'),
    (70103, 70012, 'fault', 2, now() - interval '20 days', now() - interval '20 days' + interval '4 hours',
     now() - interval '19 days', NULL, NULL, 'open');
INSERT INTO medcrm.task (id, account_id, kind, title, due_at, status, source_table, source_id, dedupe_key) VALUES
    (70101, 70011, 'recall_action', 'KPI V class I', now() - interval '1 day', 'open', 'recall', 70001, 'kpi:v:1'),
    (70102, 70012, 'follow_up', 'KPI V future', now() + interval '5 days', 'open', NULL, NULL, 'kpi:v:2');
INSERT INTO medcrm.tier_history (account_id, changed_at, old_tier, new_tier, reason) VALUES
    (70011, now() - interval '10 days', 'A', 'B', 'rescore'),
    (70012, now() - interval '10 days', 'C', 'B', 'rescore');
INSERT INTO medcrm.sales_order (account_id, ordered_on, amount, gross_margin)
SELECT 70010 + g, current_date - 5, 100000, 10000 * g FROM generate_series(1, 12) AS g;
INSERT INTO medcrm.certificate (id, kind, number, account_id, valid_from, valid_to) VALUES
    (70101, 'distributor_license', 'KPI-LIC-1', 70004, current_date - 700, current_date + 10),
    (70102, 'distributor_authorization', 'KPI-AUTH-1', 70004, current_date - 700, current_date - 1),
    (70103, 'distributor_license', 'KPI-LIC-3', 70006, current_date - 700, current_date + 10);
INSERT INTO medcrm.product (id, model_code, name, category, registration_no, registration_expires)
VALUES (70002, 'KPI-REG-2', 'KPI registered pump', 'other', 'NMPA-KPI-2', current_date + 60);
SET LOCAL session_replication_role = origin;

CREATE TEMP TABLE bi_view (name text) ON COMMIT DROP;
INSERT INTO bi_view VALUES ('v_kpi_definition'), ('v_kpi_monthly'), ('v_account_360'),
    ('v_tier_distribution'), ('v_high_value_accounts'), ('v_high_risk_accounts'),
    ('v_open_tasks'), ('v_recall_progress'), ('v_certificate_expiry');
GRANT SELECT ON bi_view TO PUBLIC;

-- Catalogue properties.
SELECT is((SELECT count(*) FROM bi_view b
            WHERE NOT EXISTS (SELECT FROM pg_class c
                               WHERE c.relnamespace = 'medcrm'::regnamespace AND c.relname = b.name
                                 AND c.relkind = 'v'
                                 AND 'security_barrier=true' = ANY (c.reloptions)
                                 AND 'security_invoker=false' = ANY (c.reloptions))),
          0::bigint, 'every BI view is a security_barrier view with owner rights');
SELECT is((SELECT count(*) FROM bi_view b
            WHERE obj_description(('medcrm.' || b.name)::regclass, 'pg_class') IS NULL),
          0::bigint, 'every BI view has a comment');
SELECT is((SELECT string_agg(b.name || '.' || a.attname, ', ')
             FROM bi_view b JOIN pg_attribute a ON a.attrelid = ('medcrm.' || b.name)::regclass
            WHERE a.attnum > 0 AND NOT a.attisdropped
              AND col_description(a.attrelid, a.attnum) IS NULL),
          NULL, 'every column of every BI view has a comment');
SELECT is((SELECT string_agg(b.name || '.' || a.attname, ', ')
             FROM bi_view b JOIN pg_attribute a ON a.attrelid = ('medcrm.' || b.name)::regclass
            WHERE a.attnum > 0 AND a.attname ~ '(phone|email|mail|national_id|id_number)'),
          NULL, 'no BI view has a personal-data column');
SELECT is((SELECT string_agg(b.name || ':' || r, ', ' ORDER BY b.name, r)
             FROM bi_view b
             CROSS JOIN unnest(ARRAY['medcrm_sales', 'medcrm_service', 'medcrm_quality']) AS r
            WHERE has_table_privilege(r, 'medcrm.' || b.name, 'SELECT')),
          NULL, 'the RLS-limited roles (sales, service, quality) have no grant on the BI views');
SELECT ok(NOT has_function_privilege('public', 'medcrm.kpi_summary(date, date)', 'EXECUTE')
          AND (SELECT prosecdef AND proconfig @> ARRAY['search_path=pg_catalog, pg_temp']
                 FROM pg_proc WHERE oid = 'medcrm.kpi_summary(date, date)'::regprocedure),
          'kpi_summary: SECURITY DEFINER, safe search_path, not executable by PUBLIC');

-- medcrm_bi through a login-like member role.
CREATE ROLE regress_kpi_bi IN ROLE medcrm_bi;
CREATE ROLE regress_kpi_sales IN ROLE medcrm_sales;
CREATE TEMP TABLE base_table ON COMMIT DROP AS
SELECT c.relname AS name FROM pg_class c
 WHERE c.relnamespace = 'medcrm'::regnamespace AND c.relkind IN ('r', 'p');
GRANT SELECT ON base_table TO PUBLIC;
-- what the database owner sees, for comparison: BI sees every row (no territory)
CREATE FUNCTION pg_temp.rows_of(v text) RETURNS bigint LANGUAGE plpgsql AS
  $$DECLARE n bigint; BEGIN EXECUTE format('SELECT count(*) FROM medcrm.%I', v) INTO n; RETURN n; END$$;
CREATE TEMP TABLE owner_rows ON COMMIT DROP AS SELECT name, pg_temp.rows_of(name) AS n FROM bi_view;
CREATE TEMP TABLE owner_kpi ON COMMIT DROP AS SELECT * FROM medcrm.kpi_summary('2026-01-01', '2026-04-01');
GRANT SELECT ON owner_rows, owner_kpi TO PUBLIC;
SET LOCAL ROLE regress_kpi_bi;
SELECT is(pg_temp.rows_of(name), n, 'medcrm_bi reads all ' || n || ' rows of ' || name)
  FROM owner_rows ORDER BY name;
SELECT set_eq($$SELECT * FROM medcrm.kpi_summary('2026-01-01', '2026-04-01')$$,
              'SELECT * FROM owner_kpi', 'medcrm_bi gets the same kpi_summary as the owner');
SELECT is((SELECT count(*) FROM base_table
            WHERE has_table_privilege('medcrm.' || name, 'SELECT')),
          0::bigint, 'medcrm_bi cannot select any base table');
SELECT throws_ok('SELECT * FROM medcrm.account', '42501', NULL, 'medcrm_bi: base table account is refused');
SELECT throws_ok('SELECT phone FROM medcrm.contact', '42501', NULL, 'medcrm_bi: contact is refused');
RESET ROLE;
SET LOCAL ROLE regress_kpi_sales;
SELECT throws_ok('SELECT * FROM medcrm.v_account_360', '42501', NULL, 'medcrm_sales cannot read v_account_360');
SELECT throws_ok($$SELECT * FROM medcrm.kpi_summary('2026-01-01', '2026-04-01')$$, '42501', NULL,
                 'medcrm_sales cannot call kpi_summary');
RESET ROLE;

-- v_kpi_definition: one row per KPI key, in report order.
SELECT results_eq('SELECT kpi FROM medcrm.v_kpi_definition ORDER BY sort_order',
                  'SELECT unnest(medcrm.kpi_keys())', 'v_kpi_definition lists every KPI key in order');

-- v_account_360: one row per account that is not merged.
SELECT is((SELECT count(*) FROM medcrm.v_account_360 WHERE account_id BETWEEN 70001 AND 70022),
          18::bigint, 'v_account_360: one row per account, merged duplicate left out');
SELECT results_eq(
    $$SELECT effective_tier, active_devices, installed_devices, lifetime_margin, open_work_orders, open_tasks
        FROM medcrm.v_account_360 WHERE account_id IN (70001, 70002) ORDER BY account_id$$,
    $$VALUES ('A', 2::bigint, 2::bigint, 300::numeric, 0::bigint, 2::bigint),
             ('A', 0, 0, 350, 0, 0)$$,
    'v_account_360: effective tier, devices, lifetime margin, open work');

-- v_tier_distribution.
SELECT results_eq(
    $$SELECT tier, region, kind, accounts, active_accounts, overridden_accounts
        FROM medcrm.v_tier_distribution WHERE region IN ('East', 'North', 'South', '(none)')
       ORDER BY tier, region, kind$$,
    $$VALUES ('(none)', '(none)', 'agent', 1::bigint, 0::bigint, 0::bigint),
             ('A', 'East', 'hospital', 2, 2, 1),
             ('B', 'North', 'clinic', 1, 1, 0),
             ('C', 'North', 'distributor', 1, 0, 0),
             ('D', 'South', 'hospital', 1, 1, 0)$$,
    'v_tier_distribution: accounts per effective tier, region and kind');
SELECT is((SELECT round(sum(account_share), 12) FROM medcrm.v_tier_distribution), 1::numeric,
          'v_tier_distribution: account shares add up to 1');

-- v_high_value_accounts: A accounts and the top decile of the 18 accounts
-- by trailing-12-month margin (only 70022 with 120,000: 1/18 <= 10 %;
-- 70021 with 110,000 would make 2/18 > 10 %).
SELECT results_eq(
    $$SELECT account_id, reasons FROM medcrm.v_high_value_accounts
       WHERE account_id BETWEEN 70001 AND 70022 ORDER BY account_id$$,
    $$VALUES (70001::bigint, '{tier_a}'::text[]), (70002, '{tier_a}'), (70022, '{top_decile_margin_12m}')$$,
    'v_high_value_accounts: tier A or top-decile margin, with the reason');

-- v_high_risk_accounts: every reason for 70011; 70012 has a successor draft,
-- an invoice exactly 60 days late, one SLA miss and a tier rise: not at risk.
SELECT results_eq(
    $$SELECT account_id, reasons, contracts_due_unrenewed, invoices_over_60_days_late,
             amount_over_60_days_late, sla_misses_90_days, open_class_i_recall_actions,
             tier_dropped_at IS NOT NULL
        FROM medcrm.v_high_risk_accounts WHERE account_id IN (70011, 70012)$$,
    $$VALUES (70011::bigint, '{renewal_due_no_activity,payment_over_60_days_late,sla_missed_twice_in_90_days,open_class_i_recall_action,tier_dropped_last_quarter}'::text[],
              1::bigint, 1::bigint, 800::numeric, 2::bigint, 1::bigint, true)$$,
    'v_high_risk_accounts: every DOMAIN.md reason named, one row per account');
SELECT results_eq(
    $$SELECT reasons FROM medcrm.v_high_risk_accounts WHERE account_id = 70007$$,
    $$VALUES ('{payment_over_60_days_late,open_class_i_recall_action}'::text[])$$,
    'v_high_risk_accounts: unpaid invoice and open class I recall action of the KPI fixture');

-- v_open_tasks.
SELECT results_eq(
    $$SELECT task_id, overdue, days_overdue, account_name, region, effective_tier
        FROM medcrm.v_open_tasks WHERE task_id IN (70101, 70102, 70016) ORDER BY task_id$$,
    $$VALUES (70101::bigint, true, 1, 'KPI view account 1', 'West', 'B'),
             (70102, false, NULL, 'KPI view account 2', 'West', 'C')$$,
    'v_open_tasks: open tasks with overdue state and account');

-- v_recall_progress (the merged account's device and action left out).
SELECT results_eq(
    $$SELECT recall_id, affected_devices, actions, actions_done, actions_open, actions_overdue,
             round(closure_rate, 6), processing_hours
        FROM medcrm.v_recall_progress WHERE recall_id BETWEEN 70001 AND 70003 ORDER BY recall_id$$,
    $$VALUES (70001::bigint, 5::bigint, 4::bigint, 2::bigint, 2::bigint, 1::bigint, 0.5::numeric, NULL::numeric),
             (70002, 2, 1, 0, 1, 0, 0, NULL),
             (70003, 2, 2, 2, 0, 0, 1, 108)$$,
    'v_recall_progress: devices, actions, closure rate, processing hours');

-- v_certificate_expiry (the certificate of the merged account left out).
SELECT results_eq(
    $$SELECT source, number, days_to_expiry, expiry_status FROM medcrm.v_certificate_expiry
       WHERE number LIKE '%KPI%' ORDER BY number$$,
    $$VALUES ('certificate', 'KPI-AUTH-1', -1, 'expired'),
             ('certificate', 'KPI-LIC-1', 10, 'expires_within_30_days'),
             ('product', 'NMPA-KPI-2', 60, 'expires_within_90_days')$$,
    'v_certificate_expiry: days to expiry and status, product registrations included');

SELECT * FROM finish();
ROLLBACK;
