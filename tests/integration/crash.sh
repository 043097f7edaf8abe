# Crash safety of the event path: the agent is killed with SIGKILL at random
# moments in 20 runs while events flow, and restarted on the same spool; at the
# end every event id it produced reaches the escalation service at least once,
# and the service received no id that was never produced.
#
# Probes flap fast (the target toggled every ~300 ms, open at 1 failure,
# resolve at 1 success), so events are appended, in flight or half-acked at
# every kill. Two sinks read the spool with separate cursors: the service
# fixture and a file sink. "Produced" is what the agent logged as emitted (it
# logs an event after spool_append returned, i.e. once it is on disk) plus what
# reached the file sink (written only from the spool).
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

RUNS=${CRASH_RUNS:-20}
line=$(start_fixture demo_api --port 0)
DEMO=${line#listening on }
printf 'crash-token\n' >"$WORK/token"
printf 'crash-key' >"$WORK/hmac.key"
line=$(start_fixture escalation_service --port 0 --token crash-token --key-file "$WORK/hmac.key" \
    --record "$WORK/service.jsonl" --batches-record "$WORK/batches.jsonl")
SVC=${line#listening on }

# Eight probes on the one target: about 25 events a second, so kills land
# during appends and during deliveries, not only between them.
: >"$WORK/probes.yaml"
for p in $(seq 8); do
    cat >>"$WORK/probes.yaml" <<YAML
- probe: flappy-$p
  schedule: {every: 100ms, timeout: 90ms}
  steps: [{name: health, request: {url: "$DEMO/v1/health"}, expect: {status: 200}}]
  escalation:
    ladder: [{level: warning, when: {consecutive_failures: 1}}]
    resolve: {consecutive_successes: 1}
YAML
done
cat >"$WORK/config.yaml" <<YAML
region: crash-lab
name: edge-crash
spool: {dir: $WORK/spool}
drain_timeout: 60s
sinks:
  file: $WORK/events.jsonl
  service: {url: $SVC/events, token_file: $WORK/token, hmac_key_file: $WORK/hmac.key, timeout: 5s}
YAML

# The flapping target: a background loop toggles the fault every ~300 ms.
(
    while :; do
        curl -fsS --noproxy '*' -XPOST "$DEMO/_control/fault" -d '{"mode":"all","status":503}' >/dev/null || exit 0
        sleep 0.3
        curl -fsS --noproxy '*' -XPOST "$DEMO/_control/fault" -d '{"mode":"none"}' >/dev/null || exit 0
        sleep 0.3
    done
) &
FLAP_PID=$!
PIDS+=($FLAP_PID)

for i in $(seq "$RUNS"); do
    start_agent "run$i" --config "$WORK/config.yaml" "$WORK/probes.yaml"
    # once this run has emitted an event, then 0 to 1.2 s later: a kill that proves something
    wait_until "run $i's first event" 60 grep -q '"msg":"incident ' "$WORK/run$i.log"
    sleep "$(python3 -c 'import random; print(round(random.uniform(0, 1.2), 3))')"
    kill -KILL "$AGENT_PID"
    rc=0
    wait "$AGENT_PID" 2>/dev/null || rc=$?
    [ "$rc" = 137 ] || fail "run $i: the agent exited $rc before the kill: $(tail -5 "$WORK/run$i.log")"
done

kill "$FLAP_PID"
wait "$FLAP_PID" 2>/dev/null || true
curl -fsS --noproxy '*' -XPOST "$DEMO/_control/fault" -d '{"mode":"none"}' >/dev/null
start_agent final --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the spool delivered" 60 spool_empty
stop_agent
grep -q '"msg":"drained: stopping"' "$WORK/final.log" || fail "the final run did not drain: $(tail -5 "$WORK/final.log")"

python3 - "$WORK" "$RUNS" <<'PY' || fail "events lost or invented across kills"
import glob, json, re, sys
w, runs = sys.argv[1], int(sys.argv[2])
logged, runs_with_events = set(), 0
for path in glob.glob(f"{w}/run*.log") + [f"{w}/final.log"]:
    ids = set()
    for line in open(path, errors="replace"):
        if '"msg":"incident ' not in line:
            continue
        try:
            ids.add(json.loads(line)["event"])
        except ValueError:
            pass  # a line torn by the kill
    logged |= ids
    if ids and "final" not in path:
        runs_with_events += 1
    if "cannot spool" in open(path, errors="replace").read():
        sys.exit(f"{path}: an event could not be spooled")
filed = {json.loads(l)["eventId"] for l in open(f"{w}/events.jsonl")}
recs = [json.loads(l) for l in open(f"{w}/service.jsonl")]
got = {e["eventId"] for e in recs}
produced = logged | filed
errors = []
if runs_with_events < runs // 2:
    errors.append(f"only {runs_with_events} of {runs} runs emitted events: the kills proved little")
if len(logged) < runs:
    errors.append(f"only {len(logged)} events logged")
if produced - got:
    errors.append(f"{len(produced - got)} produced events never reached the service: {sorted(produced - got)[:5]}")
if got - produced:
    errors.append(f"the service received {len(got - produced)} ids never produced: {sorted(got - produced)[:5]}")
if filed != got:
    errors.append(f"the file sink and the service differ: {len(filed ^ got)} ids")
if errors:
    print("\n".join(errors)); sys.exit(1)
print(f"ok: {len(produced)} events over {runs} kills ({runs_with_events} runs emitted some), "
      f"{len(recs) - len(got)} duplicates delivered, all {len(got)} at the service")
PY

python3 "$S/tests/lib/check_schema.py" "$S/docs/events.schema.json" --min "$RUNS" \
    --events "$WORK/service.jsonl" --events "$WORK/events.jsonl" --batches "$WORK/batches.jsonl" ||
    fail "events do not match docs/events.schema.json"
