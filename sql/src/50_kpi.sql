-- sql/src/50_kpi.sql — the KPI engine: every KPI of DOMAIN.md, by tier, by
-- region and overall, for one period (medcrm.kpi_summary) or for up to 31
-- consecutive periods in one pass over the data (medcrm.kpi_series, which
-- medcrm.v_kpi_monthly reads); and by account kind (kpi_summary_by_kind,
-- kpi_series_by_kind, v_kpi_monthly_by_kind: the same engine with the kind
-- in the place of the region). Both share one definition of every KPI, so the
-- dashboard, the monthly view and the Excel report never drift apart.
--
-- How the engine is built (docs/bi.md has the user-facing definitions):
--   * kpi_series() validates the bounds here, in plpgsql (kpi_periods()),
--     and hands them to the C engine medcrm.kpi_engine()
--     (extension/kpi_engine.c) as dates and as timestamptz (midnight in
--     the session's TimeZone), with the starts of the trailing windows ("the
--     12 months before to", "the 30 days before to"). Periods are
--     [bounds[i], bounds[i+1]).
--   * The engine reads medcrm.account once into an array indexed by id
--     (cell = effective tier and region, flags), then scans each fact table
--     exactly once, mapping every row to its periods by binary search over
--     the bounds, so 24 months cost one scan, not 24. Coverage masks
--     (extension/kpi_cover.c) count entities with >= 1 / >= 2 events in a
--     trailing window; numeric sums are exact (extension/kpi_exact.c).
--   * Additive KPIs are summed per (tier, region) cell and rolled up to
--     overall, by tier and by region; medians (percentile_cont(0.5)) and the
--     recall processing time are computed per group from the rows.
--   * Accounts merged into another never count, nor do the rows still
--     attached to them. Tier and region are the account's current effective
--     tier (coalesce(tier_override, tier)) and region; NULL ones are reported
--     as '(none)', because a NULL tier or region means "all" (overall row).
--   * By kind: kpi_series_by_kind() calls medcrm.kpi_engine_by_kind(), the
--     same engine with the account's kind (NOT NULL) in the place of its
--     region in the cell, returning the by-kind groups only; rows without an
--     account (tasks) are in the kind '(none)', so the kinds add up to the
--     overall row.
--   * data_error_rate counts the accounts with a finding in
--     medcrm.v_data_quality, read by the engine through SPI.

-- The catalogue of KPI keys, in report order, with what numerator and
-- denominator mean for each (also exposed to BI tools as v_kpi_definition).
CREATE FUNCTION medcrm.kpi_keys() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY['touch_rate', 'first_response_hours_median', 'first_response_hours_mean',
                 'resolution_hours_median', 'resolution_hours_mean', 'sla_compliance',
                 'conversion_rate', 'sales_cycle_days', 'renewal_rate', 'repeat_purchase_rate',
                 'clv_mean', 'collection_rate', 'a_tier_share', 'a_tier_margin_share',
                 'service_coverage', 'recall_closure_rate', 'recall_processing_hours_mean',
                 'task_timeliness', 'data_error_rate', 'a_visit_coverage']::text[];
COMMENT ON FUNCTION medcrm.kpi_keys() IS
    'Every KPI key that medcrm.kpi_summary() and medcrm.kpi_series() return, in report order.';

-- medcrm.kpi_engine(): the C engine behind kpi_series(); not granted to
-- anyone: it trusts its arguments to be what kpi_series() computes.
CREATE FUNCTION medcrm.kpi_engine(bounds date[], bounds_ts timestamptz[], w12 date[],
                                  w12_ts timestamptz[], w30_ts timestamptz[], now timestamptz)
RETURNS TABLE (period_from date, period_to date, kpi text, tier text, region text,
               numerator numeric, denominator numeric, value numeric)
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'medcrm_kpi_engine';
COMMENT ON FUNCTION medcrm.kpi_engine(date[], timestamptz[], date[], timestamptz[], timestamptz[], timestamptz) IS
    'The KPI engine (extension/kpi_engine.c) behind medcrm.kpi_series(): bounds of the periods as dates and as timestamptz, starts of the trailing 12-month windows (date and timestamptz) and 30-day windows (timestamptz), and now(). Call kpi_series() instead.';
REVOKE ALL ON FUNCTION medcrm.kpi_engine(date[], timestamptz[], date[], timestamptz[], timestamptz[], timestamptz) FROM PUBLIC;

-- medcrm.kpi_engine_by_kind(): the same engine with the account's kind in the
-- place of its region, returning the by-kind rows only (behind
-- kpi_series_by_kind()); not granted to anyone either.
CREATE FUNCTION medcrm.kpi_engine_by_kind(bounds date[], bounds_ts timestamptz[], w12 date[],
                                          w12_ts timestamptz[], w30_ts timestamptz[], now timestamptz)
RETURNS TABLE (period_from date, period_to date, kpi text, kind text,
               numerator numeric, denominator numeric, value numeric)
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'medcrm_kpi_engine_by_kind';
COMMENT ON FUNCTION medcrm.kpi_engine_by_kind(date[], timestamptz[], date[], timestamptz[], timestamptz[], timestamptz) IS
    'The KPI engine (extension/kpi_engine.c) by account kind, behind medcrm.kpi_series_by_kind(): the arguments of medcrm.kpi_engine(). Call kpi_series_by_kind() instead.';
REVOKE ALL ON FUNCTION medcrm.kpi_engine_by_kind(date[], timestamptz[], date[], timestamptz[], timestamptz[], timestamptz) FROM PUBLIC;

-- medcrm.kpi_periods(bounds): validates the bounds of kpi_series() and
-- kpi_series_by_kind() and computes the engine's window arguments.
CREATE FUNCTION medcrm.kpi_periods(bounds date[], OUT b date[], OUT w12 date[], OUT w30 date[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n      integer;
    ends   date[];  -- bounds[2 .. n + 1]: day after each period ("to")
    i      integer;
BEGIN
    IF bounds IS NULL OR array_position(bounds, NULL) IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'kpi period bounds must not be null',
            DETAIL  = 'The bounds array or one of its elements is null.',
            HINT    = 'Pass dates such as ARRAY[''2026-01-01'', ''2026-02-01'']::date[].';
    END IF;
    n := cardinality(bounds) - 1;
    IF n < 1 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'kpi periods need at least two bounds',
            DETAIL  = format('The bounds array has %s element(s).', cardinality(bounds)),
            HINT    = 'Pass the first day of the first period and the day after the last period.';
    END IF;
    IF n > 31 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'program_limit_exceeded',
            MESSAGE = 'too many kpi periods',
            DETAIL  = format('%s periods were asked for; one call computes at most 31.', n),
            HINT    = 'Split the range into several calls of at most 31 periods.';
    END IF;
    bounds := bounds[array_lower(bounds, 1):array_upper(bounds, 1)];  -- 1-based
    FOR i IN 1 .. n LOOP
        IF bounds[i] >= bounds[i + 1] THEN
            RAISE EXCEPTION USING
                ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'kpi period bounds must increase',
                DETAIL  = format('Bound %s (%s) is not before bound %s (%s).',
                                 i, bounds[i], i + 1, bounds[i + 1]),
                HINT    = 'Each period is [bounds[i], bounds[i+1]); list the bounds in increasing order.';
        END IF;
        IF NOT isfinite(bounds[i]) OR NOT isfinite(bounds[i + 1]) THEN
            RAISE EXCEPTION USING
                ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'kpi period bounds must be finite dates',
                DETAIL  = format('Bound %s or %s is infinity.', i, i + 1),
                HINT    = 'Pass real dates.';
        END IF;
    END LOOP;
    b := bounds;
    ends := bounds[2:n + 1];
    w12 := ARRAY(SELECT (u - interval '12 months')::date FROM unnest(ends) WITH ORDINALITY AS x(u, o) ORDER BY o);
    w30 := ARRAY(SELECT u - 30 FROM unnest(ends) WITH ORDINALITY AS x(u, o) ORDER BY o);
END
$fn$;
COMMENT ON FUNCTION medcrm.kpi_periods(date[]) IS
    'Validates the bounds of medcrm.kpi_series() and medcrm.kpi_series_by_kind() (not null, 2 to 32 increasing finite dates) and returns them 1-based with the starts of the trailing 12-month (w12) and 30-day (w30) windows of each period.';
REVOKE ALL ON FUNCTION medcrm.kpi_periods(date[]) FROM PUBLIC;

-- medcrm.kpi_series(bounds): every KPI for the consecutive periods
-- [bounds[i], bounds[i+1]), i = 1 .. cardinality(bounds) - 1 (at most 31).
CREATE FUNCTION medcrm.kpi_series(bounds date[])
RETURNS TABLE (period_from date, period_to date, kpi text, tier text, region text,
               numerator numeric, denominator numeric, value numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The engine's SPI query on medcrm.v_data_quality (13 branches) would be
-- JIT-compiled at a million accounts: compiling costs more than it saves.
SET jit = off
AS $fn$
DECLARE
    a      record;  -- medcrm.kpi_periods(bounds)
BEGIN
    SELECT * INTO a FROM medcrm.kpi_periods(bounds);
    -- The timestamptz casts use the session's TimeZone (SET by the caller,
    -- not by this function), so periods are local days.
    RETURN QUERY
        SELECT e.period_from, e.period_to, e.kpi, e.tier, e.region,
               e.numerator, e.denominator, e.value
          FROM medcrm.kpi_engine(a.b, a.b::timestamptz[], a.w12, a.w12::timestamptz[],
                                 a.w30::timestamptz[], now()) AS e;
END
$fn$;
COMMENT ON FUNCTION medcrm.kpi_series(date[]) IS
    'Every KPI of medcrm for the consecutive periods [bounds[i], bounds[i+1]) (at most 31 periods), by tier, by region and overall (tier and region NULL), with numerator and denominator; value NULL when the denominator is 0. Definitions: docs/bi.md and medcrm.v_kpi_definition.';
REVOKE ALL ON FUNCTION medcrm.kpi_series(date[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.kpi_series(date[])
    TO medcrm_bi, medcrm_reporter, medcrm_admin, medcrm_auditor;

-- medcrm.kpi_series_by_kind(bounds): every KPI by account kind for the
-- periods of kpi_series(bounds); the kinds of a KPI add up to its overall row
-- of kpi_series() (numerators and denominators).
CREATE FUNCTION medcrm.kpi_series_by_kind(bounds date[])
RETURNS TABLE (period_from date, period_to date, kpi text, kind text,
               numerator numeric, denominator numeric, value numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $fn$
DECLARE
    a      record;  -- medcrm.kpi_periods(bounds)
BEGIN
    SELECT * INTO a FROM medcrm.kpi_periods(bounds);
    RETURN QUERY
        SELECT e.period_from, e.period_to, e.kpi, e.kind,
               e.numerator, e.denominator, e.value
          FROM medcrm.kpi_engine_by_kind(a.b, a.b::timestamptz[], a.w12, a.w12::timestamptz[],
                                         a.w30::timestamptz[], now()) AS e;
END
$fn$;
COMMENT ON FUNCTION medcrm.kpi_series_by_kind(date[]) IS
    'Every KPI of medcrm by account kind (hospital, clinic, group, distributor, agent; (none) for rows without an account) for the consecutive periods [bounds[i], bounds[i+1]) (at most 31 periods), with numerator and denominator; value NULL when the denominator is 0. The same definitions as medcrm.kpi_series().';
REVOKE ALL ON FUNCTION medcrm.kpi_series_by_kind(date[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.kpi_series_by_kind(date[])
    TO medcrm_bi, medcrm_reporter, medcrm_admin, medcrm_auditor;

-- medcrm.kpi_period(from, to): the bounds of one period [from, to), checked,
-- for the one-period forms kpi_summary() and kpi_summary_by_kind().
CREATE FUNCTION medcrm.kpi_period(from_date date, to_date date) RETURNS date[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF from_date IS NULL OR to_date IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'kpi period must not be null',
            DETAIL  = 'from_date or to_date is null.',
            HINT    = 'Pass both dates; the period is [from_date, to_date).';
    END IF;
    IF from_date >= to_date THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'kpi period is empty',
            DETAIL  = format('from_date %s is not before to_date %s.', from_date, to_date),
            HINT    = 'The period is [from_date, to_date): pass a from_date before the to_date.';
    END IF;
    RETURN ARRAY[from_date, to_date];
END
$fn$;
COMMENT ON FUNCTION medcrm.kpi_period(date, date) IS
    'The bounds ARRAY[from_date, to_date] of one KPI period, refused with 22004 when a date is null and 22023 when the period is empty.';
REVOKE ALL ON FUNCTION medcrm.kpi_period(date, date) FROM PUBLIC;

-- medcrm.kpi_summary(from, to): the one-period form of CONTRACT.md.
CREATE FUNCTION medcrm.kpi_summary(from_date date, to_date date)
RETURNS TABLE (kpi text, tier text, region text, numerator numeric, denominator numeric, value numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN QUERY
        SELECT s.kpi, s.tier, s.region, s.numerator, s.denominator, s.value
          FROM medcrm.kpi_series(medcrm.kpi_period(from_date, to_date)) AS s;
END
$fn$;
COMMENT ON FUNCTION medcrm.kpi_summary(date, date) IS
    'Every KPI of DOMAIN.md for the period [from_date, to_date): overall (tier and region NULL), by effective tier (region NULL) and by region (tier NULL); numerator and denominator beside the value, value NULL when the denominator is 0. Definitions: docs/bi.md and medcrm.v_kpi_definition.';
REVOKE ALL ON FUNCTION medcrm.kpi_summary(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.kpi_summary(date, date)
    TO medcrm_bi, medcrm_reporter, medcrm_admin, medcrm_auditor;

-- medcrm.kpi_summary_by_kind(from, to): kpi_summary() broken down by account
-- kind (DOMAIN.md: every KPI by tier, region and account kind).
CREATE FUNCTION medcrm.kpi_summary_by_kind(from_date date, to_date date)
RETURNS TABLE (kpi text, kind text, numerator numeric, denominator numeric, value numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN QUERY
        SELECT s.kpi, s.kind, s.numerator, s.denominator, s.value
          FROM medcrm.kpi_series_by_kind(medcrm.kpi_period(from_date, to_date)) AS s;
END
$fn$;
COMMENT ON FUNCTION medcrm.kpi_summary_by_kind(date, date) IS
    'Every KPI of DOMAIN.md for the period [from_date, to_date) by account kind (hospital, clinic, group, distributor, agent; (none) only for rows without an account, e.g. tasks): one row per KPI and kind with at least one account or row, numerator and denominator beside the value, value NULL when the denominator is 0. Additive KPIs: the kinds sum to the overall row of kpi_summary(). Definitions: docs/bi.md and medcrm.v_kpi_definition.';
REVOKE ALL ON FUNCTION medcrm.kpi_summary_by_kind(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.kpi_summary_by_kind(date, date)
    TO medcrm_bi, medcrm_reporter, medcrm_admin, medcrm_auditor;
