#!/usr/bin/env bash
# DNS checks per second on one core, run by hand (not in ctest):
#
#   bash tests/bench/dns.sh              # N=500 probes every 1s, DURATION=30
#   N=1000 DURATION=60 bash tests/bench/dns.sh
#
# All on loopback: a Release build (no sanitizers) in build-bench-dns; dnsmasq
# (tests/fixtures/dns_zone.py) pinned to CPU 1; `tripline run` pinned to CPU 0
# with N one-step DNS probes (A of api.example.test, two answers, an
# `answers: {contains: ...}` check) every 1s. Over a steady-state window it
# reads the agent's CPU (utime+stime of /proc/PID/stat) and the runs it
# completed (tripline_probe_runs_total); CPU per check = CPU / runs, checks per
# second on one core = 1 / (CPU per check). TRANSPORT=tcp asks over TCP.
# Prints one table row (paste it into tests/bench/RESULTS-dns.md).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$SRC/build-bench-dns}
N=${N:-500}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
TRANSPORT=${TRANSPORT:-udp}
WORK=$(mktemp -d /tmp/tripline-bench-dns.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
die() { printf 'dns.sh: %s\n' "$*" >&2; exit 1; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
runs_total() {
    curl -fsS --noproxy '*' "http://127.0.0.1:$1/metrics" |
        awk '/^tripline_probe_runs_total[{ ]/ {s += $NF} END {printf "%d\n", s}'
}
TCK=$(getconf CLK_TCK)

[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (agent on CPU 0, dnsmasq on CPU 1)"
if [ ! -x "$BUILD/tripline" ]; then
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTRIPLINE_SANITIZE=OFF -DBUILD_TESTING=OFF >/dev/null
    make -C "$BUILD" -j2 tripline >/dev/null
fi

taskset -c 1 "$SRC/tests/fixtures/dns_zone.py" >"$WORK/zone.out" 2>"$WORK/zone.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/zone.out" ] && break; sleep 0.1; done
PORT=$(head -n1 "$WORK/zone.out")
[ -n "$PORT" ] || die "dnsmasq did not start: $(cat "$WORK/zone.err")"

python3 - "$N" "$PORT" "$TRANSPORT" >"$WORK/probes.yaml" <<'PY'
import sys
n, port, transport = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for i in range(n):
    print(f"- probe: d{i}\n  schedule: {{every: 1s, timeout: 900ms}}\n  steps:\n"
          f"    - {{name: a, dns: {{name: api.example.test, server: \"127.0.0.1:{port}\", transport: {transport}}},"
          f" expect: {{dns: {{answers: {{contains: 10.0.0.1}}}}}}}}")
PY
cat >"$WORK/agent.yaml" <<EOF
limits: {concurrency: 20000, per_host: 20000}
spool: {dir: $WORK/spool}
log_level: warn
EOF
ulimit -n 65536 2>/dev/null || true
taskset -c 0 "$BUILD/tripline" run --config "$WORK/agent.yaml" --listen 127.0.0.1:0 --log-level info "$WORK/probes.yaml" \
    >"$WORK/agent.out" 2>"$WORK/agent.err" &
APID=$!
PIDS+=($APID)
APORT=
for _ in $(seq 200); do
    APORT=$(sed -n 's/.*"msg":"tripline started".*"port":\([0-9]*\).*/\1/p' "$WORK/agent.err" | head -n1)
    [ -n "$APORT" ] && break
    kill -0 "$APID" 2>/dev/null || die "agent exited: $(cat "$WORK/agent.err")"
    sleep 0.05
done
[ -n "$APORT" ] || die "agent did not start"
sleep $((1 + WARMUP))
r0=$(runs_total "$APORT"); c0=$(cpu_ticks "$APID"); t0=$(date +%s.%N)
sleep "$DURATION"
c1=$(cpu_ticks "$APID"); t1=$(date +%s.%N); r1=$(runs_total "$APORT")
fails=$(curl -fsS --noproxy '*' "http://127.0.0.1:$APORT/metrics" |
    awk '/^tripline_probe_failures_total[{ ]/ {s += $NF} END {printf "%d\n", s}')
kill -TERM "$APID"; wait "$APID" || true
python3 - "$N" "$TRANSPORT" "$c0" "$c1" "$TCK" "$t0" "$t1" "$r0" "$r1" "$fails" <<'PY'
import sys
n, tr = sys.argv[1], sys.argv[2]
c0, c1, tck = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
t0, t1, r0, r1, fails = float(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10])
cpu = (c1 - c0) / tck
runs = r1 - r0
per = cpu / runs * 1e6 if runs else float("nan")
print("| probes | transport | window s | checks | checks/s | agent CPU s | CPU share | µs CPU/check | checks/s on one core | failures |")
print("|---|---|---|---|---|---|---|---|---|---|")
print(f"| {n} | {tr} | {t1 - t0:.1f} | {runs} | {runs / (t1 - t0):.0f} | {cpu:.2f} | {cpu / (t1 - t0) * 100:.1f} % "
      f"| {per:.0f} | {1e6 / per:,.0f} | {fails} |")
PY
