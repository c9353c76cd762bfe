-- sql/src/20_scoring.sql — tier scoring: the factors of every account, the
-- C functions that score, explain and re-tier accounts under a versioned
-- model, the tier history trail, and the default model.
--
-- The model format and every factor are documented in docs/tiering.md.

-- ---------------------------------------------------------------------------
-- Factors
--
-- One row per non-merged account, as of a date. Written as a single SELECT so
-- that the planner inlines it: a caller filtering on account_id gets an
-- index-driven plan for that account, rescore() streams the whole
-- aggregation. Everything is schema-qualified (operators included) because an
-- inlined function is parsed with the caller's search_path.
-- ---------------------------------------------------------------------------
CREATE FUNCTION medcrm.account_factors(as_of date DEFAULT CURRENT_DATE)
RETURNS TABLE (
    account_id          bigint,
    purchase_value_12m  double precision,
    gross_margin_12m    double precision,
    order_count_12m     bigint,
    order_months_12m    bigint,
    service_cost_12m    double precision,
    service_hours_12m   double precision,
    days_late_mean      double precision,
    on_time_share       double precision,
    overdue_amount      double precision,
    installed_base      bigint,
    grade_points        double precision,
    growth              double precision,
    compliance_issues   bigint,
    coverage            bigint,
    response_hours_mean double precision,
    kind                text,
    region              text,
    province            text,
    city                text,
    hospital_grade      text,
    procurement_mode    text,
    service_level       text,
    lifecycle_stage     text
)
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
SELECT a.id,
       pg_catalog.float8(COALESCE(o.pv, 0::pg_catalog.numeric)),
       pg_catalog.float8(COALESCE(o.gm, 0::pg_catalog.numeric)),
       COALESCE(o.n, 0::pg_catalog.int8),
       COALESCE(o.months, 0::pg_catalog.int8),
       pg_catalog.float8(COALESCE(w.cost, 0::pg_catalog.numeric)),
       pg_catalog.float8(COALESCE(w.hours, 0::pg_catalog.numeric)),
       i.days_late_mean,
       i.on_time_share,
       pg_catalog.float8(COALESCE(i.overdue, 0::pg_catalog.numeric)),
       COALESCE(d.n, 0::pg_catalog.int8),
       CASE a.hospital_grade
           WHEN '3A' THEN 100::pg_catalog.float8 WHEN '3B' THEN 90::pg_catalog.float8
           WHEN '3C' THEN 80::pg_catalog.float8 WHEN '2A' THEN 65::pg_catalog.float8
           WHEN '2B' THEN 55::pg_catalog.float8 WHEN '2C' THEN 45::pg_catalog.float8
           WHEN '1' THEN 25::pg_catalog.float8
       END,
       CASE WHEN o.pv_prev OPERATOR(pg_catalog.>) 0::pg_catalog.numeric
            THEN pg_catalog.float8((COALESCE(o.pv, 0::pg_catalog.numeric) OPERATOR(pg_catalog.-) o.pv_prev)
                                   OPERATOR(pg_catalog./) o.pv_prev)
       END,
       COALESCE(c.n, 0::pg_catalog.int8) OPERATOR(pg_catalog.+) COALESCE(t.n, 0::pg_catalog.int8)
           OPERATOR(pg_catalog.+) COALESCE(ce.expired, 0::pg_catalog.int8),
       CASE WHEN a.kind OPERATOR(pg_catalog.=) ANY ('{distributor,agent}'::pg_catalog.text[])
            THEN COALESCE(ce.authorizations, 0::pg_catalog.int8) END,
       CASE WHEN a.kind OPERATOR(pg_catalog.=) ANY ('{distributor,agent}'::pg_catalog.text[])
            THEN w.response_hours END,
       -- segment columns last: scoring reads them only for adjustments
       a.kind, a.region, a.province, a.city, a.hospital_grade, a.procurement_mode,
       a.service_level, a.lifecycle_stage
  FROM medcrm.account AS a
  -- orders: the 12 months before as_of, and the 12 before those (growth);
  -- first per account and month, so that months with an order are a count
  LEFT JOIN (
        SELECT m.account_id,
               pg_catalog.sum(m.pv) FILTER (WHERE m.recent) AS pv,
               pg_catalog.sum(m.gm) FILTER (WHERE m.recent) AS gm,
               pg_catalog.sum(m.n) FILTER (WHERE m.recent) AS n,
               pg_catalog.count(*) FILTER (WHERE m.recent) AS months,
               pg_catalog.sum(m.pv) FILTER (WHERE NOT m.recent) AS pv_prev
          FROM (SELECT s.account_id,
                       pg_catalog.date_trunc('month', s.ordered_on::pg_catalog.timestamp) AS month,
                       s.ordered_on OPERATOR(pg_catalog.>=)
                           ($1 OPERATOR(pg_catalog.-) '12 months'::pg_catalog.interval) AS recent,
                       pg_catalog.sum(s.amount) AS pv,
                       pg_catalog.sum(s.gross_margin) AS gm,
                       pg_catalog.count(*)::pg_catalog.int4 AS n
                  FROM medcrm.sales_order AS s
                 WHERE s.ordered_on OPERATOR(pg_catalog.>=)
                           ($1 OPERATOR(pg_catalog.-) '24 months'::pg_catalog.interval)
                   AND s.ordered_on OPERATOR(pg_catalog.<) $1
                 GROUP BY s.account_id, 2, 3) AS m
         GROUP BY m.account_id) AS o
    ON o.account_id OPERATOR(pg_catalog.=) a.id
  -- service: work orders reported in the 12 months before as_of
  LEFT JOIN (
        SELECT wo.account_id,
               pg_catalog.sum(wo.cost) AS cost,
               pg_catalog.sum(wo.labor_hours) AS hours,
               pg_catalog.avg(pg_catalog.date_part('epoch', wo.first_response_at OPERATOR(pg_catalog.-) wo.reported_at)
                              OPERATOR(pg_catalog./) 3600::pg_catalog.float8) AS response_hours
          FROM medcrm.work_order AS wo
         WHERE wo.reported_at OPERATOR(pg_catalog.>=) ($1 OPERATOR(pg_catalog.-) '12 months'::pg_catalog.interval)::pg_catalog.date::pg_catalog.timestamptz
           AND wo.reported_at OPERATOR(pg_catalog.<) $1::pg_catalog.timestamptz
           AND wo.status OPERATOR(pg_catalog.<>) 'cancelled'
         GROUP BY wo.account_id) AS w
    ON w.account_id OPERATOR(pg_catalog.=) a.id
  -- payments: invoices falling due in the 12 months before as_of; overdue
  -- amount over every invoice due before as_of
  LEFT JOIN (
        SELECT iv.account_id,
               pg_catalog.avg(pg_catalog.float8(
                   CASE WHEN iv.paid_on OPERATOR(pg_catalog.<) $1
                             AND iv.paid_amount OPERATOR(pg_catalog.>=) iv.amount
                        THEN pg_catalog.int4larger(iv.paid_on OPERATOR(pg_catalog.-) iv.due_on, 0)
                        ELSE $1 OPERATOR(pg_catalog.-) iv.due_on END))
                   FILTER (WHERE iv.due_on OPERATOR(pg_catalog.>=) ($1 OPERATOR(pg_catalog.-) '12 months'::pg_catalog.interval))
                   AS days_late_mean,
               pg_catalog.avg(CASE WHEN iv.paid_on OPERATOR(pg_catalog.<=) iv.due_on
                                        AND iv.paid_amount OPERATOR(pg_catalog.>=) iv.amount
                                   THEN 1::pg_catalog.float8 ELSE 0::pg_catalog.float8 END)
                   FILTER (WHERE iv.due_on OPERATOR(pg_catalog.>=) ($1 OPERATOR(pg_catalog.-) '12 months'::pg_catalog.interval))
                   AS on_time_share,
               pg_catalog.sum(pg_catalog.numeric_larger(
                   iv.amount OPERATOR(pg_catalog.-)
                   CASE WHEN iv.paid_on OPERATOR(pg_catalog.<) $1 THEN iv.paid_amount
                        ELSE 0::pg_catalog.numeric END,
                   0::pg_catalog.numeric)) AS overdue
          FROM medcrm.invoice AS iv
         WHERE iv.due_on OPERATOR(pg_catalog.<) $1
         GROUP BY iv.account_id) AS i
    ON i.account_id OPERATOR(pg_catalog.=) a.id
  -- installed base in service on as_of
  LEFT JOIN (
        SELECT dv.account_id, pg_catalog.count(*) AS n
          FROM medcrm.installed_device AS dv
         WHERE dv.status OPERATOR(pg_catalog.=) ANY ('{active,in_repair}'::pg_catalog.text[])
           AND (dv.installed_on IS NULL OR dv.installed_on OPERATOR(pg_catalog.<) $1)
         GROUP BY dv.account_id) AS d
    ON d.account_id OPERATOR(pg_catalog.=) a.id
  -- compliance: complaints open on as_of
  LEFT JOIN (
        SELECT cp.account_id, pg_catalog.count(*) AS n
          FROM medcrm.complaint AS cp
         WHERE cp.received_at OPERATOR(pg_catalog.<) $1::pg_catalog.timestamptz
           AND (cp.closed_at IS NULL OR cp.closed_at OPERATOR(pg_catalog.>=) $1::pg_catalog.timestamptz)
         GROUP BY cp.account_id) AS c
    ON c.account_id OPERATOR(pg_catalog.=) a.id
  -- compliance: recall actions open on as_of
  LEFT JOIN (
        SELECT tk.account_id, pg_catalog.count(*) AS n
          FROM medcrm.task AS tk
         WHERE tk.kind OPERATOR(pg_catalog.=) 'recall_action'
           AND tk.created_at OPERATOR(pg_catalog.<) $1::pg_catalog.timestamptz
           AND (tk.status OPERATOR(pg_catalog.=) 'open'
                OR tk.done_at OPERATOR(pg_catalog.>=) $1::pg_catalog.timestamptz)
         GROUP BY tk.account_id) AS t
    ON t.account_id OPERATOR(pg_catalog.=) a.id
  -- distributor certificates: kinds held before but not valid on as_of
  -- (compliance), authorizations valid on as_of (coverage)
  LEFT JOIN (
        SELECT k.account_id,
               pg_catalog.count(*) FILTER (WHERE NOT k.valid_now) AS expired,
               pg_catalog.sum(k.valid_authorizations)::pg_catalog.int8 AS authorizations
          FROM (SELECT cf.account_id, cf.kind,
                       pg_catalog.bool_or(cf.valid_to OPERATOR(pg_catalog.>=) $1
                                          AND (cf.valid_from IS NULL OR cf.valid_from OPERATOR(pg_catalog.<=) $1))
                           AS valid_now,
                       pg_catalog.count(*) FILTER (
                           WHERE cf.kind OPERATOR(pg_catalog.=) 'distributor_authorization'
                             AND cf.valid_to OPERATOR(pg_catalog.>=) $1
                             AND (cf.valid_from IS NULL OR cf.valid_from OPERATOR(pg_catalog.<=) $1))
                           AS valid_authorizations
                  FROM medcrm.certificate AS cf
                 WHERE cf.account_id IS NOT NULL
                   AND cf.kind OPERATOR(pg_catalog.=) ANY ('{distributor_license,distributor_authorization}'::pg_catalog.text[])
                   AND (cf.valid_from IS NULL OR cf.valid_from OPERATOR(pg_catalog.<=) $1)
                 GROUP BY cf.account_id, cf.kind) AS k
         GROUP BY k.account_id) AS ce
    ON ce.account_id OPERATOR(pg_catalog.=) a.id
 WHERE a.merged_into IS NULL
