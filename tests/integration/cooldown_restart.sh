# An action's cooldown goes on across a restart: the throttle runs at the
# first incident; the agent restarts; a second incident inside the cooldown
# skips it (and says so on its timeline) instead of running it again.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture demo_api --port 0)
DEMO=${line#listening on }
fault() { curl -fsS --noproxy '*' -XPOST "$DEMO/_control/fault" -d "$1" >/dev/null; }
has() { [ -f "$1" ] && grep -q "$2" "$1"; }
count() { if [ -f "$1" ]; then grep -c "$2" "$1" || true; else echo 0; fi; }
at_least() { [ "$(count "$1" "$2")" -ge "$3" ]; }

cat >"$WORK/probes.yaml" <<YAML
- probe: api
  schedule: {every: 100ms, timeout: 90ms}
  steps: [{name: health, request: {url: "$DEMO/v1/health"}, expect: {status: 200}}]
  escalation:
    ladder: [{level: warning, when: {consecutive_failures: 2}, actions: [throttle]}]
    resolve: {consecutive_successes: 2}
  actions:
    throttle:
      command: [/bin/sh, -c, 'echo run >>"\$0/throttle.log"', "$WORK"]
      cooldown: 1h
YAML
cat >"$WORK/config.yaml" <<YAML
region: cool
name: edge-cool
spool: {dir: $WORK/spool}
sinks: {file: $WORK/events.jsonl}
YAML

fault '{"mode":"all","status":503}'
start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the throttle" 20 has "$WORK/throttle.log" run
fault '{"mode":"none"}'
wait_until "the first incident resolved" 20 has "$WORK/events.jsonl" '"transition":"resolved"'
stop_agent

fault '{"mode":"all","status":503}'
start_agent b --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the second incident" 20 at_least "$WORK/events.jsonl" '"transition":"opened"' 2
wait_until "the skip logged" 20 has "$WORK/b.log" '"outcome":"skipped"'
stop_agent
[ "$(count "$WORK/throttle.log" run)" = 1 ] || fail "the throttle ran again inside its cooldown after a restart"
grep '"transition":"opened"' "$WORK/events.jsonl" | tail -n1 | grep -q '"outcome":"skipped","detail":"cooldown: last ran' ||
    fail "the second incident's timeline does not show the skip: $(tail -n1 "$WORK/events.jsonl")"
echo "ok: the cooldown went on across a restart"
