#!/usr/bin/env bash
# 50-kpi.sh — KPIs of the last 12 complete months, overall and by account kind (out/kpi_summary.csv, out/kpi_monthly.csv).
set -euo pipefail
from=$(psql -X -qAt -v ON_ERROR_STOP=1 -c "SELECT (date_trunc('month', current_date) - interval '12 months')::date")
to=$(psql -X -qAt -v ON_ERROR_STOP=1 -c "SELECT date_trunc('month', current_date)::date")
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy (SELECT * FROM medcrm.kpi_summary('$from', '$to')) TO '$MEDCRM_OUT/kpi_summary.csv' WITH (FORMAT csv, HEADER)"
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy (SELECT * FROM medcrm.v_kpi_monthly) TO '$MEDCRM_OUT/kpi_monthly.csv' WITH (FORMAT csv, HEADER)"
echo "   KPI summary, overall, [$from, $to):"
psql -X -q -v ON_ERROR_STOP=1 -P footer=off <<SQL | sed 's/^/   /'
SELECT s.kpi, d.unit,
       CASE WHEN d.unit = 'fraction' THEN to_char(100 * s.value, 'FM990.0') || ' %'
            ELSE to_char(s.value, 'FM999,999,990.00') END AS value,
       coalesce(to_char(s.numerator, 'FM999,999,999,990.##'), '-') AS numerator,
       to_char(s.denominator, 'FM999,999,999,990.##') AS denominator
  FROM medcrm.kpi_summary('$from', '$to') AS s
  JOIN medcrm.v_kpi_definition AS d USING (kpi)
 WHERE s.tier IS NULL AND s.region IS NULL
 ORDER BY d.sort_order;
SQL
echo "   full result (by tier and by region): $(( $(wc -l < "$MEDCRM_OUT/kpi_summary.csv") - 1 )) rows in kpi_summary.csv; 24 months in kpi_monthly.csv"
echo "   by account kind (kpi_summary_by_kind): renewal rate and collection rate"
psql -X -q -v ON_ERROR_STOP=1 -P footer=off <<SQL | sed 's/^/   /'
SELECT kind,
       coalesce(max(to_char(100 * value, 'FM990.0') || ' %') FILTER (WHERE kpi = 'renewal_rate'), '-') AS renewal_rate,
       coalesce(max(to_char(100 * value, 'FM990.0') || ' %') FILTER (WHERE kpi = 'collection_rate'), '-') AS collection_rate
  FROM medcrm.kpi_summary_by_kind('$from', '$to')
 WHERE kpi IN ('renewal_rate', 'collection_rate') AND kind <> '(none)'
 GROUP BY kind ORDER BY kind;
SQL
