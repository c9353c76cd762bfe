-- 510_audit_access.sql — graded access with SET ROLE: row-level security of
-- sales (territory and ownership) on tables, through views, RETURNING and
-- to_jsonb; the other roles; masked contacts; reveal_contact and its log; the
-- trail shows no personal data; submitted visits are read-only.
BEGIN;
SELECT plan(52);

CREATE ROLE regress_east NOLOGIN IN ROLE medcrm_sales;
CREATE ROLE regress_north NOLOGIN IN ROLE medcrm_sales;
CREATE ROLE regress_svc NOLOGIN IN ROLE medcrm_service;
CREATE ROLE regress_qa NOLOGIN IN ROLE medcrm_quality;
CREATE ROLE regress_bi_user NOLOGIN IN ROLE medcrm_bi;
CREATE ROLE regress_aud NOLOGIN IN ROLE medcrm_auditor;
CREATE ROLE regress_adm NOLOGIN IN ROLE medcrm_admin;

INSERT INTO medcrm.sales_territory (role, region) VALUES ('regress_east', 'East');
INSERT INTO medcrm.account (id, kind, name, region, owner_role) VALUES
  (820001, 'hospital', 'East One', 'East', NULL),
  (820002, 'hospital', 'North Owned By East', 'North', 'regress_east'),
  (820003, 'clinic', 'North Two', 'North', NULL),
  (820004, 'clinic', 'West Three', 'West', 'regress_north');
INSERT INTO medcrm.contact (id, account_id, full_name, phone, email, national_id) VALUES
  (820001, 820001, 'Zhang Wei', '13812341234', 'zhang@example.org', '110101199003074518'),
  (820003, 820003, 'Liu Yang', '13700001111', 'liu@example.org', NULL);
INSERT INTO medcrm.product (id, model_code, name, category) VALUES (820001, 'RLS-1', 'RLS product', 'other');
INSERT INTO medcrm.opportunity (id, account_id, product_id, stage, opened_on) VALUES
  (820001, 820001, 820001, 'lead', '2026-01-01'), (820003, 820003, 820001, 'lead', '2026-01-01');
INSERT INTO medcrm.installed_device (id, account_id, product_id, serial_no) VALUES
  (820001, 820001, 820001, 'RLS-SN-1'), (820003, 820003, 820001, 'RLS-SN-3');
INSERT INTO medcrm.visit (id, account_id, contact_id, rep_role, channel, started_at, submitted_at) VALUES
  (820001, 820001, 820001, 'regress_east', 'visit', '2026-03-01 09:00+00', NULL),
  (820002, 820001, 820001, 'regress_east', 'visit', '2026-03-02 09:00+00', '2026-03-02 11:00+00');
INSERT INTO medcrm.task (id, account_id, kind, title, assignee_role, dedupe_key) VALUES
  (820001, 820003, 'follow_up', 'North task for east', 'regress_east', 'rls:1'),
  (820002, 820004, 'follow_up', 'West task', 'regress_north', 'rls:2');
CREATE TEMP TABLE mine (n int);
GRANT ALL ON mine TO PUBLIC;
CREATE VIEW public.regress_account_names WITH (security_invoker = true) AS
  SELECT id, name FROM medcrm.account WHERE id BETWEEN 820001 AND 820004;
GRANT SELECT ON public.regress_account_names TO PUBLIC;

-- sales: territory and ownership
SET LOCAL ROLE regress_east;
SELECT is((SELECT array_agg(id ORDER BY id) FROM medcrm.account WHERE id BETWEEN 820001 AND 820004),
          '{820001,820002}'::bigint[], 'sales see the accounts of their region and those they own');
SELECT is((SELECT array_agg(id ORDER BY id) FROM medcrm.opportunity WHERE id >= 820001), '{820001}'::bigint[], 'opportunities follow the account');
SELECT is((SELECT array_agg(id ORDER BY id) FROM medcrm.installed_device WHERE id >= 820001), '{820001}'::bigint[], 'devices follow the account');
SELECT is((SELECT array_agg(id ORDER BY id) FROM medcrm.task WHERE id >= 820001), '{820001}'::bigint[], 'tasks of visible accounts and tasks assigned to the role');
SELECT is((SELECT array_agg(a ORDER BY a) FROM generate_series(820001::bigint, 820004) a WHERE medcrm.account_visible(a)),
          '{820001,820002}'::bigint[], 'medcrm.account_visible() gives the same answer as the policies');
