-- sql/src/18_grants.sql — least-privilege grants on the base tables.
--
-- medcrm_admin may do everything. The other groups get exactly what their job
-- needs (DOMAIN.md "Compliance"). Row-level security narrows what sales see;
-- personal data of contacts (phone, email, national_id) is never granted to
-- sales, bi or reporter directly. medcrm_bi reads only the views (granted where
-- the views are defined).

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA medcrm TO medcrm_admin;

-- Sales: their accounts and the commercial side.
GRANT SELECT, INSERT, UPDATE ON medcrm.department, medcrm.opportunity,
    medcrm.contract, medcrm.visit, medcrm.sample_loan TO medcrm_sales;
-- Accounts: never the computed tier columns, the tier override (a manager's
-- decision, medcrm_admin) or the merge link (medcrm.merge_accounts).
GRANT SELECT ON medcrm.account TO medcrm_sales;
GRANT INSERT (kind, name, parent_id, region, province, city, hospital_grade, procurement_mode,
              service_level, lifecycle_stage, tags, tax_id, owner_role),
      UPDATE (kind, name, parent_id, region, province, city, hospital_grade, procurement_mode,
              service_level, lifecycle_stage, tags, tax_id, owner_role)
    ON medcrm.account TO medcrm_sales;
GRANT SELECT ON medcrm.account_source_key, medcrm.sales_territory, medcrm.product,
    medcrm.installed_device, medcrm.sales_order, medcrm.invoice, medcrm.certificate,
    medcrm.tier_history, medcrm.work_order TO medcrm_sales;
GRANT SELECT, UPDATE ON medcrm.task TO medcrm_sales;
GRANT SELECT (id, account_id, department_id, full_name, title, decision_role,
              academic_influence, preferred_channel, consent_at, created_at, updated_at),
      INSERT (account_id, department_id, full_name, title, decision_role,
              academic_influence, phone, email, national_id, preferred_channel, consent_at),
      UPDATE (account_id, department_id, full_name, title, decision_role,
              academic_influence, phone, email, national_id, preferred_channel, consent_at)
    ON medcrm.contact TO medcrm_sales;

-- Service: devices and work orders.
GRANT SELECT ON medcrm.account, medcrm.department, medcrm.product, medcrm.sla_policy,
    medcrm.service_team, medcrm.recall, medcrm.contract TO medcrm_service;
GRANT SELECT, INSERT, UPDATE ON medcrm.installed_device, medcrm.work_order TO medcrm_service;
GRANT SELECT, INSERT ON medcrm.complaint TO medcrm_service;
GRANT SELECT, UPDATE ON medcrm.task TO medcrm_service;
GRANT SELECT (id, account_id, department_id, full_name, title, decision_role,
              preferred_channel, created_at, updated_at)
    ON medcrm.contact TO medcrm_service;

-- Quality and regulatory: recalls, complaints, certificates, registrations.
GRANT SELECT ON medcrm.account, medcrm.installed_device, medcrm.work_order TO medcrm_quality;
GRANT SELECT, INSERT, UPDATE ON medcrm.recall, medcrm.complaint, medcrm.certificate,
    medcrm.product TO medcrm_quality;
GRANT SELECT, UPDATE ON medcrm.task TO medcrm_quality;

-- Auditors: the trail and the configuration that explains decisions, read-only.
GRANT SELECT ON medcrm.audit_log, medcrm.sensitive_access_log, medcrm.tier_history,
    medcrm.tier_model, medcrm.rule, medcrm.sla_policy TO medcrm_auditor;

-- The report worker: the base tables the workbooks summarise (no personal data of contacts).
GRANT SELECT ON medcrm.account, medcrm.product, medcrm.installed_device,
    medcrm.opportunity, medcrm.sales_order, medcrm.invoice, medcrm.contract,
    medcrm.work_order, medcrm.service_team, medcrm.sla_policy, medcrm.recall,
    medcrm.certificate, medcrm.complaint, medcrm.task, medcrm.tier_history, medcrm.visit,
    medcrm.sample_loan, medcrm.tier_model, medcrm.rule,
    medcrm.audit_log, medcrm.sensitive_access_log TO medcrm_reporter;

-- The report worker reads its queue; it changes it only through the queue
-- functions of sql/src/70_reports.sql (claim, heartbeat, complete, fail ...),
-- which keep each period's run unique and its lease honest.
GRANT SELECT ON medcrm.report_schedule, medcrm.report_run TO medcrm_reporter;
