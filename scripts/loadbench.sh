#!/usr/bin/env bash
# Load figures: our embedded hub against Prosody and ejabberd, on this
# machine, with examples/loadgen.rs. One command:
#
#   scripts/loadbench.sh
#
# It builds in release, starts the three servers with the interop runner's
# serve mode (`cargo test --release --all-features --test interop --
# --serve`: private instances on loopback with a test CA and numbered
# accounts), then for each server:
#   1. idle: IDLE clients log in over STARTTLS; the server's RSS growth per
#      client (first, while the server is fresh: memory freed by an
#      earlier flood would be reused and hide the cost of a connection);
#   2. a short calibration flood, to choose the messages per pair so the
#      measured flood takes about TARGET_S seconds;
#   3. flood: PAIRS sender/receiver pairs, WINDOW messages in flight per
#      pair, STARTTLS: messages/s, latency p50/p99, the server's CPU per
#      routed message.
# and prints a markdown table with the ratios hub/ejabberd and hub/Prosody.
# The servers are stopped at the end, also on failure or Ctrl-C.
#
# Needs prosody (with lua-unbound lua-event lua-sec) and ejabberd installed
# (apt-get install -y prosody lua-unbound lua-event lua-sec ejabberd).
# Settings (environment): SERVERS (default hub,prosody,ejabberd), PAIRS
# (10), WINDOW (64), BODY (100 bytes), TARGET_S (10), IDLE (1000; 0 skips
# the idle runs), RUN_TIMEOUT (180 s per loadgen run), KEEP_LOGS=1 keeps
# the working directory. Everything is bounded: each loadgen run by its own
# --timeout, the start of the servers by START_TIMEOUT (300 s).
set -euo pipefail

cd "$(dirname "$0")/.."

SERVERS=${SERVERS:-hub,prosody,ejabberd}
PAIRS=${PAIRS:-10}
WINDOW=${WINDOW:-64}
BODY=${BODY:-100}
TARGET_S=${TARGET_S:-10}
IDLE=${IDLE:-1000}
RUN_TIMEOUT=${RUN_TIMEOUT:-180}
START_TIMEOUT=${START_TIMEOUT:-300}
CALIBRATION_MESSAGES=${CALIBRATION_MESSAGES:-300}
ACCOUNTS=$((IDLE > 2 * PAIRS ? IDLE : 2 * PAIRS))

say() { printf 'loadbench: %s\n' "$*" >&2; }

say "building (release)"
cargo build --release --all-features --example loadgen
cargo test --release --all-features --test interop --no-run
LOADGEN="${CARGO_TARGET_DIR:-target}/release/examples/loadgen"
[ -x "$LOADGEN" ] || { say "no $LOADGEN after the build"; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/loadbench.XXXXXX")
SERVE_LOG="$WORK/serve.log"
mkfifo "$WORK/serve.in"
CARGO_PID=
RUNNER_PID=

# Every pid in the SERVE lines: the runner and the servers it started.
serve_pids() {
    grep -o 'pid=[0-9]*' "$SERVE_LOG" 2>/dev/null | cut -d= -f2 | sort -u
}

# Whether pid $1 runs (an exited child not yet waited for does not).
alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null &&
        ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}

