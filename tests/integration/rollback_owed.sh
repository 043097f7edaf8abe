# A rollback owed survives restarts until it has succeeded:
# 1. the incident resolves and its rollback starts; the agent is killed
#    (kill -9) while the rollback runs: its outcome is unknown;
# 2. the next start runs it again (and says so); it fails: it is counted
#    and logged as failed, and retried after a backoff;
# 3. the retry succeeds: counted ok, nothing owed any more, and a further
#    restart runs no rollback.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api

# The rollback: fails while $WORK/fail exists, else waits for $WORK/go.
cat >"$WORK/rollback.sh" <<'SH'
echo "start $$" >>"$1/rb.log"
[ -e "$1/fail" ] && exit 1
while [ ! -e "$1/go" ]; do sleep 0.05; done
echo ok >>"$1/rb.log"
SH
incident_probe "$WORK/probes.yaml" <<YAML
    throttle:
      command: [/bin/sh, -c, 'echo run >>"\$0/throttle.log"', "$WORK"]
      timeout: 30s
      rollback:
        command: [/bin/sh, "$WORK/rollback.sh", "$WORK"]
YAML
incident_config "$WORK/config.yaml" owed 'drain_timeout: 5s'

fail_api
start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the throttle" 20 has "$WORK/throttle.log" run
heal_api
wait_until "the rollback to start" 20 has "$WORK/rb.log" start
kill_agent
# its rollback lives on in its own process group: the next start kills it
grep -q '"owed":\[{' "$WORK/spool/incidents.json" || fail "no rollback owed on disk: $(cat "$WORK/spool/incidents.json")"

touch "$WORK/fail"
start_agent b --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the rerun of the unknown outcome" 10 has "$WORK/b.log" 'outcome unknown after a restart'
wait_until "the failed rerun counted" 10 action_counted api throttle rollback failed
has "$WORK/b.log" '"msg":"rollback failed' || fail "the failed rollback was not logged as such"
rm "$WORK/fail"
touch "$WORK/go"
wait_until "the retry to succeed" 20 has "$WORK/rb.log" '^ok$'
wait_until "the retry counted" 10 action_counted api throttle rollback ok
wait_until "nothing owed on disk" 10 has "$WORK/spool/incidents.json" '"owed":\[\]'
stop_agent

starts=$(count "$WORK/rb.log" start)
start_agent c --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "a few runs after the last start" 10 runs_at_least "$AGENT_URL" api 5
stop_agent
[ "$(count "$WORK/rb.log" start)" = "$starts" ] || fail "a rollback ran again after it had succeeded"
[ "$(count "$WORK/throttle.log" run)" = 1 ] || fail "the throttle ran more than once"
echo "ok: the rollback owed ran until it succeeded, across a kill"
