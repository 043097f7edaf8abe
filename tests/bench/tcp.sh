#!/usr/bin/env bash
# TCP (and ICMP) checks per second on one core: tripline's CPU per check,
# `tripline once --json` over N one-step probes against tests/fixtures/tcp_banner.py
# on loopback, net of `tripline check` on the same file (start-up and loading),
# as tests/bench/run.sh measures HTTP. The fixture's CPU is not counted.
#
#   tests/bench/tcp.sh [-n N] [-r ROUNDS]
#
# Env: BENCH_BUILD (default <repo>/build-bench, a Release build without
# sanitizers, configured and built here). ICMP rows need unshare -n (root).
set -euo pipefail
S=$(cd "$(dirname "$0")/../.." && pwd)
BB=${BENCH_BUILD:-$S/build-bench}
N=500 ROUNDS=3
while [ $# -gt 0 ]; do
    case $1 in
    -n) N=$2; shift 2 ;;
    -r) ROUNDS=$2; shift 2 ;;
    *) echo "usage: $0 [-n N] [-r ROUNDS]" >&2; exit 2 ;;
    esac
done
WORK=$(mktemp -d /tmp/tripline-bench-tcp.XXXXXX)
FX=
cleanup() { [ -n "$FX" ] && kill "$FX" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

cmake -S "$S" -B "$BB" -DCMAKE_BUILD_TYPE=Release -DTRIPLINE_SANITIZE=OFF -DBUILD_TESTING=OFF >/dev/null
nice cmake --build "$BB" -j2 --target tripline >/dev/null
T=$BB/tripline

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
/usr/bin/python3 "$S/tests/fixtures/tcp_banner.py" --cert "$WORK/cert.pem" --key "$WORK/key.pem" >"$WORK/fx.out" &
FX=$!
for _ in $(seq 100); do grep -qs tls= "$WORK/fx.out" && break; sleep 0.1; done
port() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" "$WORK/fx.out"; }

# probes NAME BLOCK: N one-step probes with that step block.
probes() {
    for i in $(seq "$N"); do
        printf -- '- probe: %s-%d\n  schedule: {every: 1m, timeout: 10s}\n  steps:\n    - name: s\n      %s\n' "$1" "$i" "$2"
    done >"$WORK/$1.yaml"
}
probes connect "tcp: {host: 127.0.0.1, port: $(port silent)}"
probes ping "tcp: {host: 127.0.0.1, port: $(port ping), exchange: [{send: \"PING\\r\\n\"}, {expect: \"+PONG\"}]}"
probes tls "tcp: {host: 127.0.0.1, port: $(port tls), tls: {ca_file: \"$WORK/cert.pem\"}}"
probes icmp "icmp: {host: 127.0.0.1, count: 1}"

# cpu_us CMD...: user+sys CPU of CMD in microseconds (wait4 through python).
cpu_us() {
    /usr/bin/python3 -c '
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, ru = os.wait4(p.pid, 0)
print(int((ru.ru_utime + ru.ru_stime) * 1e6))' "$@"
}

# row NAME [WRAP...]: median net CPU per check over ROUNDS, and the failures seen.
row() {
    local name=$1; shift
    local samples=()
    for _ in $(seq "$ROUNDS"); do
        local once check
        once=$(cpu_us "$@" "$T" once --json "$WORK/$name.yaml")
        check=$(cpu_us "$@" "$T" check "$WORK/$name.yaml")
        samples+=($(( (once - check) / N )))
    done
    "$@" "$T" once --json "$WORK/$name.yaml" >"$WORK/$name.json" 2>/dev/null || true
    local failed
    failed=$(grep -c '"ok":false' "$WORK/$name.json" || true)
    local med
    med=$(printf '%s\n' "${samples[@]}" | sort -n | sed -n "$(( (ROUNDS + 1) / 2 ))p")
    printf '| %s | %d | %d µs | %d | %s | %s |\n' "$name" "$N" "$med" $(( med > 0 ? 1000000 / med : 0 )) \
        "${samples[*]}" "$failed"
}

echo "| check | probes | CPU per check (median) | checks/s on one core | samples (µs) | failed |"
echo "|---|---|---|---|---|---|"
row connect
row ping
row tls
if unshare -n true 2>/dev/null; then
    row icmp unshare -n sh -c 'ip link set lo up && echo "0 2147483647" >/proc/sys/net/ipv4/ping_group_range && exec "$@"' sh
fi
