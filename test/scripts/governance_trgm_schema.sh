#!/usr/bin/env bash
# governance_trgm_schema.sh — the duplicate scan works when pg_trgm lives in
# another schema than public and is not on the search_path: medcrm found its
# schema at install time and qualified every trigram function and operator.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

db=medcrm_trgm_schema
dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db"
trap 'dropdb --if-exists "$db" >/dev/null 2>&1' EXIT
q "$db" "CREATE SCHEMA trgm_home; CREATE EXTENSION pg_trgm SCHEMA trgm_home; SET client_min_messages = warning; CREATE EXTENSION medcrm" >/dev/null
q "$db" "INSERT INTO medcrm.account (id, kind, name, city) VALUES
           (1, 'distributor', 'Huadong Medical Equipment', 'Nanjing'),
           (2, 'distributor', 'Huadong Medical Equipmnt', 'Nanjing')" >/dev/null

expect_eq "find_duplicate_accounts with pg_trgm outside the search_path" "1|2|{similar_name,same_city}" \
  "$(q "$db" "SET search_path = public; SELECT account_a, account_b, reasons FROM medcrm.find_duplicate_accounts()")"
expect_eq "find_similar_accounts uses the trigram operator of that schema" "1,2" \
  "$(q "$db" "SET search_path = public; SELECT string_agg(account_id::text, ',' ORDER BY account_id) FROM medcrm.find_similar_accounts('Huadong Medical Equipment Co., Ltd.', 'Nanjing')")"
expect_eq "the trigram index was built with that schema's operator class" "trgm_home.gin_trgm_ops" \
  "$(q "$db" "SELECT opc.opcnamespace::regnamespace || '.' || opc.opcname FROM pg_index i JOIN pg_opclass opc ON opc.oid = i.indclass[0] WHERE i.indexrelid = 'medcrm.account_name_key_trgm_idx'::regclass")"
