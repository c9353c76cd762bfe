-- 501_audit_chain.sql — the hash chain: sealing, verification, each tamper
-- case named by its row id (a superuser with the guards disabled updates,
-- deletes, inserts, reorders, rewrites a seal, deletes the newest rows against
-- a saved head), retention, and the superuser-only settings.
BEGIN;
SELECT plan(35);

CREATE FUNCTION pg_temp.change(n int) RETURNS void LANGUAGE sql AS $$
  INSERT INTO medcrm.product (model_code, name, category)
  SELECT 'CHAIN-' || g || '-' || pg_catalog.clock_timestamp(), 'chain test', 'other' FROM generate_series(1, n) g
$$;
CREATE FUNCTION pg_temp.verify() RETURNS text LANGUAGE sql AS $$
  SELECT ok::text || ' ' || coalesce(first_bad_id::text, '-') FROM medcrm.audit_verify()
$$;
CREATE FUNCTION pg_temp.tamper(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  ALTER TABLE medcrm.audit_log DISABLE TRIGGER audit_log_append_only;
  ALTER TABLE medcrm.audit_seal DISABLE TRIGGER audit_seal_append_only;
  EXECUTE sql;
  r := pg_temp.verify();
  RAISE EXCEPTION USING ERRCODE = 'RGRSS', MESSAGE = r;   -- undo the tampering
EXCEPTION WHEN SQLSTATE 'RGRSS' THEN
  RETURN SQLERRM;
END
$$;

-- a gap in the ids (a rolled-back change), then rows to seal
SAVEPOINT gap;
SELECT pg_temp.change(1);
ROLLBACK TO gap;
SELECT pg_temp.change(5);
CREATE TEMP TABLE r AS SELECT array_agg(id ORDER BY id) AS ids FROM medcrm.audit_log
 WHERE id > coalesce((SELECT max(last_id) FROM medcrm.audit_seal), 0);

SELECT cmp_ok(medcrm.audit_seal(), '>=', 5::bigint, 'audit_seal chains the new rows');
SELECT is(medcrm.audit_seal(), 0::bigint, 'sealing again finds nothing new');
SELECT is(pg_temp.verify(), 'true -', 'an untouched trail verifies');
SELECT is((SELECT checked FROM medcrm.audit_verify()), (SELECT count(*) FROM medcrm.audit_log), 'every row is checked');
SELECT is((SELECT head_hash FROM medcrm.audit_verify()), (SELECT hash FROM medcrm.audit_head()), 'verify reports the head that audit_head gives');
SELECT is((SELECT id FROM medcrm.audit_head()), (SELECT max(id) FROM medcrm.audit_log), 'the head is the newest row');
SELECT matches((SELECT hash FROM medcrm.audit_head()), '^[0-9a-f]{64}$', 'the head hash is 64 hex digits');
SELECT is((SELECT checked FROM medcrm.audit_verify((SELECT ids[2] FROM r), (SELECT ids[3] FROM r))), 2::bigint,
          'a range checks only its rows');

-- tampering
SELECT is(pg_temp.tamper(format('UPDATE medcrm.audit_log SET reason = %L WHERE id = %s', 'forged', (SELECT ids[2] FROM r))),
          'false ' || (SELECT ids[2] FROM r), 'an updated row is named');
SELECT is(pg_temp.tamper(format($$UPDATE medcrm.audit_log SET new_values = new_values || '{"name": "x"}' WHERE id = %s$$, (SELECT ids[4] FROM r))),
          'false ' || (SELECT ids[4] FROM r), 'changed values are named');
SELECT is(pg_temp.tamper(format('DELETE FROM medcrm.audit_log WHERE id = %s', (SELECT ids[3] FROM r))),
          'false ' || (SELECT ids[3] FROM r), 'a row deleted in the middle is named');
SELECT is(pg_temp.tamper(format($$INSERT INTO medcrm.audit_log (id, table_name, op) VALUES (%s, 'medcrm.product', 'DELETE')$$, (SELECT ids[1] - 1 FROM r))),
          'false ' || (SELECT ids[1] - 1 FROM r), 'a row inserted into the sealed part is named');
SELECT is(pg_temp.tamper(format('UPDATE medcrm.audit_log SET id = -id WHERE id = %1$s; UPDATE medcrm.audit_log SET id = %1$s WHERE id = %2$s; UPDATE medcrm.audit_log SET id = %2$s WHERE id = -%1$s',
                                (SELECT ids[2] FROM r), (SELECT ids[3] FROM r))),
          'false ' || (SELECT ids[2] FROM r), 'two reordered rows: the first is named');
SELECT is(pg_temp.tamper(format('UPDATE medcrm.audit_log SET logged_at = logged_at - interval ''1 day'' WHERE id = %s', (SELECT ids[5] FROM r))),
          'false ' || (SELECT ids[5] FROM r), 'a back-dated row is named');
CREATE TEMP TABLE last_seal AS SELECT seq, first_id FROM medcrm.audit_seal ORDER BY seq DESC LIMIT 1;
SELECT is(pg_temp.tamper(format('UPDATE medcrm.audit_seal SET entries = set_byte(entries, 19, 255 - get_byte(entries, 19)) WHERE seq = %s', (SELECT seq FROM last_seal))),
          'false ' || (SELECT first_id FROM last_seal),
          'a rewritten seal is named by its first row');
SELECT is(pg_temp.verify(), 'true -', 'the trail is intact again after the rolled-back tampering');

-- deleting the newest rows: caught against a saved head
SELECT pg_temp.change(3);
CREATE TEMP TABLE saved AS SELECT * FROM medcrm.audit_head();
CREATE TEMP TABLE newest AS SELECT min(id) AS id FROM medcrm.audit_log WHERE id > (SELECT ids[5] FROM r);
SELECT is((SELECT ok::text || ' ' || coalesce(first_bad_id::text, '-') FROM medcrm.audit_verify_head((SELECT id FROM saved), (SELECT hash FROM saved))),
          'true -', 'the trail matches the head saved earlier');
CREATE FUNCTION pg_temp.tamper_head(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  ALTER TABLE medcrm.audit_log DISABLE TRIGGER audit_log_append_only;
  ALTER TABLE medcrm.audit_seal DISABLE TRIGGER audit_seal_append_only;
  EXECUTE sql;
  r := pg_temp.verify() || ' / ' ||
       (SELECT ok::text || ' ' || coalesce(first_bad_id::text, '-')
          FROM medcrm.audit_verify_head((SELECT id FROM saved), (SELECT hash FROM saved)));
  RAISE EXCEPTION USING ERRCODE = 'RGRSS', MESSAGE = r;
EXCEPTION WHEN SQLSTATE 'RGRSS' THEN
  RETURN SQLERRM;
END
$$;
SELECT is(pg_temp.tamper_head(format('DELETE FROM medcrm.audit_log WHERE id >= %s', (SELECT id FROM newest))),
          format('false %1$s / false %1$s', (SELECT id FROM newest)), 'newest rows deleted, their seal kept: named');
SELECT is(pg_temp.tamper_head(format('DELETE FROM medcrm.audit_log WHERE id >= %s; DELETE FROM medcrm.audit_seal WHERE seq = (SELECT max(seq) FROM medcrm.audit_seal)', (SELECT id FROM newest))),
          format('true - / false %s', (SELECT id FROM newest)),
          'newest rows and their seal deleted: the chain alone looks fine, the saved head names the first missing row');
SELECT throws_ok($$SELECT * FROM medcrm.audit_verify_head(1, 'abc')$$, '22023', 'invalid audit head hash "abc"', 'a malformed head hash is refused');
SELECT throws_ok($$SELECT * FROM medcrm.audit_verify_head(1, NULL)$$, '22004', 'expected head must not be null', 'a NULL head is refused');

-- retention never removes young rows (removal itself: test/scripts/audit_chain.sh)
SELECT is(medcrm.audit_purge(), 0::bigint, 'nothing younger than the retention period is removed');
SELECT is(medcrm.audit_purge('1 second'), 0::bigint, 'a shorter period than medcrm.audit_retention_months does not lower it');
SELECT is(pg_temp.verify(), 'true -', 'the trail still verifies after a purge that removed nothing');

-- settings and rights that could switch auditing off are superuser-only
CREATE ROLE regress_chain_admin NOLOGIN IN ROLE medcrm_admin;
CREATE ROLE regress_chain_auditor NOLOGIN IN ROLE medcrm_auditor;
CREATE ROLE regress_chain_sales NOLOGIN IN ROLE medcrm_sales;
SET LOCAL ROLE regress_chain_admin;
SELECT throws_ok($$SET medcrm.audit_retention_months = 1$$, '42501', NULL, 'medcrm.audit_retention_months is superuser-only');
SELECT throws_ok($$SET session_replication_role = replica$$, '42501', NULL, 'session_replication_role (no triggers) is superuser-only');
SELECT throws_ok($$ALTER TABLE medcrm.audit_log DISABLE TRIGGER audit_log_append_only$$, '42501', NULL, 'medcrm_admin cannot disable the guard');
SELECT throws_ok($$ALTER TABLE medcrm.account DISABLE TRIGGER medcrm_audit_upd$$, '42501', NULL, 'medcrm_admin cannot disable auditing of a table');
SELECT throws_ok($$SELECT medcrm.audit_purge()$$, '42501', NULL, 'medcrm_admin cannot purge the trail');
SELECT throws_ok($$INSERT INTO medcrm.audit_log (table_name, op) VALUES ('medcrm.account', 'INSERT')$$, '42501', NULL, 'medcrm_admin cannot write the trail directly');
SELECT lives_ok($$SET LOCAL medcrm.reason = 'anyone may give a reason'$$, 'medcrm.reason is settable by every role');
RESET ROLE;
SET LOCAL ROLE regress_chain_auditor;
SELECT is((SELECT ok FROM medcrm.audit_verify()), true, 'an auditor runs audit_verify');
SELECT is((SELECT id FROM medcrm.audit_head()), (SELECT max(id) FROM medcrm.audit_log), 'an auditor reads the head');
RESET ROLE;
SET LOCAL ROLE regress_chain_sales;
SELECT throws_ok($$SELECT * FROM medcrm.audit_verify()$$, '42501', NULL, 'sales cannot run audit_verify');
SELECT throws_ok($$SELECT * FROM medcrm.audit_log$$, '42501', NULL, 'sales cannot read the trail');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
