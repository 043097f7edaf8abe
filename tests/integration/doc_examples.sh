# Every example in README.md and docs/*.md is checked by the real binary:
# a fenced ```yaml block preceded by <!-- example: probe --> is a whole
# probe file (`tripline check FILE`), <!-- example: config --> a whole agent
# config (`tripline check --config FILE`), <!-- example: fragment --> a part
# of one and <!-- example: other --> another program's file (not checked). An unmarked yaml block is an error, so a new example
# cannot slip by. Lines of ```sh blocks that run `tripline check` are run
# from the source tree. A failure names the doc file and line.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

python3 - "$S" "$WORK" >"$WORK/examples.txt" <<'PY'
import glob, os, re, sys
src, work = sys.argv[1], sys.argv[2]
docs = [os.path.join(src, "README.md")] + sorted(glob.glob(os.path.join(src, "docs", "*.md")))
n = 0
for doc in docs:
    rel = os.path.relpath(doc, src)
    lines = open(doc, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start = m.group(1), m.group(2), i + 1
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        body = [l[len(indent):] if l.startswith(indent) else l for l in lines[i + 1:j]]
        prev = next((lines[k].strip() for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        mark = re.match(r"<!--\s*example:\s*(\w+)\s*-->", prev)
        kind = mark.group(1) if mark else None
        where = f"{rel}:{start}"
        if lang == "yaml":
            if kind not in ("probe", "config", "fragment", "other"):
                print(f"unmarked\t{where}\t-")
            elif kind in ("probe", "config"):
                n += 1
                path = os.path.join(work, f"example-{n}.yaml")
                if kind == "config":
                    # `check --config` opens the files a config names (CA,
                    # tokens, keys): stand-ins here, the same for every doc.
                    def stand_in(m):
                        f = os.path.join(work, f"example-{n}-{m.group(1)}")
                        open(f, "w").write("doc-example-stand-in\n")
                        return f"{m.group(1)}: {f}"
                    body = [re.sub(r"\b(\w+_file):\s*(?!\{)(\S+)", stand_in, l) for l in body]
                open(path, "w").write("\n".join(body) + "\n")
                print(f"{kind}\t{where}\t{path}")
        elif lang == "sh":
            for k, l in enumerate(body):
                cmd = l.split("#")[0].strip()
                if cmd.startswith("tripline check"):
                    print(f"command\t{rel}:{start + k + 1}\t{cmd[len('tripline '):]}")
        i = j + 1
PY

checked=0
while IFS=$'\t' read -r kind where what; do
    case $kind in
    unmarked) fail "$where: yaml block without <!-- example: probe|config|fragment|other --> before it" ;;
    probe) args=(check "$what") ;;
    config) args=(check --config "$what") ;;
    command) read -r -a args <<<"$what" ;; # globs expand below, in the source tree
    esac
    set +e
    # shellcheck disable=SC2068 # a command's globs expand here on purpose
    (cd "$S" && if [ "$kind" = command ]; then "$B/tripline" ${args[@]}; else "$B/tripline" "${args[@]}"; fi) \
        >"$WORK/out.txt" 2>&1
    rc=$?
    set -e
    [ "$rc" -eq 0 ] || fail "$where: tripline ${args[*]} exited $rc: $(cat "$WORK/out.txt")"
    checked=$((checked + 1))
done <"$WORK/examples.txt"
[ "$checked" -ge 6 ] || fail "only $checked doc examples found: the extractor lost them"
echo "doc examples: $checked checked"

# What the README promises of `check --json`: an object per error with its
# position, then a summary; the exit code is the same as without --json.
set +e
"$B/tripline" check --json "$S/tests/data/broken/hint-schedule-scalar.yaml" "$S/probes/examples/latency.yaml" \
    >"$WORK/check.json" 2>"$WORK/check.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "check --json: exit $rc, expected 1"
python3 - "$WORK/check.json" <<'PY' || fail "check --json: $(cat "$WORK/check.json")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
err, summary = rows[0], rows[-1]["summary"]
assert err["file"].endswith("hint-schedule-scalar.yaml") and err["line"] == 2 and err["column"] == 11, err
assert "did you mean schedule: {every: 30s}" in err["message"], err
assert summary == {"files": 2, "ok": 1, "failed": 1, "errors": 1, "exit": 1}, summary
PY

# The once table: a long name is cut with an ellipsis, and a request that got
# no answer shows "-" for TTFB, not 0.0ms.
cat >"$WORK/long.yaml" <<'YAML'
probe: a-probe-name-far-longer-than-the-table-column
schedule: {every: 1m, timeout: 2s}
steps:
  - name: a-step-name-longer-than-sixteen
    request: {url: "http://127.0.0.1:1/v1/health"}
YAML
set +e
"$B/tripline" once "$WORK/long.yaml" >"$WORK/table.txt" 2>&1
set -e
row=$(grep '^a-probe' "$WORK/table.txt") || fail "no row: $(cat "$WORK/table.txt")"
case $row in "a-probe-name-far-long… a-step-name-lon… "*) ;; *) fail "names not cut: $row" ;; esac
read -r -a f <<<"$row"
[ "${f[5]}" = "-" ] || fail "TTFB of a refused request is \"${f[5]}\", expected -: $row"
echo "check --json and the once table: ok"
