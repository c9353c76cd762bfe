-- sql/src/89_audit_enroll.sql — enroll every business table in the audit trail.
--
-- Runs after every capability's tables exist (and before 90_pg_dump.sql), so
-- that a table added to medcrm is audited unless it is listed here:
--   not audited: the trail itself, tier_history (the trail of rescoring, which
--   rewrites up to every account), report_run (the report worker's queue state);
--   account: the computed tier columns are not compared (tier_history records
--   them); tier_override and its reason are audited like every human decision;
--   contact: phone, email and national_id are stored masked in the trail.
-- Tables of a later version are enrolled by their upgrade script with
-- medcrm.audit_enable().

DO $enroll$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass
          FROM pg_catalog.pg_class AS c
         WHERE c.relnamespace OPERATOR(pg_catalog.=) 'medcrm'::regnamespace
           AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::"char"[])
           AND NOT c.relispartition
           AND NOT c.relname OPERATOR(pg_catalog.=) ANY (ARRAY[
                   'audit_log', 'audit_seal', 'audit_anchor', 'sensitive_access_log',
                   'tier_history', 'report_run']::name[])
           AND EXISTS (SELECT FROM pg_catalog.pg_index AS i
                        WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid AND i.indisprimary)
         ORDER BY c.relname
    LOOP
        PERFORM medcrm.audit_enable(t);
    END LOOP;
END
$enroll$;

SELECT medcrm.audit_enable('medcrm.account',
                           ARRAY['updated_at', 'tier', 'tier_score', 'tier_model_id', 'tiered_at']);
SELECT medcrm.audit_enable('medcrm.contact', ARRAY['updated_at'],
                           ARRAY['phone', 'email', 'national_id']);

-- Row-level security for account-scoped tables of every capability: a table
-- with an account_id column that has no policy yet (account and task have
-- their own, 41_access.sql) gets account_visible: the rows of the accounts
-- current_user may see (medcrm.territory_accounts). Where account_id may be
-- NULL, rows without an account (e.g. the registration certificate of a
-- product) stay visible to every granted role.
DO $rls$
DECLARE
    t regclass;
    nullable boolean;
    sees text;
BEGIN
    FOR t, nullable IN
        SELECT c.oid::regclass, NOT a.attnotnull
          FROM pg_catalog.pg_class AS c
          JOIN pg_catalog.pg_attribute AS a
            ON a.attrelid OPERATOR(pg_catalog.=) c.oid
           AND a.attname OPERATOR(pg_catalog.=) 'account_id' AND NOT a.attisdropped
         WHERE c.relnamespace OPERATOR(pg_catalog.=) 'medcrm'::regnamespace
           AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::"char"[])
           AND NOT c.relispartition
           AND NOT c.relrowsecurity
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_policy AS p
                            WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid)
         ORDER BY c.relname
    LOOP
        sees := CASE WHEN nullable THEN 'account_id IS NULL OR ' ELSE '' END
             || '(SELECT medcrm.rls_sees_all()) '
             || 'OR account_id OPERATOR(pg_catalog.=) ANY (SELECT medcrm.territory_accounts(CURRENT_USER))';
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format('CREATE POLICY account_visible ON %s USING (%s) WITH CHECK (%s)',
                                  t, sees, sees);
        EXECUTE pg_catalog.format(
            'COMMENT ON POLICY account_visible ON %s IS %L', t,
            CASE WHEN nullable
                 THEN 'Rows of the accounts current_user may see (medcrm.territory_accounts), and rows of no account.'
                 ELSE 'Rows of the accounts current_user may see (medcrm.territory_accounts).' END);
    END LOOP;
END
$rls$;

-- Nobody but the trail's owner writes the trail: revoke what broad grants
-- (GRANT ... ON ALL TABLES IN SCHEMA medcrm) gave; reading stays as granted.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER
    ON medcrm.audit_log, medcrm.audit_seal, medcrm.audit_anchor, medcrm.sensitive_access_log
    FROM PUBLIC, medcrm_admin, medcrm_sales, medcrm_service, medcrm_quality, medcrm_auditor,
         medcrm_bi, medcrm_reporter;
GRANT SELECT ON medcrm.audit_seal, medcrm.audit_anchor TO medcrm_admin, medcrm_auditor;
