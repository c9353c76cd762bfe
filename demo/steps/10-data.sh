#!/usr/bin/env bash
# 10-data.sh — the demo data set: rows per table and its shape (out/row_counts.txt, out/data_shape.txt).
set -euo pipefail
psql -X -q -v ON_ERROR_STOP=1 -P footer=off -o "$MEDCRM_OUT/row_counts.txt" <<'SQL'
SELECT c.relname AS "table",
       to_char((xpath('/row/n/text()', query_to_xml(
           format('SELECT count(*) AS n FROM medcrm.%I', c.relname), false, true, '')))[1]::text::bigint,
           'FM999,999,999,999') AS "rows"
  FROM pg_class c
 WHERE c.relnamespace = 'medcrm'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
 ORDER BY c.relname;
SQL
psql -X -q -v ON_ERROR_STOP=1 -c 'ANALYZE' >/dev/null
# The shape of the data (see docs/demo-data.md): what the other demo steps work on.
psql -X -q -v ON_ERROR_STOP=1 -P footer=off -o "$MEDCRM_OUT/data_shape.txt" <<'SQL'
\pset title 'Accounts by kind and hospital grade'
SELECT kind, coalesce(hospital_grade, '-') AS grade, count(*) AS accounts,
       count(*) FILTER (WHERE lifecycle_stage IN ('active', 'at_risk')) AS active
  FROM medcrm.account GROUP BY 1, 2 ORDER BY 1, 2;
\pset title 'Accounts and 3-year revenue by region'
SELECT a.region, count(DISTINCT a.id) AS accounts, round(coalesce(sum(o.amount), 0) / 1e6, 1) AS revenue_m
  FROM medcrm.account a LEFT JOIN medcrm.sales_order o ON o.account_id = a.id
 GROUP BY 1 ORDER BY 3 DESC;
\pset title 'Planted problems (medcrm_demo)'
SELECT 'near-duplicate account' AS problem, count(*) AS rows FROM medcrm_demo.planted_duplicate
UNION ALL
SELECT problem, count(*) FROM medcrm_demo.planted_problem GROUP BY 1 ORDER BY 1;
SQL
psql -X -qAt -v ON_ERROR_STOP=1 <<'SQL'
WITH r AS (SELECT a.id, coalesce(sum(o.amount), 0) AS rev
             FROM medcrm.account a LEFT JOIN medcrm.sales_order o ON o.account_id = a.id GROUP BY a.id),
     k AS (SELECT rev, row_number() OVER (ORDER BY rev DESC) AS rn, count(*) OVER () AS n FROM r)
SELECT format('   %s accounts in %s regions, %s orders, %s work orders, %s contracts',
              (SELECT count(*) FROM medcrm.account), (SELECT count(DISTINCT region) FROM medcrm.account),
              (SELECT count(*) FROM medcrm.sales_order), (SELECT count(*) FROM medcrm.work_order),
              (SELECT count(*) FROM medcrm.contract))
UNION ALL
SELECT format('   top 20 %% of accounts hold %s %% of revenue; %s invoices unpaid past due; %s open recall(s)',
              round(100 * sum(rev) FILTER (WHERE rn <= n / 5) / nullif(sum(rev), 0)),
              (SELECT count(*) FROM medcrm.invoice WHERE paid_on IS NULL AND due_on < current_date),
              (SELECT count(*) FROM medcrm.recall WHERE status = 'open'))
  FROM k;
SQL
