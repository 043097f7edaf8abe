#!/usr/bin/env bash
# The probe engine's benchmark (run by hand; not a ctest). In ONE run, against
# a local nginx on loopback, with fresh connections:
#   - `tripline once` over 1,000 one-step probes, HTTP and verified HTTPS:
#     runs/s and CPU per run, net of the file load (`tripline check`);
#   - the same requests from a minimal curl-multi loop (curl_baseline.c);
#   - prometheus-blackbox-exporter probing the same URLs, when installed;
#   - callgrind instruction counts (noise-free ratio);
#   - the TTFB error against hostile_server's injected 50 ms delay.
# Writes the table to tests/bench/RESULTS.md.
#
#   tests/bench/run.sh [-n RUNS] [-r ROUNDS] [--no-callgrind] [--no-blackbox]
#
# Env: BENCH_BUILD (default <repo>/build-bench, a Release build without
# sanitizers, configured here), BENCH_OUT (default tests/bench/RESULTS.md).
set -euo pipefail

S=$(cd "$(dirname "$0")/../.." && pwd)
BB=${BENCH_BUILD:-$S/build-bench}
OUT_MD=${BENCH_OUT:-$S/tests/bench/RESULTS.md}
N=1000
ROUNDS=5
CG_N=200
TTFB_N=200
DO_CG=1
DO_BB=1
ARGS="$*"
while [ $# -gt 0 ]; do
    case $1 in
    -n) N=$2; shift 2 ;;
    -r) ROUNDS=$2; shift 2 ;;
    --no-callgrind) DO_CG=0; shift ;;
    --no-blackbox) DO_BB=0; shift ;;
    *) echo "usage: $0 [-n RUNS] [-r ROUNDS] [--no-callgrind] [--no-blackbox]" >&2; exit 2 ;;
    esac
done

LIB="python3 $S/tests/bench/benchlib.py"
WORK=$(mktemp -d /tmp/tripline-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
die() { echo "bench: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }
KV=$WORK/results.kv
kv() { echo "$1=$2" >>"$KV"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    die "nothing listens on port $1"
}

# --- build ----------------------------------------------------------------
log "Release build in $BB"
cmake -S "$S" -B "$BB" -DCMAKE_BUILD_TYPE=Release -DTRIPLINE_SANITIZE=OFF -DBUILD_TESTING=OFF >"$WORK/cmake.log" ||
    die "cmake failed: $(tail "$WORK/cmake.log")"
make -C "$BB" -j2 tripline hostile_server >"$WORK/make.log" 2>&1 || die "make failed: $(tail "$WORK/make.log")"
make -C "$S/tests/bench" OUT="$BB/bench" >>"$WORK/make.log" 2>&1 || die "make curl_baseline failed"
T=$BB/tripline
BASE=$BB/bench/curl_baseline
ulimit -n 65536 2>/dev/null || ulimit -n 8192 || true

# --- certificates: a throwaway CA and a server cert for 127.0.0.1 -----------
log "certificates"
# shellcheck source=tests/bench/benchlib.sh
. "$S/tests/bench/benchlib.sh"
bench_certs

# --- nginx ------------------------------------------------------------------
HP=$(free_port)
SP=$(free_port)
mkdir -p "$WORK/nginx/tmp"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$HP backlog=4096;
        listen 127.0.0.1:$SP ssl backlog=4096;
        ssl_certificate $WORK/srv.pem;
        ssl_certificate_key $WORK/srv.key;
        # every run is a full handshake, as for a fresh probe
        ssl_session_cache off;
        ssl_session_tickets off;
        location = /json {
            default_type application/json;
            return 200 '{"ok":true}';
        }
    }
}
EOF
log "nginx on http=$HP https=$SP"
nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
wait_port "$HP"
wait_port "$SP"
HURL=http://127.0.0.1:$HP/json
SURL=https://127.0.0.1:$SP/json
curl -sf --cacert "$WORK/ca.pem" "$SURL" >/dev/null || die "nginx HTTPS does not verify with the bench CA"

# --- probe files ------------------------------------------------------------
# gen FILE URL COUNT [TIMEOUT]: COUNT one-step probes, each a GET expecting 200.
gen() {
    local i
    {
        for ((i = 1; i <= $3; i++)); do
            printf -- '- probe: p%05d\n  schedule: {every: 10m, timeout: %s}\n  steps:\n' "$i" "${4:-30s}"
            printf -- '    - {name: get, request: {url: "%s"}, expect: {status: 200}}\n' "$2"
        done
    } >"$1"
}
printf 'tls: {ca_file: %s}\n' "$WORK/ca.pem" >"$WORK/agent.yaml"
gen "$WORK/http.yaml" "$HURL" "$N"
gen "$WORK/https.yaml" "$SURL" "$N"
"$T" check "$WORK/http.yaml" >/dev/null || die "probe file does not check"

