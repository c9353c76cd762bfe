-- 400_rules_events.sql — every event of the rule engine creates exactly the
-- tasks its rules say: matches and no-matches, disabled rules, tier-specific
-- offsets, template rendering, SLA arithmetic across midnight, month ends and
-- DST, routing and its fallback, recall scope by batch and by serial, the
-- time-driven rules of run_time_rules(), done_at, and writers without INSERT
-- privilege on medcrm.task.
BEGIN;
SET LOCAL timezone = 'UTC';
SELECT plan(56);

-- The hospitals carry a grade: a hospital without one is a data-quality finding,
-- and this file controls the findings itself (a stand-in view further down).
INSERT INTO medcrm.account (id, kind, name, region, service_level, owner_role, tier, tier_override, tier_override_reason, hospital_grade) VALUES
  (920001, 'hospital', 'Alpha Hospital', 'East', 'gold', 'regress_rep_a', 'A', NULL, NULL, '3A'),
  (920002, 'hospital', 'Beta Hospital', 'West', 'platinum', 'regress_rep_b', 'B', NULL, NULL, '2A'),
  (920003, 'clinic', 'Gamma Clinic', 'North', 'standard', NULL, 'C', NULL, NULL, NULL),
  (920004, 'clinic', 'Delta Clinic', 'East', 'silver', 'regress_rep_a', NULL, NULL, NULL, NULL),
  (920005, 'clinic', 'Epsilon Clinic', 'East', 'silver', 'regress_rep_a', 'C', 'A', 'strategic site', NULL),
  (920010, 'distributor', 'Regress Distributor', 'East', 'standard', 'regress_rep_d', NULL, NULL, NULL, NULL);
INSERT INTO medcrm.product (id, model_code, name, category) VALUES
  (920001, 'RG-CT', 'Regress CT', 'imaging'), (920002, 'RG-US', 'Regress US', 'imaging');
INSERT INTO medcrm.service_team (id, name, region, kinds) VALUES
  (920001, 'East Imaging', 'East', '{fault,preventive}'),
  (920002, 'National', NULL, '{fault,preventive,install,recall}'),
  (920003, 'West All', 'West', '{fault,preventive,install,training,recall}');

CREATE TEMP VIEW t AS SELECT * FROM medcrm.task WHERE dedupe_key LIKE 'r%';

-- This file controls the data-quality findings itself: until the stand-in
-- further down, there are none (the real checks have their own tests).
CREATE OR REPLACE VIEW medcrm.v_data_quality WITH (security_barrier) AS
SELECT NULL::text AS finding_code, NULL::text AS severity, NULL::text AS table_name, NULL::bigint AS row_id,
       NULL::bigint AS account_id, NULL::text AS detail, NULL::text AS fix_hint
 WHERE false;

-- ==== opportunity stages ====
INSERT INTO medcrm.opportunity (id, account_id, product_id, stage, owner_role) VALUES
  (920001, 920001, 920001, 'lead', NULL), (920002, 920002, 920002, 'lead', 'regress_rep_x');
SELECT is((SELECT count(*)::int FROM t WHERE source_table = 'opportunity'), 0,
          'no rule for stage lead: no task');
UPDATE medcrm.opportunity SET stage = 'qualified' WHERE id IN (920001, 920002);
SELECT results_eq(
  $$SELECT source_id, rule_id, assignee_role::text COLLATE "default", due_at - now(), kind FROM t
     WHERE source_table = 'opportunity' ORDER BY source_id$$,
  $$VALUES (920001::bigint, 1, 'regress_rep_a', interval '3 days', 'follow_up'),
           (920002::bigint, 1, 'regress_rep_x', interval '3 days', 'follow_up')$$,
  'qualified: one follow-up each, due in 3 days, to the opportunity owner or else the account owner');
SELECT is((SELECT title FROM t WHERE source_table = 'opportunity' AND source_id = 920001),
          'Plan the next step with Alpha Hospital: opportunity 920001 is qualified', 'the title is rendered');
UPDATE medcrm.opportunity SET stage = 'demo' WHERE id IN (920001, 920002);
SELECT results_eq(
  $$SELECT source_id, rule_id, priority::int, due_at - now() FROM t
     WHERE source_table = 'opportunity' AND rule_id IN (2, 3) ORDER BY source_id$$,
  $$VALUES (920001::bigint, 2, 2, interval '2 days'), (920002::bigint, 3, 3, interval '5 days')$$,
  'demo: tier A gets its task in 2 days with priority 2, tier B in 5 days');
