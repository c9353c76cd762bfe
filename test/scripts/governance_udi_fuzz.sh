#!/usr/bin/env bash
# governance_udi_fuzz.sh — a short, bounded libFuzzer run of the GS1 UDI parser
# and the account name key (ASan, LSan, UBSan, round-trip properties), from the
# corpus kept in test/fuzz/corpus. About 10 seconds; the long run of millions
# of inputs is `make -C test/fuzz run RUNS=10000000` (docs/governance.md).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v clang >/dev/null || fail "clang is missing (tools/install-deps.sh installs it)"
work=$(mktemp -d /tmp/medcrm-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
flags=(-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -Iextension)
clang "${flags[@]}" -o "$work/udi_fuzz" test/fuzz/udi_fuzz.c extension/udi_parse.c
clang "${flags[@]}" -o "$work/name_fuzz" test/fuzz/name_fuzz.c extension/dedupe_name.c
mkdir -p "$work/udi" "$work/name"

for h in udi name; do
  out=$("$work/${h}_fuzz" -max_len=256 -runs=300000 -seed=1 -artifact_prefix="$work/" \
        "$work/$h" "test/fuzz/corpus/$h" 2>&1) || { echo "$out" | tail -n 30; fail "${h}_fuzz found a crash, leak or property failure"; }
  runs=$(echo "$out" | sed -n 's/^Done \([0-9]*\) runs.*/\1/p')
  expect_eq "${h}_fuzz ran its 300000 inputs cleanly" 300000 "$runs"
done
