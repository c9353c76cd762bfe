#!/usr/bin/env bash
# 30-rules.sh — rule-driven tasks: the clock and live changes create tasks (out/tasks_by_kind.txt, out/tasks_sample.txt).
#
# The demo data is loaded with triggers quiet (as a restore is), so this step
# makes the rules act on it: medcrm.run_time_rules() for what time triggers
# (renewal windows, expiries, overdue loans, SLA breaches), then a few live
# changes as applications would make them: opportunities move to their next
# stage, faults are reported, a recall is opened on a batch, a sample is lent,
# an account enters tier A. Prints the tasks created per kind.
set -euo pipefail
out=${MEDCRM_OUT:?}
psql -X -q -v ON_ERROR_STOP=1 -v OUT="$out" <<'SQL'
CREATE TEMP TABLE demo_step (step text, tasks bigint);
INSERT INTO demo_step SELECT 'before', count(*) FROM medcrm.task;

-- 1. what time alone triggers
INSERT INTO demo_step SELECT 'run_time_rules', medcrm.run_time_rules();

-- 2. live changes: 25 opportunities move to their next stage
WITH next(stage, next_stage) AS (
  VALUES ('lead', 'qualified'), ('qualified', 'demo'), ('demo', 'trial'), ('trial', 'tender'),
         ('tender', 'negotiation'), ('negotiation', 'won')),
moved AS (
  SELECT o.id, n.next_stage FROM medcrm.opportunity o JOIN next n ON n.stage = o.stage
   ORDER BY o.id LIMIT 25)
UPDATE medcrm.opportunity o
   SET stage = m.next_stage, closed_on = CASE WHEN m.next_stage = 'won' THEN current_date END
  FROM moved m WHERE o.id = m.id;

-- faults reported on 10 installed devices (priority 1 and 3)
INSERT INTO medcrm.work_order (account_id, device_id, kind, priority, reported_at)
SELECT d.account_id, d.id, 'fault', CASE WHEN d.id % 2 = 0 THEN 1 ELSE 3 END, now() - interval '1 hour'
  FROM medcrm.installed_device d WHERE d.status = 'active' ORDER BY d.id LIMIT 10;

-- a class II recall on the batch with the most active devices
INSERT INTO medcrm.recall (product_id, batch_nos, class, reason)
SELECT product_id, ARRAY[batch_no], 'II', 'demo: supplier reported a faulty power unit'
  FROM medcrm.installed_device
 WHERE batch_no IS NOT NULL AND status = 'active'
 GROUP BY product_id, batch_no ORDER BY count(*) DESC, product_id, batch_no LIMIT 1;

-- the recall already in the data (loaded with triggers quiet, as an import is)
-- reaches its sites too, and the field team has closed half of its actions
UPDATE medcrm.recall SET reason = reason WHERE reason NOT LIKE 'demo:%';
UPDATE medcrm.task AS t SET status = 'done', done_at = r.opened_at + interval '10 days'
  FROM medcrm.recall AS r
 WHERE t.kind = 'recall_action' AND t.source_table = 'recall' AND t.source_id = r.id
   AND r.reason NOT LIKE 'demo:%' AND t.id % 2 = 0;

-- a sample lent for a trial
INSERT INTO medcrm.sample_loan (account_id, product_id, serial_no, lent_on, due_back_on)
SELECT a.id, p.id, 'DEMO-SAMPLE-' || a.id, current_date, current_date + 30
  FROM medcrm.account a CROSS JOIN LATERAL (SELECT id FROM medcrm.product ORDER BY id LIMIT 1) p
 WHERE a.kind = 'hospital' AND a.merged_into IS NULL ORDER BY a.id LIMIT 1;

-- an account enters tier A (the scoring capability records this on every tier change)
INSERT INTO medcrm.tier_history (account_id, old_tier, new_tier, score, reason)
SELECT id, coalesce(tier_override, tier), 'A', 88, 'demo'
  FROM medcrm.account WHERE coalesce(tier_override, tier) IS DISTINCT FROM 'A' AND merged_into IS NULL
 ORDER BY id LIMIT 1;

-- running the clock again changes nothing: exactly once
INSERT INTO demo_step SELECT 'run_time_rules again', medcrm.run_time_rules();
INSERT INTO demo_step SELECT 'after', count(*) FROM medcrm.task;

\pset footer off
\o :OUT/tasks_by_kind.txt
SELECT kind, count(*) AS tasks, count(*) FILTER (WHERE status = 'open') AS open,
       count(*) FILTER (WHERE due_at < now() AND status = 'open') AS overdue,
       min(due_at)::date AS first_due, max(due_at)::date AS last_due
  FROM medcrm.task GROUP BY kind ORDER BY kind;
SELECT step, tasks FROM demo_step;
\o :OUT/tasks_sample.txt
SELECT DISTINCT ON (t.kind) t.kind, t.title, t.due_at::date AS due, t.assignee_role, t.priority, r.name AS rule
  FROM medcrm.task t LEFT JOIN medcrm.rule r ON r.id = t.rule_id
 ORDER BY t.kind, t.id DESC;
SELECT w.id AS work_order, w.priority, a.service_level, w.reported_at, w.response_due_at, w.resolve_due_at,
       st.name AS team
  FROM medcrm.work_order w JOIN medcrm.account a ON a.id = w.account_id
  LEFT JOIN medcrm.service_team st ON st.id = w.assigned_team
 ORDER BY w.id DESC LIMIT 10;
\o
SELECT (SELECT tasks FROM demo_step WHERE step = 'run_time_rules') AS by_clock,
       (SELECT tasks FROM demo_step WHERE step = 'after') - (SELECT tasks FROM demo_step WHERE step = 'before')
         - (SELECT tasks FROM demo_step WHERE step = 'run_time_rules') AS by_changes,
       (SELECT tasks FROM demo_step WHERE step = 'run_time_rules again') AS again \gset
\echo '   run_time_rules created' :by_clock 'tasks; the live changes created' :by_changes 'more; running the clock again created' :again
SQL
psql -X -qAt -v ON_ERROR_STOP=1 -c "SELECT '   tasks per kind: ' || string_agg(kind || ' ' || n, ', ' ORDER BY kind) FROM (SELECT kind, count(*) AS n FROM medcrm.task GROUP BY kind) k"