SELECT is((SELECT title FROM t WHERE rule_id = 2), 'Arrange the Regress CT demo for Alpha Hospital (tier A)',
          'demo title names the product');
UPDATE medcrm.opportunity SET stage = 'demo' WHERE id IN (920001, 920002);
UPDATE medcrm.opportunity SET amount = 10 WHERE id IN (920001, 920002);
SELECT is((SELECT count(*)::int FROM t WHERE source_table = 'opportunity'), 4,
          'an update that does not change the stage creates nothing');
UPDATE medcrm.opportunity SET stage = 'qualified' WHERE id = 920001;
SELECT is((SELECT count(*)::int FROM t WHERE source_table = 'opportunity'), 4,
          're-entering a stage does not repeat its task (one task per stage)');
UPDATE medcrm.rule SET enabled = false WHERE id = 4;
UPDATE medcrm.opportunity SET stage = 'trial' WHERE id = 920002;
SELECT is((SELECT count(*)::int FROM t WHERE source_table = 'opportunity'), 4,
          'a disabled rule creates nothing');
UPDATE medcrm.opportunity SET stage = 'lost' WHERE id = 920002;
SELECT is((SELECT title FROM t WHERE rule_id = 8),
          'Debrief the lost opportunity 920002 at Beta Hospital (was trial)', '{previous_stage} renders the old stage');

-- ==== contracts: renewal windows per tier ====
INSERT INTO medcrm.contract (id, account_id, contract_no, kind, starts_on, ends_on, status) VALUES
  (920001, 920001, 'RG-C-A100', 'service', current_date - 265, current_date + 100, 'active'),
  (920002, 920002, 'RG-C-B100', 'service', current_date - 265, current_date + 100, 'active'),
  (920003, 920003, 'RG-C-C50', 'sale', current_date - 300, current_date + 50, 'active'),
  (920004, 920004, 'RG-C-N50', 'sale', current_date - 300, current_date + 50, 'active'),
  (920005, 920005, 'RG-C-O100', 'sale', current_date - 300, current_date + 100, 'active'),
  (920006, 920001, 'RG-C-DRAFT', 'sale', current_date - 300, current_date + 10, 'draft');
SELECT results_eq(
  $$SELECT source_id, rule_id, due_at, assignee_role::text COLLATE "default" FROM t WHERE kind = 'renewal' ORDER BY source_id$$,
  $$VALUES (920001::bigint, 10, (current_date + 70)::timestamptz, 'regress_rep_a'),
           (920003::bigint, 12, (current_date + 36)::timestamptz, 'medcrm_sales'),
           (920004::bigint, 12, (current_date + 36)::timestamptz, 'regress_rep_a'),
           (920005::bigint, 10, (current_date + 70)::timestamptz, 'regress_rep_a')$$,
  'insert: A (and an A override) 100 days out are in the 120-day window, due 30 days before the end; B is not (90); C and untiered 50 days out are (60), due 14 days before; drafts never');
SELECT is((SELECT title FROM t WHERE kind = 'renewal' AND source_id = 920001),
          'Renew contract RG-C-A100 of Alpha Hospital: ends ' || to_char(current_date + 100, 'YYYY-MM-DD'),
          'renewal title');
SELECT is(medcrm.run_time_rules(now() + interval '15 days'), 1::bigint,
          'run_time_rules 15 days later creates one task (the B contract''s renewal)');
SELECT results_eq(
  $$SELECT rule_id FROM t WHERE kind = 'renewal' AND source_id = 920002$$, $$VALUES (11)$$,
  'run_time_rules: the B contract enters its 90-day window 15 days later');
SELECT is(medcrm.run_time_rules(now() + interval '15 days'), 0::bigint, 'running it again creates nothing');

-- a renewal closes the renewal task of its predecessor; an expired unrenewed contract escalates
INSERT INTO medcrm.contract (id, account_id, contract_no, kind, starts_on, ends_on, renewed_from) VALUES
  (920007, 920003, 'RG-C-C50-R', 'sale', current_date + 51, current_date + 416, 920003);
