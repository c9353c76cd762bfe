-- 420_rules_rerun.sql — run_time_rules() finds the due rows first, looks up
-- their dedupe keys, and renders only the rows that will create a task
-- (docs/rules.md, "How run_time_rules works"). These tests pin down that path:
-- a re-run creates nothing; a row changed after a run creates exactly its one
-- new task with exact title, due time, assignee and priority; a row that
-- starts to match, a task deleted by hand, a new certificate (a UNION source)
-- and a new data-quality finding (a view source) each create exactly theirs.
BEGIN;
SET LOCAL timezone = 'UTC';
SELECT plan(21);

-- Clinics (no hospital grade needed); contract ends around the run date
-- 2031-06-01, far from today, so the insert triggers create nothing.
INSERT INTO medcrm.account (id, kind, name, region, service_level, owner_role, tier) VALUES
  (930001, 'clinic', 'Rerun Alpha', 'East', 'gold', 'rerun_rep_a', 'A'),
  (930002, 'clinic', 'Rerun Beta', 'West', 'silver', 'rerun_rep_b', 'B'),
  (930003, 'clinic', 'Rerun Gamma', 'North', 'standard', NULL, 'C'),
  (930010, 'distributor', 'Rerun Distributor', 'East', 'standard', 'rerun_rep_d', NULL);
INSERT INTO medcrm.product (id, model_code, name, category, registration_no, registration_expires) VALUES
  (930001, 'RR-CT', 'Rerun CT', 'imaging', 'REG-RR', '2031-10-01');
INSERT INTO medcrm.contract (id, account_id, contract_no, kind, starts_on, ends_on, status) VALUES
  (930001, 930001, 'RR-A90', 'service', '2030-06-01', date '2031-06-01' + 90, 'active'),
  (930002, 930002, 'RR-B75', 'service', '2030-06-01', date '2031-06-01' + 75, 'active'),
  (930003, 930003, 'RR-C30', 'sale', '2030-06-01', date '2031-06-01' + 30, 'active'),
  (930004, 930003, 'RR-C121', 'sale', '2030-06-01', date '2031-06-01' + 121, 'active'),
  (930005, 930001, 'RR-A-12', 'service', '2030-05-01', date '2031-06-01' - 12, 'active'),
  (930006, 930002, 'RR-B44', 'sale', '2030-06-01', date '2031-06-01' + 44, 'active');
INSERT INTO medcrm.certificate (id, kind, number, account_id, product_id, valid_from, valid_to) VALUES
  (930001, 'distributor_license', 'RR-LIC-1', 930010, NULL, '2028-01-01', '2031-07-01');

-- Findings come from this stand-in: one per account in region 'RerunDQ'.
CREATE OR REPLACE VIEW medcrm.v_data_quality WITH (security_barrier) AS
SELECT 'rerun_finding'::text AS finding_code, 'warning'::text AS severity, 'account'::text AS table_name,
       a.id AS row_id, a.id AS account_id, 'Rerun finding.'::text AS detail, 'Fix it.'::text AS fix_hint
  FROM medcrm.account a WHERE a.region = 'RerunDQ';

CREATE TEMP VIEW rt AS
SELECT source_table, source_id, rule_id, due_at, assignee_role::text COLLATE "default" AS assignee,
       priority::int AS priority, title, dedupe_key
  FROM medcrm.task WHERE dedupe_key LIKE 'r%';

SELECT is((SELECT count(*)::int FROM rt), 0, 'the insert triggers (as of today) create no task for 2031');

-- ==== first run ====
SELECT is(medcrm.run_time_rules('2031-06-01 00:00+00'), 7::bigint,
          'first run: four renewal windows, one escalation, a licence and a registration');
