#!/usr/bin/env bash
# The public benchmark table (run by hand, never in ctest): for each protocol
# and each "probes x interval", what tripline, blackbox_exporter and a raw
# libcurl loop do on one core: checks/s, CPU % of the core, CPU per check,
# RSS, sockets left in TIME_WAIT (client side / server side), failed and
# skipped runs (and due times missed in a stall of the loop), lateness p99,
# and two things about the measured core: its softirq share (on loopback the
# server's TCP work lands there) and steal (the hypervisor running someone
# else on it; a VM's figures move with it).
#
#   bash tests/bench/table.sh                                  # 1,000 x 1s and 10,000 x 10s, HTTP and HTTPS
#   CONFIGS="5000:1s 8000:1s" PROTOS=http WINDOW=60 bash tests/bench/table.sh   # sustained rate
#
# All on loopback: nginx (1 worker, no access log, HTTPS without session
# cache or tickets, so every check is a full handshake) pinned to CPU 1; the
# agent, then blackbox_exporter, then the loop, each alone on CPU 0. Every
# check is a fresh connection for all three. tripline does not resume TLS
# sessions (each check's handshake is part of what it measures), so there is
# no resumption row. CPU is utime+stime of the measured process over a window
# of WINDOW seconds after one interval + WARMUP; runs, failures, skips and the
# lateness histogram are deltas of the agent's /metrics, scraped just outside
# the CPU window. blackbox_exporter is driven as Prometheus drives it (one
# /probe scrape per target and interval, tests/bench/daemon_scraper.c on CPU 1)
# and is skipped when not installed (Debian: prometheus-blackbox-exporter).
# The loop (curl_baseline.c, --same-opts: tripline's own curl options) runs
# twice: paced at each configuration's rate for WINDOW seconds, its starts in
# the agent's start slots (the yardstick for CPU per check at the same rate and
# the same batching: a loop flat out batches more work per wake-up than any
# paced client can), and flat out, 50 at a time, once per
# protocol (the most one core does with libcurl alone).
# LOOP_TIMERFD=1 wakes the paced loop with a timerfd at each slot's due time,
# as the agent's scheduler does, instead of curl_multi_poll's whole
# milliseconds; its lateness p99 is then in the table (a floor for the
# agent's on this machine), and its CPU per check pays one wake-up per slot.
# ROUNDS=3 measures each configuration three times, each round the agent,
# blackbox_exporter and the paced loop one after the other: on a machine
# whose speed drifts over minutes (a VM with noisy neighbours) a ratio is
# then taken between windows a minute apart, not ten, and the table shows
# the median round with the spread, the notes every round's ratio.
# RT=1 runs every measured process and nginx under SCHED_RR (chrt -r 10):
# for a machine that other work shares; say so when you publish its figures.
# Needs: nginx-light, openssl, curl, python3, libcurl4-openssl-dev, 2 CPUs.
# Writes tests/bench/RESULTS-table.md (override with OUT).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$SRC/build-bench-table}
WINDOW=${WINDOW:-30}
ROUNDS=${ROUNDS:-1}
WARMUP=${WARMUP:-5}
CONFIGS=${CONFIGS:-"1000:1s 10000:10s"}
PROTOS=${PROTOS:-"http https"}
LOG_LEVEL=${LOG_LEVEL:-info}
LOOP_N=${LOOP_N:-20000}
OUT=${OUT:-$SRC/tests/bench/RESULTS-table.md}
EXPORTER=${EXPORTER:-/usr/bin/prometheus-blackbox-exporter}
AGENT_CPU=0
NGINX_CPU=1
WORK=$(mktemp -d /tmp/tripline-bench-table.XXXXXX)
PIDS=()
RT=${RT:-}
COMMAND="$(printf '%q ' env CONFIGS="$CONFIGS" PROTOS="$PROTOS" WINDOW="$WINDOW" ROUNDS="$ROUNDS" WARMUP="$WARMUP" \
    LOG_LEVEL="$LOG_LEVEL" ${RT:+RT=$RT} ${LOOP_TIMERFD:+LOOP_TIMERFD=$LOOP_TIMERFD} bash tests/bench/table.sh)"
# shellcheck source=tests/bench/benchlib.sh
. "$SRC/tests/bench/benchlib.sh"
trap bench_cleanup EXIT
[ -n "${BENCH_KEEP:-}" ] && trap "cp -r \"\$WORK\" \"\$BENCH_KEEP\"; bench_cleanup" EXIT