SELECT results_eq(
  $$SELECT status, done_at FROM t WHERE kind = 'renewal' AND source_id = 920003$$,
  $$VALUES ('done', now())$$, 'the renewal task of the renewed contract is done');
SELECT is(medcrm.run_time_rules(now() + interval '60 days'), 1::bigint,
          '60 days later it creates one task (the escalation)');
SELECT results_eq(
  $$SELECT source_id, rule_id, assignee_role::text COLLATE "default", priority::int, due_at FROM t WHERE kind = 'renewal_escalation'$$,
  $$VALUES (920004::bigint, 13, 'medcrm_sales', 1, (current_date + 53)::timestamptz)$$,
  'expired and unrenewed: one escalation; the renewed contract does not escalate');

-- ==== work orders: SLA deadlines, routing, dispatch ====
INSERT INTO medcrm.work_order (id, account_id, kind, priority, reported_at, status, response_due_at, assigned_team, resolved_at) VALUES
  (920001, 920001, 'fault', 1, '2026-01-31 23:30+00', 'open', NULL, NULL, NULL),
  (920002, 920002, 'fault', 2, '2026-02-28 22:00+00', 'open', NULL, NULL, NULL),
  (920003, 920001, 'install', 3, '2026-12-31 20:00+00', 'open', NULL, NULL, NULL),
  (920004, 920003, 'training', 4, '2026-06-30 12:00+00', 'open', NULL, NULL, NULL),
  (920005, 920004, 'preventive', 3, '2026-05-01 08:00+00', 'open', NULL, NULL, NULL),
  (920006, 920002, 'fault', 3, '2026-05-01 08:00+00', 'open', '2026-05-01 09:00+00', 920002, NULL),
  (920007, 920001, 'fault', 2, '2026-05-01 08:00+00', 'resolved', NULL, NULL, '2026-05-01 10:00+00');
SELECT results_eq(
  $$SELECT id, response_due_at, resolve_due_at, assigned_team FROM medcrm.work_order
     WHERE id BETWEEN 920001 AND 920007 ORDER BY id$$,
  $$VALUES (920001::bigint, '2026-02-01 03:30+00'::timestamptz, '2026-02-01 23:30+00'::timestamptz, 920001::bigint),
           (920002, '2026-03-01 02:00+00', '2026-03-01 22:00+00', 920003),
           (920003, '2027-01-01 20:00+00', '2027-01-03 20:00+00', 920002),
           (920004, '2026-07-05 12:00+00', '2026-07-10 12:00+00', NULL),
           (920005, '2026-05-03 08:00+00', '2026-05-06 08:00+00', 920001),
           (920006, '2026-05-01 09:00+00', '2026-05-03 08:00+00', 920002),
           (920007, '2026-05-01 16:00+00', '2026-05-03 08:00+00', 920001)$$,
  'deadlines by service level and priority across midnight, month and year ends; regional team, national fallback, unrouted; given values kept');
SELECT results_eq(
  $$SELECT source_id, rule_id, priority::int, due_at, assignee_role::text COLLATE "default", device_id FROM t
     WHERE kind = 'dispatch' ORDER BY source_id$$,
  $$VALUES (920001::bigint, 20, 1, '2026-02-01 03:30+00'::timestamptz, 'medcrm_service', NULL::bigint),
           (920002, 20, 1, '2026-03-01 02:00+00', 'medcrm_service', NULL),
           (920003, 22, 3, '2027-01-01 20:00+00', 'medcrm_service', NULL),
           (920004, 22, 3, '2026-07-05 12:00+00', 'medcrm_service', NULL),
           (920006, 21, 3, '2026-05-01 09:00+00', 'medcrm_service', NULL)$$,
  'dispatch tasks due at the response deadline; none for preventive or already resolved orders');
SELECT is((SELECT title FROM t WHERE kind = 'dispatch' AND source_id = 920001),
          'Dispatch East Imaging to Alpha Hospital: priority 1 fault, respond by 2026-02-01 03:30', 'dispatch title');
SELECT is((SELECT title FROM t WHERE kind = 'dispatch' AND source_id = 920004),
          'Schedule the training visit of - at Gamma Clinic', 'an unrouted order renders its team as -');
