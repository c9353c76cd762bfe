#!/usr/bin/env bash
# scoring_dump_restore.sh — tiers, models and history survive pg_dump/pg_restore:
# the restored database has the same active model (not the shipped default
# CREATE EXTENSION installs first, even when the dump lists the default after
# the active model), the same tiers and the same history, and rescoring the
# restored copy changes nothing.
source "$(dirname "$0")/lib.sh"

fresh_db scoring_src
q scoring_src "INSERT INTO medcrm.account (id, kind, name, region, hospital_grade)
               VALUES (1, 'hospital', 'Restore General', 'East', '3A'), (2, 'clinic', 'Restore Clinic', 'West', NULL)" >/dev/null
q scoring_src "INSERT INTO medcrm.sales_order (account_id, ordered_on, amount, gross_margin)
               VALUES (1, current_date - 30, 900000, 300000)" >/dev/null
q scoring_src "INSERT INTO medcrm.tier_model (id, name, version, weights, thresholds)
               SELECT 2, 'default', 2, weights, '{\"A\": 40, \"B\": 30, \"C\": 20}' FROM medcrm.tier_model WHERE id = 1" >/dev/null
q scoring_src "SELECT medcrm.activate_model(2)" >/dev/null
q scoring_src "SELECT medcrm.rescore()" >/dev/null
q scoring_src "UPDATE medcrm.account SET tier_override = 'A', tier_override_reason = 'restore probe' WHERE id = 2" >/dev/null
# The default row is updated last, so the dump lists it after model 2.
q scoring_src "UPDATE medcrm.tier_model SET note = 'superseded by version 2' WHERE id = 1" >/dev/null

dump=$(mktemp /tmp/medcrm-scoring-dump.XXXXXX)
trap 'rm -f "$dump"' EXIT
pg_dump -Fc -f "$dump" scoring_src
dropdb --if-exists scoring_dst >/dev/null; createdb scoring_dst
PGOPTIONS='-c session_replication_role=replica' pg_restore --exit-on-error -d scoring_dst "$dump"

for sql in "SELECT string_agg(id || ':' || active || ':' || shipped || ':' || coalesce(note, ''), ',' ORDER BY id) FROM medcrm.tier_model" \
           "SELECT string_agg(id || ':' || tier || ':' || tier_score || ':' || coalesce(tier_override, '-'), ',' ORDER BY id) FROM medcrm.account" \
           "SELECT string_agg(account_id || ':' || coalesce(old_tier, '-') || '>' || new_tier || ':' || coalesce(model_id::text, '-') || ':' || reason, ',' ORDER BY id) FROM medcrm.tier_history"; do
  expect_eq "restored: $sql" "$(q scoring_src "$sql")" "$(q scoring_dst "$sql")"
done
expect_eq "the restored active model is version 2" "2" "$(q scoring_dst "SELECT id FROM medcrm.tier_model WHERE active")"
expect_eq "rescoring the restored copy changes nothing" "0" "$(q scoring_dst "SELECT medcrm.rescore()")"
dropdb scoring_src; dropdb scoring_dst
