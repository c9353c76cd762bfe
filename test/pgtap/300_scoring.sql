-- 300_scoring.sql — tier scoring: factors with hand-computed values, scores
-- and tiers under a small test model (exact values, exactly at each
-- threshold), accounts with no data, explain_tier adding up, overrides,
-- history, and rescore writing nothing the second time.
BEGIN;
SELECT plan(91);

SET LOCAL TimeZone = 'UTC';

-- ---------------------------------------------------------------------------
-- Fixtures: as_of is 2026-07-01 throughout, so "the 12 months before" is
-- [2025-07-01, 2026-07-01) and the 12 before those [2024-07-01, 2025-07-01).
-- ---------------------------------------------------------------------------
INSERT INTO medcrm.product (id, model_code, name, category) VALUES (3001, 'SC-1', 'Scoring probe', 'imaging');

-- 3020: a distributor with data for every factor.
INSERT INTO medcrm.account (id, kind, name, region) VALUES (3020, 'distributor', 'Factor Distributor', 'South');
INSERT INTO medcrm.sales_order (account_id, ordered_on, amount, gross_margin) VALUES
  (3020, '2025-08-15', 1000, 300), (3020, '2025-08-20', 500, 100), (3020, '2026-02-01', 1500, 600),
  (3020, '2025-01-10', 2000, 500),      -- the 12 months before: growth only
  (3020, '2026-07-01', 9999, 9999),     -- on as_of: not yet
  (3020, '2023-01-01', 7777, 7777);     -- too old
INSERT INTO medcrm.work_order (account_id, kind, reported_at, first_response_at, status, labor_hours, cost) VALUES
  (3020, 'fault', '2026-03-01 10:00', '2026-03-01 14:00', 'resolved', 3, 200),
  (3020, 'fault', '2026-05-01 08:00', '2026-05-01 10:00', 'resolved', 1.5, 100),
  (3020, 'fault', '2026-05-02 08:00', NULL, 'cancelled', 9, 1000),
  (3020, 'fault', '2025-06-01 08:00', '2025-06-01 09:00', 'closed', 1, 50);
INSERT INTO medcrm.invoice (account_id, issued_on, due_on, amount, paid_on, paid_amount) VALUES
  (3020, '2026-01-01', '2026-01-31', 100, '2026-01-20', 100),   -- on time
  (3020, '2026-02-01', '2026-02-28', 200, '2026-03-10', 200),   -- 10 days late
  (3020, '2026-05-01', '2026-06-01', 400, NULL, 0),             -- unpaid: 30 days late on as_of
  (3020, '2025-02-01', '2025-03-01', 300, '2025-04-01', 100);   -- old, 200 still open
INSERT INTO medcrm.installed_device (account_id, product_id, serial_no, status, installed_on) VALUES
  (3020, 3001, 'SC-A', 'active', '2024-01-01'), (3020, 3001, 'SC-B', 'active', NULL),
  (3020, 3001, 'SC-C', 'in_repair', '2025-01-01'), (3020, 3001, 'SC-D', 'retired', '2020-01-01'),
  (3020, 3001, 'SC-E', 'active', '2026-08-01');
INSERT INTO medcrm.complaint (account_id, received_at, severity, description, closed_at) VALUES
  (3020, '2026-05-01', 'low', 'open', NULL),
  (3020, '2026-04-01', 'low', 'closed before as_of', '2026-06-15'),
  (3020, '2026-03-01', 'high', 'closed after as_of', '2026-07-15');
INSERT INTO medcrm.task (account_id, kind, title, status, created_at, dedupe_key) VALUES
  (3020, 'recall_action', 'Recall probe', 'open', '2026-06-01', 'scoring-test:1'),
  (3020, 'recall_action', 'Recall probe done', 'done', '2026-05-01', 'scoring-test:2');
UPDATE medcrm.task SET done_at = '2026-05-20' WHERE dedupe_key = 'scoring-test:2';
INSERT INTO medcrm.certificate (kind, number, account_id, valid_from, valid_to) VALUES
  ('distributor_license', 'L-1', 3020, '2024-01-01', '2026-03-01'),
  ('distributor_authorization', 'AU-1', 3020, '2026-01-01', '2027-01-01'),
  ('distributor_authorization', 'AU-2', 3020, '2026-01-01', '2027-01-01');

