-- 520_audit_security.sql — security review of the whole extension as tests:
-- every SECURITY DEFINER function pins search_path and is not executable by
-- PUBLIC; views readable by row-limited roles are security_invoker or filter
-- rows themselves; no view exposes clear personal data; account-scoped tables
-- have row-level security; objects planted in a schema on the search_path or
-- in pg_temp are never called by medcrm's triggers, functions or policies.
BEGIN;
SELECT plan(13);

-- 1. SECURITY DEFINER functions
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'medcrm'::regnamespace AND p.prosecdef
              AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)),
          NULL, 'every SECURITY DEFINER function sets search_path = pg_catalog, pg_temp');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'medcrm'::regnamespace AND p.prosecdef
              AND has_function_privilege('public', p.oid, 'EXECUTE')),
          NULL, 'no SECURITY DEFINER function is executable by PUBLIC');

-- 2. views
SELECT is((SELECT array_agg(c.relname::text ORDER BY 1) FROM pg_class c
            WHERE c.relnamespace = 'medcrm'::regnamespace AND c.relkind IN ('v', 'm')
              AND c.relname <> 'v_contact'
              AND NOT coalesce(c.reloptions @> ARRAY['security_invoker=true'], false)
              AND (has_table_privilege('medcrm_sales', c.oid, 'SELECT')
                   OR has_table_privilege('medcrm_service', c.oid, 'SELECT')
                   OR has_table_privilege('medcrm_quality', c.oid, 'SELECT'))),
          NULL, 'definer-rights views are granted only to roles that see every row (v_contact filters itself)');
-- every view readable by sales, service, quality, bi or reporter, read with a
-- contact whose personal values are distinctive: none of them shows up
INSERT INTO medcrm.account (id, kind, name, region, lifecycle_stage) VALUES (830900, 'hospital', 'Leak Check', 'East', 'active');
INSERT INTO medcrm.contact (id, account_id, full_name, phone, email, national_id)
VALUES (830900, 830900, 'Leak Check', '19912345678', 'leak.check@example.org', '110101199912319999');
CREATE FUNCTION pg_temp.leaking_views() RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE v text; n bigint; leaks text[] := '{}';
BEGIN
  FOR v IN SELECT c.relname FROM pg_class c
            WHERE c.relnamespace = 'medcrm'::regnamespace AND c.relkind IN ('v', 'm')
              AND (has_table_privilege('medcrm_bi', c.oid, 'SELECT') OR has_table_privilege('medcrm_sales', c.oid, 'SELECT')
                   OR has_table_privilege('medcrm_reporter', c.oid, 'SELECT') OR has_table_privilege('medcrm_service', c.oid, 'SELECT')
                   OR has_table_privilege('medcrm_quality', c.oid, 'SELECT'))
            ORDER BY 1
  LOOP
    EXECUTE format('SELECT count(*) FROM medcrm.%I AS v WHERE v::text ~ %L', v,
                   '19912345678|leak\.check@|110101199912319999') INTO n;
    IF n > 0 THEN leaks := leaks || v; END IF;
  END LOOP;
  RETURN leaks;
END $$;
SELECT is(pg_temp.leaking_views(), '{}'::text[],
          'no view readable by sales, service, quality, bi or reporter shows a clear phone, e-mail or national id');
SELECT ok(NOT has_column_privilege('medcrm_sales', 'medcrm.contact', 'phone', 'SELECT')
          AND NOT has_column_privilege('medcrm_bi', 'medcrm.contact', 'email', 'SELECT')
          AND NOT has_column_privilege('medcrm_service', 'medcrm.contact', 'national_id', 'SELECT')
          AND NOT has_column_privilege('medcrm_reporter', 'medcrm.contact', 'phone', 'SELECT'),
          'no direct access to personal columns for sales, service, bi, reporter');

-- 3. row-level security
SELECT is((SELECT array_agg(c.relname::text ORDER BY 1) FROM pg_class c
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'account_id' AND NOT a.attisdropped
            WHERE c.relnamespace = 'medcrm'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity),
          NULL, 'every table with an account_id has row-level security');
SELECT is((SELECT array_agg(c.relname::text ORDER BY 1) FROM pg_class c
            WHERE c.relnamespace = 'medcrm'::regnamespace AND c.relforcerowsecurity),
          NULL, 'row-level security is never forced (owner functions see every row)');

-- 4. planted objects
CREATE SCHEMA regress_evil;
CREATE TABLE regress_evil.hits (what text);
GRANT USAGE ON SCHEMA regress_evil TO PUBLIC;
GRANT INSERT, SELECT ON regress_evil.hits TO PUBLIC;
CREATE FUNCTION regress_evil.eq8(bigint, bigint) RETURNS boolean LANGUAGE sql AS
  $$ INSERT INTO regress_evil.hits VALUES ('bigint ='); SELECT $1 OPERATOR(pg_catalog.=) $2 $$;
CREATE OPERATOR regress_evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = regress_evil.eq8);
CREATE FUNCTION regress_evil.eqt(text, text) RETURNS boolean LANGUAGE sql AS
  $$ INSERT INTO regress_evil.hits VALUES ('text ='); SELECT $1 OPERATOR(pg_catalog.=) $2 $$;
