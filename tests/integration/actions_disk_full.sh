# An action is not applied unless its intent is on disk first. With the
# spool directory's file system full (incidents.json cannot be written), an
# incident that opens does not run its throttle: an error names the probe,
# incident and action, tripline_actions_held_total counts it, and once there
# is room again the intent is written and the throttle runs. A rollback
# still runs on the full disk: undoing a mitigation never waits for it.
# Needs root for a small tmpfs; skips with a message otherwise.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root to mount a small tmpfs"; exit 77; fi
SP=$WORK/spool
mkdir -p "$SP"
mount -t tmpfs -o size=1m tmpfs "$SP" || { echo "SKIP: cannot mount tmpfs here"; exit 77; }
trap 'umount -l "$SP" 2>/dev/null; cleanup' EXIT
# disk_full / disk_room: fill the file system up / free it (a delivered
# spool segment removed meanwhile leaves room: disk_full fills it again)
disk_full() { dd if=/dev/zero of="$SP/filler.$RANDOM" bs=4k 2>/dev/null || true; }
disk_room() { rm -f "$SP"/filler.*; }

start_demo_api
incident_probe "$WORK/probes.yaml" <<YAML
    throttle:
      command: [/bin/sh, -c, 'echo "\$TRIPLINE_TRANSITION \$TRIPLINE_INCIDENT_ID" >>"\$0/throttle.log"', "$WORK"]
      rollback:
        command: [/bin/sh, -c, 'echo rollback >>"\$0/throttle.log"', "$WORK"]
YAML
incident_config "$WORK/config.yaml" held
held_counted() {
    curl -sf --noproxy '*' "$AGENT_URL/metrics" |
        grep -q '^tripline_actions_held_total{probe="api",action="throttle"} 1$'
}

start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "a few healthy runs" 20 runs_at_least "$AGENT_URL" api 3
disk_full
fail_api
wait_until "the held action logged" 20 has "$WORK/a.log" '"level":"error".*action throttle of incident .* not run'
line=$(grep '"level":"error".*action throttle of incident .* not run' "$WORK/a.log" | head -n1)
case $line in *'probe api:'*'"probe":"api"'*'"incident":"'*'"action":"throttle"'*) ;;
    *) fail "the error does not name probe, incident and action: $line" ;; esac
wait_until "the held action counted" 10 held_counted
runs=$(probe_runs "$AGENT_URL" api)
wait_until "more runs on the full disk" 20 runs_at_least "$AGENT_URL" api $((runs + 5))
[ ! -e "$WORK/throttle.log" ] || fail "the throttle ran although its intent could not be written: $(cat "$WORK/throttle.log")"
! action_counted api throttle run ok || fail "a throttle run was counted"

disk_room
wait_until "the throttle once the intent is on disk" 20 has "$WORK/throttle.log" '^opened '
id=$(sed -n 's/^opened //p' "$WORK/throttle.log")
wait_until "the intent on disk" 10 has "$SP/incidents.json" "\"incidentId\":\"$id\".*\"fired\":\\[\"throttle\"\\]"
has "$WORK/a.log" "action throttle of incident $id: its intent is on disk now, running it" ||
    fail "the late run was not logged"

# the rollback does not wait for the disk
disk_full
heal_api
wait_until "the rollback on the full disk" 20 has "$WORK/throttle.log" '^rollback$'
wait_until "the rollback counted" 10 action_counted api throttle rollback ok
disk_room
stop_agent
[ "$(count "$WORK/throttle.log" '^opened ')" = 1 ] || fail "the throttle ran more than once: $(cat "$WORK/throttle.log")"
echo "ok: no action without its intent on disk; it ran once the disk was back; the rollback never waited"