SELECT is((SELECT array_agg(id ORDER BY id) FROM public.regress_account_names), '{820001,820002}'::bigint[], 'a security_invoker view applies the policy');
SELECT is((SELECT count(*) FROM medcrm.account a WHERE a.id BETWEEN 820001 AND 820004 AND to_jsonb(a) IS NOT NULL), 2::bigint, 'to_jsonb of whole rows sees only visible rows');
SELECT is((SELECT array_agg(x ORDER BY x) FROM (SELECT (to_jsonb(o)->>'id')::bigint AS x FROM medcrm.opportunity o WHERE o.id >= 820001) s),
          '{820001}'::bigint[], 'to_jsonb over a child table sees only visible rows');
SELECT results_eq($$UPDATE medcrm.account SET city = 'Hangzhou' WHERE id BETWEEN 820001 AND 820004 RETURNING id$$,
                  $$VALUES (820001::bigint), (820002::bigint)$$, 'UPDATE ... RETURNING touches and returns only visible rows');
SELECT results_eq($$UPDATE medcrm.task SET status = 'done' WHERE id = 820002 RETURNING id$$, $$SELECT 1::bigint WHERE false$$,
                  'UPDATE of an invisible row does nothing');
SELECT throws_ok($$INSERT INTO medcrm.account (kind, name, region) VALUES ('clinic', 'Foreign', 'West')$$, '42501', NULL,
                 'sales cannot create an account outside their territory');
SELECT lives_ok($$INSERT INTO medcrm.account (kind, name, region, owner_role) VALUES ('clinic', 'Own West', 'West', 'regress_east')$$,
                'sales may create an account they own');
SELECT throws_ok($$UPDATE medcrm.account SET region = 'West' WHERE id = 820001$$, '42501', NULL, 'sales cannot move an account out of their reach');
SELECT throws_ok($$INSERT INTO medcrm.opportunity (account_id, product_id, stage, opened_on) VALUES (820003, 820001, 'lead', '2026-01-01')$$,
                 '42501', NULL, 'sales cannot add rows to an invisible account');

-- personal data: no direct column access, masked view, reveal
SELECT throws_ok($$SELECT phone FROM medcrm.contact$$, '42501', NULL, 'sales cannot select contact.phone');
SELECT throws_ok($$SELECT to_jsonb(c) FROM medcrm.contact c$$, '42501', NULL, 'nor the whole contact row (to_jsonb)');
SELECT is((SELECT array_agg(id ORDER BY id) FROM medcrm.contact WHERE id >= 820001), '{820001}'::bigint[], 'contacts follow the account');
SELECT is((SELECT phone || ' ' || email || ' ' || national_id FROM medcrm.v_contact WHERE id = 820001),
          '138****1234 z***@example.org 1****************8', 'v_contact masks phone, e-mail and national id');
SELECT is((SELECT array_agg(id ORDER BY id) FROM medcrm.v_contact WHERE id >= 820001), '{820001}'::bigint[],
          'v_contact shows sales only their contacts');
SELECT is((SELECT phone || ' ' || email || ' ' || national_id FROM medcrm.reveal_contact(820001, 'call about the tender')),
          '13812341234 zhang@example.org 110101199003074518', 'reveal_contact returns clear values');
SELECT throws_ok($$SELECT * FROM medcrm.reveal_contact(820003, 'curious')$$, 'P0002',
                 'contact 820003 does not exist or is not visible to you', 'no reveal outside the territory');
SELECT throws_ok($$SELECT * FROM medcrm.reveal_contact(820001, '  ')$$, '22023', NULL, 'a reveal needs a purpose');
SELECT throws_ok($$SELECT * FROM medcrm.sensitive_access_log$$, '42501', NULL, 'sales cannot read the reveal log');

-- visits
SELECT lives_ok($$UPDATE medcrm.visit SET summary = 'demo planned' WHERE id = 820001$$, 'a draft visit can be edited');
SELECT throws_ok($$UPDATE medcrm.visit SET summary = 'rewritten' WHERE id = 820002$$, '55000', 'visit 820002 is submitted and read-only',
                 'a submitted visit cannot be edited');
SELECT lives_ok($$UPDATE medcrm.visit SET summary = 'final', submitted_at = now() WHERE id = 820001$$, 'submitting is the last edit');
SELECT throws_ok($$UPDATE medcrm.visit SET summary = 'after' WHERE id = 820001$$, '55000', NULL, 'after submitting, read-only');
RESET ROLE;
SELECT throws_ok($$UPDATE medcrm.visit SET account_id = 820002 WHERE id = 820002$$, '55000', NULL,
                 'outside a merge, not even the owner re-points a submitted visit');
SELECT throws_ok($$UPDATE medcrm.visit SET contact_id = 820003 WHERE id = 820002$$, '55000', NULL,
                 'nor moves it to another contact');
