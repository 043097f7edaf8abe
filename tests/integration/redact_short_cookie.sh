# A cookie value a server sets is redacted wherever it appears only when it
# is long enough to be a secret (8 bytes or more); a short one (sid=500) is
# redacted where it stands (Set-Cookie and Cookie headers, by name) and no
# further. Before, "500" became a pattern: every "500" in failures, evidence
# and events, status codes included, read "[redacted]".
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP
LONG="ck$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"

cat >"$WORK/cookie.yaml" <<YAML
- probe: short
  steps:
    - {name: set, request: {url: "$H/set-cookie?value=500"}, expect: {status: 200}}
    - {name: get, request: {url: "$H/status?code=500"}, expect: {status: 200}}
- probe: long
  steps:
    - {name: set, request: {url: "$H/set-cookie?value=$LONG"}, expect: {status: 200}}
    - {name: echo, request: {url: "$H/echo-cookie"}, expect: {status: 200, body: {contains: nothing-like-it}}}
YAML

once_json "$WORK/cookie.yaml" 1
! grep -q "$LONG" "$WORK/out.json" "$WORK/err.txt" || fail "the long cookie value leaked: $(grep "$LONG" "$WORK/out.json")"
python3 - "$WORK/out.json" <<'PY'
import json, sys
errors = []
runs = {json.loads(l)["probe"]: json.loads(l) for l in open(sys.argv[1], encoding="utf-8")}
short = runs["short"]
if (short.get("bucket"), short.get("reason")) != ("server", "status_500"):
    errors.append(f"short: {short.get('bucket')}/{short.get('reason')}, want server/status_500")
text = json.dumps(short)
if "[redacted]" in json.dumps(short["failures"]) or not any("500" in f for f in short["failures"]):
    errors.append(f"short: failures lost the status: {short['failures']}")
ev = short["steps"][1].get("evidence") or {}
if not ev.get("request", {}).get("url", "").endswith("/status?code=500"):
    errors.append(f"short: evidence lost the status: {json.dumps(ev)[:600]}")
long = runs["long"]
snip = json.dumps(long["steps"][1].get("evidence") or {})
if "[redacted]" not in snip:
    errors.append(f"long: the echoed cookie is not redacted: {snip[:600]}")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok")
PY
