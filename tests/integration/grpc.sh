# gRPC health checks against a real gRPC server (grpcio, tests/fixtures/grpc_health.py)
# on loopback, h2c and h2 over TLS: every grpc-status and serving status the
# fixture can give lands in its bucket and reason, the evidence shows the gRPC
# facts with secrets redacted, and the daemon shows the runs on /metrics
# and /status.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

PY=/usr/bin/python3
"$PY" -c 'import grpc' 2>/dev/null || { echo "python3-grpcio is not installed: skipped" >&2; exit 77; }
command -v openssl >/dev/null || { echo "openssl is not installed: skipped" >&2; exit 77; }

# start_grpc NAME ARGS...: the fixture's port once it accepts connections.
start_grpc() {
    local name=$1; shift
    "$PY" "$S/tests/fixtures/grpc_health.py" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    echo $! >>"$WORK/.pids" # called inside $(...): cleanup reads the file
    wait_until "$name to listen" 30 grep -qs '^port=' "$WORK/$name.out"
    sed -n 's/^port=//p' "$WORK/$name.out"
}
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
G=http://127.0.0.1:$(start_grpc h2c)
T=https://127.0.0.1:$(start_grpc h2 --cert "$WORK/cert.pem" --key "$WORK/key.pem")
# an HTTP/1.1-only server: h2c with prior knowledge meets a server that cannot speak it
line=$(start_fixture hostile_server)
H1=http://127.0.0.1:$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')

svc() { # probe-id service [extra step keys]
    printf -- '- probe: %s\n  schedule: {every: 1m, timeout: 2s}\n  steps:\n    - name: health\n      grpc: {target: "%s", service: "%s"}\n%s' \
        "$1" "$G" "$2" "${3:-}"
}
{
    svc serving payments.v1.Payments
    svc overall "" "      expect: {grpc: {status: SERVING}, budget: {total: 1500ms}}
"
    svc drained down "      expect: {grpc: {status: NOT_SERVING}}
"
    svc not-serving down
    svc serving-unknown status-unknown
    svc service-unknown watch-only
    svc not-found no-such-service
    svc unavailable unavailable
    svc internal internal
    svc busy busy
    svc expired expired
    svc denied denied
    svc unimplemented unimplemented
    svc garbage garbage
    svc slow slow
    cat <<YAML
- probe: secured-ok
  vars: {token: "{{ env.GRPC_TOKEN }}"}
  steps:
    - name: health
      grpc: {target: "$G", service: secured, metadata: {authorization: "Bearer {{ token }}"}}
- probe: secured-bad
  vars: {token: "{{ env.GRPC_BAD_TOKEN }}"}
  steps:
    - name: health
      grpc: {target: "$G", service: secured, metadata: {authorization: "Bearer {{ token }}"}}
- probe: tls-ok
  steps:
    - {name: health, grpc: {target: "$T", service: payments.v1.Payments, tls: {verify: false}}}
- probe: tls-unverified
  steps:
    - {name: health, grpc: {target: "$T", service: payments.v1.Payments}}
- probe: not-h2c
  steps:
    - {name: health, grpc: {target: "$H1"}}
YAML
} >"$WORK/grpc.yaml"

"$B/tripline" check "$WORK/grpc.yaml" >/dev/null 2>"$WORK/check.err" || fail "check: $(cat "$WORK/check.err")"
set +e
GRPC_TOKEN=grpc-s3cret-token GRPC_BAD_TOKEN=wrong-s3cret-value \
    "$B/tripline" once --json "$WORK/grpc.yaml" >"$WORK/out.json" 2>"$WORK/err.txt"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "exit code $rc, expected 1 (some probes fail); stderr: $(cat "$WORK/err.txt")"
grep -q AddressSanitizer "$WORK/err.txt" && fail "ASan: $(cat "$WORK/err.txt")"
grep -q 's3cret' "$WORK/out.json" "$WORK/err.txt" && fail "a secret reached the output: $(grep s3cret "$WORK/out.json")"