SET LOCAL timezone = 'Europe/Berlin';
INSERT INTO medcrm.work_order (id, account_id, kind, priority, reported_at)
VALUES (920008, 920001, 'preventive', 1, '2026-03-28 23:00+01');
SELECT results_eq(
  $$SELECT resolve_due_at, to_char(resolve_due_at, 'YYYY-MM-DD HH24:MI') FROM medcrm.work_order WHERE id = 920008$$,
  $$VALUES ('2026-03-29 22:00+00'::timestamptz, '2026-03-30 00:00')$$,
  'SLA hours are elapsed hours: 24 hours across the DST change end at local midnight + 1 hour');
SET LOCAL timezone = 'UTC';
UPDATE medcrm.work_order SET first_response_at = '2026-03-01 01:00+00' WHERE id = 920002;
SELECT is(medcrm.run_time_rules('2026-03-02 00:00+00'), 3::bigint,
          'run_time_rules creates the three SLA escalations');
SELECT results_eq(
  $$SELECT source_id, rule_id, due_at FROM t WHERE rule_id IN (23, 24) AND source_id IN (920001, 920002)
     ORDER BY source_id, rule_id$$,
  $$VALUES (920001::bigint, 23, '2026-02-01 05:30+00'::timestamptz), (920001, 24, '2026-02-02 03:30+00'),
           (920002, 24, '2026-03-02 02:00+00')$$,
  'SLA breaches: response and resolution escalations; a responded order only for resolution');
SELECT is(medcrm.run_time_rules('2026-03-02 00:00+00'), 0::bigint, 'breaches are escalated once');

-- ==== recalls: by batch, narrowed by serial ====
INSERT INTO medcrm.installed_device (id, account_id, product_id, serial_no, batch_no, status) VALUES
  (920001, 920001, 920001, 'SN-1', 'L1', 'active'), (920002, 920002, 920001, 'SN-2', 'L1', 'in_repair'),
  (920003, 920003, 920001, 'SN-3', 'L1', 'retired'), (920004, 920004, 920001, 'SN-4', 'L2', 'active'),
  (920005, 920001, 920002, 'SN-5', 'L1', 'active'), (920006, 920002, 920001, 'SN-6', 'L3', 'active'),
  (920007, 920003, 920001, 'SN-7', 'L3', 'active');
INSERT INTO medcrm.recall (id, product_id, batch_nos, class, reason) VALUES (920001, 920001, '{L1}', 'I', 'battery overheating');
SELECT results_eq(
  $$SELECT source_id, device_id, account_id, rule_id, priority::int, assignee_role::text COLLATE "default" FROM t
     WHERE kind = 'recall_action' ORDER BY device_id$$,
  $$VALUES (920001::bigint, 920001::bigint, 920001::bigint, 30, 1, 'medcrm_service'),
           (920001, 920002, 920002, 30, 1, 'medcrm_service')$$,
  'a batch recall: one action per device of that product and batch, retired devices excepted');
SELECT results_eq(
  $$SELECT id, status FROM medcrm.installed_device WHERE id BETWEEN 920001 AND 920007 ORDER BY id$$,
  $$VALUES (920001::bigint, 'recalled'), (920002, 'recalled'), (920003, 'retired'), (920004, 'active'),
           (920005, 'active'), (920006, 'active'), (920007, 'active')$$,
  'the affected devices are marked recalled, the others untouched');
SELECT is((SELECT title FROM t WHERE kind = 'recall_action' AND device_id = 920001),
          'Recall 920001 (class I): Regress CT SN SN-1, batch L1, at Alpha Hospital', 'recall title');
INSERT INTO medcrm.recall (id, product_id, batch_nos, serial_nos, class, reason)
VALUES (920002, 920001, '{L3}', '{SN-7}', 'III', 'label misprint');
SELECT results_eq(
  $$SELECT device_id, rule_id FROM t WHERE kind = 'recall_action' AND source_id = 920002$$,
  $$VALUES (920007::bigint, 32)$$, 'serial numbers narrow the batch scope');
UPDATE medcrm.recall SET batch_nos = '{L1,L2}' WHERE id = 920001;
SELECT results_eq(
  $$SELECT device_id FROM t WHERE kind = 'recall_action' AND source_id = 920001 ORDER BY 1$$,
  $$VALUES (920001::bigint), (920002), (920004)$$, 'widening a recall adds the new devices only');
