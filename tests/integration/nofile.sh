# The descriptor limit: `tripline run` and `tripline once` raise their soft
# limit to the hard one (each run in flight holds a socket), and say at start
# when the limit is still below what runs at once, instead of failing runs
# later in silence.
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

# (c) once: 300 probes at once (limits.concurrency 300) under a soft 128 and
# a hard 4096: raised, every run passes, nothing said. Before, runs past the
# soft limit failed as agent/fd_limit (exit 3).
gen_probes "$WORK/many.yaml" 300 "http://127.0.0.1:$HTTP/ok"
printf 'limits: {concurrency: 300, per_host: 300}\n' >"$WORK/wide.yaml"
rc=0
prlimit --nofile=128:4096 "$B/tripline" once --json --config "$WORK/wide.yaml" "$WORK/many.yaml" \
    >"$WORK/once-raised.json" 2>"$WORK/once-raised.err" || rc=$?
[ "$rc" = 0 ] || fail "(c) once exited $rc: $(grep -v '"ok":true' "$WORK/once-raised.json" | head -c 600) $(head -c 600 "$WORK/once-raised.err")"
[ "$(grep -c '"ok":true' "$WORK/once-raised.json")" = 300 ] || fail "(c) expected 300 passing runs"
grep -q 'descriptor limit' "$WORK/once-raised.err" && fail "(c) warned with room to spare: $(cat "$WORK/once-raised.err")"
echo "ok: once raises its soft descriptor limit too"

# (d) once under a hard 128 with 300 at once: said before the runs, and a run
# that finds no descriptor is the agent's fault (exit 0 or 3, never 1).
rc=0
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 prlimit --nofile=128:128 "$B/tripline" once \
    --json --config "$WORK/wide.yaml" "$WORK/many.yaml" >"$WORK/once-tight.json" 2>"$WORK/once-tight.err" || rc=$?
grep -q 'the descriptor limit is 128, below the 300 runs at once + 64' "$WORK/once-tight.err" ||
    fail "(d) no warning about the limit: $(head -c 600 "$WORK/once-tight.err")"
case $rc in 0 | 3) ;; *) fail "(d) once exited $rc: $(head -c 600 "$WORK/once-tight.err")" ;; esac
python3 - "$WORK/once-tight.json" <<'PY' || fail "(d) a run blamed on the target"
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if not r["ok"] and r.get("bucket") != "agent":
        sys.exit(f"{r['probe']}: {r.get('bucket')}/{r.get('reason')}")
PY
echo "ok: once says when its limit is below the runs at once"