SELECT results_eq(
  $$SELECT source_id, rule_id, due_at, assignee, priority, title FROM rt
     WHERE source_table = 'contract' ORDER BY source_id$$,
  $$VALUES (930001::bigint, 10, (date '2031-06-01' + 60)::timestamptz, 'rerun_rep_a', 2,
            'Renew contract RR-A90 of Rerun Alpha: ends ' || to_char(date '2031-06-01' + 90, 'YYYY-MM-DD')),
           (930002, 11, (date '2031-06-01' + 45)::timestamptz, 'rerun_rep_b', 3,
            'Renew contract RR-B75 of Rerun Beta: ends ' || to_char(date '2031-06-01' + 75, 'YYYY-MM-DD')),
           (930003, 12, (date '2031-06-01' + 16)::timestamptz, 'medcrm_sales', 3,
            'Renew contract RR-C30 of Rerun Gamma: ends ' || to_char(date '2031-06-01' + 30, 'YYYY-MM-DD')),
           (930005, 13, (date '2031-06-01' - 9)::timestamptz, 'medcrm_sales', 1,
            'Escalate: contract RR-A-12 of Rerun Alpha ended ' || to_char(date '2031-06-01' - 12, 'YYYY-MM-DD') || ' without renewal'),
           (930006, 11, (date '2031-06-01' + 14)::timestamptz, 'rerun_rep_b', 3,
            'Renew contract RR-B44 of Rerun Beta: ends ' || to_char(date '2031-06-01' + 44, 'YYYY-MM-DD'))$$,
  'first run: contract tasks with exact rule, due time, assignee, priority and title; 121 days out is outside the C window');
SELECT results_eq(
  $$SELECT dedupe_key FROM rt WHERE source_id = 930002$$,
  $$VALUES ('r11:contract:930002:' || to_char(date '2031-06-01' + 75, 'YYYY-MM-DD'))$$,
  'dedupe key: rule, source row, occurrence (the end date)');

-- ==== re-run: nothing new ====
SELECT is(medcrm.run_time_rules('2031-06-01 00:00+00'), 0::bigint, 'a re-run creates nothing');
SELECT is((SELECT count(*)::int FROM rt), 7, 'and leaves the tasks as they are');
SELECT is(medcrm.run_time_rules('2031-06-02 00:00+00'), 0::bigint,
          'a re-run the next day creates nothing either (same occurrences)');

-- ==== a row changed after the run: exactly its one new task ====
UPDATE medcrm.contract SET ends_on = date '2031-06-01' + 80, contract_no = 'RR-B80' WHERE id = 930002;
SELECT is((SELECT count(*)::int FROM rt), 7, 'the update trigger (as of today) creates nothing for 2031');
SELECT is(medcrm.run_time_rules('2031-06-01 00:00+00'), 1::bigint,
          'after a contract moved its end date, the re-run creates exactly one task');
SELECT results_eq(
  $$SELECT rule_id, due_at, assignee, priority, title, dedupe_key FROM rt
     WHERE source_id = 930002 ORDER BY due_at$$,
  $$VALUES (11, (date '2031-06-01' + 45)::timestamptz, 'rerun_rep_b', 3,
            'Renew contract RR-B75 of Rerun Beta: ends ' || to_char(date '2031-06-01' + 75, 'YYYY-MM-DD'),
            'r11:contract:930002:' || to_char(date '2031-06-01' + 75, 'YYYY-MM-DD')),
           (11, (date '2031-06-01' + 50)::timestamp with time zone, 'rerun_rep_b', 3,
            'Renew contract RR-B80 of Rerun Beta: ends ' || to_char(date '2031-06-01' + 80, 'YYYY-MM-DD'),
            'r11:contract:930002:' || to_char(date '2031-06-01' + 80, 'YYYY-MM-DD'))$$,
  'the new task is rendered from the row as it is now (number, end date, due time); the old one stays');
SELECT is(medcrm.run_time_rules('2031-06-01 00:00+00'), 0::bigint, 'and the next re-run creates nothing');

-- ==== a row that starts to match ====
UPDATE medcrm.contract SET ends_on = date '2031-06-01' + 50 WHERE id = 930004;
SELECT is(medcrm.run_time_rules('2031-06-01 00:00+00'), 1::bigint,
          'a contract that enters its window between two runs gets exactly one task');