UPDATE medcrm.recall SET reason = reason WHERE id IN (920001, 920002);
SELECT is((SELECT count(*)::int FROM t WHERE kind = 'recall_action'), 4, 're-firing a recall duplicates nothing');
INSERT INTO medcrm.recall (id, product_id, batch_nos, class, reason, status, closed_at)
VALUES (920003, 920002, '{L1}', 'II', 'closed already', 'closed', now());
SELECT results_eq(
  $$SELECT (SELECT count(*)::int FROM t WHERE kind = 'recall_action' AND source_id = 920003),
           (SELECT status FROM medcrm.installed_device WHERE id = 920005)$$,
  $$VALUES (0, 'active')$$, 'a closed recall creates nothing');

-- ==== sample loans ====
INSERT INTO medcrm.sample_loan (id, account_id, product_id, serial_no, lent_on, due_back_on) VALUES
  (920001, 920001, 920002, 'DEMO-1', '2026-01-05', '2026-02-05'),
  (920002, 920002, 920002, 'DEMO-2', '2026-01-05', '2026-02-10');
SELECT results_eq(
  $$SELECT source_id, rule_id, due_at, title FROM t WHERE kind = 'sample_return' ORDER BY source_id$$,
  $$VALUES (920001::bigint, 70, '2026-02-05 00:00+00'::timestamptz,
            'Collect sample Regress US SN DEMO-1 from Alpha Hospital and review the trial'),
           (920002, 70, '2026-02-10 00:00+00', 'Collect sample Regress US SN DEMO-2 from Beta Hospital and review the trial')$$,
  'a loan creates a return task due on the due-back date');
UPDATE medcrm.sample_loan SET returned_on = '2026-02-04' WHERE id = 920001;
SELECT results_eq($$SELECT status, done_at FROM t WHERE kind = 'sample_return' AND source_id = 920001$$,
                  $$VALUES ('done', now())$$, 'returning the sample closes its task');
SELECT is(medcrm.run_time_rules('2026-02-12 00:00+00'), 1::bigint,
          'run_time_rules creates one task (the overdue loan)');
SELECT results_eq(
  $$SELECT source_id, due_at FROM t WHERE rule_id = 71$$,
  $$VALUES (920002::bigint, '2026-02-13 00:00+00'::timestamptz)$$,
  'run_time_rules: only the unreturned overdue loan gets an overdue task');

-- ==== tier changes ====
-- (accounts inserted with a tier above already got their first tier_history
-- row from the scoring capability; only the rows inserted here are looked at)
CREATE TEMP TABLE th_mark AS SELECT coalesce(max(id), 0) AS id FROM medcrm.tier_history;
INSERT INTO medcrm.tier_history (account_id, old_tier, new_tier, score) VALUES
  (920002, 'B', 'A', 81.25), (920003, 'C', 'B', 60), (920001, 'A', 'C', 40), (920004, NULL, 'A', 90);
SELECT results_eq(
  $$SELECT account_id, rule_id, assignee_role::text COLLATE "default", source_table FROM t WHERE kind = 'tier_change' AND source_id > (SELECT id FROM th_mark) ORDER BY account_id$$,
  $$VALUES (920001::bigint, 61, 'regress_rep_a', 'tier_history'), (920002, 60, 'medcrm_admin', 'tier_history'),
           (920004, 60, 'medcrm_admin', 'tier_history')$$,
  'entering tier A (up or first) assigns a senior manager; dropping from A is reviewed; C to B does nothing');
SELECT is((SELECT title FROM t WHERE kind = 'tier_change' AND account_id = 920002 AND source_id > (SELECT id FROM th_mark)),
          'Assign a senior account manager to Beta Hospital (now tier A, score 81.3)', 'tier change title');
SELECT is((SELECT title FROM t WHERE kind = 'tier_change' AND account_id = 920001 AND source_id > (SELECT id FROM th_mark)),
          'Review Alpha Hospital: dropped from tier A to C', 'tier drop title');

