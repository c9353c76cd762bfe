-- 500_audit_trail.sql — what the audit trigger records: every field of an
-- audit row, only changed columns, no row for a no-op or computed-only UPDATE,
-- DELETE and TRUNCATE, tables keyed otherwise, masked personal data,
-- rolled-back work, enrolling a table, and the append-only refusals.
BEGIN;
SELECT plan(50);

CREATE ROLE regress_audit_admin NOLOGIN IN ROLE medcrm_admin;
CREATE TEMP TABLE mark AS SELECT coalesce(max(id), 0) AS id FROM medcrm.audit_log;
GRANT SELECT ON mark TO PUBLIC;
CREATE FUNCTION pg_temp.trail(p_table text)
RETURNS SETOF medcrm.audit_log LANGUAGE sql AS $$
  SELECT * FROM medcrm.audit_log
   WHERE id > (SELECT id FROM mark) AND table_name = p_table ORDER BY id
$$;

-- INSERT: every field
SET LOCAL medcrm.reason = 'new hospital from tender list';
SET LOCAL application_name = 'regress-crm';
SET LOCAL ROLE regress_audit_admin;
INSERT INTO medcrm.account (id, kind, name, region, owner_role)
VALUES (810001, 'hospital', 'Audit General', 'East', 'regress_rep');
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_temp.trail('medcrm.account')), 1::bigint, 'one audit row per inserted row');
SELECT is((SELECT op FROM pg_temp.trail('medcrm.account')), 'INSERT', 'op is INSERT');
SELECT is((SELECT row_id FROM pg_temp.trail('medcrm.account')), 810001::bigint, 'row_id is the id of the row');
SELECT is((SELECT session_role::text FROM pg_temp.trail('medcrm.account')), session_user::text, 'session_role is session_user');
SELECT is((SELECT acting_role::text FROM pg_temp.trail('medcrm.account')), 'regress_audit_admin', 'acting_role is current_user at the change');
SELECT is((SELECT application FROM pg_temp.trail('medcrm.account')), 'regress-crm', 'application is application_name');
SELECT is((SELECT client_addr FROM pg_temp.trail('medcrm.account')), inet_client_addr(), 'client_addr is the client address');
SELECT is((SELECT txid FROM pg_temp.trail('medcrm.account')), pg_current_xact_id(), 'txid is the transaction id');
SELECT is((SELECT logged_at FROM pg_temp.trail('medcrm.account')), now(), 'logged_at is the transaction timestamp');
SELECT is((SELECT reason FROM pg_temp.trail('medcrm.account')), 'new hospital from tender list', 'reason comes from medcrm.reason');
SELECT is((SELECT table_name FROM pg_temp.trail('medcrm.account')), 'medcrm.account', 'table_name is schema-qualified');
SELECT ok((SELECT old_values IS NULL FROM pg_temp.trail('medcrm.account')), 'INSERT has no old values');
SELECT is((SELECT new_values - 'created_at' - 'updated_at' FROM pg_temp.trail('medcrm.account')),
          '{"id": 810001, "kind": "hospital", "name": "Audit General", "tags": [], "region": "East",
            "owner_role": "regress_rep", "service_level": "standard", "lifecycle_stage": "prospect"}'::jsonb,
          'INSERT records the new row as to_jsonb would, NULL columns left out');

-- UPDATE: only the changed columns; updated_at is not compared
SET LOCAL medcrm.reason = 'renamed after merger';
UPDATE medcrm.account SET name = 'Audit General Hospital', tags = '{imaging}' WHERE id = 810001;
SELECT is((SELECT old_values FROM pg_temp.trail('medcrm.account') WHERE op = 'UPDATE'),
          '{"name": "Audit General", "tags": []}'::jsonb, 'UPDATE keeps only the changed columns, before');
SELECT is((SELECT new_values FROM pg_temp.trail('medcrm.account') WHERE op = 'UPDATE'),
          '{"name": "Audit General Hospital", "tags": ["imaging"]}'::jsonb, 'UPDATE keeps only the changed columns, after');
SELECT is((SELECT reason FROM pg_temp.trail('medcrm.account') WHERE op = 'UPDATE'), 'renamed after merger', 'reason of the UPDATE');

