# SIGHUP reload: unchanged probes keep their state, changed ones restart,
# removed ones stop, new ones start, a broken file keeps its last good
# version (the error logged with file:line:column). SIGTERM in the middle of
# a run drains it. Probes spread over their interval.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP

probe() { # id path
    printf -- '- probe: %s\n  schedule: {every: 200ms, timeout: 150ms}\n  steps: [{name: get, request: {url: "%s%s"}}]\n' "$1" "$H" "$2"
}
{ probe a /ok; probe b /ok; } >"$WORK/f1.yaml"
probe c /ok >"$WORK/f2.yaml"
start_agent r --spool-dir "$WORK/spool" "$WORK/f1.yaml" "$WORK/f2.yaml"
for p in a b c; do wait_until "six runs of $p" 30 runs_at_least "$AGENT_URL" $p 6; done
curl -fsS "$AGENT_URL/status" >"$WORK/s1.json"

{ probe a /ok; probe b "/delay?ms=5"; probe d /ok; } >"$WORK/f1.yaml"
printf -- '- probe: c\n  schedule: {every: 200ms, timout: 150ms}\n  steps: [{name: get, request: {url: "%s/ok"}}]\n' "$H" >"$WORK/f2.yaml"
a1=$(python3 -c 'import json,sys; print([p for p in json.load(open(sys.argv[1]))["probes"] if p["probe"] == "a"][0]["runs"])' "$WORK/s1.json")
c1=$(python3 -c 'import json,sys; print([p for p in json.load(open(sys.argv[1]))["probes"] if p["probe"] == "c"][0]["runs"])' "$WORK/s1.json")
kill -HUP "$AGENT_PID"
wait_until "the first reload" 30 metric_at_least "$AGENT_URL" tripline_reloads_total 1
# b restarts from zero: it runs about as often as a does from here, fewer than before
wait_until "four more runs of a" 30 runs_at_least "$AGENT_URL" a $((a1 + 4))
wait_until "d running" 30 runs_at_least "$AGENT_URL" d 1
wait_until "c still running" 30 runs_at_least "$AGENT_URL" c $((c1 + 1))
curl -fsS "$AGENT_URL/status" >"$WORK/s2.json"

probe a /ok >"$WORK/f1.yaml"
kill -HUP "$AGENT_PID"
wait_until "the second reload" 30 metric_at_least "$AGENT_URL" tripline_reloads_total 2
curl -fsS "$AGENT_URL/status" >"$WORK/s3.json"
curl -fsS "$AGENT_URL/metrics" >"$WORK/m3.txt"
stop_agent

python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
s1, s2, s3 = ({p["probe"]: p for p in json.load(open(f"{w}/s{i}.json"))["probes"]} for i in (1, 2, 3))
errors = []
if set(s1) != {"a", "b", "c"}: errors.append(f"before: {sorted(s1)}")
if set(s2) != {"a", "b", "c", "d"}: errors.append(f"after reload: {sorted(s2)}")
if set(s3) != {"a", "c"}: errors.append(f"after removing b and d: {sorted(s3)}")
if not s2["a"]["runs"] > s1["a"]["runs"] + 3: errors.append(f"a lost its state: {s1['a']['runs']} -> {s2['a']['runs']}")
if not s2["b"]["runs"] < s1["b"]["runs"] + 3: errors.append(f"b was changed but kept its state: {s1['b']['runs']} -> {s2['b']['runs']}")
if "delay" not in json.dumps(s2["b"]["last"]) and s2["b"]["runs"] > 0 and s2["b"]["last"]["ok"] is False:
    errors.append("b does not run its new definition")
if s2["c"]["runs"] <= s1["c"]["runs"]: errors.append("c (broken file, last good kept) stopped running")
log = open(f"{w}/r.log").read()
if "f2.yaml:2:" not in log or "timout" not in log or "did you mean" not in log:
    errors.append("the reload error with file:line:column is not in the log")
