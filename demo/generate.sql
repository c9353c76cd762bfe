-- demo/generate.sql — medcrm's demo data set, deterministic from a seed, at any scale.
--
--   psql -v scale=1 -v seed=42 [-v anchor=YYYY-MM-DD] -f demo/generate.sql
--
-- Run as a superuser on a database where CREATE EXTENSION medcrm CASCADE was
-- done. scale 1 is about 2,000 accounts, scale 500 about 1M accounts and 5M
-- orders; scale may be fractional. anchor (default current_date) is the data's
-- "today": three years of history end there. docs/demo-data.md describes the
-- shape of the data, the planted problems and the measured sizes.
--
-- How it is built:
-- * Every random choice is a hash of (seed, entity number, purpose) mapped into
--   (0,1) by pg_temp.r(); random() is never used, every id is computed (never
--   drawn from a sequence) and every timestamp is derived from the generated
--   business dates, so two runs with the same seed and anchor give identical
--   tables whatever the plan, the order of execution or the parallelism.
-- * Everything is set-based: a plan row per account (temp table acc) carries
--   its attributes, the number of rows of every kind it owns and the id offset
--   of each, so child rows are INSERT ... SELECT over generate_series.
-- * The load runs with session_replication_role = replica, as a restore or an
--   ERP import does: no trigger fires (neither medcrm's nor foreign keys'), so
--   the generator itself fills what triggers would derive (SLA deadlines and
--   team of work orders, device and contract status) and keeps every
--   reference valid. test/scripts/demo_deterministic.sh checks all of it.
-- * Ids continue after the rows already present, and every identity sequence
--   is moved past the largest id at the end, so later inserts work.
-- * Ground truth of the planted problems is kept in schema medcrm_demo (not
--   part of the extension): planted_duplicate and planted_problem.

\set ON_ERROR_STOP on
\if :{?scale}
\else
\set scale 1
\endif
\if :{?seed}
\else
\set seed 42
\endif
\if :{?anchor}
\else
SELECT current_date::text AS anchor \gset
\endif

BEGIN;
SET LOCAL session_replication_role = replica;  -- reset by COMMIT
SET LOCAL client_min_messages = warning;
SET LOCAL work_mem = '256MB';
SET LOCAL temp_buffers = '1GB';  -- before the first temporary table of the session
SET LOCAL jit = off;              -- compiling these long expressions costs more than it saves
SET LOCAL synchronous_commit = off;
SET LOCAL TimeZone = 'Asia/Shanghai';

-- Parameters, in psql variables for the statements below.
SELECT greatest(20, round(2000 * (:scale)::numeric))::int          AS n_base,
       greatest(1, round(20 * (:scale)::numeric))::int             AS n_dup,
       (:seed)::bigint * 1000                                      AS salt,
       (:'anchor')::date                                           AS anchor_d,
       ((date_trunc('month', (:'anchor')::date) - interval '35 months')::date) AS win_start
\gset
SELECT (SELECT coalesce(max(id), 0) FROM medcrm.account)          AS b_acc,
       (SELECT coalesce(max(id), 0) FROM medcrm.department)       AS b_dept,
       (SELECT coalesce(max(id), 0) FROM medcrm.contact)          AS b_con,
       (SELECT coalesce(max(id), 0) FROM medcrm.product)          AS b_prod,
       (SELECT coalesce(max(id), 0) FROM medcrm.installed_device) AS b_dev,
       (SELECT coalesce(max(id), 0) FROM medcrm.certificate)      AS b_cert,
       (SELECT coalesce(max(id), 0) FROM medcrm.recall)           AS b_recall,
       (SELECT coalesce(max(id), 0) FROM medcrm.complaint)        AS b_compl,
       (SELECT coalesce(max(id), 0) FROM medcrm.sample_loan)      AS b_loan,
       (SELECT coalesce(max(id), 0) FROM medcrm.opportunity)      AS b_opp,
       (SELECT coalesce(max(id), 0) FROM medcrm.sales_order)      AS b_ord,
       (SELECT coalesce(max(id), 0) FROM medcrm.contract)         AS b_ctr,
       (SELECT coalesce(max(id), 0) FROM medcrm.invoice)          AS b_inv,
       (SELECT coalesce(max(id), 0) FROM medcrm.service_team)     AS b_team,
       (SELECT coalesce(max(id), 0) FROM medcrm.work_order)       AS b_wo,
       (SELECT coalesce(max(id), 0) FROM medcrm.visit)            AS b_visit
\gset

