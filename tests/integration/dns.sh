# DNS steps against real servers on loopback: dnsmasq (tests/fixtures/dns_zone.py)
# answering A, AAAA, CNAME, MX, TXT and SRV over UDP and TCP, and a server that
# answers SERVFAIL, never answers, answers a malformed message or NS records
# (tests/fixtures/dns_fault.py). Every outcome lands in its bucket and reason
# through `tripline once --json`, the evidence carries the answers, and the
# daemon shows the runs on /metrics and /status.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

PY=/usr/bin/python3
"$PY" -c 'import dns.message' 2>/dev/null || { echo "python3-dnspython is not installed: skipped" >&2; exit 77; }
command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || { echo "dnsmasq-base is not installed: skipped" >&2; exit 77; }

# has FILE PATTERN WHAT [FILTER]: FILE has a line matching PATTERN, or the test
# fails saying WHAT with FILE's lines that match FILTER.
has() { grep -q -- "$2" "$1" || fail "$3: $(grep -e "${4:-.}" "$1" | head -40)"; }

# start_dns NAME SCRIPT ARGS...: the fixture's port once it answers.
start_dns() {
    local name=$1 script=$2; shift 2
    "$S/tests/fixtures/$script" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    echo $! >>"$WORK/.pids" # called inside $(...): cleanup reads the file
    wait_until "$name to answer" 30 grep -qs '^[0-9]' "$WORK/$name.out"
    head -n1 "$WORK/$name.out"
}
Z=127.0.0.1:$(start_dns zone dns_zone.py)
SERVFAIL=127.0.0.1:$(start_dns servfail dns_fault.py servfail)
SILENT=127.0.0.1:$(start_dns silent dns_fault.py silent)
GARBAGE=127.0.0.1:$(start_dns garbage dns_fault.py garbage)
NS=127.0.0.1:$(start_dns ns dns_fault.py ns)

cat >"$WORK/dns.yaml" <<YAML
- probe: records
  schedule: {every: 1m, timeout: 2s}
  vars: {host: api}
  steps:
    - name: a
      dns: {name: "{{ host }}.example.test", server: "$Z"}
      expect:
        dns: {answers: {equals: [10.0.0.2, 10.0.0.1]}, ttl: {min: 60, max: 86400}}
        budget: {dns: 1s}
    - name: aaaa
      dns: {name: api.example.test, type: AAAA, server: "$Z", transport: tcp}
      expect: {dns: {answers: {contains: "fd00::1"}}}
    - name: cname
      dns: {name: www.example.test, type: CNAME, server: "$Z"}
      expect: {dns: {answers: {equals: [api.example.test]}}}
    - name: mx
      dns: {name: example.test, type: MX, server: "$Z", transport: tcp}
      expect:
        dns: {answers: {matches: "^10 mail\\\\."}}
        json: [{path: "\$.answers[0].data", equals: "10 mail.example.test"}]
    - name: txt
      dns: {name: example.test, type: TXT, server: "$Z"}
      expect: {dns: {answers: {contains: "v=spf1 -all"}}, body: {contains: "IN TXT v=spf1"}}
    - name: srv
      dns: {name: _http._tcp.example.test, type: SRV, server: "$Z"}
      expect: {dns: {answers: {contains: "1 5 8080 api.example.test"}, min_answers: 1}}
    - name: ns
      dns: {name: example.test, type: NS, server: "$NS"}
      expect: {dns: {min_answers: 2}}
    - name: gone
      dns: {name: gone.example.test, server: "$Z"}
      expect: {dns: {rcode: NXDOMAIN}}
- probe: servfail
  steps:
    - {name: resolve, dns: {name: api.example.test, server: "$SERVFAIL"}}
- probe: nxdomain
  steps:
    - {name: resolve, dns: {name: missing.example.test, server: "$Z"}}
- probe: silent
  schedule: {every: 1m, timeout: 1s}
  steps:
    - {name: resolve, dns: {name: api.example.test, server: "$SILENT", transport: tcp}}
- probe: garbage
  steps:
    - {name: resolve, dns: {name: api.example.test, server: "$GARBAGE"}}
- probe: short-ttl
  steps:
    - name: resolve
      dns: {name: short.example.test, server: "$Z"}
      expect: {dns: {ttl: {min: 60}}}
- probe: slow-budget
  steps:
    - name: resolve
      dns: {name: api.example.test, server: "$SILENT"}
      expect: {budget: {dns: 100ms}}
YAML

rc=0
"$B/tripline" once --json "$WORK/dns.yaml" >"$WORK/out.json" 2>"$WORK/err.txt" || rc=$?
[ "$rc" -eq 1 ] || fail "once exited $rc (expected 1: some probes fail): $(cat "$WORK/err.txt")"
"$PY" - "$WORK/out.json" <<'PY'
import json, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs[r["probe"]] = r
bad = []
want = {
    "records": (True, None, None),
    "servfail": (False, "upstream", "dns_servfail"),
    "nxdomain": (False, "contract", "dns_nxdomain"),
    "silent": (False, "upstream", "timeout"),
    "garbage": (False, "upstream", "broken_response"),
    "short-ttl": (False, "contract", "check"),
    "slow-budget": (False, "upstream", "timeout"),
}
for probe, (ok, bucket, reason) in want.items():
    r = runs.get(probe)
    if r is None:
        bad.append("%s: no result" % probe)
        continue
    if (r["ok"], r["bucket"], r.get("reason")) != (ok, bucket, reason):
        bad.append("%s: ok=%s bucket=%s reason=%s failures=%s" % (probe, r["ok"], r["bucket"], r.get("reason"), r["failures"]))
