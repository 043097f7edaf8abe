# An incident of a region the agent no longer runs (its `region:` changed
# while it was down) is resolved at the next start, and the actions it ran
# are rolled back with the probe's definition, which is still loaded: the
# probe was not removed, only the region it runs as. Operators expect the
# throttle undone once, not an error saying the probe is gone.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api
incident_probe "$WORK/probes.yaml" <<YAML
    throttle:
      command: [/bin/sh, -c, 'echo run >>"\$0/throttle.log"', "$WORK"]
      rollback:
        command: [/bin/sh, -c, 'echo "rb \$TRIPLINE_REGION" >>"\$0/rb.log"', "$WORK"]
YAML
incident_config "$WORK/config.yaml" eu-west

fail_api
start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the throttle" 20 has "$WORK/throttle.log" run
wait_until "its outcome kept" 10 has "$WORK/spool/incidents.json" '"running":\[\]'
kill_agent
opened=$(sed -n 's/.*"incidentId":"\([^"]*\)".*/\1/p' "$WORK/spool/incidents.json")

# while it is down the API recovers and the agent is moved to another region
heal_api
incident_config "$WORK/config.yaml" eu-central
start_agent b --config "$WORK/config.yaml" "$WORK/probes.yaml"
resolved_old() { has "$WORK/events.jsonl" "\"incidentId\":\"$opened\".*\"transition\":\"resolved\""; }
wait_until "the old region's incident resolved" 20 resolved_old
wait_until "its rollback" 20 has "$WORK/rb.log" '^rb eu-west$'
wait_until "nothing open or owed on disk" 10 has "$WORK/spool/incidents.json" '"incidents":\[\],"version":1,"owed":\[\]'
! has "$WORK/b.log" 'cannot be rolled back' || fail "the rollback was given up: $(grep 'cannot be rolled back' "$WORK/b.log")"
stop_agent
[ "$(count "$WORK/throttle.log" run)" = 1 ] || fail "the throttle ran $(count "$WORK/throttle.log" run) times"
[ "$(count "$WORK/rb.log" rb)" = 1 ] || fail "the rollback ran $(count "$WORK/rb.log" rb) times"
echo "ok: the incident of the old region was resolved and its throttle rolled back once"
