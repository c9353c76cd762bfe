-- sql/src/51_bi_views.sql — the views that BI tools read (docs/bi.md).
--
-- Access model: these views run with the rights of their owner (the extension
-- owner; security_invoker is off) and are security_barrier views, so
-- medcrm_bi reads them without any grant on the base tables. They carry no
-- personal data (no phone, e-mail or national id: v_contact, of the audit
-- capability, is the masked view of contacts). They are granted to the
-- reporting roles only (medcrm_bi, medcrm_reporter, medcrm_admin,
-- medcrm_auditor), never to the row-level-security-limited roles (sales,
-- service, quality), which would otherwise see past their territory.
-- Accounts merged into another never appear.
--
-- "Today" is current_date in the session's TimeZone; "the trailing 12
-- months" are [today + 1 day - 12 months, today + 1 day), i.e. up to and
-- including today, the DOMAIN.md window "the 12 months before to" with
-- to = tomorrow.

-- The KPI catalogue: what each key of kpi_summary / v_kpi_monthly means.
CREATE VIEW medcrm.v_kpi_definition WITH (security_barrier) AS
SELECT k.kpi, k.unit, k.numerator, k.denominator, k.definition, x.ord::integer AS sort_order
  FROM (VALUES
    ('touch_rate', 'fraction', 'active accounts with a visit row (any channel) started in the period',
     'active accounts (lifecycle active or at_risk, not merged)',
     'Active accounts with at least one visit of any channel started in the period / active accounts.'),
    ('first_response_hours_median', 'hours', 'NULL (a median has no numerator)',
     'work orders reported in the period that have a first response',
     'Median hours from reported_at to first_response_at over work orders reported in the period that have a first response.'),
    ('first_response_hours_mean', 'hours', 'total hours from reported_at to first_response_at',
     'work orders reported in the period that have a first response',
     'Mean hours from reported_at to first_response_at over work orders reported in the period that have a first response.'),
    ('resolution_hours_median', 'hours', 'NULL (a median has no numerator)',
     'work orders resolved in the period',
     'Median hours from reported_at to resolved_at over work orders resolved in the period.'),
    ('resolution_hours_mean', 'hours', 'total hours from reported_at to resolved_at',
     'work orders resolved in the period',
     'Mean hours from reported_at to resolved_at over work orders resolved in the period.'),
    ('sla_compliance', 'fraction', 'work orders reported in the period that met their SLA',
     'work orders reported in the period that met or missed their SLA',
     'Met = responded by response_due_at and resolved by resolve_due_at; missed = either happened late, or is still missing after its deadline has passed (judged at now()); pending orders and orders without deadlines count in neither. Met / (met + missed).'),
    ('conversion_rate', 'fraction', 'opportunities won with closed_on in the period',
     'opportunities won or lost with closed_on in the period',
     'Opportunities with closed_on in the period and stage won / those with stage won or lost.'),
    ('sales_cycle_days', 'days', 'total days closed_on - opened_on of the won opportunities',
     'opportunities won with closed_on in the period',
     'Mean days from opened_on to closed_on of the opportunities won in the period.'),
    ('renewal_rate', 'fraction', 'contracts ending in the period that have a successor',
     'contracts with ends_on in the period',
     'Contracts with ends_on in the period that have a successor (a contract with renewed_from = id, whenever it starts, in any status) / contracts with ends_on in the period.'),
    ('repeat_purchase_rate', 'fraction', 'accounts with at least 2 orders in the 12 months before to',
     'accounts with at least 1 order in the 12 months before to',
     'Accounts with >= 2 sales orders with ordered_on in [to - 12 months, to) / accounts with >= 1 there.'),
    ('clv_mean', 'currency', 'sum of gross_margin of the orders with ordered_on < to of the active accounts',
     'active accounts',
     'Historical customer lifetime value: per account the gross margin of its orders before to; mean over the active accounts (those without orders count as 0).'),
    ('collection_rate', 'fraction', 'amount paid on or before due_on (an overpayment counts up to the amount)',
     'amount of the invoices with due_on in the period',
     'Over invoices with due_on in the period: sum of paid_amount of those paid on or before due_on (a partial payment counts for what was paid, at most the invoice amount) / sum of amount.'),
    ('a_tier_share', 'fraction', 'accounts whose effective tier is A',
     'accounts with an effective tier',
     'Accounts whose effective tier (tier_override, else tier) is A / accounts with an effective tier. Current state; the same in every period.'),
    ('a_tier_margin_share', 'fraction', 'gross margin of the orders in the period of A accounts',
     'gross margin of all orders in the period',
     'Gross margin of the orders with ordered_on in the period of accounts whose effective tier is A / gross margin of all orders in the period.'),
    ('service_coverage', 'fraction', 'active devices with a preventive work order resolved in the 12 months before to',
     'installed devices with status active',
     'Installed devices with status active that have a preventive work order resolved in [to - 12 months, to) / installed devices with status active.'),
    ('recall_closure_rate', 'fraction', 'recall actions done',
     'recall actions of the recalls opened in the period',
     'Over recall_action tasks (task.source_table = ''recall'', task.source_id = recall.id) of recalls opened in the period: done / all.'),
    ('recall_processing_hours_mean', 'hours', 'total hours from opened_at to the last action done, over completed recalls',
     'recalls opened in the period whose actions are all done',
     'Recall processing time: mean hours from recall.opened_at to the done_at of its last recall action, over the recalls opened in the period whose actions (in the group) are all done.'),
    ('task_timeliness', 'fraction', 'tasks done at or before due_at',
     'tasks with due_at in the period',
     'Tasks with due_at in the period that were done at or before due_at / tasks with due_at in the period (open and cancelled ones count as not timely).'),
    ('data_error_rate', 'fraction', 'accounts with at least one open data-quality finding',
     'accounts (not merged)',
     'Accounts with >= 1 row in medcrm.v_data_quality / accounts. Current state; the same in every period.'),
    ('a_visit_coverage', 'fraction', 'A accounts with a visit of channel visit started in the 30 days before to',
     'accounts whose effective tier is A',
     'Accounts whose effective tier is A with a visit of channel visit started in [to - 30 days, to) / accounts whose effective tier is A.')
  ) AS k(kpi, unit, numerator, denominator, definition)
  JOIN unnest(medcrm.kpi_keys()) WITH ORDINALITY AS x(kpi, ord) ON x.kpi = k.kpi;
