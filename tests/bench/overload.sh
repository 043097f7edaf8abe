#!/usr/bin/env bash
# Overload benchmark of `tripline run` (the daemon), run by hand (not in ctest):
#
#   bash tests/bench/overload.sh                         # COUNTS="1000 2000 4000 8000 16000"
#   COUNTS="3000 6000" DURATION=15 bash tests/bench/overload.sh
#   bash tests/bench/overload.sh BUILD_DIR              # use an existing build dir (Release!)
#
# What it does, all on loopback:
#  - a Release build (no sanitizers) in build-bench-overload (or BUILD_DIR, or $BUILD);
#  - nginx with its own temp config (1 worker, access_log off, `return 200`), pinned to CPU 1:
#    a healthy target that never fails;
#  - for each N in COUNTS: the agent pinned to CPU 0 with N one-step probes every 1 s
#    (timeout 1 s, expect status 200) whose escalation ladder opens an incident at
#    1 consecutive failure, a `sinks: {file: ...}` sink (every opened incident is a line
#    there), limits high enough (20000) that only the CPU limits it; after WARMUP s, two
#    /metrics scrapes DURATION s apart; from their deltas: runs/s completed, late skips/s,
#    agent faults (overloaded), probe failures, loop lag p50/p99 (interpolated inside the
#    histogram's buckets), schedule lateness p99; agent CPU from /proc/PID/stat over the
#    same window; machine-wide CPU from /proc/stat (so other load on the box is visible);
#    events in the file sink over the whole run of the agent.
# Prints a table and writes tests/bench/RESULTS-overload.md (RESULTS=... to change).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-${BUILD:-$SRC/build-bench-overload}}
DURATION=${DURATION:-15}   # measured window, seconds
WARMUP=${WARMUP:-3}        # after "tripline started", before the window
COUNTS=${COUNTS:-"1000 2000 4000 8000 16000"}
RESULTS=${RESULTS:-$SRC/tests/bench/RESULTS-overload.md}
NOTES=${NOTES:-$SRC/tests/bench/overload_analysis.md}
AGENT_CPU=0
OTHER_CPU=1
WORK=$(mktemp -d /tmp/tripline-bench-overload.XXXXXX)
PIDS=()
COMMAND="$(printf '%q ' env DURATION="$DURATION" WARMUP="$WARMUP" COUNTS="$COUNTS" bash tests/bench/overload.sh ${1:+"$1"})"

cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [ -n "${BENCH_KEEP:-}" ]; then
        echo "kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'overload.sh: %s\n' "$*" >&2; exit 1; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
now() { date +%s.%N; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# machine-wide: busy and total jiffies over all CPUs
sys_ticks() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat; }
TCK=$(getconf CLK_TCK)

