# A rollback owed by a probe a reload removed survives a crash: its
# definition is kept with it in incidents.json, so the next start can still
# undo the mitigation although no probe file holds the probe any more.
# 1. the throttle sets a flag file; a reload removes the probe: its incident
#    resolves (probe_removed) and the rollback starts (it waits for
#    $WORK/go); the agent is killed (kill -9) while it runs;
# 2. incidents.json keeps the rollback's command and timeout with it
#    (tests/test_action_def.c: templates are kept as written, env. values
#    never);
# 3. the next start kills the orphan, runs the rollback from the kept
#    definition (the log says so), and the flag file is removed;
# 4. the same with the probe removed while the agent was down, and
# 5. with the probe changed while it was down so that the action is gone.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api

cat >"$WORK/rollback.sh" <<'SH'
echo "start $$" >>"$1/rb.log"
while [ ! -e "$1/go" ] && [ -d "$1" ]; do sleep 0.05; done # gone with the test
rm -f "$1/throttled"
echo "ok $TRIPLINE_PROBE $TRIPLINE_TRANSITION" >>"$1/rb.log"
SH
incident_probe "$WORK/probes.yaml" <<YAML
    throttle:
      command: [/bin/sh, -c, 'touch "\$0/throttled"', "$WORK"]
      timeout: 60s
      rollback:
        command: [/bin/sh, "$WORK/rollback.sh", "$WORK"]
YAML
# the file once the probe is removed: another, healthy probe
other_probe() {
    cat >"$1" <<YAML
- probe: other
  schedule: {every: 100ms, timeout: 90ms}
  steps: [{name: health, request: {url: "$DEMO/v1/health"}, expect: {status: 200}}]
YAML
}
incident_config "$WORK/config.yaml" removed 'drain_timeout: 5s'

fail_api
start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the throttle" 20 test -e "$WORK/throttled"
other_probe "$WORK/probes.yaml"
kill -HUP "$AGENT_PID"
wait_until "the rollback to start after the reload" 20 has "$WORK/rb.log" start
kill_agent
heal_api
python3 - "$WORK/spool/incidents.json" <<'PY' || fail "the rollback owed lacks its definition: $(cat "$WORK/spool/incidents.json")"
import json, sys
owed = json.load(open(sys.argv[1]))["owed"]
assert len(owed) == 1 and owed[0]["probe"] == "api" and owed[0]["action"] == "throttle", owed
d = owed[0]["rollback"]
assert d["command"][0] == "/bin/sh" and d["command"][1].endswith("/rollback.sh"), d
assert d["timeoutUs"] == 60 * 10**6, d
PY
orphan=$(sed -n 's/^start //p' "$WORK/rb.log" | head -n1)

start_agent b --config "$WORK/config.yaml" "$WORK/probes.yaml"
# the orphan of the first rollback is gone before the rerun may finish
wait_until "the orphan killed" 10 bash -c "! kill -0 $orphan 2>/dev/null || grep -q ' Z ' /proc/$orphan/stat"
touch "$WORK/go"
rolled() { ! [ -e "$WORK/throttled" ] || has "$WORK/b.log" 'given up'; }
wait_until "the rollback owed to run (or be given up)" 30 rolled
! has "$WORK/b.log" 'given up' || fail "the rollback was given up: $(grep 'given up' "$WORK/b.log")"
[ ! -e "$WORK/throttled" ] || fail "the throttle flag is still set"
wait_until "the rollback counted ok" 10 action_counted api throttle rollback ok
has "$WORK/b.log" 'from the definition kept' || fail "the log does not say the kept definition ran"
has "$WORK/rb.log" '^ok api resolved$' || fail "the rollback did not see its event: $(cat "$WORK/rb.log")"
wait_until "nothing owed on disk" 10 has "$WORK/spool/incidents.json" '"owed":\[\]'
stop_agent

# 4. the probe removed while the agent was down (killed with its incident
#    open, the throttle applied): the next start resolves the incident and
#    rolls the throttle back with the definition kept with the incident.
rm -f "$WORK/go"
: >"$WORK/rb.log"
incident_probe "$WORK/probes.yaml" <<YAML
    throttle:
      command: [/bin/sh, -c, 'touch "\$0/throttled"', "$WORK"]
      timeout: 60s
      rollback:
        command: [/bin/sh, "$WORK/rollback.sh", "$WORK"]
YAML
fail_api
start_agent c --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the throttle again" 20 test -e "$WORK/throttled"
wait_until "its outcome kept" 10 has "$WORK/spool/incidents.json" '"running":\[\]'
kill_agent
heal_api
other_probe "$WORK/probes.yaml"
touch "$WORK/go"
start_agent d --config "$WORK/config.yaml" "$WORK/probes.yaml"
rolled() { ! [ -e "$WORK/throttled" ] || has "$WORK/d.log" 'cannot be rolled back\|given up'; }
wait_until "the rollback of the removed probe (or an error)" 30 rolled
! has "$WORK/d.log" 'cannot be rolled back' || fail "not rolled back: $(grep 'cannot be rolled back' "$WORK/d.log")"
[ ! -e "$WORK/throttled" ] || fail "the throttle flag is still set after the probe was removed"
wait_until "the rollback counted ok" 10 action_counted api throttle rollback ok
has "$WORK/d.log" '"resolution":"probe_removed"\|resolved: probe_removed' || fail "the incident was not resolved as removed"
wait_until "nothing owed on disk" 10 has "$WORK/spool/incidents.json" '"owed":\[\]'
stop_agent

# 5. the probe changed while the agent was down, its throttle action gone:
#    the incident resolves (probe_changed) and the throttle is rolled back
#    with its kept definition, not reported as "no action named throttle".
: >"$WORK/rb.log"
incident_probe "$WORK/probes.yaml" <<YAML
    throttle:
      command: [/bin/sh, -c, 'touch "\$0/throttled"', "$WORK"]
      timeout: 60s
      rollback:
        command: [/bin/sh, "$WORK/rollback.sh", "$WORK"]
YAML
fail_api
start_agent e --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the throttle a third time" 20 test -e "$WORK/throttled"
wait_until "its outcome kept" 10 has "$WORK/spool/incidents.json" '"running":\[\]'
kill_agent
heal_api
sed -i 's/throttle/notify/' "$WORK/probes.yaml"
start_agent f --config "$WORK/config.yaml" "$WORK/probes.yaml"
rolled() { ! [ -e "$WORK/throttled" ] || has "$WORK/f.log" 'given up\|no action named'; }
wait_until "the rollback of the action the change removed (or an error)" 30 rolled
! has "$WORK/f.log" 'no action named' || fail "the rollback was looked up in the changed probe: $(grep 'no action named' "$WORK/f.log")"
[ ! -e "$WORK/throttled" ] || fail "the throttle flag is still set after the probe changed"
has "$WORK/f.log" 'resolved: probe_changed' || fail "the incident was not resolved as changed"
wait_until "nothing owed on disk" 10 has "$WORK/spool/incidents.json" '"owed":\[\]'
stop_agent
echo "ok: rollbacks of a removed or changed probe ran from their kept definition, after a reload and restarts"
