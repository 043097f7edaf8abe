# Incidents and their mitigations across restarts and reloads: for each of
# {SIGKILL, SIGTERM restart, SIGHUP with the probe changed, SIGHUP with the
# probe removed} x {the API recovers while the agent is down, the API still
# fails}, with a throttle command action and its rollback, the escalation
# service fixture and the real Alertmanager as sinks:
# - every incident opened is resolved exactly once, under the id it opened
#   with (a restart resumes it; a reload resolves it with probe_changed or
#   probe_removed) and renotified at once after a restart (Alertmanager
#   fires it again whatever the downtime);
# - the throttle ran once and its rollback once per incident;
# - every event the agent spooled reached the service;
# - Alertmanager holds no active alert of ours at the end.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

AM=/usr/bin/prometheus-alertmanager
[ -x "$AM" ] || fail "$AM is missing (Debian package prometheus-alertmanager)"

start_demo_api
printf 'matrix-token\n' >"$WORK/token"
printf 'matrix-key' >"$WORK/hmac.key"
line=$(start_fixture escalation_service --port 0 --token matrix-token --key-file "$WORK/hmac.key" \
    --record "$WORK/service.jsonl")
SVC=${line#listening on }
: >"$WORK/service.jsonl"
: >"$WORK/throttle.log"

AM_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
cat >"$WORK/alertmanager.yml" <<YAML
route: {receiver: none, group_wait: 1s, group_interval: 1s, repeat_interval: 1h}
receivers: [{name: none}]
YAML
mkdir -p "$WORK/am-data"
"$AM" --config.file="$WORK/alertmanager.yml" --storage.path="$WORK/am-data" \
    --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= >"$WORK/am.log" 2>&1 &
PIDS+=($!)

am_ready() { curl -sf --noproxy '*' "http://127.0.0.1:$AM_PORT/-/ready" >/dev/null; }
wait_until "alertmanager ready" 30 am_ready

# probes ID FILE TIMEOUT_MS: one probe of the health endpoint with the throttle.
probes() {
    incident_probe "$2" "$1" "$3" <<YAML
    throttle:
      command: [/bin/sh, -c, 'echo "run \$TRIPLINE_PROBE \$TRIPLINE_INCIDENT_ID" >>"\$0"', "$WORK/throttle.log"]
      rollback:
        command: [/bin/sh, -c, 'echo "rollback \$TRIPLINE_PROBE \$TRIPLINE_INCIDENT_ID" >>"\$0"', "$WORK/throttle.log"]
YAML
}

# An unrelated healthy probe: what a file holds once the throttled one is removed.
other_probe() {
    cat >"$2" <<YAML
- probe: $1
  schedule: {every: 100ms, timeout: 90ms}
  steps: [{name: stats, request: {url: "$SVC/_stats"}, expect: {status: 200}}]
YAML
}

config() {
    incident_config "$WORK/config-$1.yaml" matrix "spool: {dir: $WORK/spool-$1}
drain_timeout: 20s
sinks:
  file: $WORK/events-$1.jsonl
  service: {url: $SVC/events, token_file: $WORK/token, hmac_key_file: $WORK/hmac.key, timeout: 2s}
  alertmanager: {urls: [\"http://127.0.0.1:$AM_PORT\"]}"
}

# the last completed run of probe $1 passed (per the agent's /status)
last_passed() {
    curl -fsS --noproxy '*' "$AGENT_URL/status" | python3 -c '
import json, sys
p = [p for p in json.load(sys.stdin)["probes"] if p["probe"] == sys.argv[1]]
sys.exit(0 if p and (p[0].get("last") or {}).get("ok") else 1)' "$1"
}

# every incident of probe $1 the service saw opened has been resolved there
all_resolved() {
    python3 - "$WORK/service.jsonl" "$1" <<'PY'
import json, sys
opened, resolved = set(), set()
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("probe") != sys.argv[2]:
        continue
    (opened if e["transition"] == "opened" else resolved if e["transition"] == "resolved" else set()).add(e["incidentId"])
sys.exit(0 if opened and opened <= resolved else 1)
PY
}

# scenario I MODE RECOVER: MODE kill|term|changed|removed, RECOVER yes|no.
scenario() {
    local i=$1 mode=$2 recover=$3 probe=api-$1
    local files=$WORK/probes-$i.yaml
    config "$i"
    probes "$probe" "$files" 90
    fail_api
    start_agent "s$i-a" --config "$WORK/config-$i.yaml" "$files"
    wait_until "$probe: opened" 20 has "$WORK/events-$i.jsonl" '"transition":"opened"'
    wait_until "$probe: throttle" 20 has "$WORK/throttle.log" "^run $probe "
    # its outcome kept: a crash before that would (rightly) run it again
    wait_until "$probe: throttle outcome kept" 20 has "$WORK/spool-$i/incidents.json" '"running":\[\]'
    case $mode in
    kill) kill_agent ;;
    term) stop_agent ;;
    changed) probes "$probe" "$files" 80 ;;
    removed) other_probe "other-$i" "$files" ;;
    esac
    [ "$recover" = yes ] && heal_api
    case $mode in
    kill | term)
        start_agent "s$i-b" --config "$WORK/config-$i.yaml" "$files"
        wait_until "$probe: resumed" 20 has "$WORK/s$i-b.log" '"msg":"resumed an open incident"'
        # still failing: the resumed incident goes on, no second one opens
        [ "$recover" = yes ] || wait_until "$probe: a failed run after the restart" 20 has "$WORK/s$i-b.log" '"ok":false' ;;
    *)
        kill -HUP "$AGENT_PID"
        wait_until "$probe: resolved by the reload" 20 has "$WORK/events-$i.jsonl" "\"resolution\":\"probe_$mode\"" ;;
    esac
    heal_api
    # With recover=no the probe was failing until the heal just above. A run already in flight
    # at the heal may still fail and open a new incident (after a reload the changed probe is a
    # new one); runs of a probe never overlap, so once its last completed run has passed,
    # whatever opened has been emitted, and "all resolved" below cannot hold early. Read from
    # /status, not the log: a changed probe whose first run comes after the heal passes without
    # ever logging "probe recovered" (nothing to recover from).
    if [ "$recover" = no ] && [ "$mode" != removed ]; then
        wait_until "$probe: a passing run after the heal" 30 last_passed "$probe"
    fi
    wait_until "$probe: every incident resolved at the service" 30 all_resolved "$probe"
    wait_until "$probe: rollbacks" 20 has "$WORK/throttle.log" "^rollback $probe "
    # the process that rolled back logged and counted it
    wait_until "$probe: rollback counted" 10 action_counted "$probe" throttle rollback ok '[1-9]'
    stop_agent
    echo "$i $mode $recover" >>"$WORK/matrix.txt"
}

