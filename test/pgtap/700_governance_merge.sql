-- 700_governance_merge.sql — merge_accounts moves every row that references
-- the duplicate (found from the foreign keys, so a table added later is
-- covered), is audited with its reason, refuses impossible merges, and
-- unmerge_accounts restores every row exactly (compared row by row).
BEGIN;
SELECT plan(29);
\ir ../fixtures/one_row_each.sql

-- A table added after medcrm (by a later capability or the DBA) is covered too.
CREATE TABLE medcrm.regress_extra (
    id bigint PRIMARY KEY,
    account_id bigint REFERENCES medcrm.account (id),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON medcrm.regress_extra (account_id);
CREATE TRIGGER regress_extra_set_updated_at BEFORE UPDATE ON medcrm.regress_extra
    FOR EACH ROW EXECUTE FUNCTION medcrm.set_updated_at();

-- The fixture account 900001 becomes the duplicate of a new survivor 900010;
-- a child account and the extra table point at it as well.
INSERT INTO medcrm.account (id, kind, name, region, city, hospital_grade, lifecycle_stage)
VALUES (900010, 'hospital', 'Fixture General Hospital Co., Ltd.', 'East', 'Hangzhou', '3A', 'active'),
       (900011, 'clinic', 'Fixture Branch Clinic', 'East', 'Hangzhou', NULL, 'active');
UPDATE medcrm.account SET parent_id = 900001 WHERE id = 900011;
UPDATE medcrm.account SET parent_id = 900001 WHERE id = 900010;   -- the survivor's parent is the duplicate
INSERT INTO medcrm.regress_extra (id, account_id) VALUES (1, 900001), (2, 900010);
UPDATE medcrm.certificate SET account_id = 900001 WHERE id = 900001;
INSERT INTO medcrm.account_source_key (source, external_id, account_id) VALUES ('crm', 'C-10', 900010);

-- Old timestamps, so that restoring updated_at is visible inside this transaction.
DO $$
DECLARE t regclass;
BEGIN
  FOR t IN SELECT DISTINCT table_name FROM medcrm.account_references() LOOP
    IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = t AND attname = 'updated_at') THEN
      EXECUTE format('UPDATE %s SET updated_at = ''2020-01-01 00:00+00''', t);
    END IF;
  END LOOP;
END $$;

-- Row-by-row snapshot of every medcrm table except the merge log and the audit trail.
CREATE FUNCTION pg_temp.row_digests() RETURNS TABLE (tbl text, digest text)
LANGUAGE plpgsql AS $$
DECLARE t text;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c
            WHERE c.relnamespace = 'medcrm'::regnamespace AND c.relkind = 'r'
              AND c.relname NOT IN ('account_merge', 'account_merge_row', 'audit_log')
            ORDER BY 1
  LOOP
    RETURN QUERY EXECUTE format('SELECT %L::text, md5(x::text) FROM medcrm.%I AS x', t, t);
  END LOOP;
END $$;
CREATE TEMP TABLE before_merge AS SELECT * FROM pg_temp.row_digests();
-- rows that reference the duplicate (fixture rows, rows other capabilities'
-- triggers derived from them, the child accounts, the extra table)
CREATE TEMP TABLE refs_before AS
SELECT sum((xpath('/row/n/text()', query_to_xml(
           format('SELECT count(*) AS n FROM %s WHERE %I = 900001', table_name, column_name),
           false, true, '')))[1]::text::int)::int AS n
  FROM medcrm.account_references();

-- Capture the audit reason the merge's DML runs with.
CREATE TEMP TABLE seen_reason (reason text);
CREATE FUNCTION pg_temp.capture_reason() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO seen_reason VALUES (current_setting('medcrm.reason', true) || ' / ' || current_setting('medcrm.merge_id', true));
  RETURN NULL;
END $$;
CREATE TRIGGER regress_capture_reason AFTER UPDATE ON medcrm.contact
    FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.capture_reason();

SELECT set_eq(
  $$SELECT table_name::text || '.' || column_name FROM medcrm.account_references()$$,
  ARRAY['medcrm.account.merged_into', 'medcrm.account.parent_id', 'medcrm.account_source_key.account_id',
        'medcrm.certificate.account_id', 'medcrm.complaint.account_id', 'medcrm.contact.account_id',
        'medcrm.contract.account_id', 'medcrm.department.account_id', 'medcrm.installed_device.account_id',
        'medcrm.invoice.account_id', 'medcrm.opportunity.account_id', 'medcrm.regress_extra.account_id',
        'medcrm.sales_order.account_id', 'medcrm.sample_loan.account_id', 'medcrm.task.account_id',
        'medcrm.tier_history.account_id', 'medcrm.visit.account_id', 'medcrm.work_order.account_id']
    || ARRAY(SELECT conrelid::regclass::text || '.' || a.attname
               FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
              WHERE c.contype = 'f' AND c.confrelid = 'medcrm.account'::regclass
                AND c.conrelid::regclass::text NOT IN ('medcrm.account_merge', 'medcrm.account', 'medcrm.account_source_key',
                  'medcrm.certificate', 'medcrm.complaint', 'medcrm.contact', 'medcrm.contract', 'medcrm.department',
                  'medcrm.installed_device', 'medcrm.invoice', 'medcrm.opportunity', 'medcrm.regress_extra',
                  'medcrm.sales_order', 'medcrm.sample_loan', 'medcrm.task', 'medcrm.tier_history', 'medcrm.visit',
                  'medcrm.work_order')),
  'account_references() lists every foreign key to account, the new table included');

-- refusals
SELECT throws_ok($$SELECT medcrm.merge_accounts(900010, 900010, 'x')$$, '22023',
                 'cannot merge account 900010 into itself', 'merging an account into itself is refused');