-- ==== certificates, registrations, warranties (run_time_rules) ====
INSERT INTO medcrm.certificate (id, kind, number, account_id, product_id, valid_from, valid_to) VALUES
  (920001, 'distributor_license', 'LIC-1', 920010, NULL, '2024-01-01', '2027-03-01'),
  (920002, 'distributor_authorization', 'AUTH-1', 920010, 920001, '2024-01-01', '2027-06-01'),
  (920003, 'product_registration', 'REG-OLD', NULL, 920002, '2020-01-01', '2027-02-01'),
  (920004, 'product_registration', 'REG-NEW', NULL, 920002, '2027-02-01', '2032-02-01');
UPDATE medcrm.product SET registration_no = 'REG-CT', registration_expires = '2027-05-01' WHERE id = 920001;
INSERT INTO medcrm.installed_device (id, account_id, product_id, serial_no, batch_no, warranty_ends) VALUES
  (920011, 920001, 920002, 'W-1', 'WB', '2027-03-22'), (920012, 920002, 920002, 'W-2', 'WB', '2027-03-22'),
  (920013, 920003, 920002, 'W-3', 'WB', '2027-02-15'), (920014, 920004, 920002, 'W-4', 'WB', '2027-02-15');
INSERT INTO medcrm.contract (id, account_id, contract_no, kind, starts_on, ends_on)
VALUES (920008, 920004, 'RG-M-1', 'maintenance', '2026-01-01', '2028-12-31');
SELECT is(medcrm.run_time_rules('2027-01-01 00:00+00'), 12::bigint,
          'on 2027-01-01: two expiry reminders, two warranty tasks and eight escalations of the orders still open past their deadlines');
SELECT results_eq(
  $$SELECT source_table, source_id, rule_id, assignee_role::text COLLATE "default", due_at, title FROM t
     WHERE kind = 'certificate_expiry' ORDER BY source_table, source_id$$,
  $$VALUES ('certificate', 920001::bigint, 41, 'regress_rep_d', '2027-01-30 00:00+00'::timestamptz,
            'Renew the distributor_license LIC-1 of Regress Distributor: expires 2027-03-01'),
           ('product', 920001, 40, 'medcrm_quality', '2027-01-31 00:00+00',
            'Renew registration REG-CT (Regress CT): expires 2027-05-01')$$,
  'licences within 90 days and registrations within 180 days; superseded certificates and far expiries are ignored');
SELECT results_eq(
  $$SELECT source_id, device_id, rule_id FROM t WHERE kind = 'warranty_expiry' ORDER BY source_id$$,
  $$VALUES (920011::bigint, 920011::bigint, 50), (920013, 920013, 51)$$,
  'warranties: tier A 90 days, others 60; none where a maintenance contract runs past the warranty');
SELECT is((SELECT count(*)::int FROM t WHERE kind = 'data_quality'), 0,
          'no open data-quality finding, no data_quality task');
SELECT is(medcrm.run_time_rules('2027-01-01 00:00+00'), 0::bigint, 'run_time_rules is idempotent');

