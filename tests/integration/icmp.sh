# icmp steps to loopback inside a network namespace this test creates (unshare -n),
# where it sets net.ipv4.ping_group_range itself: replies from 127.0.0.1 and ::1,
# silence from an address behind a dummy link (upstream, icmp_loss), a budget on
# the round trip, and the kernel refusing ping sockets (range "1 0": bucket agent,
# never the target's fault; `tripline check` warns about it too).
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

PY=/usr/bin/python3
if ! unshare -n true 2>/dev/null; then
    echo "network namespaces are unavailable here (a chroot or a container): skipped" >&2
    exit 77
fi
command -v ip >/dev/null || { echo "iproute2 is not installed: skipped" >&2; exit 77; }

cat >"$WORK/icmp.yaml" <<'YAML'
- probe: lo
  schedule: {every: 1m, timeout: 2s}
  steps:
    - name: ping
      icmp: {host: 127.0.0.1, count: 3, interval: 20ms}
      expect: {icmp: {max_loss: 0, max_rtt: 1s}, json: [{path: $.received, equals: 3}]}
- probe: lo6
  schedule: {every: 1m, timeout: 2s}
  steps:
    - {name: ping, icmp: {host: "::1", count: 2, interval: 10ms}}
- probe: slow
  schedule: {every: 1m, timeout: 2s}
  steps:
    - name: ping
      icmp: {host: 127.0.0.1, count: 1}
      expect: {icmp: {max_rtt: 1us}}
- probe: silent
  schedule: {every: 1m, timeout: 500ms}
  steps:
    - {name: ping, icmp: {host: 10.77.0.2, count: 2, interval: 10ms}}
- probe: no-name
  schedule: {every: 1m, timeout: 2s}
  steps:
    - {name: ping, icmp: {host: no-such-host.invalid}}
YAML
"$B/tripline" check "$WORK/icmp.yaml" >/dev/null 2>"$WORK/check.err" || fail "check: $(cat "$WORK/check.err")"

# in_ns RANGE CMD...: runs CMD in a fresh network namespace with lo up, a dummy
# route for 10.77.0.0/24 out of lo (nothing answers there) and ping_group_range RANGE.
in_ns() {
    local range=$1; shift
    unshare -n sh -c 'ip link set lo up && ip route add 10.77.0.0/24 dev lo &&
        echo "$0" >/proc/sys/net/ipv4/ping_group_range && exec "$@"' "$range" "$@"
}

set +e
in_ns "0 2147483647" "$B/tripline" once --json "$WORK/icmp.yaml" >"$WORK/allowed.json" 2>"$WORK/allowed.err"
rc=$?
in_ns "1 0" "$B/tripline" once --json "$WORK/icmp.yaml" >"$WORK/refused.json" 2>"$WORK/refused.err"
rc2=$?
in_ns "1 0" "$B/tripline" check "$WORK/icmp.yaml" >/dev/null 2>"$WORK/refused-check.err"
rc3=$?
set -e
[ "$rc" -eq 1 ] || fail "allowed: exit $rc, expected 1; stderr: $(cat "$WORK/allowed.err")"
[ "$rc2" -eq 1 ] || [ "$rc2" -eq 3 ] || fail "refused: exit $rc2; stderr: $(cat "$WORK/refused.err")"
[ "$rc3" -eq 0 ] || fail "check is about the file, not the kernel: exit $rc3 $(cat "$WORK/refused-check.err")"
grep -q 'net.ipv4.ping_group_range' "$WORK/refused-check.err" ||
    fail "check does not warn that ping sockets are refused: $(cat "$WORK/refused-check.err")"
grep -q AddressSanitizer "$WORK"/*.err && fail "ASan: $(cat "$WORK"/*.err)"

"$PY" - "$WORK/allowed.json" "$WORK/refused.json" <<'PY'
import json, sys
def runs(path):
    return {r["probe"]: r for r in map(json.loads, open(path))}
allowed, refused = runs(sys.argv[1]), runs(sys.argv[2])
want = {
    "lo": (None, None), "lo6": (None, None),
    "slow": ("budget", "budget"),
    "silent": ("upstream", "icmp_loss"),
    "no-name": ("upstream", "dns"),
}
bad = []
for probe, (bucket, reason) in want.items():
    r = allowed.get(probe)
    if r is None or (r["bucket"], r.get("reason")) != (bucket, reason):
        bad.append("%s: got %s, want %s/%s" % (probe, r and (r["bucket"], r.get("reason"), r["failures"]), bucket, reason))
t = allowed["lo"]["steps"][0]["timings"]
if not t["total_ms"] >= t["ttfb_ms"] > 0:
    bad.append("lo timings: %s" % t)
f = allowed["silent"]["steps"][0]["evidence"]["response"]["facts"]
if (f["sent"], f["received"], f["loss"], f["rtt_ms"]) != (2, 0, 1, None):
    bad.append("silent facts: %s" % f)
if "rtt 0." not in allowed["slow"]["failures"][0] and "icmp rtt" not in allowed["slow"]["failures"][0]:
    bad.append("slow failure: %s" % allowed["slow"]["failures"])
for probe in ("lo", "lo6", "slow", "silent"):
    r = refused.get(probe)
    if r is None or (r["bucket"], r.get("reason")) != ("agent", "icmp_not_permitted"):
        bad.append("refused %s: %s" % (probe, r and (r["bucket"], r.get("reason"))))
    elif "net.ipv4.ping_group_range" not in r["failures"][0]:
        bad.append("refused %s does not name the sysctl: %s" % (probe, r["failures"]))
if bad:
    sys.exit("\n".join(bad))
PY
