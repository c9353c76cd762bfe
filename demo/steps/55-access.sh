#!/usr/bin/env bash
# 55-access.sh — graded access: a regional sales rep sees only its territory, masked contacts, no tier writes (out/access.txt)
set -euo pipefail
out=$MEDCRM_OUT
psql_q() { psql -X -qAt -v ON_ERROR_STOP=1 -c "$1"; }

# The demo data names its regional reps rep_<region> (account.owner_role and
# medcrm.sales_territory). Logins are the DBA's to create; the demo creates
# them without a password, as members of medcrm_sales, when they are missing.
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
DO $roles$
DECLARE
    r name;
BEGIN
    FOR r IN SELECT DISTINCT role FROM medcrm.sales_territory WHERE role LIKE 'rep\_%' ORDER BY 1 LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN IN ROLE medcrm_sales', r);
        END IF;
    END LOOP;
END
$roles$;
SQL

rep=$(psql_q "SELECT min(role) FROM medcrm.sales_territory WHERE role LIKE 'rep\_%'")
region=$(psql_q "SELECT string_agg(region, ', ' ORDER BY region) FROM medcrm.sales_territory WHERE role = '$rep'")
all=$(psql_q "SELECT count(*) FROM medcrm.account")

# What the rep sees, through the same row-level security as its own session.
as_rep() { psql -X -qAt -v ON_ERROR_STOP=1 -c "SET ROLE $rep" -c "$1"; }
seen=$(as_rep "SELECT count(*) FROM medcrm.account")
outside=$(as_rep "SELECT count(*) FROM medcrm.account WHERE region IS DISTINCT FROM '$region' AND owner_role IS DISTINCT FROM current_user")
echo "   $rep (territory $region) sees $seen of $all accounts; outside its territory: $outside"

denied=$( (psql -X -qAt -v VERBOSITY=verbose -c "SET ROLE $rep" \
  -c "UPDATE medcrm.account SET tier = 'A' WHERE id = (SELECT min(id) FROM medcrm.account)" 2>&1 || true) |
  sed -n 's/^ERROR: *\([0-9A-Z]*\): \(.*\)/\1 \2/p' | head -1)
echo "   writing a computed tier as $rep: ${denied:-allowed (unexpected)}"

psql -X -q -v ON_ERROR_STOP=1 -P footer=off -o "$out/access.txt" <<SQL
SET ROLE $rep;
\qecho 'Accounts $rep sees, by region (row-level security: territory $region, plus the accounts it owns)'
SELECT coalesce(region, '(none)') AS region, count(*) AS accounts
  FROM medcrm.account GROUP BY 1 ORDER BY 1;
\qecho 'Contacts as $rep sees them (medcrm.v_contact: phone, e-mail and national id masked)'
SELECT id, account_id, full_name, phone, email, national_id FROM medcrm.v_contact ORDER BY id LIMIT 5;
\qecho 'Open tasks $rep sees (its territory, and tasks assigned to it)'
SELECT kind, count(*) AS open_tasks FROM medcrm.task
 WHERE status IN ('open', 'in_progress') GROUP BY kind ORDER BY kind;
SQL
echo "   details in out/access.txt"