# --- CPU per run: tripline once vs the curl-multi loop, same run --------------
# cpu_ms "wall user sys rc" -> user+sys in ms; fails on a non-zero rc
cpu_ms() { awk -v w="$1" '{ if ($4 != 0) exit 1; printf "%.3f\n", ($2 + $3) * 1000 }' <<<"$1"; }
for proto in http https; do
    URL=$HURL
    [ "$proto" = https ] && URL=$SURL
    : >"$WORK/$proto.tl_gross" ; : >"$WORK/$proto.tl_load" ; : >"$WORK/$proto.tl_wall"
    : >"$WORK/$proto.base_us" ; : >"$WORK/$proto.base_rps" ; : >"$WORK/$proto.same_us"
    for ((r = 1; r <= ROUNDS; r++)); do
        log "$proto round $r/$ROUNDS"
        m=$($LIB rusage "$WORK/once.json" -- "$T" once --json --config "$WORK/agent.yaml" "$WORK/$proto.yaml")
        cpu_ms "$m" >>"$WORK/$proto.tl_gross" || die "tripline once failed ($m): $(head -c 600 "$WORK/once.json")"
        ok=$($LIB okcount "$WORK/once.json")
        [ "$ok" -eq "$N" ] || die "tripline once: $ok of $N runs ok: $(grep -m1 '"ok":false' "$WORK/once.json" | head -c 600)"
        awk '{print $1}' <<<"$m" >>"$WORK/$proto.tl_wall"
        m=$($LIB rusage /dev/null -- "$T" check --config "$WORK/agent.yaml" "$WORK/$proto.yaml")
        cpu_ms "$m" >>"$WORK/$proto.tl_load" || die "tripline check failed"
        line=$("$BASE" -n "$N" -c "$N" --cacert "$WORK/ca.pem" "$URL") || die "curl_baseline failed: $line"
        echo "$line" | tr ' ' '\n' | sed -n 's/^cpu_us_per_req=//p' >>"$WORK/$proto.base_us"
        echo "$line" | tr ' ' '\n' | sed -n 's/^runs_per_s=//p' >>"$WORK/$proto.base_rps"
        line=$("$BASE" --same-opts -n "$N" -c "$N" --cacert "$WORK/ca.pem" "$URL") || die "curl_baseline --same-opts failed: $line"
        echo "$line" | tr ' ' '\n' | sed -n 's/^cpu_us_per_req=//p' >>"$WORK/$proto.same_us"
    done
    gross=$(median <"$WORK/$proto.tl_gross")
    load=$(median <"$WORK/$proto.tl_load")
    wall=$(median <"$WORK/$proto.tl_wall")
    kv "tl_${proto}_gross_ms" "$gross"
    kv "tl_${proto}_load_ms" "$load"
    kv "tl_${proto}_net_us" "$(awk -v g="$gross" -v l="$load" -v n="$N" 'BEGIN{printf "%.2f", (g - l) * 1000 / n}')"
    kv "tl_${proto}_rps" "$(awk -v w="$wall" -v n="$N" 'BEGIN{printf "%.1f", n / w}')"
    kv "base_${proto}_us" "$(median <"$WORK/$proto.base_us")"
    kv "base_${proto}_rps" "$(median <"$WORK/$proto.base_rps")"
    kv "same_${proto}_us" "$(median <"$WORK/$proto.same_us")"
    kv "tl_${proto}_samples" "gross_ms=[$(paste -sd, "$WORK/$proto.tl_gross")] load_ms=[$(paste -sd, "$WORK/$proto.tl_load")] base_us=[$(paste -sd, "$WORK/$proto.base_us")]"
done
kv rounds "$ROUNDS"
kv n "$N"

# --- blackbox_exporter: same nginx, driven through /probe -----------------------
BBX=$(command -v prometheus-blackbox-exporter || true)
if [ "$DO_BB" = 1 ] && [ -n "$BBX" ]; then
    BP=$(free_port)
    cat >"$WORK/blackbox.yml" <<EOF
modules:
  http_2xx:
    prober: http
    timeout: 10s
    http:
      preferred_ip_protocol: ip4
      tls_config: {ca_file: $WORK/ca.pem}
