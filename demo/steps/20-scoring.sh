#!/usr/bin/env bash
# 20-scoring.sh — tier scoring: every account graded A-D, the spread, one explained score (out/tiering.txt).
set -euo pipefail
out=$MEDCRM_OUT/tiering.txt
changed=$(psql -X -qAt -v ON_ERROR_STOP=1 -c 'SELECT medcrm.rescore()')
again=$(psql -X -qAt -v ON_ERROR_STOP=1 -c 'SELECT medcrm.rescore()')
psql -X -q -v ON_ERROR_STOP=1 -P footer=off -o "$out" <<'SQL'
\qecho 'Active tier model'
SELECT id, name, version, thresholds, note FROM medcrm.tier_model WHERE active;
\qecho
\qecho 'Tier spread (effective tier = override, else computed), non-merged accounts'
SELECT coalesce(tier_override, tier, '-') AS tier, kind, count(*) AS accounts,
       round(avg(tier_score), 1) AS mean_score
  FROM medcrm.account WHERE merged_into IS NULL
 GROUP BY ROLLUP (1, 2) ORDER BY 1, 2;
\qecho
\qecho 'Why the best-scored account is where it is (contributions sum to the score)'
SELECT e.* FROM (SELECT id FROM medcrm.account WHERE merged_into IS NULL
                  ORDER BY tier_score DESC NULLS LAST, id LIMIT 1) AS a,
       LATERAL medcrm.explain_tier(a.id) AS e;
\qecho
\qecho 'Tier history: changes by model'
SELECT model_id, old_tier, new_tier, reason, count(*) FROM medcrm.tier_history
 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2 NULLS FIRST, 3;
SQL
spread=$(psql -X -qAt -v ON_ERROR_STOP=1 -c "
  SELECT string_agg(t || ' ' || n || ' (' || pct || '%)', ', ' ORDER BY t)
    FROM (SELECT t, n, round(100.0 * n / sum(n) OVER (), 1) AS pct
            FROM (SELECT coalesce(tier_override, tier, '-') AS t, count(*) AS n FROM medcrm.account
                   WHERE merged_into IS NULL GROUP BY 1) AS c) AS s")
echo "   rescore: $changed accounts tiered, a second run changed $again; spread: $spread"
