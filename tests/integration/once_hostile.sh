# Hostile servers: each ends in a classified failure within its deadline,
# with bounded memory, and never crashes the agent (this runs under ASan).
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP

probe() { # id path expect-json?
    local json=""
    [ -n "${3:-}" ] && json=", json: [{path: \"$3\", exists: true}]"
    cat <<YAML
- probe: $1
  schedule: {every: 1m, timeout: 3s}
  steps:
    - name: get
      request: {url: "$H$2"}
      expect: {status: 200$json}
YAML
}
{
    probe drip /drip
    probe slow-headers /slow-headers
    probe endless /endless
    probe bad-chunk /bad-chunk
    probe reset /reset
    probe invalid-json /invalid-json '$.a'
    probe big-json /big-json '$.a'
    probe deep-json /deep-json '$[0]'
    probe gzip-bomb /gzip-bomb
    probe endless-trailers /endless-trailers
} >"$WORK/hostile.yaml"

python3 - "$B/tripline" "$WORK/hostile.yaml" <<'PY'
import json, resource, subprocess, sys, time
t0 = time.monotonic()
p = subprocess.run([sys.argv[1], "once", "--json", sys.argv[2]], capture_output=True, text=True, timeout=60)
elapsed = time.monotonic() - t0
rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
errors = []
if p.returncode != 1:
    errors.append(f"exit {p.returncode}, expected 1; stderr: {p.stderr[-2000:]}")
runs = {}
for line in p.stdout.splitlines():
    r = json.loads(line)
    runs[r["probe"]] = r
want = {
    "drip": "upstream", "slow-headers": "upstream", "endless": "contract", "bad-chunk": "upstream",
    "reset": "upstream", "invalid-json": "contract", "big-json": "contract", "deep-json": "contract",
    "gzip-bomb": "contract", "endless-trailers": "upstream",
}
for probe, bucket in want.items():
    r = runs.get(probe)
    if not r:
        errors.append(f"{probe}: no result"); continue
    if r["ok"] or r["bucket"] != bucket:
        errors.append(f"{probe}: ok={r['ok']} bucket={r['bucket']} (want {bucket}) failures={r['steps'][0]['failures']}")
    if r["duration_ms"] > 3000 + 1500:
        errors.append(f"{probe}: took {r['duration_ms']} ms past its 3s deadline")
for probe in ("endless", "big-json", "gzip-bomb", "endless-trailers"):
    f = " ".join(runs.get(probe, {}).get("steps", [{}])[0].get("failures", []))
    if "larger than" not in f:
        errors.append(f"{probe}: the body cap is not the stated reason: {f}")
# The cap bounds memory: an endless body over loopback would be gigabytes by now.
if rss_mb > 400:
    errors.append(f"max RSS {rss_mb:.0f} MiB (ASan included) is not bounded")
if errors:
    print("\n".join(errors)); sys.exit(1)
print(f"ok: {len(runs)} hostile runs in {elapsed:.1f}s, max RSS {rss_mb:.0f} MiB")
PY
