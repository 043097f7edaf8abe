#!/usr/bin/env bash
# Benchmark of `tripline run` (the daemon) against Prometheus blackbox_exporter,
# run by hand (not in ctest):
#
#   bash tests/bench/daemon.sh            # DURATION=30 WARMUP=5 by default
#   DURATION=60 bash tests/bench/daemon.sh
#
# What it does, all on loopback:
#  - a Release build (no sanitizers) in build-bench-daemon;
#  - nginx with its own temp config (worker_processes 1, access_log off, a
#    small static 200), pinned to CPU 1;
#  - the agent pinned to CPU 0 ("one core") with 1,000 one-step probes every
#    1s and 10,000 every 10s (1,000 checks/s each), limits high enough that
#    nothing queues: CPU seconds per 1,000 runs from /proc/PID/stat over a
#    steady-state window, schedule lateness p50/p99/max from the delta of the
#    agent's tripline_schedule_lateness_seconds histogram over that window
#    (and /status scheduler.lateness_p99_ms, cumulative since start);
#  - idle RSS: the same probe counts every 24h (configured, idle), VmRSS
#    after start-up; per probe = (RSS(N) - RSS(1)) / (N - 1);
#  - load time of 10,000 definitions: `tripline check` under /usr/bin/time,
#    and the agent's launch-to-"tripline started" time from its log;
#  - blackbox_exporter pinned to CPU 0 with an http_2xx module, driven as it
#    is deployed: a scraper (daemon_scraper.c, on CPU 1 with nginx) calling
#    /probe?target=...&module=http_2xx for the same targets at the same
#    rate; only the exporter's CPU is counted.
# Prints a table and writes tests/bench/RESULTS-daemon.md (the figures, the
# command, machine notes, date; tests/bench/daemon_analysis.md is appended).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$SRC/build-bench-daemon}
DURATION=${DURATION:-30}   # steady-state window, seconds
WARMUP=${WARMUP:-5}        # after the first full interval, before the window
LOG_LEVEL=${LOG_LEVEL:-info}
COUNTS=${COUNTS:-"1000 10000"}
RESULTS=${RESULTS:-$SRC/tests/bench/RESULTS-daemon.md}
AGENT_CPU=0
OTHER_CPU=1
EXPORTER=${EXPORTER:-/usr/bin/prometheus-blackbox-exporter}
WORK=$(mktemp -d /tmp/tripline-bench-daemon.XXXXXX)
PIDS=()
COMMAND="$(printf '%q ' env DURATION="$DURATION" WARMUP="$WARMUP" LOG_LEVEL="$LOG_LEVEL" COUNTS="$COUNTS" bash tests/bench/daemon.sh)"

cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'daemon.sh: %s\n' "$*" >&2; exit 1; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
now() { date +%s.%N; }
# utime + stime in clock ticks (fields 14 and 15; comm has no spaces here)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
TCK=$(getconf CLK_TCK)

