# Renotification comes from the agent's once-a-second tick, not from runs:
# an open incident under `renotify: 1s` is repeated between the probe's runs,
# again after a restart resumes it, and never once it has resolved. The tick
# visits only the probes with something time-driven (agent_run.c); this is
# what says the set holds the right ones.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api
cat >"$WORK/probes.yaml" <<YAML
- probe: loud
  schedule: {every: 2s, timeout: 1s}
  steps: [{name: health, request: {url: "$DEMO/v1/health"}, expect: {status: 200}}]
  escalation:
    ladder: [{level: critical, when: {consecutive_failures: 1}}]
    renotify: 1s
- probe: quiet
  schedule: {every: 2s, timeout: 1s}
  steps: [{name: health, request: {url: "$DEMO/v1/health"}, expect: {status: 200}}]
  escalation:
    ladder: [{level: critical, when: {consecutive_failures: 1}}]
YAML
incident_config "$WORK/config.yaml" renotify
EV=$WORK/events.jsonl
# the event's "transition" comes before its "probe" (agent/incident/event.c)
LOUD_RENOTIFIED='"transition":"renotified".*"probe":"loud"'

fail_api
start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "loud renotified 3 times" 30 at_least "$EV" "$LOUD_RENOTIFIED" 3
has "$EV" '"transition":"opened".*"probe":"quiet"' || fail "quiet never opened: $(cat "$EV")"
has "$EV" '"transition":"renotified".*"probe":"quiet"' && fail "quiet renotified without renotify"
stop_agent
echo "ok: an open incident is renotified by the tick; a policy without renotify is not"

# A restart resumes the incident: one renotification at once, the tick's after.
before=$(count "$EV" "$LOUD_RENOTIFIED")
start_agent b --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "loud renotified 3 times after the restart" 30 at_least "$EV" "$LOUD_RENOTIFIED" $((before + 3))
echo "ok: the resumed incident is renotified by the tick"

# Resolved: the probe leaves the tick set, nothing is repeated any more.
heal_api
wait_until "loud resolved" 30 has "$EV" '"transition":"resolved".*"probe":"loud"'
before=$(count "$EV" "$LOUD_RENOTIFIED")
runs=$(probe_runs "$AGENT_URL" loud)
wait_until "three more runs of loud" 30 runs_at_least "$AGENT_URL" loud $((runs + 3))
after=$(count "$EV" "$LOUD_RENOTIFIED")
[ "$after" -eq "$before" ] || fail "renotified after it resolved ($before, then $after)"
stop_agent
echo "ok: a resolved incident is not renotified"