SELECT results_eq(
  $$SELECT purchase_value_12m, gross_margin_12m, order_count_12m, order_months_12m,
           service_cost_12m, service_hours_12m, days_late_mean, on_time_share, overdue_amount,
           installed_base, grade_points, growth, compliance_issues, coverage, response_hours_mean
      FROM medcrm.account_factors('2026-07-01') WHERE account_id = 3020$$,
  $$VALUES (3000::float8, 1000::float8, 3::bigint, 2::bigint, 300::float8, 4.5::float8,
            40::float8 / 3, 1::float8 / 3, 600::float8, 3::bigint, NULL::float8, 0.5::float8,
            4::bigint, 2::bigint, 3::float8)$$,
  'account_factors: every factor of a distributor, hand-computed');

-- The test model: four factors, thresholds A 80, B 50, C 20, East +5.
INSERT INTO medcrm.tier_model (id, name, version, weights, thresholds, adjustments) VALUES
 (301, 'test', 1,
  '{"purchase_value_12m": {"weight": 40, "norm": "cap", "cap": 1000},
    "on_time_share":      {"weight": 30, "norm": "cap", "cap": 1, "missing": 0},
    "compliance_issues":  {"weight": 20, "norm": "cap", "cap": 4, "direction": "lower"},
    "grade_points":       {"weight": 10, "norm": "cap", "cap": 100, "missing": 0.5}}',
  '{"A": 80, "B": 50, "C": 20}',
  '[{"region": "East", "add": 5, "label": "East tender season"}]');

-- Accounts for the test model. Base of a West clinic without invoices or
-- complaints: compliance 20 + grade missing 5 = 25 points.
INSERT INTO medcrm.account (id, kind, name, region, hospital_grade) VALUES
  (3001, 'hospital', 'East 3A', 'East', '3A'),
  (3002, 'clinic', 'West clinic', 'West', NULL),
  (3003, 'clinic', 'No data clinic', 'North', NULL),
  (3004, 'hospital', 'East 3A over the top', 'East', '3A'),
  (3005, 'clinic', 'Merged duplicate', 'West', NULL),
  (3006, 'clinic', 'Rounding clinic', 'West', NULL),
  (3011, 'clinic', 'At B', 'West', NULL), (3012, 'clinic', 'Just below B', 'West', NULL),
  (3013, 'clinic', 'At A', 'West', NULL), (3014, 'clinic', 'Just below A', 'West', NULL),
  (3015, 'distributor', 'At C', 'West', NULL), (3016, 'distributor', 'Just below C', 'West', NULL);
UPDATE medcrm.account SET merged_into = 3002 WHERE id = 3005;
INSERT INTO medcrm.sales_order (account_id, ordered_on, amount, gross_margin) VALUES
  (3001, '2026-01-10', 600, 100), (3001, '2026-03-10', 400, 100),
  (3002, '2026-02-01', 250, 50), (3004, '2026-02-01', 1000, 100), (3005, '2026-02-01', 999, 1),
  (3006, '2026-02-01', 333.33, 1),
  (3011, '2026-02-01', 625, 1), (3012, '2026-02-01', 624.97, 1),
  (3013, '2026-02-01', 1000, 1), (3014, '2026-02-01', 999.97, 1),
  (3015, '2026-02-01', 375, 1), (3016, '2026-02-01', 374.98, 1);
INSERT INTO medcrm.invoice (account_id, issued_on, due_on, amount, paid_on, paid_amount)
SELECT a, '2026-01-01', '2026-02-01', 10, CASE WHEN on_time THEN date '2026-01-15' END,
       CASE WHEN on_time THEN 10 ELSE 0 END
  FROM (VALUES (3001, true), (3001, true), (3004, true),
               (3002, true), (3002, true), (3002, true), (3002, false),
               (3006, true), (3006, false), (3006, false),
               (3013, true), (3013, false), (3014, true), (3014, false)) AS v(a, on_time);
INSERT INTO medcrm.complaint (account_id, received_at, severity, description)
SELECT a, '2026-01-01', 'low', 'probe'
  FROM (VALUES (3001), (3015), (3015), (3015), (3015), (3016), (3016), (3016), (3016)) AS v(a);

-- ---------------------------------------------------------------------------
-- Scores: hand-computed
-- ---------------------------------------------------------------------------
SELECT is(medcrm.score_account(3001, 301, '2026-07-01'), 100.000,
          '3001: 40 + 30 + 15 (1 of 4 issues) + 10 + 5 (East) = 100');