-- no-op and computed-only updates log nothing; an override does
UPDATE medcrm.account SET name = name WHERE id = 810001;
SELECT is((SELECT count(*) FROM pg_temp.trail('medcrm.account')), 2::bigint, 'a no-op UPDATE logs nothing');
UPDATE medcrm.account SET tier = 'B', tier_score = 61.5, tiered_at = now() WHERE id = 810001;
SELECT is((SELECT count(*) FROM pg_temp.trail('medcrm.account')), 2::bigint, 'an UPDATE of the computed tier columns logs nothing');
UPDATE medcrm.account SET tier = 'C', tier_override = 'A', tier_override_reason = 'strategic site' WHERE id = 810001;
SELECT is((SELECT new_values FROM pg_temp.trail('medcrm.account') ORDER BY id DESC LIMIT 1),
          '{"tier_override": "A", "tier_override_reason": "strategic site"}'::jsonb,
          'a tier override is audited, the computed tier beside it is not');

-- several rows in one statement: one audit row each
INSERT INTO medcrm.department (id, account_id, name) VALUES (810001, 810001, 'Radiology'), (810002, 810001, 'ICU');
UPDATE medcrm.department SET specialty = 'imaging' WHERE account_id = 810001;
SELECT is((SELECT array_agg(row_id ORDER BY row_id) FROM pg_temp.trail('medcrm.department') WHERE op = 'UPDATE'),
          '{810001,810002}'::bigint[], 'a multi-row UPDATE logs one row per changed row');

-- DELETE: the whole old row
DELETE FROM medcrm.department WHERE id = 810002;
SELECT is((SELECT old_values->>'name' FROM pg_temp.trail('medcrm.department') WHERE op = 'DELETE'), 'ICU', 'DELETE records the old row');
SELECT ok((SELECT new_values IS NULL FROM pg_temp.trail('medcrm.department') WHERE op = 'DELETE'), 'DELETE has no new values');

-- a table keyed otherwise: row_id NULL, the key columns kept
INSERT INTO medcrm.account_source_key (source, external_id, account_id) VALUES ('erp', 'AUD-1', 810001);
UPDATE medcrm.account_source_key SET external_id = 'AUD-2' WHERE external_id = 'AUD-1';
SELECT ok((SELECT row_id IS NULL FROM pg_temp.trail('medcrm.account_source_key') WHERE op = 'UPDATE'), 'row_id is NULL without an id column');
SELECT is((SELECT old_values FROM pg_temp.trail('medcrm.account_source_key') WHERE op = 'UPDATE'),
          '{"source": "erp", "external_id": "AUD-1"}'::jsonb, 'the primary key identifies the row');

-- TRUNCATE
INSERT INTO medcrm.sales_territory (role, region) VALUES ('regress_rep_t', 'South');
TRUNCATE medcrm.sales_territory;
SELECT is((SELECT op FROM pg_temp.trail('medcrm.sales_territory') ORDER BY id DESC LIMIT 1), 'TRUNCATE', 'TRUNCATE is logged');

-- personal data is masked in the trail
INSERT INTO medcrm.contact (id, account_id, full_name, phone, email, national_id)
VALUES (810001, 810001, 'Li Na', '13812341234', 'lina@example.org', '110101199003074518');
UPDATE medcrm.contact SET phone = '13998765432' WHERE id = 810001;
SELECT is((SELECT new_values->>'phone' FROM pg_temp.trail('medcrm.contact') WHERE op = 'INSERT'), '138****1234', 'phone masked in the trail');
SELECT is((SELECT new_values->>'email' FROM pg_temp.trail('medcrm.contact') WHERE op = 'INSERT'), 'l***@example.org', 'e-mail masked in the trail');
SELECT is((SELECT new_values->>'national_id' FROM pg_temp.trail('medcrm.contact') WHERE op = 'INSERT'), '1****************8', 'national id masked in the trail');
SELECT is((SELECT old_values || new_values FROM pg_temp.trail('medcrm.contact') WHERE op = 'UPDATE'),
          '{"phone": "139****5432"}'::jsonb, 'a changed phone is recorded, masked');
SELECT is((SELECT count(*) FROM medcrm.audit_log
            WHERE id > (SELECT id FROM mark)
              AND (coalesce(old_values::text, '') || coalesce(new_values::text, '')) ~ '13812341234|13998765432|lina@|110101199003074518'),
          0::bigint, 'no clear personal value anywhere in the trail');

-- rolled-back work leaves no audit row
SAVEPOINT before_rollback;
INSERT INTO medcrm.account (id, kind, name) VALUES (810009, 'clinic', 'Never Was');
ROLLBACK TO before_rollback;
SELECT is((SELECT count(*) FROM medcrm.audit_log WHERE table_name = 'medcrm.account' AND row_id = 810009), 0::bigint,
          'a rolled-back change leaves no audit row');