COMMENT ON VIEW medcrm.v_kpi_definition IS
    'The KPI catalogue: one row per KPI key of kpi_summary() and v_kpi_monthly, with its unit and what numerator and denominator count.';
COMMENT ON COLUMN medcrm.v_kpi_definition.kpi IS 'KPI key, as in kpi_summary() and v_kpi_monthly.';
COMMENT ON COLUMN medcrm.v_kpi_definition.unit IS 'fraction (0 to 1), hours, days or currency.';
COMMENT ON COLUMN medcrm.v_kpi_definition.numerator IS 'What the numerator column counts or sums.';
COMMENT ON COLUMN medcrm.v_kpi_definition.denominator IS 'What the denominator column counts or sums.';
COMMENT ON COLUMN medcrm.v_kpi_definition.definition IS 'The exact definition (DOMAIN.md).';
COMMENT ON COLUMN medcrm.v_kpi_definition.sort_order IS 'Report order of the KPI.';

-- The bounds of the trailing 24 calendar months, the current month to date
-- included: the periods of v_kpi_monthly and v_kpi_monthly_by_kind.
CREATE FUNCTION medcrm.kpi_trailing_months() RETURNS date[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN ARRAY(SELECT (date_trunc('month', current_date) - make_interval(months => 23 - g))::date
               FROM generate_series(0, 24) AS g ORDER BY g);
COMMENT ON FUNCTION medcrm.kpi_trailing_months() IS
    'The 25 bounds of the trailing 24 calendar months (first days; the last is the first day of next month): the periods of v_kpi_monthly and v_kpi_monthly_by_kind.';

-- Every KPI per month for the trailing 24 months (the current month included,
-- up to today), one pass over the data (medcrm.kpi_series).
CREATE VIEW medcrm.v_kpi_monthly WITH (security_barrier) AS
SELECT s.period_from AS month, s.kpi, s.tier, s.region, s.numerator, s.denominator, s.value
  FROM medcrm.kpi_series(medcrm.kpi_trailing_months()) AS s;
COMMENT ON VIEW medcrm.v_kpi_monthly IS
    'Every KPI of kpi_summary() for each of the trailing 24 calendar months (the current month to date included): the same numbers as kpi_summary(month, month + 1 month).';
COMMENT ON COLUMN medcrm.v_kpi_monthly.month IS 'First day of the month; the period is [month, month + 1 month).';
COMMENT ON COLUMN medcrm.v_kpi_monthly.kpi IS 'KPI key (medcrm.v_kpi_definition).';
COMMENT ON COLUMN medcrm.v_kpi_monthly.tier IS 'Effective tier A-D or (none); NULL = all tiers (overall or by-region row).';
COMMENT ON COLUMN medcrm.v_kpi_monthly.region IS 'Region or (none); NULL = all regions (overall or by-tier row).';
COMMENT ON COLUMN medcrm.v_kpi_monthly.numerator IS 'Numerator (NULL for medians); sum it over rows to re-aggregate.';
COMMENT ON COLUMN medcrm.v_kpi_monthly.denominator IS 'Denominator (the count for medians); sum it over rows to re-aggregate.';
COMMENT ON COLUMN medcrm.v_kpi_monthly.value IS 'numerator / denominator (the median for medians); NULL when the denominator is 0.';

-- Every KPI per month and account kind, the same 24 months as v_kpi_monthly
-- (medcrm.kpi_series_by_kind: one more pass, with kind in the place of region).
CREATE VIEW medcrm.v_kpi_monthly_by_kind WITH (security_barrier) AS
SELECT s.period_from AS month, s.kpi, s.kind, s.numerator, s.denominator, s.value
  FROM medcrm.kpi_series_by_kind(medcrm.kpi_trailing_months()) AS s;
COMMENT ON VIEW medcrm.v_kpi_monthly_by_kind IS
    'Every KPI of kpi_summary_by_kind() for each of the trailing 24 calendar months (the current month to date included): the same numbers as kpi_summary_by_kind(month, month + 1 month); the kinds of an additive KPI add up to its overall row in v_kpi_monthly.';
COMMENT ON COLUMN medcrm.v_kpi_monthly_by_kind.month IS 'First day of the month; the period is [month, month + 1 month).';
COMMENT ON COLUMN medcrm.v_kpi_monthly_by_kind.kpi IS 'KPI key (medcrm.v_kpi_definition).';
COMMENT ON COLUMN medcrm.v_kpi_monthly_by_kind.kind IS 'Account kind: hospital, clinic, group, distributor or agent; (none) for rows without an account (tasks).';
COMMENT ON COLUMN medcrm.v_kpi_monthly_by_kind.numerator IS 'Numerator (NULL for medians); sum it over kinds to re-aggregate.';
COMMENT ON COLUMN medcrm.v_kpi_monthly_by_kind.denominator IS 'Denominator (the count for medians); sum it over kinds to re-aggregate.';
COMMENT ON COLUMN medcrm.v_kpi_monthly_by_kind.value IS 'numerator / denominator (the median for medians); NULL when the denominator is 0.';

-- One row per account with what BI needs to know about it.
-- The first day of the trailing 12 months that end today (today included):
-- the revenue and margin window of v_account_360, v_tier_distribution and
-- v_high_value_accounts. Inlined by the planner (plain SQL, no SET).
CREATE FUNCTION medcrm.trailing_12m_start() RETURNS date
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (current_date + 1 - interval '12 months')::date;
COMMENT ON FUNCTION medcrm.trailing_12m_start() IS
    'First day of the trailing 12 months ending today, today included: the revenue and margin window of the account views.';

CREATE VIEW medcrm.v_account_360 WITH (security_barrier) AS
SELECT a.id AS account_id, a.name, a.kind, a.parent_id, a.region, a.province, a.city,
       a.hospital_grade, a.procurement_mode, a.service_level, a.lifecycle_stage, a.tags,
       a.owner_role, a.tier AS computed_tier, a.tier_override,
       coalesce(a.tier_override, a.tier) AS effective_tier, a.tier_score, a.tiered_at,
       coalesce(dep.n, 0) AS departments,
       coalesce(con.n, 0) AS contacts,
       coalesce(dev.active, 0) AS active_devices,
       coalesce(dev.n, 0) AS installed_devices,
       coalesce(opp.n_open, 0) AS open_opportunities,
       coalesce(opp.open_amount, 0) AS open_opportunity_amount,
       coalesce(ord.n_12m, 0) AS orders_12m,
       coalesce(ord.amount_12m, 0) AS revenue_12m,
       coalesce(ord.margin_12m, 0) AS margin_12m,
       coalesce(ord.margin_all, 0) AS lifetime_margin,
       ord.last_ordered_on,
       coalesce(inv.outstanding, 0) AS outstanding_amount,
       coalesce(inv.overdue, 0) AS overdue_amount,
       inv.oldest_overdue_due_on,
       coalesce(ctr.n_active, 0) AS active_contracts,
       ctr.next_end_on AS next_contract_end_on,
       coalesce(wo.n_open, 0) AS open_work_orders,
       vis.last_visit_at,
       coalesce(tsk.n_open, 0) AS open_tasks,
       coalesce(tsk.n_overdue, 0) AS overdue_tasks,
       coalesce(cmp.n_open, 0) AS open_complaints,
       a.created_at, a.updated_at
  FROM medcrm.account AS a
  LEFT JOIN (SELECT d.account_id, count(*) AS n FROM medcrm.department AS d GROUP BY d.account_id) AS dep
         ON dep.account_id = a.id
  LEFT JOIN (SELECT c.account_id, count(*) AS n FROM medcrm.contact AS c GROUP BY c.account_id) AS con
         ON con.account_id = a.id
  LEFT JOIN (SELECT d.account_id, count(*) AS n, count(*) FILTER (WHERE d.status = 'active') AS active
               FROM medcrm.installed_device AS d GROUP BY d.account_id) AS dev
         ON dev.account_id = a.id
  LEFT JOIN (SELECT o.account_id, count(*) FILTER (WHERE o.stage NOT IN ('won', 'lost')) AS n_open,
                    sum(o.amount) FILTER (WHERE o.stage NOT IN ('won', 'lost')) AS open_amount
               FROM medcrm.opportunity AS o GROUP BY o.account_id) AS opp
         ON opp.account_id = a.id
  LEFT JOIN (SELECT s.account_id,
                    count(*) FILTER (WHERE s.ordered_on >= medcrm.trailing_12m_start()
                                       AND s.ordered_on <= current_date) AS n_12m,
                    sum(s.amount) FILTER (WHERE s.ordered_on >= medcrm.trailing_12m_start()
                                            AND s.ordered_on <= current_date) AS amount_12m,
                    sum(s.gross_margin) FILTER (WHERE s.ordered_on >= medcrm.trailing_12m_start()
                                                  AND s.ordered_on <= current_date) AS margin_12m,
                    sum(s.gross_margin) FILTER (WHERE s.ordered_on <= current_date) AS margin_all,
                    max(s.ordered_on) AS last_ordered_on
               FROM medcrm.sales_order AS s GROUP BY s.account_id) AS ord
         ON ord.account_id = a.id
  LEFT JOIN (SELECT i.account_id,
                    sum(greatest(i.amount - i.paid_amount, 0)) AS outstanding,
                    sum(greatest(i.amount - i.paid_amount, 0)) FILTER (WHERE i.due_on < current_date) AS overdue,
                    min(i.due_on) FILTER (WHERE i.due_on < current_date AND i.paid_amount < i.amount) AS oldest_overdue_due_on
               FROM medcrm.invoice AS i WHERE i.paid_amount < i.amount GROUP BY i.account_id) AS inv
         ON inv.account_id = a.id
  LEFT JOIN (SELECT c.account_id, count(*) FILTER (WHERE c.status = 'active') AS n_active,
                    min(c.ends_on) FILTER (WHERE c.status = 'active' AND c.ends_on >= current_date) AS next_end_on
               FROM medcrm.contract AS c GROUP BY c.account_id) AS ctr
         ON ctr.account_id = a.id
  LEFT JOIN (SELECT w.account_id, count(*) AS n_open FROM medcrm.work_order AS w
              WHERE w.status IN ('open', 'assigned', 'in_progress') GROUP BY w.account_id) AS wo
         ON wo.account_id = a.id
  LEFT JOIN (SELECT v.account_id, max(v.started_at) AS last_visit_at FROM medcrm.visit AS v
              GROUP BY v.account_id) AS vis
         ON vis.account_id = a.id
  LEFT JOIN (SELECT t.account_id, count(*) AS n_open, count(*) FILTER (WHERE t.due_at < now()) AS n_overdue
               FROM medcrm.task AS t WHERE t.status = 'open' GROUP BY t.account_id) AS tsk
         ON tsk.account_id = a.id
  LEFT JOIN (SELECT c.account_id, count(*) AS n_open FROM medcrm.complaint AS c
              WHERE c.closed_at IS NULL GROUP BY c.account_id) AS cmp
         ON cmp.account_id = a.id
 WHERE a.merged_into IS NULL;
COMMENT ON VIEW medcrm.v_account_360 IS
    'One row per account (merged duplicates left out): master data, effective tier, installed base, pipeline, trailing-12-month orders, receivables, contracts, service and open work. No personal data.';
COMMENT ON COLUMN medcrm.v_account_360.account_id IS 'Account id.';
COMMENT ON COLUMN medcrm.v_account_360.name IS 'Account name.';
COMMENT ON COLUMN medcrm.v_account_360.kind IS 'hospital, clinic, group, distributor or agent.';
COMMENT ON COLUMN medcrm.v_account_360.parent_id IS 'Parent account (hospital group).';
COMMENT ON COLUMN medcrm.v_account_360.region IS 'Sales region.';
COMMENT ON COLUMN medcrm.v_account_360.province IS 'Province.';
COMMENT ON COLUMN medcrm.v_account_360.city IS 'City.';
COMMENT ON COLUMN medcrm.v_account_360.hospital_grade IS 'Hospital grade (3A ... 1), NULL for non-hospitals.';
COMMENT ON COLUMN medcrm.v_account_360.procurement_mode IS 'tender, direct, group_purchase or distributor.';
COMMENT ON COLUMN medcrm.v_account_360.service_level IS 'SLA class: platinum, gold, silver or standard.';
COMMENT ON COLUMN medcrm.v_account_360.lifecycle_stage IS 'prospect, active, at_risk or churned.';
COMMENT ON COLUMN medcrm.v_account_360.tags IS 'Device preference and other tags.';
COMMENT ON COLUMN medcrm.v_account_360.owner_role IS 'Role of the owning account manager.';
COMMENT ON COLUMN medcrm.v_account_360.computed_tier IS 'Tier computed by the active tier model (NULL until scored).';
COMMENT ON COLUMN medcrm.v_account_360.tier_override IS 'Manual tier override, if any.';
COMMENT ON COLUMN medcrm.v_account_360.effective_tier IS 'tier_override when set, else the computed tier: the tier every KPI uses.';
COMMENT ON COLUMN medcrm.v_account_360.tier_score IS 'Score 0-100 behind the computed tier.';
COMMENT ON COLUMN medcrm.v_account_360.tiered_at IS 'When the account was last tiered.';
COMMENT ON COLUMN medcrm.v_account_360.departments IS 'Number of departments.';
COMMENT ON COLUMN medcrm.v_account_360.contacts IS 'Number of contacts (their personal data is not in this view).';
COMMENT ON COLUMN medcrm.v_account_360.active_devices IS 'Installed devices with status active.';
COMMENT ON COLUMN medcrm.v_account_360.installed_devices IS 'Installed devices in any status.';
COMMENT ON COLUMN medcrm.v_account_360.open_opportunities IS 'Opportunities not yet won or lost.';
COMMENT ON COLUMN medcrm.v_account_360.open_opportunity_amount IS 'Amount of the open opportunities.';
COMMENT ON COLUMN medcrm.v_account_360.orders_12m IS 'Sales orders in the trailing 12 months (up to today).';
COMMENT ON COLUMN medcrm.v_account_360.revenue_12m IS 'Order amount in the trailing 12 months.';
COMMENT ON COLUMN medcrm.v_account_360.margin_12m IS 'Gross margin in the trailing 12 months.';
COMMENT ON COLUMN medcrm.v_account_360.lifetime_margin IS 'Gross margin of all orders up to today (historical CLV of the account).';
COMMENT ON COLUMN medcrm.v_account_360.last_ordered_on IS 'Date of the last order.';
COMMENT ON COLUMN medcrm.v_account_360.outstanding_amount IS 'Invoiced amount not paid yet.';
COMMENT ON COLUMN medcrm.v_account_360.overdue_amount IS 'Unpaid amount of invoices past their due date.';
COMMENT ON COLUMN medcrm.v_account_360.oldest_overdue_due_on IS 'Due date of the oldest invoice still not fully paid after its due date.';
COMMENT ON COLUMN medcrm.v_account_360.active_contracts IS 'Contracts with status active.';
COMMENT ON COLUMN medcrm.v_account_360.next_contract_end_on IS 'Next end date (today or later) of an active contract.';
COMMENT ON COLUMN medcrm.v_account_360.open_work_orders IS 'Work orders open, assigned or in progress.';
COMMENT ON COLUMN medcrm.v_account_360.last_visit_at IS 'Start of the last visit row (any channel).';
COMMENT ON COLUMN medcrm.v_account_360.open_tasks IS 'Open tasks.';
COMMENT ON COLUMN medcrm.v_account_360.overdue_tasks IS 'Open tasks past their due_at.';
COMMENT ON COLUMN medcrm.v_account_360.open_complaints IS 'Complaints not closed.';
COMMENT ON COLUMN medcrm.v_account_360.created_at IS 'When the account was created.';
COMMENT ON COLUMN medcrm.v_account_360.updated_at IS 'When the account was last updated.';

-- Accounts per effective tier, region and kind.
CREATE VIEW medcrm.v_tier_distribution WITH (security_barrier) AS
SELECT x.tier, x.region, x.kind, x.accounts, x.active_accounts, x.overridden_accounts,
       x.revenue_12m, x.margin_12m,
       x.accounts::numeric / sum(x.accounts) OVER () AS account_share,
       CASE WHEN sum(x.margin_12m) OVER () <> 0 THEN x.margin_12m / sum(x.margin_12m) OVER () END AS margin_share_12m
  FROM (SELECT coalesce(a.tier_override, a.tier, '(none)') AS tier,
               coalesce(a.region, '(none)') AS region, a.kind,
               count(*) AS accounts,
               count(*) FILTER (WHERE a.lifecycle_stage IN ('active', 'at_risk')) AS active_accounts,
               count(*) FILTER (WHERE a.tier_override IS NOT NULL) AS overridden_accounts,
               coalesce(sum(o.amount), 0) AS revenue_12m,
               coalesce(sum(o.margin), 0) AS margin_12m
          FROM medcrm.account AS a
          LEFT JOIN (SELECT s.account_id, sum(s.amount) AS amount, sum(s.gross_margin) AS margin
                       FROM medcrm.sales_order AS s
                      WHERE s.ordered_on >= medcrm.trailing_12m_start()
                        AND s.ordered_on <= current_date
                      GROUP BY s.account_id) AS o ON o.account_id = a.id
         WHERE a.merged_into IS NULL
         GROUP BY 1, 2, 3) AS x;
COMMENT ON VIEW medcrm.v_tier_distribution IS
    'Accounts (merged duplicates left out) per effective tier, region and kind, with their trailing-12-month revenue and margin and the shares of the whole.';
COMMENT ON COLUMN medcrm.v_tier_distribution.tier IS 'Effective tier A-D, or (none) when not tiered yet.';
COMMENT ON COLUMN medcrm.v_tier_distribution.region IS 'Region, or (none).';
COMMENT ON COLUMN medcrm.v_tier_distribution.kind IS 'Account kind.';
COMMENT ON COLUMN medcrm.v_tier_distribution.accounts IS 'Number of accounts.';
COMMENT ON COLUMN medcrm.v_tier_distribution.active_accounts IS 'Accounts in lifecycle active or at_risk.';
COMMENT ON COLUMN medcrm.v_tier_distribution.overridden_accounts IS 'Accounts whose tier is set by a manual override.';
COMMENT ON COLUMN medcrm.v_tier_distribution.revenue_12m IS 'Order amount in the trailing 12 months.';
COMMENT ON COLUMN medcrm.v_tier_distribution.margin_12m IS 'Gross margin in the trailing 12 months.';
COMMENT ON COLUMN medcrm.v_tier_distribution.account_share IS 'accounts / all accounts (0 to 1).';
COMMENT ON COLUMN medcrm.v_tier_distribution.margin_share_12m IS 'margin_12m / the margin of all accounts (NULL when that is 0).';

-- High-value accounts: effective tier A, or top decile of trailing-12-month margin.
CREATE VIEW medcrm.v_high_value_accounts WITH (security_barrier) AS
SELECT r.account_id, r.name, r.kind, r.region, r.effective_tier, r.owner_role,
       r.revenue_12m, r.margin_12m, r.margin_rank,
       array_remove(ARRAY[CASE WHEN r.effective_tier = 'A' THEN 'tier_a' END,
                          CASE WHEN r.top_decile THEN 'top_decile_margin_12m' END], NULL) AS reasons
  FROM (SELECT a.id AS account_id, a.name, a.kind, a.region, a.owner_role,
               coalesce(a.tier_override, a.tier) AS effective_tier,
               coalesce(o.amount, 0) AS revenue_12m, coalesce(o.margin, 0) AS margin_12m,
               rank() OVER (ORDER BY coalesce(o.margin, 0) DESC) AS margin_rank,
               coalesce(o.margin, 0) > 0
                 AND cume_dist() OVER (ORDER BY coalesce(o.margin, 0) DESC) <= 0.1 AS top_decile
          FROM medcrm.account AS a
          LEFT JOIN (SELECT s.account_id, sum(s.amount) AS amount, sum(s.gross_margin) AS margin
                       FROM medcrm.sales_order AS s
                      WHERE s.ordered_on >= medcrm.trailing_12m_start()
                        AND s.ordered_on <= current_date
                      GROUP BY s.account_id) AS o ON o.account_id = a.id
         WHERE a.merged_into IS NULL) AS r
 WHERE r.effective_tier = 'A' OR r.top_decile;
COMMENT ON VIEW medcrm.v_high_value_accounts IS
    'High-value accounts (DOMAIN.md): effective tier A, or in the top decile of trailing-12-month gross margin (positive margin, and at most 10 % of the accounts have a margin at least as high).';
COMMENT ON COLUMN medcrm.v_high_value_accounts.account_id IS 'Account id.';
COMMENT ON COLUMN medcrm.v_high_value_accounts.name IS 'Account name.';
COMMENT ON COLUMN medcrm.v_high_value_accounts.kind IS 'Account kind.';
COMMENT ON COLUMN medcrm.v_high_value_accounts.region IS 'Region.';
COMMENT ON COLUMN medcrm.v_high_value_accounts.effective_tier IS 'tier_override, else the computed tier.';
COMMENT ON COLUMN medcrm.v_high_value_accounts.owner_role IS 'Role of the owning account manager.';
COMMENT ON COLUMN medcrm.v_high_value_accounts.revenue_12m IS 'Order amount in the trailing 12 months.';
COMMENT ON COLUMN medcrm.v_high_value_accounts.margin_12m IS 'Gross margin in the trailing 12 months.';
COMMENT ON COLUMN medcrm.v_high_value_accounts.margin_rank IS 'Rank by margin_12m among all accounts (1 = highest; ties share a rank).';
COMMENT ON COLUMN medcrm.v_high_value_accounts.reasons IS 'Why the account is high-value: tier_a and/or top_decile_margin_12m.';

-- High-risk accounts: one row per account with every risk reason that applies.
CREATE VIEW medcrm.v_high_risk_accounts WITH (security_barrier) AS
WITH renewal_due AS (
    -- active contracts ending within 60 days with no renewal activity: no
    -- successor contract (any status) and no renewal task done for it
    SELECT c.account_id, count(*) AS n, min(c.ends_on) AS first_end
      FROM medcrm.contract AS c
     WHERE c.status = 'active'
       AND c.ends_on >= current_date AND c.ends_on <= current_date + 60
       AND NOT EXISTS (SELECT FROM medcrm.contract AS s WHERE s.renewed_from = c.id)
       AND NOT EXISTS (SELECT FROM medcrm.task AS t
                        WHERE t.source_table = 'contract' AND t.source_id = c.id
                          AND t.kind IN ('renewal', 'renewal_escalation') AND t.status = 'done')
     GROUP BY c.account_id
), late_payment AS (
    -- invoices not fully paid more than 60 days after their due date
    SELECT i.account_id, count(*) AS n, sum(i.amount - i.paid_amount) AS amount
      FROM medcrm.invoice AS i
     WHERE i.paid_amount < i.amount AND i.due_on < current_date - 60
     GROUP BY i.account_id
), sla_missed AS (
    -- work orders reported in the last 90 days that missed their SLA (judged now)
    SELECT w.account_id, count(*) AS n
      FROM medcrm.work_order AS w
     WHERE w.reported_at >= (current_date - 90)::timestamptz
       AND (coalesce(w.first_response_at > w.response_due_at, false)
            OR coalesce(w.resolved_at > w.resolve_due_at, false)
            OR (w.first_response_at IS NULL AND coalesce(w.response_due_at < now(), false))
            OR (w.resolved_at IS NULL AND coalesce(w.resolve_due_at < now(), false)))
     GROUP BY w.account_id
), class_i AS (
    -- open recall actions of class I recalls
    SELECT t.account_id, count(*) AS n
      FROM medcrm.task AS t
      JOIN medcrm.recall AS r ON t.source_table = 'recall' AND r.id = t.source_id
     WHERE t.kind = 'recall_action' AND t.status = 'open' AND r.class = 'I'
     GROUP BY t.account_id
), tier_drop AS (
    -- effective tier went down (A > B > C > D) in the last 3 months
    SELECT h.account_id, max(h.changed_at) AS last_drop_at
      FROM medcrm.tier_history AS h
     WHERE h.changed_at >= (current_date - interval '3 months')::date::timestamptz
       AND h.old_tier IS NOT NULL AND h.new_tier IS NOT NULL AND h.new_tier > h.old_tier
     GROUP BY h.account_id
)
SELECT a.id AS account_id, a.name, a.kind, a.region,
       coalesce(a.tier_override, a.tier) AS effective_tier, a.owner_role, a.lifecycle_stage,
       array_remove(ARRAY[
           CASE WHEN rd.n > 0 THEN 'renewal_due_no_activity' END,
           CASE WHEN lp.n > 0 THEN 'payment_over_60_days_late' END,
           CASE WHEN sm.n >= 2 THEN 'sla_missed_twice_in_90_days' END,
           CASE WHEN ci.n > 0 THEN 'open_class_i_recall_action' END,
           CASE WHEN td.last_drop_at IS NOT NULL THEN 'tier_dropped_last_quarter' END], NULL) AS reasons,
       coalesce(rd.n, 0) AS contracts_due_unrenewed, rd.first_end AS first_contract_end_on,
       coalesce(lp.n, 0) AS invoices_over_60_days_late, coalesce(lp.amount, 0) AS amount_over_60_days_late,
       coalesce(sm.n, 0) AS sla_misses_90_days,
       coalesce(ci.n, 0) AS open_class_i_recall_actions,
       td.last_drop_at AS tier_dropped_at
  FROM medcrm.account AS a
  LEFT JOIN renewal_due AS rd ON rd.account_id = a.id
  LEFT JOIN late_payment AS lp ON lp.account_id = a.id
  LEFT JOIN sla_missed AS sm ON sm.account_id = a.id
  LEFT JOIN class_i AS ci ON ci.account_id = a.id
  LEFT JOIN tier_drop AS td ON td.account_id = a.id
 WHERE a.merged_into IS NULL
   AND (rd.n > 0 OR lp.n > 0 OR sm.n >= 2 OR ci.n > 0 OR td.last_drop_at IS NOT NULL);
COMMENT ON VIEW medcrm.v_high_risk_accounts IS
    'High-risk accounts (DOMAIN.md), one row per account with every reason that applies: renewal due in <= 60 days with no renewal activity, payment > 60 days late, SLA missed twice in 90 days, open class I recall action, tier dropped in the last quarter.';
COMMENT ON COLUMN medcrm.v_high_risk_accounts.account_id IS 'Account id.';
COMMENT ON COLUMN medcrm.v_high_risk_accounts.name IS 'Account name.';
COMMENT ON COLUMN medcrm.v_high_risk_accounts.kind IS 'Account kind.';
COMMENT ON COLUMN medcrm.v_high_risk_accounts.region IS 'Region.';
COMMENT ON COLUMN medcrm.v_high_risk_accounts.effective_tier IS 'tier_override, else the computed tier.';
COMMENT ON COLUMN medcrm.v_high_risk_accounts.owner_role IS 'Role of the owning account manager.';
COMMENT ON COLUMN medcrm.v_high_risk_accounts.lifecycle_stage IS 'prospect, active, at_risk or churned.';
COMMENT ON COLUMN medcrm.v_high_risk_accounts.reasons IS 'Risk reasons, in this order: renewal_due_no_activity, payment_over_60_days_late, sla_missed_twice_in_90_days, open_class_i_recall_action, tier_dropped_last_quarter.';
COMMENT ON COLUMN medcrm.v_high_risk_accounts.contracts_due_unrenewed IS 'Active contracts ending today or within 60 days without a successor contract or a done renewal task.';
COMMENT ON COLUMN medcrm.v_high_risk_accounts.first_contract_end_on IS 'Earliest end date among those contracts.';
COMMENT ON COLUMN medcrm.v_high_risk_accounts.invoices_over_60_days_late IS 'Invoices not fully paid more than 60 days after due_on.';
COMMENT ON COLUMN medcrm.v_high_risk_accounts.amount_over_60_days_late IS 'Unpaid amount of those invoices.';
COMMENT ON COLUMN medcrm.v_high_risk_accounts.sla_misses_90_days IS 'Work orders reported in the last 90 days that missed their SLA (late, or overdue now); a reason from 2.';
COMMENT ON COLUMN medcrm.v_high_risk_accounts.open_class_i_recall_actions IS 'Open recall_action tasks of class I recalls.';
COMMENT ON COLUMN medcrm.v_high_risk_accounts.tier_dropped_at IS 'Last tier drop (e.g. A to B) recorded in tier_history in the last 3 months.';

-- Open tasks with their account.
CREATE VIEW medcrm.v_open_tasks WITH (security_barrier) AS
SELECT t.id AS task_id, t.kind, t.title, t.priority, t.due_at,
       t.due_at < now() AS overdue,
       CASE WHEN t.due_at < now() THEN (current_date - t.due_at::date) END AS days_overdue,
       t.assignee_role, t.account_id, a.name AS account_name, a.region,
       coalesce(a.tier_override, a.tier) AS effective_tier,
       t.source_table, t.source_id, t.rule_id, t.created_at
  FROM medcrm.task AS t
  LEFT JOIN medcrm.account AS a ON a.id = t.account_id
 WHERE t.status = 'open'
   AND a.merged_into IS NULL;
COMMENT ON VIEW medcrm.v_open_tasks IS 'Open tasks (tasks of merged accounts left out), with their account, due date and overdue state.';
COMMENT ON COLUMN medcrm.v_open_tasks.task_id IS 'Task id.';
COMMENT ON COLUMN medcrm.v_open_tasks.kind IS 'follow_up, renewal, dispatch, recall_action, ...';
COMMENT ON COLUMN medcrm.v_open_tasks.title IS 'Task title.';
COMMENT ON COLUMN medcrm.v_open_tasks.priority IS 'Priority 1 (most urgent) to 4.';
COMMENT ON COLUMN medcrm.v_open_tasks.due_at IS 'When the task is due (NULL = no deadline).';
COMMENT ON COLUMN medcrm.v_open_tasks.overdue IS 'true when due_at has passed.';
COMMENT ON COLUMN medcrm.v_open_tasks.days_overdue IS 'Days since the due date (today in the session TimeZone), NULL when not overdue.';
COMMENT ON COLUMN medcrm.v_open_tasks.assignee_role IS 'Role the task is assigned to.';
COMMENT ON COLUMN medcrm.v_open_tasks.account_id IS 'Account of the task (NULL for tasks without an account).';
COMMENT ON COLUMN medcrm.v_open_tasks.account_name IS 'Account name.';
COMMENT ON COLUMN medcrm.v_open_tasks.region IS 'Region of the account.';
COMMENT ON COLUMN medcrm.v_open_tasks.effective_tier IS 'Effective tier of the account.';
COMMENT ON COLUMN medcrm.v_open_tasks.source_table IS 'Table of the row that caused the task (recall, contract, work_order, ...).';
COMMENT ON COLUMN medcrm.v_open_tasks.source_id IS 'id of that row.';
COMMENT ON COLUMN medcrm.v_open_tasks.rule_id IS 'Rule that created the task (NULL for manual tasks).';
COMMENT ON COLUMN medcrm.v_open_tasks.created_at IS 'When the task was created.';

-- Recall progress: affected devices and actions per recall.
CREATE VIEW medcrm.v_recall_progress WITH (security_barrier) AS
SELECT r.id AS recall_id, p.model_code, p.name AS product_name, r.class, r.status, r.reason,
       r.batch_nos, r.serial_nos, r.opened_at, r.closed_at,
       coalesce(dv.n, 0) AS affected_devices,
       coalesce(ac.n, 0) AS actions,
       coalesce(ac.n_done, 0) AS actions_done,
       coalesce(ac.n_open, 0) AS actions_open,
       coalesce(ac.n_cancelled, 0) AS actions_cancelled,
       coalesce(ac.n_overdue, 0) AS actions_overdue,
       CASE WHEN ac.n > 0 THEN ac.n_done::numeric / ac.n END AS closure_rate,
       ac.last_done_at,
       CASE WHEN ac.n > 0 AND ac.n_done = ac.n
            THEN extract(epoch FROM ac.last_done_at - r.opened_at) / 3600 END AS processing_hours
  FROM medcrm.recall AS r
  JOIN medcrm.product AS p ON p.id = r.product_id
  LEFT JOIN LATERAL (
        SELECT count(*) AS n
          FROM medcrm.installed_device AS d
          JOIN medcrm.account AS a ON a.id = d.account_id
         WHERE d.product_id = r.product_id AND d.batch_no = ANY (r.batch_nos)
           AND (r.serial_nos IS NULL OR d.serial_no = ANY (r.serial_nos))
           AND a.merged_into IS NULL) AS dv ON true
  LEFT JOIN LATERAL (
        SELECT count(*) AS n,
               count(*) FILTER (WHERE t.status = 'done') AS n_done,
               count(*) FILTER (WHERE t.status = 'open') AS n_open,
               count(*) FILTER (WHERE t.status = 'cancelled') AS n_cancelled,
               count(*) FILTER (WHERE t.status = 'open' AND t.due_at < now()) AS n_overdue,
               max(t.done_at) AS last_done_at
          FROM medcrm.task AS t
          LEFT JOIN medcrm.account AS a ON a.id = t.account_id
         WHERE t.kind = 'recall_action' AND t.source_table = 'recall' AND t.source_id = r.id
           AND a.merged_into IS NULL) AS ac ON true;
COMMENT ON VIEW medcrm.v_recall_progress IS
    'One row per recall: affected installed devices and the progress of its recall_action tasks (linked by task.source_table = ''recall'' and task.source_id = recall.id) to closure.';
COMMENT ON COLUMN medcrm.v_recall_progress.recall_id IS 'Recall id.';
COMMENT ON COLUMN medcrm.v_recall_progress.model_code IS 'Model code of the recalled product.';
COMMENT ON COLUMN medcrm.v_recall_progress.product_name IS 'Name of the recalled product.';
COMMENT ON COLUMN medcrm.v_recall_progress.class IS 'Recall class I, II or III (I = most serious).';
COMMENT ON COLUMN medcrm.v_recall_progress.status IS 'open or closed.';
COMMENT ON COLUMN medcrm.v_recall_progress.reason IS 'Reason of the recall.';
COMMENT ON COLUMN medcrm.v_recall_progress.batch_nos IS 'Recalled batch (lot) numbers.';
COMMENT ON COLUMN medcrm.v_recall_progress.serial_nos IS 'Recalled serial numbers when the recall is narrower than the batches (NULL = whole batches).';
COMMENT ON COLUMN medcrm.v_recall_progress.opened_at IS 'When the recall was opened.';
COMMENT ON COLUMN medcrm.v_recall_progress.closed_at IS 'When the recall was closed.';
COMMENT ON COLUMN medcrm.v_recall_progress.affected_devices IS 'Installed devices of the product in the recalled batches (and serials), any status, of accounts not merged.';
COMMENT ON COLUMN medcrm.v_recall_progress.actions IS 'recall_action tasks of the recall.';
COMMENT ON COLUMN medcrm.v_recall_progress.actions_done IS 'Of them done.';
COMMENT ON COLUMN medcrm.v_recall_progress.actions_open IS 'Of them open.';
COMMENT ON COLUMN medcrm.v_recall_progress.actions_cancelled IS 'Of them cancelled.';
COMMENT ON COLUMN medcrm.v_recall_progress.actions_overdue IS 'Open actions past their due_at.';
COMMENT ON COLUMN medcrm.v_recall_progress.closure_rate IS 'actions_done / actions (NULL without actions): the recall closure rate of this recall.';
COMMENT ON COLUMN medcrm.v_recall_progress.last_done_at IS 'When the last action was done.';
COMMENT ON COLUMN medcrm.v_recall_progress.processing_hours IS 'Recall processing time: hours from opened_at to the last action done, once every action is done (NULL before).';

-- Certificates and product registrations by expiry.
CREATE VIEW medcrm.v_certificate_expiry WITH (security_barrier) AS
SELECT x.source, x.certificate_id, x.kind, x.number, x.account_id, x.account_name,
       x.product_id, x.model_code, x.valid_from, x.valid_to,
       x.valid_to - current_date AS days_to_expiry,
       CASE WHEN x.valid_to < current_date THEN 'expired'
            WHEN x.valid_to <= current_date + 30 THEN 'expires_within_30_days'
            WHEN x.valid_to <= current_date + 90 THEN 'expires_within_90_days'
            ELSE 'valid' END AS expiry_status
  FROM (SELECT 'certificate'::text AS source, c.id AS certificate_id, c.kind, c.number,
               c.account_id, a.name AS account_name, c.product_id, p.model_code,
               c.valid_from, c.valid_to
          FROM medcrm.certificate AS c
          LEFT JOIN medcrm.account AS a ON a.id = c.account_id
          LEFT JOIN medcrm.product AS p ON p.id = c.product_id
         WHERE a.merged_into IS NULL
        UNION ALL
        -- product registrations recorded only on the product row
        SELECT 'product', NULL, 'product_registration', p.registration_no, NULL, NULL,
               p.id, p.model_code, NULL, p.registration_expires
          FROM medcrm.product AS p
         WHERE p.registration_expires IS NOT NULL
           AND NOT EXISTS (SELECT FROM medcrm.certificate AS c
                            WHERE c.product_id = p.id AND c.kind = 'product_registration')) AS x;
COMMENT ON VIEW medcrm.v_certificate_expiry IS
    'Every certificate (product registration, distributor licence and authorization) and every product registration recorded only on the product, with days to expiry and an expiry status.';
COMMENT ON COLUMN medcrm.v_certificate_expiry.source IS 'certificate (a certificate row) or product (product.registration_expires without a certificate row).';
COMMENT ON COLUMN medcrm.v_certificate_expiry.certificate_id IS 'Certificate id (NULL for source product).';
COMMENT ON COLUMN medcrm.v_certificate_expiry.kind IS 'product_registration, distributor_license or distributor_authorization.';
COMMENT ON COLUMN medcrm.v_certificate_expiry.number IS 'Certificate or registration number.';
COMMENT ON COLUMN medcrm.v_certificate_expiry.account_id IS 'Holding account (distributor), if any.';
COMMENT ON COLUMN medcrm.v_certificate_expiry.account_name IS 'Name of the holding account.';
COMMENT ON COLUMN medcrm.v_certificate_expiry.product_id IS 'Product concerned, if any.';
COMMENT ON COLUMN medcrm.v_certificate_expiry.model_code IS 'Model code of the product.';
COMMENT ON COLUMN medcrm.v_certificate_expiry.valid_from IS 'Start of validity.';
COMMENT ON COLUMN medcrm.v_certificate_expiry.valid_to IS 'Last day of validity.';
COMMENT ON COLUMN medcrm.v_certificate_expiry.days_to_expiry IS 'valid_to - today (negative when expired).';
COMMENT ON COLUMN medcrm.v_certificate_expiry.expiry_status IS 'expired, expires_within_30_days, expires_within_90_days or valid.';

-- Access: definer-rights views for the reporting roles only.
DO $grants$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['v_kpi_definition', 'v_kpi_monthly', 'v_kpi_monthly_by_kind', 'v_account_360',
                             'v_tier_distribution', 'v_high_value_accounts',
                             'v_high_risk_accounts', 'v_open_tasks', 'v_recall_progress',
                             'v_certificate_expiry']
    LOOP
        EXECUTE pg_catalog.format('ALTER VIEW medcrm.%I SET (security_invoker = false)', v);
        EXECUTE pg_catalog.format('REVOKE ALL ON medcrm.%I FROM PUBLIC', v);
        EXECUTE pg_catalog.format(
            'GRANT SELECT ON medcrm.%I TO medcrm_bi, medcrm_reporter, medcrm_admin, medcrm_auditor', v);
    END LOOP;
END
$grants$;
