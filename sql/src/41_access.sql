-- sql/src/41_access.sql — graded access: row-level security per account,
-- masked personal data (v_contact, reveal_contact), read-only submitted visits.
--
-- Who sees which rows (DOMAIN.md "Compliance"):
--   medcrm_sales    accounts of its sales_territory regions or that it owns
--                   (account.owner_role), and the rows of those accounts;
--   medcrm_service, medcrm_quality, medcrm_auditor, medcrm_bi, medcrm_reporter,
--   medcrm_admin    every row of the tables they are granted.
-- "It" is current_user: a login that is a member of medcrm_sales is matched by
-- its own name in sales_territory.role and account.owner_role (SET ROLE to
-- another login switches to that login's territory). Roles that bypass RLS
-- (the extension owner, superusers) and SECURITY DEFINER functions owned by
-- them see everything; RLS is enabled, never forced.

CREATE FUNCTION medcrm.rls_sees_all() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT pg_catalog.pg_has_role(CURRENT_USER, 'medcrm_admin', 'USAGE')
        OR pg_catalog.pg_has_role(CURRENT_USER, 'medcrm_service', 'USAGE')
        OR pg_catalog.pg_has_role(CURRENT_USER, 'medcrm_quality', 'USAGE')
        OR pg_catalog.pg_has_role(CURRENT_USER, 'medcrm_auditor', 'USAGE')
        OR pg_catalog.pg_has_role(CURRENT_USER, 'medcrm_bi', 'USAGE')
        OR pg_catalog.pg_has_role(CURRENT_USER, 'medcrm_reporter', 'USAGE')
$fn$;
COMMENT ON FUNCTION medcrm.rls_sees_all() IS
    'True when current_user may see every account: a member of medcrm_admin, _service, _quality, _auditor, _bi or _reporter.';

-- The territory lookups read account and sales_territory, which not every
-- role may read: they run as the owner (SECURITY DEFINER) and answer only for
-- a role the session may act as, so nobody can probe another rep's territory.
-- They return sets, used as "x IN (SELECT ...)": computed once per query and
-- hashed, not called once per row.
CREATE FUNCTION medcrm.territory_regions(member name) RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE ROWS 10
    SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT t.region
      FROM medcrm.sales_territory AS t
     WHERE t.role OPERATOR(pg_catalog.=) $1
       AND pg_catalog.pg_has_role(SESSION_USER, $1, 'MEMBER')
$fn$;
COMMENT ON FUNCTION medcrm.territory_regions(name) IS
    'Regions of the sales_territory of member (only for a role the session may act as).';
REVOKE ALL ON FUNCTION medcrm.territory_regions(name) FROM PUBLIC;

CREATE FUNCTION medcrm.territory_accounts(member name) RETURNS SETOF bigint
    LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE ROWS 1000
    SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT a.id
      FROM medcrm.account AS a
     WHERE pg_catalog.pg_has_role(SESSION_USER, $1, 'MEMBER')
       AND (a.owner_role OPERATOR(pg_catalog.=) $1
            OR a.region OPERATOR(pg_catalog.=) ANY (SELECT medcrm.territory_regions($1)))
$fn$;
COMMENT ON FUNCTION medcrm.territory_accounts(name) IS
    'Accounts owned by member or lying in its sales_territory (only for a role the session may act as).';
REVOKE ALL ON FUNCTION medcrm.territory_accounts(name) FROM PUBLIC;

-- The row predicate of every account-scoped table. The policies and v_contact
-- write it out rather than call account_visible(): a function with a
-- sub-select is never inlined, and called per row it would run the lookup per
-- row; written out, the sub-select is a hashed subplan computed once per query.
CREATE FUNCTION medcrm.account_visible(account_id bigint) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT (SELECT medcrm.rls_sees_all())
        OR $1 OPERATOR(pg_catalog.=) ANY (SELECT medcrm.territory_accounts(CURRENT_USER))
$fn$;
COMMENT ON FUNCTION medcrm.account_visible(bigint) IS
    'May current_user see the rows of this account? The same predicate as the RLS policies of the account-scoped tables and v_contact, for applications and checks.';

DO $grants$
BEGIN
    EXECUTE 'GRANT EXECUTE ON FUNCTION medcrm.territory_regions(name), '
            'medcrm.territory_accounts(name) TO medcrm_admin, medcrm_sales, '
            'medcrm_service, medcrm_quality, medcrm_auditor, medcrm_bi, medcrm_reporter';
END
$grants$;

ALTER TABLE medcrm.account ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_visible ON medcrm.account
    USING ((SELECT medcrm.rls_sees_all()) OR owner_role OPERATOR(pg_catalog.=) CURRENT_USER
           OR region OPERATOR(pg_catalog.=) ANY (SELECT medcrm.territory_regions(CURRENT_USER)))
    WITH CHECK ((SELECT medcrm.rls_sees_all()) OR owner_role OPERATOR(pg_catalog.=) CURRENT_USER
                OR region OPERATOR(pg_catalog.=) ANY (SELECT medcrm.territory_regions(CURRENT_USER)));
COMMENT ON POLICY account_visible ON medcrm.account IS
    'Sales see and write the accounts of their territory or that they own; the other medcrm roles see all.';

-- Every other table with an account_id column (contact, opportunity,
-- work_order, visit, ... and those of later capabilities) gets the policy
-- account_visible in 89_audit_enroll.sql, once all tables exist.

-- Tasks: those of visible accounts, and those assigned to the role itself.
ALTER TABLE medcrm.task ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_visible ON medcrm.task
    USING ((SELECT medcrm.rls_sees_all())
           OR account_id OPERATOR(pg_catalog.=) ANY (SELECT medcrm.territory_accounts(CURRENT_USER))
           OR assignee_role OPERATOR(pg_catalog.=) CURRENT_USER)
    WITH CHECK ((SELECT medcrm.rls_sees_all())
                OR account_id OPERATOR(pg_catalog.=) ANY (SELECT medcrm.territory_accounts(CURRENT_USER))
                OR assignee_role OPERATOR(pg_catalog.=) CURRENT_USER);
COMMENT ON POLICY account_visible ON medcrm.task IS
    'Tasks of the accounts current_user may see, and tasks assigned to it.';

-- Contacts with personal data masked. A definer-rights view (sales have no
-- SELECT on contact.phone, email, national_id), so it filters rows with the
-- same predicate as the RLS policy of contact (written out, see above).
CREATE VIEW medcrm.v_contact WITH (security_barrier) AS
SELECT c.id,
       c.account_id,
       c.department_id,
       c.full_name,
       c.title,
       c.decision_role,
       c.academic_influence,
       medcrm.mask(c.phone, 'phone') AS phone,
       medcrm.mask(c.email, 'email') AS email,
       medcrm.mask(c.national_id, 'national_id') AS national_id,
       c.preferred_channel,
       c.consent_at,
       c.created_at,
       c.updated_at
  FROM medcrm.contact AS c
 WHERE (SELECT medcrm.rls_sees_all())
    OR c.account_id OPERATOR(pg_catalog.=) ANY (SELECT medcrm.territory_accounts(CURRENT_USER));
COMMENT ON VIEW medcrm.v_contact IS
    'Contacts the current role may see, with phone, e-mail and national id masked. Clear values: medcrm.reveal_contact(id, purpose), which is logged.';
COMMENT ON COLUMN medcrm.v_contact.id IS 'Contact id (argument of medcrm.reveal_contact).';
COMMENT ON COLUMN medcrm.v_contact.account_id IS 'The account of the contact.';
COMMENT ON COLUMN medcrm.v_contact.department_id IS 'The department of the contact.';
COMMENT ON COLUMN medcrm.v_contact.full_name IS 'Full name.';
COMMENT ON COLUMN medcrm.v_contact.title IS 'Job title.';
COMMENT ON COLUMN medcrm.v_contact.decision_role IS 'decision_maker, influencer, user or gatekeeper.';
COMMENT ON COLUMN medcrm.v_contact.academic_influence IS 'Academic influence 0-5.';
COMMENT ON COLUMN medcrm.v_contact.phone IS 'Phone, masked: first 3 and last 4 characters (138****1234).';
COMMENT ON COLUMN medcrm.v_contact.email IS 'E-mail, masked: first character and domain (w***@example.org).';
COMMENT ON COLUMN medcrm.v_contact.national_id IS 'National id, masked: first and last character only.';
COMMENT ON COLUMN medcrm.v_contact.preferred_channel IS 'visit, phone, email, wechat or meeting.';
COMMENT ON COLUMN medcrm.v_contact.consent_at IS 'When the contact consented to be contacted.';
COMMENT ON COLUMN medcrm.v_contact.created_at IS 'When the row was created.';
COMMENT ON COLUMN medcrm.v_contact.updated_at IS 'When the row was last updated.';
GRANT SELECT ON medcrm.v_contact TO medcrm_admin, medcrm_sales, medcrm_service,
    medcrm_quality, medcrm_bi, medcrm_reporter;

CREATE FUNCTION medcrm.reveal_contact(contact_id bigint, purpose text)
    RETURNS TABLE (phone text, email text, national_id text)
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'medcrm_reveal_contact';
COMMENT ON FUNCTION medcrm.reveal_contact(bigint, text) IS
    'Clear phone, e-mail and national id of a contact the caller may see (members of medcrm_sales, medcrm_service, medcrm_admin); every call is logged in medcrm.sensitive_access_log with its purpose.';
REVOKE ALL ON FUNCTION medcrm.reveal_contact(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.reveal_contact(bigint, text)
    TO medcrm_admin, medcrm_sales, medcrm_service;

-- Is the running statement an account merge (or its undo) moving references
-- from from_account to to_account? merge_accounts() and unmerge_accounts()
-- name their merge in the setting medcrm.merge_id; anyone can set a setting,
-- so the merge row itself must pair the two accounts. SECURITY DEFINER: the
-- writers of visits cannot read medcrm.account_merge.
CREATE FUNCTION medcrm.merge_repoints(from_account bigint, to_account bigint) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    mid text := nullif(current_setting('medcrm.merge_id', true), '');
BEGIN
    RETURN mid IS NOT NULL AND EXISTS (
        SELECT FROM medcrm.account_merge AS m
         WHERE m.id OPERATOR(pg_catalog.=) mid::bigint
           AND ((m.dup_id OPERATOR(pg_catalog.=) from_account AND m.keep_id OPERATOR(pg_catalog.=) to_account)
             OR (m.keep_id OPERATOR(pg_catalog.=) from_account AND m.dup_id OPERATOR(pg_catalog.=) to_account)));
END
$fn$;
COMMENT ON FUNCTION medcrm.merge_repoints(bigint, bigint) IS
    'True inside medcrm.merge_accounts()/unmerge_accounts() when the merge they run (setting medcrm.merge_id) pairs from_account and to_account: lets triggers that freeze rows accept the re-pointing of an account reference.';
REVOKE ALL ON FUNCTION medcrm.merge_repoints(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.merge_repoints(bigint, bigint)
    TO medcrm_admin, medcrm_sales, medcrm_service, medcrm_quality;

-- Submitted visits are read-only. Re-pointing account_id from a merged
-- account to its survivor (or back, by unmerge_accounts) is the one change
-- allowed; the audit trail records it.
CREATE FUNCTION medcrm.visit_read_only() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF OLD.submitted_at IS NULL THEN
        RETURN CASE WHEN TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE'
       AND (pg_catalog.to_jsonb(OLD) OPERATOR(pg_catalog.-) ARRAY['account_id', 'updated_at'])
           OPERATOR(pg_catalog.=)
           (pg_catalog.to_jsonb(NEW) OPERATOR(pg_catalog.-) ARRAY['account_id', 'updated_at'])
       AND (OLD.account_id IS NOT DISTINCT FROM NEW.account_id
            OR medcrm.merge_repoints(OLD.account_id, NEW.account_id)) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'visit % is submitted and read-only', OLD.id
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = pg_catalog.format('It was submitted at %s; %s is refused.', OLD.submitted_at, TG_OP),
              HINT = 'Record a new visit that refers to this one instead of changing it.';
END
$fn$;
COMMENT ON FUNCTION medcrm.visit_read_only() IS
    'BEFORE UPDATE OR DELETE row trigger of visit: refuses changes to a submitted visit (SQLSTATE 55000), except re-pointing account_id by an account merge or its undo (medcrm.merge_repoints).';
REVOKE ALL ON FUNCTION medcrm.visit_read_only() FROM PUBLIC;
CREATE TRIGGER visit_read_only BEFORE UPDATE OR DELETE ON medcrm.visit
    FOR EACH ROW EXECUTE FUNCTION medcrm.visit_read_only();
