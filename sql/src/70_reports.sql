-- sql/src/70_reports.sql — what the report worker (medcrm-report) reads, and
-- how a run is requested.
--
-- Runs after the KPI, audit and governance files, so that the grants below
-- can name their views and functions. The worker logs in as a member of
-- medcrm_reporter: it reads the BI views (personal data masked), the KPI
-- functions, the audit trail and its verification, and the base tables the
-- workbooks summarise (never contact phone, e-mail or national id).

CREATE FUNCTION medcrm.request_report(report text, from_date date, to_date date)
    RETURNS bigint
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    run_id bigint;
BEGIN
    IF report IS NULL OR report NOT IN ('kpi', 'compliance') THEN
        RAISE EXCEPTION 'unknown report "%"', report
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The reports are kpi and compliance.',
                  HINT = 'Call medcrm.request_report(''kpi'', from_date, to_date).';
    END IF;
    IF from_date IS NULL OR to_date IS NULL THEN
        RAISE EXCEPTION 'report period must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  DETAIL = 'Both from_date and to_date are required.',
                  HINT = 'For October 2026 pass ''2026-10-01'' and ''2026-11-01''.';
    END IF;
    IF from_date >= to_date THEN
        RAISE EXCEPTION 'report period is empty'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('from_date %s is not before to_date %s.', from_date, to_date),
                  HINT = 'to_date is exclusive: for October 2026 pass ''2026-10-01'' and ''2026-11-01''.';
    END IF;
    INSERT INTO medcrm.report_run (report, period_from, period_to, status)
    VALUES (report, from_date, to_date, 'queued')
    RETURNING id INTO run_id;
    RETURN run_id;
END
$fn$;
COMMENT ON FUNCTION medcrm.request_report(text, date, date) IS
    'Queues a run of the kpi or compliance workbook for [from_date, to_date) now; the report daemon picks it up. Returns the report_run id.';
REVOKE ALL ON FUNCTION medcrm.request_report(text, date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.request_report(text, date, date)
    TO medcrm_admin, medcrm_reporter, medcrm_quality, medcrm_auditor;

-- Base tables the workbooks summarise (no personal data of contacts).
GRANT SELECT ON medcrm.account, medcrm.product, medcrm.installed_device,
    medcrm.opportunity, medcrm.sales_order, medcrm.invoice, medcrm.contract,
    medcrm.work_order, medcrm.service_team, medcrm.sla_policy, medcrm.recall,
    medcrm.certificate, medcrm.complaint, medcrm.task, medcrm.tier_history, medcrm.visit,
    medcrm.sample_loan, medcrm.tier_model, medcrm.rule,
    medcrm.audit_log, medcrm.sensitive_access_log TO medcrm_reporter;

-- The views and functions of the other capabilities, where installed.
DO $grants$
DECLARE
    rel text;
    fn text;
BEGIN
    FOREACH rel IN ARRAY ARRAY['medcrm.v_kpi_monthly', 'medcrm.v_account_360',
        'medcrm.v_tier_distribution', 'medcrm.v_high_value_accounts',
        'medcrm.v_high_risk_accounts', 'medcrm.v_open_tasks', 'medcrm.v_recall_progress',
        'medcrm.v_certificate_expiry', 'medcrm.v_data_quality']
    LOOP
        IF pg_catalog.to_regclass(rel) IS NOT NULL THEN
            EXECUTE pg_catalog.format('GRANT SELECT ON %s TO medcrm_reporter',
                                      pg_catalog.to_regclass(rel));
        END IF;
    END LOOP;
    FOREACH fn IN ARRAY ARRAY['medcrm.kpi_summary(date,date)',
        'medcrm.audit_verify(bigint,bigint)', 'medcrm.audit_head()']
    LOOP
        IF pg_catalog.to_regprocedure(fn) IS NOT NULL THEN
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO medcrm_reporter',
                                      pg_catalog.to_regprocedure(fn));
        END IF;
    END LOOP;
END
$grants$;
