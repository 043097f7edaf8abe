# Shared helpers for the incident scripts (sourced; sources common.sh): the
# demo API fixture with its fault switch, a probe whose incident fires a
# throttle action, the agent's config, and checks on files and counters.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

# start_demo_api: runs the demo API fixture and sets DEMO to its URL.
start_demo_api() {
    local line
    line=$(start_fixture demo_api --port 0)
    DEMO=${line#listening on }
}
# fault JSON: what the demo API does now ({"mode":"none"} = healthy).
fault() { curl -fsS --noproxy '*' -XPOST "$DEMO/_control/fault" -d "$1" >/dev/null; }
fail_api() { fault '{"mode":"all","status":503}'; }
heal_api() { fault '{"mode":"none"}'; }

# has FILE PATTERN / count FILE PATTERN / at_least FILE PATTERN N: grep
# checks that hold (count 0) while FILE does not exist yet.
has() { [ -f "$1" ] && grep -q -- "$2" "$1"; }
count() { if [ -f "$1" ]; then grep -c -- "$2" "$1" || true; else echo 0; fi; }
at_least() { [ "$(count "$1" "$2")" -ge "$3" ]; }

# incident_probe FILE [ID [TIMEOUT_MS]] <<YAML: FILE holds probe ID (api) of
# $DEMO/v1/health every 100ms; two failures open an incident at level
# warning that fires the throttle, two successes resolve it. Standard input
# is the probe's actions block, indented by 4 spaces.
incident_probe() {
    {
        cat <<YAML
- probe: ${2:-api}
  schedule: {every: 100ms, timeout: ${3:-90}ms}
  steps: [{name: health, request: {url: "$DEMO/v1/health"}, expect: {status: 200}}]
  escalation:
    ladder: [{level: warning, when: {consecutive_failures: 2}, actions: [throttle]}]
    resolve: {consecutive_successes: 2}
  actions:
YAML
        cat
    } >"$1"
}

# incident_config FILE NAME [YAML]: the agent's config, region and name from
# NAME, its spool in $WORK/spool, events to $WORK/events.jsonl; YAML (more
# top-level keys) is appended. A spool or sinks key in YAML replaces ours.
incident_config() {
    {
        printf 'region: %s\nname: edge-%s\n' "$2" "$2"
        case ${3:-} in *spool:*) ;; *) printf 'spool: {dir: %s/spool}\n' "$WORK" ;; esac
        case ${3:-} in *sinks:*) ;; *) printf 'sinks: {file: %s/events.jsonl}\n' "$WORK" ;; esac
        [ -z "${3:-}" ] || printf '%s\n' "$3"
    } >"$1"
}

# kill_agent: kill -9 of the agent started last, reaped.
kill_agent() {
    kill -KILL "$AGENT_PID"
    wait "$AGENT_PID" 2>/dev/null || true
}

# action_counted PROBE ACTION KIND OUTCOME [VALUE]: /metrics of the agent
# at $AGENT_URL counts VALUE (a regex; default 1) such runs.
action_counted() {
    curl -sf --noproxy '*' "$AGENT_URL/metrics" |
        grep -q "^tripline_action_runs_total{probe=\"$1\",action=\"$2\",kind=\"$3\",outcome=\"$4\"} ${5:-1}\$"
}

# alive PID: the process exists and is not a zombie (needs /proc)
alive() {
    local st
    st=$(sed -n 's/.*) \([A-Z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}
