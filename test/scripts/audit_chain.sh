#!/usr/bin/env bash
# audit_chain.sh — the audit chain with real, committed transactions:
# concurrent writers and sealers, a rolled-back transaction, a head kept
# outside the database against which deleting the newest rows is caught,
# sealing refused under a transaction snapshot, retention that removes only
# old whole seals and leaves the rest verifiable, and a dump/restore that
# keeps the chain intact; over TCP the client's address is recorded.
source "$(dirname "$0")/lib.sh"
db=audit_chain
fresh_db $db
verify() { q $db "SELECT ok::text || ' ' || coalesce(first_bad_id::text, '-') FROM medcrm.audit_verify()"; }

# 1. concurrent writers and sealers
writer() {
  for i in $(seq 1 60); do
    psql -X -q -v ON_ERROR_STOP=1 -d $db >/dev/null <<SQL
BEGIN;
SET LOCAL medcrm.reason = 'writer $1 step $i';
INSERT INTO medcrm.product (model_code, name, category) VALUES ('W$1-$i', 'writer $1', 'other');
UPDATE medcrm.product SET name = 'writer $1 updated' WHERE model_code = 'W$1-$i';
SELECT pg_sleep(0.001 * (random() * 3)::int);
COMMIT;
SQL
  done
}
sealer() { for i in $(seq 1 15); do q $db "SELECT medcrm.audit_seal()" >/dev/null; done; }
pids=()
for w in 1 2 3 4; do writer $w & pids+=($!); done
sealer & pids+=($!)
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent writer or sealer failed"; done
expect_eq "480 audit rows from 4 concurrent writers" 480 "$(q $db "SELECT count(*) FROM medcrm.audit_log WHERE table_name = 'medcrm.product'")"
expect_eq "concurrent writes and seals verify" "true -" "$(verify)"
expect_eq "every row checked" "$(q $db "SELECT count(*) FROM medcrm.audit_log")" "$(q $db "SELECT checked FROM medcrm.audit_verify()")"
expect_eq "seals cover ids without overlap" 0 "$(q $db "SELECT count(*) FROM medcrm.audit_seal a JOIN medcrm.audit_seal b ON a.seq + 1 = b.seq WHERE b.first_id <= a.last_id OR b.prev_hash <> a.hash")"

# 2. a rolled-back transaction leaves no row
before=$(q $db "SELECT count(*) FROM medcrm.audit_log")
q $db "BEGIN; INSERT INTO medcrm.product (model_code, name, category) VALUES ('RB-1', 'rolled back', 'other'); ROLLBACK" >/dev/null
expect_eq "rolled-back transaction leaves no audit row" "$before" "$(q $db "SELECT count(*) FROM medcrm.audit_log")"
expect_eq "and the trail still verifies" "true -" "$(verify)"

# 3. the head kept outside; the newest rows deleted by a superuser
head=$(q $db "SELECT id || ' ' || hash FROM medcrm.audit_head()")
echo "$head" > "$MEDCRM_CLUSTER/audit_head.txt"
read -r head_id head_hash < "$MEDCRM_CLUSTER/audit_head.txt"
expect_eq "the saved head matches" "true -" \
  "$(q $db "SELECT ok::text || ' ' || coalesce(first_bad_id::text, '-') FROM medcrm.audit_verify_head($head_id, '$head_hash')")"
q $db "INSERT INTO medcrm.product (model_code, name, category) VALUES ('LATE-1', 'after the head', 'other')" >/dev/null
expect_eq "newer rows do not disturb the saved head" "true -" \
  "$(q $db "SELECT ok::text || ' ' || coalesce(first_bad_id::text, '-') FROM medcrm.audit_verify_head($head_id, '$head_hash')")"
last_seal_first=$(q $db "SELECT first_id FROM medcrm.audit_seal WHERE last_id = $head_id")
psql -X -q -v ON_ERROR_STOP=1 -d $db >/dev/null <<SQL
ALTER TABLE medcrm.audit_log DISABLE TRIGGER audit_log_append_only;
ALTER TABLE medcrm.audit_seal DISABLE TRIGGER audit_seal_append_only;
DELETE FROM medcrm.audit_log WHERE id >= $last_seal_first;
DELETE FROM medcrm.audit_seal WHERE last_id >= $head_id;
ALTER TABLE medcrm.audit_log ENABLE ALWAYS TRIGGER audit_log_append_only;
ALTER TABLE medcrm.audit_seal ENABLE ALWAYS TRIGGER audit_seal_append_only;
SQL
expect_eq "without the saved head the shortened chain looks intact" "true -" "$(verify)"
expect_eq "the saved head names the first deleted row" "false $last_seal_first" \
  "$(q $db "SELECT ok::text || ' ' || coalesce(first_bad_id::text, '-') FROM medcrm.audit_verify_head($head_id, '$head_hash')")"

# 4. sealing needs READ COMMITTED; verify under a snapshot checks what is sealed
err=$(psql -X -q -d $db -c "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT medcrm.audit_seal(); COMMIT" 2>&1 || true)
echo "$err" | grep -q "must run in a READ COMMITTED transaction" || fail "audit_seal under REPEATABLE READ: $err"
echo "ok - audit_seal refuses a transaction snapshot"
expect_eq "audit_verify works under REPEATABLE READ" "t" \
  "$(psql -X -qAt -d $db -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT ok FROM medcrm.audit_verify(1, 10)" -c "COMMIT")"

expect_eq "audit_verify and audit_head work in a read-only transaction" "t" \
  "$(psql -X -qAt -d $db -c "BEGIN READ ONLY" -c "SELECT ok AND (SELECT id FROM medcrm.audit_head()) > 0 FROM medcrm.audit_verify()" -c "COMMIT")"

