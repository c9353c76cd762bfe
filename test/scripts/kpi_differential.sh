#!/usr/bin/env bash
# kpi_differential.sh — the C KPI engine (medcrm.kpi_series) returns exactly
# the rows of the former all-SQL engine (test/scripts/kpi_reference_engine.sql)
# on generated data: same rows in the same order, numerics with the same text
# (value and display scale), for single periods, 24 months, 31 weeks, leap-day
# bounds, far-past and empty ranges, in three time zones; then again after
# adding edge rows (accounts without tier or region, a merged account with
# facts, tasks and recall actions without an account, ids far above the rest
# so that the engine's id lookup goes sparse), and after NaN and huge amounts
# (the exact sums fall back to numeric arithmetic).
source "$(dirname "$0")/lib.sh"

# setup DB SCALE SEED [ANCHOR]: generated data, the reference engine, a diff function
setup() {
  db=$1
  fresh_db "$db"
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -v scale="$2" -v seed="$3" ${4:+-v anchor="$4"} \
    -f demo/generate.sql >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f test/scripts/kpi_reference_engine.sql
  q "$db" "ANALYZE" >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE SCHEMA kpi_test;
-- "rows|new-old|old-new|same order and text": the engines' rows as text
CREATE FUNCTION kpi_test.diff(b date[]) RETURNS text LANGUAGE sql AS $$
WITH n AS (SELECT row_number() OVER () AS o, s::text AS t FROM medcrm.kpi_series(b) AS s),
     r AS (SELECT row_number() OVER () AS o, s::text AS t FROM medcrm.kpi_series_reference(b) AS s)
SELECT format('%s|%s|%s|%s', (SELECT count(*) FROM n),
              (SELECT count(*) FROM (SELECT t FROM n EXCEPT ALL SELECT t FROM r) AS x),
              (SELECT count(*) FROM (SELECT t FROM r EXCEPT ALL SELECT t FROM n) AS x),
              (SELECT string_agg(t, E'\n' ORDER BY o) FROM n) IS NOT DISTINCT FROM
              (SELECT string_agg(t, E'\n' ORDER BY o) FROM r))
$$;
SQL
}

ranges=(
  "ARRAY[(current_date - interval '12 months')::date, current_date]"
  "ARRAY(SELECT (date_trunc('month', current_date) - make_interval(months => 23 - g))::date FROM generate_series(0, 24) AS g ORDER BY g)"
  "ARRAY(SELECT (date '2023-11-06' + 7 * g) FROM generate_series(0, 31) AS g ORDER BY g)"
  "ARRAY['2023-03-01', '2024-02-29', '2024-03-01', '2025-02-28', '2025-03-01']::date[]"
  "ARRAY['2000-01-01', '2023-06-15', '2024-01-01', '2024-01-02']::date[]"
  "ARRAY['2099-01-01', '2099-02-01']::date[]"
)

# settings of each comparison: three time zones, and the engine without
# parallel workers (data-quality query and sales scans in the caller)
settings=(
  "SET TimeZone = 'UTC'"
  "SET TimeZone = 'Asia/Shanghai'"
  "SET TimeZone = 'America/New_York'"
  "SET TimeZone = 'Asia/Shanghai'; SET max_parallel_workers_per_gather = 0"
)

compare() {  # compare LABEL: every range with every setting
  local set r out rows
  for set in "${settings[@]}"; do
    for r in "${ranges[@]}"; do
      out=$(psql -X -qAt -v ON_ERROR_STOP=1 -d "$db" -c "$set" -c "SELECT kpi_test.diff($r)")
      rows=${out%%|*}
      [ "${out#*|}" = "0|0|t" ] && [ "$rows" -gt 0 ] ||
        fail "$1, $set, bounds $r: rows|new-old|old-new|same = $out"
    done
  done
  echo "ok - $1: C engine = reference engine (${#ranges[@]} ranges x ${#settings[@]} settings)"
}

setup kpi_differential_b 0.5 8 2024-03-10
compare "generated data, seed 8, anchored on 2024-03-10"
setup kpi_differential 1 3
compare "generated data, seed 3"

