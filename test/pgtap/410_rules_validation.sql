-- 410_rules_validation.sql — a bad rule is refused when written, with the
-- right SQLSTATE and message; the shipped rules cover every event; literal
-- braces and placeholders render as documented.
BEGIN;
SELECT plan(27);

CREATE FUNCTION pg_temp.add_rule(event text, condition jsonb, tmpl text, assignee text DEFAULT 'owner')
RETURNS text LANGUAGE sql AS $$
  SELECT format('INSERT INTO medcrm.rule (name, event, condition, task_kind, title_template, assignee)'
                ' VALUES (%L, %L, %L, ''follow_up'', %L, %L)',
                'regress ' || md5(random()::text), event, condition, tmpl, assignee)
$$;

-- shipped rules
SELECT is((SELECT count(*)::int FROM medcrm.rule WHERE shipped), 30, 'medcrm ships 30 default rules');
SELECT is((SELECT count(DISTINCT event)::int FROM medcrm.rule WHERE shipped AND enabled), 10,
          'every event has an enabled default rule');
SELECT is((SELECT max(id) FROM medcrm.rule WHERE shipped) < 1000, true, 'shipped rules use the reserved ids below 1000');
SELECT is((SELECT array_agg((condition->>'within_days')::int ORDER BY id) FROM medcrm.rule
            WHERE event = 'contract_renewal' AND shipped), ARRAY[120, 90, 60],
          'renewal windows: 120 days for A, 90 for B, 60 for C, D and untiered');

-- events
SELECT throws_ok(pg_temp.add_rule('moon_phase', '{}', 'x'), '23514', 'unknown rule event "moon_phase"',
                 'an unknown event is refused with 23514');
SELECT throws_ok('INSERT INTO medcrm.rule (name, event, condition, task_kind, title_template) VALUES (''r'', ''recall'', ''[]'', ''follow_up'', ''x'')',
                 '23514', 'rule condition must be a JSON object', 'a condition that is not an object is refused with 23514');

-- conditions
SELECT throws_ok(pg_temp.add_rule('opportunity_stage', '{"colour": "red"}', 'x'), '22023',
                 'unknown condition key "colour" for event opportunity_stage', 'an unknown condition key is refused');
SELECT throws_ok(pg_temp.add_rule('opportunity_stage', '{"stage": "dream"}', 'x'), '22023',
                 'malformed condition key "stage" in a rule of event opportunity_stage', 'an unknown stage is refused');
SELECT throws_ok(pg_temp.add_rule('opportunity_stage', '{"tier": "E"}', 'x'), '22023',
                 'malformed condition key "tier" in a rule of event opportunity_stage', 'an unknown tier is refused');
SELECT throws_ok(pg_temp.add_rule('work_order', '{"priority": "1"}', 'x'), '22023',
                 'malformed condition key "priority" in a rule of event work_order', 'a priority given as a string is refused');
SELECT throws_ok(pg_temp.add_rule('work_order', '{"priority": [1, 5]}', 'x'), '22023',
                 'malformed condition key "priority" in a rule of event work_order', 'a priority out of range is refused');
SELECT throws_ok(pg_temp.add_rule('work_order', '{"kind": []}', 'x'), '22023',
                 'malformed condition key "kind" in a rule of event work_order', 'an empty array is refused');
SELECT throws_ok(pg_temp.add_rule('work_order', '{"kind": {"a": 1}}', 'x'), '22023',
                 'malformed condition key "kind" in a rule of event work_order', 'a nested object is refused');
SELECT throws_ok(pg_temp.add_rule('contract_renewal', '{"within_days": -5}', 'x'), '22023',
                 'malformed condition key "within_days" in a rule of event contract_renewal', 'a negative window is refused');
SELECT throws_ok(pg_temp.add_rule('contract_renewal', '{"within_days": 1.5}', 'x'), '22023',
                 'malformed condition key "within_days" in a rule of event contract_renewal', 'a fractional window is refused');
SELECT throws_ok(pg_temp.add_rule('contract_renewal', '{"tier": "A"}', 'x'), '22023',
                 'rules of event contract_renewal need the condition key "within_days"', 'a renewal rule without window is refused');
SELECT throws_ok(pg_temp.add_rule('recall', '{"stage": "demo"}', 'x'), '22023',
                 'unknown condition key "stage" for event recall', 'a key of another event is refused');

-- templates
SELECT throws_ok(pg_temp.add_rule('recall', '{}', 'Recall {serial} now'), '22023',
                 'unknown placeholder {serial} in title template', 'an unknown placeholder is refused');
SELECT throws_ok(pg_temp.add_rule('recall', '{}', 'Recall {serial_no'), '22023',
                 'unterminated placeholder in title template', 'an unterminated placeholder is refused');
SELECT throws_ok(pg_temp.add_rule('recall', '{}', 'Recall } now'), '22023',
                 'unbalanced "}" in title template', 'a stray closing brace is refused');
SELECT throws_ok(pg_temp.add_rule('tier_change', '{}', 'Renew {contract_no}'), '22023',
                 'unknown placeholder {contract_no} in title template', 'a placeholder of another event is refused');

-- assignees
SELECT throws_ok(pg_temp.add_rule('recall', '{}', 'x', 'regress_nobody'), '22023',
                 'assignee role "regress_nobody" does not exist', 'an assignee role that does not exist is refused');
SELECT throws_ok(pg_temp.add_rule('recall', '{}', 'x', 'team'), '22023',
                 'assignee "team" is only valid for rules of event work_order', 'team outside work orders is refused');

-- updates are validated too, and nothing changes
SELECT throws_ok($$UPDATE medcrm.rule SET condition = '{"tier": "Z"}' WHERE id = 10$$, '22023',
                 'malformed condition key "tier" in a rule of event contract_renewal', 'an UPDATE to a bad condition is refused');
SELECT is((SELECT condition FROM medcrm.rule WHERE id = 10), '{"tier": "A", "within_days": 120}'::jsonb,
          'the refused UPDATE left the rule unchanged');

-- a valid rule is accepted and numbered from 1000; literal braces render
SELECT lives_ok(pg_temp.add_rule('tier_change', '{"new_tier": ["C", null]}', '{{Tier}} {account_name}: {old_tier}->{new_tier} {{{rule_name}}}', 'medcrm_sales'),
                'a valid rule (null in a value list, literal braces) is accepted');
INSERT INTO medcrm.account (id, kind, name) VALUES (910001, 'clinic', 'Brace Clinic');
INSERT INTO medcrm.tier_history (account_id, old_tier, new_tier) VALUES (910001, 'B', 'C');
SELECT is((SELECT title FROM medcrm.task t JOIN medcrm.rule r ON r.id = t.rule_id
            WHERE t.account_id = 910001 AND r.name LIKE 'regress %'),
          '{Tier} Brace Clinic: B->C {' || (SELECT name FROM medcrm.rule WHERE name LIKE 'regress %') || '}',
          'a template renders placeholders and literal braces');

SELECT * FROM finish();
ROLLBACK;
