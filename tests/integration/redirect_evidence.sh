# A step that follows redirects and fails says where it ended: the evidence
# keeps the URL the step asked for (request.url) and adds the final one
# (response.final_url, response.redirects), and the status failure names it.
# Before, the evidence showed only the first URL, so a 404 three hops away
# read as the step's own URL failing.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP

cat >"$WORK/r.yaml" <<YAML
- probe: hops
  steps:
    - name: get
      request: {url: "$H/redirect-to?url=%2Fstatus%3Fcode%3D404%26token%3Dsecret-in-query", follow_redirects: true}
      expect: {status: 200}
- probe: none
  steps:
    - {name: get, request: {url: "$H/status?code=404", follow_redirects: true}, expect: {status: 200}}
YAML
once_json "$WORK/r.yaml" 1
python3 - "$WORK/out.json" "$H" <<'PY'
import json, sys
H = sys.argv[2]
def no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise SystemExit(f"a key twice in one object: {keys}")
    return dict(pairs)
runs = {r["probe"]: r for r in (json.loads(l, object_pairs_hook=no_duplicate_keys) for l in open(sys.argv[1]))}
errors = []
ev = runs["hops"]["steps"][0]["evidence"]
if not ev["request"]["url"].startswith(f"{H}/redirect-to?url="):
    errors.append(f"hops: request.url {ev['request']['url']}, want the step's own URL")
final = ev["response"].get("final_url", "")
if final != f"{H}/status?code=404&token=[redacted]":
    errors.append(f"hops: response.final_url {final!r}, want the 404's URL, its token redacted")
if ev["response"].get("redirects") != 1:
    errors.append(f"hops: response.redirects {ev['response'].get('redirects')!r}, want 1")
if not any("status 404" in f and "/status?code=404&token=[redacted]" in f for f in runs["hops"]["failures"]):
    errors.append(f"hops: the failure does not name the final URL: {runs['hops']['failures']}")
if ev["response"].get("status") != 404:
    errors.append(f"hops: response.status {ev['response'].get('status')!r}, want 404")
ev = runs["none"]["steps"][0]["evidence"]
if "final_url" in ev["response"] or "redirects" in ev["response"]:
    errors.append(f"none: a final URL without a redirect: {ev['response']}")
if ev["response"].get("status") != 404:
    errors.append(f"none: response.status {ev['response'].get('status')!r}, want 404")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok")
PY
