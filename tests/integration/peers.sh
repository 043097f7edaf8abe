# A second opinion: three agents in regions a, b and c; the probe fails for
# a and b and passes for c, so a's opened event says "failing in 2 of 3
# regions" in the `updated` follow-up of the same incident (the opened event
# itself is spooled at once, before any peer answers: a peer that holds the
# request shows it, and a kill -9 meanwhile leaves it in the spool). Then a
# peer that is down and one that never answers in time: the second opinion
# still goes out, naming them under noAnswer. An answer altered on
# the way is not taken. And /peer/run refuses unsigned, badly signed, stale
# and replayed requests, and signs its answers. A peer named in peers.urls
# ({url, agent}) gets requests bound to it: another agent refuses them (421),
# and a bare URL is logged as unbound. With peers.listen, /peer/run is
# answered on that address only (404 on the main port).
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP
printf 'shared peer key' >"$WORK/peer.key"

cat >"$WORK/probes.yaml" <<YAML
- probe: api
  schedule: {every: 300ms, timeout: 300ms}
  vars: {url: "$H/ok"}
  steps: [{name: get, request: {url: "{{ url }}"}, expect: {status: 200}}]
  escalation:
    ladder:
      - {level: warning, when: {consecutive_failures: 2}}
YAML
BAD="url=$H/status?code=503"

# agent_config NAME REGION PEER_URLS TIMEOUT
agent_config() {
    cat >"$WORK/$1.yaml" <<YAML
region: $2
name: agent-$1
peers: {key_file: $WORK/peer.key, timeout: $4, urls: [$3]}
YAML
}
# b and c only serve here; their own peer (nothing listens on port 1) is not under test
agent_config b b "http://127.0.0.1:1" 1s
agent_config c c "http://127.0.0.1:1" 1s
start_agent b --config "$WORK/b.yaml" --spool-dir "$WORK/spool-b" --var "$BAD" "$WORK/probes.yaml"
B_PID=$AGENT_PID B_URL=$AGENT_URL
start_agent c --config "$WORK/c.yaml" --spool-dir "$WORK/spool-c" "$WORK/probes.yaml"
C_PID=$AGENT_PID C_URL=$AGENT_URL

# wait_opened NAME: until NAME's stdout has an opened event; wait_second_opinion
# NAME: until it has the updated follow-up with the peers' answers (the opened
# event went out before it). wait_until bounds both generously, by the clock.
wait_opened() {
    wait_until "agent $1 to open an incident" 60 grep -q '"transition":"opened"' "$WORK/$1.out"
}
wait_second_opinion() {
    wait_until "agent $1 to send a second opinion" 60 grep -q '"secondOpinion"' "$WORK/$1.out"
}

# Phase 0: the only peer holds every request for 30 s, within a 50 s timeout.
# The opened event is delivered meanwhile, without a second opinion; a kill -9
# before the peer answers leaves it in the spool, not lost in memory.
agent_config a0 a "$H/delay?ms=30000" 50s
start_agent a0 --config "$WORK/a0.yaml" --spool-dir "$WORK/spool-a0" --var "$BAD" "$WORK/probes.yaml"
wait_opened a0
A0_ID=$(grep '"transition":"opened"' "$WORK/a0.out" | head -n1 | sed -n 's/.*"eventId":"\([0-9a-f-]*\)".*/\1/p')
[ -n "$A0_ID" ] || fail "a0: no eventId in $(cat "$WORK/a0.out")"
grep -q '"secondOpinion"' "$WORK/a0.out" && fail "a0: a second opinion before the peer answered"
kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
grep -rqa "$A0_ID" "$WORK/spool-a0" || fail "a0: the opened event $A0_ID is not in the spool after kill -9"

agent_config a a "{url: $B_URL, agent: agent-b}, $C_URL" 5s
start_agent a --config "$WORK/a.yaml" --spool-dir "$WORK/spool-a" --var "$BAD" "$WORK/probes.yaml"
wait_opened a
wait_second_opinion a
stop_agent

