#!/usr/bin/env bash
# run.sh — make demo: medcrm end to end on demo data, results in ./out.
#
# By default a throwaway cluster (tools/pgcluster.sh) is started with the server
# of ./tmp_install, the demo database is generated, every demo step in
# demo/steps/ runs in file-name order, and the cluster is removed again.
#
#   MEDCRM_DEMO_SCALE=1      size of the data set (1 = about 2,000 accounts)
#   MEDCRM_DEMO_SEED=42      seed of the generator (same seed, same data)
#   MEDCRM_DEMO_KEEP=1       keep the cluster running afterwards (prints how to connect)
#   MEDCRM_DEMO_EXISTING=1   use the server of the PG* environment instead
#                            (medcrm must be installed there: make install)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
export MEDCRM_TOP=$top
out=$top/out
scale=${MEDCRM_DEMO_SCALE:-1}
seed=${MEDCRM_DEMO_SEED:-42}
rm -rf "$out"; mkdir -p "$out"

if [ "${MEDCRM_DEMO_EXISTING:-0}" = 1 ]; then
  echo "medcrm demo: using the server of the PG* environment (${PGHOST:-local socket}:${PGPORT:-5432})"
else
  cluster=$(mktemp -d /tmp/medcrm-demo.XXXXXX)
  if [ "${MEDCRM_DEMO_KEEP:-0}" = 1 ]; then
    trap 'echo; echo "The demo cluster keeps running. Connect with: . $cluster/env && psql -d medcrm_demo"; echo "Stop it with: tools/pgcluster.sh stop $cluster"' EXIT
  else
    trap 'tools/pgcluster.sh stop "$cluster"; rm -rf "$cluster"' EXIT
  fi
  tools/pgcluster.sh start "$cluster"
  # shellcheck disable=SC1091
  . "$cluster/env"
fi
export PGDATABASE=medcrm_demo MEDCRM_OUT=$out

dropdb --if-exists medcrm_demo 2>/dev/null || true
createdb medcrm_demo
psql -X -q -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION medcrm CASCADE'

start=$(date +%s)
echo "== generating demo data (scale $scale, seed $seed)"
psql -X -q -v ON_ERROR_STOP=1 -v scale="$scale" -v seed="$seed" -f demo/generate.sql
echo "   done in $(( $(date +%s) - start )) s"

for step in demo/steps/*.sh; do
  [ -e "$step" ] || continue
  echo "== $(sed -n 's/^# [^ ]* — //p' "$step" | head -n 1)"
  bash "$step"
done

echo
echo "medcrm demo finished. Results in $out:"
ls -1 "$out" | sed 's/^/  /'