[ "$(nproc)" -ge 2 ] || bench_die "needs 2 CPUs (measured process on CPU 0, nginx on CPU 1)"
bench_build_release "$BUILD" "${BENCH_CFLAGS:-}"
make -s -C "$SRC/tests/bench" OUT="$WORK" >/dev/null
cc -O2 -Wall -Wextra -o "$WORK/daemon_scraper" "$SRC/tests/bench/daemon_scraper.c" -lcurl
# On loopback the server's kernel work (the SYN, the accept queue, waking
# nginx) runs in the client's softirq and is charged to the measured core;
# against a remote API none of it is. nginx accepts deferred (TCP_DEFER_ACCEPT:
# woken once, when the request arrives, not also at the handshake), which the
# client cannot see and which takes ~15 us per check of server work off the
# measured core, for all three tools alike. NGINX_LISTEN_OPTS= turns it off.
export NGINX_LISTEN_OPTS=${NGINX_LISTEN_OPTS-deferred}
BENCH_TLS=1 bench_nginx
# measured (pinned) processes, optionally real-time so other work on a shared machine cannot preempt them
# (an array, not a function: `pin cmd &` must leave $! the measured process, not a subshell)
pin=(taskset -c)
[ -n "$RT" ] && pin=(chrt -r 10 taskset -c)
if [ -n "$RT" ]; then
    for p in $(cat "$WORK/nginx/nginx.pid") $(pgrep -P "$(cat "$WORK/nginx/nginx.pid")"); do chrt -r -p 10 "$p"; done
fi
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }
# TIME_WAIT on the client's side (to the port) and on the server's (from it):
# whoever closes first keeps it (tripline and the loop send Connection: close).
time_wait() {
    echo "$(ss -tanH state time-wait "( dport = :$1 )" | wc -l) $(ss -tanH state time-wait "( sport = :$1 )" | wc -l)"
}
# The measured core's jiffies from /proc/stat (user nice system idle iowait irq
# softirq steal): what else took it during a window, the host's steal included.
core_stat() { awk -v c="cpu$AGENT_CPU" '$1 == c {print $2, $3, $4, $5, $6, $7, $8, $9}' /proc/stat; }

# window PID PORT FILE: CPU ticks and times around WINDOW seconds, then RSS and
# TIME_WAIT; the measured core's /proc/stat around it in FILE.core
window() {
    local c0 t0 s0
    s0=$(core_stat); c0=$(ticks "$1"); t0=$(now)
    sleep "$WINDOW"
    echo "$c0 $(ticks "$1") $t0 $(now) $(rss_kb "$1") $(time_wait "$2")" >"$3"
    echo "$s0 $(core_stat)" >"$3.core"
}

run_agent() { # proto n every port prefix tag
    local proto=$1 n=$2 every=$3 port=$4 prefix=$5 tag=$6 aport
    aport=$(bench_free_port)
    bench_gen "$n" "$every" "$WORK/$tag.yaml" "$prefix"
    bench_agent_config "$WORK/$tag.agent.yaml" "$LOG_LEVEL" "tls: {ca_file: $WORK/ca.pem}"
    "${pin[@]}" "$AGENT_CPU" "$BUILD/tripline" run --config "$WORK/$tag.agent.yaml" --listen "127.0.0.1:$aport" \
        "$WORK/$tag.yaml" >/dev/null 2>"$WORK/$tag.err" &
    local pid=$!
    PIDS+=($pid)
    bench_wait_http "http://127.0.0.1:$aport/status" "$pid"
    sleep $(($(bench_secs "$every") + WARMUP))
    curl -fsS -m 300 -o "$WORK/$tag.m0" "http://127.0.0.1:$aport/metrics"
    local s1; s1=$(now)
    window "$pid" "$port" "$WORK/$tag.cpu"
    local s2; s2=$(now)
    curl -fsS -m 300 -o "$WORK/$tag.m1" "http://127.0.0.1:$aport/metrics"
    echo "$s1 $s2" >"$WORK/$tag.mt"
    kill -TERM "$pid"
    wait "$pid" || true
}

