-- 720_governance_duplicates.sql — name keys, the bulk duplicate scan (exact
-- pairs on a crafted set), the stored candidates with dismissal, and the
-- similar-name lookup through the trigram index.
BEGIN;
SELECT plan(26);

SELECT is(medcrm.account_name_key(n), k, format('name key of %s is %s', n, k))
  FROM (VALUES ('杭州市第一人民医院', '杭州第1人民'),
               ('杭州市第一人民医院有限公司', '杭州第1人民'),
               ('杭州 第１人民医院', '杭州第1人民'),
               ('浙江省第十二人民医院', '浙江第12人民'),
               ('温州医科大学附属第二医院', '温州医大附属第2'),
               ('华康医疗器械(杭州)有限公司', '华康医疗器械杭州'),
               ('杭州华康口腔诊所（总部）', '杭州华康口腔诊所'),
               ('第一百零五', '第105'),
               ('Ｍｅｄｉｔｅｃｈ　Co., Ltd.', 'meditech'),
               ('MEDITECH co ltd', 'meditech'),
               ('Medco', 'medco'),
               ('华东医疗器械股份有限公司', '华东医疗器械'),
               ('华东·医疗器械（有限公司）', '华东医疗器械'),
               ('St. Mary''s Hospital', 'stmarys'),
               ('医院', '医院')) AS t(n, k);

INSERT INTO medcrm.account (id, kind, name, city, tax_id) VALUES
  (910001, 'hospital', '杭州市第一人民医院', 'Hangzhou', NULL),
  (910002, 'hospital', '杭州市第一人民医院有限公司', 'Hangzhou', NULL),   -- same key
  (910003, 'hospital', '杭州市第二人民医院', 'Hangzhou', NULL),           -- another hospital
  (910004, 'distributor', 'Ｍｅｄｉｔｅｃｈ Co., Ltd.', 'Shanghai', NULL),
  (910005, 'distributor', 'Meditech', 'Shanghai', NULL),                 -- same key
  (910006, 'distributor', 'Meditech', 'Beijing', NULL),                  -- another city
  (910007, 'distributor', 'Alpha Medical Trading', 'Wuhan', '91-4201 00AB'),
  (910008, 'agent', 'Zeta Devices', 'Wuhan', '914201-00ab'),             -- same tax id
  (910009, 'distributor', 'Huadong Medical Equipment', 'Nanjing', NULL),
  (910010, 'distributor', 'Huadong Medical Equipmnt', 'Nanjing', NULL),  -- typo
  (910011, 'clinic', 'Sunrise Eye Clinic', 'Xiamen', NULL),
  (910012, 'clinic', 'Sunrise Eye Centre', 'Fuzhou', NULL),               -- shares a phone, similar name
  (910013, 'clinic', 'Golden Dental', 'Xiamen', NULL),
  (910014, 'hospital', 'Provincial Cancer Hospital', 'Xiamen', NULL),    -- shares a phone, different name
  (910015, 'hospital', 'Beijing No.1 Hospital', 'Beijing', NULL),
  (910016, 'hospital', 'Beijing No.2 Hospital', 'Beijing', NULL),        -- numbers differ
  (910017, 'clinic', '深圳华瑞口腔诊所', 'Shenzhen', NULL),
  (910018, 'clinic', '深圳华瑞华瑞口腔诊所', 'Shenzhen', NULL),           -- a repeated word: another brand
  (910019, 'hospital', '杭州市第三人民医院', 'Hangzhou', NULL),
  (910020, 'hospital', '杭州第３人民医院 ', 'Hangzhou', NULL);             -- width and 市: same hospital
INSERT INTO medcrm.contact (account_id, full_name, phone, email) VALUES
  (910011, 'Chen', '+86 138 0000 1111', NULL), (910012, 'Chen', '138-0000-1111', NULL),
  (910013, 'Lin', '139 1234 0000', 'lin@example.org'), (910014, 'Lin', '13912340000', 'LIN@example.org ');

SELECT set_eq(
  $$SELECT account_a, account_b, reasons FROM medcrm.find_duplicate_accounts() WHERE account_a >= 910001$$,
  $$VALUES (910001::bigint, 910002::bigint, ARRAY['same_name', 'same_city']),
           (910004, 910005, ARRAY['same_name', 'same_city']),
           (910007, 910008, ARRAY['tax_id', 'same_city']),
           (910009, 910010, ARRAY['similar_name', 'same_city']),
           (910011, 910012, ARRAY['phone']),
           (910019, 910020, ARRAY['same_name', 'same_city'])$$,
  'find_duplicate_accounts finds exactly the planted pairs, with their evidence');
SELECT is((SELECT similarity FROM medcrm.find_duplicate_accounts() WHERE account_a = 910001), 1::real,
          'a shared name key has similarity 1');
SELECT cmp_ok((SELECT similarity FROM medcrm.find_duplicate_accounts() WHERE account_a = 910009), '>=', 0.6::real,
              'a typo keeps a similarity of at least 0.6');
SELECT is((SELECT count(*)::int FROM medcrm.find_duplicate_accounts(0.95) WHERE account_a >= 910001), 5,
          'a stricter similarity drops the typo pair');

SELECT is(medcrm.scan_duplicates(), 6::bigint, 'scan_duplicates stores the open pairs');
SELECT is((SELECT count(*)::int FROM medcrm.v_data_quality WHERE finding_code = 'suspected_duplicate'), 6,
          'each pair is a suspected_duplicate finding on its newer account');
UPDATE medcrm.duplicate_candidate SET status = 'dismissed', dismissed_by = current_user,
       dismiss_reason = 'two clinics of one owner' WHERE account_a = 910011;
SELECT is(medcrm.scan_duplicates(), 5::bigint, 'a dismissed pair stays dismissed on the next scan');
SELECT is((SELECT status FROM medcrm.duplicate_candidate WHERE account_a = 910011), 'dismissed', 'and is kept as such');
SELECT medcrm.merge_accounts(910001, 910002, 'same hospital');
SELECT is((SELECT count(*)::int FROM medcrm.v_data_quality WHERE finding_code = 'suspected_duplicate'), 4,
          'merging a pair ends its finding');
SELECT is(medcrm.scan_duplicates(), 4::bigint, 'and the next scan drops it');

SELECT results_eq(
  $$SELECT account_id FROM medcrm.find_similar_accounts('Huadong Medical Equipment Co., Ltd.', 'Nanjing')$$,
  $$VALUES (910009::bigint), (910010::bigint)$$,
  'find_similar_accounts finds similar names in a city, best first');

SELECT * FROM finish();
ROLLBACK;
