-- 750_governance_dq_tasks.sql — medcrm.run_time_rules() turns every
-- v_data_quality finding into exactly one data_quality task, and a second run
-- creates none (dedupe on finding_code + table_name + row_id).
BEGIN;
SELECT plan(4);
\ir ../fixtures/one_row_each.sql

INSERT INTO medcrm.account (id, kind, name, city, lifecycle_stage) VALUES
  (950001, 'hospital', 'Task Test Hospital', 'Suzhou', 'active');
INSERT INTO medcrm.contract (id, account_id, contract_no, kind, starts_on, ends_on) VALUES
  (950001, 950001, 'DQ-TASK-1', 'service', '2026-06-01', '2026-05-31');
INSERT INTO medcrm.invoice (id, account_id, issued_on, due_on, amount, paid_on, paid_amount) VALUES
  (950001, 950001, '2026-01-01', '2026-02-01', 100, '2026-01-15', 150);

CREATE FUNCTION pg_temp.dq_task_checks() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  findings bigint;
  tasks1   bigint;
  tasks2   bigint;
  created2 bigint;
BEGIN
  SELECT count(*) INTO findings FROM medcrm.v_data_quality;
  PERFORM medcrm.run_time_rules();
  SELECT count(*) INTO tasks1 FROM medcrm.task WHERE kind = 'data_quality';
  created2 := medcrm.run_time_rules();
  SELECT count(*) INTO tasks2 FROM medcrm.task WHERE kind = 'data_quality';
  RETURN NEXT cmp_ok(findings, '>=', 3::bigint, 'the planted findings are there');
  RETURN NEXT is(tasks1, findings, 'run_time_rules creates one data_quality task per finding');
  RETURN NEXT is(tasks2, tasks1, 'a second run creates no further data_quality task');
  RETURN NEXT is(created2, 0::bigint, 'and reports that it created nothing');
END $$;
SELECT * FROM pg_temp.dq_task_checks();

SELECT * FROM finish();
ROLLBACK;
