#!/usr/bin/env bash
# audit_access.sh — row-level security through COPY (which pgTAP cannot
# capture): a sales role copies out only its accounts and contacts, cannot
# COPY personal columns, and cannot COPY rows in past the policies.
source "$(dirname "$0")/lib.sh"
db=audit_access
fresh_db $db
cleanup() { psql -X -q -d postgres -c "DROP ROLE IF EXISTS regress_copy_rep" >/dev/null 2>&1 || true; }
trap cleanup EXIT
psql -X -q -v ON_ERROR_STOP=1 -d $db >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'regress_copy_rep') THEN
    CREATE ROLE regress_copy_rep NOLOGIN IN ROLE medcrm_sales;
  END IF;
END $$;
INSERT INTO medcrm.sales_territory (role, region) VALUES ('regress_copy_rep', 'East');
INSERT INTO medcrm.account (id, kind, name, region) VALUES
  (1, 'hospital', 'East A', 'East'), (2, 'hospital', 'West B', 'West'), (3, 'clinic', 'East C', 'East');
INSERT INTO medcrm.contact (id, account_id, full_name, phone) VALUES (1, 1, 'A', '13811112222'), (2, 2, 'B', '13833334444');
SQL
as_rep() { psql -X -qAt -v ON_ERROR_STOP=1 -d $db -c "SET ROLE regress_copy_rep" -c "$1"; }
expect_eq "COPY table TO returns only visible accounts" "1,3" "$(as_rep "COPY medcrm.account (id) TO STDOUT" | paste -sd,)"
expect_eq "COPY (query) TO returns only visible contacts" "1" "$(as_rep "COPY (SELECT id FROM medcrm.contact ORDER BY id) TO STDOUT" | paste -sd,)"
expect_eq "COPY of v_contact is masked" "1	138****2222" "$(as_rep "COPY (SELECT id, phone FROM medcrm.v_contact) TO STDOUT")"
err=$(as_rep "COPY medcrm.contact (id, phone) TO STDOUT" 2>&1 || true)
echo "$err" | grep -q "permission denied" || fail "COPY of contact.phone: $err"
echo "ok - COPY of personal columns is refused"
err=$(printf 'hospital\tSmuggled\tWest\n' | psql -X -q -d $db -c "SET ROLE regress_copy_rep" -c "COPY medcrm.account (kind, name, region) FROM STDIN" 2>&1 || true)
echo "$err" | grep -q "COPY FROM not supported with row-level security" || fail "COPY FROM under RLS: $err"
echo "ok - COPY FROM is refused under row-level security (use INSERT, which the policies check)"
expect_eq "nothing was smuggled in" 0 "$(q $db "SELECT count(*) FROM medcrm.account WHERE name = 'Smuggled'")"
dropdb $db
