# A probe folder the agent cannot read at a reload (a permission reset by a
# config-management run, a symlink loop, no descriptor left) is not taken for
# a folder without probes: the files it held last time keep running in their
# last good version, their open incidents stay open (no false "resolved",
# no second page when the folder comes back), and the log says why.
# A symlink loop stands in for the unreadable folder: the tests run as root,
# whom permissions do not stop.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api
mkdir -p "$WORK/probes.d"
cat >"$WORK/probes.d/down.yaml" <<YAML
- probe: down
  schedule: {every: 100ms, timeout: 90ms}
  steps: [{name: get, request: {url: "$DEMO/v1/no-such-path"}, expect: {status: 200}}]
  escalation:
    ladder: [{level: warning, when: {consecutive_failures: 1}}]
    resolve: {consecutive_successes: 1}
YAML
incident_config "$WORK/config.yaml" glob "probes: [probes.d/*.yaml]"
start_agent a --config "$WORK/config.yaml"
wait_until "the incident" 20 has "$WORK/events.jsonl" '"transition":"opened"'

mv "$WORK/probes.d" "$WORK/probes.real"
ln -s probes.d "$WORK/probes.d"
kill -HUP "$AGENT_PID"
wait_until "the reload" 20 has "$WORK/a.log" '"msg":"reloaded probe files"'
runs=$(probe_runs "$AGENT_URL" down)
wait_until "the probe running on" 20 runs_at_least "$AGENT_URL" down $((runs + 3))
has "$WORK/a.log" 'cannot expand probe glob' || fail "the glob error is not logged: $(grep reload "$WORK/a.log")"
has "$WORK/a.log" 'keeping its last good version' || fail "no last good version kept: $(grep reload "$WORK/a.log")"

# the check a reload runs first (ExecReload) refuses the folder too, as `run` does
rc=0
"$B/tripline" check --config "$WORK/config.yaml" >"$WORK/check.out" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "check --config exited $rc with an unreadable probe folder: $(cat "$WORK/check.out")"
has "$WORK/check.out" 'cannot expand probe glob' || fail "check did not say why: $(cat "$WORK/check.out")"

rm "$WORK/probes.d"
mv "$WORK/probes.real" "$WORK/probes.d"
kill -HUP "$AGENT_PID"
wait_until "the second reload" 20 at_least "$WORK/a.log" '"msg":"reloaded probe files"' 2
wait_until "the spool delivered" 20 spool_empty
stop_agent
[ "$(count "$WORK/events.jsonl" '"transition":"resolved"')" -eq 0 ] ||
    fail "the incident was resolved by the unreadable folder: $(grep -o '"resolution":"[a-z_]*"' "$WORK/events.jsonl")"
[ "$(count "$WORK/events.jsonl" '"transition":"opened"')" -eq 1 ] || fail "a second incident opened"
echo "ok: the incident stayed open across a folder that could not be read"