SELECT results_eq(
  $$SELECT rule_id, due_at, assignee, priority, title FROM rt WHERE source_id = 930004$$,
  $$VALUES (12, (date '2031-06-01' + 36)::timestamptz, 'medcrm_sales', 3,
            'Renew contract RR-C121 of Rerun Gamma: ends ' || to_char(date '2031-06-01' + 50, 'YYYY-MM-DD'))$$,
  'its title, due time, assignee and priority are exact');

-- ==== a task deleted by hand comes back while its event holds ====
DELETE FROM medcrm.task WHERE dedupe_key LIKE 'r12:contract:930003:%';
SELECT is(medcrm.run_time_rules('2031-06-01 00:00+00'), 1::bigint, 'a deleted task is created again, once');
SELECT results_eq(
  $$SELECT rule_id, due_at, title FROM rt WHERE source_id = 930003$$,
  $$VALUES (12, (date '2031-06-01' + 16)::timestamptz,
            'Renew contract RR-C30 of Rerun Gamma: ends ' || to_char(date '2031-06-01' + 30, 'YYYY-MM-DD'))$$,
  'with the same title and due time');

-- ==== a new certificate (the source is a UNION of certificates and registrations) ====
INSERT INTO medcrm.certificate (id, kind, number, account_id, product_id, valid_from, valid_to) VALUES
  (930002, 'distributor_authorization', 'RR-AUTH-2', 930010, 930001, '2028-01-01', '2031-08-01');
SELECT is(medcrm.run_time_rules('2031-06-01 00:00+00'), 1::bigint, 'a new certificate in its window: one task');
SELECT results_eq(
  $$SELECT source_table, source_id, rule_id, due_at, assignee, title FROM rt
     WHERE source_table IN ('certificate', 'product') ORDER BY source_table, source_id$$,
  $$VALUES ('certificate', 930001::bigint, 41, '2031-06-01 00:00+00'::timestamptz, 'rerun_rep_d',
            'Renew the distributor_license RR-LIC-1 of Rerun Distributor: expires 2031-07-01'),
           ('certificate', 930002, 41, '2031-07-02 00:00+00', 'rerun_rep_d',
            'Renew the distributor_authorization RR-AUTH-2 of Rerun Distributor: expires 2031-08-01'),
           ('product', 930001, 40, '2031-07-03 00:00+00', 'medcrm_quality',
            'Renew registration REG-RR (Rerun CT): expires 2031-10-01')$$,
  'certificate and registration tasks: exact titles and due times');

-- ==== a new data-quality finding (the source is a view) ====
UPDATE medcrm.account SET region = 'RerunDQ' WHERE id IN (930001, 930002);
SELECT is(medcrm.run_time_rules('2031-06-01 00:00+00'), 2::bigint, 'two open findings: two tasks');
UPDATE medcrm.account SET region = 'RerunDQ' WHERE id = 930003;
SELECT is(medcrm.run_time_rules('2031-06-01 00:00+00'), 1::bigint, 'one more finding: exactly one more task');
SELECT results_eq(
  $$SELECT source_id, rule_id, assignee, priority, title FROM rt WHERE source_table = 'account' ORDER BY source_id$$,
  $$VALUES (930001::bigint, 81, 'rerun_rep_a', 4, 'Complete rerun_finding in account 930001: Rerun finding.'),
           (930002, 81, 'rerun_rep_b', 4, 'Complete rerun_finding in account 930002: Rerun finding.'),
           (930003, 81, 'medcrm_admin', 4, 'Complete rerun_finding in account 930003: Rerun finding.')$$,
  'data_quality tasks: exact titles and assignees (owner, else the event''s group role)');

-- ==== steady state after all of it ====
SELECT is(medcrm.run_time_rules('2031-06-01 00:00+00'), 0::bigint, 'the final re-run creates nothing');

SELECT * FROM finish();
ROLLBACK;
