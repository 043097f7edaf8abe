# A rollback an earlier incident still owes must not undo the mitigation of
# the probe's incident open now. For a throttle whose cooldown skips it in
# the second incident, and for one the second incident runs again:
# 1. incident 1 runs the throttle (on); it resolves, its rollback fails and
#    is owed;
# 2. the API fails again: incident 2 opens; the rollback would now succeed
#    and its retry is due, yet it waits: the throttle stays on while
#    incident 2 is open;
# 3. incident 2 resolves: the throttle goes off, with one successful
#    rollback in all, and nothing is owed any more.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api
cat >"$WORK/rollback.sh" <<'SH'
[ -e "$1/fail" ] && { echo failed >>"$1/rb.log"; exit 1; }
echo ok >>"$1/rb.log"
echo off >"$1/state"
SH
# every rollback owed is past its next attempt (by the wall clock it is kept
# by), or none is owed any more
owed_due() {
    python3 - "$W/spool/incidents.json" <<'PY'
import json, sys, time
owed = json.load(open(sys.argv[1]))["owed"]
sys.exit(0 if all(o["nextAtUs"] < (time.time() - 0.5) * 1e6 for o in owed) else 1)
PY
}

for cooldown in 1h 0s; do
    W=$WORK/$cooldown
    mkdir -p "$W"
    incident_probe "$W/probes.yaml" <<YAML
    throttle:
      command: [/bin/sh, -c, 'echo run >>"\$0/throttle.log"; echo on >"\$0/state"', "$W"]
      cooldown: $cooldown
      rollback:
        command: [/bin/sh, "$WORK/rollback.sh", "$W"]
YAML
    incident_config "$W/config.yaml" held "spool: {dir: $W/spool}
sinks: {file: $W/events.jsonl}"
    touch "$W/fail"
    fail_api
    start_agent "held-$cooldown" --config "$W/config.yaml" "$W/probes.yaml"
    wait_until "the throttle ($cooldown)" 20 has "$W/throttle.log" run
    heal_api
    wait_until "the rollback to fail ($cooldown)" 20 has "$W/rb.log" failed
    fail_api
    wait_until "incident 2 ($cooldown)" 20 at_least "$W/events.jsonl" '"transition":"opened"' 2
    [ "$cooldown" = 0s ] && wait_until "the throttle of incident 2" 20 at_least "$W/throttle.log" run 2
    rm "$W/fail"
    wait_until "the owed rollback due ($cooldown)" 30 owed_due
    runs=$(probe_runs "$AGENT_URL" api)
    wait_until "ticks past its due time ($cooldown)" 20 runs_at_least "$AGENT_URL" api $((runs + 15))
    [ "$(cat "$W/state")" = on ] ||
        fail "cooldown $cooldown: a rollback owed by incident 1 took the throttle off while incident 2 is open"
    heal_api
    wait_until "the throttle off ($cooldown)" 20 has "$W/state" off
    wait_until "nothing owed ($cooldown)" 20 has "$W/spool/incidents.json" '"incidents":\[\],"version":1,"owed":\[\]'
    stop_agent
    [ "$(count "$W/rb.log" '^ok$')" = 1 ] || fail "cooldown $cooldown: $(count "$W/rb.log" '^ok$') rollbacks succeeded, not 1"
done
echo "ok: a rollback owed waited for the open incident, then ran once"
