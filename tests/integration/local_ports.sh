# A connect that fails on the agent's own host is the agent's fault, never
# the target's: curl says "couldn't connect" whether the server refused or
# this host had no local port or descriptor left, and only the errno tells.
#   (a) every check says "Connection: close" (the server closes first and
#       keeps the TIME_WAIT), unless the probe sets its own Connection header;
#   (b) with both local ports of a two-port range held: bucket agent, reason
#       local_ports for an http and a tcp step, once exits 3 (inconclusive),
#       never upstream/connect;
#   (c) at every descriptor limit from 7 to 40: the run passes, is the
#       agent's own fault (fd_limit), or the agent refuses to start and says
#       why; never the target's.
# Each part runs in a network namespace of its own (unshare -n, loopback only),
# so the port range and the held ports touch nothing else. Needs root.
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: local_ports.sh needs root for network namespaces"
    exit 77
fi
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
if ! unshare -n true 2>"$WORK/unshare.err"; then
    echo "SKIP: this system cannot create network namespaces ($(head -1 "$WORK/unshare.err"))"
    exit 77
fi

# HTTP/1.1 with keep-alive (so the client would close first without the
# header); logs each request's Connection header; prints "ready" when bound.
cat >"$WORK/server.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        with open(sys.argv[2], "a") as f:
            f.write("connection=%s\n" % self.headers.get("Connection", "-"))
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print("ready", flush=True)
s.serve_forever()
PY
# Holds N connections to the server open: every port of the range.
cat >"$WORK/hold.py" <<'PY'
import socket, sys, time
held = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(int(sys.argv[2]))]
print("held", " ".join(str(s.getsockname()[1]) for s in held), flush=True)
time.sleep(600)
PY
cat >"$WORK/close.yaml" <<'YAML'
probe: plain
steps: [{name: get, request: {url: "http://127.0.0.1:18080/ok"}, expect: {status: 200}}]
YAML
cat >"$WORK/tcp.yaml" <<'YAML'
probe: tcp-connect
steps: [{name: connect, tcp: {host: 127.0.0.1, port: 18080}}]
YAML
cat >"$WORK/keep.yaml" <<'YAML'
probe: own-header
steps: [{name: get, request: {url: "http://127.0.0.1:18080/ok", headers: {Connection: keep-alive}}, expect: {status: 200}}]
YAML

# The part that runs inside the namespace: brings up lo, starts the server
# (its pid is killed when the namespace's shell ends), then runs "$@".
cat >"$WORK/inside.sh" <<'SH'
set -euo pipefail
W=$1; shift
ip link set lo up
# emptied here, not by the background redirection: the poll below must not
# find the previous part's "ready" before the new server's shell truncates
: >"$W/server.out"
python3 "$W/server.py" 18080 "$W/requests.log" >"$W/server.out" 2>"$W/server.err" &
srv=$!
trap 'kill $srv $(cat "$W/hold.pid" 2>/dev/null) 2>/dev/null || true' EXIT
# bounded by the clock (bash's SECONDS), not a count of polls: a loaded machine starts slowly
end=$((SECONDS + 60))
while [ "$SECONDS" -lt "$end" ]; do grep -q ready "$W/server.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$W/server.out" || { echo "server did not start: $(cat "$W/server.err")" >&2; exit 1; }
"$@"
SH

# (a) the header, and a probe's own Connection header wins.
: >"$WORK/requests.log"
unshare -n bash "$WORK/inside.sh" "$WORK" bash -c \
    "'$B/tripline' once --json '$WORK/close.yaml' >'$WORK/a1.json' && '$B/tripline' once --json '$WORK/keep.yaml' >'$WORK/a2.json'" ||
    fail "(a) once failed: $(cat "$WORK"/a*.json "$WORK/server.err" 2>/dev/null)"
[ "$(cat "$WORK/requests.log")" = "$(printf 'connection=close\nconnection=keep-alive')" ] ||
    fail "(a) Connection headers seen by the server: $(cat "$WORK/requests.log")"
echo "ok: checks send Connection: close; a probe's own Connection header is kept"

