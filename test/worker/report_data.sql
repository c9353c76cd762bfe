-- test/worker/report_data.sql — a small, deterministic data set for the report
-- worker's tests (and the screenshots in docs/reports.md): 300 accounts with
-- tiers, two years of orders, opportunities, contracts, work orders of six
-- teams, certificates, audit rows and personal-data reveals around the test
-- period October 2026. Some names and reasons are formula-injection strings.
-- Ids start at 700000 to stay clear of the fixture and of identity values.
SELECT FROM pg_catalog.setseed(0.42);

INSERT INTO medcrm.service_team (id, name, region)
SELECT 700000 + i, r || ' service team', r
  FROM unnest(ARRAY['East', 'North', 'South', 'West', 'Central', 'Northeast']) WITH ORDINALITY AS t(r, i);

INSERT INTO medcrm.account (id, kind, name, region, province, city, hospital_grade,
                            procurement_mode, service_level, lifecycle_stage, tier, tier_score)
SELECT 700000 + g,
       CASE WHEN g % 10 = 0 THEN 'distributor' WHEN g % 7 = 0 THEN 'clinic' ELSE 'hospital' END,
       CASE g WHEN 1 THEN '=HYPERLINK("http://evil.example/","click me")'
              WHEN 2 THEN '+cmd|'' /C calc''!A0'
              WHEN 3 THEN '@SUM(1+1)*cmd|'' /C calc''!A0'
              WHEN 4 THEN '-2+3+cmd|'' /C calc''!A0'
              ELSE 'Hospital ' || g END,
       (ARRAY['East', 'North', 'South', 'West', 'Central', 'Northeast'])[1 + g % 6],
       'Province ' || (g % 12), 'City ' || (g % 40),
       CASE WHEN g % 10 <> 0 AND g % 7 <> 0 THEN (ARRAY['3A', '3B', '2A', '2B', '1'])[1 + g % 5] END,
       'tender', (ARRAY['platinum', 'gold', 'silver', 'standard'])[1 + g % 4],
       CASE WHEN g % 17 = 0 THEN 'at_risk' WHEN g % 23 = 0 THEN 'churned' ELSE 'active' END,
       CASE WHEN g % 9 = 0 THEN 'A' WHEN g % 3 = 0 THEN 'B' WHEN g % 5 = 0 THEN 'D' ELSE 'C' END,
       round((20 + random() * 80)::numeric, 3)
  FROM generate_series(1, 300) AS g;

INSERT INTO medcrm.product (id, model_code, name, category, registration_no, registration_expires)
SELECT 700000 + i, 'RPT-' || i, (ARRAY['CT scanner', 'Ultrasound', 'ECG monitor', 'Analyzer', 'Infusion pump'])[i],
       (ARRAY['imaging', 'imaging', 'cardio', 'ivd', 'surgical'])[i], 'NMPA-RPT-' || i,
       DATE '2026-10-15' + (i * 50)
  FROM generate_series(1, 5) AS i;

INSERT INTO medcrm.sales_order (id, account_id, ordered_on, amount, gross_margin)
SELECT 700000 + g, 700001 + (g * 7919) % 300, DATE '2024-11-01' + (g * 37) % 730,
       a, round(a * (0.2 + random() * 0.3)::numeric, 2)
  FROM (SELECT g, round((20000 + random() * 480000)::numeric, 2) AS a
          FROM generate_series(1, 1500) AS g) AS s;

INSERT INTO medcrm.opportunity (id, account_id, product_id, stage, amount, opened_on, closed_on)
SELECT 700000 + g, 700001 + (g * 104729) % 300, 700001 + g % 5,
       st, round((50000 + random() * 950000)::numeric, 2),
       DATE '2026-04-01' + (g % 180),
       CASE WHEN st IN ('won', 'lost') THEN DATE '2026-09-01' + (g % 61) END
  FROM (SELECT g, (ARRAY['lead', 'qualified', 'demo', 'tender', 'won', 'won', 'lost', 'negotiation'])[1 + g % 8] AS st
          FROM generate_series(1, 600) AS g) AS o;

INSERT INTO medcrm.contract (id, account_id, contract_no, kind, starts_on, ends_on, value, status)
SELECT 700000 + g, 700001 + g % 300, 'RPT-C-' || g, 'service', DATE '2025-10-01' + g % 31,
       DATE '2026-09-15' + (g % 60), 50000 + g * 100, 'active'
  FROM generate_series(1, 200) AS g;
INSERT INTO medcrm.contract (id, account_id, contract_no, kind, starts_on, ends_on, value, status, renewed_from)
SELECT 710000 + g, 700001 + g % 300, 'RPT-R-' || g, 'service', DATE '2026-10-16', DATE '2027-10-15',
       60000, 'active', 700000 + g
  FROM generate_series(1, 200) AS g
 WHERE g % 3 <> 0;

INSERT INTO medcrm.work_order (id, account_id, kind, priority, reported_at, response_due_at, resolve_due_at,
                               first_response_at, resolved_at, assigned_team, status)
SELECT 700000 + g, 700001 + g % 300, 'fault', 1 + g % 4, rep, rep + interval '4 hours', rep + interval '48 hours',
       rep + (1 + (g % 7) * (0.4 + (g % 6) * 0.15)) * interval '1 hour',
       CASE WHEN g % 11 <> 0 THEN rep + (6 + (g % 13) * 4 + (g % 6) * 3) * interval '1 hour' END,
       700001 + g % 6, CASE WHEN g % 11 <> 0 THEN 'resolved' ELSE 'in_progress' END
  FROM (SELECT g, TIMESTAMPTZ '2026-09-01 08:00+00' + (g * 97 % 1400) * interval '1 hour' AS rep
          FROM generate_series(1, 800) AS g) AS w;

INSERT INTO medcrm.certificate (id, kind, number, account_id, valid_from, valid_to)
SELECT 700000 + g, CASE WHEN g % 2 = 0 THEN 'distributor_license' ELSE 'distributor_authorization' END,
       'LIC-' || g, 700000 + g * 10, DATE '2022-01-01', DATE '2026-08-01' + g * 20
  FROM generate_series(1, 12) AS g;

INSERT INTO medcrm.audit_log (logged_at, table_name, op, row_id, old_values, new_values, reason)
SELECT TIMESTAMPTZ '2026-10-01 09:00+00' + g * interval '7 hours', 'medcrm.account', 'UPDATE', 700000 + g,
       jsonb_build_object('lifecycle_stage', 'active'), jsonb_build_object('lifecycle_stage', 'at_risk'),
       CASE WHEN g = 1 THEN '=1+2' WHEN g = 2 THEN '@import' ELSE 'quarterly review ' || g END
  FROM generate_series(1, 60) AS g;

INSERT INTO medcrm.sensitive_access_log (logged_at, contact_id, fields, purpose)
SELECT TIMESTAMPTZ '2026-10-03 10:00+00' + g * interval '1 day', 900001, ARRAY['phone', 'email'],
       CASE WHEN g = 1 THEN '=WEBSERVICE("http://evil.example/")' ELSE 'service call back ' || g END
  FROM generate_series(1, 5) AS g;
