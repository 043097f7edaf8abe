# What a hostile server sends that is not UTF-8 (issue fields, a JSON body's
# keys and strings, a WebSocket frame after a 101, a binary 500 body) never
# reaches a JSON output as invalid UTF-8: `once --json`, the agent's /status
# and its events stay parseable by a strict reader, the bytes replaced by U+FFFD.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP

for p in bad-utf8-issues switch junk; do
    cat <<YAML
- probe: $p
  schedule: {every: 500ms, timeout: 400ms}
  steps:
    - {name: get, request: {url: "$H/$p"}, expect: {status: 200}}
  escalation:
    ladder: [{level: warning, when: {consecutive_failures: 1}}]
YAML
done >"$WORK/utf8.yaml"

set +e
"$B/tripline" once --json "$WORK/utf8.yaml" >"$WORK/once.json" 2>"$WORK/err.txt"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "once exited $rc, expected 1: $(cat "$WORK/err.txt")"

cat >"$WORK/config.yaml" <<YAML
spool: {dir: $WORK/spool}
sinks: {file: $WORK/events.jsonl}
YAML
opened() { [ "$(log_count "$WORK/events.jsonl" '"transition":"opened"')" -ge 3 ]; }
start_agent utf8 --config "$WORK/config.yaml" "$WORK/utf8.yaml"
wait_until "three incidents opened" 30 opened
status_to "$AGENT_URL" "$WORK/status.json"
stop_agent

python3 - "$WORK/once.json" "$WORK/status.json" "$WORK/events.jsonl" <<'PY'
import json, sys
errors = []
for path in sys.argv[1:]:
    raw = open(path, "rb").read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        errors.append(f"{path}: invalid UTF-8 at byte {e.start}: {raw[max(0, e.start - 80):e.start + 20]!r}")
        continue
    for line in text.splitlines():
        json.loads(line)
once = {r["probe"]: r for r in map(json.loads, open(sys.argv[1], encoding="utf-8", errors="replace"))}
f = " ".join(once.get("bad-utf8-issues", {}).get("failures", []))
if "\ufffd" not in f:
    errors.append(f"bad-utf8-issues: the invalid bytes are not replaced in the failures: {f}")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok")
PY