CREATE OPERATOR regress_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_evil.eqt);
CREATE FUNCTION regress_evil.eqn(name, name) RETURNS boolean LANGUAGE sql AS
  $$ INSERT INTO regress_evil.hits VALUES ('name ='); SELECT $1 OPERATOR(pg_catalog.=) $2 $$;
CREATE OPERATOR regress_evil.= (LEFTARG = name, RIGHTARG = name, FUNCTION = regress_evil.eqn);
CREATE FUNCTION regress_evil.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE sql AS
  $$ INSERT INTO regress_evil.hits VALUES ('unnest'); SELECT x FROM pg_catalog.unnest($1) x $$;
CREATE FUNCTION regress_evil.now() RETURNS timestamptz LANGUAGE sql AS
  $$ INSERT INTO regress_evil.hits VALUES ('now'); SELECT pg_catalog.now() $$;
CREATE FUNCTION regress_evil.to_jsonb(anyelement) RETURNS jsonb LANGUAGE sql AS
  $$ INSERT INTO regress_evil.hits VALUES ('to_jsonb'); SELECT pg_catalog.to_jsonb($1) $$;
CREATE FUNCTION regress_evil.pg_has_role(name, text, text) RETURNS boolean LANGUAGE sql AS
  $$ INSERT INTO regress_evil.hits VALUES ('pg_has_role'); SELECT true $$;
CREATE FUNCTION regress_evil.inet_client_addr() RETURNS inet LANGUAGE sql AS
  $$ INSERT INTO regress_evil.hits VALUES ('inet_client_addr'); SELECT '6.6.6.6'::inet $$;
CREATE TEMP TABLE account (id bigint, region text, owner_role name);
CREATE TEMP TABLE audit_log (id bigint);
CREATE TEMP TABLE sales_territory (role name, region text);
GRANT ALL ON account, audit_log, sales_territory TO PUBLIC;

CREATE ROLE regress_evil_rep NOLOGIN IN ROLE medcrm_sales;
INSERT INTO medcrm.sales_territory (role, region) VALUES ('regress_evil_rep', 'East');
INSERT INTO medcrm.account (id, kind, name, region) VALUES (830001, 'hospital', 'Planted', 'East');
INSERT INTO medcrm.contact (id, account_id, full_name, phone) VALUES (830001, 830001, 'Chen Jie', '13600006666');
INSERT INTO medcrm.visit (id, account_id, channel, started_at, submitted_at) VALUES (830001, 830001, 'call', now(), now());
CREATE TABLE public.regress_planted (id bigint PRIMARY KEY, v text);

SET LOCAL search_path = regress_evil, pg_catalog, public;
SET LOCAL ROLE regress_evil_rep;
INSERT INTO medcrm.account (kind, name, region) VALUES ('clinic', 'Planted Two', 'East');
UPDATE medcrm.account SET city = 'Ningbo' WHERE id = 830001;
SELECT count(*) FROM medcrm.account;
SELECT count(*) FROM medcrm.contact;
SELECT phone FROM medcrm.v_contact WHERE id = 830001;
SELECT phone FROM medcrm.reveal_contact(830001, 'planted test');
SELECT medcrm.account_visible(830001);
SELECT count(*) FROM medcrm.task;
RESET ROLE;
SELECT medcrm.audit_enable('public.regress_planted');
INSERT INTO public.regress_planted VALUES (1, 'a');
UPDATE public.regress_planted SET v = 'b';
DELETE FROM public.regress_planted;
SELECT medcrm.audit_seal();
SELECT ok FROM medcrm.audit_verify();
SELECT id FROM medcrm.audit_head();
SELECT medcrm.audit_purge();
SELECT medcrm.mask('13600006666', 'phone');
DO $$ BEGIN
  UPDATE medcrm.visit SET summary = 'x' WHERE id = 830001;
EXCEPTION WHEN object_not_in_prerequisite_state THEN NULL;
END $$;
RESET search_path;

SELECT is((SELECT array_agg(DISTINCT what) FROM regress_evil.hits), NULL,
          'no planted function or operator was called by medcrm code');
SELECT is((SELECT count(*) FROM medcrm.audit_log WHERE table_name = 'medcrm.account' AND row_id = 830001 AND op = 'UPDATE'), 1::bigint,
          'the audit trigger wrote to the real trail, not to pg_temp.audit_log');
SELECT is((SELECT count(*) FROM pg_temp.audit_log), 0::bigint, 'nothing went to the planted temp table');
SELECT is((SELECT client_addr FROM medcrm.audit_log WHERE table_name = 'medcrm.account' AND row_id = 830001 AND op = 'UPDATE'),
          inet_client_addr(), 'the client address is the real one');
SELECT is((SELECT count(*) FROM medcrm.audit_log WHERE table_name = 'public.regress_planted'), 3::bigint,
          'the enrolled table is audited under a hostile search_path');
SELECT is((SELECT count(*) FROM medcrm.sensitive_access_log WHERE contact_id = 830001), 1::bigint,
          'the reveal was logged in the real log');

SELECT * FROM finish();
ROLLBACK;
