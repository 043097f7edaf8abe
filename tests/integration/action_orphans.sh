# A command a crash left running is killed before the restarted agent runs
# anything, so it and its rerun never act at once:
# 1. the throttle (a shell and its child, in their own process group) starts
#    and is recorded under the spool; the agent is killed (kill -9): the
#    throttle goes on, an orphan;
# 2. the next start kills the orphan's whole group (logged, counted) before
#    the rerun starts: the rerun sees neither of the old processes alive;
# 3. a record whose PID now belongs to another process (another start time)
#    kills nothing; every record is gone, and the rerun's own when it ends.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"
[ -d /proc/self ] || { echo "skip: needs /proc"; exit 77; }

start_demo_api
# The throttle: tells whether a throttle started before it is still alive,
# logs its shell and its child, and waits for $WORK/go.
cat >"$WORK/throttle.sh" <<'SH'
for p in $(sed -n 's/^\(start\|child\) //p' "$1/throttle.log" 2>/dev/null); do
    st=$(sed -n 's/.*) \([A-Z]\) .*/\1/p' "/proc/$p/stat" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ] && echo "alive $p" >>"$1/throttle.log"
done
sleep 600 &
echo "child $!" >>"$1/throttle.log"
echo "start $$" >>"$1/throttle.log"
while [ ! -e "$1/go" ] && [ -d "$1" ]; do sleep 0.05; done # gone with the test
kill $!
SH
incident_probe "$WORK/probes.yaml" <<YAML
    throttle:
      command: [/bin/sh, "$WORK/throttle.sh", "$WORK"]
      timeout: 60s
      cooldown: 1h
YAML
incident_config "$WORK/config.yaml" orphans
orphans_counted() {
    curl -sf --noproxy '*' "$AGENT_URL/metrics" |
        grep -q '^tripline_action_orphans_killed_total{probe="api",action="throttle"} 1$'
}

fail_api
start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the throttle to start" 20 has "$WORK/throttle.log" '^start '
old=$(sed -n 's/^start //p' "$WORK/throttle.log")
old_child=$(sed -n 's/^child //p' "$WORK/throttle.log")
[ -f "$WORK/spool/commands/$old.json" ] || fail "the running throttle is not recorded: $(ls "$WORK/spool/commands" 2>&1)"
kill_agent
alive "$old" && alive "$old_child" || fail "the throttle did not outlive the agent: the test proves nothing"

# A decoy: a live process group whose record has another start time, as
# when the recorded PID was reused since. It must survive.
setsid sleep 600 &
decoy=$!
PIDS+=("$decoy")
wait_until "the decoy" 10 alive "$decoy"
printf '{"pgid":%d,"start":1,"probe":"api","incident":"x","action":"decoy","kind":"run"}' "$decoy" \
    >"$WORK/spool/commands/$decoy.json"

start_agent b --config "$WORK/config.yaml" "$WORK/probes.yaml"
started_twice() { [ "$(count "$WORK/throttle.log" '^start ')" = 2 ]; }
wait_until "the rerun" 20 started_twice
new=$(sed -n 's/^start //p' "$WORK/throttle.log" | tail -n1)
! has "$WORK/throttle.log" '^alive ' || fail "the rerun started while the orphan lived: $(cat "$WORK/throttle.log")"
alive "$old" && fail "the orphan $old is still alive"
alive "$old_child" && fail "the orphan's child $old_child is still alive"
alive "$new" || fail "the rerun $new is not running"
alive "$decoy" || fail "a process whose record did not match (a reused PID) was killed"
[ ! -e "$WORK/spool/commands/$decoy.json" ] || fail "the record that did not match was kept"
grep '"msg":"probe api: run throttle of incident .* was still running from before the restart' "$WORK/b.log" |
    grep -q '"action":"throttle"' || fail "the kill of the orphan was not logged: $(grep -i orphan "$WORK/b.log")"
[ "$(log_count "$WORK/b.log" 'still running from before the restart')" = 1 ] || fail "more than the orphan was killed"
wait_until "the orphan counted" 10 orphans_counted
[ -f "$WORK/spool/commands/$new.json" ] || fail "the rerun is not recorded"

touch "$WORK/go"
wait_until "the rerun's record removed at its end" 20 test ! -e "$WORK/spool/commands/$new.json"
wait_until "its outcome kept" 10 has "$WORK/spool/incidents.json" '"running":\[\]'
stop_agent
kill "$decoy"
echo "ok: the orphan of a crash was killed before its rerun"
