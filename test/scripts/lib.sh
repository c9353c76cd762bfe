# lib.sh — small helpers for medcrm's shell tests (sourced, not run).
# The suite runner exports PGHOST/PGPORT/PGUSER for the throwaway cluster.
set -euo pipefail
cd "${MEDCRM_TOP:-$(dirname "${BASH_SOURCE[0]}")/../..}"

fail() { echo "FAIL: $*" >&2; exit 1; }
# q DB SQL: one value, unaligned
q() { psql -X -v ON_ERROR_STOP=1 -qAt -d "$1" -c "$2"; }
# expect_eq WHAT EXPECTED ACTUAL
expect_eq() { [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"; echo "ok - $1"; }
# fresh_db DB: a new database with medcrm installed
fresh_db() {
  dropdb --if-exists "$1" >/dev/null
  createdb "$1"
  q "$1" "CREATE EXTENSION medcrm CASCADE" >/dev/null 2>&1 || q "$1" "CREATE EXTENSION medcrm CASCADE"
}
# table_digests DB: "table rows md5" for every medcrm table, sorted
table_digests() {
  psql -X -qAt -d "$1" -v ON_ERROR_STOP=1 <<'SQL'
DO $$ BEGIN
  CREATE TEMP TABLE digest (tbl text, n bigint, md5 text);
  DECLARE t text; BEGIN
    FOR t IN SELECT c.relname FROM pg_class c
              WHERE c.relnamespace = 'medcrm'::regnamespace AND c.relkind IN ('r','p')
                AND NOT c.relispartition ORDER BY 1
    LOOP
      EXECUTE format('INSERT INTO digest SELECT %L, count(*), md5(coalesce(string_agg(x::text, ''|'' ORDER BY x::text), '''')) FROM medcrm.%I x', t, t);
    END LOOP;
  END;
END $$;
SELECT tbl || ' ' || n || ' ' || md5 FROM digest ORDER BY tbl;
SQL
}
