# The Prometheus rules shipped in packaging/: promtool accepts them, their
# unit tests pass, and they work on what real agents export: two agents in
# two regions failing the same probe fire TriplineProbeFailingInRegions for
# that probe and no other.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

RULES=$S/packaging/tripline-rules.yml
promtool check rules "$RULES" >"$WORK/check.txt" 2>&1 || fail "promtool check rules: $(cat "$WORK/check.txt")"
grep -q "SUCCESS: 3 rules found" "$WORK/check.txt" || fail "unexpected: $(cat "$WORK/check.txt")"
promtool test rules "$S/packaging/tripline-rules.test.yml" >"$WORK/test.txt" 2>&1 ||
    fail "promtool test rules: $(cat "$WORK/test.txt")"
echo "ok: promtool check rules and test rules"

line=$(start_fixture demo_api --port 0)
API=${line#listening on }
cat >"$WORK/probes.yaml" <<YAML
- probe: reports
  schedule: {every: 200ms, timeout: 150ms}
  steps: [{name: get, request: {url: "$API/v1/reports"}, expect: {status: 200}}]
- probe: health
  schedule: {every: 200ms, timeout: 150ms}
  steps: [{name: get, request: {url: "$API/v1/health"}, expect: {status: 200}}]
YAML
for region in eu-west us-east; do
    start_agent "$region" --region "$region" --spool-dir "$WORK/spool-$region" "$WORK/probes.yaml"
    end=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$end" ]; do
        curl -fsS "$AGENT_URL/metrics" >"$WORK/$region.prom"
        # both probes have run: health passed, reports failed at least once
        grep -q '^tripline_probe_success{probe="health",.*} 1$' "$WORK/$region.prom" &&
            grep -q '^tripline_probe_failures_total{probe="reports",' "$WORK/$region.prom" && break
        sleep 0.1
    done
    stop_agent
done

# Feed the scraped samples, as Prometheus would have stored them over three
# minutes, to the shipped rules.
python3 - "$WORK" "$RULES" <<'PY'
import json, re, sys
work, rules = sys.argv[1], sys.argv[2]
series = []
for region in ("eu-west", "us-east"):
    for line in open(f"{work}/{region}.prom"):
        m = re.fullmatch(r'(tripline_probe_success)\{(.*)\} (\S+)\n', line)
        if not m:
            continue
        labels = m.group(2) + f',job="tripline",instance="{region}:9464"'
        series.append((f"{m.group(1)}{{{labels}}}", float(m.group(3))))
want = {('reports', 'eu-west', 0.0), ('reports', 'us-east', 0.0), ('health', 'eu-west', 1.0), ('health', 'us-east', 1.0)}
got = {(re.search(r'probe="([^"]*)"', s).group(1), re.search(r'region="([^"]*)"', s).group(1), v) for s, v in series}
if got != want:
    sys.exit(f"scraped tripline_probe_success: {sorted(got)}, want {sorted(want)}")
with open(f"{work}/live.test.yml", "w") as f:
    f.write(f"rule_files: ['{rules}']\nevaluation_interval: 15s\ntests:\n  - interval: 15s\n    input_series:\n")
    for s, v in series:
        f.write(f"      - series: '{s}'\n        values: '{v:g}x12'\n")
    f.write("    alert_rule_test:\n      - eval_time: 2m\n        alertname: TriplineProbeFailingInRegions\n"
            "        exp_alerts:\n          - exp_labels: {probe: reports, severity: critical}\n"
            "            exp_annotations:\n              summary: 'reports is failing in 2 regions'\n")
    desc = ("Probe reports has failed in 2 regions for at least a minute: the service itself is likely down, "
            "not one region's network. Per-region detail: tripline_probe_success{probe=\"reports\"}.")
    f.write(f"              description: {json.dumps(desc)}\n")
PY
promtool test rules "$WORK/live.test.yml" >"$WORK/live.txt" 2>&1 ||
    fail "the rules on real agent metrics: $(cat "$WORK/live.txt")"
echo "ok: the rules fire on two real agents' metrics"
