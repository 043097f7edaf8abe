# A command is recorded under commands/ before it is spawned, so a kill -9
# between the spawn and the moment its process group is known still leaves
# a record, and the next start kills the orphan before the rerun:
# 1. gdb stops the agent when uv_spawn returns (the throttle is running, its
#    process group not yet written down) and kills it (SIGKILL) there;
# 2. the next start finds the record, finds the command by the id in its
#    environment (TRIPLINE_COMMAND_ID), kills its group (logged) and only
#    then reruns the throttle: the rerun sees the orphan dead;
# 3. no record outlives the reaping. Skips without gdb or ptrace.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"
[ -d /proc/self ] || { echo "SKIP: needs /proc"; exit 77; }
command -v gdb >/dev/null || { echo "SKIP: needs gdb"; exit 77; }

start_demo_api
cat >"$WORK/throttle.sh" <<'SH'
for p in $(sed -n 's/^start //p' "$1/throttle.log" 2>/dev/null); do
    st=$(sed -n 's/.*) \([A-Z]\) .*/\1/p' "/proc/$p/stat" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ] && echo "alive $p" >>"$1/throttle.log"
done
echo "start $$" >>"$1/throttle.log"
while [ ! -e "$1/go" ] && [ -d "$1" ]; do sleep 0.05; done # gone with the test
SH
incident_probe "$WORK/probes.yaml" <<YAML
    throttle:
      command: [/bin/sh, "$WORK/throttle.sh", "$WORK"]
      timeout: 60s
      cooldown: 1h
YAML
incident_config "$WORK/config.yaml" gap

start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
gdb -p "$AGENT_PID" -batch -iex 'set debuginfod enabled off' -ex 'set pagination off' -ex 'break uv_spawn' \
    -ex continue -ex finish -ex kill >"$WORK/gdb.log" 2>&1 &
GDB=$!
# a gdb left waiting would hold the agent stopped: both go first
trap 'kill -KILL "$GDB" "$AGENT_PID" 2>/dev/null || true; cleanup' EXIT
gdb_ready() { grep -q '^Breakpoint 1 at' "$WORK/gdb.log"; }
gdb_gone() { ! kill -0 "$GDB" 2>/dev/null; }
wait_until "gdb attached (or gone)" 60 bash -c "grep -q '^Breakpoint 1 at' '$WORK/gdb.log' || ! kill -0 $GDB"
gdb_ready || { echo "SKIP: gdb cannot attach here: $(cat "$WORK/gdb.log")"; exit 77; }
# the agent may be stopped still: it sees the failures once gdb continues it
fail_api
wait_until "gdb to stop the agent after uv_spawn and kill it" 60 gdb_gone
grep -q 'after fork from child' "$WORK/gdb.log" && grep -q 'Inferior 1 .* killed' "$WORK/gdb.log" || fail "gdb did not stop the agent after uv_spawn: $(cat "$WORK/gdb.log")"
wait "$AGENT_PID" 2>/dev/null || true
kill -0 "$AGENT_PID" 2>/dev/null && fail "the agent outlived gdb's kill"
wait_until "the throttle spawned before the kill" 20 has "$WORK/throttle.log" '^start '
old=$(sed -n 's/^start //p' "$WORK/throttle.log")
alive "$old" || fail "the throttle did not outlive the agent: the test proves nothing"
ls "$WORK/spool/commands/"*.json >/dev/null 2>&1 || fail "no record of the command spawned before the kill"

start_agent b --config "$WORK/config.yaml" "$WORK/probes.yaml"
started_twice() { [ "$(count "$WORK/throttle.log" '^start ')" = 2 ]; }
wait_until "the rerun" 20 started_twice
! has "$WORK/throttle.log" '^alive ' || fail "the rerun started while the orphan lived: $(cat "$WORK/throttle.log")"
alive "$old" && fail "the orphan $old is still alive"
has "$WORK/b.log" 'was still running from before the restart: killed its process group' ||
    fail "the kill of the orphan was not logged"
touch "$WORK/go"
wait_until "every record gone once the rerun ended" 20 bash -c "! ls '$WORK/spool/commands/'*.json >/dev/null 2>&1"
stop_agent
echo "ok: a command spawned just before a kill -9 was recorded, and killed at the next start"