[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (agent on CPU 0, nginx on CPU 1)"
command -v nginx >/dev/null || die "nginx not installed (Debian: nginx-light)"
[ -x "$EXPORTER" ] || die "$EXPORTER not installed (Debian: prometheus-blackbox-exporter)"

# ---------------------------------------------------------------- build
say "Release build in $BUILD"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTRIPLINE_SANITIZE=OFF >"$WORK/cmake.log" 2>&1 ||
    { cat "$WORK/cmake.log"; die "cmake failed"; }
make -C "$BUILD" -j2 tripline >"$WORK/make.log" 2>&1 || { tail -30 "$WORK/make.log"; die "build failed"; }
TRIPLINE=$BUILD/tripline
cc -O2 -Wall -Wextra -o "$WORK/daemon_scraper" "$SRC/tests/bench/daemon_scraper.c" -lcurl ||
    die "cannot build daemon_scraper (libcurl4-openssl-dev)"

# ---------------------------------------------------------------- nginx
# shellcheck source=tests/bench/benchlib.sh
. "$SRC/tests/bench/benchlib.sh"
NGINX_CPU=$OTHER_CPU bench_nginx
say "nginx on 127.0.0.1:$NGINX_PORT (CPU $OTHER_CPU)"

# ---------------------------------------------------------------- probe files
# gen N EVERY FILE: N one-step probes, target i = TARGET_PREFIX<i>
gen() { bench_gen "$@"; }
cat >"$WORK/agent.yaml" <<EOF
limits: {concurrency: 20000, per_host: 20000}
spool: {dir: $WORK/spool}
log_level: $LOG_LEVEL
EOF

# start_agent NAME FILE: sets APID, APORT; the log is $WORK/NAME.err
start_agent() {
    local name=$1 file=$2
    AT0=$(now)
    taskset -c "$AGENT_CPU" "$TRIPLINE" run --config "$WORK/agent.yaml" --listen 127.0.0.1:0 "$file" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" &
    APID=$!
    PIDS+=($APID)
    APORT=
    for _ in $(seq 600); do
        APORT=$(grep -m1 '"msg":"tripline started"' "$WORK/$name.err" 2>/dev/null | sed -n 's/.*"port":\([0-9]*\).*/\1/p' || true)
        [ -n "$APORT" ] && break
        kill -0 "$APID" 2>/dev/null || { cat "$WORK/$name.err"; die "agent $name exited"; }
        sleep 0.05
    done
    [ -n "$APORT" ] || die "agent $name did not start"
}
stop_agent() {
    kill -TERM "$APID"
    wait "$APID" || true
}

# ---------------------------------------------------------------- agent under load
for n in $COUNTS; do
    every=$((n / 1000))s
    gen "$n" "$every" "$WORK/load-$n.yaml"
    say "agent: $n probes every $every, warm-up $((n / 1000 + WARMUP)) s, window $DURATION s"
    start_agent "load-$n" "$WORK/load-$n.yaml"
    sleep $((n / 1000 + WARMUP))
    # CPU window A: nothing but the runs (no HTTP request to the agent yet)
    ca0=$(cpu_ticks "$APID"); ta0=$(now)
    sleep "$DURATION"
    ca1=$(cpu_ticks "$APID"); ta1=$(now)
    echo "$ca0 $ca1 $ta0 $ta1" >"$WORK/load-$n.cpua"
    # The first request: /status's lateness since start, computed before its
    # own rendering can delay a run, so no scrape stall is in it.
    curl -fsS -o "$WORK/load-$n.status0" "http://127.0.0.1:$APORT/status"
    # One scrape before the window (as Prometheus would scrape it); its cost
    # is measured on its own, and its stall is inside the lateness window.
    c0=$(cpu_ticks "$APID")
    s0=$(now)
    curl -fsS -o "$WORK/load-$n.m0" "http://127.0.0.1:$APORT/metrics"
    s1=$(now)
    c1=$(cpu_ticks "$APID")
    echo "$(( c1 - c0 )) $s0 $s1 $(stat -c %s "$WORK/load-$n.m0")" >"$WORK/load-$n.scrape"
    sleep 1
    t0=$(now)
    c0=$(cpu_ticks "$APID")
    sleep "$DURATION"
    c1=$(cpu_ticks "$APID")
    t1=$(now)
    echo "$c0 $c1 $t0 $t1 $(rss_kb "$APID")" >"$WORK/load-$n.cpu"
    m1=$(now)
    curl -fsS -o "$WORK/load-$n.m1" "http://127.0.0.1:$APORT/metrics"
    # the run rate is taken between the two scrapes (end of the first, start
    # of the second), which bracket the CPU window
    echo "$s1 $m1" >"$WORK/load-$n.mtimes"
    curl -fsS -o "$WORK/load-$n.status" "http://127.0.0.1:$APORT/status"
    stop_agent
done

# ---------------------------------------------------------------- idle RSS and load time
for n in 1 $COUNTS; do
    gen "$n" 24h "$WORK/idle-$n.yaml"
    start_agent "idle-$n" "$WORK/idle-$n.yaml"
    echo "$AT0" >"$WORK/idle-$n.t0"
    sleep 3
    rss_kb "$APID" >"$WORK/idle-$n.rss"
    say "agent idle, $n probes: VmRSS $(cat "$WORK/idle-$n.rss") kB"
    stop_agent
done
maxn=$(echo "$COUNTS" | tr ' ' '\n' | sort -n | tail -1)
for i in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$WORK/check-$i.time" "$TRIPLINE" check "$WORK/idle-$maxn.yaml" >"$WORK/check.out" 2>&1 ||
        { cat "$WORK/check.out"; die "tripline check failed"; }
done

# ---------------------------------------------------------------- blackbox_exporter
cat >"$WORK/blackbox.yml" <<EOF
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      valid_status_codes: [200]
EOF
"$EXPORTER" --version >"$WORK/exporter.version" 2>&1 || true
for n in $COUNTS; do
    interval_ms=$((n / 1000 * 1000))
    BPORT=$(free_port)
    taskset -c "$AGENT_CPU" "$EXPORTER" --config.file="$WORK/blackbox.yml" \
        --web.listen-address="127.0.0.1:$BPORT" >"$WORK/bb-$n.log" 2>&1 &
    BPID=$!
    PIDS+=($BPID)
    for _ in $(seq 100); do
        curl -fsS "http://127.0.0.1:$BPORT/-/healthy" >/dev/null 2>&1 && break
        sleep 0.1
    done
    say "blackbox_exporter: $n targets every $((interval_ms / 1000))s, window $DURATION s"
    lead=$((n / 1000 + WARMUP))
    taskset -c "$OTHER_CPU" "$WORK/daemon_scraper" "http://127.0.0.1:$BPORT" "$TARGET_PREFIX" "$n" "$interval_ms" \
        $((lead + 1 + DURATION + 1)) >"$WORK/bb-$n.scraper" 2>&1 &
    SPID=$!
    PIDS+=($SPID)
    sleep $((lead + 1))
    t0=$(now)
    c0=$(cpu_ticks "$BPID")
    sleep "$DURATION"
    c1=$(cpu_ticks "$BPID")
    t1=$(now)
    echo "$c0 $c1 $t0 $t1 $(rss_kb "$BPID")" >"$WORK/bb-$n.cpu"
    wait "$SPID" || say "scraper: $(cat "$WORK/bb-$n.scraper")"
    kill "$BPID"
    wait "$BPID" 2>/dev/null || true
done

# ---------------------------------------------------------------- report
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "kernel: $(uname -sr)"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs"
    echo "mem: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "nginx: $(nginx -v 2>&1 | sed 's/.*: //')"
    echo "blackbox_exporter: $(head -1 "$WORK/exporter.version")"
    echo "tripline: $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown), $(cc --version | head -1), Release"
} >"$WORK/machine.txt"

