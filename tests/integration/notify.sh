# systemd readiness (Type=notify): `tripline run` sends READY=1 on
# $NOTIFY_SOCKET only once its probes are loaded and the endpoint listens,
# RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 at drain; a bad
# config exits 2 without READY=1 (so `systemctl start` fails and
# RestartPreventExitStatus=2 stops the restart loop).
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
printf -- '- probe: a\n  schedule: {every: 1s, timeout: 500ms}\n  steps: [{name: get, request: {url: "http://127.0.0.1:%s/ok"}}]\n' \
    "$HTTP" >"$WORK/a.yaml"

# The test owns the socket: one line per datagram, fields joined with '|'.
sock=$WORK/notify.sock
python3 - "$sock" "$WORK/notify.txt" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", "|") + "\n")
        f.flush()
PY
PIDS+=($!)
wait_until "the notify listener to bind its socket" 60 test -S "$sock"
: >"$WORK/notify.txt"

# wait_for PATTERN: until a notification line matches (or 60 s pass: the
# clock bounds it, not a count of polls, which a loaded machine stretches).
wait_for() {
    local end=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$end" ]; do
        grep -q -- "$1" "$WORK/notify.txt" && return 0
        sleep 0.05
    done
    grep -q -- "$1" "$WORK/notify.txt" ||
        fail "no notification matching '$1' in 60 s; got: $(cat "$WORK/notify.txt")"
}

# flushed: after the agent exited, everything it sent is in the socket's queue;
# a sentinel sent now arrives after it, so once the sentinel is written, all is.
flushed() {
    python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"SENTINEL", sys.argv[1])' "$sock"
    wait_for '^SENTINEL'
}

NOTIFY_SOCKET=$sock "$B/tripline" run --listen 127.0.0.1:0 --spool-dir "$WORK/spool" "$WORK/a.yaml" \
    >"$WORK/run.out" 2>"$WORK/run.log" &
AGENT_PID=$!
PIDS+=($AGENT_PID)
wait_for '^READY=1|STATUS=serving on port [0-9]'
port=$(sed -n 's/^READY=1|STATUS=serving on port \([0-9]*\).*/\1/p' "$WORK/notify.txt" | head -n1)
# READY=1 means the endpoint already listens and the probe is loaded.
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || fail "READY=1 before the endpoint listens"
curl -fsS "http://127.0.0.1:$port/status" | grep -q '"probe":"a"' || fail "READY=1 before the probes are loaded"

kill -HUP "$AGENT_PID"
wait_for '^RELOADING=1'
ready_again() { awk '/^RELOADING=1/ {r = 1} r && /^READY=1/ {ok = 1} END {exit !ok}' "$WORK/notify.txt"; }
end=$((SECONDS + 60))
while [ "$SECONDS" -lt "$end" ]; do ready_again && break; sleep 0.05; done
ready_again || fail "no READY=1 after RELOADING=1: $(cat "$WORK/notify.txt")"

stop_agent
wait_for '^STOPPING=1'
echo "ok: $(tr '\n' ' ' <"$WORK/notify.txt")"

# A bad config: exit 2, no READY=1.
: >"$WORK/notify.txt"
printf 'listen: 127.0.0.1:0\nlimits: {concurency: 4}\n' >"$WORK/bad.yaml"
rc=0
NOTIFY_SOCKET=$sock "$B/tripline" run --config "$WORK/bad.yaml" "$WORK/a.yaml" >/dev/null 2>"$WORK/bad.log" || rc=$?
[ "$rc" -eq 2 ] || fail "bad config: exit $rc, expected 2: $(cat "$WORK/bad.log")"
flushed
if grep -q 'READY=1' "$WORK/notify.txt"; then fail "READY=1 sent for a bad config"; fi
echo "ok: bad config exits 2 without READY=1"

# Probe files that all fail to load: the agent exits non-zero, without READY=1.
: >"$WORK/notify.txt"
printf -- '- probe: b\n  schedul: {every: 1s}\n' >"$WORK/b.yaml"
rc=0
NOTIFY_SOCKET=$sock "$B/tripline" run --listen 127.0.0.1:0 --spool-dir "$WORK/spool" "$WORK/b.yaml" \
    >/dev/null 2>"$WORK/b.log" || rc=$?
[ "$rc" -ne 0 ] || fail "no probe loaded, yet exit 0"
flushed
if grep -q 'READY=1' "$WORK/notify.txt"; then fail "READY=1 sent with no probe loaded"; fi
echo "ok: no probe loaded exits $rc without READY=1"
