-- kpi_reference_engine.sql — the all-SQL KPI engine that medcrm shipped
-- before the C engine (extension/kpi_engine.c), kept as the reference of
-- test/scripts/kpi_differential.sh: medcrm.kpi_series_reference(bounds)
-- must return exactly the rows of medcrm.kpi_series(bounds). Loaded into
-- test databases only (never part of the extension, granted to no one).
-- Period coverage (an entity with >= 1 / >= 2 events in a period's window)
-- is counted here in plain SQL, one row per entity and covered period, not
-- with the engine's bit arithmetic (extension/kpi_cover.c).
CREATE FUNCTION medcrm.kpi_series_reference(bounds date[])
RETURNS TABLE (period_from date, period_to date, kpi text, tier text, region text,
               numerator numeric, denominator numeric, value numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
-- hash tables over a million accounts: keep them in memory, not on disk
SET work_mem = '256MB'
-- The engine's one statement has about a thousand expressions: JIT-compiling
-- them costs seconds of CPU whatever the data size (measured at 50,000
-- accounts: 18 s of JIT time across the leader and its parallel workers, and
-- a 16.7 s call that takes 1.2 s without JIT), while the execution it would
-- speed up is dominated by hashing and aggregation, not by expressions.
SET jit = off
AS $fn$
DECLARE
    n      integer;
    starts date[];  -- bounds[1 .. n]: first day of each period
    ends   date[];  -- bounds[2 .. n + 1]: day after each period ("to")
    w12    date[];  -- ends - 12 months: first day of each trailing-12-month window
    w30    date[];  -- ends - 30 days: first day of each trailing-30-day window
BEGIN
    -- the extension's own check of the bounds (medcrm.kpi_periods); the
    -- windows are computed here, independently of the engine's arguments
    SELECT p.b INTO bounds FROM medcrm.kpi_periods(bounds) AS p;
    n := cardinality(bounds) - 1;
    starts := bounds[1:n];
    ends := bounds[2:n + 1];
    w12 := ARRAY(SELECT (u - interval '12 months')::date FROM unnest(ends) WITH ORDINALITY AS x(u, o) ORDER BY o);
    w30 := ARRAY(SELECT u - 30 FROM unnest(ends) WITH ORDINALITY AS x(u, o) ORDER BY o);

    -- Parameters: $1 starts, $2 ends, $3 w12, $4 w30 (dates); $5 .. $8 the same
    -- as timestamptz (midnight in the session's TimeZone); $9 n; $10 now().
    -- Period index of a date d in [starts[1], ends[n]): width_bucket(d, starts) - 1.
    -- Periods whose trailing window holds d: width_bucket(d, ends) .. width_bucket(d, w12) - 1.
    RETURN QUERY EXECUTE $q$
WITH acct AS MATERIALIZED (
    SELECT a.id,
           coalesce(a.tier_override, a.tier, '(none)') AS tier,
           coalesce(a.region, '(none)') AS region,
           a.lifecycle_stage IN ('active', 'at_risk') AS active,
           coalesce(coalesce(a.tier_override, a.tier) = 'A', false) AS is_a,
           coalesce(a.tier_override, a.tier) IS NOT NULL AS tiered
      FROM medcrm.account AS a
     WHERE a.merged_into IS NULL
),
periods AS (
    SELECT g AS p FROM generate_series(0, $9 - 1) AS g
),
-- Work orders reported or resolved in the range, with their period indexes.
wo AS MATERIALIZED (
    SELECT a.tier, a.region,
           CASE WHEN w.reported_at >= $5[1] AND w.reported_at < $6[$9]
                THEN width_bucket(w.reported_at, $5) - 1 END AS p_rep,
           CASE WHEN w.resolved_at >= $5[1] AND w.resolved_at < $6[$9]
                THEN width_bucket(w.resolved_at, $5) - 1 END AS p_res,
           extract(epoch FROM w.first_response_at - w.reported_at) AS response_s,
           extract(epoch FROM w.resolved_at - w.reported_at) AS resolution_s,
           w.response_due_at IS NOT NULL AND w.resolve_due_at IS NOT NULL
             AND w.first_response_at <= w.response_due_at
             AND w.resolved_at <= w.resolve_due_at AS sla_met,
           coalesce(w.first_response_at > w.response_due_at, false)
             OR coalesce(w.resolved_at > w.resolve_due_at, false)
             OR (w.first_response_at IS NULL AND coalesce(w.response_due_at < $10, false))
             OR (w.resolved_at IS NULL AND coalesce(w.resolve_due_at < $10, false)) AS sla_missed
      FROM medcrm.work_order AS w
      JOIN acct AS a ON a.id = w.account_id
     WHERE (w.reported_at >= $5[1] AND w.reported_at < $6[$9])
        OR (w.resolved_at >= $5[1] AND w.resolved_at < $6[$9])
),
-- Recall actions of recalls opened in the range (link: task.source_table =
-- 'recall' and task.source_id = recall.id).
ra AS MATERIALIZED (
    SELECT width_bucket(r.opened_at, $5) - 1 AS p, r.id AS recall_id, r.opened_at,
           coalesce(a.tier, '(none)') AS tier, coalesce(a.region, '(none)') AS region,
           t.status = 'done' AS done, t.done_at
      FROM medcrm.recall AS r
      JOIN medcrm.task AS t
        ON t.kind = 'recall_action' AND t.source_table = 'recall' AND t.source_id = r.id
      LEFT JOIN acct AS a ON a.id = t.account_id
     WHERE r.opened_at >= $5[1] AND r.opened_at < $6[$9]
       AND (t.account_id IS NULL OR a.id IS NOT NULL)
),
-- Per (tier, region) cell: account counts that several KPIs share.
acct_cells AS (
    SELECT a.tier, a.region,
           count(*) AS n_all,
           count(*) FILTER (WHERE a.active) AS n_active,
           count(*) FILTER (WHERE a.is_a) AS n_a,
           count(*) FILTER (WHERE a.tiered) AS n_tiered,
           count(*) FILTER (WHERE dq.account_id IS NOT NULL) AS n_error
      FROM acct AS a
      LEFT JOIN (SELECT DISTINCT q.account_id FROM medcrm.v_data_quality AS q
                  WHERE q.account_id IS NOT NULL) AS dq ON dq.account_id = a.id
     GROUP BY a.tier, a.region
),
-- Coverage masks per entity (bit p: covered in period p; bit 32 + p: covered
-- twice), from one row per entity and covered period; counted per (tier,
-- region, mask).
masks (kpi, tier, region, mask, n) AS (
    -- touch rate: active accounts with a visit (any channel) in the period
    SELECT 'touch_rate', a.tier, a.region, m.mask, count(*)
      FROM (SELECT c.account_id, pg_catalog.bit_or(1::bigint << c.p)
                   | coalesce(pg_catalog.bit_or(1::bigint << (32 + c.p)) FILTER (WHERE c.n >= 2), 0) AS mask
              FROM (SELECT v.account_id, p, count(*) AS n
                      FROM medcrm.visit AS v
                     CROSS JOIN LATERAL generate_series(greatest(width_bucket(v.started_at, $5) - 1, 0),
                                                        least(width_bucket(v.started_at, $5) - 1, 30)) AS p
                     WHERE v.started_at >= $5[1] AND v.started_at < $6[$9]
                     GROUP BY v.account_id, p) AS c
             GROUP BY c.account_id) AS m
      JOIN acct AS a ON a.id = m.account_id AND a.active
     GROUP BY a.tier, a.region, m.mask
    UNION ALL
    -- repeat purchase: accounts with >= 1 / >= 2 orders in the 12 months before "to"
    SELECT 'repeat_purchase_rate', a.tier, a.region, m.mask, count(*)
      FROM (SELECT c.account_id, pg_catalog.bit_or(1::bigint << c.p)
                   | coalesce(pg_catalog.bit_or(1::bigint << (32 + c.p)) FILTER (WHERE c.n >= 2), 0) AS mask
              FROM (SELECT s.account_id, p, count(*) AS n
                      FROM medcrm.sales_order AS s
                     CROSS JOIN LATERAL generate_series(greatest(width_bucket(s.ordered_on, $2), 0),
                                                        least(width_bucket(s.ordered_on, $3) - 1, 30)) AS p
                     WHERE s.ordered_on >= $3[1] AND s.ordered_on < $2[$9]
                     GROUP BY s.account_id, p) AS c
             GROUP BY c.account_id) AS m
      JOIN acct AS a ON a.id = m.account_id
     GROUP BY a.tier, a.region, m.mask
    UNION ALL
    -- service coverage: active devices with a preventive work order resolved
    -- in the 12 months before "to"
    SELECT 'service_coverage', a.tier, a.region, m.mask, count(*)
      FROM (SELECT c.device_id, pg_catalog.bit_or(1::bigint << c.p)
                   | coalesce(pg_catalog.bit_or(1::bigint << (32 + c.p)) FILTER (WHERE c.n >= 2), 0) AS mask
              FROM (SELECT w.device_id, p, count(*) AS n
                      FROM medcrm.work_order AS w
                     CROSS JOIN LATERAL generate_series(greatest(width_bucket(w.resolved_at, $6), 0),
                                                        least(width_bucket(w.resolved_at, $7) - 1, 30)) AS p
                     WHERE w.kind = 'preventive' AND w.device_id IS NOT NULL
                       AND w.resolved_at >= $7[1] AND w.resolved_at < $6[$9]
                     GROUP BY w.device_id, p) AS c
             GROUP BY c.device_id) AS m
      JOIN medcrm.installed_device AS d ON d.id = m.device_id AND d.status = 'active'
      JOIN acct AS a ON a.id = d.account_id
     GROUP BY a.tier, a.region, m.mask
    UNION ALL
    -- A-account visit coverage: a visit of channel visit in the 30 days before "to"
    SELECT 'a_visit_coverage', a.tier, a.region, m.mask, count(*)
      FROM (SELECT c.account_id, pg_catalog.bit_or(1::bigint << c.p)
                   | coalesce(pg_catalog.bit_or(1::bigint << (32 + c.p)) FILTER (WHERE c.n >= 2), 0) AS mask
              FROM (SELECT v.account_id, p, count(*) AS n
                      FROM medcrm.visit AS v
                     CROSS JOIN LATERAL generate_series(greatest(width_bucket(v.started_at, $6), 0),
                                                        least(width_bucket(v.started_at, $8) - 1, 30)) AS p
                     WHERE v.channel = 'visit'
                       AND v.started_at >= $8[1] AND v.started_at < $6[$9]
                     GROUP BY v.account_id, p) AS c
             GROUP BY c.account_id) AS m
      JOIN acct AS a ON a.id = m.account_id AND a.is_a
     GROUP BY a.tier, a.region, m.mask
),
-- Order margins per cell and period class: lo = first period whose "to" is
-- after the order (orders before starts[1] have lo = 0 too, in_range false).
margins AS (
    SELECT a.tier, a.region, a.active, width_bucket(s.ordered_on, $2) AS lo,
           s.ordered_on >= $1[1] AS in_range, sum(s.gross_margin) AS margin
      FROM medcrm.sales_order AS s
      JOIN acct AS a ON a.id = s.account_id
     WHERE s.ordered_on < $2[$9]
     GROUP BY 1, 2, 3, 4, 5
),
-- Additive KPIs per (kpi, period, tier, region) cell: numerator, denominator
-- (hour KPIs carry seconds here; they are divided by 3600 at the end).
cells (kpi, p, tier, region, num, den) AS (
    -- grid: every KPI in every period for every cell of accounts, plus the
    -- denominators that are counts of accounts
    SELECT k.kpi, g.p, c.tier, c.region, k.num, k.den
      FROM acct_cells AS c
     CROSS JOIN periods AS g
     CROSS JOIN LATERAL (VALUES
            ('touch_rate', 0, c.n_active),
            ('first_response_hours_mean', 0, 0),
            ('resolution_hours_mean', 0, 0),
            ('sla_compliance', 0, 0),
            ('conversion_rate', 0, 0),
            ('sales_cycle_days', 0, 0),
            ('renewal_rate', 0, 0),
            ('repeat_purchase_rate', 0, 0),
            ('clv_mean', 0, c.n_active),
            ('collection_rate', 0, 0),
            ('a_tier_share', c.n_a, c.n_tiered),
            ('a_tier_margin_share', 0, 0),
            ('service_coverage', 0, 0),
            ('recall_closure_rate', 0, 0),
            ('task_timeliness', 0, 0),
            ('data_error_rate', c.n_error, c.n_all),
            ('a_visit_coverage', 0, c.n_a)) AS k(kpi, num, den)
    UNION ALL
    -- masks: bit p of the low half = covered once, of the high half = twice
    -- (summed per cell here, so that the roll-up below gets one row per cell
    -- and period instead of one per distinct mask and covered period)
    SELECT m.kpi, g.p, m.tier, m.region,
           sum(CASE WHEN m.kpi = 'repeat_purchase_rate'
                    THEN CASE WHEN (m.mask >> (32 + g.p)) & 1 = 1 THEN m.n ELSE 0 END
                    ELSE CASE WHEN (m.mask >> g.p) & 1 = 1 THEN m.n ELSE 0 END END),
           sum(CASE WHEN m.kpi = 'repeat_purchase_rate'
                    THEN CASE WHEN (m.mask >> g.p) & 1 = 1 THEN m.n ELSE 0 END
                    ELSE 0 END)
      FROM masks AS m
      JOIN periods AS g ON (m.mask >> g.p) & 1 = 1
     GROUP BY m.kpi, g.p, m.tier, m.region
    UNION ALL
    -- active devices: the denominator of service coverage
    SELECT 'service_coverage', g.p, c.tier, c.region, 0, c.n
      FROM (SELECT a.tier, a.region, count(*) AS n
              FROM medcrm.installed_device AS d
              JOIN acct AS a ON a.id = d.account_id
             WHERE d.status = 'active'
             GROUP BY a.tier, a.region) AS c
     CROSS JOIN periods AS g
    UNION ALL
    -- work orders: mean response and resolution times, SLA compliance
    SELECT 'first_response_hours_mean', w.p_rep, w.tier, w.region, sum(w.response_s), count(*)
      FROM wo AS w
     WHERE w.p_rep IS NOT NULL AND w.response_s IS NOT NULL
     GROUP BY w.p_rep, w.tier, w.region
    UNION ALL
    SELECT 'resolution_hours_mean', w.p_res, w.tier, w.region, sum(w.resolution_s), count(*)
      FROM wo AS w
     WHERE w.p_res IS NOT NULL
     GROUP BY w.p_res, w.tier, w.region
    UNION ALL
    SELECT 'sla_compliance', w.p_rep, w.tier, w.region,
           count(*) FILTER (WHERE w.sla_met), count(*) FILTER (WHERE w.sla_met OR w.sla_missed)
      FROM wo AS w
     WHERE w.p_rep IS NOT NULL
     GROUP BY w.p_rep, w.tier, w.region
    UNION ALL
    -- opportunities closed in the period: conversion rate, sales cycle
    SELECT k.kpi, o.p, o.tier, o.region, k.num, k.den
      FROM (SELECT width_bucket(op.closed_on, $1) - 1 AS p, a.tier, a.region,
                   count(*) FILTER (WHERE op.stage = 'won') AS won,
                   count(*) AS decided,
                   coalesce(sum(op.closed_on - op.opened_on) FILTER (WHERE op.stage = 'won'), 0) AS won_days
              FROM medcrm.opportunity AS op
              JOIN acct AS a ON a.id = op.account_id
             WHERE op.closed_on >= $1[1] AND op.closed_on < $2[$9]
               AND op.stage IN ('won', 'lost')
             GROUP BY 1, 2, 3) AS o
     CROSS JOIN LATERAL (VALUES ('conversion_rate', o.won, o.decided),
                                ('sales_cycle_days', o.won_days, o.won)) AS k(kpi, num, den)
    UNION ALL
    -- contracts ending in the period that have a successor (renewed_from)
    SELECT 'renewal_rate', width_bucket(c.ends_on, $1) - 1, a.tier, a.region,
           count(*) FILTER (WHERE c.renewed), count(*)
      FROM (SELECT ct.account_id, ct.ends_on,
                   EXISTS (SELECT FROM medcrm.contract AS s WHERE s.renewed_from = ct.id) AS renewed
              FROM medcrm.contract AS ct
             WHERE ct.ends_on >= $1[1] AND ct.ends_on < $2[$9]) AS c
      JOIN acct AS a ON a.id = c.account_id
     GROUP BY 2, 3, 4
    UNION ALL
    -- CLV: margin of all orders before "to" of the active accounts
    SELECT 'clv_mean', g.p, m.tier, m.region, sum(m.margin), 0
      FROM margins AS m
      JOIN periods AS g ON g.p >= m.lo
     WHERE m.active
     GROUP BY g.p, m.tier, m.region
    UNION ALL
    -- A-tier margin share: margin of the orders in the period
    SELECT 'a_tier_margin_share', m.lo, m.tier, m.region,
           CASE WHEN m.tier = 'A' THEN sum(m.margin) ELSE 0 END, sum(m.margin)
      FROM margins AS m
     WHERE m.in_range
     GROUP BY m.lo, m.tier, m.region
    UNION ALL
    -- collection rate: invoices due in the period, paid on or before due_on
    SELECT 'collection_rate', width_bucket(i.due_on, $1) - 1, a.tier, a.region,
           coalesce(sum(least(i.paid_amount, i.amount)) FILTER (WHERE i.paid_on <= i.due_on), 0),
           sum(i.amount)
      FROM medcrm.invoice AS i
      JOIN acct AS a ON a.id = i.account_id
     WHERE i.due_on >= $1[1] AND i.due_on < $2[$9]
     GROUP BY 2, 3, 4
    UNION ALL
    -- recall closure: done recall actions of recalls opened in the period
    SELECT 'recall_closure_rate', r.p, r.tier, r.region, count(*) FILTER (WHERE r.done), count(*)
      FROM ra AS r
     GROUP BY r.p, r.tier, r.region
    UNION ALL
    -- task timeliness: tasks due in the period, done at or before due_at
    SELECT 'task_timeliness', width_bucket(t.due_at, $5) - 1,
           coalesce(a.tier, '(none)'), coalesce(a.region, '(none)'),
           count(*) FILTER (WHERE t.status = 'done' AND t.done_at <= t.due_at), count(*)
      FROM medcrm.task AS t
      LEFT JOIN acct AS a ON a.id = t.account_id
     WHERE t.due_at >= $5[1] AND t.due_at < $6[$9]
       AND (t.account_id IS NULL OR a.id IS NOT NULL)
     GROUP BY 2, 3, 4
),
rolled AS (
    SELECT c.kpi, c.p, grouping(c.tier) AS gt, grouping(c.region) AS gr,
           c.tier, c.region, sum(c.num) AS num, sum(c.den) AS den
      FROM cells AS c
     GROUP BY c.kpi, c.p, GROUPING SETS ((), (c.tier), (c.region))
),
-- Every group that exists in some period, and the overall group of every
-- period even when there is no data at all. gt/gr: 1 = all tiers/regions.
groups AS (
    SELECT r.p, r.gt, r.gr, r.tier, r.region FROM rolled AS r
    UNION
    SELECT g.p, 1, 1, NULL, NULL FROM periods AS g
),
-- Medians: not additive, computed from the rows for each group.
medians (kpi, p, gt, gr, tier, region, n, v) AS (
    SELECT 'first_response_hours_median', w.p_rep, grouping(w.tier), grouping(w.region),
           w.tier, w.region, count(*),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY w.response_s::float8)::numeric
      FROM wo AS w
     WHERE w.p_rep IS NOT NULL AND w.response_s IS NOT NULL
     GROUP BY w.p_rep, GROUPING SETS ((), (w.tier), (w.region))
    UNION ALL
    SELECT 'resolution_hours_median', w.p_res, grouping(w.tier), grouping(w.region),
           w.tier, w.region, count(*),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY w.resolution_s::float8)::numeric
      FROM wo AS w
     WHERE w.p_res IS NOT NULL
     GROUP BY w.p_res, GROUPING SETS ((), (w.tier), (w.region))
),
-- Recall processing time: per recall and group, are all its actions done and
-- when was the last one done; then the mean over the completed recalls.
recall_groups AS (
    SELECT r.p, r.recall_id, r.opened_at, grouping(r.tier) AS gt, grouping(r.region) AS gr,
           r.tier, r.region, bool_and(r.done) AS all_done, max(r.done_at) AS last_done_at
      FROM ra AS r
     GROUP BY r.p, r.recall_id, r.opened_at, GROUPING SETS ((), (r.tier), (r.region))
),
processing (kpi, p, gt, gr, tier, region, num, den) AS (
    SELECT 'recall_processing_hours_mean', g.p, g.gt, g.gr, g.tier, g.region,
           sum(extract(epoch FROM g.last_done_at - g.opened_at)), count(*)
      FROM recall_groups AS g
     WHERE g.all_done AND g.last_done_at IS NOT NULL
     GROUP BY g.p, g.gt, g.gr, g.tier, g.region
),
-- (p, gt, gr, tier, region) keys joined with plain equality (hashable).
results (kpi, p, tier, region, num, den, v) AS (
    SELECT k.kpi, g.p, g.tier, g.region,
           CASE WHEN k.kpi IN ('first_response_hours_mean', 'resolution_hours_mean')
                THEN coalesce(r.num, 0) / 3600 ELSE coalesce(r.num, 0) END,
           coalesce(r.den, 0),
           CASE WHEN coalesce(r.den, 0) = 0 THEN NULL
                WHEN k.kpi IN ('first_response_hours_mean', 'resolution_hours_mean')
                THEN r.num / r.den / 3600
                ELSE r.num / r.den END
      FROM groups AS g
     CROSS JOIN unnest(medcrm.kpi_keys()) AS k(kpi)
      LEFT JOIN rolled AS r
        ON r.kpi = k.kpi AND r.p = g.p AND r.gt = g.gt AND r.gr = g.gr
       AND coalesce(r.tier, '') = coalesce(g.tier, '') AND coalesce(r.region, '') = coalesce(g.region, '')
     WHERE k.kpi NOT IN ('first_response_hours_median', 'resolution_hours_median',
                         'recall_processing_hours_mean')
    UNION ALL
    SELECT k.kpi, g.p, g.tier, g.region, NULL::numeric, coalesce(m.n, 0), m.v / 3600
      FROM groups AS g
     CROSS JOIN (VALUES ('first_response_hours_median'), ('resolution_hours_median')) AS k(kpi)
      LEFT JOIN medians AS m
        ON m.kpi = k.kpi AND m.p = g.p AND m.gt = g.gt AND m.gr = g.gr
       AND coalesce(m.tier, '') = coalesce(g.tier, '') AND coalesce(m.region, '') = coalesce(g.region, '')
    UNION ALL
    SELECT 'recall_processing_hours_mean', g.p, g.tier, g.region,
           coalesce(pr.num, 0) / 3600, coalesce(pr.den, 0), pr.num / pr.den / 3600
      FROM groups AS g
      LEFT JOIN processing AS pr
        ON pr.p = g.p AND pr.gt = g.gt AND pr.gr = g.gr
       AND coalesce(pr.tier, '') = coalesce(g.tier, '') AND coalesce(pr.region, '') = coalesce(g.region, '')
)
SELECT $1[x.p + 1], $2[x.p + 1], x.kpi, x.tier, x.region, x.num, x.den, x.v
  FROM results AS x
 ORDER BY x.p, array_position(medcrm.kpi_keys(), x.kpi), x.tier NULLS FIRST, x.region NULLS FIRST
$q$
    USING starts, ends, w12, w30,
          starts::timestamptz[], ends::timestamptz[], w12::timestamptz[], w30::timestamptz[],
          n, now();
END
$fn$;
REVOKE ALL ON FUNCTION medcrm.kpi_series_reference(date[]) FROM PUBLIC;
