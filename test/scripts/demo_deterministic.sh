#!/usr/bin/env bash
# demo_deterministic.sh — the demo generator at scale 1 gives the same data for
# the same seed and anchor (row counts and contents of every table), other data
# for another seed, valid references although it loads with triggers quiet,
# derived fields consistent with the rules that triggers would apply, and the
# shape of a real business (regions, grades, Pareto revenue, one recall, ...).
source "$(dirname "$0")/lib.sh"

anchor=2026-06-15
gen() { # gen DB SEED [server options]
  fresh_db "$1"
  PGOPTIONS="${3:-}" psql -X -q -v ON_ERROR_STOP=1 -d "$1" -v scale=1 -v seed="$2" -v anchor=$anchor \
    -f demo/generate.sql >/dev/null
}
gen demo_a 42
# The second run gets other plans (parallel workers, no hash joins) and another
# session time zone: the data must not depend on them.
gen demo_b 42 '-c max_parallel_workers_per_gather=2 -c parallel_setup_cost=0 -c parallel_tuple_cost=0
  -c min_parallel_table_scan_size=0 -c enable_hashjoin=off -c TimeZone=America/New_York'
gen demo_c 43

# The tables the generator fills (the others hold only what CREATE EXTENSION
# ships, stamped with the time of installation).
generated='^(account|account_source_key|sales_territory|department|contact|product|installed_device|certificate|recall|complaint|sample_loan|opportunity|sales_order|contract|invoice|service_team|work_order|visit) '
a=$(table_digests demo_a | grep -E "$generated")
b=$(table_digests demo_b | grep -E "$generated")
c=$(table_digests demo_c | grep -E "$generated")
[ "$(echo "$a" | wc -l)" -eq 18 ] || fail "expected 18 generated tables, got: $a"
if [ "$a" != "$b" ]; then
  diff <(echo "$a") <(echo "$b") >&2
  fail "same seed, different data"
fi
echo "ok - same seed and anchor, other plans and time zone: identical row counts and contents in all 18 generated tables"
expect_eq "same seed: same planted duplicates" \
  "$(q demo_a "SELECT md5(string_agg(original_id || '/' || duplicate_id || '/' || variant, ',' ORDER BY duplicate_id)) FROM medcrm_demo.planted_duplicate")" \
  "$(q demo_b "SELECT md5(string_agg(original_id || '/' || duplicate_id || '/' || variant, ',' ORDER BY duplicate_id)) FROM medcrm_demo.planted_duplicate")"
[ "$(echo "$a" | grep '^account ')" != "$(echo "$c" | grep '^account ')" ] || fail "another seed gave the same accounts"
[ "$(echo "$a" | grep '^sales_order ')" != "$(echo "$c" | grep '^sales_order ')" ] || fail "another seed gave the same orders"
echo "ok - another seed gives other data"

# Every table the generator fills has rows; the scale-1 sizes are in range.
echo "$a" | awk '$2 == 0 { print "FAIL: table " $1 " is empty"; bad = 1 } END { exit bad }' >&2 || exit 1
echo "ok - every business table has rows"
n_acc=$(q demo_a "SELECT count(*) FROM medcrm.account")
[ "$n_acc" -ge 1900 ] && [ "$n_acc" -le 2200 ] || fail "scale 1 should give about 2,000 accounts, got $n_acc"
echo "ok - scale 1 gives $n_acc accounts"

check() { # check WHAT SQL: the query must return t
  local got
  got=$(q demo_a "$2")
  [ "$got" = t ] || fail "$1 (query returned '$got')"
  echo "ok - $1"
}
# Loaded with triggers quiet (foreign keys included): every reference is valid.
check "every foreign key holds" "SELECT NOT EXISTS (
  SELECT FROM pg_constraint c
   WHERE c.contype = 'f' AND c.connamespace = 'medcrm'::regnamespace
     AND (xpath('/row/n/text()', query_to_xml(format(
           'SELECT count(*) AS n FROM %s x WHERE x.%I IS NOT NULL AND NOT EXISTS (SELECT FROM %s y WHERE y.%I = x.%I)',
           c.conrelid::regclass,
           (SELECT attname FROM pg_attribute WHERE attrelid = c.conrelid AND attnum = c.conkey[1]),
           c.confrelid::regclass,
           (SELECT attname FROM pg_attribute WHERE attrelid = c.confrelid AND attnum = c.confkey[1]),
           (SELECT attname FROM pg_attribute WHERE attrelid = c.conrelid AND attnum = c.conkey[1])),
         false, true, '')))[1]::text::bigint > 0)"

