#!/usr/bin/env bash
# bench_audit.sh — cost of the audit trail (BENCHMARKS.md "Audit trail").
#
# Three copies of an account-shaped table in schema bench_audit, each with the
# same BEFORE UPDATE updated_at trigger:
#   plain      not audited
#   audited    medcrm.audit_enable (statement-level C trigger, batch insert)
#   community  the common community approach: AFTER ... FOR EACH ROW PL/pgSQL
#              trigger inserting to_jsonb(OLD)/to_jsonb(NEW) into a log table
#              shaped and indexed like medcrm.audit_log
# Each gets a COPY of N rows (default 1,000,000) and an UPDATE of every row
# changing two columns. Chaining is measured by sealing the audited rows with
# medcrm.audit_seal(). Prints the times and the three ratios of the issue:
#   audited / plain (COPY and UPDATE)          target <= 2.0
#   chained / unchained (COPY+UPDATE+seal)     target <= 1.2
#   community / medcrm (COPY+UPDATE)           target >= 3.0
set -euo pipefail
cd "${MEDCRM_TOP:-$(dirname "$0")/../..}"
db=${MEDCRM_BENCH_DB:-medcrm_bench}
n=${MEDCRM_BENCH_AUDIT_ROWS:-1000000}
data="${MEDCRM_CLUSTER:-/tmp}/bench_audit_rows.csv"
sql() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }
# timed SQL: "wall cpu" seconds of the statement. CPU is the backend's own
# user+system time from /proc (the machine may be shared: CPU time is what the
# ratios use; wall time is printed beside it). CHECKPOINT first, so that dirty
# buffers of an earlier step are not charged to this one.
timed() {
  local tmp
  tmp=$(mktemp -d)
  sql >/dev/null <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv PID :pid
CHECKPOINT;
\! awk '{ print \$14 + \$15 }' /proc/\$PID/stat > $tmp/c0; date +%s.%N > $tmp/t0
$1;
\! awk '{ print \$14 + \$15 }' /proc/\$PID/stat > $tmp/c1; date +%s.%N > $tmp/t1
SQL
  awk -v hz="$(getconf CLK_TCK)" 'FNR == 1 { v[FILENAME] = $1 }
       END { printf "%.2f %.2f", v[ARGV[4]] - v[ARGV[3]], (v[ARGV[2]] - v[ARGV[1]]) / hz }' \
      "$tmp/c0" "$tmp/c1" "$tmp/t0" "$tmp/t1"
  rm -rf "$tmp"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

sql >/dev/null <<SQL
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench_audit CASCADE;
CREATE SCHEMA bench_audit;
CREATE TABLE bench_audit.plain (LIKE medcrm.account INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE bench_audit.audited (LIKE bench_audit.plain INCLUDING ALL);
CREATE TABLE bench_audit.community (LIKE bench_audit.plain INCLUDING ALL);
CREATE TABLE bench_audit.community_log (LIKE medcrm.audit_log INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING INDEXES);
CREATE FUNCTION bench_audit.community_trigger() RETURNS trigger LANGUAGE plpgsql AS \$fn\$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO bench_audit.community_log (table_name, op, row_id, new_values, reason, application, client_addr)
    VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP, NEW.id, to_jsonb(NEW),
            current_setting('medcrm.reason', true), current_setting('application_name'), inet_client_addr());
    RETURN NEW;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO bench_audit.community_log (table_name, op, row_id, old_values, new_values, reason, application, client_addr)
    VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP, NEW.id, to_jsonb(OLD), to_jsonb(NEW),
            current_setting('medcrm.reason', true), current_setting('application_name'), inet_client_addr());
    RETURN NEW;
  END IF;
  INSERT INTO bench_audit.community_log (table_name, op, row_id, old_values, reason, application, client_addr)
  VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP, OLD.id, to_jsonb(OLD),
          current_setting('medcrm.reason', true), current_setting('application_name'), inet_client_addr());
  RETURN OLD;
END
\$fn\$;
CREATE TRIGGER community_audit AFTER INSERT OR UPDATE OR DELETE ON bench_audit.community
  FOR EACH ROW EXECUTE FUNCTION bench_audit.community_trigger();
