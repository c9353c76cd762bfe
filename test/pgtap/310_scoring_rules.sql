-- 310_scoring_rules.sql — a tier change is an event: an account that rescore()
-- (or an override) moves into tier A gets its tier_change task through the
-- shipped rule "account enters tier A", exactly once however often rescore()
-- runs; leaving A raises the review task; the task points at the history row.
BEGIN;
SELECT plan(12);

SET LOCAL TimeZone = 'UTC';

INSERT INTO medcrm.tier_model (id, name, version, weights, thresholds) VALUES
 (311, 'rules probe', 1, '{"purchase_value_12m": {"weight": 100, "norm": "cap", "cap": 1000}}',
  '{"A": 80, "B": 50, "C": 20}');
SELECT lives_ok($$SELECT medcrm.activate_model(311)$$, 'activate the probe model');

INSERT INTO medcrm.account (id, kind, name, region, owner_role) VALUES
  (3101, 'hospital', 'Rising Hospital', 'East', 'regress_rep_scoring'),
  (3102, 'clinic', 'Steady Clinic', 'East', 'regress_rep_scoring');
INSERT INTO medcrm.sales_order (account_id, ordered_on, amount, gross_margin) VALUES
  (3101, '2026-03-01', 900, 100), (3102, '2026-03-01', 600, 100);

CREATE TEMP VIEW tier_tasks AS
SELECT t.account_id, t.rule_id, t.title, t.assignee_role::text COLLATE "default" AS assignee, t.source_table,
       t.source_id = h.id AS from_history
  FROM medcrm.task AS t
  LEFT JOIN medcrm.tier_history AS h ON h.id = t.source_id
 WHERE t.kind = 'tier_change' AND t.account_id IN (3101, 3102);

SELECT is(medcrm.rescore(NULL, '2026-07-01'), 2::bigint, 'first rescore: A and B');
SELECT results_eq(
  $$SELECT account_id, rule_id, title, assignee, source_table, from_history FROM tier_tasks$$,
  $$VALUES (3101::bigint, 60, 'Assign a senior account manager to Rising Hospital (now tier A, score 90.0)',
            'medcrm_admin', 'tier_history', true)$$,
  'entering A by rescore: one tier_change task from the history row; B gets none');

SELECT is(medcrm.rescore(NULL, '2026-07-01'), 0::bigint, 'rescore again: no tier change');
SELECT is((SELECT count(*) FROM tier_tasks), 1::bigint, 'and still exactly one task');

INSERT INTO medcrm.sales_order (account_id, ordered_on, amount, gross_margin) VALUES (3101, '2026-04-01', 50, 10);
SELECT is(medcrm.rescore(NULL, '2026-07-01'), 0::bigint, 'a higher score inside A is no tier change');
SELECT is((SELECT count(*) FROM tier_tasks), 1::bigint, 'and raises no task');

-- An override into A is a tier change too.
UPDATE medcrm.account SET tier_override = 'A', tier_override_reason = 'group flagship' WHERE id = 3102;
SELECT results_eq(
  $$SELECT rule_id, title FROM tier_tasks WHERE account_id = 3102$$,
  $$VALUES (60, 'Assign a senior account manager to Steady Clinic (now tier A, score 60.0)')$$,
  'an override into A raises the same task');
SELECT is(medcrm.rescore(NULL, '2026-07-01'), 0::bigint, 'rescore keeps the override');
SELECT is((SELECT count(*) FROM tier_tasks WHERE account_id = 3102), 1::bigint, 'one task for the override');

-- Leaving A raises the review rule.
DELETE FROM medcrm.sales_order WHERE account_id = 3101;
SELECT is(medcrm.rescore(NULL, '2026-07-01'), 1::bigint, 'A to D');
SELECT results_eq(
  $$SELECT rule_id, title FROM tier_tasks WHERE account_id = 3101 ORDER BY rule_id$$,
  $$VALUES (60, 'Assign a senior account manager to Rising Hospital (now tier A, score 90.0)'),
           (61, 'Review Rising Hospital: dropped from tier A to D')$$,
  'dropping from A to D raises the review task');

SELECT * FROM finish();
ROLLBACK;
