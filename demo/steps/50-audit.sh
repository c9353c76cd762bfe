#!/usr/bin/env bash
# 50-audit.sh — the audit trail: a change with its reason, masked personal data, a reveal, chain head and verification
set -euo pipefail
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
BEGIN;
SET LOCAL medcrm.reason = 'demo: account manager corrected the city after a site visit';
SET LOCAL application_name = 'medcrm demo';
UPDATE medcrm.account SET city = city || ' (verified)'
 WHERE id = (SELECT min(id) FROM medcrm.account WHERE merged_into IS NULL);
SET LOCAL medcrm.reason = 'demo: new mobile number given by the purchaser';
UPDATE medcrm.contact SET phone = '13900001234' WHERE id = (SELECT min(id) FROM medcrm.contact);
COMMIT;
BEGIN;
SELECT * FROM medcrm.reveal_contact((SELECT min(id) FROM medcrm.contact), 'demo: call the purchaser about a tender');
COMMIT;
SQL
psql -X -q -v ON_ERROR_STOP=1 -P footer=off -o "$MEDCRM_OUT/audit.txt" <<'SQL'
\qecho 'Latest changes, as recorded in medcrm.audit_log (the phone is stored masked)'
SELECT id, logged_at, session_role, acting_role, application, table_name, op, row_id,
       old_values, new_values, reason
  FROM medcrm.audit_log WHERE reason LIKE 'demo:%' ORDER BY id DESC LIMIT 2;
\qecho 'Contacts as sales and BI see them (medcrm.v_contact)'
SELECT id, full_name, phone, email, national_id FROM medcrm.v_contact ORDER BY id LIMIT 5;
\qecho 'Reveals of personal data (medcrm.sensitive_access_log)'
SELECT logged_at, role, contact_id, fields, purpose FROM medcrm.sensitive_access_log ORDER BY id DESC LIMIT 5;
\qecho 'Chain head to keep outside the database (medcrm.audit_head)'
SELECT * FROM medcrm.audit_head();
\qecho 'Verification (medcrm.audit_verify)'
SELECT * FROM medcrm.audit_verify();
SQL
psql -X -qAt -v ON_ERROR_STOP=1 -c "SELECT format('   %s audit rows, %s seals; verify ok = %s; head %s',
  (SELECT count(*) FROM medcrm.audit_log), (SELECT count(*) FROM medcrm.audit_seal),
  (SELECT ok FROM medcrm.audit_verify()), (SELECT id || ' ' || left(hash, 16) || '…' FROM medcrm.audit_head()))"
echo "   details in out/audit.txt"