-- ---------------------------------------------------------------------------
-- Helpers (temporary: they vanish with the session).
-- r(e, p): a number in (0,1) from (seed, entity e, purpose p). Inlined by the
-- planner (a single immutable SQL expression).
SELECT format($f$
CREATE FUNCTION pg_temp.r(e bigint, p int) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $b$ SELECT ((pg_catalog.hashint8extended(e, %s::bigint + p) & 9007199254740991)::float8 + 0.5)
              / 9007199254740992.0 $b$
$f$, :salt) \gexec
-- z(e, p): a standard normal number (Box-Muller).
CREATE FUNCTION pg_temp.z(e bigint, p int) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT sqrt(-2 * ln(pg_temp.r(e, p))) * cos(2 * pi() * pg_temp.r(e, p + 500)) $$;
-- cn(k): a Chinese numeral for 1..99, digits beyond.
CREATE FUNCTION pg_temp.cn(k bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE
    WHEN k BETWEEN 1 AND 10 THEN (ARRAY['一','二','三','四','五','六','七','八','九','十'])[k]
    WHEN k BETWEEN 11 AND 19 THEN '十' || (ARRAY['一','二','三','四','五','六','七','八','九'])[k - 10]
    WHEN k BETWEEN 20 AND 99 THEN (ARRAY['一','二','三','四','五','六','七','八','九'])[k / 10] || '十'
         || coalesce((ARRAY['一','二','三','四','五','六','七','八','九'])[nullif(k % 10, 0)], '')
    ELSE k::text END $$;
-- at(d, minutes): the timestamptz of date d plus minutes, Beijing time.
CREATE FUNCTION pg_temp.at(d date, minutes float8) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (d + make_interval(secs => round(minutes * 60))) AT TIME ZONE 'Asia/Shanghai' $$;
-- gtin_check(13 digits): the GS1 check digit.
CREATE FUNCTION pg_temp.gs1(s text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$ SELECT s || ((10 - (SELECT sum(substr(s, i, 1)::int * CASE WHEN i % 2 = 1 THEN 3 ELSE 1 END)
                          FROM generate_series(1, 13) i) % 10) % 10)::text $$;
-- cnid(17 digits): a Chinese resident ID number with its ISO 7064 check character.
CREATE FUNCTION pg_temp.cnid(s text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT s || substr('10X98765432', 1 + ((
      substr(s,1,1)::int*7 + substr(s,2,1)::int*9 + substr(s,3,1)::int*10 + substr(s,4,1)::int*5
    + substr(s,5,1)::int*8 + substr(s,6,1)::int*4 + substr(s,7,1)::int*2 + substr(s,8,1)::int*1
    + substr(s,9,1)::int*6 + substr(s,10,1)::int*3 + substr(s,11,1)::int*7 + substr(s,12,1)::int*9
    + substr(s,13,1)::int*10 + substr(s,14,1)::int*5 + substr(s,15,1)::int*8 + substr(s,16,1)::int*4
    + substr(s,17,1)::int*2) % 11), 1) $$;

-- ---------------------------------------------------------------------------
-- Ground truth of the planted problems.
DROP SCHEMA IF EXISTS medcrm_demo CASCADE;
CREATE SCHEMA medcrm_demo;
COMMENT ON SCHEMA medcrm_demo IS 'Ground truth of the problems planted by demo/generate.sql (not part of the medcrm extension).';
CREATE TABLE medcrm_demo.planted_duplicate (
    original_id  bigint NOT NULL,
    duplicate_id bigint NOT NULL PRIMARY KEY,
    variant      text NOT NULL
);
COMMENT ON TABLE medcrm_demo.planted_duplicate IS 'Near-duplicate accounts planted by the demo generator: duplicate_id is another spelling of original_id.';
COMMENT ON COLUMN medcrm_demo.planted_duplicate.variant IS 'How the name differs: spacing, suffix, width, punctuation or english.';
CREATE TABLE medcrm_demo.planted_problem (
    problem    text NOT NULL,
    table_name text NOT NULL,
    row_id     bigint NOT NULL,
    PRIMARY KEY (problem, table_name, row_id)
);
COMMENT ON TABLE medcrm_demo.planted_problem IS 'Data-quality problems planted by the demo generator, one row per offending row.';

-- ---------------------------------------------------------------------------
-- Reference data: regions, provinces, cities (weight = share of accounts).
CREATE TEMP TABLE city (cid int PRIMARY KEY, region text, province text, city text, zh text,
                        area text, lat float8, lon float8, w float8) ON COMMIT DROP;
INSERT INTO city VALUES
 ( 1,'East','Shanghai','Shanghai','上海','310100',31.23,121.47,9),
 ( 2,'East','Jiangsu','Nanjing','南京','320100',32.06,118.80,5),
 ( 3,'East','Jiangsu','Suzhou','苏州','320500',31.30,120.58,4),
 ( 4,'East','Zhejiang','Hangzhou','杭州','330100',30.27,120.16,5),
 ( 5,'East','Zhejiang','Ningbo','宁波','330200',29.87,121.54,3),
 ( 6,'East','Shandong','Jinan','济南','370100',36.65,117.12,4),
 ( 7,'East','Shandong','Qingdao','青岛','370200',36.07,120.38,3),
 ( 8,'East','Anhui','Hefei','合肥','340100',31.82,117.23,3),
 ( 9,'East','Fujian','Fuzhou','福州','350100',26.07,119.30,2),
 (10,'East','Fujian','Xiamen','厦门','350200',24.48,118.09,2),
 (11,'East','Jiangxi','Nanchang','南昌','360100',28.68,115.86,2),
 (12,'North','Beijing','Beijing','北京','110100',39.90,116.41,8),
 (13,'North','Tianjin','Tianjin','天津','120100',39.13,117.20,3),
 (14,'North','Hebei','Shijiazhuang','石家庄','130100',38.04,114.51,3),
 (15,'North','Shanxi','Taiyuan','太原','140100',37.87,112.55,2),
 (16,'North','Inner Mongolia','Hohhot','呼和浩特','150100',40.84,111.75,1),
 (17,'South','Guangdong','Guangzhou','广州','440100',23.13,113.26,6),
 (18,'South','Guangdong','Shenzhen','深圳','440300',22.54,114.06,5),
 (19,'South','Guangxi','Nanning','南宁','450100',22.82,108.37,2),
 (20,'South','Hainan','Haikou','海口','460100',20.04,110.20,1),
 (21,'Central','Henan','Zhengzhou','郑州','410100',34.75,113.63,4),
 (22,'Central','Hubei','Wuhan','武汉','420100',30.59,114.31,4),
 (23,'Central','Hunan','Changsha','长沙','430100',28.23,112.94,3),
 (24,'Southwest','Sichuan','Chengdu','成都','510100',30.57,104.07,5),
 (25,'Southwest','Chongqing','Chongqing','重庆','500100',29.56,106.55,4),
 (26,'Southwest','Yunnan','Kunming','昆明','530100',25.04,102.71,2),
 (27,'Southwest','Guizhou','Guiyang','贵阳','520100',26.65,106.63,1),
 (28,'Northwest','Shaanxi','Xi''an','西安','610100',34.34,108.94,3),
 (29,'Northwest','Gansu','Lanzhou','兰州','620100',36.06,103.83,1),
 (30,'Northwest','Xinjiang','Urumqi','乌鲁木齐','650100',43.83,87.62,1),
 (31,'Northwest','Ningxia','Yinchuan','银川','640100',38.49,106.23,1),
 (32,'Northwest','Qinghai','Xining','西宁','630100',36.62,101.78,1),
 (33,'Northeast','Liaoning','Shenyang','沈阳','210100',41.81,123.43,3),
 (34,'Northeast','Liaoning','Dalian','大连','210200',38.91,121.61,2),
 (35,'Northeast','Jilin','Changchun','长春','220100',43.82,125.32,2),
 (36,'Northeast','Heilongjiang','Harbin','哈尔滨','230100',45.80,126.53,2);
-- 1000 slots, each city owning a share proportional to its weight.
CREATE TEMP TABLE city_slot ON COMMIT DROP AS
WITH c AS (SELECT cid, sum(w) OVER (ORDER BY cid) - w AS lo, sum(w) OVER (ORDER BY cid) AS hi,
                  sum(w) OVER () AS tot FROM city)
SELECT s AS slot, cid
  FROM c, generate_series(round(1000 * lo / tot)::int, round(1000 * hi / tot)::int - 1) s;

-- The 36 months of history (month 35 holds the anchor), weighted for tender
-- seasonality (peaks in December, November and March; a trough at the Spring
-- Festival) and 8 % yearly growth; the anchor's month counts only its elapsed days.
CREATE TEMP TABLE month ON COMMIT DROP AS
WITH m AS (
  SELECT i, (:'win_start'::date + make_interval(months => i))::date AS m_start
    FROM generate_series(0, 35) i
), w AS (
  SELECT i, m_start,
         least((m_start + interval '1 month')::date - 1, :'anchor_d'::date) AS m_end,
         (ARRAY[0.65, 0.55, 1.45, 0.90, 0.90, 1.10, 0.80, 0.80, 1.00, 1.05, 1.40, 1.95])
             [extract(month FROM m_start)::int]
         * power(1.08, i / 12.0)
         * ((least((m_start + interval '1 month')::date - 1, :'anchor_d'::date) - m_start + 1)::float8
            / ((m_start + interval '1 month')::date - m_start)) AS w
    FROM m
)
SELECT i, m_start, m_end, (m_end - m_start + 1) AS days,
       (sum(w) OVER (ORDER BY i) - w) / sum(w) OVER () AS cum_lo,
       sum(w) OVER (ORDER BY i) / sum(w) OVER () AS cum_hi
  FROM w;
CREATE TEMP TABLE month_slot ON COMMIT DROP AS
SELECT s AS slot, i FROM month, generate_series(round(10000 * cum_lo)::int, round(10000 * cum_hi)::int - 1) s;
ALTER TABLE month_slot ADD PRIMARY KEY (slot);
-- seasonal(u): a date of the history drawn with the seasonal weights.
CREATE FUNCTION pg_temp.seasonal(u float8, v float8) RETURNS date
LANGUAGE sql STABLE
AS $$ SELECT m.m_start + floor(v * m.days)::int
        FROM pg_temp.month_slot s JOIN pg_temp.month m USING (i)
       WHERE s.slot = least(9999, floor(u * 10000)::int) $$;

-- Brand words of company names (with pinyin) and names of people.
CREATE TEMP TABLE word ON COMMIT DROP AS
SELECT ARRAY['康泰','华瑞','仁和','嘉禾','恒通','永安','鑫源','博远','宏达','安康',
             '德信','天诚','新华','金桥','益民','泰和','信达','国瑞','众合','明康'] AS brand,
       ARRAY['Kangtai','Huarui','Renhe','Jiahe','Hengtong','Yongan','Xinyuan','Boyuan','Hongda','Ankang',
             'Dexin','Tiancheng','Xinhua','Jinqiao','Yimin','Taihe','Xinda','Guorui','Zhonghe','Mingkang'] AS brand_py,
       ARRAY['王','李','张','刘','陈','杨','黄','赵','吴','周','徐','孙','马','朱','胡','郭','何','高','林','罗',
             '郑','梁','谢','宋','唐','许','韩','冯','邓','曹'] AS surname,
       ARRAY['wang','li','zhang','liu','chen','yang','huang','zhao','wu','zhou','xu','sun','ma','zhu','hu','guo',
             'he','gao','lin','luo','zheng','liang','xie','song','tang','xu','han','feng','deng','cao'] AS surname_py,
       ARRAY['伟','芳','娜','敏','静','丽','强','磊','军','洋','勇','艳','杰','娟','涛','明','超','华','平','刚',
             '建国','秀英','志强','海燕','晓东','文博','子涵','雅琴','国华','丽萍','永红','浩然'] AS given,
       ARRAY['wei','fang','na','min','jing','li','qiang','lei','jun','yang','yong','yan','jie','juan','tao','ming',
             'chao','hua','ping','gang','jianguo','xiuying','zhiqiang','haiyan','xiaodong','wenbo','zihan','yaqin',
             'guohua','liping','yonghong','haoran'] AS given_py;

-- Departments (科室): the first of every hospital is the equipment department,
-- the others rotate through this list.
CREATE TEMP TABLE dept_ref (di int PRIMARY KEY, name text, specialty text) ON COMMIT DROP;
INSERT INTO dept_ref VALUES
 (0,'设备科','equipment'), (1,'放射科','imaging'), (2,'心内科','cardio'), (3,'检验科','ivd'),
 (4,'超声科','imaging'), (5,'普外科','surgical'), (6,'重症医学科','icu'), (7,'麻醉科','surgical'),
 (8,'急诊科','emergency'), (9,'骨科','surgical'), (10,'心外科','cardio'), (11,'病理科','ivd'),
 (12,'神经内科','neuro'), (13,'手术室','surgical'), (14,'消化内科','endoscopy'), (15,'妇产科','obstetrics');

-- ---------------------------------------------------------------------------
-- Products: ~40 models across the categories, with registrations (a few
-- expiring within 90 days of the anchor) and GS1 GTINs with valid check digits.
CREATE TEMP TABLE prod (pn int PRIMARY KEY, model_code text, name text, category text, price numeric,
                        margin numeric, device boolean, fault float8, cat_code text, reg_class int,
                        expires_in int) ON COMMIT DROP;
INSERT INTO prod VALUES
 ( 1,'CT-128','Aurora CT 128 排螺旋CT','imaging',7800000,0.30,true,0.9,'06',2,900),
 ( 2,'CT-64','Aurora CT 64 排螺旋CT','imaging',4200000,0.30,true,0.9,'06',2,1500),
 ( 3,'MR-15T','Zenith MR 1.5T 磁共振成像系统','imaging',9500000,0.28,true,0.8,'06',2,1100),
 ( 4,'MR-30T','Zenith MR 3.0T 磁共振成像系统','imaging',16000000,0.27,true,0.8,'06',2,1700),
 ( 5,'DR-200','Lumen DR200 数字化X射线摄影系统','imaging',900000,0.33,true,0.6,'06',2,640),
 ( 6,'CARM-9','Orbit 9 移动式C形臂','imaging',1600000,0.31,true,0.6,'06',2,1300),
 ( 7,'US-V8','Sonic V8 彩色多普勒超声诊断仪','imaging',1200000,0.38,true,0.5,'06',2,420),
 ( 8,'US-P3','Sonic P3 便携式超声诊断仪','imaging',350000,0.40,true,0.5,'06',2,760),
 ( 9,'MAM-D','Clara 数字乳腺X射线摄影系统','imaging',2300000,0.30,true,0.6,'06',2,1200),
 (10,'MON-M12','Vita M12 病人监护仪','cardio',85000,0.42,true,0.4,'07',2,45),
 (11,'MON-C5','Vita C5 中央监护系统','cardio',480000,0.40,true,0.4,'07',2,980),
 (12,'ECG-12','Pulse 12 导心电图机','cardio',45000,0.45,true,0.3,'07',2,1400),
 (13,'DEF-A7','Pulse A7 除颤监护仪','cardio',160000,0.41,true,0.3,'08',3,560),
 (14,'HOL-24','Pulse H24 动态心电记录仪','cardio',38000,0.47,true,0.3,'07',2,1600),
 (15,'DSA-V','Vector 血管造影X射线系统','cardio',11000000,0.26,true,0.9,'06',3,1050),
 (16,'ESU-400','Blade 400 高频电刀','surgical',180000,0.43,true,0.4,'01',3,700),
 (17,'ENDO-4K','Clarion 4K 内窥镜摄像系统','surgical',1900000,0.34,true,0.5,'06',2,1250),
 (18,'ANES-9','Aeris A9 麻醉机','surgical',420000,0.37,true,0.5,'08',3,830),
 (19,'OTB-X','Stratus 电动手术床','surgical',260000,0.35,true,0.3,'01',2,1450),
 (20,'LED-OR','Lucent 手术无影灯','surgical',150000,0.36,true,0.2,'01',2,1800),
 (21,'VENT-V9','Aeris V9 呼吸机','surgical',320000,0.38,true,0.6,'08',3,500),
 (22,'PUMP-I3','Flux I3 输液泵','other',18000,0.46,true,0.4,'14',2,70),
 (23,'CHEM-800','Assay C800 全自动生化分析仪','ivd',1100000,0.36,true,0.7,'22',2,1150),
 (24,'HEMA-5','Assay H5 五分类血细胞分析仪','ivd',420000,0.39,true,0.6,'22',2,880),
 (25,'IMMU-2K','Assay I2000 化学发光免疫分析仪','ivd',1500000,0.35,true,0.7,'22',2,1020),
 (26,'COAG-3','Assay G3 全自动凝血分析仪','ivd',300000,0.40,true,0.5,'22',2,600),
 (27,'POCT-BG','Assay BG 血气分析仪','ivd',160000,0.44,true,0.5,'22',2,1350),
 (28,'URI-10','Assay U10 尿液分析仪','ivd',120000,0.42,true,0.4,'22',2,950),
 (29,'RGT-CHEM','C800 生化检测试剂盒','consumable',12000,0.58,false,0,'40',2,1550),
 (30,'RGT-IMMU','I2000 化学发光检测试剂盒','consumable',25000,0.60,false,0,'40',3,1080),
 (31,'ELEC-50','一次性使用心电电极(50片)','consumable',600,0.55,false,0,'07',2,1700),
 (32,'SPO2-D','一次性使用血氧探头','consumable',1500,0.56,false,0,'07',2,740),
 (33,'TROC-12','一次性使用穿刺器','consumable',3800,0.52,false,0,'02',2,85),
 (34,'ESU-PAD','一次性使用电刀负极板','consumable',900,0.54,false,0,'01',2,1220),
 (35,'SHEATH-E','内窥镜一次性使用护套','consumable',2200,0.50,false,0,'06',2,660),
 (36,'QC-CTRL','生化质控品','consumable',4500,0.57,false,0,'40',2,1480),
 (37,'STER-P','Pura 低温等离子灭菌器','other',650000,0.37,true,0.4,'11',2,1030),
 (38,'BED-ICU','Rest ICU 电动病床','other',48000,0.33,true,0.2,'15',1,1900),
 (39,'INF-WS','Flux 输液工作站','other',95000,0.41,true,0.3,'14',2,1380),
 (40,'SVC-KIT','维修备件包','other',8000,0.48,false,0,'00',0,NULL);
ALTER TABLE prod ADD COLUMN id bigint, ADD COLUMN gtin text, ADD COLUMN reg_no text, ADD COLUMN reg_expires date;
UPDATE prod SET id = :b_prod + pn,
                gtin = CASE WHEN reg_class > 0 THEN pg_temp.gs1('0697123' || lpad((40000 + pn * 37)::text, 6, '0')) END,
                reg_expires = CASE WHEN expires_in IS NOT NULL THEN :'anchor_d'::date + expires_in END;
UPDATE prod SET reg_no = CASE WHEN reg_class = 1 THEN '浙械备' || extract(year FROM reg_expires - interval '5 years') || lpad(pn::text, 4, '0') || '号'
                              WHEN reg_class = 2 AND category = 'consumable' THEN '浙械注准' || extract(year FROM reg_expires - interval '5 years') || '2' || cat_code || lpad((pn * 53)::text, 4, '0')
                              WHEN reg_class > 0 THEN '国械注准' || extract(year FROM reg_expires - interval '5 years') || reg_class || cat_code || lpad((pn * 53)::text, 4, '0') END;
-- Devices by price rank (for the choice of what an account buys) and by
-- category (for what a department has installed).
CREATE TEMP TABLE dev_rank ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY price, pn)::int AS rk, pn, category FROM prod WHERE device;
CREATE TEMP TABLE dev_cat ON COMMIT DROP AS
SELECT category, row_number() OVER (PARTITION BY category ORDER BY pn)::int - 1 AS k, pn,
       count(*) OVER (PARTITION BY category)::int AS cnt FROM prod WHERE device;
CREATE TEMP TABLE cons ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY pn)::int - 1 AS ck, pn FROM prod WHERE category = 'consumable' OR model_code = 'SVC-KIT';

INSERT INTO medcrm.product (id, model_code, name, category, gtin, registration_no, registration_expires, created_at, updated_at)
SELECT id, model_code, name, category, gtin, reg_no, reg_expires,
       pg_temp.at(:'win_start'::date - 400 - pn * 11, 600), pg_temp.at(:'win_start'::date - 400 - pn * 11, 600)
  FROM prod ORDER BY pn;

-- Service teams: one per region and a national team (routing fallback, recalls).
CREATE TEMP TABLE team ON COMMIT DROP AS
SELECT :b_team + row_number() OVER (ORDER BY o) AS id, name, region, kinds
  FROM (VALUES (1,'East Service Team','East'), (2,'North Service Team','North'), (3,'South Service Team','South'),
               (4,'Central Service Team','Central'), (5,'Southwest Service Team','Southwest'),
               (6,'Northwest Service Team','Northwest'), (7,'Northeast Service Team','Northeast'))
       v(o, name, region), LATERAL (SELECT '{fault,preventive,install,training}'::text[] AS kinds) k
UNION ALL
SELECT :b_team + 8, 'National Service Team', NULL, '{fault,preventive,install,training,recall}';
INSERT INTO medcrm.service_team (id, name, region, kinds, created_at, updated_at)
SELECT id, name, region, kinds, pg_temp.at(:'win_start'::date - 700, 540), pg_temp.at(:'win_start'::date - 700, 540)
  FROM team ORDER BY id;

-- Sales territories of the demo reps: one rep per region, a director for all.
INSERT INTO medcrm.sales_territory (role, region)
SELECT 'rep_' || lower(region), region FROM (SELECT DISTINCT region FROM city) r
UNION ALL
SELECT 'sales_director', region FROM (SELECT DISTINCT region FROM city) r
ON CONFLICT DO NOTHING;

-- ---------------------------------------------------------------------------
-- The account plan. Base accounts 1..n_base by kind (2 % groups, 50 %
-- hospitals, 28 % clinics, 13 % distributors, 7 % agents); then n_dup planted
-- near-duplicates. size is a lognormal "wallet" by grade: orders, opportunities,
-- devices and visits grow with it, so revenue concentrates in few accounts.
CREATE TEMP TABLE acc0 ON COMMIT DROP AS
WITH b AS (
  SELECT n, CASE WHEN f < 0.02 THEN 'group' WHEN f < 0.52 THEN 'hospital' WHEN f < 0.80 THEN 'clinic'
                 WHEN f < 0.93 THEN 'distributor' ELSE 'agent' END AS kind
    FROM (SELECT n, (n - 0.5) / :n_base AS f FROM generate_series(1, :n_base) n) x
), g AS (
  SELECT b.*, cs.cid,
         CASE WHEN kind <> 'hospital' THEN NULL
              WHEN n - min(n) FILTER (WHERE kind = 'hospital') OVER () < 7
                THEN (ARRAY['3A','3B','3C','2A','2B','2C','1'])[1 + (n - min(n) FILTER (WHERE kind = 'hospital') OVER ())]
              ELSE CASE WHEN pg_temp.r(n, 2) < 0.02 THEN NULL
                        WHEN pg_temp.r(n, 2) < 0.12 THEN '3A' WHEN pg_temp.r(n, 2) < 0.21 THEN '3B'
                        WHEN pg_temp.r(n, 2) < 0.25 THEN '3C' WHEN pg_temp.r(n, 2) < 0.45 THEN '2A'
                        WHEN pg_temp.r(n, 2) < 0.59 THEN '2B' WHEN pg_temp.r(n, 2) < 0.65 THEN '2C'
                        ELSE '1' END END AS grade
    FROM b JOIN city_slot cs ON cs.slot = floor(pg_temp.r(n, 1) * 1000)::int
)
, h AS (
SELECT n, kind, cid, grade, false AS is_dup, NULL::int AS orig_n, NULL::text AS variant,
       exp(CASE kind WHEN 'group' THEN 1.0 WHEN 'clinic' THEN -0.2 WHEN 'distributor' THEN 2.2 WHEN 'agent' THEN 1.0
                     ELSE CASE grade WHEN '3A' THEN 3.1 WHEN '3B' THEN 2.4 WHEN '3C' THEN 2.0 WHEN '2A' THEN 1.7
                                     WHEN '2B' THEN 1.3 WHEN '2C' THEN 1.0 WHEN '1' THEN 0.2 ELSE 1.0 END END
           + 0.8 * pg_temp.z(n, 3)) AS size,
       CASE WHEN kind = 'group' THEN 'active'
            WHEN kind IN ('hospital', 'clinic') THEN
              CASE WHEN pg_temp.r(n, 4) < 0.14 THEN 'prospect' WHEN pg_temp.r(n, 4) < 0.21 THEN 'churned'
                   WHEN pg_temp.r(n, 4) < 0.33 THEN 'at_risk' ELSE 'active' END
            ELSE CASE WHEN pg_temp.r(n, 4) < 0.05 THEN 'prospect' WHEN pg_temp.r(n, 4) < 0.13 THEN 'churned'
                      WHEN pg_temp.r(n, 4) < 0.23 THEN 'at_risk' ELSE 'active' END END AS lifecycle,
       row_number() OVER (PARTITION BY cid, kind ORDER BY n) AS k_city
  FROM g
)
-- Names, unique per real account: the k-th account of its kind in its city.
SELECT a.*,
  CASE
    WHEN a.kind = 'hospital' AND a.grade IN ('3A', '3B', '3C') THEN
      c.zh || (ARRAY['市第' || pg_temp.cn(a.k_city) || '人民医院', '医科大学附属第' || pg_temp.cn(a.k_city) || '医院',
                     '市第' || pg_temp.cn(a.k_city) || '中心医院'])[1 + a.k_city % 3]
    WHEN a.kind = 'hospital' AND a.grade = '1' THEN
      c.zh || (ARRAY['市第' || pg_temp.cn(a.k_city) || '社区医院', '市第' || pg_temp.cn(a.k_city) || '卫生院'])[1 + a.k_city % 2]
    WHEN a.kind = 'hospital' THEN
      c.zh || (ARRAY['市第' || pg_temp.cn(a.k_city) || '人民医院', '市第' || pg_temp.cn(a.k_city) || '中医医院',
                     '市第' || pg_temp.cn(a.k_city) || '妇幼保健院'])[1 + a.k_city % 3]
    ELSE
      -- companies: a brand of one or two words, unique per city and kind
      (SELECT CASE
         WHEN a.kind = 'group' THEN c.zh || br || (ARRAY['医疗集团', '健康产业集团有限公司'])[1 + a.k_city % 2]
         WHEN a.kind = 'clinic' THEN c.zh || br || (ARRAY['口腔诊所', '医学影像诊断中心', '体检中心', '门诊部', '医学检验实验室'])[1 + a.n % 5]
         WHEN a.kind = 'distributor' AND pg_temp.r(a.n, 5) < 0.12 THEN
           replace(c.city, '''', '') || ' ' || brp || ' Medical Equipment Co., Ltd.'
         WHEN a.kind = 'agent' AND pg_temp.r(a.n, 5) < 0.12 THEN
           replace(c.city, '''', '') || ' ' || brp || ' Medical Technology Co., Ltd.'
         WHEN a.kind = 'distributor' AND a.n % 3 = 0 THEN br || '医疗器械(' || c.zh || ')有限公司'
         WHEN a.kind = 'distributor' THEN c.zh || br || (ARRAY['医疗器械有限公司', '医疗设备有限公司'])[1 + a.n % 2]
         ELSE c.zh || br || (ARRAY['医疗科技有限公司', '商贸有限公司', '生物科技有限公司'])[1 + a.n % 3] END
         FROM (SELECT w.brand[1 + (a.k_city - 1) % 20]
                      || CASE WHEN a.k_city > 20 THEN w.brand[1 + ((a.k_city - 1) / 20) % 20] ELSE '' END
                      || CASE WHEN a.k_city > 420 THEN ((a.k_city - 1) / 400)::text ELSE '' END AS br,
                      w.brand_py[1 + (a.k_city - 1) % 20]
                      || CASE WHEN a.k_city > 20 THEN lower(w.brand_py[1 + ((a.k_city - 1) / 20) % 20]) ELSE '' END
                      || CASE WHEN a.k_city > 420 THEN ((a.k_city - 1) / 400)::text ELSE '' END AS brp
                 FROM word w) x)
  END AS name,
  a.kind IN ('distributor', 'agent') AND pg_temp.r(a.n, 5) < 0.12 AS english
  FROM h a JOIN city c ON c.cid = a.cid;

SELECT count(*) AS n_grp FROM acc0 WHERE kind = 'group' \gset
-- Planted near-duplicates: another spelling of a hospital, clinic, distributor
-- or agent in the same city, entered later by another system.
INSERT INTO acc0 (n, kind, cid, grade, is_dup, orig_n, variant, size, lifecycle, k_city, name, english)
SELECT :n_base + j, o.kind, o.cid,
       CASE WHEN pg_temp.r(j, 11) < 0.3 THEN NULL ELSE o.grade END,
       true, o.n, v.variant, o.size * 0.15,
       CASE WHEN pg_temp.r(j, 12) < 0.5 THEN 'prospect' ELSE o.lifecycle END, 0,
       CASE v.variant
         WHEN 'spacing' THEN CASE WHEN o.name LIKE c.zh || '%' THEN c.zh || ' ' || substr(o.name, length(c.zh) + 1)
                                  ELSE substr(o.name, 1, 2) || ' ' || substr(o.name, 3) END || ' '
         WHEN 'suffix' THEN
           CASE WHEN o.name LIKE '%有限公司' AND pg_temp.r(j, 14) < 0.5 THEN replace(o.name, '有限公司', '有限责任公司')
                WHEN o.name LIKE '%有限公司' THEN replace(o.name, '有限公司', '')
                WHEN o.name LIKE '%市%' THEN replace(o.name, '市', '')
                WHEN o.name LIKE '%医科大学%' THEN replace(o.name, '医科大学', '医大')
                ELSE o.name || '有限公司' END
         WHEN 'width' THEN
           CASE WHEN o.name ~ '[()0-9]' THEN translate(o.name, '()0123456789', '（）０１２３４５６７８９')
                WHEN o.name ~ '第[一二三四五六七八九十]+' THEN
                  regexp_replace(o.name, '第[一二三四五六七八九十]+', '第' || translate(o.k_city::text, '0123456789', '０１２３４５６７８９'))
                ELSE o.name || '（总部）' END
         WHEN 'punctuation' THEN
           CASE WHEN o.name ~ '[()]' THEN translate(o.name, '()', '--')
                ELSE regexp_replace(o.name, '^(.{2})', '\1·') END
         ELSE -- english
           CASE WHEN pg_temp.r(j, 14) < 0.33 THEN replace(o.name, 'Co., Ltd.', 'Co.,Ltd')
                WHEN pg_temp.r(j, 14) < 0.66 THEN upper(replace(replace(o.name, 'Co., Ltd.', 'CO LTD'), '.', ''))
                ELSE replace(o.name, 'Co., Ltd.', 'Company Limited') END
       END,
       o.english
  FROM generate_series(1, :n_dup) j
  JOIN acc0 o ON o.n = :n_grp + 1 + floor(pg_temp.r(j, 10) * (:n_base - :n_grp))::int
  JOIN city c ON c.cid = o.cid
  CROSS JOIN LATERAL (SELECT CASE WHEN o.english THEN 'english'
                                  ELSE (ARRAY['spacing', 'suffix', 'width', 'punctuation'])[1 + floor(pg_temp.r(j, 13) * 4)::int] END
                             AS variant) v;

-- Hospital groups per region, for the parent of member hospitals.
CREATE TEMP TABLE grp ON COMMIT DROP AS
SELECT c.region, row_number() OVER (PARTITION BY c.region ORDER BY a.n)::int - 1 AS k, a.n,
       count(*) OVER (PARTITION BY c.region)::int AS cnt
  FROM acc0 a JOIN city c USING (cid) WHERE a.kind = 'group';
CREATE INDEX ON grp (region, k);
ANALYZE grp;

-- The full plan: attributes, activity window, row counts and id offsets.
CREATE TEMP TABLE acc1 ON COMMIT DROP AS
SELECT a.*, c.region, c.province, c.city, c.zh, c.area, c.lat, c.lon,
       CASE WHEN a.lifecycle = 'prospect' THEN :'anchor_d'::date - 1 - floor(pg_temp.r(a.n, 20) * 540)::int
            WHEN a.lifecycle = 'churned' OR a.kind = 'group' OR pg_temp.r(a.n, 21) < 0.7
              THEN :'win_start'::date - 1 - floor(pg_temp.r(a.n, 22) * 1460)::int
            ELSE :'win_start'::date + floor(pg_temp.r(a.n, 22) * (:'anchor_d'::date - :'win_start'::date - 90))::int
       END AS created,
       CASE WHEN a.lifecycle = 'churned' THEN :'win_start'::date + 60 + floor(pg_temp.r(a.n, 23) * 640)::int END AS churned_on,
       CASE WHEN a.kind = 'hospital' AND NOT a.is_dup
             AND pg_temp.r(a.n, 24) < CASE a.grade WHEN '3A' THEN 0.5 WHEN '3B' THEN 0.45 WHEN '2A' THEN 0.35
                                                   WHEN '2B' THEN 0.25 ELSE 0.1 END
            THEN (SELECT g.n FROM grp g WHERE g.region = c.region
                     AND g.k = floor(pg_temp.r(a.n, 25) * gc.cnt)::int) END AS parent_n,
       floor(pg_temp.r(a.n, 50) * 15)::int AS rot
  FROM acc0 a JOIN city c USING (cid)
  LEFT JOIN (SELECT region, count(*)::int AS cnt FROM grp GROUP BY region) gc ON gc.region = c.region;
-- A duplicate belongs to the same group as its original.
UPDATE acc1 d SET parent_n = o.parent_n FROM acc1 o WHERE d.is_dup AND o.n = d.orig_n;

CREATE TEMP TABLE acc ON COMMIT DROP AS
WITH f AS (
  SELECT a.*,
         CASE WHEN a.created >= :'win_start'::date THEN mc.cum_lo ELSE 0 END AS lo_frac,
         CASE WHEN a.churned_on IS NOT NULL THEN greatest(mh.cum_lo, CASE WHEN a.created >= :'win_start'::date THEN mc.cum_lo ELSE 0 END)
              ELSE 1 END AS hi_frac,
         a.lifecycle <> 'prospect' AND a.kind <> 'group' AS buying
    FROM acc1 a
    LEFT JOIN month mc ON a.created BETWEEN mc.m_start AND mc.m_end
    LEFT JOIN month mh ON a.churned_on BETWEEN mh.m_start AND mh.m_end
), c0 AS (
  SELECT f.*,
         :b_acc + f.n AS id,
         CASE WHEN kind = 'hospital' THEN
                CASE grade WHEN '3A' THEN 7 + floor(pg_temp.r(n, 51) * 5) WHEN '3B' THEN 6 + floor(pg_temp.r(n, 51) * 4)
                           WHEN '3C' THEN 5 + floor(pg_temp.r(n, 51) * 4) WHEN '2A' THEN 4 + floor(pg_temp.r(n, 51) * 4)
                           WHEN '2B' THEN 3 + floor(pg_temp.r(n, 51) * 4) WHEN '2C' THEN 3 + floor(pg_temp.r(n, 51) * 3)
                           WHEN '1' THEN 1 + floor(pg_temp.r(n, 51) * 3) ELSE 2 + floor(pg_temp.r(n, 51) * 4) END
              WHEN kind = 'clinic' THEN 1 + floor(pg_temp.r(n, 51) * 2)
              ELSE 0 END::int AS n_dept,
         CASE WHEN kind IN ('hospital', 'clinic') AND lifecycle <> 'prospect' THEN
                floor(CASE grade WHEN '3A' THEN 10 WHEN '3B' THEN 7 WHEN '3C' THEN 5 WHEN '2A' THEN 4 WHEN '2B' THEN 3
                                 WHEN '2C' THEN 2 WHEN '1' THEN 0.8 ELSE CASE WHEN kind = 'clinic' THEN 0.6 ELSE 2 END END
                      * (0.5 + pg_temp.r(n, 52)))
              ELSE 0 END::int AS n_dev,
         CASE WHEN kind = 'group' THEN 0
              WHEN lifecycle = 'prospect' THEN 1 + floor(pg_temp.r(n, 53) * 1.6)
              ELSE floor(1.1 * power(size, 0.35) * (0.4 + hi_frac - lo_frac) + pg_temp.r(n, 53)) END::int AS n_opp,
         CASE WHEN buying THEN least(400, floor(2.6 * power(size, 0.55) * (hi_frac - lo_frac) + pg_temp.r(n, 54))) ELSE 0 END::int AS n_rec,
         CASE WHEN NOT buying THEN 0
              WHEN kind = 'hospital' THEN (pg_temp.r(n, 55) < 0.6)::int + (grade IN ('3A', '3B') AND pg_temp.r(n, 56) < 0.5)::int
              WHEN kind = 'clinic' THEN (pg_temp.r(n, 55) < 0.25)::int
              WHEN kind = 'distributor' THEN (pg_temp.r(n, 55) < 0.9)::int
              ELSE (pg_temp.r(n, 55) < 0.85)::int + (pg_temp.r(n, 56) < 0.3)::int END AS n_chain,
         floor(CASE WHEN kind = 'group' THEN 1 ELSE 1.6 * power(size, 0.3) END
               * CASE lifecycle WHEN 'active' THEN 1 WHEN 'at_risk' THEN 0.6 WHEN 'churned' THEN 0.3 ELSE 0.8 END
               + pg_temp.r(n, 57))::int AS n_visit,
         CASE WHEN kind IN ('hospital', 'clinic') THEN floor(0.05 * power(size, 0.4) + pg_temp.r(n, 58)) ELSE 0 END::int AS n_loan
    FROM f
), c AS (
  SELECT c0.*,
         CASE WHEN kind IN ('hospital', 'clinic') THEN n_dept + floor(n_dept * 0.6 * pg_temp.r(n, 59))
              WHEN kind = 'group' THEN 1 + floor(pg_temp.r(n, 59) * 2)
              ELSE 2 + floor(pg_temp.r(n, 59) * 3) END::int AS n_con
    FROM c0
)
SELECT c.*,
       CASE WHEN is_dup AND pg_temp.r(n, 67) < 0.5 THEN NULL
            WHEN pg_temp.r(n, 67) < 0.03 THEN NULL
            ELSE 'rep_' || lower(region) END AS owner_role,
       sum(n_con) OVER w - n_con AS off_con,
       sum(n_dept) OVER w - n_dept AS off_dept,
       sum(n_dev) OVER w - n_dev AS off_dev,
       sum(n_opp) OVER w - n_opp AS off_opp,
       sum(n_rec) OVER w - n_rec AS off_rec,
       sum(n_chain) OVER w - n_chain AS off_chain,
       sum(n_visit) OVER w - n_visit AS off_visit,
       sum(n_loan) OVER w - n_loan AS off_loan
  FROM c WINDOW w AS (ORDER BY n);
ALTER TABLE acc ADD PRIMARY KEY (n);

-- ---------------------------------------------------------------------------
-- Accounts.
INSERT INTO medcrm.account (id, kind, name, parent_id, region, province, city, hospital_grade,
                            procurement_mode, service_level, lifecycle_stage, tags, tax_id, owner_role,
                            created_at, updated_at)
SELECT a.id, a.kind, a.name, :b_acc + a.parent_n, a.region, a.province, a.city, a.grade,
       CASE WHEN a.kind = 'group' THEN 'group_purchase'
            WHEN a.kind IN ('distributor', 'agent') THEN 'direct'
            WHEN a.kind = 'clinic' THEN CASE WHEN pg_temp.r(a.n, 60) < 0.55 THEN 'distributor' ELSE 'direct' END
            WHEN a.parent_n IS NOT NULL AND pg_temp.r(a.n, 60) < 0.8 THEN 'group_purchase'
            WHEN a.grade IN ('3A', '3B', '3C', '2A') THEN CASE WHEN pg_temp.r(a.n, 60) < 0.85 THEN 'tender' ELSE 'direct' END
            ELSE CASE WHEN pg_temp.r(a.n, 60) < 0.45 THEN 'distributor' WHEN pg_temp.r(a.n, 60) < 0.7 THEN 'tender' ELSE 'direct' END
       END,
       CASE WHEN a.kind IN ('group', 'agent') THEN 'standard'
            WHEN a.kind = 'distributor' THEN CASE WHEN a.size > 15 THEN 'gold' WHEN a.size > 5 THEN 'silver' ELSE 'standard' END
            WHEN a.size > 30 THEN 'platinum' WHEN a.size > 8 THEN 'gold' WHEN a.size > 2.5 THEN 'silver'
            ELSE 'standard' END,
       a.lifecycle,
       CASE WHEN a.kind IN ('hospital', 'clinic', 'distributor') THEN
         coalesce(nullif(array_remove(ARRAY[
           CASE WHEN pg_temp.r(a.n, 61) < CASE WHEN a.grade IN ('3A', '3B', '2A') THEN 0.7 ELSE 0.3 END THEN 'imaging' END,
           CASE WHEN pg_temp.r(a.n, 62) < 0.45 THEN 'cardio' END,
           CASE WHEN pg_temp.r(a.n, 63) < 0.35 THEN 'surgical' END,
           CASE WHEN pg_temp.r(a.n, 64) < 0.4 THEN 'ivd' END,
           CASE WHEN pg_temp.r(a.n, 65) < 0.5 THEN 'consumables' END], NULL), '{}'), '{consumables}')
         ELSE '{}' END,
       CASE WHEN a.is_dup AND pg_temp.r(a.n, 66) < 0.4 THEN o.tax_id
            WHEN a.is_dup AND pg_temp.r(a.n, 66) < 0.7 THEN NULL
            WHEN a.kind = 'hospital' AND pg_temp.r(a.n, 66) < 0.1 THEN NULL
            ELSE o.tax_id_own END,
       a.owner_role,
       pg_temp.at(a.created, 540 + pg_temp.r(a.n, 68) * 480),
       pg_temp.at(greatest(a.created, :'anchor_d'::date - 1 - floor(pg_temp.r(a.n, 69) * 400)::int), 540 + pg_temp.r(a.n, 68) * 480)
  FROM acc a
  CROSS JOIN LATERAL (
    -- a duplicate has the kind and city of its original, hence its prefix
    SELECT x.tax_id_own, CASE WHEN a.is_dup THEN
             CASE a.kind WHEN 'hospital' THEN '12' WHEN 'clinic' THEN '52' ELSE '91' END || a.area
             || lpad(((a.orig_n::bigint * 7919 + 104729) % 1000000000)::text, 9, '0')
             || (((a.orig_n::bigint * 7919 + 104729) % 1000000000) % 10)::text END AS tax_id
      FROM (SELECT CASE a.kind WHEN 'hospital' THEN '12' WHEN 'clinic' THEN '52' ELSE '91' END || a.area
                   || lpad(((a.n::bigint * 7919 + 104729) % 1000000000)::text, 9, '0')
                   || (((a.n::bigint * 7919 + 104729) % 1000000000) % 10)::text AS tax_id_own) x) o
 ORDER BY a.n;

INSERT INTO medcrm_demo.planted_duplicate (original_id, duplicate_id, variant)
SELECT :b_acc + orig_n, id, variant FROM acc WHERE is_dup ORDER BY n;
INSERT INTO medcrm_demo.planted_problem (problem, table_name, row_id)
SELECT 'hospital_without_grade', 'account', id FROM acc WHERE kind = 'hospital' AND grade IS NULL;

-- ERP keys for customers that ever bought (a duplicate carries a key of the
-- second ERP), CRM keys for every account.
INSERT INTO medcrm.account_source_key (source, external_id, account_id, created_at)
SELECT s.source, s.ext, a.id, pg_temp.at(a.created, 600)
  FROM acc a
  CROSS JOIN LATERAL (VALUES
      ('erp', CASE WHEN a.lifecycle <> 'prospect' AND NOT a.is_dup THEN 'C' || lpad(a.n::text, 8, '0') END),
      ('erp', CASE WHEN a.is_dup AND pg_temp.r(a.n, 70) < 0.5 THEN 'K3-' || lpad((a.n * 37)::text, 9, '0') END),
      ('crm', 'CRM' || lpad(a.n::text, 8, '0'))) s(source, ext)
 WHERE s.ext IS NOT NULL
ORDER BY a.n, s.source, s.ext;

-- Departments: the equipment department first, then clinical ones.
INSERT INTO medcrm.department (id, account_id, name, specialty, created_at, updated_at)
SELECT :b_dept + a.off_dept + k, a.id, d.name, d.specialty,
       pg_temp.at(a.created + k, 600), pg_temp.at(a.created + k, 600)
  FROM acc a
  CROSS JOIN LATERAL generate_series(1, a.n_dept) k
  JOIN dept_ref d ON d.di = CASE WHEN a.kind = 'hospital' AND k = 1 THEN 0
                                 WHEN a.kind = 'hospital' THEN 1 + (k - 2 + a.rot) % 15
                                 ELSE 1 + (k - 1 + a.rot) % 15 END
 WHERE a.n_dept > 0
 ORDER BY 1;

-- Contacts: one head per department (the equipment department's head and the
-- clinical heads decide), then nurses, doctors, purchasers and engineers;
-- owners, sales managers and finance at companies. Phones are unique
-- (a bijection of the contact number) except where a duplicate shares one.
INSERT INTO medcrm.contact (id, account_id, department_id, full_name, title, decision_role, academic_influence,
                            phone, email, national_id, preferred_channel, consent_at, created_at, updated_at)
SELECT x.id, x.account_id, x.department_id, x.full_name, x.title, x.decision_role, x.academic_influence,
       x.phone, x.email, x.national_id, x.preferred_channel,
       CASE WHEN x.phone IS NOT NULL AND pg_temp.r(x.cl, 88) < 0.035 THEN NULL
            WHEN x.phone IS NULL AND pg_temp.r(x.cl, 88) < 0.4 THEN NULL
            ELSE pg_temp.at(x.since + floor(pg_temp.r(x.cl, 89) * 20)::int, 600 + pg_temp.r(x.cl, 90) * 400) END,
       pg_temp.at(x.since, 560 + pg_temp.r(x.cl, 90) * 400), pg_temp.at(x.since, 560 + pg_temp.r(x.cl, 90) * 400)
  FROM (
    SELECT :b_con + a.off_con + k AS id, a.off_con + k AS cl, a.id AS account_id,
           CASE WHEN a.n_dept > 0 THEN :b_dept + a.off_dept + 1 + (k - 1) % a.n_dept END AS department_id,
           w.surname[1 + floor(pg_temp.r(a.off_con + k, 80) * 30)::int] || w.given[1 + floor(pg_temp.r(a.off_con + k, 81) * 32)::int] AS full_name,
           t.title, t.decision_role,
           CASE WHEN a.kind IN ('distributor', 'agent', 'group') THEN NULL
                WHEN t.decision_role = 'decision_maker' AND a.grade IN ('3A', '3B') THEN 2 + floor(pg_temp.r(a.off_con + k, 82) * 4)
                WHEN t.decision_role IN ('decision_maker', 'influencer') THEN floor(pg_temp.r(a.off_con + k, 82) * 3)
                ELSE floor(pg_temp.r(a.off_con + k, 82) * 1.5) END::smallint AS academic_influence,
           CASE WHEN pg_temp.r(a.off_con + k, 83) < 0.95 THEN
             '1' || (ARRAY['38','39','35','36','37','58','59','86','87','88','89','33','53','80','81','30','31','32','55','56','85','77','99'])
                    [1 + floor(pg_temp.r(a.off_con + k, 84) * 23)::int]
                 || lpad((((a.off_con + k) * 7919 + 1234567) % 100000000)::text, 8, '0') END AS phone,
           CASE WHEN pg_temp.r(a.off_con + k, 85) < 0.9 THEN
             w.given_py[1 + floor(pg_temp.r(a.off_con + k, 81) * 32)::int] || '.' || w.surname_py[1 + floor(pg_temp.r(a.off_con + k, 80) * 30)::int]
             || (a.off_con + k)::text || '@'
             || (ARRAY['163.com', 'qq.com', '126.com', 'sina.com', 'example-hospital.cn'])[1 + floor(pg_temp.r(a.off_con + k, 86) * 5)::int] END AS email,
           CASE WHEN pg_temp.r(a.off_con + k, 87) < 0.12 THEN
             pg_temp.cnid(a.area || to_char(date '1960-01-01' + floor(pg_temp.r(a.off_con + k, 91) * 12800)::int, 'YYYYMMDD')
                          || lpad(((a.off_con + k) % 1000)::text, 3, '0')) END AS national_id,
           (ARRAY['visit', 'visit', 'phone', 'wechat', 'wechat', 'email', 'meeting'])[1 + floor(pg_temp.r(a.off_con + k, 92) * 7)::int] AS preferred_channel,
           least(:'anchor_d'::date - 1, a.created + floor(pg_temp.r(a.off_con + k, 93) * 300)::int) AS since
      FROM acc a
      CROSS JOIN LATERAL generate_series(1, a.n_con) k
      CROSS JOIN word w
      CROSS JOIN LATERAL (
        SELECT CASE
          WHEN a.kind = 'group' THEN '采购总监'
          WHEN a.kind IN ('distributor', 'agent') THEN (ARRAY['总经理', '销售经理', '财务经理', '售后经理'])[1 + (k - 1) % 4]
          WHEN k <= a.n_dept AND a.kind = 'hospital' AND k = 1 THEN '设备科科长'
          WHEN k <= a.n_dept THEN CASE WHEN pg_temp.r(a.off_con + k, 94) < 0.8 THEN '科主任' ELSE '副主任' END
          ELSE (ARRAY['护士长', '主治医师', '采购员', '工程师', '副主任医师'])[1 + floor(pg_temp.r(a.off_con + k, 95) * 5)::int] END AS title) t0
      CROSS JOIN LATERAL (
        SELECT t0.title, CASE t0.title
          WHEN '采购总监' THEN 'decision_maker' WHEN '总经理' THEN 'decision_maker' WHEN '销售经理' THEN 'influencer'
          WHEN '财务经理' THEN 'gatekeeper' WHEN '售后经理' THEN 'user' WHEN '设备科科长' THEN 'decision_maker'
          WHEN '科主任' THEN 'decision_maker' WHEN '副主任' THEN 'influencer' WHEN '副主任医师' THEN 'influencer'
          WHEN '采购员' THEN 'gatekeeper' ELSE 'user' END AS decision_role) t
     WHERE a.n_con > 0
  ) x
 ORDER BY x.id;
INSERT INTO medcrm_demo.planted_problem (problem, table_name, row_id)
SELECT 'contact_phone_without_consent', 'contact', id FROM medcrm.contact
 WHERE id > :b_con AND phone IS NOT NULL AND consent_at IS NULL;

-- Some duplicates share the phone and e-mail of the original's first contact.
UPDATE medcrm.contact c SET phone = oc.phone, email = oc.email
  FROM acc d
  JOIN acc o ON o.n = d.orig_n
  JOIN medcrm.contact oc ON oc.id = :b_con + o.off_con + 1
 WHERE d.is_dup AND d.n_con > 0 AND o.n_con > 0 AND pg_temp.r(d.n, 15) < 0.35
   AND c.id = :b_con + d.off_con + 1;

-- ---------------------------------------------------------------------------
-- Installed base: devices in the departments whose specialty they serve, with
-- serial and batch (lot) numbers and, for most devices of the last four years,
-- a GS1 UDI consistent with them.
INSERT INTO medcrm.installed_device (id, account_id, department_id, product_id, serial_no, batch_no, udi,
                                     installed_on, warranty_ends, status, created_at, updated_at)
SELECT y.id, y.account_id, y.department_id, p.id, y.serial, y.batch,
       CASE WHEN p.gtin IS NOT NULL AND y.installed_on >= :'anchor_d'::date - 1460 AND pg_temp.r(y.dl, 106) < 0.75 THEN
         '(01)' || p.gtin || '(11)' || to_char(y.mfg, 'YYMMDD') || '(17)' || to_char(y.mfg + interval '10 years', 'YYMMDD')
         || '(10)' || y.batch || '(21)' || y.serial END,
       y.installed_on,
       CASE WHEN pg_temp.r(y.dl, 107) >= 0.01 THEN y.installed_on + 365 * (1 + floor(pg_temp.r(y.dl, 108) * 3)::int) - 1 END,
       CASE WHEN y.installed_on < :'anchor_d'::date - 7 * 365 AND pg_temp.r(y.dl, 109) < 0.6 THEN 'retired' ELSE 'active' END,
       pg_temp.at(y.installed_on, 600), pg_temp.at(y.installed_on, 600)
  FROM (
    SELECT x.*, dc.pn,
           'L' || to_char(x.mfg, 'YYMM') || lpad(dc.pn::text, 2, '0') || chr(65 + floor(pg_temp.r(x.dl, 104) * 3)::int) AS batch,
           regexp_replace(pr.model_code, '[^A-Z0-9]', '', 'g') || to_char(x.mfg, 'YY') || lpad(x.dl::text, 8, '0') AS serial
      FROM (
        SELECT :b_dev + a.off_dev + k AS id, a.off_dev + k AS dl, a.id AS account_id,
               :b_dept + a.off_dept + kd AS department_id,
               CASE d.specialty WHEN 'imaging' THEN 'imaging' WHEN 'cardio' THEN 'cardio' WHEN 'ivd' THEN 'ivd'
                                WHEN 'surgical' THEN 'surgical' WHEN 'endoscopy' THEN 'surgical' WHEN 'obstetrics' THEN 'imaging'
                                WHEN 'icu' THEN CASE WHEN pg_temp.r(a.off_dev + k, 101) < 0.6 THEN 'cardio' ELSE 'surgical' END
                                WHEN 'emergency' THEN 'cardio' ELSE 'other' END AS category,
               inst AS installed_on,
               inst - 20 - floor(pg_temp.r(a.off_dev + k, 103) * 100)::int AS mfg
          FROM acc a
          CROSS JOIN LATERAL generate_series(1, a.n_dev) k
          CROSS JOIN LATERAL (SELECT 1 + floor(pg_temp.r(a.off_dev + k, 100) * a.n_dept)::int AS kd,
                                     CASE WHEN a.created >= :'win_start'::date
                                          THEN a.created + 20 + floor(pg_temp.r(a.off_dev + k, 102) * greatest(1, coalesce(a.churned_on, :'anchor_d'::date) - a.created - 20))::int
                                          ELSE least(coalesce(a.churned_on, :'anchor_d'::date), :'anchor_d'::date) - 1
                                               - floor(power(pg_temp.r(a.off_dev + k, 102), 1.4) * 3650)::int END AS inst) s
          JOIN dept_ref d ON d.di = CASE WHEN a.kind = 'hospital' AND s.kd = 1 THEN 0
                                         WHEN a.kind = 'hospital' THEN 1 + (s.kd - 2 + a.rot) % 15
                                         ELSE 1 + (s.kd - 1 + a.rot) % 15 END
         WHERE a.n_dev > 0 AND a.n_dept > 0
      ) x
      JOIN (SELECT category, max(cnt) AS cnt FROM dev_cat GROUP BY category) cc ON cc.category = x.category
      JOIN dev_cat dc ON dc.category = x.category AND dc.k = floor(pg_temp.r(x.dl, 105) * cc.cnt)::int
      JOIN prod pr ON pr.pn = dc.pn
  ) y
  JOIN prod p ON p.pn = y.pn
 ORDER BY y.id;
INSERT INTO medcrm_demo.planted_problem (problem, table_name, row_id)
SELECT 'device_without_warranty_end', 'installed_device', id FROM medcrm.installed_device
 WHERE id > :b_dev AND warranty_ends IS NULL;

-- ---------------------------------------------------------------------------
-- Opportunities: three years of them. Most are decided (won or lost on a
-- date drawn with tender seasonality); the rest is today's pipeline. Bigger
-- accounts go for dearer equipment (a = how strongly the draw leans to the
-- cheap end of the price list).
SELECT count(*) AS n_devprod FROM dev_rank \gset
CREATE TEMP TABLE opp ON COMMIT DROP AS
SELECT o.*,
  round((price * CASE WHEN price >= 1000000 THEN 1
                      WHEN cons_pn IS NOT NULL THEN 20 + floor(pg_temp.r(ol, 119) * 60 * power(size, 0.5))
                      ELSE 1 + floor(pg_temp.r(ol, 119) * least(30, 1 + power(size, 0.5))) END
        * (0.85 + 0.2 * pg_temp.r(ol, 120)))::numeric, -2) AS amount,
  CASE WHEN decided AND won THEN 'won' WHEN decided THEN 'lost'
       ELSE (ARRAY['lead', 'qualified', 'demo', 'trial', 'tender', 'negotiation'])
            [1 + floor(least(0.999, (:'anchor_d'::date - opened_pipe)::float8 / (cycle * 1.3) * pg_temp.r(ol, 121) * 1.6) * 6)::int] END AS stage,
  coalesce(opened_dec, opened_pipe) AS opened_on,
  CASE WHEN decided THEN d_date END AS closed_on,
  CASE WHEN decided THEN d_date + floor((pg_temp.r(ol, 122) - 0.6) * 40)::int
       ELSE opened_pipe + cycle END AS expected_close
  FROM (
SELECT o.*,
       CASE WHEN o.decided THEN o.d_date - o.cycle END AS opened_dec,
       CASE WHEN NOT o.decided THEN :'anchor_d'::date - floor(pg_temp.r(o.ol, 116) * o.cycle * 1.3)::int END AS opened_pipe
  FROM (
    SELECT a.n, a.id AS account_id, a.off_opp + k AS ol, :b_opp + a.off_opp + k AS id, a.size, a.kind, a.lifecycle,
           coalesce(a.owner_role, 'rep_' || lower(a.region)) AS owner_role,
           CASE WHEN a.lifecycle = 'prospect' THEN pg_temp.r(a.off_opp + k, 110) < 0.5
                WHEN a.lifecycle = 'churned' THEN false
                ELSE pg_temp.r(a.off_opp + k, 110) < 0.18 END = false AS decided,
           CASE WHEN pg_temp.r(a.off_opp + k, 111) < 0.15 THEN NULL ELSE dr.pn END AS dev_pn,
           CASE WHEN pg_temp.r(a.off_opp + k, 111) < 0.15 THEN c.pn END AS cons_pn,
           a.lifecycle <> 'prospect'
             AND pg_temp.r(a.off_opp + k, 112) < greatest(0.15, least(0.6, 0.3 + 0.06 * ln(a.size))) AS won,
           ms.d_date,
           CASE WHEN p.price > 1000000 THEN 90 + floor(pg_temp.r(a.off_opp + k, 113) * 270)
                ELSE 20 + floor(pg_temp.r(a.off_opp + k, 113) * 120) END::int AS cycle,
           p.price, p.margin, p.category
      FROM acc a
      CROSS JOIN LATERAL generate_series(1, a.n_opp) k
      JOIN dev_rank dr ON dr.rk = 1 + floor(:n_devprod * power(pg_temp.r(a.off_opp + k, 114),
                                   greatest(0.6, least(6, 3.5 * power(a.size, -0.3)))))::int
      JOIN cons c ON c.ck = floor(pg_temp.r(a.off_opp + k, 115) * 9)::int
      CROSS JOIN LATERAL (SELECT m.m_start + floor(pg_temp.r(a.off_opp + k, 118) * m.days)::int AS d_date
                            FROM month_slot s JOIN month m USING (i)
                           WHERE s.slot = least(9999, floor(10000 * (a.lo_frac + (a.hi_frac - a.lo_frac)
                                                      * pg_temp.r(a.off_opp + k, 117)))::int)) ms
      JOIN prod p ON p.pn = CASE WHEN pg_temp.r(a.off_opp + k, 111) < 0.15 THEN c.pn ELSE dr.pn END
     WHERE a.n_opp > 0
  ) o) o;
INSERT INTO medcrm.opportunity (id, account_id, product_id, stage, amount, opened_on, expected_close, closed_on,
                                owner_role, created_at, updated_at)
SELECT id, account_id, :b_prod + coalesce(cons_pn, dev_pn), stage, amount, opened_on, expected_close, closed_on,
       owner_role, pg_temp.at(opened_on, 540 + pg_temp.r(ol, 123) * 480),
       pg_temp.at(coalesce(closed_on, least(:'anchor_d'::date - 1, opened_on + floor((:'anchor_d'::date - opened_on) * pg_temp.r(ol, 124))::int)),
                  540 + pg_temp.r(ol, 125) * 480)
  FROM opp ORDER BY id;

-- ---------------------------------------------------------------------------
-- Orders: one per won opportunity (delivered within weeks of the decision),
-- and repeat orders of consumables, reagents and spare parts through the
-- account's active years, with the same seasonality. A few credit notes.
-- Distributors and agents buy at a discount, tenders squeeze margins.
CREATE TEMP TABLE won ON COMMIT DROP AS
SELECT o.*, row_number() OVER (ORDER BY o.id) AS wl, o.closed_on + 3 + floor(pg_temp.r(o.ol, 130) * 25)::int AS ordered_on
  FROM opp o WHERE o.stage = 'won' AND o.closed_on + 3 + floor(pg_temp.r(o.ol, 130) * 25)::int <= :'anchor_d'::date;
SELECT count(*) AS n_won FROM won \gset
INSERT INTO medcrm.sales_order (id, account_id, opportunity_id, ordered_on, amount, gross_margin, created_at, updated_at)
SELECT :b_ord + w.wl, w.account_id, w.id, w.ordered_on, round((w.amount * (0.92 + 0.08 * pg_temp.r(w.ol, 131)))::numeric, 2),
       round((w.amount * (0.92 + 0.08 * pg_temp.r(w.ol, 131))
             * (w.margin - CASE WHEN w.kind IN ('distributor', 'agent') THEN 0.12 ELSE 0.03 END
                + 0.06 * (pg_temp.r(w.ol, 132) - 0.5)))::numeric, 2),
       pg_temp.at(w.ordered_on, 540 + pg_temp.r(w.ol, 133) * 480), pg_temp.at(w.ordered_on, 540 + pg_temp.r(w.ol, 133) * 480)
  FROM won w ORDER BY w.wl;
INSERT INTO medcrm.sales_order (id, account_id, opportunity_id, ordered_on, amount, gross_margin, created_at, updated_at)
SELECT :b_ord + :n_won + x.rl, x.account_id, NULL, x.ordered_on,
       CASE WHEN x.credit THEN -round(x.amt * 0.3, 2) ELSE round(x.amt, 2) END,
       CASE WHEN x.credit THEN -round(x.amt * 0.3 * x.mg, 2) ELSE round(x.amt * x.mg, 2) END,
       pg_temp.at(x.ordered_on, 540 + pg_temp.r(x.rl, 138) * 480), pg_temp.at(x.ordered_on, 540 + pg_temp.r(x.rl, 138) * 480)
  FROM (
    SELECT a.off_rec + k AS rl, a.id AS account_id,
           m.m_start + floor(pg_temp.r(a.off_rec + k, 135) * m.days)::int AS ordered_on,
           (30000 * power(a.size, 0.6) * exp(0.6 * pg_temp.z(a.off_rec + k, 136)))::numeric AS amt,
           (p.margin - CASE WHEN a.kind IN ('distributor', 'agent') THEN 0.15 ELSE 0 END
              + 0.08 * (pg_temp.r(a.off_rec + k, 137) - 0.5))::numeric AS mg,
           pg_temp.r(a.off_rec + k, 139) < 0.006 AS credit
      FROM acc a
      CROSS JOIN LATERAL generate_series(1, a.n_rec) k
      JOIN month_slot s ON s.slot = least(9999, floor(10000 * (a.lo_frac + (a.hi_frac - a.lo_frac) * pg_temp.r(a.off_rec + k, 134)))::int)
      JOIN month m ON m.i = s.i
      JOIN cons c ON c.ck = floor(pg_temp.r(a.off_rec + k, 140) * 9)::int
      JOIN prod p ON p.pn = c.pn
     WHERE a.n_rec > 0
  ) x
 ORDER BY 1;
SELECT coalesce(max(id), 0) - :b_ord AS n_ord FROM medcrm.sales_order WHERE id > :b_ord \gset

-- ---------------------------------------------------------------------------
-- Contracts: chains of terms per account (maintenance and service contracts
-- of hospitals, yearly distribution agreements, supply agreements). A chain
-- renews term after term until a renewal draw fails, the account churns or
-- the next term would start more than 30 days after the anchor; a term that
-- starts after the anchor is a draft.
CREATE TEMP TABLE chain ON COMMIT DROP AS
SELECT c.*,
       least(c.k_renew,
             floor((least(:'anchor_d'::date + 30, coalesce(c.churned_on, :'anchor_d'::date + 30)) - c.s0)::float8 / c.term_days)::int + 1) AS n_ctr
  FROM (
    SELECT a.n, a.id AS account_id, a.kind AS account_kind, a.size, a.churned_on, a.off_chain + j AS cn,
           CASE WHEN a.kind = 'hospital' AND j = 1 THEN CASE WHEN pg_temp.r(a.off_chain + j, 150) < 0.5 THEN 'maintenance' ELSE 'service' END
                WHEN a.kind = 'clinic' THEN 'service'
                WHEN a.kind IN ('distributor', 'agent') AND j = 1 THEN 'distribution'
                ELSE 'sale' END AS kind,
           365 * CASE WHEN a.kind IN ('distributor', 'agent') OR j = 2 THEN 1
                      WHEN pg_temp.r(a.off_chain + j, 151) < 0.6 THEN 1
                      WHEN pg_temp.r(a.off_chain + j, 151) < 0.85 THEN 2 ELSE 3 END AS term_days,
           CASE WHEN a.created >= :'win_start'::date THEN a.created + 15 + floor(pg_temp.r(a.off_chain + j, 152) * 60)::int
                ELSE :'win_start'::date - floor(pg_temp.r(a.off_chain + j, 152) * 365)::int END AS s0,
           1 + floor(ln(pg_temp.r(a.off_chain + j, 153))
                     / ln(CASE a.lifecycle WHEN 'active' THEN 0.85 WHEN 'at_risk' THEN 0.45 ELSE 0.7 END))::int AS k_renew,
           a.owner_role, a.lifecycle
      FROM acc a
      CROSS JOIN LATERAL generate_series(1, a.n_chain) j
     WHERE a.n_chain > 0
  ) c;
DELETE FROM chain WHERE n_ctr < 1;
CREATE TEMP TABLE ctr ON COMMIT DROP AS
SELECT c.*, c.off + k AS tl, :b_ctr + c.off + k AS id, k,
       c.s0 + (k - 1) * c.term_days AS starts_on, c.s0 + k * c.term_days - 1 AS ends_on
  FROM (SELECT chain.*, sum(n_ctr) OVER (ORDER BY cn) - n_ctr AS off FROM chain) c
  CROSS JOIN LATERAL generate_series(1, c.n_ctr) k;
INSERT INTO medcrm.contract (id, account_id, contract_no, kind, starts_on, ends_on, value, status, renewed_from,
                             owner_role, created_at, updated_at)
SELECT t.id, t.account_id,
       'HT' || to_char(t.starts_on, 'YYYY') || '-' || lpad(t.id::text, 7, '0'),
       t.kind, t.starts_on,
       CASE WHEN t.tl % 2000 = 7 THEN t.starts_on - 30 ELSE t.ends_on END,
       round((CASE t.kind WHEN 'distribution' THEN 300000 * power(t.size, 0.7)
                          WHEN 'sale' THEN 60000 * power(t.size, 0.6)
                          ELSE 30000 * power(t.size, 0.6) * t.term_days / 365 END
              * (0.8 + 0.4 * pg_temp.r(t.tl, 154)))::numeric, -2),
       CASE WHEN t.starts_on > :'anchor_d'::date THEN 'draft'
            WHEN t.ends_on >= :'anchor_d'::date THEN CASE WHEN pg_temp.r(t.tl, 155) < 0.01 THEN 'terminated' ELSE 'active' END
            WHEN t.k < t.n_ctr THEN 'renewed'
            WHEN pg_temp.r(t.tl, 155) < 0.08 THEN 'terminated'
            ELSE 'expired' END,
       CASE WHEN t.k > 1 THEN t.id - 1 END,
       t.owner_role,
       pg_temp.at(t.starts_on - 10 - floor(pg_temp.r(t.tl, 156) * 20)::int, 600),
       pg_temp.at(least(:'anchor_d'::date - 1, CASE WHEN t.ends_on < :'anchor_d'::date THEN t.ends_on + 1
                                               ELSE t.starts_on - 10 - floor(pg_temp.r(t.tl, 156) * 20)::int END), 600)
  FROM ctr t ORDER BY t.id;
INSERT INTO medcrm_demo.planted_problem (problem, table_name, row_id)
SELECT 'contract_ends_before_starts', 'contract', id FROM ctr WHERE tl % 2000 = 7;
SELECT coalesce(max(tl), 0) AS n_ctr FROM ctr \gset

-- ---------------------------------------------------------------------------
-- Invoices: one per order (not credit notes) and one per contract term that
-- has started. Public hospitals get 90-180 days, others 30-60. Payment
-- behaviour depends on the account: most pay on time, some late, some
-- partially, some not at all. Invoice ids follow the order and contract
-- numbers (gaps where nothing was invoiced).
CREATE TEMP TABLE inv ON COMMIT DROP AS
SELECT x.*, x.issued_on + x.terms AS due_on
  FROM (
    SELECT o.id - :b_ord AS il, o.account_id, o.id AS sales_order_id, NULL::bigint AS contract_id,
           o.ordered_on + floor(pg_temp.r(o.id - :b_ord, 160) * 12)::int AS issued_on, o.amount
      FROM medcrm.sales_order o WHERE o.id > :b_ord AND o.amount > 0
    UNION ALL
    SELECT :n_ord + t.tl, t.account_id, NULL, t.id, t.starts_on + floor(pg_temp.r(:n_ord + t.tl, 160) * 12)::int,
           round((CASE t.kind WHEN 'distribution' THEN 20000 * power(t.size, 0.5)
                              WHEN 'sale' THEN 60000 * power(t.size, 0.6) * 0.2
                              ELSE 30000 * power(t.size, 0.6) END
                  * (0.8 + 0.4 * pg_temp.r(t.tl, 154)))::numeric, -2)
      FROM ctr t WHERE t.starts_on <= :'anchor_d'::date
  ) x0
  CROSS JOIN LATERAL (SELECT x0.*, a.n, a.kind,
                             CASE WHEN a.kind = 'hospital' THEN CASE WHEN pg_temp.r(x0.il, 161) < 0.6 THEN 90 ELSE 180 END
                                  WHEN a.kind = 'clinic' THEN 60
                                  ELSE CASE WHEN pg_temp.r(x0.il, 161) < 0.5 THEN 30 ELSE 60 END END AS terms,
                             CASE WHEN pg_temp.r(a.n, 162) < 0.6 THEN 0 WHEN pg_temp.r(a.n, 162) < 0.9 THEN 1 ELSE 2 END AS payer
                        FROM acc a WHERE a.id = x0.account_id) x
 WHERE x.issued_on <= :'anchor_d'::date;
-- Planted: an overpaid invoice (a payment booked twice) every 5,000 invoices.
INSERT INTO medcrm.invoice (id, account_id, sales_order_id, contract_id, issued_on, due_on, amount, paid_on,
                            paid_amount, created_at, updated_at)
SELECT :b_inv + i.il, i.account_id, i.sales_order_id, i.contract_id, i.issued_on, i.due_on, i.amount, p.paid_on, p.paid_amount,
       pg_temp.at(i.issued_on, 600 + pg_temp.r(i.il, 167) * 300), pg_temp.at(coalesce(p.paid_on, i.issued_on), 600 + pg_temp.r(i.il, 167) * 300)
  FROM inv i
  CROSS JOIN LATERAL (
    SELECT CASE WHEN i.due_on > :'anchor_d'::date THEN CASE WHEN u < 0.3 THEN 'ontime' ELSE 'unpaid' END
                WHEN u < (ARRAY[0.88, 0.68, 0.40])[i.payer + 1] THEN 'ontime'
                WHEN u < (ARRAY[0.97, 0.90, 0.75])[i.payer + 1] THEN 'late'
                WHEN u < (ARRAY[0.99, 0.95, 0.85])[i.payer + 1] THEN 'partial'
                ELSE 'unpaid' END AS outcome,
           CASE WHEN i.due_on > :'anchor_d'::date
                  THEN i.issued_on + floor(pg_temp.r(i.il, 164) * (:'anchor_d'::date - i.issued_on))::int
                WHEN u < (ARRAY[0.88, 0.68, 0.40])[i.payer + 1]
                  THEN i.due_on - floor(pg_temp.r(i.il, 164) * i.terms * 0.5)::int
                ELSE i.due_on + 1 + floor(pg_temp.r(i.il, 164) * 150)::int END AS pdate
      FROM (SELECT pg_temp.r(i.il, 163) AS u OFFSET 0) uu OFFSET 0) o
  CROSS JOIN LATERAL (
    SELECT CASE WHEN i.il % 5000 = 17 THEN least(:'anchor_d'::date, i.issued_on + 20)
                WHEN o.outcome = 'unpaid' OR o.pdate > :'anchor_d'::date THEN NULL ELSE o.pdate END AS paid_on,
           CASE WHEN i.il % 5000 = 17 THEN i.amount + 88
                WHEN o.outcome = 'unpaid' OR o.pdate > :'anchor_d'::date THEN 0
                WHEN o.outcome = 'partial' THEN round((i.amount * (0.2 + 0.6 * pg_temp.r(i.il, 166)))::numeric, 2)
                ELSE i.amount END AS paid_amount) p
 ORDER BY i.il;
INSERT INTO medcrm_demo.planted_problem (problem, table_name, row_id)
SELECT 'invoice_overpaid', 'invoice', :b_inv + il FROM inv WHERE il % 5000 = 17;

-- ---------------------------------------------------------------------------
-- Certificates: product registrations, a licence per distributor and agent
-- (a few expiring within 90 days; exactly one already expired on an active
-- distributor) and product authorizations for one year.
SELECT min(n) AS expired_n FROM acc WHERE kind = 'distributor' AND lifecycle = 'active' AND NOT is_dup \gset
INSERT INTO medcrm.certificate (id, kind, number, account_id, product_id, valid_from, valid_to, created_at, updated_at)
SELECT :b_cert + row_number() OVER (ORDER BY x.o1, x.o2, x.o3), x.kind, x.number, x.account_id, x.product_id,
       x.valid_from, x.valid_to, pg_temp.at(x.valid_from, 600), pg_temp.at(x.valid_from, 600)
  FROM (
    SELECT 0 AS o1, p.pn AS o2, 0 AS o3, 'product_registration' AS kind, p.reg_no AS number, NULL::bigint AS account_id,
           p.id AS product_id, (p.reg_expires - interval '5 years')::date + 1 AS valid_from, p.reg_expires AS valid_to
      FROM prod p WHERE p.reg_no IS NOT NULL
    UNION ALL
    SELECT 1, a.n, 0, 'distributor_license', a.zh || '食药监械经营许' || extract(year FROM a.created) || lpad(a.n::text, 6, '0') || '号',
           a.id, NULL, v.valid_to - 5 * 365, v.valid_to
      FROM acc a
      CROSS JOIN LATERAL (SELECT CASE
          WHEN a.n = :expired_n THEN :'anchor_d'::date - 12
          WHEN a.lifecycle = 'churned' THEN :'anchor_d'::date - floor(pg_temp.r(a.n, 170) * 500)::int
          WHEN pg_temp.r(a.n, 171) < 0.06 THEN :'anchor_d'::date + 1 + floor(pg_temp.r(a.n, 170) * 89)::int
          ELSE :'anchor_d'::date + 90 + floor(pg_temp.r(a.n, 170) * 1700)::int END AS valid_to) v
     WHERE a.kind IN ('distributor', 'agent') AND NOT a.is_dup
    UNION ALL
    SELECT 2, a.n, j, 'distributor_authorization', 'SQ' || extract(year FROM v.valid_from) || '-' || lpad(a.n::text, 7, '0') || '-' || j,
           a.id, :b_prod + dr.pn, v.valid_from, v.valid_from + 364
      FROM acc a
      CROSS JOIN LATERAL generate_series(1, 1 + floor(pg_temp.r(a.n, 172) * 3)::int) j
      CROSS JOIN LATERAL (SELECT :'anchor_d'::date - floor(pg_temp.r(a.n * 4 + j, 173) * 330)::int AS valid_from) v
      JOIN dev_rank dr ON dr.rk = 1 + ((floor(pg_temp.r(a.n, 174) * :n_devprod)::int + j * 7) % :n_devprod)
     WHERE a.kind IN ('distributor', 'agent') AND a.lifecycle IN ('active', 'at_risk') AND NOT a.is_dup
  ) x;

-- ---------------------------------------------------------------------------
-- The recall: class II, one patient-monitor model, two lots, a handful of
-- installed devices (4 + 2 * sqrt(scale)), opened about two months ago.
SELECT id AS recall_prod, pn AS recall_pn FROM prod WHERE model_code = 'MON-M12' \gset
SELECT 4 + round(2 * sqrt((:scale)::numeric))::int AS n_aff \gset
CREATE TEMP TABLE aff ON COMMIT DROP AS
SELECT d.id, d.serial_no, d.account_id, row_number() OVER (ORDER BY pg_temp.r(d.id - :b_dev, 180), d.id) AS rk
  FROM medcrm.installed_device d
 WHERE d.id > :b_dev AND d.product_id = :recall_prod AND d.status = 'active'
   AND d.installed_on BETWEEN :'anchor_d'::date - 900 AND :'anchor_d'::date - 120
 ORDER BY pg_temp.r(d.id - :b_dev, 180), d.id
 LIMIT :n_aff;
SELECT 'L' || to_char(:'anchor_d'::date - 420, 'YYMM') || lpad(:recall_pn::text, 2, '0') || 'D' AS lot1,
       'L' || to_char(:'anchor_d'::date - 390, 'YYMM') || lpad(:recall_pn::text, 2, '0') || 'E' AS lot2 \gset
UPDATE medcrm.installed_device d
   SET batch_no = CASE WHEN a.rk % 2 = 1 THEN :'lot1' ELSE :'lot2' END,
       udi = '(01)' || p.gtin || '(11)' || to_char(m.mfg, 'YYMMDD') || '(17)' || to_char(m.mfg + interval '10 years', 'YYMMDD')
             || '(10)' || CASE WHEN a.rk % 2 = 1 THEN :'lot1' ELSE :'lot2' END || '(21)' || d.serial_no
  FROM aff a, prod p,
       LATERAL (SELECT CASE WHEN a.rk % 2 = 1 THEN :'anchor_d'::date - 420 ELSE :'anchor_d'::date - 390 END AS mfg0) m0,
       LATERAL (SELECT (date_trunc('month', m0.mfg0) + interval '9 days')::date AS mfg) m
 WHERE d.id = a.id AND p.pn = :recall_pn;
INSERT INTO medcrm.recall (id, product_id, batch_nos, serial_nos, class, opened_at, reason, status, closed_at, created_at, updated_at)
VALUES (:b_recall + 1, :recall_prod,
        CASE WHEN :n_aff > 1 THEN ARRAY[:'lot1', :'lot2'] ELSE ARRAY[:'lot1'] END, NULL, 'II',
        pg_temp.at(:'anchor_d'::date - 58, 630),
        '电源模块电容可能过热导致监护仪意外重启 (power-supply capacitor may overheat and restart the monitor)',
        'open', NULL, pg_temp.at(:'anchor_d'::date - 58, 630), pg_temp.at(:'anchor_d'::date - 58, 630));

-- ---------------------------------------------------------------------------
-- Work orders: preventive maintenance and faults over each device's years in
-- the history, its installation, some trainings, and recall work on half of
-- the recalled devices. Deadlines come from medcrm.sla_policy for the
-- account's service level; the regional team takes them, the national team
-- takes recall work. Most are met, some late, some still open past deadline.
CREATE TEMP TABLE devp ON COMMIT DROP AS
SELECT d.*, sum(d.n_wo) OVER (ORDER BY d.id) - d.n_wo AS off_wo
  FROM (
    SELECT d.id, d.id - :b_dev AS dl, d.account_id, d.installed_on, p.fault, a.service_level, a.region,
           greatest(d.installed_on, :'win_start'::date) AS since,
           least(12, floor((least(coalesce(ac.churned_on, :'anchor_d'::date), :'anchor_d'::date) - greatest(d.installed_on, :'win_start'::date))::float8 / 365
                           * (0.6 + 0.8 * p.fault) + pg_temp.r(d.id - :b_dev, 190)))::int AS n_wo,
           coalesce(ac.churned_on, :'anchor_d'::date) AS until
      FROM medcrm.installed_device d
      JOIN prod p ON p.id = d.product_id
      JOIN medcrm.account a ON a.id = d.account_id
      JOIN acc ac ON ac.id = d.account_id
     WHERE d.id > :b_dev AND d.status <> 'retired'
  ) d WHERE d.n_wo > 0 AND d.until > d.since;
CREATE TEMP TABLE wo ON COMMIT DROP AS
SELECT x.*, s.response_hours, s.resolve_hours,
       coalesce((SELECT t.id FROM team t WHERE t.region = x.region AND x.kind = ANY (t.kinds)), :b_team + 8) AS team_id
  FROM (
    SELECT d.off_wo + k AS wl, d.account_id, d.id AS device_id, d.service_level, d.region,
           CASE WHEN k = 1 AND d.installed_on >= :'win_start'::date THEN 'install'
                WHEN pg_temp.r(d.off_wo + k, 191) < 0.5 THEN 'preventive'
                WHEN pg_temp.r(d.off_wo + k, 191) < 0.93 THEN 'fault'
                ELSE 'training' END AS kind,
           CASE WHEN k = 1 AND d.installed_on >= :'win_start'::date THEN pg_temp.at(d.installed_on - 3, 600)
                ELSE pg_temp.at(d.since + floor(pg_temp.r(d.off_wo + k, 192) * (d.until - d.since))::int,
                                480 + pg_temp.r(d.off_wo + k, 193) * 660) END AS reported_at
      FROM devp d CROSS JOIN LATERAL generate_series(1, d.n_wo) k
    UNION ALL
    SELECT 1000000000 + a.rk, a.account_id, a.id, ac.service_level, ac.region, 'recall',
           pg_temp.at(:'anchor_d'::date - 50 + (a.rk * 5)::int, 600)
      FROM aff a JOIN medcrm.account ac ON ac.id = a.account_id WHERE a.rk % 2 = 0
  ) x0
  CROSS JOIN LATERAL (SELECT x0.*, CASE x0.kind WHEN 'fault' THEN CASE WHEN pg_temp.r(x0.wl, 194) < 0.1 THEN 1
                                                                    WHEN pg_temp.r(x0.wl, 194) < 0.45 THEN 2 ELSE 3 END
                                                WHEN 'install' THEN 3 WHEN 'recall' THEN 2 ELSE 4 END AS priority) x
  JOIN medcrm.sla_policy s ON s.service_level = x.service_level AND s.priority = x.priority
 WHERE x.reported_at < pg_temp.at(:'anchor_d'::date, 0);
SELECT coalesce(max(wl) FILTER (WHERE wl < 1000000000), 0) AS n_wo FROM wo \gset
UPDATE wo SET wl = :n_wo + (wl - 1000000000) WHERE wl >= 1000000000;
INSERT INTO medcrm.work_order (id, account_id, device_id, kind, priority, reported_at, response_due_at, resolve_due_at,
                               first_response_at, resolved_at, assigned_team, status, labor_hours, cost,
                               created_at, updated_at)
SELECT :b_wo + w.wl, w.account_id, w.device_id, w.kind, w.priority, w.reported_at,
       w.reported_at + make_interval(secs => w.response_hours * 3600),
       w.reported_at + make_interval(secs => w.resolve_hours * 3600),
       w.first_response_at, w.resolved_at,
       CASE WHEN w.status = 'open' THEN NULL ELSE w.team_id END, w.status,
       CASE WHEN w.resolved_at IS NOT NULL THEN round((CASE w.kind WHEN 'fault' THEN 1 + 15 * pg_temp.r(w.wl, 201)
                                                               WHEN 'install' THEN 4 + 20 * pg_temp.r(w.wl, 201)
                                                               WHEN 'preventive' THEN 2 + 4 * pg_temp.r(w.wl, 201)
                                                               ELSE 1 + 5 * pg_temp.r(w.wl, 201) END)::numeric * 4) / 4 END,
       CASE WHEN w.resolved_at IS NOT NULL THEN round((CASE w.kind WHEN 'fault' THEN 1 + 15 * pg_temp.r(w.wl, 201)
                                                               WHEN 'install' THEN 4 + 20 * pg_temp.r(w.wl, 201)
                                                               WHEN 'preventive' THEN 2 + 4 * pg_temp.r(w.wl, 201)
                                                               ELSE 1 + 5 * pg_temp.r(w.wl, 201) END * 450
                                                      + CASE WHEN w.kind = 'fault' AND pg_temp.r(w.wl, 202) < 0.4
                                                             THEN 500 + 30000 * power(pg_temp.r(w.wl, 203), 2) ELSE 0 END)::numeric, 2) END,
       w.reported_at, coalesce(w.resolved_at, w.first_response_at, w.reported_at)
  FROM (
    SELECT w0.*, t3.resolved_at, t2.first_response_at,
           CASE WHEN pg_temp.r(w0.wl, 195) BETWEEN 0.015 AND 0.025 AND t3.resolved_at IS NULL THEN 'cancelled'
                WHEN t3.resolved_at IS NOT NULL AND t3.resolved_at < pg_temp.at(:'anchor_d'::date - 7, 0) THEN 'closed'
                WHEN t3.resolved_at IS NOT NULL THEN 'resolved'
                WHEN t2.first_response_at IS NOT NULL THEN 'in_progress'
                WHEN pg_temp.r(w0.wl, 200) < 0.5 THEN 'open'
                ELSE 'assigned' END AS status
      FROM wo w0
      -- response and resolution as drawn (most within the deadlines, some late, a few never)
      CROSS JOIN LATERAL (
        SELECT CASE WHEN pg_temp.r(w0.wl, 195) < 0.015 THEN NULL
                    ELSE w0.reported_at + make_interval(secs => w0.response_hours * 3600
                           * CASE WHEN pg_temp.r(w0.wl, 196) < 0.1 THEN 1.05 + 2 * pg_temp.r(w0.wl, 197)
                                  ELSE 0.05 + 0.9 * pg_temp.r(w0.wl, 197) END) END AS fr0,
               CASE WHEN pg_temp.r(w0.wl, 195) < 0.04 THEN NULL
                    ELSE w0.reported_at + make_interval(secs => w0.resolve_hours * 3600
                           * CASE WHEN pg_temp.r(w0.wl, 198) < 0.12 THEN 1.05 + 1.5 * pg_temp.r(w0.wl, 199)
                                  ELSE 0.25 + 0.7 * pg_temp.r(w0.wl, 199) END) END AS res0 OFFSET 0) t1
      -- nothing happens after the anchor; resolution follows the response
      CROSS JOIN LATERAL (
        SELECT CASE WHEN t1.fr0 < pg_temp.at(:'anchor_d'::date, 0) THEN t1.fr0 END AS first_response_at OFFSET 0) t2
      CROSS JOIN LATERAL (
        SELECT CASE WHEN t2.first_response_at IS NULL OR t1.res0 IS NULL THEN NULL
                    WHEN greatest(t1.res0, t2.first_response_at + interval '30 minutes') >= pg_temp.at(:'anchor_d'::date, 0) THEN NULL
                    ELSE greatest(t1.res0, t2.first_response_at + interval '30 minutes') END AS resolved_at) t3
  ) w ORDER BY w.wl;
-- A device with repair work under way is in repair.
UPDATE medcrm.installed_device d SET status = 'in_repair', updated_at = w.reported_at
  FROM (SELECT device_id, max(reported_at) AS reported_at FROM medcrm.work_order
         WHERE id > :b_wo AND kind = 'fault' AND status IN ('assigned', 'in_progress') GROUP BY device_id) w
 WHERE d.id = w.device_id AND d.status = 'active';

-- ---------------------------------------------------------------------------
-- Visits of every channel; check-in coordinates for on-site ones; most are
-- submitted (read-only), the last days' ones are partly still drafts.
INSERT INTO medcrm.visit (id, account_id, contact_id, rep_role, channel, started_at, ended_at, lat, lon, summary,
                          samples, submitted_at, created_at, updated_at)
SELECT :b_visit + v.vl, v.account_id, v.contact_id, v.rep_role, v.channel, v.started_at,
       v.started_at + make_interval(mins => 15 + floor(pg_temp.r(v.vl, 214) * 120)::int),
       CASE WHEN v.channel IN ('visit', 'demo', 'training', 'meeting') THEN round((v.lat + (pg_temp.r(v.vl, 215) - 0.5) * 0.2)::numeric, 5) END,
       CASE WHEN v.channel IN ('visit', 'demo', 'training', 'meeting') THEN round((v.lon + (pg_temp.r(v.vl, 216) - 0.5) * 0.2)::numeric, 5) END,
       (ARRAY['了解科室新年度设备采购计划', '跟进招标进度与参数', '回访设备使用情况', '介绍新产品与临床案例',
              '讨论维保合同续签', '安排操作培训', '收集临床反馈', '确认回款计划'])[1 + floor(pg_temp.r(v.vl, 217) * 8)::int],
       CASE WHEN v.channel = 'demo' THEN jsonb_build_array(jsonb_build_object('product_id', :b_prod + 29 + floor(pg_temp.r(v.vl, 218) * 8)::int,
                                                                               'qty', 1 + floor(pg_temp.r(v.vl, 219) * 5)::int))
            ELSE '[]'::jsonb END,
       CASE WHEN v.started_at < pg_temp.at(:'anchor_d'::date - 3, 0) AND pg_temp.r(v.vl, 220) < 0.98
              OR pg_temp.r(v.vl, 220) < 0.5
            THEN least(pg_temp.at(:'anchor_d'::date, 0) - interval '1 minute',
                       v.started_at + make_interval(mins => 150 + floor(pg_temp.r(v.vl, 221) * 2000)::int)) END,
       v.started_at, v.started_at
  FROM (
    SELECT a.off_visit + k AS vl, a.id AS account_id,
           CASE WHEN a.n_con > 0 THEN :b_con + a.off_con + 1 + floor(pg_temp.r(a.off_visit + k, 210) * a.n_con)::int END AS contact_id,
           coalesce(a.owner_role, 'rep_' || lower(a.region)) AS rep_role,
           (ARRAY['visit', 'visit', 'visit', 'visit', 'call', 'call', 'meeting', 'email', 'demo', 'training'])
             [1 + floor(pg_temp.r(a.off_visit + k, 211) * 10)::int] AS channel,
           pg_temp.at(s.d0 + floor(power(pg_temp.r(a.off_visit + k, 212), CASE a.lifecycle WHEN 'at_risk' THEN 1.5 ELSE 0.8 END)
                                   * (s.d1 - s.d0))::int,
                      510 + pg_temp.r(a.off_visit + k, 213) * 540) AS started_at,
           a.lat, a.lon
      FROM acc a
      CROSS JOIN LATERAL (SELECT greatest(a.created, :'win_start'::date) AS d0,
                                 least(coalesce(a.churned_on, :'anchor_d'::date), :'anchor_d'::date - 1) AS d1) s
      CROSS JOIN LATERAL generate_series(1, a.n_visit) k
     WHERE a.n_visit > 0 AND s.d1 >= s.d0
  ) v
 ORDER BY v.vl;

-- ---------------------------------------------------------------------------
-- Sample loans (样机): most returned, some out, some overdue.
INSERT INTO medcrm.sample_loan (id, account_id, product_id, serial_no, lent_on, due_back_on, returned_on, created_at, updated_at)
SELECT :b_loan + l.ll, l.account_id, :b_prod + l.pn, 'DEMO-' || p.model_code || '-' || lpad(l.ll::text, 6, '0'),
       l.lent_on, l.due_back_on,
       CASE WHEN l.due_back_on < :'anchor_d'::date AND pg_temp.r(l.ll, 233) < 0.85
              THEN least(:'anchor_d'::date - 1, l.due_back_on - 10 + floor(pg_temp.r(l.ll, 234) * 25)::int)
            WHEN l.due_back_on >= :'anchor_d'::date AND pg_temp.r(l.ll, 233) < 0.2
              THEN l.lent_on + floor(pg_temp.r(l.ll, 234) * (:'anchor_d'::date - l.lent_on))::int END,
       pg_temp.at(l.lent_on, 600), pg_temp.at(l.lent_on, 600)
  FROM (
    SELECT a.off_loan + k AS ll, a.id AS account_id,
           (ARRAY[8, 10, 12, 13, 14, 22, 27])[1 + floor(pg_temp.r(a.off_loan + k, 230) * 7)::int] AS pn,
           :'anchor_d'::date - 1 - floor(pg_temp.r(a.off_loan + k, 231) * 720)::int AS lent_on,
           (:'anchor_d'::date - 1 - floor(pg_temp.r(a.off_loan + k, 231) * 720)::int)
             + (ARRAY[30, 45, 60, 90])[1 + floor(pg_temp.r(a.off_loan + k, 232) * 4)::int] AS due_back_on
      FROM acc a CROSS JOIN LATERAL generate_series(1, a.n_loan) k
     WHERE a.n_loan > 0
  ) l JOIN prod p ON p.pn = l.pn
 ORDER BY l.ll;

-- ---------------------------------------------------------------------------
-- Complaints: about 3 % of the devices, and two about the recalled lots shortly
-- before the recall; the recent ones partly open.
INSERT INTO medcrm.complaint (id, account_id, device_id, received_at, severity, description, capa_ref, closed_at,
                              created_at, updated_at)
SELECT :b_compl + row_number() OVER (ORDER BY c.o, c.device_id), c.account_id, c.device_id, c.received_at, c.severity,
       c.description,
       CASE WHEN c.severity <> 'low' THEN 'CAPA-' || to_char(c.received_at, 'YYYY') || '-' || lpad(c.device_id::text, 7, '0') END,
       CASE WHEN c.received_at < pg_temp.at(:'anchor_d'::date - 60, 0) AND pg_temp.r(c.device_id, 243) < 0.92
              OR pg_temp.r(c.device_id, 243) < 0.35
            THEN least(pg_temp.at(:'anchor_d'::date, 0) - interval '1 hour', c.received_at + make_interval(days => 3 + floor(pg_temp.r(c.device_id, 244) * 60)::int)) END,
       c.received_at, c.received_at
  FROM (
    SELECT 0 AS o, d.id AS device_id, d.account_id,
           pg_temp.at(d.installed_on + 1 + floor(pg_temp.r(d.id, 240) * greatest(1, :'anchor_d'::date - d.installed_on - 1))::int, 600) AS received_at,
           (ARRAY['low', 'low', 'medium', 'medium', 'medium', 'high', 'high', 'critical'])[1 + floor(pg_temp.r(d.id, 241) * 8)::int] AS severity,
           (ARRAY['开机自检报错', '图像伪影', '报警误触发', '打印模块卡纸', '软件偶发死机', '电池续航不足', '探头外壳破损'])
             [1 + floor(pg_temp.r(d.id, 242) * 7)::int] AS description
      FROM medcrm.installed_device d
     WHERE d.id > :b_dev AND pg_temp.r(d.id - :b_dev, 245) < 0.03 AND d.installed_on < :'anchor_d'::date - 1
       AND d.id NOT IN (SELECT id FROM aff)
    UNION ALL
    SELECT 1, a.id, a.account_id, pg_temp.at(:'anchor_d'::date - 90 + (a.rk * 7)::int, 600), 'high',
           '监护仪使用中意外重启'
      FROM aff a WHERE a.rk <= 2
  ) c;

-- ---------------------------------------------------------------------------
-- Identity sequences continue after the generated rows.
SELECT count(setval(pg_get_serial_sequence('medcrm.' || t, 'id'), m, true)) AS sequences_moved
  FROM (VALUES ('account'), ('department'), ('contact'), ('product'), ('installed_device'), ('certificate'),
               ('recall'), ('complaint'), ('sample_loan'), ('opportunity'), ('sales_order'), ('contract'),
               ('invoice'), ('service_team'), ('work_order'), ('visit')) v(t)
  CROSS JOIN LATERAL (SELECT (xpath('/row/m/text()', query_to_xml(format('SELECT coalesce(max(id), 1) AS m FROM medcrm.%I', t), false, true, '')))[1]::text::bigint AS m) x
\gset

COMMIT;
ANALYZE;