CREATE TRIGGER plain_updated_at BEFORE UPDATE ON bench_audit.plain FOR EACH ROW EXECUTE FUNCTION medcrm.set_updated_at();
CREATE TRIGGER audited_updated_at BEFORE UPDATE ON bench_audit.audited FOR EACH ROW EXECUTE FUNCTION medcrm.set_updated_at();
CREATE TRIGGER community_updated_at BEFORE UPDATE ON bench_audit.community FOR EACH ROW EXECUTE FUNCTION medcrm.set_updated_at();
SELECT medcrm.audit_enable('bench_audit.audited');
SELECT medcrm.audit_seal();
COPY (SELECT (ARRAY['hospital', 'clinic', 'distributor'])[1 + g % 3],
             'Bench account ' || g,
             (ARRAY['East', 'North', 'South', 'West', 'Central'])[1 + g % 5],
             'Province ' || g % 31, 'City ' || g % 300,
             CASE WHEN g % 3 = 0 THEN (ARRAY['3A', '3B', '2A', '2B', '1'])[1 + g % 5] END,
             'tender', 'standard', 'prospect', '{imaging,cardio}', 'TAX' || g, 'rep_' || g % 50
        FROM generate_series(1, $n) g)
  TO '$data' (FORMAT csv);
SQL
cols="kind, name, region, province, city, hospital_grade, procurement_mode, service_level, lifecycle_stage, tags, tax_id, owner_role"
update="SET lifecycle_stage = 'active', city = city || ' (moved)'"

echo "   $n rows per table; seconds as wall/cpu (ratios use CPU time of the backend)"
read -r copy_plain_w copy_plain <<< "$(timed "COPY bench_audit.plain ($cols) FROM '$data' (FORMAT csv)")"
read -r copy_audit_w copy_audit <<< "$(timed "COPY bench_audit.audited ($cols) FROM '$data' (FORMAT csv)")"
read -r copy_comm_w copy_comm <<< "$(timed "COPY bench_audit.community ($cols) FROM '$data' (FORMAT csv)")"
read -r upd_plain_w upd_plain <<< "$(timed "UPDATE bench_audit.plain $update")"
read -r upd_audit_w upd_audit <<< "$(timed "UPDATE bench_audit.audited $update")"
read -r upd_comm_w upd_comm <<< "$(timed "UPDATE bench_audit.community $update")"
read -r seal_w seal <<< "$(timed "SELECT medcrm.audit_seal()")"
rm -f "$data"

audited_rows=$(sql -qAt -c "SELECT count(*) FROM medcrm.audit_log WHERE table_name = 'bench_audit.audited'")
community_rows=$(sql -qAt -c "SELECT count(*) FROM bench_audit.community_log")
read -r verify_w verify <<< "$(timed "SELECT ok FROM medcrm.audit_verify()")"
ok=$(sql -qAt -c "SELECT ok FROM medcrm.audit_verify()")
sizes=$(sql -qAt -c "SELECT pg_size_pretty(pg_total_relation_size('medcrm.audit_log'))
                            || ' medcrm trail vs ' || pg_size_pretty(pg_total_relation_size('bench_audit.community_log')) || ' community log'")

printf '   %-22s %14s %14s %14s\n' "" plain medcrm community
printf '   %-22s %14s %14s %14s\n' "COPY" "$copy_plain_w/$copy_plain" "$copy_audit_w/$copy_audit" "$copy_comm_w/$copy_comm"
printf '   %-22s %14s %14s %14s\n' "UPDATE every row" "$upd_plain_w/$upd_plain" "$upd_audit_w/$upd_audit" "$upd_comm_w/$upd_comm"
printf '   %-22s %14s %14s %14s\n' "audit rows" "" "$audited_rows" "$community_rows"
echo "   audit_seal of the medcrm rows: $seal_w/$seal s; audit_verify of the whole trail: $verify_w/$verify s (ok = $ok)"
echo "   sizes: $sizes"
sum() { awk -v a="$1" -v b="$2" 'BEGIN { print a + b }'; }
unchained=$(sum "$copy_audit" "$upd_audit")
chained=$(sum "$unchained" "$seal")
community=$(sum "$copy_comm" "$upd_comm")
plain=$(sum "$copy_plain" "$upd_plain")
over() { awk -v a="$1" -v b="$2" 'BEGIN { print a - b }'; }
echo "   ratio audited/plain COPY               = $(ratio "$copy_audit" "$copy_plain")   (target <= 2.0)"
echo "   ratio audited/plain UPDATE             = $(ratio "$upd_audit" "$upd_plain")   (target <= 2.0)"
echo "   ratio chained/unchained (COPY+UPDATE)  = $(ratio "$chained" "$unchained")   (target <= 1.2)"
echo "   ratio community/medcrm (COPY+UPDATE)   = $(ratio "$community" "$unchained")   (target >= 3.0)"
echo "   ratio community/medcrm, audit overhead = $(ratio "$(over "$community" "$plain")" "$(over "$unchained" "$plain")")   (time above the unaudited table)"
sql -c "SET client_min_messages = warning" -c "DROP SCHEMA bench_audit CASCADE" >/dev/null