# Edge rows. Ids far above the rest: the engine's account, device and
# recall lookups switch from dense arrays to binary search.
psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
SET session_replication_role = replica;
INSERT INTO medcrm.account (id, kind, name, region, lifecycle_stage, tier, tier_override,
                            tier_override_reason, merged_into) VALUES
  (900000000001, 'hospital', 'Edge no tier no region', NULL, 'active', NULL, NULL, NULL, NULL),
  (900000000002, 'clinic', 'Edge override only', NULL, 'at_risk', NULL, 'A', 'edge', NULL),
  (900000000003, 'clinic', 'Edge region literally (none)', '(none)', 'active', 'B', NULL, NULL, NULL),
  (900000000004, 'clinic', 'Edge merged', 'East', 'active', 'A', NULL, NULL, 900000000001);
INSERT INTO medcrm.sales_order (account_id, ordered_on, amount, gross_margin) VALUES
  (900000000001, current_date - 3, 100, 12.34), (900000000001, current_date - 40, 100, -5.5),
  (900000000002, current_date - 1, 10, 0.01), (900000000004, current_date - 2, 100, 77);
INSERT INTO medcrm.invoice (account_id, issued_on, due_on, amount, paid_on, paid_amount) VALUES
  (900000000001, current_date - 30, current_date - 2, 100, current_date - 3, 120.5),
  (900000000002, current_date - 30, current_date - 2, 50, current_date - 1, 50),
  (900000000004, current_date - 30, current_date - 2, 70, current_date - 3, 70);
INSERT INTO medcrm.visit (account_id, channel, started_at) VALUES
  (900000000002, 'visit', now() - interval '2 days'), (900000000004, 'visit', now() - interval '2 days');
INSERT INTO medcrm.installed_device (id, account_id, product_id, serial_no, status)
  SELECT 800000000001, 900000000001, min(id), 'EDGE-1', 'active' FROM medcrm.product;
INSERT INTO medcrm.work_order (account_id, device_id, kind, reported_at, first_response_at, resolved_at,
                               response_due_at, resolve_due_at) VALUES
  (900000000004, 800000000001, 'preventive', now() - interval '5 days', now() - interval '4 days',
   now() - interval '3 days', now() - interval '4 days', now() - interval '2 days'),
  (900000000001, NULL, 'fault', now() - interval '5 days', NULL, NULL,
   now() - interval '4 days', now() - interval '2 days');
INSERT INTO medcrm.recall (id, product_id, batch_nos, class, opened_at, reason)
  SELECT 700000000001, min(id), '{EDGE}', 'II', now() - interval '20 days', 'edge' FROM medcrm.product;
INSERT INTO medcrm.task (account_id, kind, title, due_at, status, done_at, source_table, source_id) VALUES
  (NULL, 'follow_up', 'edge no account', now() - interval '3 days', 'done', now() - interval '4 days', NULL, NULL),
  (NULL, 'recall_action', 'edge recall, no account', now() + interval '3 days', 'done', now() - interval '1 day', 'recall', 700000000001),
  (900000000001, 'recall_action', 'edge recall', NULL, 'done', now() - interval '2 days', 'recall', 700000000001),
  (900000000004, 'recall_action', 'edge recall, merged', NULL, 'open', NULL, 'recall', 700000000001);
SQL
compare "with edge rows and sparse ids"

# NaN and huge amounts: numeric sums leave the int128 fast path.
psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
SET session_replication_role = replica;
INSERT INTO medcrm.sales_order (account_id, ordered_on, amount, gross_margin) VALUES
  (900000000003, current_date - 5, 1, 999999999999.99), (900000000003, current_date - 6, 1, 999999999999.99),
  (900000000002, current_date - 7, 1, 'NaN');
INSERT INTO medcrm.invoice (account_id, issued_on, due_on, amount, paid_on, paid_amount) VALUES
  (900000000003, current_date - 30, current_date - 2, 'NaN', current_date - 3, 5),
  (900000000003, current_date - 30, current_date - 3, 999999999999.99, current_date - 3, 'NaN');
SQL
compare "with NaN and huge amounts"