# Waits up to $2 seconds for pid $1 to end.
wait_gone() {
    local pid=$1 limit=$2 i
    for ((i = 0; i < limit * 10; i++)); do
        alive "$pid" || return 0
        sleep 0.1
    done
    return 1
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if alive "$LOADGEN_PID"; then
        # (timeout passes the signal on to loadgen.)
        kill -TERM "$LOADGEN_PID" 2>/dev/null || true
        wait_gone "$LOADGEN_PID" 10 || kill -KILL "$LOADGEN_PID" 2>/dev/null || true
    fi
    # Closing the runner's stdin stops it and its servers cleanly.
    exec 3>&-
    if alive "$RUNNER_PID" && ! wait_gone "$RUNNER_PID" 30; then
        say "the serve runner did not stop: SIGTERM"
        kill -TERM "$RUNNER_PID" 2>/dev/null || true
        wait_gone "$RUNNER_PID" 15 || true
    fi
    # Anything still alive that we started: by pid, never by name.
    for pid in $(serve_pids) $CARGO_PID; do
        if alive "$pid"; then
            say "stopping leftover process $pid"
            kill -TERM "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    if [ "${KEEP_LOGS:-0}" = 1 ] || [ "$status" != 0 ]; then
        say "logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "starting $SERVERS with $ACCOUNTS accounts each"
cargo test --release --all-features --test interop -- \
    --serve --accounts "$ACCOUNTS" --servers "$SERVERS" \
    <"$WORK/serve.in" >"$SERVE_LOG" 2>&1 &
CARGO_PID=$!
# Hold the runner's stdin open until the end (this open waits for it).
exec 3>"$WORK/serve.in"

deadline=$((SECONDS + START_TIMEOUT))
until grep -q '^SERVE-READY' "$SERVE_LOG"; do
    if [ -z "$RUNNER_PID" ]; then
        RUNNER_PID=$(sed -n 's/^SERVE-RUNNER pid=\([0-9]*\).*/\1/p' "$SERVE_LOG")
    fi
    if grep -q '^SERVE-FAILED' "$SERVE_LOG" || ! alive "$CARGO_PID"; then
        say "the servers did not start:"
        tail -n 40 "$SERVE_LOG" >&2
        exit 1
    fi
    if ((SECONDS > deadline)); then
        say "the servers did not start within $START_TIMEOUT s:"
        tail -n 40 "$SERVE_LOG" >&2
        exit 1
    fi
    sleep 0.5
done
RUNNER_PID=$(sed -n 's/^SERVE-RUNNER pid=\([0-9]*\).*/\1/p' "$SERVE_LOG")
grep '^SERVE' "$SERVE_LOG" >&2

# A field of a server's SERVE line.
serve_field() {
    sed -n "s/^SERVE name=$1 .*\<$2=\([^ ]*\).*/\1/p" "$SERVE_LOG"
}
# A field of a RESULT line.
result_field() {
    printf '%s\n' "$1" | sed -n "s/.*\<$2=\([^ ]*\).*/\1/p"
}

# Runs loadgen against server $1 with the remaining arguments (in the
# background, so that a signal stops the script at once); its RESULT line
# goes to $WORK/result, its other output to a log and stderr.
RUN=0
LOADGEN_PID=
run_loadgen() {
    local name=$1 log status=0
    shift
    RUN=$((RUN + 1))
    log="$WORK/loadgen-$RUN-$name.log"
    : >"$WORK/result"
    timeout $((RUN_TIMEOUT + 30)) "$LOADGEN" \
        --server "$(serve_field "$name" starttls)" \
        --domain "$(serve_field "$name" domain)" \
        --ca-file "$(serve_field "$name" ca)" \
        --pid "$(serve_field "$name" pid)" \
        --label "$name" --timeout "$RUN_TIMEOUT" "$@" >"$log" 2>&1 &
    LOADGEN_PID=$!
    wait "$LOADGEN_PID" || status=$?
    LOADGEN_PID=
    grep -v '^RESULT' "$log" | sed "s/^/  [$name] /" >&2 || true
    grep '^RESULT' "$log" | tail -n 1 >"$WORK/result" || true
    if [ "$status" != 0 ]; then
        say "loadgen against $name failed (exit $status)"
    fi
}

declare -A RATE P50 P99 CPU IDLE_B
NAMES=()
for name in hub prosody ejabberd; do
    [ -n "$(serve_field "$name" pid)" ] && NAMES+=("$name")
done

for name in "${NAMES[@]}"; do
    if [ "$IDLE" -gt 0 ]; then
        say "$name: $IDLE idle clients"
        run_loadgen "$name" --idle "$IDLE"
        line=$(cat "$WORK/result")
        [ -n "$line" ] && IDLE_B[$name]=$(result_field "$line" bytes_per_client)
    fi

    say "$name: calibration flood ($CALIBRATION_MESSAGES messages per pair)"
    run_loadgen "$name" --pairs "$PAIRS" --window "$WINDOW" --body-size "$BODY" \
        --messages "$CALIBRATION_MESSAGES"
    line=$(cat "$WORK/result")
    rate=$(result_field "$line" msgs_per_s)
    case "$rate" in '' | na | 0) rate=1000 ;; esac
    messages=$(awk -v r="$rate" -v t="$TARGET_S" -v p="$PAIRS" 'BEGIN {
        m = int(r * t / p / 100) * 100; if (m < 1000) m = 1000; if (m > 500000) m = 500000; print m }')

    say "$name: flood, $PAIRS pairs x $messages messages, $WINDOW in flight"
    run_loadgen "$name" --pairs "$PAIRS" --window "$WINDOW" --body-size "$BODY" \
        --messages "$messages"
    line=$(cat "$WORK/result")
    printf '%s\n' "$line" >>"$WORK/results.txt"
    if [ -n "$line" ]; then
        RATE[$name]=$(result_field "$line" msgs_per_s)
        P50[$name]=$(result_field "$line" p50_ms)
        P99[$name]=$(result_field "$line" p99_ms)
        CPU[$name]=$(result_field "$line" cpu_us_per_msg)
        status=$(result_field "$line" status)
        [ "$status" = ok ] || say "$name: flood status $status"
    fi
done

# value / other, or n/a.
ratio() {
    awk -v a="${1:-}" -v b="${2:-}" 'BEGIN {
        if (a == "" || b == "" || a == "na" || b == "na" || a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a";
        else printf "%.2f\n", a / b }'
}
kib() {
    awk -v b="${1:-}" 'BEGIN { if (b == "" || b == "na") print "n/a"; else printf "%.1f\n", b / 1024 }'
}
cell() { printf '%s' "${1:-n/a}"; }

row() {
    local label=$1 h=$2 p=$3 e=$4
    printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$(cell "$h")" "$(cell "$p")" \
        "$(cell "$e")" "$(ratio "$h" "$e")" "$(ratio "$h" "$p")"
}

echo
echo "Load figures, $(nproc) cores, $(date -u +%Y-%m-%d): $PAIRS pairs, $WINDOW in flight, ${BODY}-byte bodies, STARTTLS; idle: $IDLE TLS clients"
echo
echo "| | hub | Prosody | ejabberd | hub/ejabberd | hub/Prosody |"
echo "|---|---|---|---|---|---|"
row "messages/s" "${RATE[hub]:-}" "${RATE[prosody]:-}" "${RATE[ejabberd]:-}"
row "latency p50 (ms)" "${P50[hub]:-}" "${P50[prosody]:-}" "${P50[ejabberd]:-}"
row "latency p99 (ms)" "${P99[hub]:-}" "${P99[prosody]:-}" "${P99[ejabberd]:-}"
row "server CPU per message (µs)" "${CPU[hub]:-}" "${CPU[prosody]:-}" "${CPU[ejabberd]:-}"
row "RSS per idle TLS client (KiB)" "$(kib "${IDLE_B[hub]:-}")" "$(kib "${IDLE_B[prosody]:-}")" \
    "$(kib "${IDLE_B[ejabberd]:-}")"
echo
echo "RESULT lines:"
cat "$WORK/results.txt" 2>/dev/null || true