# 5. retention: only whole seals older than the period, the rest verifiable
rdb=audit_retention
fresh_db $rdb
psql -X -q -v ON_ERROR_STOP=1 -d $rdb >/dev/null <<'SQL'
INSERT INTO medcrm.audit_log (logged_at, table_name, op, row_id)
SELECT '2020-01-01'::timestamptz + g * interval '1 day', 'medcrm.product', 'INSERT', g FROM generate_series(1, 3) g;
SELECT medcrm.audit_seal();
INSERT INTO medcrm.audit_log (logged_at, table_name, op, row_id)
SELECT now() - interval '2 years', 'medcrm.product', 'UPDATE', g FROM generate_series(1, 2) g;
SELECT medcrm.audit_seal();
INSERT INTO medcrm.product (model_code, name, category) VALUES ('RET-1', 'young', 'other');
SQL
rhead=$(q $rdb "SELECT id || ' ' || hash FROM medcrm.audit_head()")
read -r rhead_id rhead_hash <<< "$rhead"
expect_eq "purge removes the seal older than 3 years" 3 "$(q $rdb "SELECT medcrm.audit_purge()")"
expect_eq "rows of 2 years ago stay" 2 "$(q $rdb "SELECT count(*) FROM medcrm.audit_log WHERE logged_at < now() - interval '1 year'")"
expect_eq "purge('1 day') cannot go below the configured period" 0 "$(q $rdb "SELECT medcrm.audit_purge('1 day')")"
expect_eq "an anchor records the removed prefix" "3 3 1" "$(q $rdb "SELECT upto_id || ' ' || rows_removed || ' ' || seal_seq FROM medcrm.audit_anchor ORDER BY id DESC LIMIT 1")"
expect_eq "the rest verifies after the purge" "true -" "$(q $rdb "SELECT ok::text || ' ' || coalesce(first_bad_id::text, '-') FROM medcrm.audit_verify()")"
expect_eq "the head saved before the purge still matches" "true -" \
  "$(q $rdb "SELECT ok::text || ' ' || coalesce(first_bad_id::text, '-') FROM medcrm.audit_verify_head($rhead_id, '$rhead_hash')")"
expect_eq "a superuser may shorten the period" 2 \
  "$(psql -X -qAt -d $rdb -c "SET medcrm.audit_retention_months = 12" -c "SELECT medcrm.audit_purge()")"
expect_eq "the young row is never removed" 1 "$(q $rdb "SELECT count(*) FROM medcrm.audit_log")"
expect_eq "still verifiable" "true -" "$(q $rdb "SELECT ok::text || ' ' || coalesce(first_bad_id::text, '-') FROM medcrm.audit_verify()")"
psql -X -q -d $rdb >/dev/null 2>&1 <<'SQL' || true
ALTER TABLE medcrm.audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE medcrm.audit_log SET reason = 'forged';
ALTER TABLE medcrm.audit_log ENABLE ALWAYS TRIGGER audit_log_append_only;
SQL
err=$(q $rdb "SELECT medcrm.audit_purge()" 2>&1 || true)
echo "$err" | grep -q "audit trail fails verification at row" || fail "purge of a tampered trail: $err"
echo "ok - purge refuses to remove anything from a tampered trail"

# 6. dump and restore keep the chain
src=audit_dump_src; dst=audit_dump_dst
fresh_db $src
q $src "INSERT INTO medcrm.product (model_code, name, category) SELECT 'D-' || g, 'dump ' || g, 'other' FROM generate_series(1, 50) g" >/dev/null
shead=$(q $src "SELECT id || ' ' || hash FROM medcrm.audit_head()")
dump=$(mktemp /tmp/medcrm-audit-dump.XXXXXX)
pg_dump -Fc -f "$dump" $src
dropdb --if-exists $dst >/dev/null; createdb $dst
PGOPTIONS='-c session_replication_role=replica' pg_restore --exit-on-error -d $dst "$dump"
rm -f "$dump"
read -r shead_id shead_hash <<< "$shead"
expect_eq "restored trail verifies against the source head" "true -" \
  "$(q $dst "SELECT ok::text || ' ' || coalesce(first_bad_id::text, '-') FROM medcrm.audit_verify_head($shead_id, '$shead_hash')")"
expect_eq "the restore added no audit rows" "$(q $src "SELECT count(*) FROM medcrm.audit_log")" "$(q $dst "SELECT count(*) FROM medcrm.audit_log")"

# 7. where a change came from: over TCP the client's address and the
# application name are recorded (over the socket client_addr is NULL)
PGAPPNAME=erp-sync psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -d $db \
  -c "INSERT INTO medcrm.product (model_code, name, category) VALUES ('TCP-1', 'over tcp', 'other')"
expect_eq "a change over TCP records client_addr and application" "127.0.0.1|erp-sync" \
  "$(q $db "SELECT host(client_addr) || '|' || application FROM medcrm.audit_log WHERE table_name = 'medcrm.product' AND new_values->>'model_code' = 'TCP-1'")"
q $db "INSERT INTO medcrm.product (model_code, name, category) VALUES ('SOCK-1', 'over the socket', 'other')" >/dev/null
expect_eq "… over the socket client_addr is NULL" "t" \
  "$(q $db "SELECT client_addr IS NULL FROM medcrm.audit_log WHERE table_name = 'medcrm.product' AND new_values->>'model_code' = 'SOCK-1'")"

dropdb $db; dropdb $rdb; dropdb $src; dropdb $dst
