#!/usr/bin/env bash
# Runs every libFuzzer target of a `make fuzz` build for SECONDS each, from
# its seed corpus in tests/fuzz/corpus/<target> (read, never written: what the
# fuzzer finds goes to a scratch corpus in the build). Stops at the first
# target that crashes, leaks, times out or runs out of memory; its input is
# in BUILD/fuzz-artifacts/, to become a regression test.
# Usage: scripts/fuzz.sh BUILD SECONDS
set -euo pipefail
build=${1:?usage: scripts/fuzz.sh BUILD SECONDS}
seconds=${2:?usage: scripts/fuzz.sh BUILD SECONDS}
root=$(cd "$(dirname "$0")/.." && pwd)
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
for target in fuzz_message fuzz_arguments fuzz_json fuzz_status fuzz_http_request; do
  seeds="$root/tests/fuzz/corpus/$target"
  scratch="$build/fuzz-corpus/$target"
  mkdir -p "$scratch"
  echo "fuzz: $target for ${seconds}s"
  # -timeout: one input may take at most 5 s; -rss_limit_mb: nor 2 GiB.
  if ! "$build/bin/$target" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/$target-" "$scratch" "$seeds" \
      >"$build/$target.log" 2>&1; then
    tail -n 60 "$build/$target.log"
    echo "fuzz: $target failed; the input is in $artifacts/" >&2
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$build/$target.log" | \
    sed "s/^/  /" || true
done
echo "fuzz: every target ran clean"