[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (agent on CPU 0, nginx on CPU 1)"
command -v nginx >/dev/null || die "nginx not installed (Debian: nginx-light)"

# ---------------------------------------------------------------- build
if [ -z "${1:-}" ]; then
    say "Release build in $BUILD"
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTRIPLINE_SANITIZE=OFF >"$WORK/cmake.log" 2>&1 ||
        { cat "$WORK/cmake.log"; die "cmake failed"; }
    make -C "$BUILD" -j2 tripline >"$WORK/make.log" 2>&1 || { tail -30 "$WORK/make.log"; die "build failed"; }
fi
TRIPLINE=$BUILD/tripline
[ -x "$TRIPLINE" ] || die "no $TRIPLINE"
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
[ "$BUILD_TYPE" = Release ] || say "warning: $BUILD is a '$BUILD_TYPE' build, not Release"

# ---------------------------------------------------------------- nginx
# shellcheck source=tests/bench/benchlib.sh
. "$SRC/tests/bench/benchlib.sh"
NGINX_CPU=$OTHER_CPU NGINX_CONNS=40000 bench_nginx
NPID=$NGINX_PID
say "nginx on 127.0.0.1:$NGINX_PORT (CPU $OTHER_CPU)"
# nginx's worker (the child of the master we started)
nginx_worker() { pgrep -P "$NPID" | head -1; }

# ---------------------------------------------------------------- probe files
# gen N PREFIX: N one-step probes every 1 s (timeout 1 s: the default min(10s, every), and
# it must not exceed every), target i = TARGET_PREFIX<i>, an incident at 1 failure; in
# files PREFIX-K.yaml of 5,000 probes (a probe file is at most 2 MiB)
gen() {
    python3 - "$1" "$2" "$TARGET_PREFIX" <<'PY'
import sys
n, path, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for k in range(0, n, 5000):
    with open(f"{path}-{k // 5000}.yaml", "w") as f:
        for i in range(k, min(n, k + 5000)):
            f.write(f"- probe: p{i}\n  schedule: {{every: 1s, timeout: 1s}}\n"
                    f"  steps: [{{name: get, request: {{url: \"{prefix}{i}\"}}, expect: {{status: 200}}}}]\n"
                    f"  escalation:\n    ladder: [{{level: critical, when: {{consecutive_failures: 1}}}}]\n")
PY
}

for n in $COUNTS; do
    gen "$n" "$WORK/p-$n"
    cat >"$WORK/agent-$n.yaml" <<EOF
limits: {concurrency: 20000, per_host: 20000}
spool: {dir: $WORK/spool-$n}
sinks: {file: $WORK/events-$n.jsonl}
log_level: info
EOF
    "$TRIPLINE" check --config "$WORK/agent-$n.yaml" "$WORK/p-$n"-*.yaml >"$WORK/check-$n.out" 2>&1 ||
        { cat "$WORK/check-$n.out"; die "tripline check refused the generated files"; }
    : >"$WORK/events-$n.jsonl"

    say "agent: $n probes every 1s, warm-up $WARMUP s, window $DURATION s"
    taskset -c "$AGENT_CPU" "$TRIPLINE" run --config "$WORK/agent-$n.yaml" --listen 127.0.0.1:0 "$WORK/p-$n"-*.yaml \
        >"$WORK/run-$n.out" 2>"$WORK/run-$n.err" &
    APID=$!
    PIDS+=($APID)
    APORT=
    for _ in $(seq 600); do
        APORT=$(grep -m1 '"msg":"tripline started"' "$WORK/run-$n.err" 2>/dev/null | sed -n 's/.*"port":\([0-9]*\).*/\1/p' || true)
        [ -n "$APORT" ] && break
        if ! kill -0 "$APID" 2>/dev/null; then
            wait "$APID" && rc=0 || rc=$?
            cat "$WORK/run-$n.err" >&2
            die "agent ($n probes) exited with status $rc before it started (its log is above)"
        fi
        sleep 0.05
    done
    [ -n "$APORT" ] || die "agent ($n probes) did not start"
    sleep "$WARMUP"
    curl -fsS -o "$WORK/m0-$n" "http://127.0.0.1:$APORT/metrics"
    t0=$(now); c0=$(cpu_ticks "$APID"); s0=$(sys_ticks); NW=$(nginx_worker); w0=$(cpu_ticks "$NW")
    l0=$(cut -d' ' -f1-3 /proc/loadavg)
    sleep "$DURATION"
    t1=$(now); c1=$(cpu_ticks "$APID"); s1=$(sys_ticks); w1=$(cpu_ticks "$NW")
    l1=$(cut -d' ' -f1-3 /proc/loadavg)
    curl -fsS -o "$WORK/m1-$n" "http://127.0.0.1:$APORT/metrics"
    echo "$t0 $t1 $c0 $c1 $s0 $s1 $w0 $w1" >"$WORK/win-$n"
    echo "$l0 / $l1" >"$WORK/load-$n"
    kill -TERM "$APID"
    wait "$APID" || true
    grep -c '"msg":"overloaded' "$WORK/run-$n.err" >"$WORK/shedlog-$n" || true
    say "  done: $(wc -l <"$WORK/events-$n.jsonl") events in the file sink"
done

# ---------------------------------------------------------------- report
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "kernel: $(uname -sr)"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs"
    echo "mem: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "nginx: $(nginx -v 2>&1 | sed 's/.*: //')"
    echo "tripline: $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown), $(cc --version | head -1), ${BUILD_TYPE:-unknown build type}"
} >"$WORK/machine.txt"

python3 - "$WORK" "$TCK" "$COUNTS" "$DURATION" "$WARMUP" "$RESULTS" "$COMMAND" "$NOTES" <<'PY'
import json, os, re, sys
work, tck, counts, duration, warmup, results, command, notes = sys.argv[1:]
tck = float(tck)
counts = [int(c) for c in counts.split()]

