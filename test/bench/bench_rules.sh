#!/usr/bin/env bash
# bench_rules.sh — what medcrm's rule triggers cost on bulk loads, and what
# run_time_rules() costs over the rows it has to find.
#
# Run by test/bench/run-all.sh (make bench) on its throwaway cluster; uses its
# own database medcrm_bench_rules so that the shared medcrm_bench stays intact.
# Rows: MEDCRM_BENCH_SCALE * 2000 contracts and work orders (1M at the default
# scale 500), over scale * 400 accounts.
#
#   1. COPY of the contracts: no rule triggers / medcrm's triggers / the same
#      behaviour as row-level PL/pgSQL triggers (defined here only);
#   2. the same for the work orders (deadlines, routing and dispatch tasks);
#   3. run_time_rules() over all contracts vs the bare SELECT of the due rows.
# Prints each time and the ratios; the figures go into BENCHMARKS.md.
#
#   MEDCRM_BENCH_RULES_PART=time|copy|wo  part 3 only / parts 1 and 2 only /
#                                      the work orders of part 2 only (no
#                                      contracts, no PL/pgSQL variant)
#   MEDCRM_BENCH_RULES_REPEAT=n        n rounds of every measurement (default 3);
#                                      ratios are taken within a round and
#                                      reported as median [min-max] over rounds
#   MEDCRM_BENCH_RULES_SCALE=n         row scale of this benchmark (default
#                                      MEDCRM_BENCH_SCALE), so that the shared
#                                      medcrm_bench can stay small:
#   MEDCRM_BENCH_SCALE=5 MEDCRM_BENCH_RULES_SCALE=500 MEDCRM_BENCH_FILTER=rules make bench
set -euo pipefail
cd "${MEDCRM_TOP:-$(dirname "$0")/../..}"
scale=${MEDCRM_BENCH_RULES_SCALE:-${MEDCRM_BENCH_SCALE:-500}}
repeat=${MEDCRM_BENCH_RULES_REPEAT:-3}
part=${MEDCRM_BENCH_RULES_PART:-all}
rows=$(( scale * 2000 ))
accounts=$(( scale * 400 ))
db=medcrm_bench_rules
dir=${MEDCRM_CLUSTER:?run through test/bench/run-all.sh}
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
psqlq() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }

