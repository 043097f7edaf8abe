# A named pipe among the probe files (a glob that matches one, a path typed
# by mistake) or named by a `file:` secret is read as what it holds now: with
# no writer, nothing. It hung `tripline check`, the agent's start (and a
# reload) and every run rendering the secret (the agent's whole loop) forever
# in open(), which waits for a writer that never comes.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

mkdir "$WORK/probes.d"
mkfifo "$WORK/probes.d/a-fifo.yaml"
gen_probes "$WORK/probes.d/b.yaml" 1 "http://127.0.0.1:9/" "{every: 1h, timeout: 1s}"

rc=0
timeout 20 "$B/tripline" check "$WORK/probes.d/a-fifo.yaml" >"$WORK/check.out" 2>&1 || rc=$?
[ "$rc" -ne 124 ] || fail "check hung on a named pipe"
[ "$rc" -eq 1 ] && grep -q "a-fifo.yaml:1:1: empty file" "$WORK/check.out" ||
    fail "check of a named pipe: exit $rc, $(cat "$WORK/check.out")"
# a pipe with a writer is read whole, as before
timeout 20 "$B/tripline" check <(cat "$WORK/probes.d/b.yaml") >/dev/null || fail "check of a pipe with a writer failed"

# a file: secret on a pipe: the run goes on (the value is empty)
cat >"$WORK/secret.yaml" <<YAML
probe: pipe-secret
vars: {t: "{{ file:$WORK/probes.d/a-fifo.yaml }}"}
steps: [{name: a, request: {url: "http://127.0.0.1:9/", headers: {X-T: "{{ t }}"}}}]
YAML
rc=0
timeout 20 "$B/tripline" once "$WORK/secret.yaml" >/dev/null 2>&1 || rc=$?
[ "$rc" -ne 124 ] || fail "once hung reading a file: secret from a named pipe"

cat >"$WORK/config.yaml" <<YAML
probes: ["$WORK/probes.d/*.yaml"]
spool: {dir: $WORK/spool}
YAML
start_agent fifo --config "$WORK/config.yaml"
curl -fsS --noproxy '*' "$AGENT_URL/status" | grep -q '"probe":"p0"' || fail "the probe beside the pipe is not loaded"
stop_agent
echo ok