-- restores (replica mode) are not audited
SET LOCAL session_replication_role = replica;
INSERT INTO medcrm.account (id, kind, name) VALUES (810010, 'clinic', 'Restored');
RESET session_replication_role;
SELECT is((SELECT count(*) FROM medcrm.audit_log WHERE table_name = 'medcrm.account' AND row_id = 810010), 0::bigint,
          'rows restored with session_replication_role = replica are not audited again');

-- enrolling a table added later
CREATE TABLE public.regress_audit_extra (id bigint PRIMARY KEY, label text, score float8, at date, meta jsonb, addr inet);
SELECT lives_ok($$SELECT medcrm.audit_enable('public.regress_audit_extra')$$, 'audit_enable enrolls a new table');
INSERT INTO public.regress_audit_extra VALUES (1, 'x', 1.5, '2026-01-02', '{"a": [1, 2]}', '10.0.0.1');
SELECT is((SELECT new_values FROM pg_temp.trail('public.regress_audit_extra')),
          '{"id": 1, "label": "x", "score": 1.5, "at": "2026-01-02", "meta": {"a": [1, 2]}, "addr": "10.0.0.1"}'::jsonb,
          'values of every type as to_jsonb gives them');
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'public.regress_audit_extra'::regclass AND tgname LIKE 'medcrm_audit_%'),
          4, 'four audit triggers (INSERT, UPDATE, DELETE, TRUNCATE)');
SELECT lives_ok($$SELECT medcrm.audit_enable('public.regress_audit_extra', ARRAY['score'])$$, 'enrolling again replaces the triggers');
UPDATE public.regress_audit_extra SET score = 2;
SELECT is((SELECT count(*) FROM pg_temp.trail('public.regress_audit_extra')), 1::bigint, 'ignore_columns are not compared');
CREATE VIEW public.regress_audit_view AS SELECT 1 AS id;
SELECT throws_ok($$SELECT medcrm.audit_enable('public.regress_audit_view')$$, '42809', 'cannot audit "public.regress_audit_view"', 'a view cannot be enrolled');
CREATE TABLE public.regress_audit_nopk (v text);
SELECT throws_ok($$SELECT medcrm.audit_enable('public.regress_audit_nopk')$$, '42P16', 'table "public.regress_audit_nopk" has no primary key', 'a table without primary key is refused');
SELECT throws_ok($$SELECT medcrm.audit_enable('medcrm.audit_log')$$, '22023', 'cannot audit the audit trail table "medcrm.audit_log"', 'the trail cannot audit itself');
SELECT throws_ok($$SELECT medcrm.audit_enable('public.regress_audit_extra', ARRAY['nope'])$$, '42703', NULL, 'an unknown column is refused');

-- every business table is enrolled, the excluded ones are not
SELECT is((SELECT array_agg(c.relname::text ORDER BY c.relname)
             FROM pg_class c
            WHERE c.relnamespace = 'medcrm'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'medcrm_audit_upd')),
          '{audit_anchor,audit_log,audit_seal,report_run,sensitive_access_log,tier_history}'::text[],
          'every medcrm table is audited except the trail, tier_history and report_run');

-- append-only, for the owner too, in replica mode too
SELECT throws_ok($$UPDATE medcrm.audit_log SET reason = 'x'$$, '42501', 'medcrm.audit_log is append-only', 'UPDATE of audit_log refused for its owner');
SELECT throws_ok($$DELETE FROM medcrm.audit_log$$, '42501', 'medcrm.audit_log is append-only', 'DELETE of audit_log refused');
SELECT throws_ok($$TRUNCATE medcrm.audit_log$$, '42501', 'medcrm.audit_log is append-only', 'TRUNCATE of audit_log refused');
SELECT throws_ok($$DELETE FROM medcrm.audit_seal$$, '42501', 'medcrm.audit_seal is append-only', 'DELETE of audit_seal refused');
SELECT throws_ok($$UPDATE medcrm.sensitive_access_log SET purpose = 'x'$$, '42501', 'medcrm.sensitive_access_log is append-only', 'the reveal log is append-only');
SELECT throws_ok($$UPDATE medcrm.audit_anchor SET rows_removed = 0$$, '42501', 'medcrm.audit_anchor is append-only', 'retention anchors are append-only');
SET LOCAL session_replication_role = replica;
SELECT throws_ok($$DELETE FROM medcrm.audit_log$$, '42501', 'medcrm.audit_log is append-only', 'replica mode does not lift the guard');
SELECT lives_ok($$INSERT INTO medcrm.audit_log (table_name, op) VALUES ('medcrm.restored', 'INSERT')$$, 'restores can still insert');
RESET session_replication_role;

SELECT * FROM finish();
ROLLBACK;
