# Sharding: two agents of one region, `shard: 0/2` and `shard: 1/2`, split
# the region's probes so that every probe runs on exactly one of them.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture demo_api --port 0)
API=${line#listening on }

: >"$WORK/probes.yaml"
for i in $(seq 20); do
    cat >>"$WORK/probes.yaml" <<YAML
- probe: health-$i
  schedule: {every: 500ms, timeout: 400ms}
  steps: [{name: get, request: {url: "$API/v1/health"}, expect: {status: 200}}]
YAML
done
# One probe of another region: no shard may take it.
cat >>"$WORK/probes.yaml" <<YAML
- probe: elsewhere
  regions: [mars]
  steps: [{name: get, request: {url: "$API/v1/health"}}]
YAML

for i in 0 1; do
    printf 'region: eu-west\nname: shard-%s\nshard: %s/2\nspool: {dir: %s}\n' \
        "$i" "$i" "$WORK/spool-$i" >"$WORK/shard-$i.yaml"
    start_agent "shard-$i" --config "$WORK/shard-$i.yaml" "$WORK/probes.yaml"
    eval "URL_$i=\$AGENT_URL PID_$i=\$AGENT_PID"
done
listed() { # every probe of the region is on one shard's /status
    local n
    n=$(for u in "$URL_0" "$URL_1"; do curl -fsS "$u/status"; done | grep -o '"probe":"health-[0-9]*"' | sort -u | wc -l)
    [ "$n" -ge 20 ]
}
wait_until "the twenty probes listed" 30 listed
curl -fsS "$URL_0/status" >"$WORK/status-0.json"
curl -fsS "$URL_1/status" >"$WORK/status-1.json"
AGENT_PID=$PID_0; stop_agent
AGENT_PID=$PID_1; stop_agent

python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
owned = [[p["probe"] for p in json.load(open(f"{w}/status-{i}.json"))["probes"]] for i in (0, 1)]
errors = []
want = {f"health-{i}" for i in range(1, 21)}
for i in (0, 1):
    if "elsewhere" in owned[i]: errors.append(f"shard {i} runs a probe of region mars")
    if not owned[i]: errors.append(f"shard {i} runs nothing: the split proves nothing")
both = set(owned[0]) & set(owned[1])
if both: errors.append(f"run by both shards: {sorted(both)}")
missing = want - set(owned[0]) - set(owned[1])
if missing: errors.append(f"run by no shard: {sorted(missing)}")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok: shard 0 runs", len(owned[0]), "probes, shard 1 runs", len(owned[1]))
PY

# A bad shard on the command line's config is a start-up error, not a silent
# "run everything".
printf 'shard: 2/2\nspool: {dir: %s}\n' "$WORK/spool-bad" >"$WORK/bad.yaml"
rc=0
"$B/tripline" run --listen 127.0.0.1:0 --config "$WORK/bad.yaml" "$WORK/probes.yaml" \
    >"$WORK/bad.out" 2>"$WORK/bad.log" &
bad=$!
PIDS+=($bad)
bad_exited() { ! kill -0 "$bad" 2>/dev/null; }
wait_until "the agent with shard 2/2 to exit" 30 bad_exited
wait "$bad" || rc=$?
[ "$rc" -ne 0 ] || fail "shard 2/2 exited 0"
grep -q 'shard' "$WORK/bad.log" || fail "no word of the shard in: $(cat "$WORK/bad.log")"
echo "ok: bad shard refused"
