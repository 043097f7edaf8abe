# A probe file that fails to load at start (a typo made while the agent was
# stopped) does not remove its probes: their open incidents are kept, not
# resolved as probe_removed while the API still fails with the mitigation
# left applied. Once the file is fixed (SIGHUP), the incident resumes under
# its id, the throttle does not run again, and when the API recovers it
# resolves and its throttle is rolled back once.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api
incident_probe "$WORK/api.yaml" <<YAML
    throttle:
      command: [/bin/sh, -c, 'echo run >>"\$0/throttle.log"', "$WORK"]
      rollback:
        command: [/bin/sh, -c, 'echo rb >>"\$0/rb.log"', "$WORK"]
YAML
cp "$WORK/api.yaml" "$WORK/api.good"
# another file, so the agent starts with the broken one rejected
gen_probes "$WORK/other.yaml" 1 "$DEMO/v1/health" "{every: 1s, timeout: 1s}"
incident_config "$WORK/config.yaml" broken

fail_api
start_agent a --config "$WORK/config.yaml" "$WORK/api.yaml" "$WORK/other.yaml"
wait_until "the throttle" 20 has "$WORK/throttle.log" run
wait_until "its outcome kept" 10 has "$WORK/spool/incidents.json" '"running":\[\]'
stop_agent
opened=$(sed -n 's/.*"incidentId":"\([^"]*\)".*/\1/p' "$WORK/spool/incidents.json")

echo "  oops: [" >>"$WORK/api.yaml"
start_agent b --config "$WORK/config.yaml" "$WORK/api.yaml" "$WORK/other.yaml"
has "$WORK/b.log" 'api.yaml: rejected' || fail "the broken file was not rejected: $(cat "$WORK/b.log")"
wait_until "a run of the other probe" 20 runs_at_least "$AGENT_URL" p0 1
! has "$WORK/events.jsonl" '"resolution":"probe_removed"' || fail "the incident of a probe in a broken file was resolved as removed"
has "$WORK/spool/incidents.json" "\"incidentId\":\"$opened\"" || fail "the open incident was dropped from the store"

cp "$WORK/api.good" "$WORK/api.yaml"
kill -HUP "$AGENT_PID"
renotified() { has "$WORK/events.jsonl" "\"incidentId\":\"$opened\".*\"transition\":\"renotified\""; }
wait_until "the incident resumed" 20 renotified
runs=$(probe_runs "$AGENT_URL" api)
wait_until "more failing runs" 20 runs_at_least "$AGENT_URL" api $((runs + 5))
heal_api
resolved() { has "$WORK/events.jsonl" "\"incidentId\":\"$opened\".*\"transition\":\"resolved\".*\"resolution\":\"recovered\""; }
wait_until "the incident resolved" 20 resolved
wait_until "its rollback" 20 has "$WORK/rb.log" rb
stop_agent
[ "$(count "$WORK/events.jsonl" '"transition":"opened"')" = 1 ] || fail "a second incident opened"
[ "$(count "$WORK/throttle.log" run)" = 1 ] || fail "the throttle ran $(count "$WORK/throttle.log" run) times"
[ "$(count "$WORK/rb.log" rb)" = 1 ] || fail "the rollback ran $(count "$WORK/rb.log" rb) times"
echo "ok: the incident of a probe in a broken file waited for the file, then resolved once"
