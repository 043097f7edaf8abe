# Shared helpers for integration tests (sourced).
set -euo pipefail
: "${TRIPLINE_BUILD_DIR:?set by ctest}"
: "${TRIPLINE_SOURCE_DIR:?set by ctest}"
B=$TRIPLINE_BUILD_DIR
S=$TRIPLINE_SOURCE_DIR
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
WORK=$(mktemp -d /tmp/tripline-it.XXXXXX)
PIDS=()
cleanup() {
    # fixtures started inside $(...) are not our children: their pids are on file
    if [ -f "$WORK/.pids" ]; then
        while read -r p; do kill "$p" 2>/dev/null || true; done <"$WORK/.pids"
    fi
    [ -n "${KEEP_WORK:-}" ] && { echo "work kept in $WORK" >&2; WORK=/nonexistent; }
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# start_fixture NAME ARGS...: runs a fixture, waits for its first stdout line, echoes it.
start_fixture() {
    local name=$1; shift
    # a file of its own: a second fixture of the same name must not find the
    # first one's line before its own shell has truncated the file
    local out err
    out=$(mktemp "$WORK/$name.XXXXXX.out")
    err=${out%.out}.err
    "$B/$name" "$@" >"$out" 2>"$err" &
    PIDS+=($!)
    echo $! >>"$WORK/.pids"
    # bounded by time, not by a count of polls: a loaded machine starts slowly
    local end=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$end" ]; do
        [ -s "$out" ] && { head -n1 "$out"; return 0; }
        sleep 0.1
    done
    fail "$name did not start in 60 s: $(cat "$err")"
}

# gen_probes FILE N URL [SCHEDULE]: N one-step probes p0..p(N-1), each a GET
# of URL that expects 200, with SCHEDULE (YAML flow, e.g. "{every: 1h,
# timeout: 1s}") when given.
gen_probes() {
    python3 - "$@" <<'PY'
import sys
path, n, url = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sched = f"  schedule: {sys.argv[4]}\n" if len(sys.argv) > 4 else ""
with open(path, "w") as f:
    for i in range(n):
        f.write(f'- probe: p{i}\n{sched}  steps: [{{name: get, request: {{url: "{url}"}}, expect: {{status: 200}}}}]\n')
PY
}

# start_agent NAME ARGS...: runs `tripline run` with a free port, stdout to
# $WORK/NAME.out and logs to $WORK/NAME.log; sets AGENT_PID and AGENT_URL.
# AGENT_WRAP (words, e.g. "prlimit --nofile=128:128"): a command that execs
# the agent, so AGENT_PID is still the agent's.
start_agent() {
    local name=$1; shift
    # shellcheck disable=SC2086 # AGENT_WRAP is words on purpose
    ${AGENT_WRAP:-} "$B/tripline" run --listen 127.0.0.1:0 "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
    AGENT_PID=$!
    PIDS+=($AGENT_PID)
    local end=$((SECONDS + 60)) port
    while [ "$SECONDS" -lt "$end" ]; do
        # the log may not exist yet: the background shell creates it
        port=$(sed -n 's/.*"msg":"tripline started".*"port":\([0-9]*\).*/\1/p' "$WORK/$name.log" 2>/dev/null | head -n1 || true)
        if [ -n "$port" ]; then AGENT_URL=http://127.0.0.1:$port; return 0; fi
        kill -0 "$AGENT_PID" 2>/dev/null || fail "agent $name exited: $(cat "$WORK/$name.log")"
        sleep 0.1
    done
    fail "agent $name did not start in 60 s: $(cat "$WORK/$name.log")"
}

# stop_agent: SIGTERM, wait, and check the exit status is 0.
stop_agent() {
    kill -TERM "$AGENT_PID"
    local rc=0
    wait "$AGENT_PID" || rc=$?
    [ "$rc" -eq 0 ] || fail "agent exited $rc after SIGTERM: $(tail -20 "$WORK"/*.log)"
}

# once_json FILE RC: `tripline once --json FILE`, its results in $WORK/out.json
# and its stderr in $WORK/err.txt; fails unless it exits RC. A hang guard of
# 240 s (a bounded run ends long before; a runaway search does not).
once_json() {
    local rc=0
    timeout 240 "$B/tripline" once --json "$1" >"$WORK/out.json" 2>"$WORK/err.txt" || rc=$?
    [ "$rc" -ne 124 ] || fail "once $1 still running after 240 s"
    [ "$rc" -eq "$2" ] || fail "once $1 exited $rc, expected $2: $(cat "$WORK/out.json" "$WORK/err.txt")"
}

# wait_until DESC SECONDS CMD...: polls CMD every 100 ms until it succeeds.
# SECONDS only bounds a failure, and never below 60: a loaded CI machine may
# take many times longer than a quiet one, and a cap it runs out of flakes.
wait_until() {
    local desc=$1 secs=$2; shift 2
    [ "$secs" -ge 60 ] || secs=60
    local end=$((SECONDS + secs))
    while [ "$SECONDS" -lt "$end" ]; do
        "$@" && return 0
        sleep 0.1
    done
    "$@" || fail "timed out after ${secs}s waiting for $desc"
}

# status_to URL FILE: the agent's /status, saved.
status_to() { curl -fsS --noproxy '*' "$1/status" >"$2"; }

# probe_runs URL PROBE: runs completed by PROBE per the agent's /status (0 if absent).
probe_runs() {
    curl -fsS --noproxy '*' "$1/status" | python3 -c '
import json, sys
p = [p for p in json.load(sys.stdin)["probes"] if p["probe"] == sys.argv[1]]
print(p[0]["runs"] if p else 0)' "$2"
}
runs_at_least() { [ "$(probe_runs "$1" "$2")" -ge "$3" ]; }

# metric URL NAME: the value of an unlabelled series in /metrics (0 if absent).
metric() {
    local v
    v=$(curl -fsS --noproxy '*' "$1/metrics" | sed -n "s/^$2 //p" | head -n1)
    echo "${v:-0}"
}
metric_at_least() { awk -v v="$(metric "$1" "$2")" -v n="$3" 'BEGIN { exit !(v >= n) }'; }
# spool_empty: the agent at $AGENT_URL has delivered every spooled event.
spool_empty() { curl -fsS --noproxy '*' "$AGENT_URL/status" | grep -q '"spool":{"depth":0,'; }
# log_count FILE PATTERN: lines of FILE matching PATTERN (0 if none or no file).
log_count() { grep -c -- "$2" "$1" 2>/dev/null || true; }
