# Secret canaries: a distinct secret planted in every source (env., file:,
# a --var override of a secret var, --var-file, a cookie the server sets, a
# capture of a secret header, the service sink's token and HMAC key) and a
# hostile server that reflects them in every form (plain, JSON-escaped,
# base64 and base64url, percent-encoded in either case, split across a JSON
# key and value, as an issue code, as a header name and value), and an
# escalation service that quotes the token it refused. None may appear in
# any output: stdout and stderr of `once`, the daemon's stdout and log,
# /status, /metrics, the spool, dead letters and action timelines.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

rnd() { head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP
export CANARY_ENV="envCanary/$(rnd)+q"
CANARY_FILE="fileCanary-$(rnd)"
CANARY_VAR="varCanary-$(rnd)"
CANARY_VARFILE="varFileCanary/$(rnd)"
CANARY_COOKIE="ckcanary$(rnd)"
CANARY_CAP="capcanary$(rnd)"
CANARY_TOKEN="sinkTokCanary-$(rnd)"
CANARY_KEY="hmacKeyCanary-$(rnd)"
printf '%s' "$CANARY_FILE" >"$WORK/file.secret"
printf '%s\n' "$CANARY_VARFILE" >"$WORK/varfile.secret"
printf '%s\n' "$CANARY_TOKEN" >"$WORK/token"
printf '%s' "$CANARY_KEY" >"$WORK/hmac.key"
echo "$CANARY_ENV $CANARY_FILE $CANARY_VAR $CANARY_VARFILE $CANARY_COOKIE $CANARY_CAP $CANARY_TOKEN $CANARY_KEY" \
    >"$WORK/canaries.txt"

# secret sources reach the server in X-Canary-* headers, the bearer token and
# the cookie jar; /echo-secrets reflects them (422: every step fails).
cat >"$WORK/canary.yaml" <<YAML
probe: canary
schedule: {every: 1s, timeout: 900ms}
vars:
  tok: "{{ env.CANARY_ENV }}"
  fromfile: "{{ file:$WORK/file.secret }}"
  overridden: "{{ env.CANARY_ENV }}-default"
  viafile: "{{ env.CANARY_ENV }}-default2"
steps:
  - name: cookie
    request: {url: "$H/set-cookie?value=$CANARY_COOKIE"}
    expect: {status: 200}
  - name: grab
    request: {url: "$H/set-cookie?value=$CANARY_CAP"}
    expect: {status: 200}
    capture:
      grabbed: {header: Set-Cookie}
  - name: reflect
    continue: true
    request:
      url: "$H/echo-secrets?key={{ tok }}&f={{ fromfile }}"
      headers:
        Authorization: "Bearer {{ tok }}"
        X-Canary-File: "{{ fromfile }}"
        X-Canary-Var: "{{ overridden }}"
        X-Canary-Varfile: "{{ viafile }}"
        X-Canary-Cap: "{{ grabbed }}"
    expect: {status: 200}
  - name: reflect-text
    request:
      url: "$H/echo-secrets?text=1"
      headers: {Authorization: "Bearer {{ tok }}", X-Canary-File: "{{ fromfile }}", X-Canary-Var: "{{ overridden }}"}
    expect: {status: 200}
escalation:
  ladder:
    - {level: warning, when: {consecutive_failures: 1}, actions: [echo]}
  resolve: {consecutive_successes: 2}
actions:
  echo:
    webhook:
      url: "$H/echo-secrets?text=1"
      headers: {Authorization: "Bearer {{ tok }}", X-Canary-File: "{{ fromfile }}"}
    # kept on disk with the open incident (incidents.json): templates only
    rollback:
      webhook:
        url: "$H/echo-secrets?text=1&token={{ tok }}"
        headers: {Authorization: "Bearer {{ tok }}", X-Canary-Var: "{{ overridden }}-{{ viafile }}"}
YAML
VARS=(--var "overridden=$CANARY_VAR" --var-file "viafile=$WORK/varfile.secret")

# --- once --json and the table ------------------------------------------------
set +e
"$B/tripline" once --json "${VARS[@]}" "$WORK/canary.yaml" >"$WORK/once.json" 2>"$WORK/once.err"
rc=$?
"$B/tripline" once "${VARS[@]}" "$WORK/canary.yaml" >"$WORK/once.txt" 2>>"$WORK/once.err"
set -e
[ "$rc" -eq 1 ] || fail "once exit $rc, expected 1: $(cat "$WORK/once.err")"
grep -q '"body_snippet"' "$WORK/once.json" || fail "no body snippet: $(head -c 2000 "$WORK/once.json")"

# --- the daemon with the stdout and service sinks ------------------------------
line=$(start_fixture escalation_service --port 0 --token "$CANARY_TOKEN" --key-file "$WORK/hmac.key" \
    --record "$WORK/service.jsonl")
SVC=${line#listening on }
curl -fsS --noproxy '*' -XPOST "$SVC/_control" -d '{"mode":"echo"}' >/dev/null
cat >"$WORK/config.yaml" <<YAML
name: canary-agent
spool: {dir: $WORK/spool}
sinks:
  stdout: true
  service: {url: $SVC/events, token_file: $WORK/token, hmac_key_file: $WORK/hmac.key, timeout: 2s}
YAML
start_agent canary --config "$WORK/config.yaml" "${VARS[@]}" "$WORK/canary.yaml"
has_dead() { ls "$WORK"/spool/dead-letter-*.jsonl >/dev/null 2>&1; }
has_timeline() { curl -fsS --noproxy '*' "$AGENT_URL/status" >"$WORK/status.json" && grep -q '"output"' "$WORK/status.json"; }
wait_until "a dead letter from the echoing service" 60 has_dead
wait_until "the webhook action's output on the timeline" 60 has_timeline
curl -fsS --noproxy '*' "$AGENT_URL/metrics" >"$WORK/metrics.txt"
stop_agent
grep -q 'invalid credential' "$WORK"/spool/dead-letter-*.jsonl || fail "dead letter lacks the echoed body"
grep -q '"rollbacks":{"echo":{' "$WORK/spool/incidents.json" ||
    fail "the open incident keeps no rollback definition: the scan below proves nothing for it"

python3 - "$WORK" <<'PY' || fail "a canary leaked"
import base64, glob, json, os, sys, urllib.parse
w = sys.argv[1]
canaries = open(f"{w}/canaries.txt").read().split()
def forms(c):
    out = {"plain": c, "json": json.dumps(c)[1:-1], "json-slash": json.dumps(c)[1:-1].replace("/", "\\/"),
           "pct": urllib.parse.quote(c, safe="-_.~"), "pct-lower": None}
    out["pct-lower"] = "".join(p[:2].lower() + p[2:] if i else p
                               for i, p in enumerate(out["pct"].split("%"))) if "%" in out["pct"] else None
    out["b64"] = base64.b64encode(c.encode()).decode().rstrip("=")[:-1]
    out["b64url"] = base64.urlsafe_b64encode(c.encode()).decode().rstrip("=")[:-1]
    out["basic"] = base64.b64encode(("user:" + c).encode()).decode()[8:-4]
    if len(c) >= 16:
        out["half1"], out["half2"] = c[: len(c) // 2], c[len(c) // 2:]
    return {k: v for k, v in out.items() if v and len(v) >= 6}
files = [f for f in glob.glob(f"{w}/**/*", recursive=True) if os.path.isfile(f)]
skip = {"canaries.txt", "canary.yaml", "config.yaml", "file.secret", "varfile.secret", "token", "hmac.key",
        "service.jsonl", "escalation_service.out", "escalation_service.err", "hostile_server.out",
        "hostile_server.err", ".pids"}
bad = []
for f in files:
    if os.path.basename(f) in skip:
        continue
    text = open(f, "rb").read().decode("utf-8", "replace")
    for c in canaries:
        for name, v in forms(c).items():
            if v in text:
                i = text.index(v)
                bad.append(f"{os.path.relpath(f, w)}: {name} form of {c}: ...{text[max(0, i - 60):i + 60]!r}")
print("\n".join(bad[:40]), file=sys.stderr)
checked = [os.path.relpath(f, w) for f in files if os.path.basename(f) not in skip]
print("checked:", " ".join(sorted(checked)), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
grep -q '\[redacted\]' "$WORK/once.json" || fail "nothing marked redacted"
echo ok