SELECT throws_ok($$SELECT medcrm.merge_accounts(900010, 900001, '  ')$$, '22023',
                 'a merge needs a reason', 'a merge without a reason is refused');
SELECT throws_ok($$SELECT medcrm.merge_accounts(900010, NULL, 'x')$$, '22004',
                 'keep_id and dup_id must not be null', 'a NULL id is refused');
SELECT throws_ok($$SELECT medcrm.merge_accounts(900010, 12345678, 'x')$$, 'P0002',
                 'account 12345678 does not exist', 'a missing account is refused');

SELECT lives_ok($$CREATE TEMP TABLE m1 AS SELECT medcrm.merge_accounts(900010, 900001, 'same hospital, confirmed by finance') AS id$$,
                'merge_accounts(keep, dup, reason) runs');
SELECT is((SELECT keep_id || ' ' || dup_id || ' ' || reason FROM medcrm.account_merge WHERE id = (SELECT id FROM m1) AND unmerged_at IS NULL),
          '900010 900001 same hospital, confirmed by finance', 'the merge is logged under the id it returned');
SELECT is((SELECT merged_into FROM medcrm.account WHERE id = 900001), 900010::bigint, 'dup.merged_into is the survivor');
SELECT is((SELECT sum(n)::int FROM (
             SELECT (xpath('/row/n/text()', query_to_xml(
                       format('SELECT count(*) AS n FROM %s WHERE %I = 900001 %s', table_name, column_name,
                              CASE WHEN table_name = 'medcrm.account'::regclass THEN 'AND id <> 900001' ELSE '' END),
                       false, true, '')))[1]::text::int AS n
               FROM medcrm.account_references()) s),
          0, 'no row of any table references the duplicate any more');
SELECT is((SELECT account_id FROM medcrm.account_source_key WHERE source = 'erp' AND external_id = 'FIX-1'),
          900010::bigint, 'the source key of the duplicate now maps to the survivor');
SELECT is((SELECT account_id FROM medcrm.regress_extra WHERE id = 1), 900010::bigint,
          'a table added later is moved too');
SELECT is((SELECT parent_id FROM medcrm.account WHERE id = 900011), 900010::bigint,
          'a child account of the duplicate now belongs to the survivor');
SELECT is((SELECT parent_id FROM medcrm.account WHERE id = 900010), NULL::bigint,
          'the survivor, a child of the duplicate, does not become its own parent');
SELECT is((SELECT rows_moved FROM medcrm.account_merge WHERE id = (SELECT id FROM m1)),
          (SELECT count(*) FROM medcrm.account_merge_row WHERE merge_id = (SELECT id FROM m1)),
          'rows_moved counts the recorded rows');
SELECT is((SELECT count(*)::int FROM medcrm.account_merge_row WHERE merge_id = (SELECT id FROM m1)),
          (SELECT n FROM refs_before), 'every row that referenced the duplicate was recorded');
SELECT cmp_ok((SELECT n FROM refs_before), '>=', 18, 'at least the 15 fixture rows, 2 child accounts and the extra row');
SELECT is((SELECT array_agg(DISTINCT reason) FROM seen_reason), ARRAY['same hospital, confirmed by finance / ' || (SELECT id FROM m1)],
          'the merge''s changes carry its reason (medcrm.reason) for the audit trail and its id (medcrm.merge_id)');
SELECT is(current_setting('medcrm.merge_id', true), '', 'medcrm.merge_id is empty again after the merge');

SELECT throws_ok($$SELECT medcrm.merge_accounts(900001, 900011, 'x')$$, '55000',
                 'cannot merge into account 900001: it was merged into account 900010',
                 'merging into a merged account is refused');
SELECT throws_ok($$SELECT medcrm.merge_accounts(900010, 900001, 'again')$$, '55000',
                 'account 900001 was already merged into account 900010',
                 'merging a merged account again is refused');

-- a second merge into the survivor, then undo in the wrong order
SELECT lives_ok($$CREATE TEMP TABLE m2 AS SELECT medcrm.merge_accounts(900011, 900010, 'chain test') AS id$$,
                'the survivor can be merged on');
SELECT throws_ok(format('SELECT medcrm.unmerge_accounts(%s)', (SELECT id FROM m1)), '55000',
                 format('merge %s cannot be undone before merge %s', (SELECT id FROM m1), (SELECT id FROM m2)),
                 'an earlier merge cannot be undone while a later one moved its survivor away');
SELECT cmp_ok(medcrm.unmerge_accounts((SELECT id FROM m2)), '>', 0::bigint, 'the later merge is undone first');
SELECT cmp_ok(medcrm.unmerge_accounts((SELECT id FROM m1)), '>', 0::bigint, 'then the first merge is undone');

SELECT set_eq($$SELECT * FROM pg_temp.row_digests()$$, $$SELECT * FROM before_merge$$,
              'after unmerge every row of every table is exactly as before (row digests)');
SELECT is((SELECT merged_into FROM medcrm.account WHERE id = 900001), NULL::bigint, 'the duplicate is no longer merged');
SELECT throws_ok(format('SELECT medcrm.unmerge_accounts(%s)', (SELECT id FROM m1)),
                 '55000', format('merge %s was already undone', (SELECT id FROM m1)), 'a merge cannot be undone twice');
SELECT throws_ok($$SELECT medcrm.unmerge_accounts(987654)$$, 'P0002', 'merge 987654 does not exist',
                 'an unknown merge id is refused');
SELECT is((SELECT count(*)::int FROM medcrm.account_merge WHERE id IN ((SELECT id FROM m1), (SELECT id FROM m2)) AND unmerged_at IS NOT NULL),
          2, 'both merges are marked undone');

SELECT * FROM finish();
ROLLBACK;
