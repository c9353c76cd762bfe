#!/usr/bin/env bash
# 10-data.sh — the demo data set: rows per table (out/row_counts.txt).
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
psql -X -qAt -v ON_ERROR_STOP=1 -c "SELECT format('   %s accounts, %s orders, %s work orders, %s contracts',
  (SELECT count(*) FROM medcrm.account), (SELECT count(*) FROM medcrm.sales_order),
  (SELECT count(*) FROM medcrm.work_order), (SELECT count(*) FROM medcrm.contract))"
