-- 010_schema.sql — the data model of CONTRACT.md exists: every table, primary
-- key, foreign key and index, a comment on every table and column, every
-- foreign key backed by an index, and every table kept by pg_dump.
BEGIN;

CREATE TEMP TABLE expected_fk (tbl text, col text, ref text) ON COMMIT DROP;
INSERT INTO expected_fk VALUES
  ('account', 'parent_id', 'account'), ('account', 'merged_into', 'account'),
  ('account', 'tier_model_id', 'tier_model'),
  ('account_source_key', 'account_id', 'account'),
  ('department', 'account_id', 'account'),
  ('contact', 'account_id', 'account'), ('contact', 'department_id', 'department'),
  ('installed_device', 'account_id', 'account'), ('installed_device', 'department_id', 'department'),
  ('installed_device', 'product_id', 'product'),
  ('certificate', 'account_id', 'account'), ('certificate', 'product_id', 'product'),
  ('recall', 'product_id', 'product'),
  ('complaint', 'account_id', 'account'), ('complaint', 'device_id', 'installed_device'),
  ('sample_loan', 'account_id', 'account'), ('sample_loan', 'product_id', 'product'),
  ('opportunity', 'account_id', 'account'), ('opportunity', 'product_id', 'product'),
  ('sales_order', 'account_id', 'account'), ('sales_order', 'opportunity_id', 'opportunity'),
  ('contract', 'account_id', 'account'), ('contract', 'renewed_from', 'contract'),
  ('invoice', 'account_id', 'account'), ('invoice', 'sales_order_id', 'sales_order'),
  ('invoice', 'contract_id', 'contract'),
  ('work_order', 'account_id', 'account'), ('work_order', 'device_id', 'installed_device'),
  ('work_order', 'assigned_team', 'service_team'),
  ('visit', 'account_id', 'account'), ('visit', 'contact_id', 'contact'),
  ('task', 'account_id', 'account'), ('task', 'rule_id', 'rule'),
  ('tier_history', 'account_id', 'account'), ('tier_history', 'model_id', 'tier_model'),
  ('report_run', 'schedule_id', 'report_schedule');

CREATE TEMP TABLE expected_table (tbl text, pk text[]) ON COMMIT DROP;
INSERT INTO expected_table VALUES
  ('account', '{id}'), ('account_source_key', '{source,external_id}'),
  ('sales_territory', '{role,region}'), ('department', '{id}'), ('contact', '{id}'),
  ('product', '{id}'), ('installed_device', '{id}'), ('opportunity', '{id}'),
  ('sales_order', '{id}'), ('invoice', '{id}'), ('contract', '{id}'),
  ('sla_policy', '{service_level,priority}'), ('service_team', '{id}'), ('work_order', '{id}'),
  ('visit', '{id}'), ('sample_loan', '{id}'), ('certificate', '{id}'), ('recall', '{id}'),
  ('complaint', '{id}'), ('task', '{id}'), ('rule', '{id}'), ('tier_model', '{id}'),
  ('tier_history', '{id}'), ('audit_log', '{id}'), ('sensitive_access_log', '{id}'),
  ('report_schedule', '{id}'), ('report_run', '{id}');

-- The lookups that rules, KPIs and the worker rely on.
CREATE TEMP TABLE expected_index (tbl text, idx text) ON COMMIT DROP;
INSERT INTO expected_index VALUES
  ('product', 'product_model_code_key'),
  ('installed_device', 'installed_device_product_serial_key'),
  ('installed_device', 'installed_device_product_batch_idx'),
  ('installed_device', 'installed_device_warranty_ends_idx'),
  ('contract', 'contract_contract_no_key'), ('contract', 'contract_ends_on_idx'),
  ('sales_order', 'sales_order_account_ordered_on_idx'), ('sales_order', 'sales_order_ordered_on_idx'),
  ('invoice', 'invoice_due_on_idx'),
  ('opportunity', 'opportunity_closed_on_idx'),
  ('work_order', 'work_order_reported_at_idx'), ('work_order', 'work_order_resolved_at_idx'),
  ('visit', 'visit_account_started_at_idx'), ('visit', 'visit_started_at_idx'),
  ('certificate', 'certificate_valid_to_idx'), ('product', 'product_registration_expires_idx'),
  ('sample_loan', 'sample_loan_open_idx'),
  ('task', 'task_dedupe_key_key'), ('task', 'task_due_at_idx'), ('task', 'task_open_idx'),
  ('tier_model', 'tier_model_one_active_idx'),
  ('audit_log', 'audit_log_logged_at_idx'), ('report_schedule', 'report_schedule_due_idx');

