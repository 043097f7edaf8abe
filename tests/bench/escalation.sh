#!/usr/bin/env bash
# Escalation benchmarks (not run by ctest):
#  (a) detection-to-delivery latency: a fault injected in the demo API until the
#      opened event is recorded by the escalation_service fixture, for a probe
#      every 1 s opening at consecutive_failures: 2. Expect 1-2 intervals.
#  (b) spool throughput: events per second appended with fdatasync each, on
#      the disk of the spool directory (tests/bench/spool_bench.c, built here
#      with -O2 from agent/outbox/spool.c, no sanitizers).
# Results are appended to tests/bench/RESULTS-escalation.md.
#
#   tests/bench/escalation.sh [BUILD_DIR]   (default: ./build; needs tripline,
#                                            demo_api, escalation_service)
# Env: TRIALS (default 10), SPOOL_EVENTS (default 3000), SPOOL_DIR_BASE (where
# the bench spool goes; default the build directory, i.e. this disk).
here=$(cd "$(dirname "$0")" && pwd)
export TRIPLINE_SOURCE_DIR=${TRIPLINE_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
export TRIPLINE_BUILD_DIR=${1:-${TRIPLINE_BUILD_DIR:-$TRIPLINE_SOURCE_DIR/build}}
TRIPLINE_BUILD_DIR=$(cd "$TRIPLINE_BUILD_DIR" && pwd)
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"
TRIALS=${TRIALS:-10}
SPOOL_EVENTS=${SPOOL_EVENTS:-3000}
RESULTS=$S/tests/bench/RESULTS-escalation.md

# --- (a) fault to event at the service --------------------------------------
line=$(start_fixture demo_api --port 0)
DEMO=${line#listening on }
line=$(start_fixture escalation_service --port 0 --record "$WORK/service.jsonl")
SVC=${line#listening on }
cat >"$WORK/probes.yaml" <<YAML
- probe: latency
  schedule: {every: 1s, timeout: 900ms}
  steps: [{name: health, request: {url: "$DEMO/v1/health"}, expect: {status: 200}}]
  escalation:
    ladder: [{level: warning, when: {consecutive_failures: 2}}]
    resolve: {consecutive_successes: 1}
YAML
cat >"$WORK/config.yaml" <<YAML
spool: {dir: $WORK/spool}
sinks:
  service: {url: $SVC/events}
YAML
start_agent bench --config "$WORK/config.yaml" "$WORK/probes.yaml"
sleep 1.5
latencies=$(python3 - "$WORK" "$DEMO" "$TRIALS" <<'PY'
import json, random, sys, time, urllib.request
w, demo, trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
def fault(body):
    opener.open(urllib.request.Request(f"{demo}/_control/fault", data=body.encode(), method="POST")).read()
def count(kind):
    try:
        return sum(1 for l in open(f"{w}/service.jsonl") if f'"transition":"{kind}"' in l)
    except FileNotFoundError:
        return 0
def wait(kind, n, limit=30):
    end = time.monotonic() + limit
    while count(kind) < n:
        if time.monotonic() > end:
            sys.exit(f"no {kind} event #{n}")
        time.sleep(0.005)
out = []
for i in range(1, trials + 1):
    time.sleep(random.uniform(0, 1))  # a random phase against the probe's schedule
    t0 = time.monotonic()
    fault('{"mode":"all","status":503}')
    wait("opened", i)
    out.append(time.monotonic() - t0)
    fault('{"mode":"none"}')
    wait("resolved", i)
print(" ".join(f"{x:.3f}" for x in out))
PY
) || fail "latency trials"
stop_agent

# --- (b) spool appends with fdatasync ----------------------------------------
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -I"$S" "$S/agent/outbox/spool.c" "$S/tests/bench/spool_bench.c" \
    -o "$WORK/spool_bench" || fail "cannot build spool_bench"
SPOOL_DIR=$(mktemp -d "${SPOOL_DIR_BASE:-$B}/spool-bench.XXXXXX")
rmdir "$SPOOL_DIR"
spool_small=$("$WORK/spool_bench" "$SPOOL_DIR" "$SPOOL_EVENTS" 2500) || fail "spool_bench"
rm -rf "$SPOOL_DIR"
spool_large=$("$WORK/spool_bench" "$SPOOL_DIR" "$((SPOOL_EVENTS / 3))" 16000) || fail "spool_bench"
rm -rf "$SPOOL_DIR"
fs=$(df -T "$(dirname "$SPOOL_DIR")" | awk 'NR==2 {print $2" on "$1}')

summary=$(python3 - "$latencies" <<'PY'
import statistics, sys
xs = sorted(float(x) for x in sys.argv[1].split())
print(f"n={len(xs)} min={xs[0]:.3f}s median={statistics.median(xs):.3f}s max={xs[-1]:.3f}s")
PY
)
{
    echo
    echo "## $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n) ($(nproc) cores, $(uname -r))"
    echo
    echo "Command: \`tests/bench/escalation.sh $TRIPLINE_BUILD_DIR\` (TRIALS=$TRIALS SPOOL_EVENTS=$SPOOL_EVENTS)," \
        "commit $(git -C "$S" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo
    echo "(a) fault injected → opened event recorded by the service, probe every 1s, consecutive_failures: 2:"
    echo "    $summary"
    echo "    all (s): $latencies"
    echo "(b) spool appends, fdatasync each, spool on $fs:"
    echo "    2.5 kB events: $spool_small"
    echo "    16 kB events:  $spool_large"
} | tee -a "$RESULTS"