# (b) no local port left: both ports of the range are held by hold.py.
cat >"$WORK/ports.sh" <<'SH'
set -euo pipefail
W=$1 B=$2
sysctl -q -w net.ipv4.ip_local_port_range="40000 40001"
: >"$W/hold.out"
python3 "$W/hold.py" 18080 2 >"$W/hold.out" 2>"$W/hold.err" &
echo $! >"$W/hold.pid"
end=$((SECONDS + 60))
while [ "$SECONDS" -lt "$end" ]; do grep -q held "$W/hold.out" 2>/dev/null && break; sleep 0.1; done
grep -q held "$W/hold.out" || { echo "hold.py: $(cat "$W/hold.err")" >&2; exit 1; }
rc=0
"$B/tripline" once --json "$W/close.yaml" >"$W/b.json" 2>"$W/b.err" || rc=$?
echo "$rc" >"$W/b.rc"
rc=0
"$B/tripline" once --json "$W/tcp.yaml" >"$W/b-tcp.json" 2>"$W/b-tcp.err" || rc=$?
echo "$rc" >"$W/b-tcp.rc"
SH
unshare -n bash "$WORK/inside.sh" "$WORK" bash "$WORK/ports.sh" "$WORK" "$B" ||
    fail "(b) setup failed: $(cat "$WORK/hold.err" "$WORK/server.err" 2>/dev/null)"
for b in b b-tcp; do
    [ "$(cat "$WORK/$b.rc")" = 3 ] ||
        fail "($b) once exited $(cat "$WORK/$b.rc"), expected 3: $(cat "$WORK/$b.json" "$WORK/$b.err")"
done
python3 - "$WORK/b.json" "$WORK/b-tcp.json" <<'PY'
import json, sys
for path in sys.argv[1:]:
    r = json.loads(open(path).readline())
    step = r["steps"][0]
    want = ("agent", "local_ports")
    if (r.get("bucket"), r.get("reason")) != want or (step.get("bucket"), step.get("reason")) != want:
        sys.exit(f"(b) {r['probe']}: run or step is not agent/local_ports: {r}")
    if r["probe"] == "plain" and not any("no local port left" in f for f in r.get("failures", [])):
        sys.exit(f"(b) the failure does not say why: {r.get('failures')}")
PY
echo "ok: no local port left is agent/local_ports for http and tcp steps, once exits 3"

# (c) every descriptor limit: passes, or the agent's own fault.
cat >"$WORK/fds.sh" <<'SH'
W=$1 B=$2
# LeakSanitizer needs descriptors of its own at exit: not at these limits.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
for n in $(seq 7 40); do
    rc=0
    prlimit --nofile="$n" "$B/tripline" once --json "$W/close.yaml" >"$W/c.json" 2>"$W/c.err" || rc=$?
    printf '%s %s %s\n' "$n" "$rc" "$(head -c 2000 "$W/c.json" | tr '\n' ' ')" >>"$W/fds.log"
    [ -s "$W/c.json" ] || head -c 300 "$W/c.err" | tr '\n' ' ' >"$W/c.err.$n"
done
SH
: >"$WORK/fds.log"
unshare -n bash "$WORK/inside.sh" "$WORK" bash "$WORK/fds.sh" "$WORK" "$B" || fail "(c) setup failed"
python3 - "$WORK/fds.log" <<'PY'
import json, sys
seen = set()
for line in open(sys.argv[1]):
    n, rc, rest = line.split(" ", 2)
    rest = rest.strip()
    if not rest:
        # the agent refused to start (no descriptor for its own loop): exit 2
        # and a reason on stderr
        err = open(sys.argv[1].rsplit("/", 1)[0] + f"/c.err.{n}").read()
        if rc not in ("1", "2") or not err.strip():
            sys.exit(f"(c) nofile={n}: no output, exit {rc}, stderr {err!r}")
        seen.add("refused")
        continue
    r = json.loads(rest)
    if r.get("ok"):
        seen.add("pass")
        continue
    if r.get("bucket") != "agent" or rc != "3":
        sys.exit(f"(c) nofile={n}: exit {rc}, blamed on the target: {r.get('bucket')}/{r.get('reason')} {r.get('failures')}")
    seen.add(r.get("reason"))
if "pass" not in seen or "fd_limit" not in seen:
    sys.exit(f"(c) expected both passing runs and fd_limit across the limits, saw {sorted(seen)}")
print("(c) outcomes across nofile 7..40:", sorted(seen))
PY
echo "ok: out of descriptors is the agent's own fault at every limit"
