# An agent that cannot start (its listen address is taken) touches nothing:
# it exits before it resumes incidents, reruns actions or retries rollbacks,
# so a restart loop under systemd neither starts a rollback only to kill it
# on the way out (and log it as failed) nor spools a renotification per try.
# 1. the incident resolves and its rollback starts; the agent is killed
#    (kill -9) while it runs: the rollback is owed, its outcome unknown;
# 2. with its address taken the agent exits 2, and nothing ran or changed;
# 3. with the address free the next start runs the rollback to its end.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api
cat >"$WORK/rollback.sh" <<'SH'
echo "start $$" >>"$1/rb.log"
while [ ! -e "$1/go" ] && [ -d "$1" ]; do sleep 0.05; done # gone with the test
echo ok >>"$1/rb.log"
SH
incident_probe "$WORK/probes.yaml" <<YAML
    throttle:
      command: [/bin/sh, -c, 'echo run >>"\$0/throttle.log"', "$WORK"]
      rollback:
        command: [/bin/sh, "$WORK/rollback.sh", "$WORK"]
YAML
incident_config "$WORK/config.yaml" busy

fail_api
start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the throttle" 20 has "$WORK/throttle.log" run
heal_api
wait_until "the rollback to start" 20 has "$WORK/rb.log" start
kill_agent
before=$(cat "$WORK/spool/incidents.json")
events=$(count "$WORK/events.jsonl" eventId)

# another process listens on the address
python3 - "$WORK/port" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
__import__("os").rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(300)
PY
holder=$!
PIDS+=("$holder")
wait_until "the address taken" 10 test -s "$WORK/port"
rc=0
"$B/tripline" run --listen "127.0.0.1:$(cat "$WORK/port")" --config "$WORK/config.yaml" "$WORK/probes.yaml" \
    >"$WORK/b.out" 2>"$WORK/b.log" || rc=$?
[ "$rc" != 0 ] || fail "the agent started on a taken address"
has "$WORK/b.log" 'cannot listen' || fail "no error about the address: $(cat "$WORK/b.log")"
[ "$(count "$WORK/rb.log" start)" = 1 ] || fail "an agent that could not start ran the rollback: $(cat "$WORK/rb.log")"
! has "$WORK/b.log" 'rollback failed' || fail "an agent that could not start logged a rollback as failed"
[ "$(cat "$WORK/spool/incidents.json")" = "$before" ] ||
    fail "an agent that could not start changed the state: $(cat "$WORK/spool/incidents.json")"
kill "$holder"

touch "$WORK/go"
start_agent c --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the rollback to succeed" 20 has "$WORK/rb.log" '^ok$'
wait_until "nothing owed on disk" 10 has "$WORK/spool/incidents.json" '"owed":\[\]'
wait_until "the spool delivered" 10 spool_empty
stop_agent
[ "$(count "$WORK/events.jsonl" eventId)" -ge "$events" ] || fail "events lost"
echo "ok: an agent that could not listen ran nothing and changed nothing"