SELECT is(medcrm.score_account(3004, 301, '2026-07-01'), 100.000,
          '3004: 105 is kept at 100');
SELECT is(medcrm.score_account(3002, 301, '2026-07-01'), 57.500,
          '3002: 10 + 22.5 (3 of 4 on time) + 20 + 5 (grade missing) = 57.5');
SELECT is(medcrm.score_account(3006, 301, '2026-07-01'), 48.333,
          '3006: 13.333 (333.33 of 1000, rounded once) + 10 + 20 + 5 = 48.333');
SELECT is(medcrm.score_account(3003, 301, '2026-07-01'), 25.000,
          'no data: compliance 20 (no issue) + grade missing 5 = 25 under the test model');
SELECT is(medcrm.score_account(3003, 1, '2026-07-01'), 18.900,
          'no data under the default model: 8 (no service cost) + 2.4 + 3.5 + 5 = 18.9 (tier D)');
SELECT is(medcrm.score_account(3011, 301, '2026-07-01'), 50.000, 'exactly at B: 50.000');
SELECT is(medcrm.score_account(3012, 301, '2026-07-01'), 49.999, 'just below B: 49.999');
SELECT is(medcrm.score_account(3013, 301, '2026-07-01'), 80.000, 'exactly at A: 80.000');
SELECT is(medcrm.score_account(3014, 301, '2026-07-01'), 79.999, 'just below A: 79.999');
SELECT is(medcrm.score_account(3015, 301, '2026-07-01'), 20.000, 'exactly at C: 20.000');
SELECT is(medcrm.score_account(3016, 301, '2026-07-01'), 19.999, 'just below C: 19.999');
SELECT is(medcrm.score_account(NULL, 301), NULL, 'NULL account: NULL score');

SELECT throws_ok($$SELECT medcrm.score_account(3005, 301, '2026-07-01')$$, '22023',
                 'account 3005 was merged into account 3002', 'merged accounts are not scored');
SELECT throws_ok($$SELECT medcrm.score_account(99999, 301)$$, '22023',
                 'account 99999 does not exist', 'unknown account');
SELECT throws_ok($$SELECT medcrm.score_account(3001, 99999)$$, '42704',
                 'tier model 99999 does not exist', 'unknown model');

-- ---------------------------------------------------------------------------
-- explain_tier
-- ---------------------------------------------------------------------------
SELECT results_eq(
  $$SELECT factor, raw_value, normalized, weight, contribution
      FROM medcrm.explain_tier(3001, 301, '2026-07-01')$$,
  $$VALUES ('purchase_value_12m', 1000::numeric, 1.000000, 40::numeric, 40.000),
           ('on_time_share', 1::numeric, 1.000000, 30::numeric, 30.000),
           ('grade_points', 100::numeric, 1.000000, 10::numeric, 10.000),
           ('compliance_issues', 1::numeric, 0.750000, 20::numeric, 15.000),
           ('adjustment: East tender season', NULL, NULL, NULL, 5.000),
           ('tier', NULL, NULL, NULL, 0.000)$$,
  'explain_tier: each factor raw, normalised, weight, contribution; the adjustment; the tier');
SELECT is((SELECT detail FROM medcrm.explain_tier(3001, 301, '2026-07-01') WHERE factor = 'tier'),
          'score 100.000 gives tier A under model 301 (A from 80.000, B from 50.000, C from 20.000)',
          'explain_tier: the tier row says how the score maps to the tier');
SELECT is((SELECT contribution FROM medcrm.explain_tier(3004, 301, '2026-07-01') WHERE factor = 'bounds'),
          -5.000, 'explain_tier: a score above 100 shows a bounds row');
SELECT is((SELECT detail FROM medcrm.explain_tier(3002, 301, '2026-07-01') WHERE factor = 'grade_points'),
          'cap 100, higher is better; no value, counted as 0.5', 'explain_tier: a missing value says so');
SELECT is_empty(
  $$SELECT a.id FROM medcrm.account a
     WHERE a.merged_into IS NULL AND a.id BETWEEN 3001 AND 3020
       AND (SELECT sum(contribution) FROM medcrm.explain_tier(a.id, 301, '2026-07-01'))
           IS DISTINCT FROM medcrm.score_account(a.id, 301, '2026-07-01')$$,
  'explain_tier: contributions sum to the score exactly, for every test account');
