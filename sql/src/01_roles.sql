-- sql/src/01_roles.sql — the group roles of medcrm, created when missing.
--
-- Roles are cluster-wide: they survive DROP EXTENSION and are shared by every
-- database of the cluster that installs medcrm. They are NOLOGIN groups; DBAs
-- grant them to login roles (GRANT medcrm_sales TO alice).

DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['medcrm_admin', 'medcrm_sales', 'medcrm_service',
                             'medcrm_quality', 'medcrm_auditor', 'medcrm_bi',
                             'medcrm_reporter']
    LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$roles$;

GRANT USAGE ON SCHEMA medcrm TO medcrm_admin, medcrm_sales, medcrm_service,
    medcrm_quality, medcrm_auditor, medcrm_bi, medcrm_reporter;

-- The C functions that tables below refer to.
CREATE FUNCTION medcrm.set_updated_at() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'medcrm_set_updated_at';
COMMENT ON FUNCTION medcrm.set_updated_at() IS
    'BEFORE UPDATE row trigger: sets updated_at to now() unless the UPDATE assigns it.';
REVOKE ALL ON FUNCTION medcrm.set_updated_at() FROM PUBLIC;

-- Config tables that ship default rows (sla_policy, rule, tier_model) carry a
-- "shipped" flag. pg_dump dumps all their rows; on restore, CREATE EXTENSION
-- first inserts the shipped defaults again, so this BEFORE INSERT trigger lets a
-- restored row replace the shipped row with the same key (the DBA's edited
-- version wins) instead of failing on the primary key. Arguments: key columns.
CREATE FUNCTION medcrm.replace_shipped_row() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    keys text;
BEGIN
    SELECT string_agg(format('t.%1$I OPERATOR(pg_catalog.=) ($1).%1$I', k), ' AND ')
      INTO keys
      FROM unnest(TG_ARGV) AS k;
    EXECUTE format('DELETE FROM %s AS t WHERE t.shipped AND %s',
                   TG_RELID::regclass, keys)
      USING NEW;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION medcrm.replace_shipped_row() IS
    'BEFORE INSERT row trigger of config tables: an inserted row replaces the shipped default row with the same key (what pg_restore needs).';
REVOKE ALL ON FUNCTION medcrm.replace_shipped_row() FROM PUBLIC;
