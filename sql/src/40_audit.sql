-- sql/src/40_audit.sql — the tamper-evident audit trail (C in extension/audit.c).
--
--   medcrm.audit_trigger()      statement-level AFTER trigger with transition
--                               tables; one audit_log row per changed row
--   medcrm.audit_enable(t, ...) enrolls a table (the install enrolls every
--                               business table in 89_audit_enroll.sql)
--   medcrm.audit_seal()         chains committed rows into audit_seal
--   medcrm.audit_verify(...)    checks rows and chain, names the first bad row
--   medcrm.audit_verify_head()  the same, against a head recorded earlier
--   medcrm.audit_head()         the chain head to keep outside the database
--   medcrm.audit_purge()        retention: removes whole seals older than
--                               medcrm.audit_retention_months (default 36)
--   medcrm.audit_guard()        makes the trail tables append-only
-- See docs/audit.md.

CREATE FUNCTION medcrm.audit_trigger() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'medcrm_audit_trigger';
COMMENT ON FUNCTION medcrm.audit_trigger() IS
    'AFTER ... FOR EACH STATEMENT trigger with transition tables: writes one medcrm.audit_log row per changed row (as the trail''s owner). Arguments: -column (not compared by UPDATE), *column (stored masked).';
REVOKE ALL ON FUNCTION medcrm.audit_trigger() FROM PUBLIC;

CREATE FUNCTION medcrm.audit_guard() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'medcrm_audit_guard';
COMMENT ON FUNCTION medcrm.audit_guard() IS
    'BEFORE UPDATE OR DELETE OR TRUNCATE statement trigger (ENABLE ALWAYS) of the trail tables: refuses the statement for every role, the owner included.';
REVOKE ALL ON FUNCTION medcrm.audit_guard() FROM PUBLIC;

DO $guards$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['audit_log', 'audit_seal', 'audit_anchor', 'sensitive_access_log']
    LOOP
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER %I BEFORE UPDATE OR DELETE OR TRUNCATE ON medcrm.%I '
            'FOR EACH STATEMENT EXECUTE FUNCTION medcrm.audit_guard()', t || '_append_only', t);
        -- Fires in replica mode too (restores insert, never update or delete).
        EXECUTE pg_catalog.format('ALTER TABLE medcrm.%I ENABLE ALWAYS TRIGGER %I',
                                  t, t || '_append_only');
    END LOOP;
END
$guards$;

CREATE FUNCTION medcrm.audit_seal() RETURNS bigint
    LANGUAGE c VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'medcrm_audit_seal';
COMMENT ON FUNCTION medcrm.audit_seal() IS
    'Chains every committed, unsealed audit row into medcrm.audit_seal (waits for running writers of the trail); returns the rows sealed. Run it in READ COMMITTED, e.g. every minute from cron; audit_verify and audit_head call it too.';
REVOKE ALL ON FUNCTION medcrm.audit_seal() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.audit_seal() TO medcrm_admin, medcrm_auditor, medcrm_reporter;

CREATE FUNCTION medcrm.audit_verify(from_id bigint DEFAULT NULL, to_id bigint DEFAULT NULL)
    RETURNS TABLE (ok boolean, checked bigint, first_bad_id bigint, head_hash text)
    LANGUAGE c VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'medcrm_audit_verify';
COMMENT ON FUNCTION medcrm.audit_verify(bigint, bigint) IS
    'Seals what is committed, then recomputes every row hash (ids from_id..to_id, all when NULL) and every seal of the chain: ok, rows checked, the first changed, deleted, inserted or moved row id, and the chain head hash.';
