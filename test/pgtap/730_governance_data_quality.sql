-- 730_governance_data_quality.sql — every check of v_data_quality fires on a
-- planted problem with its stable code, table and row, carries a fix hint,
-- stays quiet on clean rows, and ignores merged accounts.
BEGIN;
SELECT plan(8);
\ir ../fixtures/one_row_each.sql

-- The fixture is clean except for its contact (a phone, no consent).
SELECT set_eq($$SELECT finding_code, table_name, row_id FROM medcrm.v_data_quality$$,
              $$VALUES ('contact_phone_without_consent', 'contact', 900001::bigint)$$,
              'the fixture has exactly one finding: its contact has a phone but no consent');
UPDATE medcrm.contact SET consent_at = '2026-01-01' WHERE id = 900001;

-- One planted problem per check.
INSERT INTO medcrm.account (id, kind, name, city, lifecycle_stage) VALUES
  (920001, 'hospital', 'No Grade Hospital', 'Suzhou', 'active'),
  (920002, 'distributor', 'Lapsed Distributor', 'Suzhou', 'active'),
  (920003, 'distributor', 'Renewed Distributor', 'Suzhou', 'active'),
  (920004, 'distributor', 'Churned Distributor', 'Suzhou', 'churned');
INSERT INTO medcrm.contact (id, account_id, full_name, phone) VALUES (920001, 900001, 'No Consent', '13800000000');
INSERT INTO medcrm.installed_device (id, account_id, product_id, serial_no, installed_on, warranty_ends) VALUES
  (920001, 900001, 900001, 'SN-NOWARRANTY', '2025-01-01', NULL),
  (920002, 900001, 900001, 'SN-BACKWARDS', '2025-01-01', '2024-12-31');
INSERT INTO medcrm.contract (id, account_id, contract_no, kind, starts_on, ends_on) VALUES
  (920001, 900001, 'DQ-BACKWARDS', 'service', '2026-01-01', '2025-12-31');
INSERT INTO medcrm.invoice (id, account_id, issued_on, due_on, amount, paid_on, paid_amount) VALUES
  (920001, 900001, '2026-01-01', '2026-02-01', 100, '2026-01-15', 120),
  (920002, 900001, '2026-03-01', '2026-02-01', 100, NULL, 0);
INSERT INTO medcrm.work_order (id, account_id, kind, reported_at, resolved_at) VALUES
  (920001, 900001, 'fault', '2026-03-02 10:00+00', '2026-03-01 10:00+00');
INSERT INTO medcrm.visit (id, account_id, channel, started_at, ended_at) VALUES
  (920001, 900001, 'call', '2026-03-02 10:00+00', '2026-03-02 09:00+00');
INSERT INTO medcrm.opportunity (id, account_id, stage, opened_on, closed_on) VALUES
  (920001, 900001, 'lost', '2026-03-02', '2026-03-01');
INSERT INTO medcrm.certificate (id, kind, number, account_id, valid_from, valid_to) VALUES
  (920001, 'distributor_license', 'LIC-BACKWARDS', 900001, '2026-01-01', '2025-01-01'),
  (920002, 'distributor_license', 'LIC-LAPSED', 920002, '2020-01-01', current_date - 1),
  (920003, 'distributor_license', 'LIC-OLD', 920003, '2020-01-01', current_date - 400),
  (920004, 'distributor_license', 'LIC-NEW', 920003, current_date - 399, current_date + 365),
  (920005, 'distributor_license', 'LIC-CHURNED', 920004, '2020-01-01', current_date - 1);
INSERT INTO medcrm.duplicate_candidate (account_a, account_b, similarity, reasons) VALUES
  (900001, 920001, 0.7, '{similar_name}');

SELECT set_eq($$SELECT finding_code, table_name, row_id, account_id FROM medcrm.v_data_quality$$,
  $$VALUES ('hospital_without_grade', 'account', 920001::bigint, 920001::bigint),
           ('contact_phone_without_consent', 'contact', 920001, 900001),
           ('device_without_warranty_end', 'installed_device', 920001, 900001),
           ('device_warranty_ends_before_install', 'installed_device', 920002, 900001),
           ('contract_ends_before_starts', 'contract', 920001, 900001),
           ('invoice_overpaid', 'invoice', 920001, 900001),
           ('invoice_due_before_issue', 'invoice', 920002, 900001),
           ('work_order_resolved_before_reported', 'work_order', 920001, 900001),
           ('visit_ends_before_start', 'visit', 920001, 900001),
           ('opportunity_closed_before_opened', 'opportunity', 920001, 900001),
           ('certificate_valid_to_before_from', 'certificate', 920001, 900001),
           ('expired_certificate_active_distributor', 'certificate', 920002, 920002),
           ('suspected_duplicate', 'account', 920001, 920001)$$,
  'each planted problem is one finding with its code, table, row and account; a renewed licence and a churned distributor are not');

SELECT is_empty($$SELECT finding_code FROM medcrm.v_data_quality
                   WHERE fix_hint IS NULL OR btrim(fix_hint) = '' OR detail IS NULL
                      OR severity NOT IN ('error', 'warning')$$,
                'every finding has a detail, a fix hint and a severity');
SELECT is_empty($$SELECT finding_code, table_name, row_id FROM medcrm.v_data_quality
                   GROUP BY 1, 2, 3 HAVING count(*) > 1$$,
                'finding_code, table_name and row_id identify a finding');
SELECT is((SELECT severity FROM medcrm.v_data_quality WHERE finding_code = 'invoice_overpaid'), 'error',
          'impossible values are errors');
SELECT is((SELECT detail FROM medcrm.v_data_quality WHERE finding_code = 'contract_ends_before_starts'),
          'Contract DQ-BACKWARDS ends on 2025-12-31, before it starts on 2026-01-01.', 'the detail names the row and values');

-- Findings of a merged account disappear with the merge.
INSERT INTO medcrm.account (id, kind, name) VALUES (920009, 'hospital', 'Merge Target Hospital');
UPDATE medcrm.account SET hospital_grade = '2A' WHERE id = 920009;
SELECT medcrm.merge_accounts(920009, 920001, 'test');
SELECT is((SELECT count(*)::int FROM medcrm.v_data_quality WHERE account_id = 920001), 0,
          'a merged account has no findings');
SELECT is((SELECT count(*)::int FROM medcrm.v_data_quality), 11, 'the other findings remain');

SELECT * FROM finish();
ROLLBACK;
