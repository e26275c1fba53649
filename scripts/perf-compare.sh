#!/usr/bin/env bash
# Side-by-side performance of xmpp-kit against tokio-xmpp 6 / xmpp-parsers
# and raw rxml (issue 11), on the generated corpus of benches/corpus.
#
#   scripts/perf-compare.sh          # about 3 minutes after the first build
#
# Runs, in one go: the criterion benches of benches/compare (its own Cargo
# package, so the crate's own tests never build tokio-xmpp), the counting
# allocator (--bin allocs), and the report (--bin report), which prints the
# table with the ratios and the targets at the end. Extra arguments go to
# criterion, e.g. `scripts/perf-compare.sh tokio_xmpp` to run only the
# benches whose names contain tokio_xmpp (the report then mixes runs).
set -euo pipefail
cd "$(dirname "$0")/../benches/compare"
cargo bench --bench compare -- "$@"
cargo run --release --quiet --bin allocs
echo
cargo run --release --quiet --bin report
