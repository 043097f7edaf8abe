# `tripline check --json` is UTF-8 whatever the files: a quoted value cut in
# the middle of a character ("bad duration \"ééé...\"") and a file name that
# is not UTF-8 were written as they were, and a CI step that reads the
# errors with a strict JSON reader failed on the line.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

python3 - "$WORK" <<'PY'
import sys
d = sys.argv[1]
body = 'probe: p\nschedule: {every: "' + 'é' * 100 + '"}\nsteps:\n  - {name: a, request: {url: "http://x/"}}\n'
open(d + '/cut.yaml', 'w').write(body)
open(d.encode() + b'/latin1-\xe9t\xe9.yaml', 'wb').write(b'probe: p\nprobe: q\n')
PY
rc=0
"$B/tripline" check --json "$WORK/cut.yaml" "$WORK"/latin1-*.yaml >"$WORK/out.json" 2>"$WORK/err.txt" || rc=$?
[ "$rc" -eq 1 ] || fail "exit $rc, expected 1: $(cat "$WORK/err.txt")"
python3 - "$WORK/out.json" <<'PY'
import json, sys
raw = open(sys.argv[1], "rb").read()
try:
    text = raw.decode("utf-8")
except UnicodeDecodeError as e:
    print(f"invalid UTF-8 at byte {e.start}: {raw[max(0, e.start - 60):e.start + 10]!r}"); sys.exit(1)
lines = [json.loads(l) for l in text.splitlines()]
files = {l["file"] for l in lines if "file" in l}
if not any(f.endswith("cut.yaml") for f in files) or not any("latin1-" in f for f in files):
    print(f"errors of both files expected: {lines}"); sys.exit(1)
print("ok")
PY