-- inside a merge of 820001 into 820002 (the setting merge_accounts() makes)
INSERT INTO medcrm.account_merge (id, keep_id, dup_id, reason, dup_updated_at)
VALUES (820001, 820002, 820001, 'regress merge', now());
SELECT set_config('medcrm.merge_id', '820001', true);
SELECT throws_ok($$UPDATE medcrm.visit SET account_id = 820003 WHERE id = 820002$$, '55000', NULL,
                 'a merge re-points only to its survivor');
SELECT lives_ok($$UPDATE medcrm.visit SET account_id = 820002 WHERE id = 820002$$, 'an account merge re-points a submitted visit');
SELECT is((SELECT account_id FROM medcrm.visit WHERE id = 820002), 820002::bigint, '… to the survivor');
SELECT set_config('medcrm.merge_id', '', true);
SELECT throws_ok($$UPDATE medcrm.visit SET summary = 'owner edit' WHERE id = 820002$$, '55000', NULL, 'not even the owner edits a submitted visit');
SELECT throws_ok($$DELETE FROM medcrm.visit WHERE id = 820002$$, '55000', 'visit 820002 is submitted and read-only',
                 'a submitted visit cannot be deleted');

-- other sales see other rows
SET LOCAL ROLE regress_north;
SELECT is((SELECT array_agg(id ORDER BY id) FROM medcrm.account WHERE id BETWEEN 820001 AND 820004), '{820004}'::bigint[],
          'a rep without territory sees only what it owns');
RESET ROLE;

-- service, quality: every region
SET LOCAL ROLE regress_svc;
SELECT is((SELECT count(*) FROM medcrm.installed_device WHERE id >= 820001), 2::bigint, 'service sees devices in every region');
SELECT is((SELECT count(*) FROM medcrm.account WHERE id BETWEEN 820001 AND 820004), 4::bigint, 'service sees every account');
SELECT throws_ok($$SELECT phone FROM medcrm.contact$$, '42501', NULL, 'service cannot select contact.phone');
SELECT is((SELECT phone FROM medcrm.reveal_contact(820003, 'engineer calls the site')), '13700001111', 'service may reveal');
RESET ROLE;
SET LOCAL ROLE regress_qa;
SELECT is((SELECT count(*) FROM medcrm.installed_device WHERE id >= 820001), 2::bigint, 'quality sees devices in every region');
SELECT throws_ok($$SELECT * FROM medcrm.reveal_contact(820001, 'x')$$, '42501', NULL, 'quality cannot reveal');
RESET ROLE;

-- bi: views only, masked
SET LOCAL ROLE regress_bi_user;
SELECT throws_ok($$SELECT id FROM medcrm.account$$, '42501', NULL, 'bi has no access to base tables');
SELECT throws_ok($$SELECT id FROM medcrm.contact$$, '42501', NULL, 'bi has no access to contacts');
SELECT is((SELECT phone FROM medcrm.v_contact WHERE id = 820003), '137****1111', 'bi reads masked contacts through v_contact');
SELECT throws_ok($$SELECT * FROM medcrm.reveal_contact(820001, 'x')$$, '42501', NULL, 'bi cannot reveal');
RESET ROLE;

-- auditor: the trail and the reveal log, no personal data in either
SET LOCAL ROLE regress_aud;
SELECT is((SELECT array_agg(role::text || ':' || purpose ORDER BY id) FROM medcrm.sensitive_access_log WHERE contact_id >= 820001),
          '{"regress_east:call about the tender","regress_svc:engineer calls the site"}'::text[], 'every reveal is logged with role and purpose');
SELECT is((SELECT fields FROM medcrm.sensitive_access_log WHERE contact_id = 820001), '{phone,email,national_id}'::text[], 'the log names the fields revealed');
SELECT is((SELECT count(*) FROM medcrm.audit_log WHERE (coalesce(old_values::text, '') || coalesce(new_values::text, '')) ~ '13812341234|13700001111|zhang@|110101199003074518'),
          0::bigint, 'the auditor''s trail holds no clear personal data');
SELECT is((SELECT new_values->>'phone' FROM medcrm.audit_log WHERE table_name = 'medcrm.contact' AND row_id = 820001 AND op = 'INSERT'),
          '138****1234', 'the trail shows the masked value');
SELECT throws_ok($$SELECT id FROM medcrm.account$$, '42501', NULL, 'the auditor does not read business tables');
SELECT throws_ok($$SELECT * FROM medcrm.reveal_contact(820001, 'x')$$, '42501', NULL, 'the auditor cannot reveal');
RESET ROLE;

-- admin sees everything
SET LOCAL ROLE regress_adm;
SELECT is((SELECT count(*) FROM medcrm.account WHERE id BETWEEN 820001 AND 820004), 4::bigint, 'admin sees every account');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