# ms SQL...: run the statements in one session, print the milliseconds of the last one
ms() {
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c '\timing on' "$@" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1
}
# ms_of N SQL...: the milliseconds of the Nth statement
ms_of() {
  local nth=$1; shift
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c '\timing on' "$@" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sed -n "${nth}p"
}
# wall_cpu SQL: run one statement, print "wall_ms cpu_ms", cpu_ms being the
# CPU time (user + system) of the server process that ran it, read from
# /proc (the cluster of run-all.sh is local). On a machine shared with other
# work the CPU time is the steadier figure: waiting for a core does not count.
wall_cpu() {
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<SQL | awk '/^Time:/ { w = $2 } /^cpu/ { c[n++] = $2 }
    END { printf "%.1f %d\n", w, n == 2 ? (c[1] - c[0]) * 1000 / ticks : -1 }' ticks="$(getconf CLK_TCK)"
SELECT pg_backend_pid() AS pid \gset
\setenv MEDCRM_BENCH_PID :pid
\! test -r /proc/\$MEDCRM_BENCH_PID/stat && awk '{ print "cpu", \$14 + \$15 }' /proc/\$MEDCRM_BENCH_PID/stat
\timing on
$1;
\timing off
\! test -r /proc/\$MEDCRM_BENCH_PID/stat && awk '{ print "cpu", \$14 + \$15 }' /proc/\$MEDCRM_BENCH_PID/stat
SQL
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
secs() { awk -v a="$1" 'BEGIN { printf "%.2f s", a / 1000 }'; }
# summary VALUES...: median [min-max] of the values
summary() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.2f [%.2f-%.2f]", m, v[1], v[NR] }'
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

dropdb --if-exists "$db" >/dev/null
createdb "$db"
psqlq -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION medcrm CASCADE'

echo "   data: $accounts accounts, $rows contracts, $rows work orders"
psqlq <<SQL
INSERT INTO medcrm.account (id, kind, name, region, service_level, owner_role, tier, hospital_grade)
SELECT i, CASE WHEN i % 5 = 0 THEN 'clinic' ELSE 'hospital' END, 'Bench account ' || i,
       (ARRAY['East', 'North', 'South', 'West', 'Central', 'Northeast'])[1 + i % 6],
       (ARRAY['platinum', 'gold', 'silver', 'standard'])[1 + (i / 7) % 4],
       'bench_rep_' || (i % 300),
       CASE WHEN i % 10 = 0 THEN 'A' WHEN i % 10 < 4 THEN 'B' WHEN i % 10 < 8 THEN 'C'
            WHEN i % 10 = 8 THEN 'D' END,
       CASE WHEN i % 5 <> 0 THEN (ARRAY['3A', '3B', '3C', '2A', '2B', '2C', '1'])[1 + i % 7] END
  FROM generate_series(1, $accounts) AS i;
INSERT INTO medcrm.service_team (id, name, region, kinds)
SELECT i, 'Team ' || r || ' ' || i, r, CASE WHEN i % 2 = 0 THEN '{fault,preventive}'::text[]
                                            ELSE '{fault,preventive,install,training,recall}'::text[] END
  FROM unnest(ARRAY['East', 'North', 'South', 'West', 'Central']) WITH ORDINALITY AS u(r, i);
INSERT INTO medcrm.service_team (id, name, region) VALUES (99, 'National', NULL);
-- contracts: ends spread over [-1 year, +3 years]; ended ones are mostly expired
COPY (SELECT i, 1 + (i::bigint * 7919) % $accounts, 'BC-' || i,
             (ARRAY['sale', 'service', 'distribution', 'maintenance'])[1 + i % 4],
             e - 365, e, (i % 1000) * 100,
             CASE WHEN e >= current_date OR i % 50 = 0 THEN 'active' ELSE 'expired' END
        FROM (SELECT i, current_date - 365 + ((i::bigint * 104729) % 1461)::int AS e
                FROM generate_series(1, $rows) AS i) AS g)
  TO '$dir/contracts.csv' (FORMAT csv);
-- work orders over two years; 20 % still open
COPY (SELECT i, 1 + (i::bigint * 7919) % $accounts,
             (ARRAY['fault', 'fault', 'preventive', 'preventive', 'install', 'training', 'recall', 'fault', 'preventive', 'fault'])[1 + i % 10],
             1 + (i / 3) % 4, now() - ((i::bigint * 104729) % 730) * interval '1 day' - (i % 86400) * interval '1 second',
             CASE WHEN i % 5 = 0 THEN 'open' WHEN i % 5 = 1 THEN 'closed' ELSE 'resolved' END
        FROM generate_series(1, $rows) AS i)
  TO '$dir/work_orders.csv' (FORMAT csv);
ANALYZE;
SQL

# The same behaviour as row-level PL/pgSQL triggers, for comparison only.
psqlq <<'SQL'
CREATE SCHEMA bench_plpgsql;
CREATE FUNCTION bench_plpgsql.match(cond jsonb, vals jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE k text; v jsonb; x jsonb;
BEGIN
  FOR k, v IN SELECT * FROM jsonb_each(cond) LOOP
    IF k = 'within_days' THEN
      IF (vals->>'days_left')::int > v::text::int THEN RETURN false; END IF;
    ELSIF k = 'days_overdue' THEN
      IF (vals->>'days_overdue')::int < v::text::int THEN RETURN false; END IF;
    ELSE
      x := coalesce(vals->k, 'null');
      IF jsonb_typeof(v) = 'array' THEN
        IF NOT v @> jsonb_build_array(x) THEN RETURN false; END IF;
      ELSIF v <> x THEN RETURN false;
      END IF;
    END IF;
  END LOOP;
  RETURN true;
END $$;
CREATE FUNCTION bench_plpgsql.render(tmpl text, vals jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE k text; v text;
BEGIN
  FOR k, v IN SELECT * FROM jsonb_each_text(vals) LOOP
    tmpl := replace(tmpl, '{' || k || '}', coalesce(v, '-'));
  END LOOP;
  RETURN tmpl;
END $$;

CREATE FUNCTION bench_plpgsql.contract_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE a medcrm.account; r medcrm.rule; vals jsonb; due timestamptz;
BEGIN
  IF NEW.status <> 'active' OR EXISTS (SELECT FROM medcrm.contract s WHERE s.renewed_from = NEW.id) THEN
    RETURN NULL;
  END IF;
  SELECT * INTO a FROM medcrm.account WHERE id = NEW.account_id;
  vals := jsonb_build_object('tier', coalesce(a.tier_override, a.tier), 'region', a.region,
            'account_kind', a.kind, 'contract_kind', NEW.kind, 'account_name', a.name,
            'contract_no', NEW.contract_no, 'ends_on', to_char(NEW.ends_on, 'YYYY-MM-DD'),
            'days_left', NEW.ends_on - current_date, 'days_overdue', current_date - NEW.ends_on);
  FOR r IN SELECT * FROM medcrm.rule WHERE enabled AND event IN ('contract_renewal', 'contract_expired') ORDER BY id LOOP
    CONTINUE WHEN r.event = 'contract_renewal' AND NEW.ends_on < current_date;
    CONTINUE WHEN r.event = 'contract_expired' AND NEW.ends_on >= current_date;
    IF bench_plpgsql.match(r.condition, vals) THEN
      due := NEW.ends_on::timestamptz + r.due_offset;
      INSERT INTO medcrm.task (account_id, kind, title, due_at, assignee_role, priority, source_table,
                               source_id, rule_id, dedupe_key)
      VALUES (NEW.account_id, r.task_kind,
              bench_plpgsql.render(r.title_template, vals || jsonb_build_object('due_date', to_char(due, 'YYYY-MM-DD'))),
              due, CASE WHEN r.assignee = 'owner' THEN coalesce(NEW.owner_role, a.owner_role, 'medcrm_sales') ELSE r.assignee END,
              r.priority, 'contract', NEW.id, r.id,
              format('r%s:contract:%s:%s', r.id, NEW.id, to_char(NEW.ends_on, 'YYYY-MM-DD')))
      ON CONFLICT (dedupe_key) DO NOTHING;
    END IF;
  END LOOP;
  RETURN NULL;
END $$;

CREATE FUNCTION bench_plpgsql.work_order_deadlines() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE a medcrm.account; p medcrm.sla_policy;
BEGIN
  SELECT * INTO a FROM medcrm.account WHERE id = NEW.account_id;
  SELECT * INTO p FROM medcrm.sla_policy WHERE service_level = a.service_level AND priority = NEW.priority;
  NEW.response_due_at := coalesce(NEW.response_due_at, NEW.reported_at + p.response_hours * interval '1 hour');
  NEW.resolve_due_at := coalesce(NEW.resolve_due_at, NEW.reported_at + p.resolve_hours * interval '1 hour');
  IF NEW.assigned_team IS NULL THEN
    SELECT id INTO NEW.assigned_team FROM medcrm.service_team t
     WHERE NEW.kind = ANY (t.kinds) AND (t.region = a.region OR t.region IS NULL)
     ORDER BY t.region IS NULL, t.id LIMIT 1;
  END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION bench_plpgsql.work_order_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE a medcrm.account; r medcrm.rule; vals jsonb; team text;
BEGIN
  IF NEW.status IN ('resolved', 'closed', 'cancelled') THEN RETURN NULL; END IF;
  SELECT * INTO a FROM medcrm.account WHERE id = NEW.account_id;
  SELECT name INTO team FROM medcrm.service_team WHERE id = NEW.assigned_team;
  vals := jsonb_build_object('kind', NEW.kind, 'priority', NEW.priority, 'tier', coalesce(a.tier_override, a.tier),
            'region', a.region, 'account_kind', a.kind, 'service_level', a.service_level,
            'account_name', a.name, 'team_name', team, 'work_order_id', NEW.id,
            'response_due', to_char(NEW.response_due_at, 'YYYY-MM-DD HH24:MI'),
            'resolve_due', to_char(NEW.resolve_due_at, 'YYYY-MM-DD HH24:MI'));
  FOR r IN SELECT * FROM medcrm.rule WHERE enabled AND event = 'work_order' AND NOT condition ? 'breached' ORDER BY id LOOP
    IF bench_plpgsql.match(r.condition, vals) THEN
      INSERT INTO medcrm.task (account_id, kind, title, due_at, assignee_role, priority, source_table,
                               source_id, rule_id, dedupe_key, device_id)
      VALUES (NEW.account_id, r.task_kind, bench_plpgsql.render(r.title_template, vals),
              NEW.response_due_at + r.due_offset,
              CASE r.assignee WHEN 'team' THEN 'medcrm_service' WHEN 'owner' THEN coalesce(a.owner_role, 'medcrm_service') ELSE r.assignee END,
              r.priority, 'work_order', NEW.id, r.id, format('r%s:work_order:%s:new', r.id, NEW.id), NEW.device_id)
      ON CONFLICT (dedupe_key) DO NOTHING;
    END IF;
  END LOOP;
  RETURN NULL;
END $$;
SQL

medcrm_triggers() { # on|off for the rule triggers of contract and work_order
  local verb=ENABLE; [ "$1" = off ] && verb=DISABLE
  psqlq -c "ALTER TABLE medcrm.contract $verb TRIGGER contract_rules_insert" \
        -c "ALTER TABLE medcrm.work_order $verb TRIGGER work_order_set_deadlines" \
        -c "ALTER TABLE medcrm.work_order $verb TRIGGER work_order_rules_insert"
}
plpgsql_triggers() { # on|off
  if [ "$1" = on ]; then
    psqlq -c "CREATE TRIGGER bench_contract AFTER INSERT ON medcrm.contract FOR EACH ROW EXECUTE FUNCTION bench_plpgsql.contract_rules()" \
          -c "CREATE TRIGGER bench_wo_deadlines BEFORE INSERT ON medcrm.work_order FOR EACH ROW EXECUTE FUNCTION bench_plpgsql.work_order_deadlines()" \
          -c "CREATE TRIGGER bench_wo_rules AFTER INSERT ON medcrm.work_order FOR EACH ROW EXECUTE FUNCTION bench_plpgsql.work_order_rules()"
  else
    psqlq -c "DROP TRIGGER bench_contract ON medcrm.contract" \
          -c "DROP TRIGGER bench_wo_deadlines ON medcrm.work_order" \
          -c "DROP TRIGGER bench_wo_rules ON medcrm.work_order"
  fi
}
reset_tables() {
  psqlq -c "TRUNCATE medcrm.task, medcrm.work_order, medcrm.contract CASCADE" -c "CHECKPOINT"
}
tasks() { psql -X -qAt -d "$db" -c "SELECT count(*) FROM medcrm.task"; }

# ---- 1 and 2: COPY with and without triggers, $repeat rounds ----
declare -A t n
declare -a r_c r_cp r_w r_ws r_s r_wp r_wf q_c q_cp q_w q_ws q_s q_wp q_wf loads
task_cols="account_id, kind, title, due_at, assignee_role, priority, status, source_table, source_id, rule_id, dedupe_key, device_id"
copy_contracts() { wall_cpu "COPY medcrm.contract (id, account_id, contract_no, kind, starts_on, ends_on, value, status) FROM '$dir/contracts.csv' (FORMAT csv)"; }
copy_work_orders() { wall_cpu "COPY medcrm.work_order (id, account_id, kind, priority, reported_at, status) FROM '$dir/work_orders.csv' (FORMAT csv)"; }
declare -A c
# keep VAR "wall cpu": t[VAR] = wall, c[VAR] = cpu
keep() { t[$1]=${2% *}; c[$1]=${2#* }; }
if [ "$part" != time ]; then
variants="none medcrm plpgsql"
[ "$part" = wo ] && variants="none medcrm"
for round in $(seq 1 "$repeat"); do
  loads+=("$(load)")
  for variant in $variants; do
    case $variant in
      none)    medcrm_triggers off ;;
      medcrm)  medcrm_triggers on ;;
      plpgsql) medcrm_triggers off; plpgsql_triggers on ;;
    esac
    reset_tables
    if [ "$part" = wo ]; then keep "contract_$variant" "1 1"; else keep "contract_$variant" "$(copy_contracts)"; fi
    n[contract_$variant]=$(tasks)
    keep "wo_$variant" "$(copy_work_orders)"
    n[wo_$variant]=$(( $(tasks) - n[contract_$variant] ))
    if [ "$variant" = medcrm ] && [ "$round" = 1 ]; then
      # the same rows with deadlines and team as the trigger computed them
      psqlq -c "COPY (SELECT id, account_id, kind, priority, reported_at, status, response_due_at, resolve_due_at, assigned_team
                        FROM medcrm.work_order) TO '$dir/work_orders_full.csv' (FORMAT csv)" \
            -c "COPY (SELECT $task_cols FROM medcrm.task WHERE source_table = 'work_order') TO '$dir/tasks_full.csv' (FORMAT csv)"
    fi
    [ "$variant" = plpgsql ] && plpgsql_triggers off
    echo "   round $round: COPY with $variant triggers: contracts $(secs "${t[contract_$variant]}") (CPU $(secs "${c[contract_$variant]}"); ${n[contract_$variant]} tasks), work orders $(secs "${t[wo_$variant]}") (CPU $(secs "${c[wo_$variant]}"); ${n[wo_$variant]} tasks)"
  done
  # baseline 2: the application supplies deadlines and team itself (no trigger, same final rows)
  medcrm_triggers off
  reset_tables
  keep wo_supplied "$(wall_cpu "COPY medcrm.work_order (id, account_id, kind, priority, reported_at, status, response_due_at, resolve_due_at, assigned_team) FROM '$dir/work_orders_full.csv' (FORMAT csv)")"
  # baseline 3: and the same dispatch tasks as medcrm created them, by COPY
  keep tasks_supplied "$(wall_cpu "COPY medcrm.task ($task_cols) FROM '$dir/tasks_full.csv' (FORMAT csv)")"
  t[wo_final]=$(awk -v a="${t[wo_supplied]}" -v b="${t[tasks_supplied]}" 'BEGIN { print a + b }')
  c[wo_final]=$(( c[wo_supplied] + c[tasks_supplied] ))
  medcrm_triggers on
  loads+=("$(load)")
  echo "   round $round: COPY of work orders with deadlines and team supplied, no triggers: $(secs "${t[wo_supplied]}") (CPU $(secs "${c[wo_supplied]}")); then COPY of the same $(tasks) dispatch tasks: $(secs "${t[tasks_supplied]}") (CPU $(secs "${c[tasks_supplied]}"))"
  r_w+=("$(ratio "${t[wo_medcrm]}" "${t[wo_none]}")")
  r_ws+=("$(ratio "${t[wo_medcrm]}" "${t[wo_supplied]}")")
  r_s+=("$(ratio "${t[wo_supplied]}" "${t[wo_none]}")")
  r_wf+=("$(ratio "${t[wo_medcrm]}" "${t[wo_final]}")")
  q_wf+=("$(ratio "${c[wo_medcrm]}" "${c[wo_final]}")")
  if [ "$part" = wo ]; then
    echo "   round $round ratios, wall / CPU: work orders medcrm/none ${r_w[-1]} / $(ratio "${c[wo_medcrm]}" "${c[wo_none]}"), medcrm/supplied ${r_ws[-1]} / $(ratio "${c[wo_medcrm]}" "${c[wo_supplied]}"), medcrm/(supplied + tasks) ${r_wf[-1]} / ${q_wf[-1]}"
    q_w+=("$(ratio "${c[wo_medcrm]}" "${c[wo_none]}")")
    q_ws+=("$(ratio "${c[wo_medcrm]}" "${c[wo_supplied]}")")
    q_s+=("$(ratio "${c[wo_supplied]}" "${c[wo_none]}")")
    continue
  fi
  r_c+=("$(ratio "${t[contract_medcrm]}" "${t[contract_none]}")")
  r_cp+=("$(ratio "${t[contract_plpgsql]}" "${t[contract_medcrm]}")")
  r_wp+=("$(ratio "${t[wo_plpgsql]}" "${t[wo_medcrm]}")")
  q_c+=("$(ratio "${c[contract_medcrm]}" "${c[contract_none]}")")
  q_cp+=("$(ratio "${c[contract_plpgsql]}" "${c[contract_medcrm]}")")
  q_w+=("$(ratio "${c[wo_medcrm]}" "${c[wo_none]}")")
  q_ws+=("$(ratio "${c[wo_medcrm]}" "${c[wo_supplied]}")")
  q_s+=("$(ratio "${c[wo_supplied]}" "${c[wo_none]}")")
  q_wp+=("$(ratio "${c[wo_plpgsql]}" "${c[wo_medcrm]}")")
  echo "   round $round ratios, wall: contracts medcrm/none ${r_c[-1]}, plpgsql/medcrm ${r_cp[-1]}; work orders medcrm/none ${r_w[-1]}, medcrm/supplied ${r_ws[-1]}, medcrm/(supplied + tasks) ${r_wf[-1]}, supplied/none ${r_s[-1]}, plpgsql/medcrm ${r_wp[-1]}"
  echo "   round $round ratios, CPU:  contracts medcrm/none ${q_c[-1]}, plpgsql/medcrm ${q_cp[-1]}; work orders medcrm/none ${q_w[-1]}, medcrm/supplied ${q_ws[-1]}, medcrm/(supplied + tasks) ${q_wf[-1]}, supplied/none ${q_s[-1]}, plpgsql/medcrm ${q_wp[-1]}"
done
echo "   load average (1, 5, 15 min) at the start and end of each round: $(printf '%s; ' "${loads[@]}")"
echo "   median [min-max] over $repeat rounds, wall clock / server CPU time:"
[ "$part" != wo ] && echo "   contracts:   medcrm/none $(summary "${r_c[@]}")x / $(summary "${q_c[@]}")x (target <= 1.3), plpgsql/medcrm $(summary "${r_cp[@]}")x / $(summary "${q_cp[@]}")x (target >= 2)"
echo "   work orders: medcrm/none $(summary "${r_w[@]}")x / $(summary "${q_w[@]}")x (target <= 1.3), medcrm/supplied $(summary "${r_ws[@]}")x / $(summary "${q_ws[@]}")x, supplied/none $(summary "${r_s[@]}")x / $(summary "${q_s[@]}")x"
echo "   work orders: medcrm/(supplied work orders + COPY of the same tasks) $(summary "${r_wf[@]}")x / $(summary "${q_wf[@]}")x"
[ "$part" != wo ] && echo "   work orders: plpgsql/medcrm $(summary "${r_wp[@]}")x / $(summary "${q_wp[@]}")x (target >= 2)"
fi

# ---- 3: run_time_rules over the contracts vs the bare SELECT of the due rows ----
if [ "$part" != copy ] && [ "$part" != wo ]; then
medcrm_triggers off
reset_tables
psqlq -c "COPY medcrm.contract (id, account_id, contract_no, kind, starts_on, ends_on, value, status) FROM '$dir/contracts.csv' (FORMAT csv)" -c "VACUUM ANALYZE medcrm.contract"
medcrm_triggers on
due_rows="SELECT c.id, c.account_id, c.ends_on, a.name, coalesce(a.tier_override, a.tier) AS tier, c.contract_no
  FROM medcrm.contract c JOIN medcrm.account a ON a.id = c.account_id
 WHERE c.status = 'active'
   AND (c.ends_on BETWEEN current_date AND current_date + 120 OR c.ends_on < current_date)
   AND NOT EXISTS (SELECT FROM medcrm.contract s WHERE s.renewed_from = c.id)"
declare -a r_again r_first r_plain tloads
for round in $(seq 1 "$repeat"); do
  psqlq -c "TRUNCATE medcrm.task" -c "CHECKPOINT"
  tloads+=("$(load)")
  bare=$(ms -c "SELECT count(*), sum(length(name) + length(contract_no) + length(coalesce(tier, ''))) FROM ($due_rows) AS due")
  # plain SQL that writes one task per due row, for what the writing alone costs
  plain=$(ms_of 2 -c "BEGIN" -c "INSERT INTO medcrm.task (account_id, kind, title, due_at, priority, source_table, source_id, rule_id, dedupe_key)
    SELECT account_id, 'renewal', 'Renew ' || contract_no || ' of ' || name, ends_on - 30, 3, 'contract', id, 10, 'plain:' || id
      FROM ($due_rows) AS due ON CONFLICT (dedupe_key) DO NOTHING" -c "ROLLBACK")
  first=$(ms -c "SELECT medcrm.run_time_rules()")
  created=$(tasks)
  again=$(ms -c "SELECT medcrm.run_time_rules()")
  again_created=$(( $(tasks) - created ))
  bare2=$(ms -c "SELECT count(*), sum(length(name) + length(contract_no) + length(coalesce(tier, ''))) FROM ($due_rows) AS due")
  tloads+=("$(load)")
  # the re-run against the mean of the SELECT measured just before and after it
  bare_mean=$(awk -v a="$bare" -v b="$bare2" 'BEGIN { print (a + b) / 2 }')
  r_again+=("$(ratio "$again" "$bare_mean")")
  r_first+=("$(ratio "$first" "$bare_mean")")
  r_plain+=("$(ratio "$first" "$plain")")
  echo "   round $round: bare SELECT of the due contracts $(secs "$bare") / $(secs "$bare2"); plain INSERT ... SELECT of one task per due row $(secs "$plain")"
  echo "   round $round: run_time_rules() $(secs "$first") creating $created tasks; again (steady state) $(secs "$again") creating $again_created"
  echo "   round $round ratios: steady state/SELECT ${r_again[-1]}, first run/SELECT ${r_first[-1]}, first run/plain INSERT ${r_plain[-1]}"
done
echo "   load average (1, 5, 15 min) at the start and end of each round: $(printf '%s; ' "${tloads[@]}")"
echo "   run_time_rules/SELECT: steady state $(summary "${r_again[@]}")x (target <= 2), first run $(summary "${r_first[@]}")x; first run/(plain INSERT ... SELECT) $(summary "${r_plain[@]}")x"
fi

rm -f "$dir/contracts.csv" "$dir/work_orders.csv" "$dir/work_orders_full.csv" "$dir/tasks_full.csv"
dropdb "$db"