-- Every column of every base table, for the comment check.
CREATE TEMP VIEW medcrm_column AS
SELECT c.relname AS tbl, a.attname AS col, col_description(c.oid, a.attnum) AS comment
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
 WHERE c.relnamespace = 'medcrm'::regnamespace AND c.relkind IN ('r', 'p')
   AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped;

SELECT plan(
    1
  + 3 * (SELECT count(*)::int FROM expected_table)
  + 2 * (SELECT count(*)::int FROM expected_fk)
  + (SELECT count(*)::int FROM expected_index)
  + 4
);

SELECT has_schema('medcrm');
SELECT has_table('medcrm', tbl, 'table medcrm.' || tbl || ' exists') FROM expected_table ORDER BY tbl;
SELECT col_is_pk('medcrm', tbl, pk, 'medcrm.' || tbl || ' has primary key ' || array_to_string(pk, ', '))
  FROM expected_table ORDER BY tbl;
SELECT ok(obj_description(('medcrm.' || tbl)::regclass, 'pg_class') IS NOT NULL,
          'medcrm.' || tbl || ' has a comment')
  FROM expected_table ORDER BY tbl;
SELECT fk_ok('medcrm', tbl, col, 'medcrm', ref, 'id') FROM expected_fk ORDER BY tbl, col;
SELECT ok(EXISTS (
            SELECT FROM pg_index i
             WHERE i.indrelid = ('medcrm.' || tbl)::regclass
               AND i.indkey[0] = (SELECT attnum FROM pg_attribute
                                   WHERE attrelid = ('medcrm.' || tbl)::regclass AND attname = col)),
          format('medcrm.%s.%s (foreign key) leads an index', tbl, col))
  FROM expected_fk ORDER BY tbl, col;
SELECT has_index('medcrm', tbl, idx, 'index ' || idx || ' exists') FROM expected_index ORDER BY tbl, idx;

SELECT is_empty(
  $$SELECT tbl || '.' || col FROM medcrm_column WHERE comment IS NULL ORDER BY 1$$,
  'every column of every medcrm table has a comment');

SELECT is_empty(
  $$SELECT conrelid::regclass::text || ' ' || conname
      FROM pg_constraint con
     WHERE contype = 'f' AND connamespace = 'medcrm'::regnamespace
       AND NOT EXISTS (SELECT FROM pg_index i
                        WHERE i.indrelid = con.conrelid AND i.indkey[0] = con.conkey[1])
     ORDER BY 1$$,
  'every foreign key of medcrm (also those added later) leads an index');

SELECT is_empty(
  $$SELECT c.relname FROM pg_class c
     WHERE c.relnamespace = 'medcrm'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND c.oid <> ALL ((SELECT extconfig FROM pg_extension WHERE extname = 'medcrm')::oid[])
     ORDER BY 1$$,
  'every medcrm table is registered with pg_extension_config_dump');

SELECT is_empty(
  $$SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'updated_at'
     WHERE c.relnamespace = 'medcrm'::regnamespace AND c.relkind = 'r'
       AND NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = c.oid
                          AND t.tgfoid = 'medcrm.set_updated_at()'::regprocedure)
     ORDER BY 1$$,
  'every table with updated_at has the set_updated_at trigger');

SELECT * FROM finish();
ROLLBACK;
