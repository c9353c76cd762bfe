-- demo/generate.sql — placeholder until the full demo generator lands: accounts only.
INSERT INTO medcrm.account (kind, name, region, lifecycle_stage)
SELECT 'clinic', 'Demo clinic ' || g, 'East', 'active'
  FROM generate_series(1, ceil(2000 * :scale)::int) AS g;
