#!/usr/bin/env bash
# 60-governance.sh — data governance: duplicates found, a merge and its undo, data-quality findings per code (out/duplicates.csv, out/data_quality.txt)
set -euo pipefail
out=$MEDCRM_OUT
psql_q() { psql -X -qAt -v ON_ERROR_STOP=1 -c "$1"; }

start=$(date +%s)
pairs=$(psql_q "SELECT medcrm.scan_duplicates()")
echo "   duplicate scan: $pairs suspected duplicate pairs in $(( $(date +%s) - start )) s"
psql -X -q -v ON_ERROR_STOP=1 -c "\copy (
  SELECT dc.account_a, a.name AS name_a, a.city AS city_a, dc.account_b, b.name AS name_b, b.city AS city_b,
         round(dc.similarity::numeric, 3) AS similarity, array_to_string(dc.reasons, ' ') AS reasons
    FROM medcrm.duplicate_candidate dc
    JOIN medcrm.account a ON a.id = dc.account_a JOIN medcrm.account b ON b.id = dc.account_b
   WHERE dc.status = 'open' ORDER BY dc.account_a, dc.account_b) TO '$out/duplicates.csv' WITH (FORMAT csv, HEADER)"
psql_q "SELECT format('   by evidence: %s', string_agg(r || ' ' || n, ', ' ORDER BY n DESC, r))
          FROM (SELECT array_to_string(reasons, '+') AS r, count(*) AS n FROM medcrm.duplicate_candidate
                 WHERE status = 'open' GROUP BY 1) s"
psql_q "SELECT format('   e.g. %s \"%s\" ~ %s \"%s\" (%s)', a.id, a.name, b.id, b.name, array_to_string(dc.reasons, ', '))
          FROM medcrm.duplicate_candidate dc JOIN medcrm.account a ON a.id = dc.account_a
          JOIN medcrm.account b ON b.id = dc.account_b
         WHERE dc.status = 'open' ORDER BY dc.account_b LIMIT 3"
if [ "$(psql_q "SELECT to_regclass('medcrm_demo.planted_duplicate') IS NOT NULL")" = t ]; then
  psql_q "SELECT format('   planted by the generator: %s, found: %s (%s %%)', count(*),
                 count(*) FILTER (WHERE EXISTS (SELECT FROM medcrm.duplicate_candidate dc
                                                 WHERE dc.account_a = least(p.original_id, p.duplicate_id)
                                                   AND dc.account_b = greatest(p.original_id, p.duplicate_id))),
                 round(100.0 * count(*) FILTER (WHERE EXISTS (SELECT FROM medcrm.duplicate_candidate dc
                                                 WHERE dc.account_a = least(p.original_id, p.duplicate_id)
                                                   AND dc.account_b = greatest(p.original_id, p.duplicate_id)))
                       / greatest(count(*), 1), 1))
            FROM medcrm_demo.planted_duplicate p"
fi

# A merge and its undo on the first pair, inside a transaction that is rolled back:
# the demo data stays as generated for the steps after this one.
psql -X -qAt -v ON_ERROR_STOP=1 >"$out/merge_demo.txt" <<'SQL'
BEGIN;
SELECT account_a AS keep, account_b AS dup FROM medcrm.duplicate_candidate
 WHERE status = 'open' ORDER BY account_b LIMIT 1 \gset
CREATE TEMP TABLE before AS
SELECT 'account' AS t, md5(string_agg(a::text, '|' ORDER BY a.id)) AS d FROM medcrm.account a;
SELECT medcrm.merge_accounts(:keep, :dup, 'demo: same account') AS merge_id \gset
SELECT format('merge %s: account %s merged into %s, %s child rows moved (%s)', m.id, m.dup_id, m.keep_id, m.rows_moved,
              (SELECT string_agg(table_name || ' ' || n, ', ') FROM
                 (SELECT table_name, count(*) AS n FROM medcrm.account_merge_row WHERE merge_id = m.id GROUP BY 1 ORDER BY 1) s))
  FROM medcrm.account_merge m WHERE m.id = :merge_id;
SELECT format('unmerge: %s rows restored', medcrm.unmerge_accounts(:merge_id));
SELECT format('accounts identical to before the merge: %s',
              (SELECT md5(string_agg(a::text, '|' ORDER BY a.id)) FROM medcrm.account a) = (SELECT d FROM before));
ROLLBACK;
SQL
sed 's/^/   /' "$out/merge_demo.txt"

psql -X -q -v ON_ERROR_STOP=1 -P footer=off -o "$out/data_quality.txt" <<'SQL'
SELECT finding_code, severity, count(*) AS findings, count(DISTINCT account_id) AS accounts, min(fix_hint) AS fix_hint
  FROM medcrm.v_data_quality GROUP BY 1, 2 ORDER BY 3 DESC, 1;
SQL
psql_q "SELECT format('   data-quality findings: %s on %s accounts (%s)', sum(n), (SELECT count(DISTINCT account_id) FROM medcrm.v_data_quality),
               string_agg(finding_code || ' ' || n, ', ' ORDER BY n DESC, finding_code))
          FROM (SELECT finding_code, count(*) AS n FROM medcrm.v_data_quality GROUP BY 1) s"
if [ "$(psql_q "SELECT to_regclass('medcrm_demo.planted_problem') IS NOT NULL")" = t ]; then
  psql_q "SELECT format('   planted problems found: %s of %s', count(*) FILTER (WHERE EXISTS (
                 SELECT FROM medcrm.v_data_quality q WHERE q.table_name = p.table_name AND q.row_id = p.row_id)), count(*))
            FROM medcrm_demo.planted_problem p"
fi

# GS1 UDIs of the installed base: every one parses and agrees with batch, serial and GTIN.
psql_q "SELECT format('   UDIs: %s installed devices carry one, %s parse and agree with batch_no, serial_no and the product GTIN',
               count(*), count(*) FILTER (WHERE u.lot IS NOT DISTINCT FROM d.batch_no
                                            AND u.serial IS NOT DISTINCT FROM d.serial_no
                                            AND (p.gtin IS NULL OR u.gtin = p.gtin)))
          FROM medcrm.installed_device d JOIN medcrm.product p ON p.id = d.product_id
          CROSS JOIN LATERAL medcrm.parse_udi(d.udi) u
         WHERE d.udi IS NOT NULL"
psql_q "SELECT format('   e.g. %s -> gtin %s, lot %s, serial %s, made %s, expires %s', d.udi, u.gtin, u.lot, u.serial, u.manufactured, u.expiry)
          FROM medcrm.installed_device d CROSS JOIN LATERAL medcrm.parse_udi(d.udi) u
         WHERE d.udi IS NOT NULL ORDER BY d.id LIMIT 1"
