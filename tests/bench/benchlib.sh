# Shell helpers shared by the daemon benchmarks (sourced, not run).
# The caller sets SRC, WORK and PIDS=() before sourcing; NGINX_CPU pins nginx.

bench_die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }
bench_say() { printf '== %s\n' "$*" >&2; }
bench_free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

bench_cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}

# "2s", "500ms", "1m" -> whole seconds to sleep (at least 1)
bench_secs() {
    python3 -c 'import sys,re
m = re.fullmatch(r"(\d+)(ms|s|m|h)", sys.argv[1])
v = int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]
print(max(1, round(v)))' "$1"
}

# bench_build_release DIR [EXTRA_CFLAGS]: tripline without sanitizers
# (BENCH_NO_BUILD=1: use DIR/tripline as it is, e.g. another commit's build)
# bench_build_release DIR [CFLAGS]: a Release build of the agent (BENCH_CMAKE_ARGS: more -D options,
# e.g. -DTRIPLINE_MIMALLOC=OFF; BENCH_NO_BUILD=1: use DIR as it is)
bench_build_release() {
    [ "${BENCH_NO_BUILD:-0}" = 1 ] && return 0
    bench_say "Release build in $1"
    cmake -S "$SRC" -B "$1" -DCMAKE_BUILD_TYPE=Release -DTRIPLINE_SANITIZE=OFF -DTRIPLINE_WERROR=OFF \
        -DCMAKE_C_FLAGS="${2:-}" ${BENCH_CMAKE_ARGS:-} >"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log"; bench_die "cmake failed"; }
    nice make -C "$1" -j2 tripline >"$WORK/make.log" 2>&1 || { tail -30 "$WORK/make.log"; bench_die "build failed"; }
}

# Total Ir of a callgrind output file.
bench_ir_total() { awk '/^totals:/ {t = $2} /^summary:/ {s = $2} END {print t ? t : s}' "$1"; }

# A throwaway CA ($WORK/ca.pem) and a server certificate for 127.0.0.1.
bench_certs() {
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=tripline bench CA" \
        -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$WORK/srv.key" -out "$WORK/srv.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$WORK/ext.cnf"
    openssl x509 -req -in "$WORK/srv.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
        -days 2 -extfile "$WORK/ext.cnf" -out "$WORK/srv.pem" 2>/dev/null
}

# bench_wait_http URL PID: until URL answers (60 s at most), or die when PID exits
bench_wait_http() {
    for _ in $(seq 600); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || bench_die "process $2 exited before $1 answered"
        sleep 0.1
    done
    bench_die "$1 did not answer"
}

# nginx on loopback (1 worker, no access log, `return 200 "ok\n"`); sets
# NGINX_PORT, NGINX_PID and TARGET_PREFIX (http://127.0.0.1:PORT/t/); NGINX_CONNS
# sets worker_connections (20000). With BENCH_TLS=1
# also an HTTPS listener without session cache or tickets (every check a full
# handshake): TLS_PORT, TLS_PREFIX, and the CA in $WORK/ca.pem.
# NGINX_LISTEN_OPTS (e.g. deferred) is added to both listen lines.
bench_nginx() {
    command -v nginx >/dev/null || bench_die "nginx not installed (Debian: nginx-light)"
    NGINX_PORT=$(bench_free_port)
    mkdir -p "$WORK/nginx"
    local tls=""
    if [ "${BENCH_TLS:-0}" = 1 ]; then
        bench_certs
        TLS_PORT=$(bench_free_port)
        TLS_PREFIX="https://127.0.0.1:$TLS_PORT/t/"
        tls="listen 127.0.0.1:$TLS_PORT ssl backlog=4096 ${NGINX_LISTEN_OPTS:-}; ssl_certificate $WORK/srv.pem;
        ssl_certificate_key $WORK/srv.key; ssl_session_cache off; ssl_session_tickets off;"
    fi
    cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections ${NGINX_CONNS:-20000}; }