# Phase 2: c is down, the third peer holds every request for 30 s (past the 4 s timeout).
kill "$C_PID"; wait "$C_PID" 2>/dev/null || true
agent_config a2 a "$B_URL, $C_URL, $H/delay?ms=30000" 4s
start_agent a2 --config "$WORK/a2.yaml" --spool-dir "$WORK/spool-a2" --var "$BAD" "$WORK/probes.yaml"
wait_opened a2
wait_second_opinion a2
stop_agent

# Phase 2b: a man in the middle turns b's "ok": false into true. The answer's
# signature no longer matches, so a counts b as no answer, not as passing.
python3 - "$B_URL" "$WORK/mitm.port" <<'PY' &
import http.server, sys, urllib.request
base, portfile = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        req = urllib.request.Request(base + "/peer/run", data=body, method="POST")
        req.add_header("X-Tripline-Signature", self.headers["X-Tripline-Signature"])
        with urllib.request.urlopen(req, timeout=10) as r:
            out, sig = r.read(), r.headers.get("X-Tripline-Signature", "")
        out = out.replace(b'"ok":false', b'"ok":true')
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Tripline-Signature", sig)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
open(portfile + ".tmp", "w").write(str(srv.server_address[1]))
import os; os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
PY
PIDS+=($!)
wait_until "the man in the middle to write its port" 60 test -s "$WORK/mitm.port"
agent_config a3 a "http://127.0.0.1:$(cat "$WORK/mitm.port")" 5s
start_agent a3 --config "$WORK/a3.yaml" --spool-dir "$WORK/spool-a3" --var "$BAD" "$WORK/probes.yaml"
wait_opened a3
wait_second_opinion a3
stop_agent

# Phase 2c: the URL of b named as agent-c: b refuses the bound request
# (421), so a counts it as no answer rather than as agent-c's opinion.
agent_config a4 a "{url: $B_URL, agent: agent-c}" 5s
start_agent a4 --config "$WORK/a4.yaml" --spool-dir "$WORK/spool-a4" --var "$BAD" "$WORK/probes.yaml"
wait_opened a4
wait_second_opinion a4
stop_agent

