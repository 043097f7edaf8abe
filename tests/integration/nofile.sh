# The descriptor limit: `tripline run` raises its soft limit to the hard one
# (each run in flight holds a socket), and says at start when the limit is
# still below limits.concurrency, instead of failing runs later in silence.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"
command -v prlimit >/dev/null || fail "prlimit is missing (util-linux)"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
cat >"$WORK/probes.yaml" <<YAML
probe: up
schedule: {every: 200ms, timeout: 150ms}
steps: [{name: get, request: {url: "http://127.0.0.1:$HTTP/ok"}, expect: {status: 200}}]
YAML

soft_limit() { awk '/^Max open files/ {print $4}' "/proc/$1/limits"; }

# (a) soft 512, hard 4096, the default concurrency (256): raised to 4096, no warning.
printf 'log_level: info\n' >"$WORK/default.yaml"
AGENT_WRAP="prlimit --nofile=512:4096" start_agent raised --config "$WORK/default.yaml" --spool-dir "$WORK/spool-raised" \
    "$WORK/probes.yaml"
[ "$(soft_limit "$AGENT_PID")" = 4096 ] || fail "soft limit $(soft_limit "$AGENT_PID"), expected 4096"
wait_until "a passing run" 20 runs_at_least "$AGENT_URL" up 1
grep -q 'descriptor limit' "$WORK/raised.log" && fail "warned with room to spare: $(grep 'descriptor limit' "$WORK/raised.log")"
stop_agent
echo "ok: the soft descriptor limit is raised to the hard one"

# (b) hard 128 with limits.concurrency 256: said at start, and the agent runs.
printf 'log_level: info\nlimits: {concurrency: 256}\n' >"$WORK/tight.yaml"
AGENT_WRAP="prlimit --nofile=128:128" start_agent tight --config "$WORK/tight.yaml" --spool-dir "$WORK/spool-tight" \
    "$WORK/probes.yaml"
grep -q '"msg":"the descriptor limit is 128, below limits.concurrency (256)' "$WORK/tight.log" ||
    fail "no warning about the limit: $(cat "$WORK/tight.log")"
wait_until "a passing run under the tight limit" 20 runs_at_least "$AGENT_URL" up 1
stop_agent
echo "ok: a limit below limits.concurrency is said at start"