worker_rlimit_nofile $((2 * ${NGINX_CONNS:-20000}));
http {
    access_log off;
    client_body_temp_path $WORK/nginx/cb; proxy_temp_path $WORK/nginx/px;
    fastcgi_temp_path $WORK/nginx/fc; uwsgi_temp_path $WORK/nginx/uw; scgi_temp_path $WORK/nginx/sc;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=4096 ${NGINX_LISTEN_OPTS:-};
        $tls
        location / { default_type text/plain; return 200 "ok\n"; }
    }
}
EOF
    ulimit -n 65536 2>/dev/null || true
    local pin=()
    [ -n "${NGINX_CPU:-}" ] && pin=(taskset -c "$NGINX_CPU")
    "${pin[@]}" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx/out.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=($NGINX_PID)
    for _ in $(seq 50); do
        curl -fsS "http://127.0.0.1:$NGINX_PORT/t/0" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -fsS "http://127.0.0.1:$NGINX_PORT/t/0" >/dev/null || { cat "$WORK/nginx/"*.log; bench_die "nginx did not start"; }
    TARGET_PREFIX="http://127.0.0.1:$NGINX_PORT/t/"
}

# bench_agent_config FILE LOG_LEVEL [EXTRA...]: the agent's config for a benchmark:
# limits high enough that no run waits for a slot, a spool of its own (FILE
# without .yaml, plus .spool), the log level, then each EXTRA as one more line
# (e.g. "tls: {ca_file: $WORK/ca.pem}").
bench_agent_config() {
    local file=$1 level=$2
    shift 2
    {
        printf 'limits: {concurrency: 20000, per_host: 20000}\nspool: {dir: %s}\nlog_level: %s\n' \
            "${file%.yaml}.spool" "$level"
        [ $# -eq 0 ] || printf '%s\n' "$@"
    } >"$file"
}

# bench_l3_geometry: "size,assoc,line" of CPU 0's level-3 cache from sysfs (for
# callgrind's --LL), or nothing when the machine does not say
bench_l3_geometry() {
    local d
    for d in /sys/devices/system/cpu/cpu0/cache/index*; do
        [ "$(cat "$d/level" 2>/dev/null)" = 3 ] || continue
        local kb ways line
        kb=$(sed 's/K$//' "$d/size") ways=$(cat "$d/ways_of_associativity") line=$(cat "$d/coherency_line_size")
        echo "$((kb * 1024)),$ways,$line"
        return 0
    done
}

# bench_gen N EVERY FILE [PREFIX]: N one-step GET probes, target i = PREFIX<i>
bench_gen() {
    python3 - "$1" "$2" "$3" "${4:-$TARGET_PREFIX}" <<'PY'
import sys
n, every, path, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
with open(path, "w") as f:
    for i in range(n):
        f.write(f"- probe: p{i}\n  schedule: {{every: {every}}}\n"
                f"  steps: [{{name: get, request: {{url: \"{prefix}{i}\"}}, expect: {{status: 200}}}}]\n")
PY
}

# bench_gen_dir N EVERY DIR [PREFIX]: the same N probes in DIR/NNN.yaml, 10,000
# to a file (a probe file is refused over 2 MiB); pass "DIR"/*.yaml to tripline
bench_gen_dir() {
    mkdir -p "$3"
    local i=0 from=0 n
    while [ "$from" -lt "$1" ]; do
        n=$(($1 - from < 10000 ? $1 - from : 10000))
        python3 - "$n" "$2" "$3/$(printf %03d "$i").yaml" "${4:-$TARGET_PREFIX}" "$from" <<'PY'
import sys
n, every, path, prefix, base = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
with open(path, "w") as f:
    for i in range(base, base + n):
        f.write(f"- probe: p{i}\n  schedule: {{every: {every}}}\n"
                f"  steps: [{{name: get, request: {{url: \"{prefix}{i}\"}}, expect: {{status: 200}}}}]\n")
PY
        from=$((from + n)) i=$((i + 1))
    done
}