def parse(path):
    m = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        k, v = line.rsplit(" ", 1)
        m[k] = float(v)
    return m

def total(m, name, match=""):
    return sum(v for k, v in m.items() if (k == name or k.startswith(name + "{")) and match in k)

def hist(m, name):
    b = {}
    for k, v in m.items():
        r = re.match(re.escape(name) + r'_bucket\{(?:.*,)?le="([^"]+)"\}', k)
        if r:
            le = float("inf") if r.group(1) == "+Inf" else float(r.group(1))
            b[le] = b.get(le, 0) + v
    return b

def quantile(q, b0, b1):
    bounds = sorted(b1)
    cum = [b1[b] - b0.get(b, 0) for b in bounds]
    if not cum or cum[-1] <= 0:
        return float("nan")
    rank = q * cum[-1]
    pb, pc = 0.0, 0.0
    for b, c in zip(bounds, cum):
        if c >= rank:
            if b == float("inf"):
                return float("inf")  # above the last finite bucket
            return pb + (b - pb) * ((rank - pc) / (c - pc) if c > pc else 0)
        pb, pc = b, c
    return pb

def ms(s):
    if s != s:
        return "n/a"
    if s == float("inf"):
        return "> 5 s"
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"

rows = {}
for n in counts:
    m0, m1 = parse(f"{work}/m0-{n}"), parse(f"{work}/m1-{n}")
    t0, t1, c0, c1, sb0, st0, sb1, st1, w0, w1 = map(float, open(f"{work}/win-{n}").read().split())
    secs = t1 - t0
    d = lambda name, match="": total(m1, name, match) - total(m0, name, match)
    events = [json.loads(l) for l in open(f"{work}/events-{n}.jsonl") if l.strip()]
    opened = [e for e in events if e.get("transition") == "opened"]
    r = rows[n] = {}
    r["runs_s"] = d("tripline_probe_runs_total") / secs
    r["late_s"] = d("tripline_runs_skipped_total", 'reason="late"') / secs
    r["skipped_other"] = d("tripline_runs_skipped_total") - d("tripline_runs_skipped_total", 'reason="late"')
    r["missed"] = d("tripline_runs_missed_total")
    r["overloaded"] = d("tripline_agent_faults_total", 'reason="overloaded"')
    r["agent_faults"] = d("tripline_agent_faults_total")
    r["failures"] = d("tripline_probe_failures_total")
    r["failures_all"] = total(m1, "tripline_probe_failures_total")
    r["overloaded_all"] = total(m1, "tripline_agent_faults_total", 'reason="overloaded"')
    r["late_all"] = total(m1, "tripline_runs_skipped_total", 'reason="late"')
    fk = {}
    for k, v in m1.items():
        if k.startswith("tripline_probe_failures_total{") and v:
            lab = ",".join(x for x in k[k.index("{") + 1:-1].split(",") if x.split("=")[0] in ("bucket", "reason"))
            fk[lab] = fk.get(lab, 0) + v
    r["failure_kinds"] = fk
    r["events"] = len(events)
    r["opened"] = len(opened)
    r["opened_kinds"] = sorted({(e.get("bucket"), e.get("reason")) for e in opened})
    r["first_opened"] = opened[0] if opened else None
    lb0, lb1 = hist(m0, "tripline_loop_lag_seconds"), hist(m1, "tripline_loop_lag_seconds")
    r["lag_p50"] = quantile(0.5, lb0, lb1)
    r["lag_p99"] = quantile(0.99, lb0, lb1)
    sb0_, sb1_ = hist(m0, "tripline_schedule_lateness_seconds"), hist(m1, "tripline_schedule_lateness_seconds")
    r["late_p99"] = quantile(0.99, sb0_, sb1_)
    r["cpu"] = (c1 - c0) / tck / secs
    r["nginx_cpu"] = (w1 - w0) / tck / secs
    busy = (sb1 - sb0) / (st1 - st0) * 2  # of 2 CPUs, in CPUs
    r["machine_busy"] = busy
    r["other"] = max(0.0, busy - r["cpu"] - r["nginx_cpu"])
    r["load"] = open(f"{work}/load-{n}").read().strip()
    r["shedlog"] = int(open(f"{work}/shedlog-{n}").read().strip() or 0)

