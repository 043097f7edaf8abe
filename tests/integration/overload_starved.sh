# A starved loop: blocked 150 ms of every 200 ms (test hook), so no single
# tick is a stall, yet a run spends most of its time waiting for the loop.
# A timeout then says nothing about the API: agent/overloaded, never a
# failure and never an incident, even against a target slower than the
# timeout.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
cat >"$WORK/p.yaml" <<YAML
- probe: slow
  schedule: {every: 2s, timeout: 1s}
  steps: [{name: get, request: {url: "http://127.0.0.1:$HTTP/delay?ms=3000"}, expect: {status: 200}}]
  escalation:
    ladder: [{level: critical, when: {consecutive_failures: 1}}]
YAML

TRIPLINE_TEST_STALL_MS=150 TRIPLINE_TEST_STALL_EVERY_MS=200 start_agent o --spool-dir "$WORK/spool" "$WORK/p.yaml"
overloaded() {
    curl -fsS "$AGENT_URL/metrics" >"$WORK/m.txt" || return 1
    grep -q '^tripline_agent_faults_total{reason="overloaded"} [2-9]' "$WORK/m.txt"
}
wait_until "two overloaded runs" 60 overloaded
stop_agent
if grep -q '^tripline_probe_failures_total' "$WORK/m.txt"; then
    fail "a starved loop was blamed on the API: $(grep probe_failures "$WORK/m.txt" | head -3)"
fi
[ -s "$WORK/o.out" ] && fail "an incident opened: $(head -c 300 "$WORK/o.out")"
echo "ok: a starved loop's timeouts are agent faults"
