# A full disk under the spool loses no event: the agent holds what the spool
# refuses in memory, says so (log and tripline_events_unspooled), and spools
# it once space is back; every event it logged reaches the sink. Needs root
# for a small tmpfs; skips with a message otherwise.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root to mount a small tmpfs"; exit 77; fi
SP=$WORK/spool-fs
mkdir -p "$SP"
mount -t tmpfs -o size=1m tmpfs "$SP" || { echo "SKIP: cannot mount tmpfs here"; exit 77; }
trap 'umount -l "$SP" 2>/dev/null; cleanup' EXIT

line=$(start_fixture demo_api --port 0)
D=${line#listening on }
cat >"$WORK/cfg.yaml" <<YAML
spool: {dir: $SP/spool}
sinks: {file: $WORK/events.jsonl}
YAML
: >"$WORK/probes.yaml"
for i in 1 2 3 4; do
    cat >>"$WORK/probes.yaml" <<YAML
- probe: flap-$i
  schedule: {every: 100ms, timeout: 90ms}
  steps: [{name: get, request: {url: "$D/v1/health"}, expect: {status: 200}}]
  escalation:
    ladder: [{level: warning, when: {consecutive_failures: 1}}]
    resolve: {consecutive_successes: 1}
YAML
done
start_agent f --config "$WORK/cfg.yaml" "$WORK/probes.yaml"
flap() { # toggles the demo API between failing and healthy
    while :; do
        curl -fsS -XPOST "$D/_control/fault" -d '{"mode":"all","status":503}' >/dev/null || return
        sleep 0.25
        curl -fsS -XPOST "$D/_control/fault" -d '{"mode":"none"}' >/dev/null || return
        sleep 0.25
    done
}
flap &
FLAP=$!
PIDS+=($FLAP)
events_since() { [ "$(log_count "$WORK/f.log" '"msg":"incident ')" -ge "$1" ]; }
wait_until "incidents flapping" 30 events_since 4
# Fill the spool's filesystem.
dd if=/dev/zero of="$SP/filler" bs=4k 2>/dev/null || true
for _ in $(seq 100); do grep -q "holding it in memory" "$WORK/f.log" && break; sleep 0.1; done
grep -q "holding it in memory" "$WORK/f.log" || fail "the spool never refused an event"
held=$(curl -fsS "$AGENT_URL/metrics" | sed -n 's/^tripline_events_unspooled //p')
# more events while the disk is full
wait_until "four more events" 30 events_since $(($(log_count "$WORK/f.log" '"msg":"incident ') + 4))
kill "$FLAP"; wait "$FLAP" 2>/dev/null || true
curl -fsS -XPOST "$D/_control/fault" -d '{"mode":"none"}' >/dev/null
rm -f "$SP/filler"
for _ in $(seq 100); do grep -q "spooled [0-9]* held events (0 still held)" "$WORK/f.log" && break; sleep 0.1; done
grep -q "spooled [0-9]* held events (0 still held)" "$WORK/f.log" || fail "held events were never spooled: $(tail -5 "$WORK/f.log")"
wait_until "the spool delivered" 30 spool_empty
stop_agent
python3 - "$WORK" "$held" <<'PY'
import json, sys
w, held = sys.argv[1], sys.argv[2]
logged = {json.loads(l)["event"] for l in open(f"{w}/f.log") if l.startswith("{") and '"msg":"incident ' in l}
sunk = {json.loads(l)["eventId"] for l in open(f"{w}/events.jsonl") if l.strip()}
missing = logged - sunk
if not logged or missing or not held or float(held) < 1:
    print(f"logged {len(logged)} events, sink has {len(sunk)}, missing {sorted(missing)[:5]}, held gauge {held}")
    sys.exit(1)
print(f"ok: {len(logged)} events, all delivered; {held} held in memory while the disk was full")
PY
