# An error about a file a config names (the CA bundle, the /status token,
# the service sink's token and HMAC key, the peers' key, a probe's secret
# `file:` var) says where the config named it: FILE:LINE:COLUMN of the key's
# value, like every other config error. It said only "sinks.service.token_file:
# cannot open ...", leaving the user to search the file.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

cat >"$WORK/cfg.yaml" <<YAML
region: eu
probes: [$WORK/none/*.yaml]
endpoint:
  status_token_file: $WORK/none/status.token
sinks:
  service:
    url: http://127.0.0.1:1/events
    token_file: $WORK/none/token
    hmac_key_file: $WORK/none/key
peers:
  key_file: $WORK/none/peers.key
  urls: [http://127.0.0.1:2]
tls:
  ca_file: $WORK/none/ca.pem
YAML
set +e
"$B/tripline" check --config "$WORK/cfg.yaml" >"$WORK/check.out" 2>&1
rc=$?
"$B/tripline" check --json --config "$WORK/cfg.yaml" >"$WORK/check.json" 2>"$WORK/check.err"
set -e
[ "$rc" -eq 1 ] || fail "check: exit $rc, want 1: $(cat "$WORK/check.out")"
for want in "4:22: endpoint.status_token_file" "8:17: sinks.service.token_file" \
    "9:20: sinks.service.hmac_key_file" "11:13: peers.key_file" "14:12: tls.ca_file"; do
    grep -qF "$WORK/cfg.yaml:$want: " "$WORK/check.out" || fail "no \"cfg.yaml:$want\" in: $(cat "$WORK/check.out")"
done
python3 - "$WORK/check.json" <<'PY'
import json, sys
errs = [json.loads(l) for l in open(sys.argv[1]) if '"summary"' not in l]
bad = [e for e in errs if not isinstance(e.get("line"), int) or not isinstance(e.get("column"), int)]
if len(errs) != 5 or bad:
    print(f"check --json: {errs}"); sys.exit(1)
PY

# `run` stops on the token and key files too (as the sinks, endpoint and peers would), there.
rc=0
timeout 60 "$B/tripline" run --config "$WORK/cfg.yaml" --listen 127.0.0.1:0 --spool-dir "$WORK/spool" \
    >/dev/null 2>"$WORK/run.err" || rc=$?
[ "$rc" -eq 2 ] || fail "run: exit $rc, want 2: $(cat "$WORK/run.err")"
grep -qF "$WORK/cfg.yaml:8:17: sinks.service.token_file: cannot open" "$WORK/run.err" ||
    fail "run: no position: $(cat "$WORK/run.err")"
! grep -q "tls.ca_file" "$WORK/run.err" || fail "run: a missing CA bundle stops the start: $(cat "$WORK/run.err")"

# A probe's secret file: var that cannot be read, at run time.
cat >"$WORK/p.yaml" <<YAML
probe: files
vars:
  tok: "{{ file:$WORK/none/tok }}"
steps:
  - {name: get, request: {url: "http://127.0.0.1:1/x", headers: {X-T: "{{ tok }}"}}}
YAML
cat >"$WORK/q.yaml" <<YAML
probe: step-files
steps:
  - name: get
    request: {url: "http://127.0.0.1:1/x",
              headers: {X-T: "{{ file:$WORK/none/tok2 }}"}}
YAML
set +e
"$B/tripline" once --json "$WORK/p.yaml" "$WORK/q.yaml" >"$WORK/once.json" 2>"$WORK/once.err"
rc=$?
set -e
[ "$rc" -eq 3 ] || fail "once: exit $rc, want 3: $(cat "$WORK/once.json" "$WORK/once.err")"
grep -qF "$WORK/p.yaml:3:8: vars.tok: cannot open the secret file" "$WORK/once.json" ||
    fail "no position for the var's file: $(cat "$WORK/once.json")"
grep -qF "$WORK/q.yaml:5:30: " "$WORK/once.json" ||
    fail "no position for the header's file: $(cat "$WORK/once.json")"