python3 - "$WORK" "$TCK" "$COUNTS" "$DURATION" "$WARMUP" "$LOG_LEVEL" "$RESULTS" "$COMMAND" \
    "$SRC/tests/bench/daemon_analysis.md" <<'PY'
import json, os, re, sys
sys.path.insert(0, os.path.dirname(sys.argv[9]))
from table_report import metric_sum, quantile  # noqa: E402
work, tck, counts, duration, warmup, log_level, results, command, analysis = sys.argv[1:]
tck = float(tck)
counts = [int(c) for c in counts.split()]

def hist(path):
    b, c = {}, 0
    for line in open(path):
        m = re.match(r'tripline_schedule_lateness_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
        if m:
            b[float("inf") if m.group(1) == "+Inf" else float(m.group(1))] = float(m.group(2))
        elif line.startswith("tripline_schedule_lateness_seconds_count "):
            c = float(line.split()[1])
    return b, c

series_sum = metric_sum

def fmt_ms(s):
    return f"{s * 1000:.2f} ms"

rows = {}
for n in counts:
    r = rows.setdefault(n, {})
    c0, c1, t0, t1, rss = open(f"{work}/load-{n}.cpu").read().split()
    b0, n0 = hist(f"{work}/load-{n}.m0")
    b1, n1 = hist(f"{work}/load-{n}.m1")
    bounds = sorted(b1)
    cum = [b1[b] - b0.get(b, 0) for b in bounds]
    ma, mb = open(f"{work}/load-{n}.mtimes").read().split()
    secs = float(t1) - float(t0)
    rate = (n1 - n0) / (float(mb) - float(ma))
    runs = rate * secs
    cpu = (float(c1) - float(c0)) / tck
    # runs in a CPU window: the nominal 1,000/s (nothing is skipped or
    # missed, checked below); the measured rate is shown next to it
    ca0, ca1, ta0, ta1 = open(f"{work}/load-{n}.cpua").read().split()
    asecs = float(ta1) - float(ta0)
    acpu = (float(ca1) - float(ca0)) / tck
    r["agent_rate"] = rate
    r["agent_cpu_per_1000"] = acpu / (1000.0 * asecs) * 1000
    r["agent_cpu_util"] = acpu / asecs
    r["agent_cpu_per_1000_scraped"] = cpu / (1000.0 * secs) * 1000
    r["status0_p99_ms"] = json.load(open(f"{work}/load-{n}.status0"))["scheduler"]["lateness_p99_ms"]
    r["agent_rss_load_kb"] = int(rss)
    r["p50"] = quantile(0.5, bounds, cum)
    r["p99"] = quantile(0.99, bounds, cum)
    top = [b for b, c, p in zip(bounds, cum, [0] + cum[:-1]) if c > p]
    r["max_le"] = top[-1] if top else float("nan")
    r["max_lo"] = max([b for b in bounds if b < r["max_le"]], default=0.0)
    r["status_p99_ms"] = json.load(open(f"{work}/load-{n}.status"))["scheduler"]["lateness_p99_ms"]
    fails = series_sum(f"{work}/load-{n}.m1", "tripline_probe_failures_total") - \
            series_sum(f"{work}/load-{n}.m0", "tripline_probe_failures_total")
    r["agent_failures"] = fails
    sk = series_sum(f"{work}/load-{n}.m1", "tripline_runs_skipped_total")
    r["agent_skipped"] = sk
    r["agent_missed"] = series_sum(f"{work}/load-{n}.m1", "tripline_runs_missed_total")
    sc = open(f"{work}/load-{n}.scrape").read().split()
    r["scrape_cpu_s"] = float(sc[0]) / tck
    r["scrape_wall_s"] = float(sc[2]) - float(sc[1])
    r["scrape_bytes"] = int(sc[3])
    bc0, bc1, bt0, bt1, brss = open(f"{work}/bb-{n}.cpu").read().split()
    sline = open(f"{work}/bb-{n}.scraper").read().strip()
    kv = dict(x.split("=", 1) for x in sline.split() if "=" in x)
    rate = float(kv.get("rate", "0/s").rstrip("/s"))
    bsecs = float(bt1) - float(bt0)
    bcpu = (float(bc1) - float(bc0)) / tck
    r["bb_scraper"] = sline
    r["bb_rate"] = rate
    r["bb_cpu_per_1000"] = bcpu / (rate * bsecs) * 1000 if rate else float("nan")
    r["bb_cpu_util"] = bcpu / bsecs
    r["bb_rss_load_kb"] = int(brss)
    r["ratio"] = r["agent_cpu_per_1000"] / r["bb_cpu_per_1000"]

idle = {n: int(open(f"{work}/idle-{n}.rss").read()) for n in [1] + counts}
def started_after(n):
    t0 = float(open(f"{work}/idle-{n}.t0").read())
    for line in open(f"{work}/idle-{n}.err"):
        if '"msg":"tripline started"' in line:
            ts = json.loads(line)["ts"]
            import datetime
            d = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
            return d.timestamp() - t0
    return float("nan")
checks = []
for i in (1, 2, 3):
    e, m = open(f"{work}/check-{i}.time").read().split()[-2:]
    checks.append((float(e), int(m)))
maxn = max(counts)

out = []
out.append("| metric | " + " | ".join(f"{n} probes" for n in counts) + " | target |")
out.append("|---|" + "---|" * len(counts) + "---|")
def row(label, f, target=""):
    out.append(f"| {label} | " + " | ".join(f(rows[n]) for n in counts) + f" | {target} |")
row("agent checks/s (scheduled; measured between scrapes)", lambda r: f"1000; {r['agent_rate']:.0f}")
row("agent CPU s per 1,000 runs (window A, unscraped)", lambda r: f"{r['agent_cpu_per_1000']:.3f}")
row("agent CPU use of its core (window A)", lambda r: f"{r['agent_cpu_util'] * 100:.1f} %")
row("agent CPU s per 1,000 runs (window B, after a scrape)", lambda r: f"{r['agent_cpu_per_1000_scraped']:.3f}")
row("blackbox_exporter checks/s (scraper)", lambda r: f"{r['bb_rate']:.0f}")
row("blackbox_exporter CPU s per 1,000 probes", lambda r: f"{r['bb_cpu_per_1000']:.3f}")
row("blackbox_exporter CPU use of its core", lambda r: f"{r['bb_cpu_util'] * 100:.1f} %")
row("**CPU ratio agent / exporter**", lambda r: f"**{r['ratio']:.2f}**", "<= 0.25")
row("**lateness p99, /status since start, before any scrape**", lambda r: f"**{r['status0_p99_ms']:.2f} ms**", "<= 1 ms")
row("lateness p50 (window B incl. one /metrics scrape)", lambda r: fmt_ms(r["p50"]))
row("lateness p99 (window B incl. one /metrics scrape)", lambda r: fmt_ms(r['p99']), "<= 1 ms")
row("lateness max (window B, bucket)", lambda r: f"{fmt_ms(r['max_lo'])} .. {fmt_ms(r['max_le'])}" if r['max_le'] != float('inf') else f"> {fmt_ms(r['max_lo'])}")
row("lateness p99 (/status since start, at the end)", lambda r: f"{r['status_p99_ms']:.2f} ms")
row("failed runs (window B) / skipped / missed (total)", lambda r: f"{r['agent_failures']:.0f} / {r['agent_skipped']:.0f} / {r['agent_missed']:.0f}")
row("agent RSS under load", lambda r: f"{r['agent_rss_load_kb'] / 1024:.1f} MiB")
row("blackbox_exporter RSS under load", lambda r: f"{r['bb_rss_load_kb'] / 1024:.1f} MiB")
row("one /metrics scrape: bytes", lambda r: f"{r['scrape_bytes'] / 1e6:.1f} MB")
row("one /metrics scrape: agent CPU / wall", lambda r: f"{r['scrape_cpu_s']:.2f} s / {r['scrape_wall_s']:.2f} s")
row("idle RSS (every 24h)", lambda r: "")
out.pop()
out.append("| idle agent VmRSS, probes every 24h | " + " | ".join(f"{idle[n] / 1024:.1f} MiB" for n in counts) + f" | (1 probe: {idle[1] / 1024:.1f} MiB) |")
out.append("| **RSS per idle configured probe** | " + " | ".join(
    f"**{(idle[n] - idle[1]) / (n - 1) * 1024 / 1024:.2f} KiB**" for n in counts) + " | <= 4 KiB |")
best = min(checks)
out.append(f"| **`tripline check` of {maxn} definitions** (best of 3) | | **{best[0]:.2f} s**, max RSS {best[1] / 1024:.0f} MiB | < 0.5 s |")
out.append(f"| agent launch to \"tripline started\" | " + " | ".join(f"{started_after(n):.2f} s" for n in counts) + " | < 0.5 s |")
table = "\n".join(out)
print(table)
for n in counts:
    print(f"scraper {n}: {rows[n]['bb_scraper']}")

machine = open(f"{work}/machine.txt").read()
doc = [
    "# `tripline run` benchmark: the daemon against blackbox_exporter",
    "",
    "Written by `tests/bench/daemon.sh` (run by hand, not in ctest). Produced by:",
    "",
    "```",
    command.strip(),
    "```",
    "",
    f"Windows of {duration} s of steady state per configuration after a warm-up of one interval + {warmup} s:",
    "window A has no HTTP request to the agent at all (CPU, and /status's lateness since start is read",
    "right after it, as the first request); then one /metrics scrape (its cost measured alone), 1 s, and",
    "window B, bracketed by that scrape and the next, whose histogram delta gives p50/p99/max with one",
    "scrape's stall inside (as with a Prometheus scrape interval of about the window).",
    f"agent log level `{log_level}` (its log on a file); agent and blackbox_exporter pinned to CPU 0,",
    "nginx (1 worker, access_log off, `return 200 \"ok\\n\"`) pinned to CPU 1 together with the",
    "scraper that drives blackbox_exporter. The agent runs one-step GET probes (expect status 200);",
    "blackbox_exporter runs module `http_2xx` (prober http, valid_status_codes [200]) for the same",
    "targets `http://127.0.0.1:PORT/t/<i>` at the same rate, one `/probe` scrape per target and",
    "interval, as Prometheus would. CPU is utime+stime from /proc/PID/stat of the agent or the",
    "exporter only; lateness is the delta of the agent's `tripline_schedule_lateness_seconds`",
    "histogram over the window (quantiles interpolated inside buckets like `histogram_quantile`;",
    "the max is only known to the bucket). RSS per idle configured probe is",
    "(VmRSS with N probes every 24h - VmRSS with 1 probe) / (N - 1).",
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
for n in counts:
    doc.append(f"- scraper of blackbox_exporter, {n} targets: `{rows[n]['bb_scraper']}`")
doc.append("")
if os.path.exists(analysis):
    doc.append(open(analysis).read())
with open(results, "w") as f:
    f.write("\n".join(doc))
print(f"wrote {results}")
PY