SELECT is_empty(
  $$SELECT a.id FROM medcrm.account a
     WHERE a.merged_into IS NULL AND a.id BETWEEN 3001 AND 3020
       AND (SELECT sum(contribution) FROM medcrm.explain_tier(a.id, NULL, '2026-07-01'))
           IS DISTINCT FROM medcrm.score_account(a.id, NULL, '2026-07-01')$$,
  'explain_tier: contributions sum to the score exactly under the default model too');

-- score_factors over a row of factors equals score_account.
SELECT is((SELECT medcrm.score_factors(f, 301) FROM medcrm.account_factors('2026-07-01') f
            WHERE f.account_id = 3002), 57.500, 'score_factors of a factors row');
SELECT is((SELECT medcrm.score_factors(t, 301)
             FROM (VALUES (625::float8, NULL::float8, 0::bigint, NULL::float8, 'West'::text))
                  AS t(purchase_value_12m, on_time_share, compliance_issues, grade_points, region)),
          50.000, 'score_factors of any row with the factor column names');
SELECT throws_ok($$SELECT medcrm.score_factors(t, 301) FROM (VALUES (1::float8)) AS t(growth)$$,
                 '42703', 'row has no factor column "purchase_value_12m"',
                 'score_factors: a row without a factor the model weighs');

-- ---------------------------------------------------------------------------
-- activate_model and rescore
-- ---------------------------------------------------------------------------
SELECT lives_ok($$SELECT medcrm.activate_model(301)$$, 'activate the test model');
SELECT results_eq($$SELECT id, activated_at IS NOT NULL FROM medcrm.tier_model WHERE active$$,
                  $$VALUES (301, true)$$, 'the test model is the only active one and is stamped');

-- Only the test accounts take part: park every other account (fixtures of
-- other files) as merged so that counts are exact.
CREATE TEMP TABLE other_accounts ON COMMIT DROP AS
SELECT id FROM medcrm.account WHERE id NOT BETWEEN 3001 AND 3020 AND merged_into IS NULL;
UPDATE medcrm.account SET merged_into = 3002 WHERE id IN (SELECT id FROM other_accounts);

-- Batches of 5 changed accounts: the first rescore writes in three UPDATEs.
SET LOCAL medcrm.rescore_batch_size = 5;
SELECT is(medcrm.rescore(NULL, '2026-07-01'), 12::bigint, 'first rescore: 12 accounts get a tier');
SELECT results_eq(
  $$SELECT id, tier, tier_score, tier_model_id FROM medcrm.account
     WHERE id BETWEEN 3001 AND 3020 ORDER BY id$$,
  $$VALUES (3001::bigint, 'A', 100.000, 301), (3002, 'B', 57.500, 301), (3003, 'C', 25.000, 301),
           (3004, 'A', 100.000, 301), (3005, NULL, NULL, NULL), (3006, 'C', 48.333, 301),
           (3011, 'B', 50.000, 301), (3012, 'C', 49.999, 301),
           (3013, 'A', 80.000, 301), (3014, 'B', 79.999, 301),
           (3015, 'C', 20.000, 301), (3016, 'D', 19.999, 301),
           (3020, 'B', 55.000, 301)$$,
  'tiers and scores after rescore, threshold values included; the merged account untouched');
SELECT results_eq(
  $$SELECT account_id, old_tier, new_tier, score, model_id, reason FROM medcrm.tier_history
     WHERE account_id BETWEEN 3001 AND 3020 ORDER BY account_id$$,
  $$VALUES (3001::bigint, NULL, 'A', 100.000, 301, 'rescore'), (3002, NULL, 'B', 57.500, 301, 'rescore'),
           (3003, NULL, 'C', 25.000, 301, 'rescore'), (3004, NULL, 'A', 100.000, 301, 'rescore'),
           (3006, NULL, 'C', 48.333, 301, 'rescore'), (3011, NULL, 'B', 50.000, 301, 'rescore'),
           (3012, NULL, 'C', 49.999, 301, 'rescore'), (3013, NULL, 'A', 80.000, 301, 'rescore'),
           (3014, NULL, 'B', 79.999, 301, 'rescore'), (3015, NULL, 'C', 20.000, 301, 'rescore'),
           (3016, NULL, 'D', 19.999, 301, 'rescore'), (3020, NULL, 'B', 55.000, 301, 'rescore')$$,
  'tier_history: one row per account that got a tier, with the model');