if "keeping its last good version" not in log: errors.append("no 'last good version' line")
# the reload lines count each probe once: b changed (not "added":-1), d added, then b and d removed
reloads = [json.loads(l) for l in log.splitlines() if '"msg":"reloaded probe files"' in l]
got = [(r.get("changed"), r.get("added"), r.get("removed")) for r in reloads]
if got != [(1, 1, 0), (0, 0, 2)]: errors.append(f"reload counts (changed, added, removed): {got}")
rej = json.load(open(f"{w}/s2.json")).get("files", {}).get("rejected", [])
if [(r["file"].endswith("/f2.yaml"), r["last_good"]) for r in rej] != [(True, True)]: errors.append(f"/status files: {rej}")
m = open(f"{w}/m3.txt").read()
if 'probe="b"' in m or 'probe="d"' in m: errors.append("removed probes still in /metrics")
# f2 stays broken through both reloads
if "tripline_reload_errors_total 2" not in m or "tripline_reloads_total 2" not in m: errors.append("reloads not counted")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok: runs a", s1["a"]["runs"], "->", s2["a"]["runs"], "; b", s1["b"]["runs"], "->", s2["b"]["runs"])
PY

# SIGTERM while a run is in flight: the run finishes, then the agent exits 0.
printf -- '- probe: long\n  schedule: {every: 3s, timeout: 2500ms}\n  steps: [{name: get, request: {url: "%s/delay?ms=1200"}}]\n' "$H" >"$WORK/long.yaml"
# the drained run shows as its "probe ok" line, a debug line
start_agent t --spool-dir "$WORK/spool3" --log-level debug "$WORK/long.yaml"
for _ in $(seq 60); do
    curl -fsS "$AGENT_URL/status" | grep -q '"running":true' && break
    sleep 0.1
done
curl -fsS "$AGENT_URL/status" | grep -q '"running":true' || fail "the long run never started"
stop_agent
python3 - "$WORK/t.log" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
msgs = [l["msg"] for l in lines]
d = msgs.index(next(m for m in msgs if m.startswith("draining")))
after = [l for l in lines[d:] if l.get("probe") == "long" and "ok" in l]
if not after or after[0]["ok"] is not True:
    print("the in-flight run did not finish during the drain:", msgs); sys.exit(1)
if "drained: stopping" not in msgs[d:]:
    print("no clean drain:", msgs); sys.exit(1)
print("ok: drained a run of", after[0]["duration_ms"], "ms")
PY

# Spread: 60 probes at a 2 s interval start at stable offsets across it,
# not all at once.
: >"$WORK/spread.yaml"
for i in $(seq 60); do
    printf -- '- probe: p%s\n  schedule: {every: 2s, timeout: 1s}\n  steps: [{name: get, request: {url: "%s/ok"}}]\n' "$i" "$H" >>"$WORK/spread.yaml"
done
# every run's time comes from its debug line ("probe ok" is debug)
start_agent s --spool-dir "$WORK/spool4" --log-level debug "$WORK/spread.yaml"
first_runs() { # distinct probes with a first run logged
    grep '"msg":"probe ok"' "$WORK/s.log" | grep -o '"probe":"p[0-9]*"' | sort -u | wc -l
}
all_ran() { [ "$(first_runs)" -ge 60 ]; }
wait_until "every probe's first run" 30 all_ran
stop_agent
python3 - "$WORK/s.log" <<'PY'
import json, sys, datetime
first = {}
for l in open(sys.argv[1]):
    if not l.startswith("{"): continue
    r = json.loads(l)
    if r.get("msg") == "probe ok" and r["probe"] not in first:
        first[r["probe"]] = datetime.datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp()
if len(first) < 55:
    print("only", len(first), "probes ran"); sys.exit(1)
t0 = min(first.values())
offs = sorted(v - t0 for v in first.values())
buckets = [0] * 10
for o in offs: buckets[min(int(o / 0.2), 9)] += 1
if offs[-1] < 1.2 or max(buckets) > 20:
    print("not spread over the interval:", buckets); sys.exit(1)
print("ok: first runs per 200 ms slice:", buckets)
PY
