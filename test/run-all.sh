#!/usr/bin/env bash
# run-all.sh — medcrm's whole test suite on a throwaway cluster (make check).
#
# Expects ./tmp_install (make tmp-install). Runs, in order:
#   1. pg_regress      test/sql/*.sql against test/expected/*.out (--inputdir=test)
#   2. pgTAP           test/pgtap/*.sql with pg_prove (each assertion counts)
#   3. isolation       test/isolation/specs/*.spec with pg_isolation_regress
#   4. script tests    test/scripts/*.sh and test/worker/*.sh: each "ok - what"
#                      line they print is a passed check; a non-zero exit
#                      status is one failure (a script with no such line and
#                      exit status 0 is one passed test)
# and ends with one line "N passed, N failed"; exits 1 on any failure.
# Logs are kept in test/log/; MEDCRM_TEST_FILTER=regex runs matching files only.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD

PG_CONFIG=${PG_CONFIG:-pg_config}
pgxs_dir=$(dirname "$(dirname "$(dirname "$($PG_CONFIG --pgxs)")")")
filter=${MEDCRM_TEST_FILTER:-.}
log=$top/test/log
rm -rf "$log" test/results test/isolation/results
mkdir -p "$log"

cluster=$(mktemp -d /tmp/medcrm-check.XXXXXX)
cleanup() { tools/pgcluster.sh stop "$cluster"; rm -rf "$cluster"; }
trap cleanup EXIT
tools/pgcluster.sh start "$cluster" || exit 1
# shellcheck disable=SC1091
. "$cluster/env"
export MEDCRM_TOP=$top MEDCRM_CLUSTER=$cluster

passed=0
failed=0
failures=()
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); failures+=("$1"); }

# count_results KIND LOG EXPECTED: tally pg_regress-style "name ... ok|FAILED" lines;
# tests that never reported (a crash, a missing binary) count as failed.
count_results() {
  local seen=0 name result
  while read -r name result; do
    seen=$((seen + 1))
    if [ "$result" = ok ]; then pass; else fail "$1 $name"; fi
  done < <(sed -n 's/^\(test\|ok\|not ok\)\? *[0-9]* *[-+]\? *\([A-Za-z0-9_-]*\) *\.\.\. *\(ok\|FAILED\|failed\).*/\2 \3/p' "$2")
  if [ "$seen" -lt "$3" ]; then
    failed=$((failed + $3 - seen)); failures+=("$1: $(( $3 - seen )) tests did not report (see $2)")
  fi
}

pick() { # pick DIR EXT: sorted base names of files matching the filter
  find "$1" -maxdepth 1 -name "*.$2" -printf '%f\n' 2>/dev/null | sed "s/\.$2\$//" | sort | grep -E "$filter"
}

# 1. pg_regress
mapfile -t regress < <(pick test/sql sql)
if [ ${#regress[@]} -gt 0 ]; then
  echo "== pg_regress: ${#regress[@]} tests"
  "$pgxs_dir/src/test/regress/pg_regress" --inputdir=test --outputdir=test \
    --bindir="$(dirname "$(command -v psql)")" --dbname=medcrm_regress \
    --load-extension=pg_trgm --load-extension=medcrm "${regress[@]}" >"$log/regress.log" 2>&1
  count_results "pg_regress" "$log/regress.log" ${#regress[@]}
  [ -f test/regression.diffs ] && cp test/regression.diffs "$log/"
fi

# 2. pgTAP
mapfile -t taps < <(pick test/pgtap sql)
if [ ${#taps[@]} -gt 0 ]; then
  echo "== pgTAP: ${#taps[@]} files"
  createdb medcrm_tap && psql -q -d medcrm_tap -c 'CREATE EXTENSION pgtap; CREATE EXTENSION medcrm CASCADE;' \
    >"$log/pgtap-setup.log" 2>&1 || fail "pgTAP setup"
  for t in "${taps[@]}"; do
    pg_prove --verbose -d medcrm_tap "test/pgtap/$t.sql" >"$log/pgtap-$t.log" 2>&1
    rc=$?
    ok=$(grep -cE '^ok [0-9]+' "$log/pgtap-$t.log")
    notok=$(grep -cE '^not ok [0-9]+' "$log/pgtap-$t.log")
    passed=$((passed + ok))
    if [ "$notok" -gt 0 ]; then
      failed=$((failed + notok)); failures+=("pgTAP $t ($notok assertions)")
    elif [ $rc -ne 0 ]; then
      fail "pgTAP $t (plan or error)"
    fi
  done
fi

# 3. isolation
mapfile -t specs < <(pick test/isolation/specs spec)
if [ ${#specs[@]} -gt 0 ]; then
  echo "== isolation: ${#specs[@]} specs"
  "$pgxs_dir/src/test/isolation/pg_isolation_regress" --inputdir=test/isolation \
    --outputdir=test/isolation/results --bindir="$(dirname "$(command -v psql)")" \
    --dbname=medcrm_isolation --load-extension=pg_trgm --load-extension=medcrm \
    "${specs[@]}" >"$log/isolation.log" 2>&1
  count_results "isolation" "$log/isolation.log" ${#specs[@]}
fi

# 4. script tests (worker tests included)
for dir in test/scripts test/worker; do
  while read -r t; do
    [ -n "$t" ] && [ "$t" != lib ] || continue  # lib.sh is sourced by the tests, not one
    echo "== $dir/$t"
    out="$log/${dir##*/}-$t.log"
    if bash "$dir/$t.sh" >"$out" 2>&1; then status=0; else status=1; fi
    # each check a script reports as a line "ok - what" (or TAP's "ok N - what")
    # counts as one test; a script that fails counts one failure more, whatever
    # it reported before
    checks=$(grep -cE '^ok ([0-9]+ )?- ' "$out" || true)
    passed=$((passed + checks))
    if [ $status -ne 0 ]; then fail "$dir/$t.sh"; elif [ "$checks" -eq 0 ]; then pass; fi
  done < <(pick "$dir" sh)
done

if [ $failed -gt 0 ]; then
  echo
  echo "Failed (logs in test/log/):"
  printf '  %s\n' "${failures[@]}"
  [ -f "$log/regression.diffs" ] && head -n 60 "$log/regression.diffs"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
