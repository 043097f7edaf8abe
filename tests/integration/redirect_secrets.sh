# Redirects and secrets: with follow_redirects, the probe's own request
# headers (an API key from env., an Authorization, a Cookie) go only to the
# origin its URL names. Server A redirects to server B (another port: another
# origin), to itself, and from its TLS port to its plain port (https to http);
# both servers record every request they read. B must never see the key, the
# token or a body holding a secret; A's own hops keep them. Checked for
# `tripline once --json` and for the daemon.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

rnd() { head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
port_of() { echo "$1" | sed -n "s/.*$2=\([0-9]*\).*/\1/p"; }
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

: >"$WORK/a.jsonl"
: >"$WORK/b.jsonl"
la=$(start_fixture hostile_server --record "$WORK/a.jsonl")
A=http://127.0.0.1:$(port_of "$la" http)
AS=https://127.0.0.1:$(port_of "$la" tls)
lb=$(start_fixture hostile_server --record "$WORK/b.jsonl")
BB=http://127.0.0.1:$(port_of "$lb" http)
export API_KEY="apiKey-$(rnd)"
export AUTH_TOKEN="authTok-$(rnd)"

# case=NAME in the final URL's query tells the records apart
cat >"$WORK/probes.yaml" <<YAML
- probe: cross
  schedule: {every: 2s, timeout: 2s}
  steps:
    - name: get
      request:
        url: "$A/redirect-to?url=$(enc "$BB/ok?case=cross")"
        follow_redirects: true
        headers:
          X-Api-Key: "{{ env.API_KEY }}"
          Authorization: "Bearer {{ env.AUTH_TOKEN }}"
          Cookie: "session={{ env.API_KEY }}"
          Accept: application/json
      expect: {status: 200}
- probe: same
  schedule: {every: 2s, timeout: 2s}
  steps:
    - name: get
      request:
        url: "$A/redirect-to?url=$(enc "$A/ok?case=same")"
        follow_redirects: true
        headers: {X-Api-Key: "{{ env.API_KEY }}", Authorization: "Bearer {{ env.AUTH_TOKEN }}"}
      expect: {status: 200}
- probe: downgrade
  schedule: {every: 2s, timeout: 2s}
  tls: {verify: false}
  steps:
    - name: get
      request:
        url: "$AS/redirect-to?url=$(enc "$A/ok?case=downgrade")"
        follow_redirects: true
        headers: {X-Api-Key: "{{ env.API_KEY }}", Authorization: "Bearer {{ env.AUTH_TOKEN }}"}
      expect: {status: 200}
- probe: post302
  schedule: {every: 2s, timeout: 2s}
  steps:
    - name: post
      request:
        method: POST
        url: "$A/redirect-to?code=302&url=$(enc "$BB/ok?case=post302")"
        follow_redirects: true
        headers: {X-Api-Key: "{{ env.API_KEY }}"}
        json: {password: "{{ env.API_KEY }}"}
      expect: {status: 200}
- probe: post307
  schedule: {every: 2s, timeout: 2s}
  steps:
    - name: post
      request:
        method: POST
        url: "$A/redirect-to?code=307&url=$(enc "$BB/ok?case=post307")"
        follow_redirects: true
        json: {password: "{{ env.API_KEY }}"}
      expect: {status: 200}
- probe: loop
  schedule: {every: 2s, timeout: 2s}
  steps:
    - name: get
      request: {url: "$A/loop", follow_redirects: true}
      expect: {status: 200}
YAML

# check_records: what A and B received since the files were emptied.
check_records() {
    python3 - "$WORK/a.jsonl" "$WORK/b.jsonl" "$API_KEY" "$AUTH_TOKEN" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
key, tok = sys.argv[3], sys.argv[4]
def hdr(r, name):
    return {k.lower(): v for k, v in r["headers"].items()}.get(name.lower())
def landed(recs, case):
    got = [r for r in recs if r["path"] == "/ok" and r["query"] == "case=" + case]
    assert got, f"no request for case={case} arrived"
    return got
# B is another origin: it sees none of the probe's credentials, in any form
for r in b:
    assert key not in json.dumps(r), f"B received the API key: {r}"
    assert tok not in json.dumps(r), f"B received the Authorization token: {r}"
for r in landed(b, "cross"):
    assert hdr(r, "X-Api-Key") is None and hdr(r, "Authorization") is None and hdr(r, "Cookie") is None, r
    assert hdr(r, "Accept") == "application/json", f"an allowlisted header was dropped: {r}"
    assert hdr(r, "X-Correlation-ID"), r
# 302 after a POST: a GET to B, without the body or the key
for r in landed(b, "post302"):
    assert r["method"] == "GET" and hdr(r, "Content-Length") in (None, "0"), r
# 307 resends the body: never to another origin
assert not [r for r in b if r["query"] == "case=post307"], "a 307 resent the POST body to B"
# the same origin keeps every header
for r in landed(a, "same"):
    assert hdr(r, "X-Api-Key") == key and hdr(r, "Authorization") == "Bearer " + tok, r
# https to http, same host: another origin, nothing secret in clear text
for r in landed(a, "downgrade"):
    assert hdr(r, "X-Api-Key") is None and hdr(r, "Authorization") is None, r
print("records ok")
PY
}

rc=0
"$B/tripline" once --json "$WORK/probes.yaml" >"$WORK/once.json" 2>"$WORK/once.err" || rc=$?
[ "$rc" = 1 ] || fail "once exited $rc, expected 1 (post307 and loop fail): $(cat "$WORK/once.err")"
check_records || fail "once: $(cat "$WORK/a.jsonl" "$WORK/b.jsonl")"
python3 - "$WORK/once.json" <<'PY'
import json, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs[r["probe"]] = r
for p in ("cross", "same", "downgrade", "post302"):
    assert runs[p]["ok"], runs[p]
s = runs["post307"]["steps"][0]
assert not s["ok"] and s["bucket"] == "contract", s
msg = " ".join(s["failures"])
assert "127.0.0.1" in msg and "not followed" in msg, msg
s = runs["loop"]["steps"][0]
assert not s["ok"] and s["bucket"] == "upstream" and s["reason"] == "redirects", s
PY

# the daemon: the same rules on every scheduled run
: >"$WORK/a.jsonl"
: >"$WORK/b.jsonl"
start_agent d --spool-dir "$WORK/spool" "$WORK/probes.yaml"
for p in cross same downgrade post302 post307; do
    wait_until "two runs of $p" 60 runs_at_least "$AGENT_URL" "$p" 2
done
status_to "$AGENT_URL" "$WORK/status.json"
stop_agent
check_records || fail "daemon: $(cat "$WORK/b.jsonl")"
for s in "$API_KEY" "$AUTH_TOKEN"; do
    if grep -qF -- "$s" "$WORK/status.json" "$WORK/d.out" "$WORK/d.log" "$WORK/once.json"; then
        fail "a secret reached the agent's output"
    fi
done
echo ok