-- Twice: nothing changes, no row is even rewritten.
CREATE TEMP TABLE before_second ON COMMIT DROP AS
SELECT id, xmin::text AS x, tiered_at FROM medcrm.account WHERE id BETWEEN 3001 AND 3020;
SELECT is(medcrm.rescore(NULL, '2026-07-01'), 0::bigint, 'second rescore: no tier changes');
SELECT is_empty(
  $$SELECT a.id FROM medcrm.account a JOIN before_second b USING (id)
     WHERE a.xmin::text <> b.x OR a.tiered_at IS DISTINCT FROM b.tiered_at$$,
  'second rescore: no account row was updated');
SELECT is((SELECT count(*) FROM medcrm.tier_history WHERE account_id BETWEEN 3001 AND 3020),
          12::bigint, 'second rescore: no history row');

-- A score change within the tier: the account is updated, no history row.
INSERT INTO medcrm.sales_order (account_id, ordered_on, amount, gross_margin) VALUES (3002, '2026-03-01', 100, 1);
SELECT is(medcrm.rescore(NULL, '2026-07-01'), 0::bigint, 'a score change inside B changes no tier');
SELECT results_eq($$SELECT tier, tier_score FROM medcrm.account WHERE id = 3002$$,
                  $$VALUES ('B', 61.500)$$, 'the new score is stored');
SELECT is((SELECT count(*) FROM medcrm.tier_history WHERE account_id = 3002), 1::bigint,
          'no history row for a score change inside a tier');

-- Crossing a threshold: history row, counted.
INSERT INTO medcrm.sales_order (account_id, ordered_on, amount, gross_margin) VALUES (3012, '2026-03-01', 0.03, 0);
SELECT is(medcrm.rescore(NULL, '2026-07-01'), 1::bigint, '49.999 to 50.000: one tier change');
SELECT results_eq(
  $$SELECT old_tier, new_tier, score, model_id, reason FROM medcrm.tier_history
     WHERE account_id = 3012 ORDER BY id DESC LIMIT 1$$,
  $$VALUES ('C', 'B', 50.000, 301, 'rescore')$$, 'the history row of the change');

-- ---------------------------------------------------------------------------
-- Overrides
-- ---------------------------------------------------------------------------
UPDATE medcrm.account SET tier_override = 'A', tier_override_reason = 'provincial key account' WHERE id = 3002;
SELECT results_eq(
  $$SELECT old_tier, new_tier, score, model_id, reason FROM medcrm.tier_history
     WHERE account_id = 3002 ORDER BY id DESC LIMIT 1$$,
  $$VALUES ('B', 'A', 61.500, NULL::integer, 'override: provincial key account')$$,
  'an override is a tier change in the history, without a model');
SELECT is(medcrm.rescore(NULL, '2026-07-01'), 0::bigint, 'rescore keeps the override');
SELECT results_eq($$SELECT tier, tier_override, tier_score FROM medcrm.account WHERE id = 3002$$,
                  $$VALUES ('B', 'A', 61.500)$$, 'computed tier and override both kept');
SELECT is((SELECT detail FROM medcrm.explain_tier(3002, NULL, '2026-07-01') WHERE factor = 'override'),
          'tier A set by hand wins over the computed tier B: provincial key account',
          'explain_tier shows the override as a row');
SELECT is((SELECT sum(contribution) FROM medcrm.explain_tier(3002, NULL, '2026-07-01')), 61.500,
          'the override row does not change the sum');

-- Under an override, a computed change is stored but is no tier change.
INSERT INTO medcrm.sales_order (account_id, ordered_on, amount, gross_margin) VALUES (3002, '2026-03-02', 650, 1);
SELECT is(medcrm.rescore(NULL, '2026-07-01'), 0::bigint, 'computed B to A under an A override: no change');
SELECT results_eq($$SELECT tier, tier_score FROM medcrm.account WHERE id = 3002$$,
                  $$VALUES ('A', 87.500)$$, 'the computed tier follows underneath');
SELECT is((SELECT count(*) FROM medcrm.tier_history WHERE account_id = 3002), 2::bigint,
          'no history row while the override holds the tier');
DELETE FROM medcrm.sales_order WHERE account_id = 3002 AND ordered_on = '2026-03-02';
SELECT is(medcrm.rescore(NULL, '2026-07-01'), 0::bigint, 'and back to B, still under the override');

