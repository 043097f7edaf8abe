# Several regions, end to end. Three region namespaces (eu-west, us-east,
# ap-south), each joined by a veth pair to a core namespace that holds the
# demo API, the fixture escalation service and a real Alertmanager. One agent
# per region runs the same probe file with the service and Alertmanager sinks.
#   (a) the API fails only for eu-west's address: incidents from eu-west only,
#       then resolved when the fault clears;
#   (b) the API fails for everyone: incidents from all three regions, which
#       Alertmanager groups by probe into one notification; then all resolved.
# Needs root (network namespaces).
# Exit 77 is ctest's "skipped" (SKIP_RETURN_CODE): a skip is shown as one, never as a pass.
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: regions.sh needs root to build network namespaces"
    exit 77
fi
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"
# Everything here talks to addresses inside the namespaces: never a proxy.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

AM=/usr/bin/prometheus-alertmanager
[ -x "$AM" ] || fail "$AM is missing (Debian package prometheus-alertmanager)"

# Unique names per run, short enough for interface names (15 bytes).
ID=$$
CORE=tlcore$ID
REGIONS=(eu-west us-east ap-south)
SHORT=(eu us ap)
NETNS=()
teardown() {
    cleanup
    for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap teardown EXIT

# A chroot (a fresh root filesystem without its own mount namespace) cannot
# create network namespaces: "mount --make-rslave /" fails. That is the
# environment, not the product: skip, loudly.
# Probe first with a namespace of its own, inside a throwaway mount namespace
# (unshare -m, private): a failed attempt must not leave /run/netns mounted
# behind, which would keep a chroot's folder busy after the test.
PROBE_NS=tlprobe$ID
if ! unshare -m sh -c 'ip netns add "$1" && ip netns exec "$1" true; rc=$?; ip netns del "$1" 2>/dev/null; exit $rc' \
        probe "$PROBE_NS" >"$WORK/netns.err" 2>&1; then
    if grep -q "make-rslave\|Operation not permitted\|Invalid argument\|Permission denied" "$WORK/netns.err"; then
        echo "SKIP: this system cannot create network namespaces ($(head -1 "$WORK/netns.err"))"
        exit 77
    fi
    fail "ip netns add failed: $(cat "$WORK/netns.err")"
fi
ip netns add "$CORE" || fail "ip netns add $CORE failed"
NETNS+=("$CORE")
ip -n "$CORE" link set lo up
# The core's own address, on its loopback: the same URL from every region.
ip -n "$CORE" addr add 10.77.0.1/32 dev lo
for k in 0 1 2; do
    n=$((k + 1))
    ns=tl${SHORT[$k]}$ID
    ip netns add "$ns"
    NETNS+=("$ns")
    ip -n "$ns" link set lo up
    ip link add "tc$n$ID" netns "$CORE" type veth peer name "tr$n$ID" netns "$ns"
    ip -n "$CORE" addr add "10.77.$n.1/24" dev "tc$n$ID"
    ip -n "$CORE" link set "tc$n$ID" up
    ip -n "$ns" addr add "10.77.$n.2/24" dev "tr$n$ID"
    ip -n "$ns" link set "tr$n$ID" up
    ip -n "$ns" route add default via "10.77.$n.1"
done
core() { ip netns exec "$CORE" "$@"; }

# start_in NS NAME CMD...: runs CMD in namespace NS, waits for its first line.
start_in() {
    local ns=$1 name=$2; shift 2
    ip netns exec "$ns" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PIDS+=($!)
    echo $! >>"$WORK/.pids" # called inside $(...): cleanup reads the file
    # bounded by the clock, not by a count of polls: a loaded machine starts slowly
    local end=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$end" ]; do
        [ -s "$WORK/$name.out" ] && { head -n1 "$WORK/$name.out"; return 0; }
        sleep 0.1
    done
    fail "$name did not start in 60 s: $(cat "$WORK/$name.err")"
}

# The core: the demo API on every address, the escalation service (it binds
# loopback only, so a relay exposes it on the core address) and Alertmanager.
line=$(start_in "$CORE" demo_api "$B/demo_api" --listen 0.0.0.0 --port 0)
API_PORT=${line##*:}
API=http://10.77.0.1:$API_PORT
line=$(start_in "$CORE" escalation_service "$B/escalation_service" --port 0 \
    --record "$WORK/events.jsonl" --am-record "$WORK/webhooks.jsonl")
FX_PORT=${line##*:}
cat >"$WORK/relay.py" <<'PY'
import asyncio, sys
listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
async def pipe(r, w):
    try:
        while (data := await r.read(65536)):
            w.write(data)
            await w.drain()
    finally:
        w.close()
async def handle(r, w):
    tr, tw = await asyncio.open_connection("127.0.0.1", target_port)
    await asyncio.gather(pipe(r, tw), pipe(tr, w), return_exceptions=True)
async def main():
    server = await asyncio.start_server(handle, "10.77.0.1", listen_port)
    print("relaying", flush=True)
    await server.serve_forever()
asyncio.run(main())
PY
start_in "$CORE" relay python3 "$WORK/relay.py" 8081 "$FX_PORT" >/dev/null
cat >"$WORK/alertmanager.yml" <<YAML
global:
  resolve_timeout: 5m
route:
  receiver: fixture
  group_by: [alertname, probe]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: fixture
    webhook_configs:
      - url: http://127.0.0.1:$FX_PORT/alertmanager
        send_resolved: true
YAML
mkdir -p "$WORK/am-data"
# not through core(): a function would put a subshell between $! and Alertmanager
ip netns exec "$CORE" "$AM" --config.file="$WORK/alertmanager.yml" --storage.path="$WORK/am-data" \
    --web.listen-address=0.0.0.0:9093 --cluster.listen-address= >"$WORK/am.log" 2>&1 &
PIDS+=($!)
ready=0
end=$((SECONDS + 60))
while [ "$SECONDS" -lt "$end" ]; do
    if core curl -sf "http://127.0.0.1:9093/-/ready" >/dev/null; then ready=1; break; fi
    sleep 0.2
done
[ "$ready" = 1 ] || fail "alertmanager did not become ready in 60 s: $(tail -5 "$WORK/am.log")"

# The same probe file for every region.
cat >"$WORK/probes.yaml" <<YAML
- probe: health
  schedule: {every: 300ms, timeout: 250ms}
  steps: [{name: get, request: {url: "$API/v1/health"}, expect: {status: 200}}]
  escalation:
    ladder:
      - {level: warning, when: {consecutive_failures: 2}}
    resolve: {consecutive_successes: 2}
YAML

AGENT_PIDS=()
AGENT_PORTS=()
for k in 0 1 2; do
    region=${REGIONS[$k]}
    ns=tl${SHORT[$k]}$ID
    cat >"$WORK/agent-${SHORT[$k]}.yaml" <<YAML
region: $region
name: agent-${SHORT[$k]}
listen: 127.0.0.1:0
spool: {dir: $WORK/spool-${SHORT[$k]}}
sinks:
  service: {url: "http://10.77.0.1:8081/events", timeout: 5s}
  alertmanager: {urls: ["http://10.77.0.1:9093"], repost: 60s}
YAML
    log=$WORK/agent-${SHORT[$k]}.log
    # made here, not by the background job's redirection: on a loaded machine the
    # job may not have opened it yet when the wait below first reads it
    : >"$log"
    ip netns exec "$ns" "$B/tripline" run --config "$WORK/agent-${SHORT[$k]}.yaml" \
        "$WORK/probes.yaml" >"$WORK/agent-${SHORT[$k]}.out" 2>"$log" &
    pid=$!
    PIDS+=($pid)
    AGENT_PIDS+=($pid)
    port=
    end=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$end" ]; do
        port=$(sed -n 's/.*"msg":"tripline started".*"port":\([0-9]*\).*/\1/p' "$log" | head -n1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || fail "agent $region exited: $(cat "$log")"
        sleep 0.1
    done
    [ -n "$port" ] || fail "agent $region did not start in 60 s: $(cat "$log")"
    AGENT_PORTS+=("$port")
done

# runs K: the probe's run count on agent K (its /status, inside its namespace).
runs() {
    ip netns exec "tl${SHORT[$1]}$ID" curl -fsS "http://127.0.0.1:${AGENT_PORTS[$1]}/status" |
        python3 -c 'import json,sys; print(sum(p["runs"] for p in json.load(sys.stdin)["probes"] if p["probe"]=="health"))'
}
fault() {
    core curl -fsS -XPOST "http://127.0.0.1:$API_PORT/_control/fault" -d "$1" >/dev/null ||
        fail "cannot set the fault $1"
}
# lines FILE: how many records FILE holds (scenarios look only past a mark).
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }

cat >"$WORK/check.py" <<'PY'
# check.py WORK WHAT EV_MARK AM_MARK REGION...: exit 0 when WHAT holds for
# the records past the marks.
import json, sys
work, what, ev_mark, am_mark = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
regions = set(sys.argv[5:])
def records(name, mark):
    try:
        return [json.loads(l) for l in open(f"{work}/{name}").read().splitlines()[mark:] if l.strip()]
    except FileNotFoundError:
        return []
events = [e for e in records("events.jsonl", ev_mark) if e.get("probe") == "health"]
notes = [n for n in records("webhooks.jsonl", am_mark) if n.get("groupLabels", {}).get("probe") == "health"]
def event_regions(transition):
    return {e["region"] for e in events if e["transition"] == transition}
def alert_regions(status):
    # one notification (one group) holding alerts of these regions in that status
    return [{a["labels"].get("region") for a in n["alerts"] if a["status"] == status} for n in notes]
if what == "opened":
    ok = event_regions("opened") == regions
elif what == "resolved":
    ok = event_regions("resolved") == regions
elif what == "am-firing":
    ok = any(r == regions for r in alert_regions("firing"))
elif what == "am-resolved":
    # Alertmanager flushes a group once a second and may report the three
    # resolutions across two notifications: each region's latest status counts
    last = {}
    for n in notes:
        for a in n["alerts"]:
            last[a["labels"].get("region")] = a["status"]
    ok = all(last.get(r) == "resolved" for r in regions)
elif what == "quiet":
    # no event and no alert of these regions at all
    ok = not ({e["region"] for e in events} & regions) and \
         not any(a["labels"].get("region") in regions for n in notes for a in n["alerts"])
elif what == "grouped":
    # every notification of this probe is one group: group labels are
    # alertname and probe only, never the region
    ok = bool(notes) and all(set(n["groupLabels"]) == {"alertname", "probe"} for n in notes)
else:
    sys.exit(f"unknown check {what}")
sys.exit(0 if ok else 1)
PY
# expect WHAT REGION...: waits (generously: 60 s by the clock) until check.py says yes.
expect() {
    local what=$1; shift
    local end=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$end" ]; do
        python3 "$WORK/check.py" "$WORK" "$what" "$EV_MARK" "$AM_MARK" "$@" && return 0
        sleep 0.2
    done
    fail "$what $*: not seen in 60 s. events: $(tail -n +$((EV_MARK + 1)) "$WORK/events.jsonl" 2>/dev/null | cut -c1-300)
webhooks: $(tail -n +$((AM_MARK + 1)) "$WORK/webhooks.jsonl" 2>/dev/null | cut -c1-600)"
}
now_holds() {
    python3 "$WORK/check.py" "$WORK" "$@" || fail "$*: does not hold"
}

# Healthy everywhere first: every agent runs the probe, nobody opens anything.
for k in 0 1 2; do
    end=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$end" ]; do [ "$(runs $k)" -ge 3 ] && break; sleep 0.1; done
    [ "$(runs $k)" -ge 3 ] || fail "agent ${REGIONS[$k]} does not run the probe"
done
EV_MARK=0 AM_MARK=0
now_holds quiet 0 0 eu-west us-east ap-south

# (a) A fault only for eu-west's address.
fault '{"mode":"from","addr":"10.77.1.2","status":503}'
expect opened eu-west
expect am-firing eu-west
# The other regions kept running through the fault and stayed quiet.
before_us=$(runs 1) before_ap=$(runs 2)
end=$((SECONDS + 60))
while [ "$SECONDS" -lt "$end" ]; do
    [ "$(runs 1)" -ge $((before_us + 4)) ] && [ "$(runs 2)" -ge $((before_ap + 4)) ] && break
    sleep 0.1
done
[ "$(runs 1)" -ge $((before_us + 4)) ] || fail "us-east stopped running"
now_holds quiet 0 0 us-east ap-south
fault '{"mode":"none"}'
expect resolved eu-west
expect am-resolved eu-west
now_holds quiet 0 0 us-east ap-south
echo "ok: (a) a fault for eu-west only: an incident from eu-west alone, then resolved"

# (b) A fault for everyone: one Alertmanager group holds all three regions.
EV_MARK=$(lines "$WORK/events.jsonl") AM_MARK=$(lines "$WORK/webhooks.jsonl")
fault '{"mode":"all","status":503}'
expect opened eu-west us-east ap-south
expect am-firing eu-west us-east ap-south
fault '{"mode":"none"}'
expect resolved eu-west us-east ap-south
expect am-resolved eu-west us-east ap-south
now_holds grouped 0 0
echo "ok: (b) a fault for all: incidents from three regions, grouped by probe, then resolved"

# Every event went through each agent's service sink exactly as sent: one
# incident per region and scenario, no event lost on the way.
python3 - "$WORK" <<'PY'
import json, sys
events = [json.loads(l) for l in open(f"{sys.argv[1]}/events.jsonl") if l.strip()]
errors = []
by_region = {}
for e in events:
    by_region.setdefault(e["region"], []).append(e)
want = {"eu-west": ["opened", "resolved", "opened", "resolved"],
        "us-east": ["opened", "resolved"], "ap-south": ["opened", "resolved"]}
for region, transitions in want.items():
    got = [e["transition"] for e in by_region.get(region, [])]
    if got != transitions: errors.append(f"{region}: {got}, want {transitions}")
    if region in by_region and {e["agent"] for e in by_region[region]} != {"agent-" + region[:2]}:
        errors.append(f"{region}: agents {[e['agent'] for e in by_region[region]]}")
if errors:
    print("\n".join(errors)); sys.exit(1)
PY

for pid in "${AGENT_PIDS[@]}"; do
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ] || fail "agent exited $rc after SIGTERM: $(tail -5 "$WORK"/agent-*.log)"
done
echo "ok: three regions end to end"
