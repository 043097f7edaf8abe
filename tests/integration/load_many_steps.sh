# A probe file of many steps (40,000 short ones fit the 2 MiB cap) loads in
# time linear in them: the duplicate step-name check compared every pair,
# 36 s of `tripline check` (ASan) and of the daemon's loop at each reload.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

python3 - "$WORK/steps.yaml" "$WORK/dup.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("probe: p\nsteps:\n")
    for i in range(40000):
        f.write(f'  - {{name: s{i}, request: {{url: "http://h/"}}}}\n')
with open(sys.argv[2], "w") as f:
    f.write("probe: p\nsteps:\n")
    for i in range(3000):
        f.write(f'  - {{name: s{i % 2000}, request: {{url: "http://h/"}}}}\n')
PY
start=$SECONDS
timeout 120 "$B/tripline" check "$WORK/steps.yaml" >"$WORK/out.txt" 2>&1 || fail "check failed: $(tail -3 "$WORK/out.txt")"
took=$((SECONDS - start))
[ "$took" -le 12 ] || fail "check of 40,000 steps took $took s"
# duplicates are still found, each against its first use
rc=0
"$B/tripline" check "$WORK/dup.yaml" >"$WORK/dup.txt" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "duplicate names: exit $rc"
[ "$(grep -c 'is used twice' "$WORK/dup.txt")" -eq 1000 ] || fail "expected 1000 duplicates: $(head -3 "$WORK/dup.txt")"
grep -q 'dup.yaml:2003:5: steps\[2000\]: step name "s0" is used twice (first at line 3)' "$WORK/dup.txt" ||
    fail "the first duplicate: $(head -2 "$WORK/dup.txt")"
echo "ok: $took s"
