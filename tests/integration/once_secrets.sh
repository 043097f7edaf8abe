# A secret given through the environment (or a file) appears nowhere in the
# JSON output, the table, stderr or the evidence, even when the server echoes
# it back in its body and the request fails.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP
export PROBE_TOKEN="tok-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
echo -n "file-secret-$RANDOM$RANDOM" >"$WORK/secret.txt"
FILE_SECRET=$(cat "$WORK/secret.txt")

cat >"$WORK/secrets.yaml" <<YAML
probe: leaky
schedule: {every: 1m, timeout: 5s}
vars:
  token: "{{ env.PROBE_TOKEN }}"
  other: "{{ file:$WORK/secret.txt }}"
steps:
  - name: echo
    request:
      method: POST
      url: "$H/echo-headers?api_key={{ token }}&x={{ other }}"
      headers: {Authorization: "Bearer {{ token }}", X-Custom: "{{ other }}"}
      json: {password: "{{ token }}", note: "{{ other }}"}
    expect: {status: 201}
YAML

set +e
"$B/tripline" once --json "$WORK/secrets.yaml" >"$WORK/out.json" 2>"$WORK/err.txt"
rc=$?
"$B/tripline" once "$WORK/secrets.yaml" >"$WORK/table.txt" 2>>"$WORK/err.txt"
set -e
[ "$rc" -eq 1 ] || fail "exit $rc, expected 1: $(cat "$WORK/err.txt")"
grep -q '"evidence"' "$WORK/out.json" || fail "no evidence in the output"
# The server really received the token (it echoes request headers), so the
# body we were sent carried it: redaction, not luck, keeps it out.
for f in out.json table.txt err.txt; do
    if grep -q -- "$PROBE_TOKEN" "$WORK/$f"; then fail "env secret leaked into $f"; fi
    if grep -q -- "$FILE_SECRET" "$WORK/$f"; then fail "file secret leaked into $f"; fi
done
grep -q '\[redacted\]' "$WORK/out.json" || fail "nothing was marked redacted: $(head -c 2000 "$WORK/out.json")"
echo ok