UPDATE medcrm.account SET tier_override = NULL, tier_override_reason = NULL WHERE id = 3002;
SELECT results_eq(
  $$SELECT old_tier, new_tier, model_id, reason FROM medcrm.tier_history
     WHERE account_id = 3002 ORDER BY id DESC LIMIT 1$$,
  $$VALUES ('A', 'B', 301, 'override removed')$$, 'removing the override returns to the computed tier');

-- ---------------------------------------------------------------------------
-- Invalid models: refused with the SQLSTATE, nothing changes
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE bad_model (id int, weights jsonb, thresholds jsonb, adjustments jsonb,
                             sqlstate text, message text) ON COMMIT DROP;
INSERT INTO bad_model VALUES
 (401, '{"foo": {"weight": 100, "norm": "cap", "cap": 1}}', '{"A": 80, "B": 50, "C": 20}', '[]',
  '22023', 'invalid tier model 401: unknown factor "foo"'),
 (402, '{"growth": {"weight": -10, "norm": "cap", "cap": 1}, "coverage": {"weight": 110, "norm": "cap", "cap": 1}}',
  '{"A": 80, "B": 50, "C": 20}', '[]', '23514', 'invalid tier model 402: weights.growth.weight is negative'),
 (403, '{"growth": {"weight": 100, "norm": "cap", "cap": 1}}', '{"A": 50, "B": 50, "C": 20}', '[]',
  '23514', 'invalid tier model 403: thresholds are not strictly decreasing'),
 (404, '{"growth": {"weight": 100, "norm": "cap", "cap": 1}}', '{"A": 50, "B": 60, "C": 20}', '[]',
  '23514', 'invalid tier model 404: thresholds are not strictly decreasing'),
 (405, '[1, 2]', '{"A": 80, "B": 50, "C": 20}', '[]',
  '22023', 'invalid tier model 405: weights is not a JSON object'),
 (406, '"text"', '{"A": 80, "B": 50, "C": 20}', '[]',
  '22023', 'invalid tier model 406: weights is not a JSON object'),
 (407, '{"growth": {"weight": 100, "norm": "cap", "cap": 1}}', '{"A": 80, "B": 50}', '[]',
  '22023', 'invalid tier model 407: thresholds has no "C"'),
 (408, '{"growth": {"weight": 100, "norm": "cap", "cap": 1}}', '{"A": 80, "B": 50, "C": 20, "D": 0}', '[]',
  '22023', 'invalid tier model 408: unknown key "D" in thresholds'),
 (409, '{"growth": {"weight": 90, "norm": "cap", "cap": 1}}', '{"A": 80, "B": 50, "C": 20}', '[]',
  '23514', 'invalid tier model 409: weights do not sum to 100'),
 (410, '{"growth": {"weight": 100, "norm": "sqrt", "cap": 1}}', '{"A": 80, "B": 50, "C": 20}', '[]',
  '22023', 'invalid tier model 410: unknown normalisation "sqrt" in weights.growth'),
 (411, '{"growth": {"weight": 100, "norm": "log", "cap": 0}}', '{"A": 80, "B": 50, "C": 20}', '[]',
  '23514', 'invalid tier model 411: weights.growth.cap is not positive'),
 (412, '{"growth": {"weight": 100, "norm": "range", "min": 1, "max": 1}}', '{"A": 80, "B": 50, "C": 20}', '[]',
  '23514', 'invalid tier model 412: weights.growth.min is not below max'),
 (413, '{"growth": {"weight": 100, "norm": "percentile", "breakpoints": [0, 5, 3]}}', '{"A": 80, "B": 50, "C": 20}', '[]',
  '23514', 'invalid tier model 413: weights.growth.breakpoints decrease'),
 (414, '{"growth": {"weight": 100, "norm": "cap", "cap": 1, "missing": 2}}', '{"A": 80, "B": 50, "C": 20}', '[]',
  '23514', 'invalid tier model 414: weights.growth.missing is outside [0, 1]'),
 (415, '{"growth": {"weight": 100, "norm": "cap", "cap": 1, "direction": "up"}}', '{"A": 80, "B": 50, "C": 20}', '[]',
  '22023', 'invalid tier model 415: unknown direction "up" in weights.growth'),
 (416, '{"growth": {"weight": "100", "norm": "cap", "cap": 1}}', '{"A": 80, "B": 50, "C": 20}', '[]',
  '22023', 'invalid tier model 416: weights.growth.weight is not a number'),
 (417, '{"growth": {"weight": 100, "norm": "cap", "cap": 1}}', '{"A": 180, "B": 50, "C": 20}', '[]',
  '23514', 'invalid tier model 417: threshold A is outside [0, 100]'),
 (418, '{"growth": {"weight": 100, "norm": "cap", "cap": 1}}', '{"A": 80, "B": 50, "C": 20}', '{"region": "East"}',
  '22023', 'invalid tier model 418: adjustments is not a JSON array'),
 (419, '{"growth": {"weight": 100, "norm": "cap", "cap": 1}}', '{"A": 80, "B": 50, "C": 20}', '[{"planet": "Mars", "add": 5}]',
  '22023', 'invalid tier model 419: unknown key "planet" in adjustments[0]'),
 (420, '{"growth": {"weight": 100, "norm": "cap", "cap": 1}}', '{"A": 80, "B": 50, "C": 20}', '[{"add": 5}]',
  '22023', 'invalid tier model 420: adjustments[0] matches no segment'),
 (421, '{"growth": {"weight": 100, "norm": "cap", "cap": 1}}', '{"A": 80, "B": 50, "C": 20}', '[{"region": "East", "add": 500}]',
  '23514', 'invalid tier model 421: adjustments[0].add is outside [-100, 100]'),
 (422, '{"growth": {"weight": 100, "norm": "cap", "cap": 1}}', '{"A": 80, "B": 50, "C": 20}', '[{"region": "East", "add": 5, "from": "2026-02-30"}]',
  '22023', 'invalid tier model 422: adjustments[0].from is not a date'),
 (423, '{"growth": {"weight": 100, "norm": "cap", "cap": 1, "kap": 2}}', '{"A": 80, "B": 50, "C": 20}', '[]',
  '22023', 'invalid tier model 423: unknown key "kap" in weights.growth'),
 (424, '{}', '{"A": 80, "B": 50, "C": 20}', '[]',
  '22023', 'invalid tier model 424: weights names no factor');