# Shape.
check "at least 6 regions, each with provinces and cities" \
  "SELECT count(DISTINCT region) >= 6 AND bool_and(province IS NOT NULL AND city IS NOT NULL) FROM medcrm.account"
check "every hospital grade present" \
  "SELECT count(DISTINCT hospital_grade) = 7 FROM medcrm.account WHERE kind = 'hospital'"
check "every account kind present, groups are parents of hospitals" \
  "SELECT (SELECT count(DISTINCT kind) FROM medcrm.account) = 5
      AND (SELECT count(*) FROM medcrm.account h JOIN medcrm.account g ON g.id = h.parent_id
            WHERE h.kind = 'hospital' AND g.kind = 'group') >= 50"
check "exactly one recall, class II, open, affecting a handful of installed devices" \
  "SELECT count(*) = 1 AND bool_and(r.class = 'II' AND r.status = 'open')
      AND bool_and((SELECT count(*) FROM medcrm.installed_device d
                     WHERE d.product_id = r.product_id AND d.batch_no = ANY (r.batch_nos)) BETWEEN 3 AND 12)
     FROM medcrm.recall r"
check "some invoices unpaid and overdue, some late, some partial, most on time" \
  "SELECT count(*) FILTER (WHERE paid_on IS NULL AND due_on < date '$anchor') > 50
      AND count(*) FILTER (WHERE paid_on > due_on) > 50
      AND count(*) FILTER (WHERE paid_on IS NOT NULL AND paid_amount < amount) > 20
      AND count(*) FILTER (WHERE paid_on <= due_on AND paid_amount >= amount) > count(*) / 2
     FROM medcrm.invoice"
check "some contracts renewed (renewed_from set, predecessor marked renewed), some lapsing, some ending within 90 days" \
  "SELECT count(*) FILTER (WHERE renewed_from IS NOT NULL) > 100
      AND count(*) FILTER (WHERE status = 'expired') > 20
      AND count(*) FILTER (WHERE status = 'active' AND ends_on BETWEEN date '$anchor' AND date '$anchor' + 90) > 20
      AND NOT EXISTS (SELECT FROM medcrm.contract p WHERE p.status = 'renewed'
                         AND NOT EXISTS (SELECT FROM medcrm.contract s WHERE s.renewed_from = p.id))
     FROM medcrm.contract"
check "top 20 % of accounts by 3-year revenue hold at least 60 % of it" \
  "WITH r AS (SELECT a.id, coalesce(sum(o.amount), 0) AS rev FROM medcrm.account a
                LEFT JOIN medcrm.sales_order o ON o.account_id = a.id AND o.ordered_on > date '$anchor' - 3 * 365
               GROUP BY a.id),
        k AS (SELECT rev, row_number() OVER (ORDER BY rev DESC) AS rn, count(*) OVER () AS n FROM r)
   SELECT sum(rev) FILTER (WHERE rn <= n / 5) >= 0.6 * sum(rev) FROM k"
check "tender seasonality: December and March orders above the monthly average" \
  "WITH m AS (SELECT extract(month FROM ordered_on) AS m, count(*) AS n FROM medcrm.sales_order
               WHERE ordered_on >= date '$anchor' - 3 * 365 GROUP BY 1)
   SELECT (SELECT n FROM m WHERE m = 12) > (SELECT avg(n) FROM m) AND (SELECT n FROM m WHERE m = 3) > (SELECT avg(n) FROM m)"