"$PY" - "$WORK/out.json" <<'PY'
import json, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs[r["probe"]] = r
want = {
    "serving": (None, None), "overall": (None, None), "drained": (None, None),
    "secured-ok": (None, None), "tls-ok": (None, None),
    "not-serving": ("upstream", "grpc_not_serving"),
    "serving-unknown": ("upstream", "grpc_serving_unknown"),
    "service-unknown": ("client", "grpc_service_unknown"),
    "not-found": ("client", "grpc_not_found"),
    "unavailable": ("upstream", "grpc_unavailable"),
    "internal": ("server", "grpc_internal"),
    "busy": ("rate_limit", "grpc_resource_exhausted"),
    "expired": ("upstream", "grpc_deadline_exceeded"),
    "denied": ("auth", "grpc_permission_denied"),
    "secured-bad": ("auth", "grpc_unauthenticated"),
    "unimplemented": ("contract", "grpc_unimplemented"),
    "garbage": ("contract", "grpc_broken"),
    "slow": ("upstream", "timeout"),
    "tls-unverified": ("upstream", "tls"),
}
bad = []
for probe, (bucket, reason) in want.items():
    r = runs.get(probe)
    if r is None:
        bad.append("%s: no result" % probe)
    elif (r["bucket"], r.get("reason")) != (bucket, reason):
        bad.append("%s: got %s/%s, want %s/%s (%s)" % (probe, r["bucket"], r.get("reason"), bucket, reason,
                                                      r["failures"]))
# an HTTP/1.1 server cannot answer h2c: no usable response, never a crash or a pass
if runs["not-h2c"]["bucket"] != "upstream":
    bad.append("not-h2c: %s/%s" % (runs["not-h2c"]["bucket"], runs["not-h2c"].get("reason")))
step = runs["unavailable"]["steps"][0]
ev = step["evidence"]
if step["status"] != 200 or ev["grpc"] != {"grpc_status": 14, "grpc_code": "UNAVAILABLE",
                                          "grpc_message": "backend pool empty", "serving_status": None,
                                          "expected": "SERVING"}:
    bad.append("unavailable evidence: %s (status %s)" % (ev.get("grpc"), step["status"]))
if ev["request"]["method"] != "POST" or not ev["request"]["url"].endswith("/grpc.health.v1.Health/Check"):
    bad.append("unavailable request: %s" % ev["request"])
g = runs["not-serving"]["steps"][0]["evidence"]["grpc"]
if (g["grpc_status"], g["serving_status"]) != (0, "NOT_SERVING"):
    bad.append("not-serving evidence: %s" % g)
g = runs["secured-bad"]["steps"][0]["evidence"]["grpc"]
if g["grpc_message"] != "bad token Bearer [redacted]":
    bad.append("secured-bad message not redacted as expected: %s" % g["grpc_message"])
if runs["overall"]["steps"][0]["timings"]["total_ms"] <= 0:
    bad.append("overall: no timings %s" % runs["overall"]["steps"][0])
if bad:
    sys.exit("\n".join(bad))
PY

# The daemon: a grpc step's bucket on /metrics and its reason on /status like any step's.
{ svc unavailable unavailable; svc serving payments.v1.Payments; } | sed 's/every: 1m, timeout: 2s/every: 2s, timeout: 1s/' >"$WORK/daemon.yaml"
start_agent a --region earth --spool-dir "$WORK/spool" "$WORK/daemon.yaml"
wait_until "two runs of each probe" 60 runs_at_least "$AGENT_URL" unavailable 2
wait_until "two runs of each probe" 60 runs_at_least "$AGENT_URL" serving 2
curl -fsS --noproxy '*' "$AGENT_URL/metrics" >"$WORK/metrics.txt"
grep -q '^tripline_probe_failures_total{probe="unavailable",region="earth",bucket="upstream"} [1-9]' "$WORK/metrics.txt" ||
    fail "no upstream failures of unavailable on /metrics: $(grep unavailable "$WORK/metrics.txt")"
grep -q '^tripline_probe_success{probe="serving",region="earth"} 1' "$WORK/metrics.txt" ||
    fail "serving is not a success on /metrics: $(grep serving "$WORK/metrics.txt")"
status_to "$AGENT_URL" "$WORK/status.json"
"$PY" - "$WORK/status.json" <<'PY'
import json, sys
probes = {p["probe"]: p for p in json.load(open(sys.argv[1]))["probes"]}
text = json.dumps(probes["unavailable"])
if "grpc_unavailable" not in text or "upstream" not in text:
    sys.exit("unavailable on /status: %s" % text[:2000])
if "grpc_unavailable" in json.dumps(probes["serving"]):
    sys.exit("serving on /status: %s" % json.dumps(probes["serving"])[:2000])
PY
stop_agent