INSERT INTO medcrm.tier_model (id, name, version, weights, thresholds, adjustments)
SELECT id, 'bad', id, weights, thresholds, adjustments FROM bad_model;

CREATE TEMP TABLE model_state ON COMMIT DROP AS
SELECT id, active, activated_at FROM medcrm.tier_model;
SELECT throws_ok(format('SELECT medcrm.activate_model(%s)', id), sqlstate, message,
                 'refused: ' || message)
  FROM bad_model ORDER BY id;
SELECT is_empty(
  $$SELECT id FROM medcrm.tier_model m FULL JOIN model_state s USING (id)
     WHERE m.active IS DISTINCT FROM s.active OR m.activated_at IS DISTINCT FROM s.activated_at$$,
  'after every refusal the active model is unchanged');
SELECT throws_ok($$UPDATE medcrm.tier_model SET active = (id = 403) WHERE id IN (301, 403)$$, '23514',
                 'invalid tier model 403: thresholds are not strictly decreasing',
                 'a plain UPDATE cannot activate an invalid model either');
SELECT throws_ok($$SELECT medcrm.rescore(409)$$, '23514',
                 'invalid tier model 409: weights do not sum to 100', 'nor can rescore use one');
SELECT throws_ok($$SELECT medcrm.activate_model(NULL)$$, '22004', 'model id must not be NULL',
                 'activate_model(NULL)');
SELECT throws_ok($$SELECT medcrm.activate_model(99999)$$, '42704', 'tier model 99999 does not exist',
                 'activate_model of a missing model');

-- ---------------------------------------------------------------------------
-- A new model version: recalibrated percentiles, activation, rescore
-- ---------------------------------------------------------------------------
SELECT is(medcrm.factor_quantiles('purchase_value_12m', '2026-07-01', 4),
          (SELECT percentile_cont(ARRAY[0, 0.25, 0.5, 0.75, 1]::float8[]) WITHIN GROUP (ORDER BY purchase_value_12m)
             FROM medcrm.account_factors('2026-07-01')),
          'factor_quantiles: quartiles of a factor');
SELECT throws_ok($$SELECT medcrm.factor_quantiles('kind')$$, '22023', 'unknown factor ''kind''',
                 'factor_quantiles refuses a non-factor column');
