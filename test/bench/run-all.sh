#!/usr/bin/env bash
# run-all.sh — make bench: every benchmark of BENCHMARKS.md in one run.
#
# Starts a throwaway cluster, builds the shared benchmark database medcrm_bench
# from the demo generator (MEDCRM_BENCH_SCALE, default 500 = about 1M accounts),
# then runs test/bench/bench_*.sh in order. Each prints its measurements and
# ratios; MEDCRM_BENCH_FILTER=regex runs only the matching ones.
# Benchmarks are never part of make check: they measure, they do not assert.
set -euo pipefail
cd "$(dirname "$0")/../.."
export MEDCRM_TOP=$PWD
scale=${MEDCRM_BENCH_SCALE:-500}
filter=${MEDCRM_BENCH_FILTER:-.}

cluster=$(mktemp -d /tmp/medcrm-bench.XXXXXX)
trap 'tools/pgcluster.sh stop "$cluster"; rm -rf "$cluster"' EXIT
tools/pgcluster.sh start "$cluster"
# shellcheck disable=SC1091
. "$cluster/env"
export MEDCRM_CLUSTER=$cluster MEDCRM_BENCH_SCALE=$scale

echo "== building medcrm_bench at scale $scale"
start=$(date +%s)
createdb medcrm_bench
psql -X -q -v ON_ERROR_STOP=1 -d medcrm_bench -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION medcrm CASCADE'
psql -X -q -v ON_ERROR_STOP=1 -d medcrm_bench -v scale="$scale" -v seed=1 -f demo/generate.sql
psql -X -q -d medcrm_bench -c 'VACUUM ANALYZE'
echo "   built in $(( $(date +%s) - start )) s: $(psql -X -qAt -d medcrm_bench -c 'SELECT count(*) FROM medcrm.account') accounts"

for b in test/bench/bench_*.sh; do
  [ -e "$b" ] || continue
  name=$(basename "$b" .sh)
  echo "$name" | grep -qE "$filter" || continue
  echo "== $name"
  bash "$b"
done