# Phase 2d: d serves /peer/run on its own address (port 0: the log says which).
cat >"$WORK/d.yaml" <<YAML
region: d
name: agent-d
peers: {key_file: $WORK/peer.key, timeout: 1s, listen: "127.0.0.1:0", urls: ["http://127.0.0.1:1"]}
YAML
start_agent d --config "$WORK/d.yaml" --spool-dir "$WORK/spool-d" "$WORK/probes.yaml"
D_URL=$AGENT_URL
D_PEER=$(sed -n 's/.*"msg":"peers: second opinions on".*"peer_port":\([0-9]*\).*/\1/p' "$WORK/d.log" | head -n1)
[ -n "$D_PEER" ] && [ "http://127.0.0.1:$D_PEER" != "$D_URL" ] || fail "d: no peer port of its own: $(cat "$WORK/d.log")"
python3 - "$WORK" "$D_URL" "http://127.0.0.1:$D_PEER" <<'PY'
import hashlib, hmac, json, sys, time, urllib.request, urllib.error
w, main, peer = sys.argv[1:4]
key = open(f"{w}/peer.key", "rb").read()
errors = []
def post(base, body):
    req = urllib.request.Request(base + "/peer/run", data=body, method="POST")
    req.add_header("X-Tripline-Signature", "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest())
    try:
        with urllib.request.urlopen(req, timeout=10) as r: return r.status, r.read()
    except urllib.error.HTTPError as e: return e.code, e.read()
def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r: return r.status, r.read().decode()
    except urllib.error.HTTPError as e: return e.code, ""
def req(nonce, to):
    return json.dumps({"probe": "api", "ts": int(time.time()), "nonce": nonce, "to": to}).encode()
st, out = post(main, req("d-1", "agent-d"))
if st != 404: errors.append(f"/peer/run on the main port: {st}")
st, out = post(peer, req("d-2", "agent-d"))
if st != 200 or json.loads(out).get("agent") != "agent-d": errors.append(f"/peer/run on its own port: {st} {out}")
st, out = post(peer, req("d-3", "agent-b"))
if st != 421: errors.append(f"a request for agent-b taken by agent-d: {st} {out}")
if get(peer + "/healthz")[0] != 404: errors.append("/healthz on the peer port")
st, m = get(main + "/metrics")
if 'tripline_peer_refused_total{reason="other_agent"} 1' not in m: errors.append("no other_agent refusal counted")
if errors:
    print("\n".join(errors)); sys.exit(1)
PY
stop_agent

# Phase 3: requests straight to b's /peer/run.
python3 - "$WORK" "$B_URL" "$C_URL" <<'PY'
import hashlib, hmac, json, sys, time, urllib.request, urllib.error
w, base, c_url = sys.argv[1], sys.argv[2], sys.argv[3]
b_url = base
key = open(f"{w}/peer.key", "rb").read()
errors = []
def post(body, sig=None, method="POST"):
    req = urllib.request.Request(base + "/peer/run", data=body, method=method)
    if sig is not None: req.add_header("X-Tripline-Signature", sig)
    try:
        with urllib.request.urlopen(req, timeout=10) as r: return r.status, r.read()
    except urllib.error.HTTPError as e: return e.code, e.read()
def sign(body): return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
body = json.dumps({"probe": "api", "ts": int(time.time()), "nonce": "n-1"}).encode()
answer_sig = []
def post_sig(body, sig):
    req = urllib.request.Request(base + "/peer/run", data=body, method="POST")
    req.add_header("X-Tripline-Signature", sig)
    with urllib.request.urlopen(req, timeout=10) as r:
        answer_sig.append(r.headers.get("X-Tripline-Signature"))
        return r.status, r.read()
st, out = post_sig(body, sign(body))
if st != 200: errors.append(f"signed request: {st} {out}")
else:
    a = json.loads(out)
    # the answer is signed, over a body naming the request's nonce
    if answer_sig != [sign(out)]: errors.append(f"answer signature {answer_sig}")
    if a.get("nonce") != "n-1": errors.append(f"answer nonce {a.get('nonce')}")
    if a.get("region") != "b" or a.get("ok") is not False or a.get("bucket") != "server" or a.get("agent") != "agent-b":
        errors.append(f"answer {a}")
st, _ = post(body, sign(body))
if st != 401: errors.append(f"replayed request: {st}")
# bound requests: b takes its own, refuses one for c
mine = json.dumps({"probe": "api", "ts": int(time.time()), "nonce": "n-b", "to": "agent-b"}).encode()
st, _ = post(mine, sign(mine))
if st != 200: errors.append(f"request bound to agent-b: {st}")
other = json.dumps({"probe": "api", "ts": int(time.time()), "nonce": "n-c", "to": "agent-c"}).encode()
st, _ = post(other, sign(other))
if st != 421: errors.append(f"request bound to agent-c sent to b: {st}")
st, _ = post(body, "sha256=" + "0" * 64)
if st != 401: errors.append(f"bad signature: {st}")
st, _ = post(body, None)
if st != 401: errors.append(f"unsigned: {st}")
wrong = "sha256=" + hmac.new(b"another key", body, hashlib.sha256).hexdigest()
st, _ = post(body, wrong)
if st != 401: errors.append(f"signed with another key: {st}")
old = json.dumps({"probe": "api", "ts": int(time.time()) - 120, "nonce": "n-2"}).encode()
st, _ = post(old, sign(old))
if st != 401: errors.append(f"stale request: {st}")
unknown = json.dumps({"probe": "nope", "ts": int(time.time()), "nonce": "n-3"}).encode()
st, _ = post(unknown, sign(unknown))
if st != 404: errors.append(f"unknown probe: {st}")
junk = b'{"probe": 1}'
st, _ = post(junk, sign(junk))
if st != 400: errors.append(f"bad body: {st}")
big = b"x" * (70 * 1024)
st, _ = post(big, sign(big))
if st != 413: errors.append(f"70 KiB body: {st}")
st, _ = post(None, None, "GET")
if st != 405: errors.append(f"GET /peer/run: {st}")
# the endpoint's other routes are unchanged
with urllib.request.urlopen(base + "/healthz", timeout=10) as r:
    if r.status != 200: errors.append("/healthz")

def opened(name):
    """The opened event with its second opinion copied from the updated
    follow-up of the same incident, which must come after it under a new
    eventId; the opened event carries none itself."""
    evs = [json.loads(l) for l in open(f"{w}/{name}.out") if l.strip()]
    out = []
    for i, e in enumerate(evs):
        if e["transition"] != "opened":
            continue
        if "secondOpinion" in e: errors.append(f"{name}: the opened event waited for the peers")
        fu = [f for f in evs[i + 1:] if f["incidentId"] == e["incidentId"] and "secondOpinion" in f]
        if not fu: errors.append(f"{name}: no follow-up with the second opinion"); continue
        f = fu[0]
        if f["transition"] != "updated" or f["eventId"] == e["eventId"] or f["active"] is not True:
            errors.append(f"{name}: follow-up {f['transition']} {f['eventId']} active={f['active']}")
        e = dict(e, secondOpinion=f["secondOpinion"], message=f["message"])
        out.append(e)
    return out
ev = opened("a")
if not ev: errors.append("a: no opened event")
else:
    so = ev[0].get("secondOpinion", {})
    if sorted(so.get("failingRegions", [])) != ["a", "b"]: errors.append(f"a: failing {so}")
    if so.get("okRegions") != ["c"]: errors.append(f"a: ok {so}")
    if so.get("noAnswer") != []: errors.append(f"a: noAnswer {so}")
    if so.get("summary") != "failing in 2 of 3 regions": errors.append(f"a: summary {so.get('summary')}")
    if not ev[0]["message"]["detail"].endswith("; failing in 2 of 3 regions"): errors.append(f"a: detail {ev[0]['message']}")
ev = opened("a2")
if not ev: errors.append("a2: no opened event")
else:
    so = ev[0].get("secondOpinion", {})
    if sorted(so.get("failingRegions", [])) != ["a", "b"]: errors.append(f"a2: failing {so}")
    na = so.get("noAnswer", [])
    if len(na) != 2 or not any("(connection refused)" in n for n in na) or not any("/delay?ms=30000 (timeout)" in n for n in na):
        errors.append(f"a2: noAnswer {na}")
    if so.get("summary") != "failing in 2 of 2 regions; no answer from 2 peers": errors.append(f"a2: summary {so.get('summary')}")
ev = opened("a3")
if not ev: errors.append("a3: no opened event")
else:
    so = ev[0].get("secondOpinion", {})
    na = so.get("noAnswer", [])
    if so.get("okRegions") != [] or len(na) != 1 or "not signed" not in na[0]:
        errors.append(f"a3: a tampered answer was taken: {so}")
ev = opened("a4")
if not ev: errors.append("a4: no opened event")
else:
    so = ev[0].get("secondOpinion", {})
    na = so.get("noAnswer", [])
    if so.get("okRegions") != [] or so.get("failingRegions") != ["a"] or len(na) != 1 or "HTTP 421" not in na[0]:
        errors.append(f"a4: a request bound to agent-c answered by b: {so}")
# a's bare URL (c) is logged once as unbound, b's named one is not
unbound = [l for l in open(f"{w}/a.log") if "without an agent name" in l]
if len(unbound) != 1 or c_url not in unbound[0] or b_url in unbound[0]: errors.append(f"a: unbound log {unbound}")
# the opened event is logged at once, the follow-up with the second opinion
log = [json.loads(l) for l in open(f"{w}/a2.log") if l.strip()]
if not any(l.get("msg") == "incident opened" for l in log):
    errors.append("a2: no log line of the opened event")
if not any(l.get("msg") == "incident updated" and "2 of 2" in l.get("second_opinion", "") for l in log):
    errors.append("a2: the log line of the follow-up lacks the second opinion")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok")
PY
# the opened events and their follow-ups with a second opinion match the schema
for n in a0 a a2 a3 a4; do
    python3 "$S/tests/lib/check_schema.py" "$S/docs/events.schema.json" --events "$WORK/$n.out" ||
        fail "$n: events do not match docs/events.schema.json"
done
