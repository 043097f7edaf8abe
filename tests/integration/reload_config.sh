# SIGHUP re-reads the agent config: the keys it can apply (limits, log_level)
# are applied and named; changed keys that need a restart (listen, region,
# spool.dir, sinks...) are named in one warn line; a broken config is kept.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
printf -- '- probe: a\n  schedule: {every: 1s}\n  steps: [{name: get, request: {url: "http://127.0.0.1:%s/ok"}}]\n' \
    "$HTTP" >"$WORK/p.yaml"
printf 'region: earth\nlisten: 127.0.0.1:0\nlimits: {concurrency: 8}\n' >"$WORK/agent.yaml"
start_agent c --config "$WORK/agent.yaml" --spool-dir "$WORK/spool" "$WORK/p.yaml"

printf 'region: mars\nlisten: 127.0.0.1:1\nlimits: {concurrency: 4}\nsinks: {file: %s}\n' "$WORK/ev.jsonl" >"$WORK/agent.yaml"
kill -HUP "$AGENT_PID"
wait_until "the restart line" 20 grep -q 'need a restart' "$WORK/c.log"
wait_until "the applied line" 20 grep -q '"msg":"config applied' "$WORK/c.log"
printf 'region: [broken\n' >"$WORK/agent.yaml"
kill -HUP "$AGENT_PID"
wait_until "the kept line" 20 grep -q 'the running config is kept' "$WORK/c.log"
curl -fsS "$AGENT_URL/status" >/dev/null || fail "the agent stopped serving after a reload"
stop_agent

restart=$(grep 'need a restart' "$WORK/c.log")
for key in region listen sinks; do
    echo "$restart" | grep -q "\"keys\":\"[^\"]*\\b$key\\b" || fail "$key not named: $restart"
done
echo "$restart" | grep -q concurrency && fail "concurrency named as needing a restart: $restart"
[ "$(grep -c 'need a restart' "$WORK/c.log")" -eq 1 ] || fail "not one restart line per reload"
grep '"msg":"config applied' "$WORK/c.log" | grep -q 'limits.concurrency' || fail "concurrency not applied"
echo "ok: SIGHUP names the keys that need a restart and applies the rest"