out = []
out.append("| probes every 1 s (due checks/s) | " + " | ".join(str(n) for n in counts) + " |")
out.append("|---|" + "---|" * len(counts))
def row(label, f):
    out.append(f"| {label} | " + " | ".join(f(rows[n]) for n in counts) + " |")
row("**runs/s completed**", lambda r: f"**{r['runs_s']:.0f}**")
row("late skips/s (`runs_skipped_total{reason=\"late\"}`)", lambda r: f"{r['late_s']:.0f}")
row("agent faults `overloaded` (window)", lambda r: f"{r['overloaded']:.0f}")
row("**probe failures** (window / since start)", lambda r: f"**{r['failures']:.0f} / {r['failures_all']:.0f}**")
row("**incidents opened** (file sink, whole run; all events)", lambda r: f"**{r['opened']}** ({r['events']})")
row("loop lag p50 / p99 (`tripline_loop_lag_seconds`)", lambda r: f"{ms(r['lag_p50'])} / {ms(r['lag_p99'])}")
row("schedule lateness p99 (started runs)", lambda r: ms(r["late_p99"]))
row("agent CPU (of its core)", lambda r: f"{r['cpu'] * 100:.0f} %")
row("nginx worker CPU (other core)", lambda r: f"{r['nginx_cpu'] * 100:.0f} %")
row("other load on the box (CPUs busy - agent - nginx)", lambda r: f"{r['other']:.2f} CPU")
row("loadavg 1/5/15 (start / end of window)", lambda r: r["load"].replace(" / ", " →<br>"))
row("\"overloaded: ... skipped\" log lines", lambda r: str(r["shedlog"]))
table = "\n".join(out)
print(table)
detail = []
for n in counts:
    r = rows[n]
    extra = []
    if r["failure_kinds"]:
        extra.append(f"failures by bucket/reason since start: {r['failure_kinds']}")
    if r["opened_kinds"]:
        extra.append(f"incidents opened as {r['opened_kinds']}; first: "
                     f"{json.dumps({k: r['first_opened'].get(k) for k in ('probe', 'bucket', 'reason', 'message')})}")
    if r["skipped_other"] or r["missed"]:
        extra.append(f"other skips {r['skipped_other']:.0f}, missed {r['missed']:.0f}")
    if r["agent_faults"] != r["overloaded"]:
        extra.append(f"agent faults of other reasons {r['agent_faults'] - r['overloaded']:.0f}")
    if extra:
        detail.append(f"- N={n}: " + "; ".join(extra))
for l in detail:
    print(l)
json.dump(rows, open(f"{work}/rows.json", "w"), default=str, indent=1)

machine = open(f"{work}/machine.txt").read()
doc = [
    "# Overload: where the agent starts shedding",
    "",
    "Written by `tests/bench/overload.sh` (run by hand, not in ctest). Produced by:",
    "",
    "```",
    command.strip(),
    "```",
    "",
    "N one-step probes (`GET http://127.0.0.1:PORT/t/<i>`, `expect: {status: 200}`) every 1 s,",
    "timeout 1 s, each with `escalation: {ladder: [{level: critical, when: {consecutive_failures: 1}}]}`",
    "(one failure opens an incident) and the agent config `sinks: {file: ...}` (every opened",
    "incident is a line there), `limits: {concurrency: 20000, per_host: 20000}` (only the CPU",
    "limits). The agent (Release build) is pinned to CPU 0, nginx (1 worker, access_log off,",
    "`return 200`: a target that never fails) to CPU 1. After the agent logged \"tripline started\"",
    f"and {warmup} s more, two `/metrics` scrapes {duration} s apart; rates and the loop lag's quantiles",
    "(interpolated inside the histogram's buckets, as `histogram_quantile`) are the deltas between",
    "them; CPU is utime+stime from /proc/PID/stat over the same window; \"other load\" is the",
    "machine's busy CPUs from /proc/stat minus the agent and the nginx worker. Incidents are",
    "counted over the agent's whole life (start-up included).",
    "",
    "## Machine",
    "",
    "```",
    machine.strip(),
    "```",
    "",
    "## Figures",
    "",
    table,
    "",
]
doc += detail
if detail:
    doc.append("")
if os.path.exists(notes):
    doc.append(open(notes).read())
with open(results, "w") as f:
    f.write("\n".join(doc))
print(f"wrote {results}")
PY