run_exporter() { # proto n every port prefix tag
    local n=$2 every=$3 port=$4 prefix=$5 tag=$6 bport
    [ -x "$EXPORTER" ] || return 0
    printf 'modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n      preferred_ip_protocol: ip4\n      valid_status_codes: [200]\n      tls_config: {ca_file: %s}\n' \
        "$WORK/ca.pem" >"$WORK/blackbox.yml"
    bport=$(bench_free_port)
    "${pin[@]}" "$AGENT_CPU" "$EXPORTER" --config.file="$WORK/blackbox.yml" \
        --web.listen-address="127.0.0.1:$bport" >"$WORK/$tag.bb.log" 2>&1 &
    local pid=$!
    PIDS+=($pid)
    for _ in $(seq 100); do
        curl -fsS "http://127.0.0.1:$bport/-/healthy" >/dev/null 2>&1 && break
        sleep 0.1
    done
    local lead=$(($(bench_secs "$every") + WARMUP))
    "${pin[@]}" "$NGINX_CPU" "$WORK/daemon_scraper" "http://127.0.0.1:$bport" "$prefix" "$n" \
        $(($(bench_secs "$every") * 1000)) $((lead + WINDOW + 2)) >"$WORK/$tag.scraper" 2>&1 &
    local spid=$!
    PIDS+=($spid)
    sleep "$((lead + 1))"
    window "$pid" "$port" "$WORK/$tag.bbcpu"
    wait "$spid" || true
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

# The agent's start slot in us for RATE runs/s (schedules/spread.h: the
# coarsest 250 us * 2^k up to 4 ms holding at most 4 runs).
agent_slot() {
    local slot=4000
    while [ "$slot" -gt 250 ] && [ $(($1 * slot)) -gt 4000000 ]; do slot=$((slot / 2)); done
    echo "$slot"
}

run_loop() { # proto port prefix tag [rate]: flat out, 50 at a time, or paced at rate for WINDOW s
    local proto=$1 port=$2 prefix=$3 tag=$4 rate=${5:-} args
    args=(-n "$LOOP_N" -c 50)
    [ -n "$rate" ] && args=(-n "$((rate * WINDOW))" -c 20000 -r "$rate" --slot "$(agent_slot "$rate")" ${LOOP_TIMERFD:+--timerfd})
    local s0; s0=$(core_stat)
    "${pin[@]}" "$AGENT_CPU" "$WORK/curl_baseline" --same-opts "${args[@]}" --cacert "$WORK/ca.pem" \
        "${prefix}0" >"$WORK/$tag.loop" || true
    echo "$s0 $(core_stat)" >"$WORK/$tag.loop.core"
    echo "$(time_wait "$port")" >"$WORK/$tag.looptw"
}

for proto in $PROTOS; do
    port=$NGINX_PORT prefix=$TARGET_PREFIX
    [ "$proto" = https ] && port=$TLS_PORT prefix=$TLS_PREFIX
    for cfg in $CONFIGS; do
        n=${cfg%%:*} every=${cfg##*:}
        rate=$((n / $(bench_secs "$every")))
        for round in $(seq "$ROUNDS"); do
            tag="$proto-$n-$every.r$round"
            bench_say "$proto: tripline, $n probes every $every (round $round of $ROUNDS)"
            run_agent "$proto" "$n" "$every" "$port" "$prefix" "$tag"
            bench_say "$proto: blackbox_exporter, $n targets every $every"
            run_exporter "$proto" "$n" "$every" "$port" "$prefix" "$tag"
            bench_say "$proto: raw libcurl loop paced at $rate/s for ${WINDOW}s"
            run_loop "$proto" "$port" "$prefix" "$tag.paced" "$rate"
        done
    done
    bench_say "$proto: raw libcurl loop, $LOOP_N requests"
    run_loop "$proto" "$port" "$prefix" "$proto"
done

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "kernel: $(uname -sr)"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs"
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "nginx: $(nginx -v 2>&1 | sed 's/.*: //')"
    echo "libcurl: $(curl-config --version 2>/dev/null || echo unknown)"
    [ -x "$EXPORTER" ] && echo "blackbox_exporter: $("$EXPORTER" --version 2>&1 | head -1)"
    echo "tripline: $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo unknown), Release, log_level $LOG_LEVEL"
    echo "nginx listen options: ${NGINX_LISTEN_OPTS:-none}"
    echo "allocators: tripline mimalloc (linked), the loop glibc, blackbox_exporter Go's own"
    echo "scheduling: ${RT:+SCHED_RR (RT=$RT) for the measured processes and nginx}${RT:-CFS (default)}"
} >"$WORK/machine.txt"
python3 "$SRC/tests/bench/table_report.py" "$WORK" "$(getconf CLK_TCK)" "$PROTOS" "$CONFIGS" "$OUT" "$COMMAND" "$ROUNDS"
