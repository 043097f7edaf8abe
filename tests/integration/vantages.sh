# Vantages: one agent runs a probe as if from several regions, each vantage
# pinning api.test to its own address (resolve) or binding its own source
# address (interface); results, /status, /metrics and events carry the
# vantage's region.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

# Two demo APIs on one port at two loopback addresses: .2 healthy, .3 failing.
PORT=
for _ in 1 2 3 4 5; do
    line=$(start_fixture demo_api --listen 127.0.0.2 --port 0)
    p=$(echo "$line" | sed -n 's/.*:\([0-9]*\)$/\1/p')
    if "$B/demo_api" --listen 127.0.0.3 --port "$p" >"$WORK/demo3.out" 2>"$WORK/demo3.err" & then
        PIDS+=($!)
        # 10 s by the clock per port tried, not a count of polls (which a loaded
        # machine stretches); a demo API that exited (port taken) ends it at once
        end=$((SECONDS + 10)) demo3=$!
        while [ "$SECONDS" -lt "$end" ]; do
            [ -s "$WORK/demo3.out" ] && break
            kill -0 "$demo3" 2>/dev/null || break
            sleep 0.1
        done
        if [ -s "$WORK/demo3.out" ]; then PORT=$p; break; fi
    fi
done
[ -n "$PORT" ] || fail "could not start two demo APIs on one port"
# .3 fails everything; .2 fails only clients from 127.0.0.4 (the interface vantage)
curl -fsS -X POST -d '{"mode":"all","status":503}' "http://127.0.0.3:$PORT/_control/fault" >/dev/null
curl -fsS -X POST -d '{"mode":"from","addr":"127.0.0.4"}' "http://127.0.0.2:$PORT/_control/fault" >/dev/null
curl -fsS "http://127.0.0.2:$PORT/v1/health" >/dev/null || fail "demo .2 should be healthy from 127.0.0.1"

cat >"$WORK/agent.yaml" <<YAML
region: home
vantages:
  - {region: eu-west, resolve: ["api.test:$PORT:127.0.0.2"]}
  - region: us-east
    resolve: "api.test:$PORT:127.0.0.3"
  - {region: ap-south, resolve: ["api.test:$PORT:127.0.0.2", "other.test:$PORT:127.0.0.3"], interface: 127.0.0.4}
YAML
cat >"$WORK/probes.yaml" <<YAML
- probe: health
  schedule: {every: 300ms, timeout: 300ms}
  steps: [{name: get, request: {url: "http://api.test:$PORT/v1/health"}, expect: {status: 200}}]
  escalation:
    ladder:
      - {level: warning, when: {consecutive_failures: 2}}
- probe: only-eu
  regions: [eu-west]
  schedule: {every: 300ms, timeout: 300ms}
  steps: [{name: get, request: {url: "http://api.test:$PORT/v1/health"}, expect: {status: 200}}]
- probe: home-only
  regions: [home]
  steps: [{name: get, request: {url: "http://api.test:$PORT/v1/health"}}]
YAML

start_agent a --config "$WORK/agent.yaml" --spool-dir "$WORK/spool" "$WORK/probes.yaml"
# wait until both failing vantages have opened their incidents (the python
# check below says what is missing if they have not in 60 s)
end=$((SECONDS + 60))
while [ "$SECONDS" -lt "$end" ]; do
    [ "$(grep -c '"transition":"opened"' "$WORK/a.out" 2>/dev/null)" -ge 2 ] && break
    sleep 0.1
done
curl -fsS "$AGENT_URL/metrics" >"$WORK/metrics.txt"
curl -fsS "$AGENT_URL/status" >"$WORK/status.json"
stop_agent

python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
st = json.load(open(f"{w}/status.json"))
errors = []
got = {(p["probe"], p["region"]): p for p in st["probes"]}
want = {("health", "eu-west"), ("health", "us-east"), ("health", "ap-south"), ("only-eu", "eu-west")}
if set(got) != want: errors.append(f"scheduled: {sorted(got)}, want {sorted(want)}")
for key, ok in ((("health", "eu-west"), True), (("health", "us-east"), False), (("health", "ap-south"), False),
                (("only-eu", "eu-west"), True)):
    p = got.get(key)
    if not p or not p["last"]: errors.append(f"{key}: no result"); continue
    if p["last"]["ok"] is not ok: errors.append(f"{key}: ok={p['last']['ok']}, want {ok}: {p['last'].get('failures')}")
    if p["last"]["region"] != key[1]: errors.append(f"{key}: result region {p['last']['region']}")
    if p.get("vantage") != key[1] or p["last"].get("vantage") != key[1]: errors.append(f"{key}: vantage {p.get('vantage')}")
for key in (("health", "us-east"), ("health", "ap-south")):
    p = got.get(key)
    if p and p["escalation"]["level"] != "warning": errors.append(f"{key}: escalation {p['escalation']}")
if got.get(("health", "eu-west"), {}).get("escalation", {}).get("level") != "none":
    errors.append(f"eu-west escalation: {got.get(('health', 'eu-west'), {}).get('escalation')}")
m = open(f"{w}/metrics.txt").read()
for needle in ('tripline_probe_success{probe="health",region="eu-west"} 1',
               'tripline_probe_success{probe="health",region="us-east"} 0',
               'tripline_probe_success{probe="health",region="ap-south"} 0',
               'tripline_probe_failures_total{probe="health",region="us-east",bucket="upstream"}',
               'tripline_probe_success{probe="only-eu",region="eu-west"} 1'):
    if needle not in m: errors.append(f"/metrics lacks {needle}")
if any(l.startswith("tripline_probe_") and 'region="home"' in l for l in m.splitlines()):
    errors.append("a probe series is labelled with the agent's own region")
events = [json.loads(l) for l in open(f"{w}/a.out") if l.strip()]
opened = {e["region"] for e in events if e["transition"] == "opened" and e["probe"] == "health"}
if opened != {"us-east", "ap-south"}: errors.append(f"opened events in {opened}")
for e in events:
    if e["region"] not in ("us-east", "ap-south"): errors.append(f"event region {e['region']}")
    if e["region"] not in e["message"]["title"]: errors.append(f"title lacks the region: {e['message']['title']}")
if len({e["incidentId"] for e in events if e["transition"] == "opened"}) != len(opened):
    errors.append("each vantage should have its own incident")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok:", {f"{k[0]}@{k[1]}": v["runs"] for k, v in got.items()}, len(events), "events")
PY
