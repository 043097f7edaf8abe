#!/usr/bin/env bash
# POST /peer/run takes a slot from the same limiter as scheduled runs: with
# limits.concurrency 1, four peer runs of a 1 s probe sent at once end one
# after another (the last after ~4 s), never all together after ~1 s.
set -euo pipefail
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
printf 'shared peer key' >"$WORK/peer.key"
cat >"$WORK/probes.yaml" <<YAML
- probe: slow
  schedule: {every: 1h, timeout: 5s}
  steps: [{name: get, request: {url: "http://127.0.0.1:$HTTP/delay?ms=1000"}, expect: {status: 200}}]
YAML
cat >"$WORK/agent.yaml" <<YAML
region: b
name: agent-b
limits: {concurrency: 1, per_host: 8}
peers: {key_file: $WORK/peer.key, timeout: 10s, urls: ["http://127.0.0.1:1"]}
YAML
start_agent b --config "$WORK/agent.yaml" --spool-dir "$WORK/spool" "$WORK/probes.yaml"

python3 - "$WORK" "$AGENT_URL" <<'PY' || fail "peer runs passed limits.concurrency"
import hashlib, hmac, json, sys, threading, time, urllib.request
w, base = sys.argv[1], sys.argv[2]
key = open(f"{w}/peer.key", "rb").read()
done = []
def run(i):
    body = json.dumps({"probe": "slow", "ts": int(time.time()), "nonce": f"n-{i}"}).encode()
    req = urllib.request.Request(base + "/peer/run", data=body, method="POST")
    req.add_header("X-Tripline-Signature", "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest())
    with urllib.request.urlopen(req, timeout=30) as r:
        done.append((time.monotonic(), r.status))
t0 = time.monotonic()
threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
for t in threads: t.start()
for t in threads: t.join()
if len(done) != 4 or any(s != 200 for _, s in done): sys.exit(f"answers: {done}")
ends = sorted(t - t0 for t, _ in done)
print("peer runs ended after", ", ".join(f"{e:.2f}s" for e in ends))
if ends[-1] < 3.5: sys.exit(f"four 1 s runs with concurrency 1 all ended within {ends[-1]:.2f}s")
PY
stop_agent
echo "ok: peer runs wait for a slot"