$fn$;
COMMENT ON FUNCTION medcrm.account_factors(date) IS
    'The tier-scoring factors of every non-merged account as of a date (the 12 months before it): purchase value and margin, repeat purchase, service cost, payment behaviour, installed base, hospital grade, growth, compliance issues, distributor coverage and response. Units and sources in docs/tiering.md.';
REVOKE ALL ON FUNCTION medcrm.account_factors(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.account_factors(date) TO medcrm_admin, medcrm_sales;

-- ---------------------------------------------------------------------------
-- Scoring functions (C: extension/scoring*.c)
-- ---------------------------------------------------------------------------
CREATE FUNCTION medcrm.score_account(account_id bigint, model_id integer DEFAULT NULL,
                                     as_of date DEFAULT CURRENT_DATE)
RETURNS numeric
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'medcrm_score_account';
COMMENT ON FUNCTION medcrm.score_account(bigint, integer, date) IS
    'Score 0-100 of one account under a tier model (the active one by default) as of a date; the sum of the contributions that medcrm.explain_tier() lists.';

CREATE FUNCTION medcrm.explain_tier(account_id bigint, model_id integer DEFAULT NULL,
                                    as_of date DEFAULT CURRENT_DATE)
RETURNS TABLE (factor text, raw_value numeric, normalized numeric, weight numeric,
               contribution numeric, detail text)
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'medcrm_explain_tier';
COMMENT ON FUNCTION medcrm.explain_tier(bigint, integer, date) IS
    'Why an account has its score: one row per factor of the model (raw value, normalised value 0-1, weight, contribution in points), one per segment adjustment that applies, "bounds" when the sum left 0-100, then "tier" (the computed tier) and "override" (a manual tier) with contribution 0. The contributions sum to medcrm.score_account() exactly.';

CREATE FUNCTION medcrm.score_factors(factors record, model_id integer DEFAULT NULL)
RETURNS numeric
LANGUAGE c STABLE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'medcrm_score_factors';
COMMENT ON FUNCTION medcrm.score_factors(record, integer) IS
    'Score 0-100 of a row carrying the factor columns of medcrm.account_factors() (matched by name), e.g. factors kept in a table: SELECT medcrm.score_factors(f) FROM my_factors f. Date-bound adjustments are judged against the current date.';

CREATE FUNCTION medcrm.rescore(model_id integer DEFAULT NULL, as_of date DEFAULT CURRENT_DATE)
RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'medcrm_rescore';
COMMENT ON FUNCTION medcrm.rescore(integer, date) IS
    'Re-tiers every non-merged account set-wise under a model (the active one by default): updates only the accounts whose tier, score or model changed; every change of an effective tier lands in medcrm.tier_history. Returns the number of accounts whose effective tier changed.';

CREATE FUNCTION medcrm.activate_model(model_id integer)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'medcrm_activate_model';
COMMENT ON FUNCTION medcrm.activate_model(integer) IS
    'Validates a tier model and makes it the active one (the previous one is deactivated); an invalid model is refused with SQLSTATE 22023 or 23514 and nothing changes. Does not rescore: run medcrm.rescore() next.';

REVOKE ALL ON FUNCTION medcrm.score_account(bigint, integer, date),
    medcrm.explain_tier(bigint, integer, date), medcrm.score_factors(record, integer),
    medcrm.rescore(integer, date), medcrm.activate_model(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.score_account(bigint, integer, date),
    medcrm.explain_tier(bigint, integer, date), medcrm.score_factors(record, integer)
    TO medcrm_admin, medcrm_sales;
GRANT EXECUTE ON FUNCTION medcrm.rescore(integer, date), medcrm.activate_model(integer)
    TO medcrm_admin;
-- Sales explain the tiers of the accounts they see: the model, and whether a
-- complaint is open (not its content).
GRANT SELECT ON medcrm.tier_model TO medcrm_sales;
GRANT SELECT (account_id, received_at, closed_at) ON medcrm.complaint TO medcrm_sales;

-- ---------------------------------------------------------------------------
-- Calibration helper
-- ---------------------------------------------------------------------------
CREATE FUNCTION medcrm.factor_quantiles(factor text, as_of date DEFAULT CURRENT_DATE,
                                        buckets integer DEFAULT 10)
RETURNS double precision[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    result double precision[];
BEGIN
    IF factor IS NULL OR NOT EXISTS (
        SELECT FROM pg_catalog.pg_proc AS p
         WHERE p.oid = 'medcrm.account_factors(date)'::pg_catalog.regprocedure
           AND factor = ANY (p.proargnames[2:])
           AND factor NOT IN ('account_id', 'kind', 'region', 'province', 'city', 'hospital_grade',
                              'procurement_mode', 'service_level', 'lifecycle_stage')) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('unknown factor %s', coalesce(quote_literal(factor), 'NULL')),
            DETAIL = 'Quantiles are computed for the factor columns of medcrm.account_factors().',
            HINT = 'Use a factor name such as gross_margin_12m.';
    END IF;
    IF buckets IS NULL OR buckets < 1 OR buckets > 100 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('buckets must be between 1 and 100, not %s', coalesce(buckets::text, 'NULL')),
            HINT = 'Use 10 for deciles, 4 for quartiles.';
    END IF;
    EXECUTE format('SELECT pg_catalog.percentile_cont(ARRAY(SELECT g::double precision / $2'
                   '                                        FROM pg_catalog.generate_series(0, $2) AS g))'
                   '       WITHIN GROUP (ORDER BY f.%I)'
                   '  FROM medcrm.account_factors($1) AS f WHERE f.%I IS NOT NULL', factor, factor)
       INTO result USING as_of, buckets;
    RETURN result;
END
$fn$;
COMMENT ON FUNCTION medcrm.factor_quantiles(text, date, integer) IS
    'The quantiles (0, 1/buckets, ..., 1) of a factor over all accounts as of a date: the "breakpoints" of a percentile normalisation when a model is recalibrated.';
REVOKE ALL ON FUNCTION medcrm.factor_quantiles(text, date, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.factor_quantiles(text, date, integer) TO medcrm_admin;

-- ---------------------------------------------------------------------------
-- Model validation on tier_model
-- ---------------------------------------------------------------------------
CREATE FUNCTION medcrm.tier_model_check() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'medcrm_tier_model_check';
COMMENT ON FUNCTION medcrm.tier_model_check() IS
    'BEFORE INSERT OR UPDATE row trigger of medcrm.tier_model: an active row must be a valid model; becoming active stamps activated_at.';
REVOKE ALL ON FUNCTION medcrm.tier_model_check() FROM PUBLIC;
CREATE TRIGGER tier_model_check BEFORE INSERT OR UPDATE ON medcrm.tier_model
    FOR EACH ROW EXECUTE FUNCTION medcrm.tier_model_check();

-- A restore (session_replication_role = replica) first gets the shipped default
-- model, active, from CREATE EXTENSION, then the dumped rows in physical order:
-- a dumped active model may arrive before the dumped (inactive) version of the
-- default that replaces the shipped row. It takes over from the shipped row
-- instead of failing on tier_model_one_active_idx.
CREATE FUNCTION medcrm.tier_model_restore_active() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NEW.active AND pg_catalog.current_setting('session_replication_role') = 'replica' THEN
        UPDATE medcrm.tier_model SET active = false
         WHERE active AND shipped AND id <> NEW.id;
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION medcrm.tier_model_restore_active() IS
    'BEFORE INSERT row trigger of medcrm.tier_model, fired also during a restore: a restored active model deactivates the shipped default.';
REVOKE ALL ON FUNCTION medcrm.tier_model_restore_active() FROM PUBLIC;
CREATE TRIGGER tier_model_restore_active BEFORE INSERT ON medcrm.tier_model
    FOR EACH ROW EXECUTE FUNCTION medcrm.tier_model_restore_active();
ALTER TABLE medcrm.tier_model ENABLE ALWAYS TRIGGER tier_model_restore_active;

-- ---------------------------------------------------------------------------
-- Tier history: every change of an account's effective tier
-- (tier_override when set, else the computed tier), whether it comes from
-- rescore() or from a manual override. An account inserted with a tier
-- (an import, a restore) is not a change: its history starts with the next one. Statement-level with transition tables,
-- so a rescore of a million accounts is one INSERT ... SELECT. The rules
-- capability turns tier_history rows into tier_change tasks.
-- ---------------------------------------------------------------------------
CREATE FUNCTION medcrm.account_tier_history_update() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    INSERT INTO medcrm.tier_history (account_id, old_tier, new_tier, score, model_id, reason)
    SELECT n.id,
           COALESCE(o.tier_override, o.tier),
           COALESCE(n.tier_override, n.tier),
           n.tier_score,
           CASE WHEN n.tier_override IS NULL THEN n.tier_model_id END,
           CASE WHEN n.tier_override IS NOT NULL
                THEN 'override: ' || n.tier_override_reason
                WHEN o.tier_override IS NOT NULL
                THEN 'override removed'
                ELSE 'rescore' END
      FROM medcrm_old AS o
      JOIN medcrm_new AS n ON n.id = o.id
     WHERE COALESCE(o.tier_override, o.tier) IS DISTINCT FROM COALESCE(n.tier_override, n.tier);
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION medcrm.account_tier_history_update() IS
    'AFTER UPDATE statement trigger of medcrm.account: records every change of an effective tier in medcrm.tier_history (reason rescore, override: <reason>, or override removed).';
REVOKE ALL ON FUNCTION medcrm.account_tier_history_update() FROM PUBLIC;
CREATE TRIGGER account_tier_history_update AFTER UPDATE ON medcrm.account
    REFERENCING OLD TABLE AS medcrm_old NEW TABLE AS medcrm_new
    FOR EACH STATEMENT EXECUTE FUNCTION medcrm.account_tier_history_update();


-- ---------------------------------------------------------------------------
-- The default model (shipped, active after CREATE EXTENSION)
-- ---------------------------------------------------------------------------
INSERT INTO medcrm.tier_model (id, name, version, weights, thresholds, adjustments, active, note, shipped)
VALUES (1, 'default', 1,
 '{
   "purchase_value_12m": {"weight": 15, "norm": "log", "cap": 5000000},
   "gross_margin_12m":   {"weight": 20, "norm": "log", "cap": 1500000},
   "order_months_12m":   {"weight": 10, "norm": "cap", "cap": 12},
   "service_cost_12m":   {"weight": 8,  "norm": "log", "cap": 200000, "direction": "lower"},
   "on_time_share":      {"weight": 10, "norm": "cap", "cap": 1, "missing": 0},
   "days_late_mean":     {"weight": 7,  "norm": "cap", "cap": 90, "direction": "lower", "missing": 0},
   "installed_base":     {"weight": 10, "norm": "log", "cap": 50},
   "grade_points":       {"weight": 8,  "norm": "cap", "cap": 100, "missing": 0.3},
   "growth":             {"weight": 7,  "norm": "range", "min": -0.5, "max": 0.5, "missing": 0.5},
   "compliance_issues":  {"weight": 5,  "norm": "cap", "cap": 3, "direction": "lower"}
 }',
 '{"A": 70, "B": 50, "C": 30}',
 '[]',
 true,
 'Default model shipped with medcrm: weights per DOMAIN.md "Tiering"; recalibrate and activate a new version for your data.',
 true);
SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('medcrm.tier_model', 'id'), 1);
