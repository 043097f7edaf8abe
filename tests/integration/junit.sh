# `tripline once --junit FILE`: a JUnit report that validates against the
# schema CI servers read (tests/data/junit.xsd), one testsuite per file, one
# testcase per probe, API failures as <failure>, agent faults as <error>;
# a hostile body (control bytes, "]]>", invalid UTF-8) and secrets echoed
# into failure messages must neither break the file nor leak.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"
command -v xmllint >/dev/null || { echo "skipped: no xmllint (libxml2-utils)"; exit 77; }

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP
export PROBE_TOKEN="tok-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
unset JUNIT_UNSET_VAR || true

cat >"$WORK/api.yaml" <<YAML
- probe: healthy
  schedule: {every: 1m, timeout: 5s}
  steps:
    - name: get
      request: {url: "$H/ok"}
    - name: again
      request: {url: "$H/ok"}
- probe: hostile
  schedule: {every: 1m, timeout: 5s}
  steps:
    - name: junk
      request: {url: "$H/junk"}
      expect: {status: 200, body: {contains: "never"}}
    - name: after
      request: {url: "$H/ok"}
- probe: leaky
  schedule: {every: 1m, timeout: 5s}
  vars: {token: "{{ env.PROBE_TOKEN }}"}
  steps:
    - name: echo
      request:
        url: "$H/echo-headers"
        headers: {Authorization: "Bearer {{ token }}"}
      expect:
        json: [{path: "$.Authorization", equals: "something else"}]
- probe: no-secret
  schedule: {every: 1m, timeout: 5s}
  vars: {token: "{{ env.JUNIT_UNSET_VAR }}"}
  steps:
    - name: get
      request: {url: "$H/ok?t={{ token }}"}
YAML
cat >"$WORK/other.yaml" <<YAML
probe: other-file
schedule: {every: 1m, timeout: 5s}
steps:
  - name: get
    request: {url: "$H/ok"}
YAML

set +e
"$B/tripline" once --json "$WORK/api.yaml" "$WORK/other.yaml" >"$WORK/plain.json" 2>/dev/null
plain_rc=$?
"$B/tripline" once --json --junit "$WORK/report.xml" "$WORK/api.yaml" "$WORK/other.yaml" \
    >"$WORK/out.json" 2>"$WORK/err.txt"
rc=$?
"$B/tripline" once --junit "$WORK/table.xml" "$WORK/other.yaml" >"$WORK/table.txt" 2>>"$WORK/err.txt"
table_rc=$?
"$B/tripline" once --junit "$WORK/no/such/dir/r.xml" "$WORK/other.yaml" >/dev/null 2>"$WORK/nodir.txt"
nodir_rc=$?
set -e
[ "$rc" -eq 1 ] && [ "$rc" -eq "$plain_rc" ] || fail "exit $rc with --junit, $plain_rc without (want 1): $(cat "$WORK/err.txt")"
[ "$table_rc" -eq 0 ] || fail "passing run with --junit exited $table_rc"
grep -q "other-file" "$WORK/table.txt" || fail "the table is gone with --junit"
xmllint --noout --schema "$S/tests/data/junit.xsd" "$WORK/report.xml" 2>"$WORK/xmllint.txt" ||
    fail "report does not validate: $(cat "$WORK/xmllint.txt")"
xmllint --noout --schema "$S/tests/data/junit.xsd" "$WORK/table.xml" || fail "table.xml does not validate"
[ "$nodir_rc" -eq 2 ] && grep -q "cannot write the JUnit report" "$WORK/nodir.txt" ||
    fail "unwritable report: exit $nodir_rc, $(cat "$WORK/nodir.txt")"
ls "$WORK" | grep -q '\.tmp\.' && fail "a temporary file was left behind: $(ls "$WORK")"
if grep -q -- "$PROBE_TOKEN" "$WORK/report.xml"; then fail "the secret leaked into the JUnit report"; fi

python3 - "$WORK/report.xml" "$WORK/out.json" "$WORK/api.yaml" "$WORK/other.yaml" <<'PY'
import json, sys, xml.etree.ElementTree as ET
report, out, api, other = sys.argv[1:]
root = ET.parse(report).getroot()
errors = []
def want(cond, msg):
    if not cond: errors.append(msg)
want(root.tag == "testsuites", f"root is {root.tag}")
want((root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "2", "1"),
     f"totals {root.attrib}")
suites = root.findall("testsuite")
want([s.get("name") for s in suites] == [api, other], f"suites {[s.get('name') for s in suites]}")
s0 = suites[0]
want((s0.get("tests"), s0.get("failures"), s0.get("errors"), s0.get("skipped")) == ("4", "2", "1", "0"),
     f"suite totals {s0.attrib}")
want(s0.get("timestamp") and s0.get("hostname"), "timestamp or hostname missing")
cases = {c.get("name"): c for c in s0.findall("testcase")}
want(list(cases) == ["healthy", "hostile", "leaky", "no-secret"], f"cases {list(cases)}")
for c in cases.values():
    want(c.get("classname") == api, f"{c.get('name')}: classname {c.get('classname')}")
    want(float(c.get("time")) >= 0, f"{c.get('name')}: time {c.get('time')}")
h = cases["healthy"]
want(h.find("failure") is None and h.find("error") is None, "healthy has a verdict element")
so = h.find("system-out").text
want("step get: ok" in so and "step again: ok" in so, f"healthy steps not listed: {so}")
f = cases["hostile"].find("failure")
want(f is not None and f.get("type") == "server", "hostile: no failure of type server")
if f is not None:
    want(f.get("message", "").startswith("server/status_500: step junk: status 500"), f"message {f.get('message')}")
    want("body" in f.text and "status 500" in f.text, f"not every failed check in the text: {f.text}")
so = cases["hostile"].find("system-out").text
want("]]>" in so and "\ufffd" in so, "the hostile body is not in the evidence, escaped and replaced")
want("step after: skipped" in so, "the skipped step is not listed")
want(cases["leaky"].find("failure") is not None, "leaky did not fail")
e = cases["no-secret"].find("error")
want(e is not None and e.get("type") == "agent" and cases["no-secret"].find("failure") is None,
     "an agent fault is not an <error>")
want(e is not None and e.get("message", "").startswith("agent/missing_secret"), "error message")
# --json on stdout is unchanged by --junit
runs = [json.loads(l) for l in open(out, encoding="utf-8", errors="replace")]
want([r["probe"] for r in runs] == ["healthy", "hostile", "leaky", "no-secret", "other-file"], "json lines")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok: report of", root.get("tests"), "tests validates")
PY
