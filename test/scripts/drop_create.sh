#!/usr/bin/env bash
# drop_create.sh — DROP EXTENSION removes every medcrm object and CREATE
# EXTENSION works again in the same database; the cluster-wide roles stay.
source "$(dirname "$0")/lib.sh"

fresh_db drop_create
psql -X -q -v ON_ERROR_STOP=1 -d drop_create -f test/fixtures/one_row_each.sql >/dev/null
q drop_create "DROP EXTENSION medcrm"
expect_eq "no medcrm object left" 0 "$(q drop_create "SELECT count(*) FROM pg_class WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = 'medcrm')")"
expect_eq "roles kept" 7 "$(q drop_create "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'medcrm\_%'")"
q drop_create "CREATE EXTENSION medcrm"
expect_eq "tables back, empty" 0 "$(q drop_create "SELECT count(*) FROM medcrm.account")"
expect_eq "shipped defaults back" 16 "$(q drop_create "SELECT count(*) FROM medcrm.sla_policy")"
psql -X -q -v ON_ERROR_STOP=1 -d drop_create -f test/fixtures/one_row_each.sql >/dev/null
echo "ok - usable after re-create"
dropdb drop_create