-- ==== data-quality findings (the view is the governance capability's; a stand-in here) ====
CREATE OR REPLACE VIEW medcrm.v_data_quality WITH (security_barrier) AS
SELECT 'hospital_without_grade'::text AS finding_code, 'warning'::text AS severity, 'account'::text AS table_name,
       a.id AS row_id, a.id AS account_id, 'Hospital has no grade.'::text AS detail, 'Set hospital_grade.'::text AS fix_hint
  FROM medcrm.account a WHERE a.id IN (920001, 920002)
UNION ALL
SELECT 'gtin_check_digit', 'error', 'product', 920002, NULL, 'GTIN check digit is wrong.', 'Correct the GTIN.';
SELECT is(medcrm.run_time_rules('2027-01-01 00:00+00'), 3::bigint,
          'one task per finding: three');
SELECT results_eq(
  $$SELECT source_table, source_id, rule_id, assignee_role::text COLLATE "default", priority::int, due_at, title
      FROM t WHERE kind = 'data_quality' ORDER BY source_table, source_id$$,
  $$VALUES ('account', 920001::bigint, 81, 'regress_rep_a', 4, '2027-01-31 00:00+00'::timestamptz,
            'Complete hospital_without_grade in account 920001: Hospital has no grade.'),
           ('account', 920002, 81, 'regress_rep_b', 4, '2027-01-31 00:00+00',
            'Complete hospital_without_grade in account 920002: Hospital has no grade.'),
           ('product', 920002, 80, 'medcrm_admin', 2, '2027-01-08 00:00+00',
            'Fix gtin_check_digit in product 920002: GTIN check digit is wrong.')$$,
  'one data_quality task per open finding, by severity; product findings go to medcrm_admin');
SELECT is(medcrm.run_time_rules('2027-01-01 00:00+00'), 0::bigint,
          'a finding still open is not tasked again (finding code, table and row)');

-- ==== done_at follows status ====
UPDATE medcrm.task SET status = 'done' WHERE dedupe_key = 'r1:opportunity:920002:qualified';
SELECT is((SELECT done_at FROM medcrm.task WHERE dedupe_key = 'r1:opportunity:920002:qualified'), now(),
          'done stamps done_at');
UPDATE medcrm.task SET status = 'open' WHERE dedupe_key = 'r1:opportunity:920002:qualified';
SELECT is((SELECT done_at FROM medcrm.task WHERE dedupe_key = 'r1:opportunity:920002:qualified'), NULL,
          'reopening clears done_at');
UPDATE medcrm.task SET status = 'done', done_at = '2026-01-01 00:00+00' WHERE dedupe_key = 'r1:opportunity:920002:qualified';
SELECT is((SELECT done_at FROM medcrm.task WHERE dedupe_key = 'r1:opportunity:920002:qualified'),
          '2026-01-01 00:00+00'::timestamptz, 'an explicit done_at is kept');
INSERT INTO medcrm.task (kind, title, status) VALUES ('follow_up', 'regress manual', 'done');
SELECT is((SELECT done_at FROM medcrm.task WHERE title = 'regress manual'), now(), 'inserting a done task stamps done_at');

-- ==== writers without INSERT on task ====
CREATE ROLE regress_sales_login; GRANT medcrm_sales TO regress_sales_login;
CREATE ROLE regress_service_login; GRANT medcrm_service TO regress_service_login;
CREATE ROLE regress_quality_login; GRANT medcrm_quality TO regress_quality_login;
INSERT INTO medcrm.sales_territory (role, region) VALUES ('regress_sales_login', 'East');
SELECT is(has_table_privilege('regress_sales_login', 'medcrm.task', 'INSERT')
          OR has_table_privilege('regress_service_login', 'medcrm.task', 'INSERT')
          OR has_table_privilege('regress_quality_login', 'medcrm.task', 'INSERT'), false,
          'sales, service and quality may not insert tasks themselves');
SET ROLE regress_sales_login;
UPDATE medcrm.opportunity SET stage = 'tender' WHERE id = 920001;
RESET ROLE;
SELECT is((SELECT count(*)::int FROM t WHERE source_id = 920001 AND rule_id = 5), 1,
          'a sales login moving a stage gets its follow-up task');
SET ROLE regress_service_login;
INSERT INTO medcrm.work_order (id, account_id, kind, priority, reported_at) VALUES (920009, 920002, 'fault', 1, '2026-04-01 10:00+00');
RESET ROLE;
SELECT results_eq(
  $$SELECT w.response_due_at, w.assigned_team, t.rule_id FROM medcrm.work_order w JOIN t ON t.source_id = w.id AND t.kind = 'dispatch'
     WHERE w.id = 920009$$,
  $$VALUES ('2026-04-01 12:00+00'::timestamptz, 920003::bigint, 20)$$,
  'a service login reporting a fault gets deadlines, routing and the dispatch task');
SET ROLE regress_quality_login;
INSERT INTO medcrm.recall (id, product_id, batch_nos, class, reason) VALUES (920004, 920001, '{L3}', 'II', 'firmware');
RESET ROLE;
SELECT results_eq(
  $$SELECT device_id, rule_id, (SELECT status FROM medcrm.installed_device d WHERE d.id = t.device_id)
      FROM t WHERE kind = 'recall_action' AND source_id = 920004 ORDER BY device_id$$,
  $$VALUES (920006::bigint, 31, 'recalled'), (920007, 31, 'recalled')$$,
  'a quality login opening a recall creates the actions and marks devices it may not update itself');
SELECT is(has_function_privilege('medcrm_sales', 'medcrm.run_time_rules(timestamptz)', 'EXECUTE'), false,
          'run_time_rules is not executable by PUBLIC');

SELECT * FROM finish();
ROLLBACK;
