# The bundled examples against the bundled demo API give what the README
# and the demo promise, and journey semantics hold end to end: captures from
# JSON, a header and a regex; `continue`; skipped steps; `finally` cleanup
# that really runs against the API.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"
export DEMO_PASSWORD=example-secret-$$
line=$(start_fixture demo_api --port 0)
D=${line#listening on }

set +e
"$B/tripline" once --json --var "base=$D" "$S"/probes/examples/*.yaml >"$WORK/examples.json" 2>"$WORK/err.txt"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "examples: exit $rc, expected 1 (three examples fail on purpose): $(cat "$WORK/err.txt")"

cat >"$WORK/journey.yaml" <<'YAML'
probe: journey-semantics
schedule: {every: 1m, timeout: 10s}
vars:
  base: http://127.0.0.1:1
  password: "{{ env.DEMO_PASSWORD }}"
steps:
  - name: login
    request: {method: POST, url: "{{ base }}/v1/sessions", json: {user: synthetic, password: "{{ password }}"}}
    expect: {status: 201}
    capture:
      session: {json: $.session.id}
      token: {regex: "\"token\":\"([0-9a-f]+)\""}
      cookie: {header: Set-Cookie}
  - name: soft-fail
    continue: true
    request: {url: "{{ base }}/v1/quote"}
    expect: {status: 200}
  - name: me
    request: {url: "{{ base }}/v1/me", headers: {Authorization: "Bearer {{ token }}"}}
    expect:
      status: 200
      json: [{path: $.session, equals: "{{ session }}"}]
  - name: hard-fail
    request: {url: "{{ base }}/v1/orders/1"}
    expect: {status: 200}
  - name: never
    request: {url: "{{ base }}/v1/health"}
finally:
  - name: logout
    request: {method: DELETE, url: "{{ base }}/v1/sessions/{{ session }}"}
    expect: {status: 204}
YAML
set +e
"$B/tripline" once --json --var "base=$D" "$WORK/journey.yaml" >"$WORK/journey.json" 2>>"$WORK/err.txt"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "journey: exit $rc: $(cat "$WORK/err.txt")"
curl -fsS "$D/_control/stats" >"$WORK/stats.json"

python3 - "$WORK" "$DEMO_PASSWORD" <<'PY'
import json, sys
w, password = sys.argv[1], sys.argv[2]
runs = {r["probe"]: r for r in map(json.loads, open(f"{w}/examples.json"))}
errors = []
want = {"health": None, "slow": "budget", "quote": "rate_limit", "login-journey": None,
        "payments": None, "orders": "contract"}
for probe, bucket in want.items():
    r = runs.get(probe)
    if r is None:
        errors.append(f"{probe}: no result"); continue
    if r["bucket"] != bucket or r["ok"] != (bucket is None):
        errors.append(f"{probe}: ok={r['ok']} bucket={r['bucket']}, want {bucket}: {[s['failures'] for s in r['steps']]}")
pay = [s for s in runs["payments"]["steps"] if s["name"] == "pay"]
if not pay or pay[0]["status"] != 402: errors.append(f"payments pay: {pay}")
orders = runs["orders"]["steps"][0]["failures"]
if not any('"fatal" is not one of error, warning, info' in f for f in orders): errors.append(f"orders: {orders}")
j = json.load(open(f"{w}/journey.json"))
steps = {s["name"]: s for s in j["steps"]}
if not (steps["login"]["ok"] and steps["me"]["ok"]): errors.append(f"captures did not carry: {steps['me']}")
if steps["soft-fail"]["ok"] or steps["soft-fail"]["bucket"] != "rate_limit": errors.append(f"soft-fail: {steps['soft-fail']}")
if steps["hard-fail"]["ok"] or not steps["hard-fail"]["ran"]: errors.append(f"hard-fail: {steps['hard-fail']}")
if steps["never"]["ran"]: errors.append("a step after a failure without continue ran")
if not (steps["logout"]["ran"] and steps["logout"]["ok"]): errors.append(f"finally did not clean up: {steps['logout']}")
if j["ok"] or j["failed_step"] != "soft-fail": errors.append(f"journey verdict: ok={j['ok']} failed_step={j.get('failed_step')}")
stats = json.load(open(f"{w}/stats.json"))
if not any(p.startswith("/v1/sessions/") for p in stats.get("by_path", {})):
    errors.append(f"the DELETE of the finally step never reached the API: {stats}")
for f in ("examples.json", "journey.json"):
    if password in open(f"{w}/{f}").read(): errors.append(f"the password leaked into {f}")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok:", {k: v["bucket"] for k, v in runs.items()})
PY