check "planted duplicates recorded: about 1 %, same city and kind as their original" \
  "SELECT count(*) BETWEEN 10 AND 40
      AND bool_and(o.city = d.city AND o.kind = d.kind AND o.name <> d.name)
     FROM medcrm_demo.planted_duplicate p
     JOIN medcrm.account o ON o.id = p.original_id JOIN medcrm.account d ON d.id = p.duplicate_id"
check "planted data-quality problems present" \
  "SELECT count(DISTINCT problem) = 5 FROM medcrm_demo.planted_problem"
check "one expired licence on an active distributor, registrations expiring within 90 days" \
  "SELECT (SELECT count(*) FROM medcrm.certificate c JOIN medcrm.account a ON a.id = c.account_id
            WHERE c.kind = 'distributor_license' AND a.lifecycle_stage = 'active' AND c.valid_to < date '$anchor') = 1
      AND (SELECT count(*) FROM medcrm.product WHERE registration_expires BETWEEN date '$anchor' AND date '$anchor' + 90) >= 2"
check "UDI strings agree with GTIN, batch and serial" \
  "SELECT count(*) > 100 AND bool_and(d.udi LIKE '(01)' || p.gtin || '(11)%(10)' || d.batch_no || '(21)' || d.serial_no)
     FROM medcrm.installed_device d JOIN medcrm.product p ON p.id = d.product_id WHERE d.udi IS NOT NULL"

# Derived fields filled as medcrm's triggers would.
check "work-order deadlines follow sla_policy for the account's service level" \
  "SELECT bool_and(w.response_due_at = w.reported_at + s.response_hours * interval '1 hour'
               AND w.resolve_due_at = w.reported_at + s.resolve_hours * interval '1 hour')
     FROM medcrm.work_order w JOIN medcrm.account a ON a.id = w.account_id
     JOIN medcrm.sla_policy s ON s.service_level = a.service_level AND s.priority = w.priority"
check "work orders of every kind and priority, most within SLA, some late, some open past deadline" \
  "SELECT count(DISTINCT kind) = 5 AND count(DISTINCT priority) = 4
      AND count(*) FILTER (WHERE first_response_at <= response_due_at AND resolved_at <= resolve_due_at) > count(*) * 0.6
      AND count(*) FILTER (WHERE resolved_at > resolve_due_at) > 20
      AND count(*) FILTER (WHERE resolved_at IS NULL AND status NOT IN ('cancelled') AND resolve_due_at < date '$anchor') > 5
     FROM medcrm.work_order"
check "work orders routed to the team of the account's region (national team for recalls)" \
  "SELECT bool_and(CASE WHEN w.kind = 'recall' THEN t.region IS NULL ELSE t.region = a.region END)
     FROM medcrm.work_order w JOIN medcrm.account a ON a.id = w.account_id
     JOIN medcrm.service_team t ON t.id = w.assigned_team"
check "devices in repair are exactly those with fault work under way" \
  "SELECT bool_and((d.status = 'in_repair') = EXISTS (SELECT FROM medcrm.work_order w WHERE w.device_id = d.id
                     AND w.kind = 'fault' AND w.status IN ('assigned', 'in_progress')))
     FROM medcrm.installed_device d WHERE d.status <> 'retired'"
check "no event after the anchor" \
  "SELECT (SELECT max(ordered_on) FROM medcrm.sales_order) <= date '$anchor'
      AND (SELECT max(reported_at) FROM medcrm.work_order) < date '$anchor' + 1
      AND (SELECT max(started_at) FROM medcrm.visit) < date '$anchor' + 1
      AND (SELECT max(paid_on) FROM medcrm.invoice) <= date '$anchor'"
check "tier columns left to scoring" \
  "SELECT count(*) = 0 FROM medcrm.account WHERE tier IS NOT NULL OR tier_score IS NOT NULL"
check "identity sequences continue after the generated rows" \
  "WITH n AS (INSERT INTO medcrm.account (kind, name) VALUES ('clinic', 'After demo') RETURNING id)
   SELECT (SELECT id FROM n) > (SELECT max(id) FROM medcrm.account WHERE name <> 'After demo')"

dropdb demo_a; dropdb demo_b; dropdb demo_c
