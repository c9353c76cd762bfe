#!/usr/bin/env bash
# dump_restore.sh — pg_dump | pg_restore into a second database keeps every row
# of every medcrm table (including edited shipped defaults), and identity
# sequences continue after the restored rows.
source "$(dirname "$0")/lib.sh"

fresh_db dump_src
psql -X -q -v ON_ERROR_STOP=1 -d dump_src -f test/fixtures/one_row_each.sql >/dev/null
if [ -f demo/generate.sql ]; then
  psql -X -q -v ON_ERROR_STOP=1 -d dump_src -v scale=0.05 -v seed=7 -f demo/generate.sql >/dev/null
fi
# Rows numbered by the identity sequences (the fixture uses explicit ids).
q dump_src "INSERT INTO medcrm.product (model_code, name, category) VALUES ('GEN-1', 'One', 'other'), ('GEN-2', 'Two', 'other')"
# A DBA's edit of a shipped default must survive the restore.
q dump_src "UPDATE medcrm.sla_policy SET response_hours = 3 WHERE service_level = 'gold' AND priority = 1"

dump=$(mktemp /tmp/medcrm-dump.XXXXXX)
trap 'rm -f "$dump"' EXIT
pg_dump -Fc -f "$dump" dump_src
dropdb --if-exists dump_dst >/dev/null; createdb dump_dst
# Restore as README "Backup and restore" says: triggers of medcrm stay quiet
# while the restored rows (which already carry their effects) come back.
PGOPTIONS='-c session_replication_role=replica' pg_restore --exit-on-error -d dump_dst "$dump"

src=$(table_digests dump_src)
dst=$(table_digests dump_dst)
[ "$(echo "$src" | wc -l)" -ge 27 ] || fail "expected at least 27 tables, got: $src"
[ "$(echo "$src" | awk '$2 > 0' | wc -l)" -ge 27 ] || fail "fixture left a table empty: $src"
if [ "$src" != "$dst" ]; then
  diff <(echo "$src") <(echo "$dst") >&2
  fail "restored tables differ from the source"
fi
echo "ok - all $(echo "$src" | wc -l) tables restored row for row"

expect_eq "edited shipped default restored" 3.00 \
  "$(q dump_dst "SELECT response_hours FROM medcrm.sla_policy WHERE service_level = 'gold' AND priority = 1")"
expect_eq "shipped defaults not doubled" 16 "$(q dump_dst "SELECT count(*) FROM medcrm.sla_policy")"
expect_eq "identity continues after restored rows" \
  "$(q dump_src "INSERT INTO medcrm.product (model_code, name, category) VALUES ('NEW-1', 'New', 'other') RETURNING id")" \
  "$(q dump_dst "INSERT INTO medcrm.product (model_code, name, category) VALUES ('NEW-1', 'New', 'other') RETURNING id")"
dropdb dump_src; dropdb dump_dst