for s in runs["records"]["steps"]:
    if s.get("kind") != "dns" or not s["ok"] or s["timings"]["dns_ms"] <= 0:
        bad.append("records step %s: %s" % (s["name"], s))
ev = runs["servfail"]["steps"][0]["evidence"]
if ev["response"]["facts"]["rcode"] != "SERVFAIL" or not ev["request"]["url"].startswith("dns://127.0.0.1:"):
    bad.append("servfail evidence: %s" % ev)
ev = runs["short-ttl"]["steps"][0]["evidence"]["response"]
if ev["facts"]["answers"] != [{"name": "short.example.test", "type": "A", "ttl": 5, "data": "10.0.0.9"}]:
    bad.append("short-ttl facts: %s" % ev["facts"])
if "short.example.test. 5 IN A 10.0.0.9" not in ev.get("body_snippet", ""):
    bad.append("short-ttl body: %s" % ev)
if "has TTL 5 s, expected at least 60 s" not in runs["short-ttl"]["failures"][0]:
    bad.append("short-ttl failure: %s" % runs["short-ttl"]["failures"])
if "malformed answer" not in runs["garbage"]["failures"][0]:
    bad.append("garbage failure: %s" % runs["garbage"]["failures"])
if bad:
    sys.exit("\n".join(bad))
PY

# Loader errors name the file, line and column.
cat >"$WORK/broken.yaml" <<'YAML'
- probe: broken
  steps:
    - name: resolve
      dns: {name: api.example.test, type: AAA, server: dns.example}
      expect: {dns: {rcode: NOERORR}}
YAML
rc=0
"$B/tripline" check "$WORK/broken.yaml" >"$WORK/check.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "check of a broken dns step exited $rc: $(cat "$WORK/check.out")"
has "$WORK/check.out" 'broken.yaml:4:43: steps\[0\].dns.type: unknown record type "AAA" (did you mean "AAAA"?)' "no type error"
has "$WORK/check.out" 'broken.yaml:4:56: steps\[0\].dns.server: bad server "dns.example"' "no server error"
has "$WORK/check.out" 'broken.yaml:5:29: steps\[0\].expect.dns.rcode: unknown rcode "NOERORR" (did you mean "NOERROR"?)' "no rcode error"

# The documented example loads and agrees with the JSON Schema.
"$B/tripline" check "$S/probes/examples/kinds/dns.yaml" >"$WORK/example.out" 2>&1 ||
    fail "probes/examples/kinds/dns.yaml does not load: $(cat "$WORK/example.out")"
python3 - "$S" <<'PY'
import json, sys
import jsonschema, yaml
src = sys.argv[1]
v = jsonschema.Draft202012Validator(json.load(open(src + "/packaging/probe.schema.json")))
errors = [e.message for e in v.iter_errors(yaml.safe_load(open(src + "/probes/examples/kinds/dns.yaml")))]
if errors:
    sys.exit("probes/examples/kinds/dns.yaml against the schema: %s" % errors[:3])
PY

# The daemon: a dns step's bucket on /metrics and its reason on /status like any step's.
cat >"$WORK/daemon.yaml" <<YAML
- probe: resolves
  schedule: {every: 2s, timeout: 1s}
  steps:
    - {name: a, dns: {name: api.example.test, server: "$Z"}, expect: {dns: {answers: {contains: 10.0.0.1}}}}
- probe: servfails
  schedule: {every: 2s, timeout: 1s}
  steps:
    - {name: a, dns: {name: api.example.test, server: "$SERVFAIL"}}
YAML
start_agent a --region earth --spool-dir "$WORK/spool" "$WORK/daemon.yaml"
wait_until "two runs of resolves" 60 runs_at_least "$AGENT_URL" resolves 2
wait_until "two runs of servfails" 60 runs_at_least "$AGENT_URL" servfails 2
curl -fsS --noproxy '*' "$AGENT_URL/metrics" >"$WORK/metrics.txt"
has "$WORK/metrics.txt" '^tripline_probe_success{probe="resolves",region="earth"} 1' "resolves is not a success on /metrics" resolves
has "$WORK/metrics.txt" '^tripline_probe_failures_total{probe="servfails",region="earth",bucket="upstream"} [1-9]' "no upstream failures of servfails on /metrics" servfails
has "$WORK/metrics.txt" '^tripline_probe_phase_duration_seconds.*probe="resolves".*phase="dns"' "no dns phase of resolves on /metrics" resolves
status_to "$AGENT_URL" "$WORK/status.json"
"$PY" - "$WORK/status.json" <<'PY'
import json, sys
probes = {p["probe"]: p for p in json.load(open(sys.argv[1]))["probes"]}
text = json.dumps(probes["servfails"])
if "dns_servfail" not in text or "upstream" not in text:
    sys.exit("servfails on /status: %s" % text[:2000])
if "dns_servfail" in json.dumps(probes["resolves"]):
    sys.exit("resolves on /status: %s" % json.dumps(probes["resolves"])[:2000])
PY
stop_agent
echo "dns: ok"
