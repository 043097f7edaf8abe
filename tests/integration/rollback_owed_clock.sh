# A rollback owed is retried within its backoff (at most 5 min) whatever the
# wall clock did: its next attempt is kept by the wall clock, so a record
# written while the clock was ahead (a VM whose clock ran a day fast until
# NTP stepped it back, then a restart) must not hold the mitigation applied
# until the clock catches up.
# 1. the incident resolves; its rollback fails and is owed (1 attempt);
# 2. the agent is killed; its record says the next attempt is a day ahead,
#    as written under a clock a day fast;
# 3. the next start retries it at once (no later than the longest backoff
#    from now): it succeeds, nothing is owed any more.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api
cat >"$WORK/rollback.sh" <<'SH'
[ -e "$1/fail" ] && { echo failed >>"$1/rb.log"; exit 1; }
echo ok >>"$1/rb.log"
SH
incident_probe "$WORK/probes.yaml" <<YAML
    throttle:
      command: [/bin/sh, -c, 'echo run >>"\$0/throttle.log"', "$WORK"]
      rollback:
        command: [/bin/sh, "$WORK/rollback.sh", "$WORK"]
YAML
incident_config "$WORK/config.yaml" owedclock

touch "$WORK/fail"
fail_api
start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the throttle" 20 has "$WORK/throttle.log" run
heal_api
wait_until "a failed rollback owed on disk" 20 has "$WORK/spool/incidents.json" '"attempts":[1-9]'
kill_agent

python3 - "$WORK/spool/incidents.json" <<'PY'
import json, sys, time
path = sys.argv[1]
with open(path) as f:
    st = json.load(f)
assert st["owed"], st
for o in st["owed"]:
    o["nextAtUs"] = (time.time() + 86400) * 1e6  # written under a clock a day fast
with open(path, "w") as f:
    json.dump(st, f)
PY
rm "$WORK/fail"
start_agent b --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the rollback retried" 30 has "$WORK/rb.log" '^ok$'
wait_until "the retry counted" 10 action_counted api throttle rollback ok
wait_until "nothing owed on disk" 10 has "$WORK/spool/incidents.json" '"owed":\[\]'
stop_agent
echo "ok: a rollback owed under a clock that ran ahead was retried at once"
