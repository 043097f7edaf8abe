# The agent's own faults (an unset env secret, a missing CA file) are bucket
# agent: `once` exits 3 without sending a request, and the daemon counts
# them on /status and /metrics, logs them, and never opens an incident.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
TLS=$(echo "$line" | sed -n 's/.*tls=\([0-9]*\).*/\1/p')
unset TRIPLINE_IT_UNSET_SECRET

cat >"$WORK/secret.yaml" <<YAML
probe: secret
schedule: {every: 200ms, timeout: 150ms}
vars: {password: "{{ env.TRIPLINE_IT_UNSET_SECRET }}"}
steps: [{name: login, request: {url: "http://127.0.0.1:$HTTP/ok?p={{ password }}"}, expect: {status: 200}}]
escalation:
  ladder: [{level: critical, when: {consecutive_failures: 1}}]
YAML
cat >"$WORK/tls.yaml" <<YAML
probe: tls
steps: [{name: get, request: {url: "https://127.0.0.1:$TLS/ok"}}]
YAML
printf 'tls: {ca_file: %s}\n' "$WORK/no-such-ca.pem" >"$WORK/agent.yaml"

# once: exit 3 (inconclusive), bucket agent, no request sent for the secret.
set +e
"$B/tripline" once --json "$WORK/secret.yaml" >"$WORK/secret.json" 2>"$WORK/once.err"
rc_secret=$?
"$B/tripline" once --json --config "$WORK/agent.yaml" "$WORK/tls.yaml" >"$WORK/tls.json" 2>>"$WORK/once.err"
rc_tls=$?
set -e
[ "$rc_secret" -eq 3 ] || fail "once with an unset secret exited $rc_secret, expected 3: $(cat "$WORK/once.err")"
[ "$rc_tls" -eq 3 ] || fail "once with a missing CA file exited $rc_tls, expected 3: $(cat "$WORK/once.err")"
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
s = json.loads(open(f"{w}/secret.json").readline())
t = json.loads(open(f"{w}/tls.json").readline())
errors = []
if (s.get("bucket"), s.get("reason")) != ("agent", "missing_secret"): errors.append(f"secret: {s}")
if any(st.get("ran") for st in s.get("steps", [])): errors.append(f"secret: a step ran: {s['steps']}")
if (t.get("bucket"), t.get("reason")) != ("agent", "ca_file"): errors.append(f"tls: {t}")
if errors: print("FAIL:", errors, file=sys.stderr); sys.exit(1)
PY
echo "ok: once exits 3 for a missing secret and a missing CA file"

# Caught before any run: an unknown --var (with a suggestion), a base that is
# not an http(s) URL, the config's missing CA and token files.
cat >"$WORK/base.yaml" <<YAML
probe: based
vars: {base: "http://127.0.0.1:$HTTP"}
steps: [{name: get, request: {url: "{{ base }}/ok"}}]
YAML
printf 'tls: {ca_file: %s}\nsinks:\n  service: {url: "http://127.0.0.1:1/e", token_file: %s}\n' \
    "$WORK/no-such-ca.pem" "$WORK/no-such-token" >"$WORK/files.yaml"
expect_rc() { # expect_rc RC NAME CMD...: runs CMD, checks its exit code, keeps stdout/stderr
    local want=$1 name=$2 rc=0; shift 2
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    [ "$rc" -eq "$want" ] || fail "$name: exit $rc, expected $want: $(cat "$WORK/$name.err")"
}
expect_rc 1 check-typo "$B/tripline" check --var bsae=http://127.0.0.1:1 "$WORK/base.yaml"
grep -q 'did you mean "base"' "$WORK/check-typo.err" || fail "no suggestion: $(cat "$WORK/check-typo.err")"
expect_rc 2 once-typo "$B/tripline" once --json --var bsae=http://127.0.0.1:1 "$WORK/base.yaml"
grep -q 'did you mean "base"' "$WORK/once-typo.err" || fail "once: no suggestion: $(cat "$WORK/once-typo.err")"
[ -s "$WORK/once-typo.out" ] && fail "once ran a probe despite an unknown --var"
expect_rc 2 once-scheme "$B/tripline" once --json --var base=ftp://hidden-value "$WORK/base.yaml"
grep -q 'not an http:// or https:// URL' "$WORK/once-scheme.err" || fail "scheme: $(cat "$WORK/once-scheme.err")"
[ -s "$WORK/once-scheme.out" ] && fail "once ran a probe despite a bad base"
grep -q hidden-value "$WORK/once-scheme.err" && fail "the --var value was echoed"
expect_rc 1 check-scheme "$B/tripline" check --var base=ftp://x "$WORK/base.yaml"
expect_rc 2 run-typo "$B/tripline" run --listen 127.0.0.1:0 --spool-dir "$WORK/sp-typo" --var bsae=http://x "$WORK/base.yaml"
grep -q 'did you mean "base"' "$WORK/run-typo.err" || fail "run: no suggestion: $(cat "$WORK/run-typo.err")"
grep -q 'tripline started' "$WORK/run-typo.err" && fail "run started despite an unknown --var"
expect_rc 0 check-good "$B/tripline" check --var base=https://example.test "$WORK/base.yaml"
expect_rc 1 check-files "$B/tripline" check --config "$WORK/files.yaml" "$WORK/base.yaml"
grep -q "tls.ca_file: $WORK/no-such-ca.pem" "$WORK/check-files.err" || fail "ca_file: $(cat "$WORK/check-files.err")"
grep -q "sinks.service.token_file" "$WORK/check-files.err" || fail "token_file: $(cat "$WORK/check-files.err")"
echo "ok: check and once refuse bad and unknown --var, check --config opens its files"

# The daemon: many faulted runs, no incident, counted and logged.
start_agent a --region earth --spool-dir "$WORK/spool" "$WORK/secret.yaml"
end=$((SECONDS + 60))
while [ "$SECONDS" -lt "$end" ]; do
    curl -fsS "$AGENT_URL/status" >"$WORK/status.json"
    python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["probes"][0]; sys.exit(0 if p["agent_faults"] >= 5 else 1)' \
        "$WORK/status.json" && break
    sleep 0.1
done
curl -fsS "$AGENT_URL/metrics" >"$WORK/metrics.txt"
stop_agent
grep -q '^tripline_agent_faults_total{reason="missing_secret"} [1-9]' "$WORK/metrics.txt" ||
    fail "no tripline_agent_faults_total: $(grep agent_faults "$WORK/metrics.txt")"
if grep -q '^tripline_probe_failures_total{probe="secret"' "$WORK/metrics.txt"; then
    fail "an agent fault counted as a probe failure"
fi
grep -q '"bucket":"agent","reason":"missing_secret"' "$WORK/a.log" || fail "no agent fault in the log: $(head -5 "$WORK/a.log")"
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
st = json.load(open(f"{w}/status.json"))
p = st["probes"][0]
errors = []
if p["agent_faults"] < 5: errors.append(f"agent_faults {p['agent_faults']}")
if p["failures"] != 0: errors.append(f"failures {p['failures']}")
if p["escalation"]["level"] != "none": errors.append(f"escalation {p['escalation']}")
if st.get("agent_faults", {}).get("missing_secret", 0) < 5: errors.append(f"agent section: {st.get('agent_faults')}")
events = [l for l in open(f"{w}/a.out") if l.strip()]
if events: errors.append(f"{len(events)} events: {events[0][:300]}")
if errors: print("FAIL:", errors, file=sys.stderr); sys.exit(1)
print("ok: daemon", p["agent_faults"], "agent faults, no incident")
PY