EOF
    log "blackbox_exporter on $BP"
    "$BBX" --config.file="$WORK/blackbox.yml" --web.listen-address="127.0.0.1:$BP" >"$WORK/bbx.log" 2>&1 &
    BBPID=$!
    PIDS+=($BBPID)
    wait_port "$BP"
    ticks() { awk '{print $14 + $15}' "/proc/$BBPID/stat"; }
    HZ=$(getconf CLK_TCK)
    for proto in http https; do
        URL=$HURL
        [ "$proto" = https ] && URL=$SURL
        : >"$WORK/bb.cfg"
        for ((i = 1; i <= N; i++)); do
            echo "url = \"http://127.0.0.1:$BP/probe?module=http_2xx&target=$URL\"" >>"$WORK/bb.cfg"
        done
        # warm up (Go runtime, first TLS config load), then measure
        curl -s "http://127.0.0.1:$BP/probe?module=http_2xx&target=$URL" >/dev/null
        t0=$(ticks)
        curl -s --no-progress-meter --parallel --parallel-max 100 -K "$WORK/bb.cfg" >"$WORK/bb.out" 2>"$WORK/bb.err"
        t1=$(ticks)
        okn=$(grep -c '^probe_success 1' "$WORK/bb.out" || true)
        kv "bb_${proto}_n" "$N"
        kv "bb_${proto}_failed" "$((N - okn))"
        kv "bb_${proto}_us" "$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v n="$N" 'BEGIN{printf "%.1f", (b - a) * 1e6 / hz / n}')"
    done
elif [ "$DO_BB" = 1 ]; then
    log "prometheus-blackbox-exporter not installed: skipped"
fi

# --- callgrind: instruction counts, marginal per run ---------------------------
ir() { # ir OUTFILE CMD... -> total Ir of the run
    valgrind --tool=callgrind --callgrind-out-file="$1" "${@:2}" >/dev/null 2>"$1.log" || die "callgrind: ${*:2} failed: $(grep -v "^==" "$1.log" | head -5)"
    sed -n 's/^summary: //p;s/^totals: //p' "$1" | head -1 | awk '{print $1}'
}
if [ "$DO_CG" = 1 ] && command -v valgrind >/dev/null; then
    for proto in http https; do
        URL=$HURL
        [ "$proto" = https ] && URL=$SURL
        log "callgrind $proto ($CG_N runs)"
        gen "$WORK/cg$CG_N.yaml" "$URL" "$CG_N" 120s
        gen "$WORK/cg1.yaml" "$URL" 1 120s
        C=(--config "$WORK/agent.yaml")
        o_n=$(ir "$WORK/cg.$proto.once" "$T" once --json "${C[@]}" "$WORK/cg$CG_N.yaml")
        o_1=$(ir "$WORK/cg.$proto.once1" "$T" once --json "${C[@]}" "$WORK/cg1.yaml")
        c_n=$(ir "$WORK/cg.$proto.check" "$T" check "${C[@]}" "$WORK/cg$CG_N.yaml")
        c_1=$(ir "$WORK/cg.$proto.check1" "$T" check "${C[@]}" "$WORK/cg1.yaml")
        b_n=$(ir "$WORK/cg.$proto.base" "$BASE" -t 120000 -n "$CG_N" -c "$CG_N" --cacert "$WORK/ca.pem" "$URL")
        b_1=$(ir "$WORK/cg.$proto.base1" "$BASE" -t 120000 -n 1 -c 1 --cacert "$WORK/ca.pem" "$URL")
        s_n=$(ir "$WORK/cg.$proto.same" "$BASE" --same-opts -t 120000 -n "$CG_N" -c "$CG_N" --cacert "$WORK/ca.pem" "$URL")
        s_1=$(ir "$WORK/cg.$proto.same1" "$BASE" --same-opts -t 120000 -n 1 -c 1 --cacert "$WORK/ca.pem" "$URL")
        kv "cg_${proto}_same_ir" "$(awk -v a="$s_n" -v b="$s_1" -v n="$CG_N" 'BEGIN{printf "%.0f", (a - b) / (n - 1)}')"
        kv "cg_${proto}_tl_ir" "$(awk -v a="$o_n" -v b="$o_1" -v c="$c_n" -v d="$c_1" -v n="$CG_N" 'BEGIN{printf "%.0f", ((a - b) - (c - d)) / (n - 1)}')"
        kv "cg_${proto}_base_ir" "$(awk -v a="$b_n" -v b="$b_1" -v n="$CG_N" 'BEGIN{printf "%.0f", (a - b) / (n - 1)}')"
        kv "cg_${proto}_raw" "once=$o_n once1=$o_1 check=$c_n check1=$c_1 base=$b_n base1=$b_1 same=$s_n same1=$s_1"
        # where tripline spends beyond the loop: inclusive-free top functions
        callgrind_annotate --threshold=99 "$WORK/cg.$proto.once" 2>/dev/null | sed -n '1,60p' >"$WORK/top.$proto.tl.txt" || true
        callgrind_annotate --threshold=99 "$WORK/cg.$proto.base" 2>/dev/null | sed -n '1,60p' >"$WORK/top.$proto.base.txt" || true
    done
    kv cg_n "$CG_N"
fi