INSERT INTO medcrm.tier_model (id, name, version, weights, thresholds, adjustments) VALUES
 (302, 'test', 2,
  jsonb_build_object('purchase_value_12m',
                     jsonb_build_object('weight', 100, 'norm', 'percentile',
                                        'breakpoints', '[0, 250, 500, 1000]'::jsonb)),
  '{"A": 90, "B": 50, "C": 20}', '[]');
SELECT is(medcrm.score_account(3006, 302, '2026-07-01'), 44.444,
          'percentile: 333.33 lies a third into the second of three intervals: (1 + 0.33332) / 3');
SELECT lives_ok($$SELECT medcrm.activate_model(302)$$, 'activate version 2');
SELECT results_eq($$SELECT id FROM medcrm.tier_model WHERE active$$, $$VALUES (302)$$,
                  'version 2 is the only active model');
SELECT is(medcrm.rescore(NULL, '2026-07-01'), 6::bigint,
          'rescore under version 2: 3002 B>C, 3003 C>D, 3014 B>A, 3015 C>B, 3016 D>C, 3020 B>A');
SELECT is((SELECT count(*) FROM medcrm.account WHERE id BETWEEN 3001 AND 3020 AND merged_into IS NULL
             AND tier_model_id IS DISTINCT FROM 302), 0::bigint,
          'every scored account now carries version 2');
SELECT is((SELECT count(*) FROM medcrm.tier_history WHERE model_id = 302), 6::bigint,
          'the changes are recorded with version 2');

-- ---------------------------------------------------------------------------
-- Hostile search_path and privileges
-- ---------------------------------------------------------------------------
CREATE SCHEMA regress_evil;
CREATE FUNCTION regress_evil.trap(bigint, bigint) RETURNS boolean LANGUAGE plpgsql
    AS $$BEGIN RAISE EXCEPTION 'hostile operator used'; END$$;
CREATE OPERATOR regress_evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = regress_evil.trap);
CREATE TABLE regress_evil.account (id bigint);
CREATE TEMP TABLE hostile (step int, result text) ON COMMIT DROP;
SET LOCAL search_path = regress_evil, pg_catalog;
INSERT INTO pg_temp.hostile VALUES (1, medcrm.score_account(3011, 301, '2026-07-01')::text);
INSERT INTO pg_temp.hostile
SELECT 2, string_agg(factor || ':' || contribution::text, ',') FROM medcrm.explain_tier(3001, 301, '2026-07-01');
INSERT INTO pg_temp.hostile VALUES (3, medcrm.rescore(301, '2026-07-01')::text);
INSERT INTO pg_temp.hostile VALUES (4, medcrm.rescore(301, '2026-07-01')::text);
INSERT INTO pg_temp.hostile
SELECT 5, count(*)::text FROM medcrm.account_factors('2026-07-01') AS f WHERE f.account_id OPERATOR(pg_catalog.=) 3020;
RESET search_path;
SELECT results_eq($$SELECT step, result FROM hostile ORDER BY step$$,
  $$VALUES (1, '50.000'),
           (2, 'purchase_value_12m:40.000,on_time_share:30.000,grade_points:10.000,compliance_issues:15.000,adjustment: East tender season:5.000,tier:0.000'),
           (3, '6'), (4, '0'), (5, '1')$$,
  'under a hostile search_path (an = on bigint that raises): score, explain, rescore twice, factors');

-- Row-level security: a sales role scores only accounts of its territory.
INSERT INTO medcrm.sales_territory (role, region) VALUES ('medcrm_sales', 'West');
SET LOCAL ROLE medcrm_sales;
SELECT is(medcrm.score_account(3011, 301, '2026-07-01'), 50.000, 'medcrm_sales may score an account of its territory');
SELECT throws_ok($$SELECT medcrm.score_account(3001, 301, '2026-07-01')$$, '22023',
                 'account 3001 does not exist', 'but not one outside it (row-level security)');
SELECT throws_ok($$SELECT medcrm.rescore()$$, '42501', NULL, 'medcrm_sales may not rescore');
SELECT throws_ok($$SELECT medcrm.activate_model(301)$$, '42501', NULL, 'medcrm_sales may not activate');
RESET ROLE;

UPDATE medcrm.account SET merged_into = NULL WHERE id IN (SELECT id FROM other_accounts);

SELECT * FROM finish();
ROLLBACK;
