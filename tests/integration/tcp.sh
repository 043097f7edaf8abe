# tcp steps against the tcp_banner fixture on loopback (tests/fixtures/tcp_banner.py):
# a Redis-like PING, an SMTP-like banner, silence, a reset, a flood and TLS
# with a certificate made here. Every outcome lands in its bucket and reason
# through `tripline once --json`, the evidence carries the facts with the
# secrets sent redacted, and the daemon shows tcp steps on /metrics and /status.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || { echo "python3 is not installed: skipped" >&2; exit 77; }
command -v openssl >/dev/null || { echo "openssl is not installed: skipped" >&2; exit 77; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
"$PY" "$S/tests/fixtures/tcp_banner.py" --cert "$WORK/cert.pem" --key "$WORK/key.pem" >"$WORK/fx.out" 2>"$WORK/fx.err" &
PIDS+=($!)
wait_until "the fixture to listen" 30 grep -qs 'tls=' "$WORK/fx.out"
port() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" "$WORK/fx.out"; }
PING=$(port ping) SMTP=$(port smtp) SILENT=$(port silent) RESET=$(port reset) FLOOD=$(port flood)
CLOSE=$(port close) TLS=$(port tls)
# a port nobody listens on
REFUSED=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

step() { # probe-id tcp-block [extra step lines]
    printf -- '- probe: %s\n  schedule: {every: 1m, timeout: 2s}\n  steps:\n    - name: talk\n      tcp: %s\n%s' "$1" "$2" "${3:-}"
}
{
    step ping "{host: 127.0.0.1, port: $PING, exchange: [{send: \"PING\\r\\n\"}, {expect: \"+PONG\"}]}" \
"      expect: {json: [{path: \$.received, matches: PONG}], body: {contains: PONG}, budget: {total: 1500ms}}
"
    step smtp "{host: localhost, port: $SMTP, exchange: [{expect: {matches: \"^220 .*ESMTP\"}}, {send: \"QUIT\\r\\n\"}, {expect: \"221\"}]}"
    step connect-only "{host: 127.0.0.1, port: $SILENT}"
    step tls-ok "{host: 127.0.0.1, port: $TLS, tls: {server_name: localhost, ca_file: \"$WORK/cert.pem\"}, exchange: [{send: \"PING\\r\\n\"}, {expect: \"+PONG\"}]}" \
"      expect: {json: [{path: \$.tls.protocol, matches: \"^TLSv1\"}]}
"
    step refused "{host: 127.0.0.1, port: $REFUSED}"
    step no-such-name "{host: no-such-host.invalid, port: 25}"
    step silent "{host: 127.0.0.1, port: $SILENT, exchange: [{expect: banner}]}"
    step reset "{host: 127.0.0.1, port: $RESET, exchange: [{expect: banner}]}"
    step flood "{host: 127.0.0.1, port: $FLOOD, exchange: [{expect: never}]}"
    step closed "{host: 127.0.0.1, port: $CLOSE, exchange: [{expect: banner}]}"
    step wrong-reply "{host: 127.0.0.1, port: $PING, exchange: [{send: \"HELLO\\r\\n\"}, {expect: \"+PONG\"}]}"
    step tls-unverified "{host: localhost, port: $TLS, tls: true}"
    step tls-no-ca "{host: 127.0.0.1, port: $TLS, tls: {ca_file: /nonexistent/ca.pem}}"
    step slow-budget "{host: 127.0.0.1, port: $PING, exchange: [{send: \"PING\\r\\n\"}, {expect: \"+PONG\"}]}" \
"      expect: {budget: {total: 1us}}
"
    cat <<YAML
- probe: secret-echo
  vars: {token: "{{ env.TCP_TOKEN }}"}
  steps:
    - name: auth
      # QUIT: the server closes after the echo, so the unmet expect ends at once
      # (contract/check with the bytes seen), however slow the machine
      tcp: {host: 127.0.0.1, port: $PING, exchange: [{send: "ECHO {{ token }}\r\nQUIT\r\n"}, {expect: "+OK"}]}
YAML
} >"$WORK/tcp.yaml"

"$B/tripline" check "$WORK/tcp.yaml" >/dev/null 2>"$WORK/check.err" || fail "check: $(cat "$WORK/check.err")"
set +e
TCP_TOKEN=tcp-s3cret-token "$B/tripline" once --json "$WORK/tcp.yaml" >"$WORK/out.json" 2>"$WORK/err.txt"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "exit code $rc, expected 1 (some probes fail); stderr: $(cat "$WORK/err.txt")"
grep -q AddressSanitizer "$WORK/err.txt" && fail "ASan: $(cat "$WORK/err.txt")"
grep -q 's3cret' "$WORK/out.json" "$WORK/err.txt" && fail "a secret reached the output: $(grep s3cret "$WORK/out.json")"

"$PY" - "$WORK/out.json" <<'PY'
import json, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs[r["probe"]] = r
want = {
    "ping": (None, None), "smtp": (None, None), "connect-only": (None, None), "tls-ok": (None, None),
    "refused": ("upstream", "connect"),
    "no-such-name": ("upstream", "dns"),
    "silent": ("upstream", "timeout"),
    "reset": ("upstream", "reset"),
    "flood": ("contract", "body_too_big"),  # the peer answered, with more than the cap
    "closed": ("contract", "check"),
    "wrong-reply": ("contract", "check"),
    "secret-echo": ("contract", "check"),
    "tls-unverified": ("upstream", "tls"),
    "tls-no-ca": ("agent", "ca_file"),
    "slow-budget": ("budget", "total"),
}
bad = []
for probe, (bucket, reason) in want.items():
    r = runs.get(probe)
    if r is None:
        bad.append("%s: no result" % probe)
    elif (r["bucket"], r.get("reason")) != (bucket, reason):
        bad.append("%s: got %s/%s, want %s/%s (%s)" % (probe, r["bucket"], r.get("reason"), bucket, reason,
                                                      r["failures"]))
def facts(probe):
    return runs[probe]["steps"][0]["evidence"]["response"]["facts"]
f = facts("wrong-reply")
if f["received"] != "-ERR unknown command\\r\\n" or f["unmet"]["line"] != 1:
    bad.append("wrong-reply facts: %s" % f)
if "not seen within the timeout" not in runs["wrong-reply"]["failures"][0]:
    bad.append("wrong-reply failure: %s" % runs["wrong-reply"]["failures"])
f = facts("secret-echo")
if "[redacted]" not in f["received"]:
    bad.append("secret-echo: the echoed token is not redacted: %s" % f)
ev = runs["closed"]["steps"][0]["evidence"]
if not ev["request"]["url"].startswith("tcp://127.0.0.1:") or ev["request"]["method"] != "tcp":
    bad.append("closed request: %s" % ev["request"])
t = runs["tls-ok"]["steps"][0]["timings"]
if not (t["tls_ms"] > 0 and t["total_ms"] >= t["ttfb_ms"] > 0):
    bad.append("tls-ok timings: %s" % t)
if "certificate verification failed" not in runs["tls-unverified"]["failures"][0]:
    bad.append("tls-unverified failure: %s" % runs["tls-unverified"]["failures"])
if bad:
    sys.exit("\n".join(bad))
PY

# The daemon: a tcp step's bucket on /metrics and its reason on /status like any step's.
{
    step ping "{host: 127.0.0.1, port: $PING, exchange: [{send: \"PING\\r\\n\"}, {expect: \"+PONG\"}]}"
    step refused "{host: 127.0.0.1, port: $REFUSED}"
} | sed 's/every: 1m, timeout: 2s/every: 2s, timeout: 1s/' >"$WORK/daemon.yaml"
start_agent a --region earth --spool-dir "$WORK/spool" "$WORK/daemon.yaml"
wait_until "two runs of each probe" 60 runs_at_least "$AGENT_URL" refused 2
wait_until "two runs of each probe" 60 runs_at_least "$AGENT_URL" ping 2
curl -fsS --noproxy '*' "$AGENT_URL/metrics" >"$WORK/metrics.txt"
grep -q '^tripline_probe_failures_total{probe="refused",region="earth",bucket="upstream"} [1-9]' "$WORK/metrics.txt" ||
    fail "no upstream failures of refused on /metrics: $(grep refused "$WORK/metrics.txt")"
grep -q '^tripline_probe_success{probe="ping",region="earth"} 1' "$WORK/metrics.txt" ||
    fail "ping is not a success on /metrics: $(grep ping "$WORK/metrics.txt")"
status_to "$AGENT_URL" "$WORK/status.json"
"$PY" - "$WORK/status.json" <<'PY'
import json, sys
probes = {p["probe"]: p for p in json.load(open(sys.argv[1]))["probes"]}
text = json.dumps(probes["refused"])
if '"connect"' not in text or "upstream" not in text:
    sys.exit("refused on /status: %s" % text[:2000])
PY
stop_agent

# A name with two addresses, the first refused (localhost as ::1 first, as Debian's /etc/hosts
# has it, while the fixture listens on 127.0.0.1 only): the next address is tried, as any
# client does. Needs a mount namespace of our own for the hosts file (root, not in a chroot).
printf '::1 localhost ip6-localhost\n127.0.0.1 localhost\n' >"$WORK/hosts"
step two-addresses "{host: localhost, port: $PING, exchange: [{send: \"PING\\r\\n\"}, {expect: \"+PONG\"}]}" >"$WORK/two.yaml"
if unshare -m true 2>/dev/null; then
    unshare -m sh -c 'mount --bind "$1" /etc/hosts && exec "$2" once --json "$3"' _ "$WORK/hosts" "$B/tripline" \
        "$WORK/two.yaml" >"$WORK/two.json" 2>"$WORK/two.err" ||
        fail "localhost with ::1 first: $(cat "$WORK/two.json" "$WORK/two.err")"
    grep -q '"ok":true' "$WORK/two.json" || fail "localhost with ::1 first: $(cat "$WORK/two.json")"
else
    echo "no mount namespace: the two-address case is not run" >&2
fi
echo "ok: tcp steps"
