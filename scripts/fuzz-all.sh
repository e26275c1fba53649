#!/usr/bin/env bash
# Runs every cargo-fuzz target in turn for SECONDS each (default 1200,
# 20 minutes), on a working corpus in target/fuzz-corpus/<target> seeded
# from fuzz/corpus/<target>, and prints the executions of each run.
# Findings land in target/fuzz-artifacts/<target>/; minimize one with
#   cargo +nightly fuzz tmin <target> <artifact>
# and commit it into fuzz/corpus/<target>/ so `cargo test` replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-1200}
targets=(framer stanza sasl_server sasl_client client server component)
for t in "${targets[@]}"; do
  mkdir -p "target/fuzz-corpus/$t" "target/fuzz-artifacts/$t"
  log="target/fuzz-$t.log"
  status=0
  cargo +nightly fuzz run "$t" "$PWD/target/fuzz-corpus/$t" "$PWD/fuzz/corpus/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 \
    -artifact_prefix="$PWD/target/fuzz-artifacts/$t/" -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  echo "$t: $runs executions in ${secs}s, exit $status (log $log)"
done
