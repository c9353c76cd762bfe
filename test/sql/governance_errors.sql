-- governance_errors.sql — the full wording (message, detail, hint) of the
-- governance refusals a user sees: invalid UDIs, bad sync payloads, merges.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT * FROM medcrm.parse_udi('(01)09506000134353(10)A1');
SELECT * FROM medcrm.parse_udi('(01)09506000134352(17)250230');
SELECT * FROM medcrm.parse_udi('(01)09506000134352(10)LOT 7');
SELECT * FROM medcrm.parse_udi(E'0109506000134352' || '240X');
SELECT * FROM medcrm.parse_udi('09506000134352');
INSERT INTO medcrm.account (id, kind, name, city) VALUES (970001, 'hospital', 'Errors Hospital', 'Hangzhou'),
  (970002, 'hospital', 'Errors Hospital Co., Ltd.', 'Hangzhou');
SELECT medcrm.merge_accounts(970001, 970001, 'x');
SELECT medcrm.merge_accounts(970001, 970002, 'errors test') > 0 AS merged;
SELECT medcrm.merge_accounts(970002, 970001, 'x');
SELECT medcrm.upsert_account('erp', 'E-1', '{"kind": "hospital", "name": "Errors Sync", "colour": "red"}');
SELECT medcrm.upsert_account('erp', 'E-1', '{"kind": "hospital", "name": "Errors Sync", "hospital_grade": "4A"}');
SELECT medcrm.upsert_account('erp', 'E-1', '{"kind": "hospital", "name": "Errors Sync", "tags": "imaging"}');
-- leave the database as found
DELETE FROM medcrm.account_merge_row WHERE merge_id IN (SELECT id FROM medcrm.account_merge WHERE keep_id = 970001);
DELETE FROM medcrm.account_merge WHERE keep_id = 970001;
DELETE FROM medcrm.account WHERE id IN (970001, 970002);
