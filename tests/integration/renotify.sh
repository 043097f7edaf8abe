# Renotification comes from the agent's once-a-second tick, not from runs:
# an open incident under `renotify: 1s` is repeated between the probe's runs,
# again after a restart resumes it, and never once it has resolved. The tick
# visits only the probes with something time-driven (agent_run.c); this is
# what says the set holds the right ones.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

# 500 while $WORK/down exists, else 200.
cat >"$WORK/server.py" <<'PY'
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 500 if os.path.exists(sys.argv[1]) else 200
        body = b'{"ok": false}' if code == 500 else b'{"ok": true}'
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print("port", s.server_address[1], flush=True)
s.serve_forever()
PY
touch "$WORK/down"
python3 "$WORK/server.py" "$WORK/down" >"$WORK/server.out" 2>"$WORK/server.err" &
PIDS+=($!)
wait_until "the server" 20 grep -q port "$WORK/server.out"
PORT=$(awk '/port/ {print $2}' "$WORK/server.out")

cat >"$WORK/probes.yaml" <<YAML
- probe: loud
  schedule: {every: 2s, timeout: 1s}
  steps: [{name: get, request: {url: "http://127.0.0.1:$PORT/api"}, expect: {status: 200}}]
  escalation:
    ladder: [{level: critical, when: {consecutive_failures: 1}}]
    renotify: 1s
- probe: quiet
  schedule: {every: 2s, timeout: 1s}
  steps: [{name: get, request: {url: "http://127.0.0.1:$PORT/api"}, expect: {status: 200}}]
  escalation:
    ladder: [{level: critical, when: {consecutive_failures: 1}}]
YAML

# transitions FILE PROBE NAME: how many events of that transition the agent printed
transitions() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    e = json.loads(line)
    n += e.get("probe") == sys.argv[2] and e.get("transition") == sys.argv[3]
print(n)
PY
}
at_least() { [ "$(transitions "$1" "$2" "$3")" -ge "$4" ]; }

start_agent a --spool-dir "$WORK/spool" "$WORK/probes.yaml"
wait_until "loud renotified 3 times" 30 at_least "$WORK/a.out" loud renotified 3
[ "$(transitions "$WORK/a.out" quiet renotified)" -eq 0 ] || fail "quiet renotified without renotify"
at_least "$WORK/a.out" quiet opened 1 || fail "quiet never opened: $(cat "$WORK/a.out")"
stop_agent
echo "ok: an open incident is renotified by the tick; a policy without renotify is not"

# A restart resumes the incident: one renotification at once, the tick's after.
start_agent b --spool-dir "$WORK/spool" "$WORK/probes.yaml"
wait_until "loud renotified 3 times after the restart" 30 at_least "$WORK/b.out" loud renotified 3
echo "ok: the resumed incident is renotified by the tick"

# Resolved: the probe leaves the tick set, nothing is repeated any more.
rm "$WORK/down"
wait_until "loud resolved" 30 at_least "$WORK/b.out" loud resolved 1
before=$(transitions "$WORK/b.out" loud renotified)
runs=$(probe_runs "$AGENT_URL" loud)
wait_until "three more runs of loud" 30 runs_at_least "$AGENT_URL" loud $((runs + 3))
after=$(transitions "$WORK/b.out" loud renotified)
[ "$after" -eq "$before" ] || fail "renotified after it resolved ($before, then $after)"
stop_agent
echo "ok: a resolved incident is not renotified"
