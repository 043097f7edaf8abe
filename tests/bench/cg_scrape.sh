#!/usr/bin/env bash
# Instructions one /metrics (or /status) scrape costs the agent, by callgrind:
# a figure that does not move with the machine's load. Run by hand:
#
#   bash tests/bench/cg_scrape.sh                       # 1,000 probes
#   N=10000 EVERY=3m bash tests/bench/cg_scrape.sh      # 10,000 probes
#   SCRAPE=/status bash tests/bench/cg_scrape.sh
#   BENCH_KEEP=/tmp/cgs bash tests/bench/cg_scrape.sh   # keep the callgrind file
#
# N one-step probes point at a closed loopback port (each run fails fast with
# a connect error, so every per-probe series holds real, non-integer values).
# The agent runs under callgrind with collection only inside MHD_run (which
# calls the scrape's open and every slice's producer, and writes the socket),
# so the runs going on at the same time are not counted. Once every probe ran
# once, the counters are zeroed, one scrape is made with curl and the total
# is read. Prints key=value lines.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$SRC/build-bench-cg}
N=${N:-1000}
EVERY=${EVERY:-30s}
SCRAPE=${SCRAPE:-/metrics}
WORK=$(mktemp -d /tmp/tripline-cg-scrape.XXXXXX)
PIDS=()
# shellcheck source=tests/bench/benchlib.sh
. "$SRC/tests/bench/benchlib.sh"
trap bench_cleanup EXIT

command -v valgrind >/dev/null || bench_die "valgrind not installed"
bench_build_release "$BUILD" -g
CLOSED=$(bench_free_port)
bench_gen "$N" "$EVERY" "$WORK/probes.yaml" "http://127.0.0.1:$CLOSED/t/"
bench_agent_config "$WORK/agent.yaml" error

APORT=$(bench_free_port)
valgrind --tool=callgrind --collect-atstart=no --toggle-collect=MHD_run \
    --callgrind-out-file="$WORK/cg.agent" "$BUILD/tripline" run --config "$WORK/agent.yaml" \
    --listen "127.0.0.1:$APORT" "$WORK/probes.yaml" >"$WORK/agent.out" 2>"$WORK/agent.err" &
APID=$!
PIDS+=($APID)
bench_wait_http "http://127.0.0.1:$APORT/healthz" "$APID"
ran() {
    curl -fsS "http://127.0.0.1:$APORT/metrics" |
        awk '/^tripline_probe_runs_total[{ ]/ {n += $NF} END {printf "%d\n", n}'
}
for _ in $(seq 1200); do
    [ "$(ran)" -ge "$N" ] && break
    sleep 1
done
runs=$(ran)
callgrind_control -z "$APID" >/dev/null
bytes=$(curl -fsS "http://127.0.0.1:$APORT$SCRAPE" -o /dev/null -w '%{size_download}')
callgrind_control -d "$APID" >/dev/null
kill -TERM "$APID"
wait "$APID" || true
# the dump taken right after the scrape holds its cost alone
dump="$WORK/cg.agent.1"
ir=$(bench_ir_total "$dump")
echo "probes=$N every=$EVERY path=$SCRAPE runs_before=$runs body_bytes=$bytes"
echo "scrape_ir=$ir"
callgrind_annotate --inclusive=no --threshold=90 "$dump" 2>/dev/null | sed -n '1,40p' || true
[ -n "${BENCH_KEEP:-}" ] && mkdir -p "$BENCH_KEEP" && cp "$WORK"/cg.* "$BENCH_KEEP"/
exit 0
