-- 710_governance_upsert.sql — upsert_account is an idempotent source-key sync:
-- a new key creates, the same payload twice issues no UPDATE (so no audit
-- row), a changed field updates only that field, a key of a merged account
-- lands on the survivor, and bad payloads are refused without changes.
BEGIN;
SELECT plan(24);

-- Count the UPDATEs that reach medcrm.account (what the audit trigger would log).
CREATE TEMP TABLE account_updates (id bigint, changed text);
CREATE FUNCTION pg_temp.count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO account_updates VALUES (NEW.id, current_setting('medcrm.reason', true));
  RETURN NULL;
END $$;
CREATE TRIGGER regress_count_update AFTER UPDATE ON medcrm.account
    FOR EACH ROW EXECUTE FUNCTION pg_temp.count_update();

SELECT ok(medcrm.upsert_account('erp', 'H-100',
            '{"kind": "hospital", "name": "Ningbo First Hospital", "city": "Ningbo", "region": "East",
              "hospital_grade": "3A", "tags": ["imaging", "cardio"], "tax_id": "91330200X"}') > 0,
          'a new key creates an account');
SELECT is((SELECT a.name FROM medcrm.account a JOIN medcrm.account_source_key k ON k.account_id = a.id
            WHERE k.source = 'erp' AND k.external_id = 'H-100'), 'Ningbo First Hospital',
          'and maps the key to it');
SELECT is((SELECT a.tags FROM medcrm.account a JOIN medcrm.account_source_key k ON k.account_id = a.id
            WHERE k.source = 'erp' AND k.external_id = 'H-100'), ARRAY['imaging', 'cardio'],
          'array fields are stored');

SELECT is(medcrm.upsert_account('erp', 'H-100',
            '{"kind": "hospital", "name": "Ningbo First Hospital", "city": "Ningbo", "region": "East",
              "hospital_grade": "3A", "tags": ["imaging", "cardio"], "tax_id": "91330200X"}'),
          (SELECT account_id FROM medcrm.account_source_key WHERE source = 'erp' AND external_id = 'H-100'),
          'the same payload again returns the same account');
SELECT is((SELECT count(*)::int FROM account_updates), 0, 'and issues no UPDATE at all (nothing to audit)');
SELECT is((SELECT count(*)::int FROM medcrm.account), 1, 'and creates nothing');

SELECT lives_ok($$SELECT medcrm.upsert_account('erp', 'H-100', '{"hospital_grade": "3B", "name": "Ningbo First Hospital"}')$$,
                'a known key with a changed field');
SELECT is((SELECT count(*)::int FROM account_updates), 1, 'issues one UPDATE');
SELECT is((SELECT hospital_grade || ' ' || city FROM medcrm.account), '3B Ningbo',
          'that changes the field sent and keeps the fields not sent');
SELECT is((SELECT changed FROM account_updates), 'sync from erp key H-100',
          'the change carries a sync reason for the audit trail');

-- a child by its parent's source key
SELECT ok(medcrm.upsert_account('erp', 'C-7', '{"kind": "clinic", "name": "Ningbo East Clinic", "parent_external_id": "H-100"}') > 0,
          'a child account is created');
SELECT is((SELECT parent_id FROM medcrm.account WHERE name = 'Ningbo East Clinic'),
          (SELECT account_id FROM medcrm.account_source_key WHERE source = 'erp' AND external_id = 'H-100'),
          'parent_external_id resolves the parent through its source key');

-- a key of a merged account lands on the survivor
SELECT medcrm.upsert_account('crm', 'X-1', '{"kind": "hospital", "name": "Ningbo No.1 Hospital", "city": "Ningbo"}');
SELECT medcrm.merge_accounts(
    (SELECT account_id FROM medcrm.account_source_key WHERE source = 'erp' AND external_id = 'H-100'),
    (SELECT account_id FROM medcrm.account_source_key WHERE source = 'crm' AND external_id = 'X-1'),
    'same hospital');
SELECT is(medcrm.upsert_account('crm', 'X-1', '{"province": "Zhejiang"}'),
          (SELECT account_id FROM medcrm.account_source_key WHERE source = 'erp' AND external_id = 'H-100'),
          'a key of a merged account returns the survivor');
SELECT is((SELECT province FROM medcrm.account a JOIN medcrm.account_source_key k ON k.account_id = a.id
            WHERE k.source = 'erp' AND k.external_id = 'H-100'), 'Zhejiang',
          'and its data lands on the survivor');
-- a key recorded on a merged account behind the merge's back is moved to the survivor
INSERT INTO medcrm.account_source_key (source, external_id, account_id)
SELECT 'tender', 'T-9', id FROM medcrm.account WHERE merged_into IS NOT NULL;
SELECT medcrm.upsert_account('tender', 'T-9', '{}');
SELECT is((SELECT account_id FROM medcrm.account_source_key WHERE source = 'tender' AND external_id = 'T-9'),
          (SELECT account_id FROM medcrm.account_source_key WHERE source = 'erp' AND external_id = 'H-100'),
          'a stale key is moved to the survivor');

-- refusals
CREATE TEMP TABLE before_refusals AS SELECT md5(string_agg(a::text, '|' ORDER BY a.id)) AS d FROM medcrm.account a;
SELECT throws_ok($$SELECT medcrm.upsert_account('erp', 'H-100', '{"colour": "red"}')$$, '22023',
                 'unknown account field "colour"', 'an unknown field is refused');
SELECT throws_ok($$SELECT medcrm.upsert_account('erp', 'H-100', '{"name": 42}')$$, '22023',
                 'invalid value for account field "name"', 'a number for a text field is refused');
SELECT throws_ok($$SELECT medcrm.upsert_account('erp', 'H-100', '{"tags": ["ok", 1]}')$$, '22023',
                 'invalid value for account field "tags"', 'a non-string tag is refused');
SELECT throws_ok($$SELECT medcrm.upsert_account('erp', 'H-100', '{"hospital_grade": "4A"}')$$, '23514',
                 'invalid account data from erp key H-100', 'a value a constraint refuses is refused with 23514');
SELECT throws_ok($$SELECT medcrm.upsert_account('erp', 'NEW-1', '{"name": "No Kind"}')$$, '22023',
                 'new account from erp key NEW-1 needs kind and name', 'a new key without kind is refused');
SELECT throws_ok($$SELECT medcrm.upsert_account('erp', 'C-8', '{"kind": "clinic", "name": "Orphan", "parent_external_id": "NOPE"}')$$,
                 '22023', 'unknown parent key NOPE of source erp', 'an unknown parent key is refused');
SELECT throws_ok($$SELECT medcrm.upsert_account('erp', 'H-100', '["name"]')$$, '22023',
                 'account data must be a JSON object', 'a payload that is not an object is refused');
SELECT throws_ok($$SELECT medcrm.upsert_account('', 'H-100', '{}')$$, '22023',
                 'source and external_id must not be empty', 'an empty source is refused');
SELECT is((SELECT md5(string_agg(a::text, '|' ORDER BY a.id)) FROM medcrm.account a), (SELECT d FROM before_refusals),
          'refused payloads change nothing');

SELECT * FROM finish();
ROLLBACK;
