# `tripline once` against real servers on loopback: every triage bucket from a
# real response or a real network failure, the hostile servers, exit codes and
# the JSON shape.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
TLS=$(echo "$line" | sed -n 's/.*tls=\([0-9]*\).*/\1/p')
[ -n "$HTTP" ] && [ -n "$TLS" ] || fail "hostile_server printed: $line"
H=http://127.0.0.1:$HTTP
# The demo API answers /v1/reports with a gateway-style 503 (issue class upstream).
D=$(start_fixture demo_api --port 0 | sed 's/^listening on //')
# A port nobody listens on: bind-and-close leaves it free.
CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')

cat >"$WORK/buckets.yaml" <<YAML
- probe: client-422
  schedule: {every: 1m, timeout: 5s}
  steps:
    - name: create
      request: {method: POST, url: "$H/status?code=422", json: {sku: null}}
      expect: {status: 201}
- probe: auth-401
  steps:
    - {name: me, request: {url: "$H/status?code=401"}, expect: {status: 200}}
- probe: rate-429
  steps:
    - {name: quote, request: {url: "$H/status?code=429&retry_after=30"}, expect: {status: 200}}
- probe: upstream-503
  steps:
    - {name: report, request: {url: "$D/v1/reports"}, expect: {status: 200}}
- probe: server-503-internal
  steps:
    - {name: report, request: {url: "$H/status?code=503"}, expect: {status: 200}}
- probe: contract-schema
  steps:
    - {name: order, request: {url: "$D/v1/orders/42"}, expect: {status: 404}}
- probe: server-500
  steps:
    - {name: boom, request: {url: "$H/status?code=500"}, expect: {status: 200}}
- probe: upstream-refused
  steps:
    - {name: connect, request: {url: "http://127.0.0.1:$CLOSED/"}, expect: {status: 200}}
- probe: upstream-dns
  steps:
    - {name: resolve, request: {url: "http://no-such-host.invalid/"}, expect: {status: 200}}
- probe: upstream-tls
  steps:
    - {name: handshake, request: {url: "https://127.0.0.1:$TLS/ok"}, expect: {status: 200}}
- probe: upstream-timeout
  schedule: {every: 1m, timeout: 1s}
  steps:
    - {name: wait, request: {url: "$H/delay?ms=5000"}, expect: {status: 200}}
- probe: contract-json
  steps:
    - name: ok
      request: {url: "$H/ok"}
      expect: {status: 200, json: [{path: $.ok, equals: false}]}
- probe: budget-slow
  steps:
    - name: slow
      request: {url: "$H/delay?ms=300"}
      expect: {status: 200, budget: {ttfb: 100ms}}
- probe: passes
  steps:
    - name: ok
      request: {url: "$H/ok"}
      expect: {status: 200, json: [{path: $.ok, equals: true}], budget: {total: 5s}}
YAML

set +e
"$B/tripline" once --json "$WORK/buckets.yaml" >"$WORK/out.json" 2>"$WORK/err.txt"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "exit code $rc, expected 1 (some probes fail); stderr: $(cat "$WORK/err.txt")"

python3 - "$WORK/out.json" <<'PY'
import json, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs[r["probe"]] = r
want = {
    "client-422": ("client", None), "auth-401": ("auth", None), "rate-429": ("rate_limit", None),
    "upstream-503": ("upstream", None), "server-500": ("server", None),
    # a 503 whose body says the API itself failed (class internal) is the server's
    "server-503-internal": ("server", None), "contract-schema": ("contract", "schema"),
    "upstream-refused": ("upstream", "connect"), "upstream-dns": ("upstream", "dns"),
    "upstream-tls": ("upstream", "tls"), "upstream-timeout": ("upstream", "timeout"),
    "contract-json": ("contract", None), "budget-slow": ("budget", None),
}
errors = []
for probe, (bucket, reason) in want.items():
    r = runs.get(probe)
    if r is None:
        errors.append(f"{probe}: no result"); continue
    if r["ok"] is not False: errors.append(f"{probe}: ok={r['ok']}")
    if r["bucket"] != bucket: errors.append(f"{probe}: bucket {r['bucket']} != {bucket}")
    if reason and r.get("reason") != reason: errors.append(f"{probe}: reason {r.get('reason')} != {reason}")
    step = r["steps"][0]
    for key in ("name", "ok", "status", "timings", "failures", "evidence"):
        if key not in step: errors.append(f"{probe}: step lacks {key}")
    if not step["failures"]: errors.append(f"{probe}: no failure message")
    ev = step.get("evidence") or {}
    for key in ("request", "response", "timings", "environment", "step", "correlation_id"):
        if key not in ev: errors.append(f"{probe}: evidence lacks {key}")
p = runs["passes"]
if p["ok"] is not True or p["bucket"] is not None: errors.append(f"passes: {p}")
if "evidence" in p["steps"][0]: errors.append("passes: evidence on a passing step")
rl = runs["rate-429"]["steps"][0]["evidence"]["response"]["headers"]
if rl.get("Retry-After", rl.get("retry-after")) != "30": errors.append(f"rate-429: Retry-After not recorded: {rl}")
b = runs["budget-slow"]["steps"][0]
if not any("ttfb" in f and "budget" in f for f in b["failures"]): errors.append(f"budget-slow failures: {b['failures']}")
if b["timings"]["ttfb_ms"] < 300: errors.append(f"budget-slow ttfb {b['timings']['ttfb_ms']} < injected 300ms")
t = runs["upstream-timeout"]
if t["duration_ms"] > 4000: errors.append(f"timeout run took {t['duration_ms']} ms, deadline 1s")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok:", len(runs), "runs")
PY
