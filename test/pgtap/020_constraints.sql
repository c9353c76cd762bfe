-- 020_constraints.sql — bad values are refused with the right SQLSTATE: every
-- NOT NULL column with 23502 and every CHECK (enumerations, ranges, cross-column
-- rules) with 23514. Each case copies a valid fixture row with one change.
BEGIN;
\ir ../fixtures/one_row_each.sql

-- INSERT a copy of the table's fixture row with the patch applied.
CREATE FUNCTION pg_temp.copy_with(tbl text, patch jsonb) RETURNS text
LANGUAGE sql AS $$
  SELECT format('INSERT INTO medcrm.%1$I SELECT (jsonb_populate_record(NULL::medcrm.%1$I, '
                'to_jsonb(t) || %2$L::jsonb)).* FROM medcrm.%1$I t ORDER BY 1 LIMIT 1', tbl, patch)
$$;

CREATE TEMP TABLE bad_value (tbl text, patch jsonb) ON COMMIT DROP;
INSERT INTO bad_value VALUES
  ('account', '{"kind": "pharmacy"}'), ('account', '{"name": " "}'),
  ('account', '{"hospital_grade": "4A"}'), ('account', '{"procurement_mode": "barter"}'),
  ('account', '{"service_level": "diamond"}'), ('account', '{"lifecycle_stage": "dormant"}'),
  ('account', '{"tier": "E"}'), ('account', '{"tier_override": "E", "tier_override_reason": "x"}'),
  ('account', '{"tier_override": "A", "tier_override_reason": null}'),
  ('account', '{"kind": "distributor", "hospital_grade": "3A"}'),
  ('account', '{"id": 5, "parent_id": 5}'), ('account', '{"id": 6, "merged_into": 6}'),
  ('account_source_key', '{"source": ""}'), ('account_source_key', '{"external_id": " "}'),
  ('department', '{"name": ""}'),
  ('contact', '{"full_name": ""}'), ('contact', '{"decision_role": "boss"}'),
  ('contact', '{"academic_influence": 6}'), ('contact', '{"academic_influence": -1}'),
  ('contact', '{"preferred_channel": "fax"}'),
  ('product', '{"model_code": ""}'), ('product', '{"name": ""}'), ('product', '{"category": "toys"}'),
  ('product', '{"gtin": "123"}'),
  ('installed_device', '{"serial_no": ""}'), ('installed_device', '{"status": "lost"}'),
  ('certificate', '{"kind": "iso9001"}'), ('certificate', '{"number": ""}'),
  ('certificate', '{"account_id": null, "product_id": null}'),
  ('certificate', '{"kind": "distributor_license", "account_id": null}'),
  ('recall', '{"batch_nos": []}'), ('recall', '{"class": "IV"}'), ('recall', '{"reason": ""}'),
  ('recall', '{"status": "pending"}'), ('recall', '{"status": "closed", "closed_at": null}'),
  ('complaint', '{"severity": "meh"}'), ('complaint', '{"description": ""}'),
  ('sample_loan', '{"serial_no": ""}'),
  ('opportunity', '{"stage": "dream"}'), ('opportunity', '{"amount": -1}'),
  ('opportunity', '{"stage": "demo", "closed_on": "2026-01-01"}'),
  ('contract', '{"contract_no": ""}'), ('contract', '{"kind": "lease"}'),
  ('contract', '{"status": "paused"}'), ('contract', '{"value": -5}'),
  ('contract', '{"id": 7, "renewed_from": 7}'),
  ('invoice', '{"amount": -1}'), ('invoice', '{"paid_amount": -1}'),
  ('invoice', '{"paid_on": null, "paid_amount": 10}'),
  ('sla_policy', '{"service_level": "diamond"}'), ('sla_policy', '{"priority": 5}'),
  ('sla_policy', '{"response_hours": 0}'), ('sla_policy', '{"resolve_hours": 0}'),
  ('sla_policy', '{"response_hours": 10, "resolve_hours": 5}'),
  ('service_team', '{"name": ""}'), ('service_team', '{"kinds": ["fault", "sales"]}'),
  ('work_order', '{"kind": "upgrade"}'), ('work_order', '{"priority": 0}'),
  ('work_order', '{"status": "waiting"}'), ('work_order', '{"labor_hours": -1}'),
  ('work_order', '{"cost": -1}'),
  ('visit', '{"channel": "telepathy"}'), ('visit', '{"lat": 91}'), ('visit', '{"lon": -181}'),
  ('visit', '{"samples": {"product_id": 1}}'),
  ('rule', '{"name": ""}'), ('rule', '{"event": "moon_phase"}'), ('rule', '{"condition": []}'),
  ('rule', '{"task_kind": "party"}'), ('rule', '{"title_template": " "}'), ('rule', '{"priority": 9}'),
  ('task', '{"kind": "party"}'), ('task', '{"title": ""}'), ('task', '{"priority": 0}'),
  ('task', '{"status": "later"}'), ('task', '{"status": "open", "done_at": "2026-01-01T00:00:00Z"}'),
  ('tier_model', '{"name": ""}'), ('tier_model', '{"version": 0}'),
  ('tier_history', '{"old_tier": "Z"}'), ('tier_history', '{"new_tier": "Z"}'),
  ('audit_log', '{"op": "MERGE"}'),
  ('sensitive_access_log', '{"purpose": ""}'),
  ('report_schedule', '{"report": "sales"}'), ('report_schedule', '{"every": "00:00:10"}'),
  ('report_schedule', '{"params": []}'),
  ('report_run', '{"report": "sales"}'), ('report_run', '{"status": "lost"}'),
  ('report_run', '{"attempts": -1}'), ('report_run', '{"file_sha256": "abc"}'),
  ('report_run', '{"period_from": "2026-12-01", "period_to": "2026-12-01"}');

CREATE TEMP VIEW not_null_column AS
SELECT c.relname AS tbl, a.attname AS col
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
 WHERE c.relnamespace = 'medcrm'::regnamespace AND c.relkind = 'r' AND NOT c.relispartition
   AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull AND a.attgenerated = ''
   -- filled by a BEFORE trigger on every insert, so NULL cannot reach the
   -- constraint (071_report_schedule tests what the trigger puts there)
   AND (c.relname, a.attname) NOT IN (('report_schedule', 'anchor_at'), ('report_schedule', 'periods_done'));

SELECT plan((SELECT count(*)::int FROM bad_value) + (SELECT count(*)::int FROM not_null_column) + 1);

SELECT ok((SELECT count(*) FROM not_null_column) >= 60, 'the model declares its NOT NULL columns');

SELECT throws_ok(pg_temp.copy_with(tbl, patch), '23514', NULL,
                 format('medcrm.%s refuses %s with 23514', tbl, patch))
  FROM bad_value ORDER BY tbl, patch::text;

SELECT throws_ok(pg_temp.copy_with(tbl, jsonb_build_object(col, NULL)), '23502', NULL,
                 format('medcrm.%s.%s refuses NULL with 23502', tbl, col))
  FROM not_null_column ORDER BY tbl, col;

SELECT * FROM finish();
ROLLBACK;