# --- TTFB error against a server-injected 50 ms delay ---------------------------
log "TTFB: $TTFB_N runs against /delay?ms=50"
"$BB/hostile_server" >"$WORK/hostile.out" 2>"$WORK/hostile.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/hostile.out" ] && break; sleep 0.1; done
HS=$(sed -n 's/.*http=\([0-9]*\).*/\1/p' "$WORK/hostile.out")
[ -n "$HS" ] || die "hostile_server did not start: $(cat "$WORK/hostile.err")"
DURL="http://127.0.0.1:$HS/delay?ms=50"
gen "$WORK/delay1.yaml" "$DURL" 1
: >"$WORK/ttfb_seq.json"
for ((i = 0; i < TTFB_N; i++)); do
    "$T" once --json "$WORK/delay1.yaml" >>"$WORK/ttfb_seq.json" || die "delay probe failed"
done
kv ttfb_seq "$($LIB ttfb 50 "$WORK/ttfb_seq.json")"
kv ttfbnet_seq "$($LIB ttfb 50 --net "$WORK/ttfb_seq.json")"
gen "$WORK/delayN.yaml" "$DURL" "$TTFB_N"
"$T" once --json "$WORK/delayN.yaml" >"$WORK/ttfb_conc.json" || die "delay probes failed"
kv ttfb_conc "$($LIB ttfb 50 "$WORK/ttfb_conc.json")"
kv ttfbnet_conc "$($LIB ttfb 50 --net "$WORK/ttfb_conc.json")"
: >"$WORK/ttfb_curl.txt"
for ((i = 0; i < TTFB_N; i++)); do
    curl -s -o /dev/null -w '%{time_starttransfer} %{time_connect}\n' "$DURL" >>"$WORK/ttfb_curl.txt"
done
kv ttfb_curl "$($LIB curlw 50 "$WORK/ttfb_curl.txt")"
kv ttfbnet_curl "$($LIB curlw 50 --net "$WORK/ttfb_curl.txt")"
# the stress case's reference: the curl CLI with all requests in flight at once
for ((i = 0; i < TTFB_N; i++)); do printf 'url = "%s"\noutput = "/dev/null"\n' "$DURL"; done >"$WORK/ttfb_par.cfg"
curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max "$TTFB_N" -K "$WORK/ttfb_par.cfg" \
    -w '%{time_starttransfer} %{time_connect}\n' >"$WORK/ttfb_par.txt" 2>/dev/null
kv ttfb_curlpar "$($LIB curlw 50 "$WORK/ttfb_par.txt")"

# --- report ---------------------------------------------------------------
{
    echo "# Probe engine benchmark"
    echo
    echo "Run: \`tests/bench/run.sh $ARGS\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$S" rev-parse --short HEAD 2>/dev/null || echo '?')."
    echo
    echo "Machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), kernel $(uname -r),"
    echo "$(curl --version | head -1 | cut -d' ' -f1-5), nginx $(nginx -v 2>&1 | sed 's/.*\///'),"
    if [ -n "$BBX" ]; then
        echo "blackbox_exporter $("$BBX" --version 2>&1 | head -1 | awk '{print $3}')."
    else
        echo "blackbox_exporter not installed."
    fi
    echo "Build: Release (-O3 via CMAKE_BUILD_TYPE=Release, no sanitizers) in $(basename "$BB")."
    echo "nginx: 1 worker on the same 2 cores, \`access_log off\`, \`return 200 '{\"ok\":true}'\`; HTTPS with a"
    echo "throwaway RSA-2048 CA and server cert, session cache and tickets off (every run a full TLS 1.3 handshake),"
    echo "verification ON on both clients (CA file, CAPATH unset)."
    echo
} >"$OUT_MD"
$LIB report "$KV" "$OUT_MD"
{
    echo
    echo "Raw samples: $(grep -E '_samples=|_raw=' "$KV" | tr '\n' ' ')"
    echo
    if ls "$WORK"/top.*.txt >/dev/null 2>&1; then
        for proto in http https; do
            [ -f "$WORK/top.$proto.tl.txt" ] || continue
            echo "<details><summary>callgrind top functions, $proto: tripline once ($CG_N runs)</summary>"
            echo; echo '```'; sed -n '/^Ir/,$p' "$WORK/top.$proto.tl.txt" | head -40; echo '```'; echo
            echo "</details>"; echo
            echo "<details><summary>callgrind top functions, $proto: curl_baseline ($CG_N requests)</summary>"
            echo; echo '```'; sed -n '/^Ir/,$p' "$WORK/top.$proto.base.txt" | head -40; echo '```'; echo
            echo "</details>"; echo
        done
    fi
} >>"$OUT_MD"
if [ -n "${BENCH_KEEP:-}" ]; then
    cp -r "$WORK" "$BENCH_KEEP"
    log "work files kept in $BENCH_KEEP"
fi
log "written $OUT_MD"