i=0
for mode in ${MATRIX_MODES:-kill term changed removed}; do
    for recover in ${MATRIX_RECOVER:-yes no}; do
        i=$((i + 1))
        scenario "$i" "$mode" "$recover"
    done
done

python3 - "$WORK" <<'PY' || fail "the receivers' view is not the truth"
import collections, glob, json, sys
w = sys.argv[1]
events = {}
for l in open(f"{w}/service.jsonl"):
    e = json.loads(l)
    events[e["eventId"]] = e  # the receiver dedups by eventId
errors = []
for path in glob.glob(f"{w}/events-*.jsonl"):
    for l in open(path):
        if json.loads(l)["eventId"] not in events:
            errors.append(f"{path}: event {json.loads(l)['eventId']} never reached the service")
runs = collections.Counter(tuple(l.split()) for l in open(f"{w}/throttle.log"))
for line in open(f"{w}/matrix.txt"):
    i, mode, recover = line.split()
    probe = f"api-{i}"
    inc = collections.defaultdict(list)
    for e in events.values():
        if e["probe"] == probe:
            inc[e["incidentId"]].append(e)
    first = min(inc, key=lambda k: min(e["dateTime"] for e in inc[k])) if inc else None
    for iid, evs in inc.items():
        kinds = collections.Counter(e["transition"] for e in evs)
        if kinds["opened"] != 1 or kinds["resolved"] != 1:
            errors.append(f"{mode}/{recover}: incident {iid}: {dict(kinds)}")
        if runs[("run", probe, iid)] != 1 or runs[("rollback", probe, iid)] != 1:
            errors.append(f"{mode}/{recover}: incident {iid}: throttle ran {runs[('run', probe, iid)]}, "
                          f"rolled back {runs[('rollback', probe, iid)]}")
    if mode in ("kill", "term") and len(inc) != 1:
        errors.append(f"{mode}/{recover}: {len(inc)} incidents instead of one resumed")
    if mode in ("kill", "term") and not any(e["transition"] == "renotified" for e in inc.get(first, [])):
        errors.append(f"{mode}/{recover}: the resumed incident was not renotified at the start")
    want = {"kill": "recovered", "term": "recovered", "changed": "probe_changed", "removed": "probe_removed"}[mode]
    got = [e.get("resolution") for e in inc.get(first, []) if e["transition"] == "resolved"]
    if got != [want]:
        errors.append(f"{mode}/{recover}: first incident resolved as {got}, expected {want}")
if errors:
    print("\n".join(errors)); sys.exit(1)
print(f"ok: {len(events)} events, {sum(runs.values())} throttle runs and rollbacks")
PY

am_quiet() {
    curl -sf --noproxy '*' "http://127.0.0.1:$AM_PORT/api/v2/alerts?active=true" |
        python3 -c 'import json,sys; sys.exit(1 if [a for a in json.load(sys.stdin) if a["labels"].get("probe","").startswith("api-")] else 0)'
}
wait_until "Alertmanager to hold no alert of ours" 30 am_quiet
python3 "$S/tests/lib/check_schema.py" "$S/docs/events.schema.json" --events "$WORK/service.jsonl" ||
    fail "events do not match docs/events.schema.json"
echo "ok: crash matrix"