REVOKE ALL ON FUNCTION medcrm.audit_verify(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.audit_verify(bigint, bigint)
    TO medcrm_admin, medcrm_auditor, medcrm_reporter;

CREATE FUNCTION medcrm.audit_verify_head(head_id bigint, head_hash text)
    RETURNS TABLE (ok boolean, checked bigint, first_bad_id bigint, head_hash text)
    LANGUAGE c VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'medcrm_audit_verify_head';
COMMENT ON FUNCTION medcrm.audit_verify_head(bigint, text) IS
    'audit_verify() of the whole trail plus: the head (id, hash) that medcrm.audit_head() returned earlier must still be in the chain with the same hash, so removing the newest rows and their seals is caught too.';
REVOKE ALL ON FUNCTION medcrm.audit_verify_head(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.audit_verify_head(bigint, text)
    TO medcrm_admin, medcrm_auditor, medcrm_reporter;

CREATE FUNCTION medcrm.audit_head() RETURNS TABLE (id bigint, hash text)
    LANGUAGE c VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'medcrm_audit_head';
COMMENT ON FUNCTION medcrm.audit_head() IS
    'Seals what is committed and returns the chain head: the last sealed audit_log id and the hash of its seal (hex). Keep it outside the database; check it later with medcrm.audit_verify_head(id, hash).';
REVOKE ALL ON FUNCTION medcrm.audit_head() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION medcrm.audit_head() TO medcrm_admin, medcrm_auditor, medcrm_reporter;

CREATE FUNCTION medcrm.audit_purge(older_than interval DEFAULT NULL) RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'medcrm_audit_purge';
COMMENT ON FUNCTION medcrm.audit_purge(interval) IS
    'Retention (superuser): verifies the trail, then removes the oldest whole seals whose rows are all older than greatest(older_than, medcrm.audit_retention_months) and records an anchor so the rest stays verifiable; returns the rows removed.';
REVOKE ALL ON FUNCTION medcrm.audit_purge(interval) FROM PUBLIC;

CREATE FUNCTION medcrm.mask(value text, kind text) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'medcrm_mask';
COMMENT ON FUNCTION medcrm.mask(text, text) IS
    'Masked display form of personal data: kind phone (138****1234), email (w***@example.org) or national_id (1****************8).';

-- Enrolling a table: four triggers (transition tables allow one event each).
CREATE FUNCTION medcrm.audit_enable(target regclass,
                                    ignore_columns text[] DEFAULT NULL,
                                    mask_columns text[] DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel record;
    col text;
    args text := '';
    ev record;
BEGIN
    SELECT c.relkind, c.relispartition, n.nspname, c.relname
      INTO rel
      FROM pg_catalog.pg_class AS c
      JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE c.oid OPERATOR(pg_catalog.=) target;
    IF rel.relkind OPERATOR(pg_catalog.<>) ALL (ARRAY['r', 'p']::"char"[]) THEN
        RAISE EXCEPTION 'cannot audit "%"', target
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'Only ordinary and partitioned tables can be audited.',
                  HINT = 'Enroll the table the view or foreign table reads from.';
    END IF;
    IF rel.nspname OPERATOR(pg_catalog.=) 'medcrm'
       AND rel.relname OPERATOR(pg_catalog.=) ANY
           (ARRAY['audit_log', 'audit_seal', 'audit_anchor', 'sensitive_access_log']) THEN
        RAISE EXCEPTION 'cannot audit the audit trail table "%"', target
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The trail tables are append-only and sealed; auditing them would recurse.',
                  HINT = 'Enroll business tables only.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_index AS i
                    WHERE i.indrelid OPERATOR(pg_catalog.=) target AND i.indisprimary) THEN
        RAISE EXCEPTION 'table "%" has no primary key', target
            USING ERRCODE = 'invalid_table_definition',
                  DETAIL = 'Audit rows identify the changed row by its id or primary key.',
                  HINT = 'Add a primary key, then enroll the table.';
    END IF;
    IF ignore_columns IS NULL THEN
        ignore_columns := ARRAY['updated_at'];
    END IF;
    FOREACH col IN ARRAY ignore_columns || coalesce(mask_columns, '{}'::text[]) LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                        WHERE a.attrelid OPERATOR(pg_catalog.=) target
                          AND a.attname OPERATOR(pg_catalog.=) col
                          AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped) THEN
            IF col OPERATOR(pg_catalog.=) 'updated_at'
               AND NOT col OPERATOR(pg_catalog.=) ANY (coalesce(mask_columns, '{}'::text[])) THEN
                CONTINUE;       -- the default, for tables without updated_at
            END IF;
            RAISE EXCEPTION 'column "%" of "%" does not exist', col, target
                USING ERRCODE = 'undefined_column',
                      HINT = 'List existing columns in ignore_columns and mask_columns.';
        END IF;
    END LOOP;
    SELECT pg_catalog.string_agg(pg_catalog.quote_literal(a), ', ')
      INTO args
      FROM (SELECT '-' OPERATOR(pg_catalog.||) x AS a
              FROM pg_catalog.unnest(ignore_columns) AS x
             WHERE EXISTS (SELECT FROM pg_catalog.pg_attribute AS at
                            WHERE at.attrelid OPERATOR(pg_catalog.=) target
                              AND at.attname OPERATOR(pg_catalog.=) x
                              AND at.attnum OPERATOR(pg_catalog.>) 0 AND NOT at.attisdropped)
            UNION ALL
            SELECT '*' OPERATOR(pg_catalog.||) x FROM pg_catalog.unnest(mask_columns) AS x) AS s;
    args := coalesce(args, '');

    FOR ev IN SELECT * FROM (VALUES ('ins', 'INSERT', 'REFERENCING NEW TABLE AS medcrm_new'),
                                    ('upd', 'UPDATE', 'REFERENCING OLD TABLE AS medcrm_old NEW TABLE AS medcrm_new'),
                                    ('del', 'DELETE', 'REFERENCING OLD TABLE AS medcrm_old'),
                                    ('trunc', 'TRUNCATE', '')) AS v(suffix, event, referencing)
    LOOP
        IF EXISTS (SELECT FROM pg_catalog.pg_trigger AS tg
                    WHERE tg.tgrelid OPERATOR(pg_catalog.=) target
                      AND tg.tgname OPERATOR(pg_catalog.=) ('medcrm_audit_' OPERATOR(pg_catalog.||) ev.suffix)) THEN
            EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s',
                                      'medcrm_audit_' OPERATOR(pg_catalog.||) ev.suffix, target);
        END IF;
        EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER %s ON %s %s FOR EACH STATEMENT '
                                  'EXECUTE FUNCTION medcrm.audit_trigger(%s)',
                                  'medcrm_audit_' OPERATOR(pg_catalog.||) ev.suffix, ev.event,
                                  target, ev.referencing, args);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION medcrm.audit_enable(regclass, text[], text[]) IS
    'Enrolls a table in the audit trail (run again to change options): ignore_columns are not compared by UPDATE (default {updated_at}), mask_columns are stored masked. Needs ownership of the table.';
REVOKE ALL ON FUNCTION medcrm.audit_enable(regclass, text[], text[]) FROM PUBLIC;
