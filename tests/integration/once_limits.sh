# `tripline once` honours limits.per_host as the daemon does: four slow probes
# against one host never overlap with per_host: 1 and do with per_host: 4,
# while a probe against another host name runs beside them either way.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

PORT=$(start_fixture demo_api --port 0 | sed 's/^listening on http:\/\/127.0.0.1://')
[ -n "$PORT" ] || fail "demo_api did not say its port"

{
    for i in 1 2 3 4; do
        echo "- probe: slow-$i"
        echo "  steps:"
        echo "    - {name: wait, request: {url: \"http://127.0.0.1:$PORT/v1/slow?ms=400\"}, expect: {status: 200}}"
    done
    # Another host name for the same server: its own per-host count.
    echo "- probe: other-host"
    echo "  steps:"
    echo "    - {name: wait, request: {url: \"http://localhost:$PORT/v1/slow?ms=400\"}, expect: {status: 200}}"
} >"$WORK/slow.yaml"

# peak OUT: the most runs of one host (127.0.0.1) in flight at once, and
# whether other-host overlapped any of them, from started_at + duration_ms.
peak() {
    python3 - "$1" <<'PY'
import json, sys, datetime
runs = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    t = datetime.datetime.strptime(r["started_at"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000
    runs.append((r["probe"], t, t + r["duration_ms"]))
one = [r for r in runs if r[0] != "other-host"]
other = [r for r in runs if r[0] == "other-host"][0]
# 2 ms of slack: started_at is in whole milliseconds
best = max(sum(1 for q in one if q[1] < p[1] + 2 and p[1] < q[2] - 2) for p in one)
beside = any(q[1] < other[2] - 2 and other[1] < q[2] - 2 for q in one)
print(best, "beside" if beside else "alone")
PY
}

for n in 1 4; do
    printf 'limits: {concurrency: 16, per_host: %s}\n' "$n" >"$WORK/c$n.yaml"
    "$B/tripline" once --json --config "$WORK/c$n.yaml" "$WORK/slow.yaml" >"$WORK/out$n.json" 2>"$WORK/err$n.txt" ||
        fail "once with per_host $n: $(cat "$WORK/err$n.txt")"
    [ "$(wc -l <"$WORK/out$n.json")" -eq 5 ] || fail "expected 5 results: $(cat "$WORK/out$n.json")"
done
read -r p1 b1 <<<"$(peak "$WORK/out1.json")"
read -r p4 b4 <<<"$(peak "$WORK/out4.json")"
[ "$p1" -eq 1 ] || fail "per_host 1: $p1 runs against one host overlapped"
[ "$p4" -ge 2 ] || fail "per_host 4: runs against one host never overlapped"
[ "$b1" = beside ] || fail "per_host 1 held back a run against another host"
echo "ok: peak $p1 ($b1) with per_host 1, $p4 ($b4) with per_host 4"
