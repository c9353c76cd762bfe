#!/usr/bin/env bash
# bench_dedupe.sh — the bulk duplicate scan on about 1M accounts: time, share
# of planted duplicates found (recall) and share of false pairs.
#
# Ground truth: medcrm_demo.planted_duplicate of the demo generator when
# medcrm_bench has it; otherwise this script builds its own data set in
# database medcrm_bench_dedupe (2,000 x MEDCRM_BENCH_SCALE accounts, 1 %
# planted near-duplicates spelled the way source systems spell them) and
# drops it afterwards. A found pair is true when both accounts belong to the
# same planted cluster (an original and its duplicates).
# Targets (issue): recall >= 95 %, false pairs <= 5 %, scan <= 10 minutes.
set -euo pipefail
cd "${MEDCRM_TOP:-$(dirname "$0")/../..}"
scale=${MEDCRM_BENCH_SCALE:-500}
db=medcrm_bench
q() { psql -X -qAt -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

if [ "$(q "SELECT to_regclass('medcrm_demo.planted_duplicate') IS NOT NULL")" = t ]; then
  echo "   ground truth: the demo generator's medcrm_demo.planted_duplicate"
  own=0
else
  own=1
  db=medcrm_bench_dedupe
  dropdb --if-exists "$db" >/dev/null 2>&1
  createdb "$db"
  q "SET client_min_messages = warning; CREATE EXTENSION medcrm CASCADE"
  n=$((2000 * scale))
  echo "   ground truth: own data set, $n base accounts + 1 % planted duplicates (demo generator without planted_duplicate)"
  start=$(date +%s)
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -v n="$n" <<'SQL'
CREATE SCHEMA medcrm_demo;
CREATE TABLE medcrm_demo.planted_duplicate (original_id bigint, duplicate_id bigint, variant text);
CREATE TEMP TABLE city (cid int, zh text, py text);
INSERT INTO city SELECT i - 1, zh, py FROM unnest(
  ARRAY['杭州','宁波','温州','苏州','南京','无锡','上海','北京','天津','广州','深圳','佛山','东莞','成都','重庆',
        '武汉','长沙','郑州','西安','济南','青岛','合肥','福州','厦门','南昌','昆明','贵阳','南宁','海口','沈阳',
        '大连','长春','哈尔滨','石家庄','太原','呼和浩特','兰州','西宁','银川','乌鲁木齐','拉萨','徐州','常州','绍兴','嘉兴',
        '台州','金华','烟台','潍坊','洛阳','襄阳','宜昌','株洲','珠海','中山','泉州','漳州','桂林','柳州','绵阳'],
  ARRAY['Hangzhou','Ningbo','Wenzhou','Suzhou','Nanjing','Wuxi','Shanghai','Beijing','Tianjin','Guangzhou','Shenzhen','Foshan','Dongguan','Chengdu','Chongqing',
        'Wuhan','Changsha','Zhengzhou','Xian','Jinan','Qingdao','Hefei','Fuzhou','Xiamen','Nanchang','Kunming','Guiyang','Nanning','Haikou','Shenyang',
        'Dalian','Changchun','Harbin','Shijiazhuang','Taiyuan','Hohhot','Lanzhou','Xining','Yinchuan','Urumqi','Lhasa','Xuzhou','Changzhou','Shaoxing','Jiaxing',
        'Taizhou','Jinhua','Yantai','Weifang','Luoyang','Xiangyang','Yichang','Zhuzhou','Zhuhai','Zhongshan','Quanzhou','Zhangzhou','Guilin','Liuzhou','Mianyang'])
  WITH ORDINALITY AS t(zh, py, i);
CREATE FUNCTION pg_temp.cn(k int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN k BETWEEN 1 AND 10 THEN (ARRAY['一','二','三','四','五','六','七','八','九','十'])[k]
              WHEN k BETWEEN 11 AND 19 THEN '十' || (ARRAY['一','二','三','四','五','六','七','八','九'])[k - 10]
              WHEN k BETWEEN 20 AND 99 THEN (ARRAY['一','二','三','四','五','六','七','八','九'])[k / 10] || '十'
                   || coalesce((ARRAY['一','二','三','四','五','六','七','八','九'])[nullif(k % 10, 0)], '')
              ELSE k::text END $$;
-- base accounts: n-th account is the k-th of its city; names unique by construction
CREATE TEMP TABLE base AS
SELECT n, c.zh, c.py, (n / 60)::int + 1 AS k,
       (ARRAY['hospital','hospital','hospital','hospital','hospital','clinic','clinic','clinic','distributor','agent'])[1 + (n / 60) % 10] AS kind,
       (ARRAY['华康','安泰','瑞祥','博思','恒信','仁和','天成','嘉禾','永盛','鸿运','康宁','美华','普惠','德信','新元','中科','海瑞','金鼎','星辰','远航'])[1 + (n / 600) % 20]
       || (ARRAY['医','健','生','达','通','联','创','佳','源','益','科','泰','信','盛','和','福','康','宝','华','明'])[1 + (n / 12000) % 20]
       || CASE WHEN n >= 240000 THEN (n / 240000)::text ELSE '' END AS brand,
       (ARRAY['Huakang','Antai','Ruixiang','Bosi','Hengxin','Renhe','Tiancheng','Jiahe','Yongsheng','Hongyun','Kangning','Meihua','Puhui','Dexin','Xinyuan','Zhongke','Hairui','Jinding','Xingchen','Yuanhang'])[1 + (n / 600) % 20]
       || (ARRAY['yi','jian','sheng','da','tong','lian','chuang','jia','yuan','yi2','ke','tai','xin','sheng2','he','fu','kang','bao','hua','ming'])[1 + (n / 12000) % 20]
       || CASE WHEN n >= 240000 THEN (n / 240000)::text ELSE '' END AS brand_py
  FROM generate_series(0, :n - 1) AS n
  JOIN city c ON c.cid = n % 60;
CREATE INDEX ON base (n);
ANALYZE base;
ALTER TABLE base ADD COLUMN name text;
UPDATE base SET name = CASE kind
    WHEN 'hospital' THEN zh || '市第' || pg_temp.cn(k) || (ARRAY['人民医院','中心医院','中医医院','妇幼保健院'])[1 + k % 4]
    WHEN 'clinic' THEN zh || brand || (ARRAY['口腔诊所','体检中心','门诊部'])[1 + k % 3]
    WHEN 'distributor' THEN CASE WHEN k % 8 = 0 THEN py || ' ' || brand_py || ' Medical Equipment Co., Ltd.'
                                 ELSE zh || brand || '医疗器械有限公司' END
    ELSE zh || brand || '医疗科技有限公司' END;
INSERT INTO medcrm.account (id, kind, name, city, tax_id, lifecycle_stage)
SELECT n + 1, kind, name, zh, '9133' || lpad(((n::bigint * 7919) % 10000000000)::text, 10, '0') || 'X', 'active' FROM base;
INSERT INTO medcrm.contact (id, account_id, full_name, phone, email)
SELECT n + 1, n + 1, 'Contact ' || n, '1' || lpad(((n::bigint * 104729) % 10000000000)::text, 10, '0'),
       'c' || n || '@example.org' FROM base;
-- planted duplicates, 1 %: another spelling, sometimes the same tax id or phone
CREATE TEMP TABLE dup AS
SELECT j, :n + j AS id, b.n + 1 AS original_id, b.kind, b.zh, b.name,
       CASE WHEN b.name ~ 'Co\., Ltd\.' THEN (ARRAY['english', 'english', 'typo'])[1 + j % 3]
            ELSE (ARRAY['spacing', 'suffix', 'width', 'punctuation'])[1 + j % 4] END AS variant
  FROM generate_series(1, :n / 100) AS j
  JOIN base b ON b.n = (j::bigint * 97) % :n;
INSERT INTO medcrm.account (id, kind, name, city, tax_id, lifecycle_stage)
SELECT d.id, d.kind,
       CASE d.variant
         WHEN 'spacing' THEN substr(d.name, 1, 2) || ' ' || substr(d.name, 3) || ' '
         WHEN 'suffix' THEN CASE WHEN d.name LIKE '%有限公司' THEN replace(d.name, '有限公司', '有限责任公司')
                                 WHEN d.name LIKE '%市%' THEN replace(d.name, '市', '')
                                 ELSE d.name || '有限公司' END
         WHEN 'width' THEN CASE WHEN d.name ~ '第[一二三四五六七八九十]+'
                                THEN regexp_replace(d.name, '第[一二三四五六七八九十]+',
                                       '第' || translate((SELECT k FROM base WHERE n = d.original_id - 1)::text, '0123456789', '０１２３４５６７８９'))
                                WHEN d.name ~ '[0-9]' THEN translate(d.name, '0123456789', '０１２３４５６７８９')
                                ELSE d.name || '（总部）' END
         WHEN 'punctuation' THEN regexp_replace(d.name, '^(.{2})', '\1·')
         WHEN 'english' THEN CASE WHEN d.j % 2 = 0 THEN upper(replace(replace(d.name, 'Co., Ltd.', 'CO LTD'), '.', ''))
                                  ELSE replace(d.name, 'Co., Ltd.', 'Company Limited') END
         ELSE -- typo: one letter of the brand dropped
           regexp_replace(d.name, '^(\S+ \S{3})\S', '\1') END,
       d.zh,
       CASE WHEN d.j % 4 = 0 THEN (SELECT tax_id FROM medcrm.account WHERE id = d.original_id) END,
       'prospect'
  FROM dup d;
INSERT INTO medcrm.contact (id, account_id, full_name, phone)
SELECT d.id, d.id, 'Contact dup ' || d.j, (SELECT phone FROM medcrm.contact WHERE id = d.original_id)
  FROM dup d WHERE d.j % 4 = 1;
INSERT INTO medcrm_demo.planted_duplicate SELECT original_id, id, variant FROM dup;
VACUUM ANALYZE medcrm.account;
VACUUM ANALYZE medcrm.contact;
SQL
  echo "   data set built in $(( $(date +%s) - start )) s: $(q 'SELECT count(*) FROM medcrm.account') accounts, $(q 'SELECT count(*) FROM medcrm_demo.planted_duplicate') planted duplicates"
fi

start=$(date +%s.%N)
q "CREATE UNLOGGED TABLE bench_found AS SELECT * FROM medcrm.find_duplicate_accounts()" 
secs=$(echo "$(date +%s.%N) - $start" | bc)
psql -X -qAt -v ON_ERROR_STOP=1 -d "$db" <<SQL
CREATE TEMP TABLE root AS
SELECT duplicate_id AS id, original_id AS root FROM medcrm_demo.planted_duplicate
UNION SELECT original_id, original_id FROM medcrm_demo.planted_duplicate;
CREATE TEMP TABLE judged AS
SELECT f.*, (ra.root IS NOT NULL AND ra.root = rb.root) AS true_pair
  FROM bench_found f LEFT JOIN root ra ON ra.id = f.account_a LEFT JOIN root rb ON rb.id = f.account_b;
SELECT format('   accounts %s, planted duplicates %s, pairs found %s', (SELECT count(*) FROM medcrm.account),
              (SELECT count(*) FROM medcrm_demo.planted_duplicate), (SELECT count(*) FROM bench_found));
SELECT format('   scan time %s s (target <= 600 s): ratio to target %s', round($secs::numeric, 1), round($secs::numeric / 600, 3));
SELECT format('   recall %s %% of planted duplicates found (target >= 95 %%)',
              round(100.0 * count(*) FILTER (WHERE EXISTS (
                  SELECT FROM bench_found f WHERE f.account_a = least(p.original_id, p.duplicate_id)
                                             AND f.account_b = greatest(p.original_id, p.duplicate_id))) / count(*), 2))
  FROM medcrm_demo.planted_duplicate p;
SELECT format('   false pairs %s %% of pairs found (target <= 5 %%)',
              round(100.0 * count(*) FILTER (WHERE NOT true_pair) / greatest(count(*), 1), 2)) FROM judged;
SELECT format('   missed by variant: %s', coalesce(string_agg(variant || ' ' || n, ', '), 'none'))
  FROM (SELECT p.variant, count(*) AS n FROM medcrm_demo.planted_duplicate p
         WHERE NOT EXISTS (SELECT FROM bench_found f WHERE f.account_a = least(p.original_id, p.duplicate_id)
                                                     AND f.account_b = greatest(p.original_id, p.duplicate_id))
         GROUP BY 1 ORDER BY 1) s;
SELECT format('   false pairs by evidence: %s', coalesce(string_agg(r || ' ' || n, ', '), 'none'))
  FROM (SELECT array_to_string(reasons, '+') AS r, count(*) AS n FROM judged WHERE NOT true_pair GROUP BY 1 ORDER BY 2 DESC LIMIT 6) s;
SQL
q "DROP TABLE bench_found"
if [ $own = 1 ]; then dropdb "$db"; fi
