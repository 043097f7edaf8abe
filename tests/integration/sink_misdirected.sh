# An escalation service URL that redirects (http to https, a moved
# endpoint) or has no such path loses no event: the sink does not follow
# the redirect (it would resend the signed body and its token elsewhere),
# logs an error naming where it was sent, and keeps the events in the spool
# instead of the dead-letter file; the agent restarted with the fixed URL
# delivers every one of them.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api
line=$(start_fixture escalation_service --port 0 --record "$WORK/service.jsonl")
SVC=${line#listening on }
ports=$(start_fixture hostile_server)
H=http://127.0.0.1:$(echo "$ports" | sed -n 's/^http=\([0-9]*\).*/\1/p')

incident_probe "$WORK/probes.yaml" <<YAML
    throttle: {command: [/bin/true]}
YAML
config() {
    incident_config "$WORK/config.yaml" misdirected "sinks:
  file: $WORK/events.jsonl
  service: {url: \"$1\", timeout: 2s}"
}

n=0
for url in "$H/redirect-to?url=$SVC/events&code=308" "$H/redirect" "$SVC/no-such-path"; do
    n=$((n + 1))
    config "$url"
    fail_api
    start_agent "m$n" --config "$WORK/config.yaml" "$WORK/probes.yaml"
    wait_until "an incident" 20 has "$WORK/events.jsonl" '"transition":"opened"'
    heal_api
    wait_until "a send answered" 20 has "$WORK/m$n.log" '"sink":"service"'
    stop_agent
    [ ! -e "$WORK/spool/dead-letter-service.jsonl" ] ||
        fail "$url: events dead-lettered: $(head -c 300 "$WORK/spool/dead-letter-service.jsonl")"
    has "$WORK/m$n.log" 'fix the sink'"'"'s url' || fail "no clear error: $(grep service "$WORK/m$n.log" | head -3)"
    case $url in
    *redirect-to*) has "$WORK/m$n.log" "a redirect to $SVC/events" || fail "the log does not say where: $(grep service "$WORK/m$n.log" | head -3)" ;;
    esac
done
[ ! -s "$WORK/service.jsonl" ] || fail "a redirect was followed: $(head -c 300 "$WORK/service.jsonl")"

# The URL fixed: every event the file sink has reaches the service.
config "$SVC/events"
start_agent fixed --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the spool delivered" 30 spool_empty
stop_agent
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
want = {json.loads(l)["eventId"] for l in open(f"{w}/events.jsonl") if l.strip()}
got = {json.loads(l)["eventId"] for l in open(f"{w}/service.jsonl") if l.strip()}
if not want or want - got:
    sys.exit(f"{len(want - got)} of {len(want)} events never reached the service")
print(f"ok: all {len(want)} events delivered once the url was fixed")
PY
