#!/usr/bin/env bash
# Launch of N probes (run by hand, never in ctest): from `exec` of
# `tripline run` until the agent answers /healthz (its readiness check), and
# until it has answered a whole /status (one full status document more).
# Wall time over ROUNDS alternating launches (median, min, max), `tripline
# check` of the same file, and instructions by callgrind (a dump when
# /healthz first answers): the load-independent figure, for comparing two
# builds on a shared machine.
#
#   bash tests/bench/launch.sh                     # 10,000 probes, 7 rounds
#   N=100000 ROUNDS=3 bash tests/bench/launch.sh
#   CALLGRIND=0 bash tests/bench/launch.sh         # wall times only
#   BASE=/path/to/other/tripline bash tests/bench/launch.sh   # the same rounds for another build
#
# The probes are one-step GETs of a closed port every 3 minutes (their runs
# start spread over the interval: a few run during the launch, as they would).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$SRC/build-bench-launch}
N=${N:-10000}
ROUNDS=${ROUNDS:-7}
CALLGRIND=${CALLGRIND:-1}
BASE=${BASE:-}
WORK=$(mktemp -d /tmp/tripline-launch.XXXXXX)
PIDS=()
# shellcheck source=tests/bench/benchlib.sh
. "$SRC/tests/bench/benchlib.sh"
trap bench_cleanup EXIT

bench_build_release "$BUILD" -g
TARGET_PREFIX=http://127.0.0.1:9/x
bench_gen_dir "$N" 3m "$WORK/probes"
bench_agent_config "$WORK/agent.yaml" warn

# launch BIN PATH: seconds from exec until PATH answers with a whole body
launch() {
    python3 - "$1" "$WORK" "$(bench_free_port)" "$2" "$WORK"/probes/*.yaml <<'PY'
import subprocess, sys, time, urllib.request
binary, work, port, path, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
t0 = time.monotonic()
p = subprocess.Popen([binary, "run", "--config", work + "/agent.yaml", "--spool-dir", work + "/spool-" + port,
                      "--listen", "127.0.0.1:" + port] + files,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    while True:
        if p.poll() is not None:
            sys.exit("the agent exited during its launch")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30).read()
            break
        except OSError:
            time.sleep(0.002)
    print(f"{time.monotonic() - t0:.3f}")
finally:
    p.kill()
    p.wait()
PY
}

summary() { python3 -c 'import statistics,sys; v=sorted(map(float,sys.argv[1:])); print(f"median={statistics.median(v):.3f} min={v[0]:.3f} max={v[-1]:.3f}")' "$@"; }

bins=("$BUILD/tripline")
[ -n "$BASE" ] && bins+=("$BASE")
for bin in "${bins[@]}"; do
    declare -a hz=() st=() ck=()
    for _ in $(seq "$ROUNDS"); do
        hz+=("$(launch "$bin" /healthz)")
        st+=("$(launch "$bin" /status)")
        ck+=("$( { /usr/bin/time -f %e "$bin" check "$WORK"/probes/*.yaml >/dev/null; } 2>&1 | tail -1)")
    done
    echo "binary=$bin probes=$N rounds=$ROUNDS"
    echo "launch_to_healthz_s $(summary "${hz[@]}")"
    echo "launch_to_status_s $(summary "${st[@]}")"
    echo "check_s $(summary "${ck[@]}")"
    if [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null; then
        port=$(bench_free_port)
        valgrind --tool=callgrind --callgrind-out-file="$WORK/cg" "$bin" run --config "$WORK/agent.yaml" \
            --spool-dir "$WORK/spool-cg" --listen "127.0.0.1:$port" "$WORK"/probes/*.yaml \
            >/dev/null 2>"$WORK/cg.err" &
        pid=$!
        PIDS+=("$pid")
        until curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"; do
            kill -0 "$pid" 2>/dev/null || bench_die "the agent under callgrind exited: $(tail -5 "$WORK/cg.err")"
            sleep 0.1
        done
        callgrind_control -d "$pid" >/dev/null 2>&1
        kill -9 "$pid"
        wait "$pid" 2>/dev/null || true
        echo "instructions_to_healthz $(bench_ir_total "$WORK/cg.1")"
        rm -f "$WORK"/cg*
    fi
done
