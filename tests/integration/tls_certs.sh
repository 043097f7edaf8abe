# TLS against nginx on loopback with certificates this test makes: the
# certificate's facts in `once --json` and the evidence, expect.tls min_days
# (budget/cert_expiry), wrong host, expired and self-signed (upstream/tls),
# mTLS with and without a client certificate, key pinning, a missing client
# key (agent), and the not-after gauge in a daemon's /metrics.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

command -v nginx >/dev/null || { echo "nginx not installed: skipped"; exit 77; }
command -v openssl >/dev/null || { echo "openssl not installed: skipped"; exit 77; }

C=$WORK/certs
mkdir -p "$C"
quiet() { "$@" >/dev/null 2>"$WORK/openssl.err" || fail "$*: $(cat "$WORK/openssl.err")"; }

# --- certificates ----------------------------------------------------------
quiet openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=tripline test CA" \
    -keyout "$C/ca.key" -out "$C/ca.pem"
cat >"$C/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
database = $C/index.txt
new_certs_dir = $C
serial = $C/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
[server]
subjectAltName = \${ENV::SAN}
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
[client]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
EOF
: >"$C/index.txt"
echo 1000 >"$C/serial"
# issue NAME CN SAN EXT START END: a key and a certificate signed by the CA
issue() {
    quiet openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$C/$1.key" -out "$C/$1.csr"
    SAN=$3 quiet openssl ca -batch -config "$C/ca.cnf" -cert "$C/ca.pem" -keyfile "$C/ca.key" \
        -extensions "$4" -startdate "$5" -enddate "$6" -in "$C/$1.csr" -out "$C/$1.pem"
}
d() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
issue valid 127.0.0.1 "IP:127.0.0.1,DNS:localhost" server "$(d '-1 day')" "$(d '+90 days')"
issue soon 127.0.0.1 "IP:127.0.0.1" server "$(d '-1 day')" "$(d '+5 days +1 hour')"
issue wronghost wrong.example "DNS:wrong.example" server "$(d '-1 day')" "$(d '+90 days')"
issue expired 127.0.0.1 "IP:127.0.0.1" server "$(d '-60 days')" "$(d '-2 days')"
issue client synthetic-client "DNS:unused" client "$(d '-1 day')" "$(d '+30 days')"
quiet openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=self" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$C/self.key" -out "$C/self.pem"
PIN=$(openssl x509 -in "$C/valid.pem" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)
WRONG_PIN=$(openssl x509 -in "$C/self.pem" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)

# --- nginx: one port per certificate ---------------------------------------
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
declare -A PORT
server_block() { # NAME [EXTRA]
    PORT[$1]=$(free_port)
    cat <<EOF
    server {
        listen 127.0.0.1:${PORT[$1]} ssl;
        ssl_certificate $C/$1.pem;
        ssl_certificate_key $C/$1.key;
        ${2:-}
        location = /ok { default_type application/json; return 200 '{"ok":true}'; }
    }
EOF
}
mkdir -p "$WORK/nginx/tmp"
{
    cat <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    ssl_protocols TLSv1.2 TLSv1.3;
EOF
    for n in valid soon wronghost expired self; do server_block "$n"; done
    PORT[tls12]=$(free_port)
    cat <<EOF
    server {
        listen 127.0.0.1:${PORT[tls12]} ssl;
        ssl_protocols TLSv1.2;
        ssl_certificate $C/valid.pem;
        ssl_certificate_key $C/valid.key;
        location = /ok { return 200; }
    }
EOF
    PORT[mtls]=$(free_port)
    cat <<EOF
    server {
        listen 127.0.0.1:${PORT[mtls]} ssl;
        ssl_certificate $C/valid.pem;
        ssl_certificate_key $C/valid.key;
        ssl_client_certificate $C/ca.pem;
        ssl_verify_client on;
        location = /ok { default_type application/json; return 200 '{"ok":true}'; }
    }
}
EOF
} >"$WORK/nginx/nginx.conf"
nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' \
    2>"$WORK/nginx/stderr" &
PIDS+=($!)
up() { curl -s --noproxy '*' -o /dev/null -k "https://127.0.0.1:$1/ok"; }
for n in valid soon wronghost expired self; do
    wait_until "nginx on ${PORT[$n]} ($n)" 30 up "${PORT[$n]}"
done
U() { echo "https://127.0.0.1:${PORT[$1]}/ok"; }

# --- once --json --------------------------------------------------------------
cat >"$WORK/tls.yaml" <<YAML
- probe: valid
  tls: {ca_file: $C/ca.pem, min_version: "1.2"}
  steps:
    - {name: get, request: {url: "$(U valid)"}, expect: {status: 200, tls: {min_days: 14}}}
- probe: soon
  tls: {ca_file: $C/ca.pem}
  steps:
    - {name: get, request: {url: "$(U soon)"}, expect: {status: 200, tls: {min_days: 14}}}
- probe: wronghost
  tls: {ca_file: $C/ca.pem}
  steps:
    - {name: get, request: {url: "$(U wronghost)"}}
- probe: expired
  tls: {ca_file: $C/ca.pem}
  steps:
    - {name: get, request: {url: "$(U expired)"}, expect: {tls: {min_days: 14}}}
- probe: self
  tls: {ca_file: $C/ca.pem}
  steps:
    - {name: get, request: {url: "$(U self)"}}
- probe: mtls-ok
  tls: {ca_file: $C/ca.pem, cert_file: $C/client.pem, key_file: $C/client.key}
  steps:
    - {name: get, request: {url: "https://127.0.0.1:${PORT[mtls]}/ok"}, expect: {status: 200}}
- probe: mtls-none
  tls: {ca_file: $C/ca.pem}
  steps:
    - {name: get, request: {url: "https://127.0.0.1:${PORT[mtls]}/ok"}, expect: {status: 200}}
- probe: pin-ok
  steps:
    - name: get
      request: {url: "$(U valid)", tls: {ca_file: $C/ca.pem, pinned_public_key: "sha256//$PIN"}}
- probe: min-tls13
  tls: {ca_file: $C/ca.pem, min_version: "1.3"}
  steps:
    - {name: get, request: {url: "https://127.0.0.1:${PORT[tls12]}/ok"}}
- probe: pin-wrong
  tls: {ca_file: $C/ca.pem}
  steps:
    - {name: get, request: {url: "$(U valid)", tls: {pinned_public_key: "sha256//$WRONG_PIN"}}}
YAML
"$B/tripline" check "$S/probes/examples/tls/certificate.yaml" >/dev/null 2>"$WORK/check.err" ||
    fail "the TLS example: $(cat "$WORK/check.err")"
"$B/tripline" check "$WORK/tls.yaml" >/dev/null 2>"$WORK/check.err" || fail "check: $(cat "$WORK/check.err")"
rc=0
"$B/tripline" once --json "$WORK/tls.yaml" >"$WORK/out.json" 2>"$WORK/once.err" || rc=$?
[ "$rc" -eq 1 ] || fail "once exited $rc (expected 1): $(cat "$WORK/once.err")"

python3 - "$WORK/out.json" "$PIN" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
try:
    runs = json.loads(text)
except ValueError:
    runs = [json.loads(l) for l in text.splitlines() if l.strip()]
if isinstance(runs, dict):
    runs = runs.get("runs", runs.get("probes", [runs]))
by = {r["probe"]: r for r in runs}
def want(cond, msg):
    if not cond:
        print("FAIL:", msg, json.dumps(by, indent=1)[:6000], file=sys.stderr)
        sys.exit(1)
def verdict(p):
    r = by[p]
    return (r["ok"], r.get("bucket"), r.get("reason"))

v = by["valid"]["steps"][0]
want(by["valid"]["ok"], "valid: passes min_days 14")
t = v.get("tls") or {}
want(t.get("subject") == "CN=127.0.0.1", "valid: subject %r" % t.get("subject"))
want(t.get("issuer") == "CN=tripline test CA", "valid: issuer")
want(t.get("sans") == ["IP:127.0.0.1", "DNS:localhost"], "valid: sans %r" % t.get("sans"))
want(t.get("chain_length") == 1, "valid: chain length")
want(t.get("protocol") == "TLSv1.3" and t.get("cipher", "").startswith("TLS_"), "valid: protocol/cipher")
want(t.get("not_after", "").endswith("Z") and t.get("not_before", "").endswith("Z"), "valid: ISO dates")

want(verdict("soon") == (False, "budget", "cert_expiry"), "soon: budget/cert_expiry, got %r" % (verdict("soon"),))
f = " ".join(by["soon"]["failures"])
want("expires in 5 days" in f and "min_days 14" in f and "not after" in f, "soon: failure text: " + f)
ev = by["soon"]["steps"][0].get("evidence") or {}
want(ev.get("tls", {}).get("subject") == "CN=127.0.0.1", "soon: facts in the evidence")

for p in ("wronghost", "expired", "self"):
    want(verdict(p) == (False, "upstream", "tls"), "%s: upstream/tls, got %r" % (p, verdict(p)))
    ev = by[p]["steps"][0].get("evidence") or {}
    want("tls" in ev, p + ": certificate facts in the evidence of a failed handshake")
want(by["wronghost"]["steps"][0]["evidence"]["tls"]["sans"] == ["DNS:wrong.example"], "wronghost: sans")
exp = by["expired"]["steps"][0]["evidence"]["tls"]
want("expired" in exp.get("verify_error", ""), "expired: verify_error %r" % exp.get("verify_error"))
slf = by["self"]["steps"][0]["evidence"]["tls"]
want(slf["subject"] == "CN=self" and "self-signed" in slf.get("verify_error", ""), "self: facts %r" % slf)

want(verdict("min-tls13") == (False, "upstream", "tls"), "min_version 1.3 on a TLS 1.2 server: tls")
want(by["mtls-ok"]["ok"], "mtls with a client certificate passes")
want(verdict("mtls-none")[0] is False, "mtls without a client certificate fails")
want(by["pin-ok"]["ok"], "the right pin passes")
want(verdict("pin-wrong") == (False, "upstream", "tls"), "wrong pin: upstream/tls, got %r" % (verdict("pin-wrong"),))
want("pinned public key" in " ".join(by["pin-wrong"]["failures"]), "wrong pin: failure says so")
PY

# --- the loader: unreadable files are refused with their position -------------
cat >"$WORK/bad.yaml" <<YAML
probe: bad
tls: {ca_file: $WORK/nope.pem, min_version: "1.4"}
steps:
  - {name: get, request: {url: "$(U valid)", tls: {key_file: $C/client.key}}}
YAML
"$B/tripline" check "$WORK/bad.yaml" >/dev/null 2>"$WORK/bad.err" && fail "check accepted bad.yaml"
grep -q "bad.yaml:2:16: tls.ca_file: cannot read the CA file \"$WORK/nope.pem\": No such file" "$WORK/bad.err" ||
    fail "ca_file error: $(cat "$WORK/bad.err")"
grep -q "bad.yaml:2:.*tls.min_version: unknown TLS version \"1.4\"" "$WORK/bad.err" ||
    fail "min_version error: $(cat "$WORK/bad.err")"
grep -q "bad.yaml:4:.*key_file without cert_file" "$WORK/bad.err" || fail "key without cert: $(cat "$WORK/bad.err")"

# --- a key that does not go with the certificate: agent, never the API ----------
cat >"$WORK/mismatch.yaml" <<YAML
probe: mismatch
tls: {ca_file: $C/ca.pem, cert_file: $C/client.pem, key_file: $C/valid.key}
steps:
  - {name: get, request: {url: "https://127.0.0.1:${PORT[mtls]}/ok"}}
YAML
rc=0
"$B/tripline" once --json "$WORK/mismatch.yaml" >"$WORK/mismatch.json" 2>"$WORK/mismatch.err" || rc=$?
[ "$rc" -eq 3 ] || fail "mismatch: exit $rc, expected 3 (agent): $(cat "$WORK/mismatch.json" "$WORK/mismatch.err")"
grep -q '"bucket":"agent"' "$WORK/mismatch.json" && grep -q '"reason":"tls_file"' "$WORK/mismatch.json" ||
    fail "mismatch: expected agent/tls_file: $(cat "$WORK/mismatch.json")"
# the key is a secret: none of its lines shows anywhere
while read -r line; do
    case $line in -----*) continue ;; esac
    ! grep -qF -- "$line" "$WORK/out.json" "$WORK/once.err" "$WORK/mismatch.json" "$WORK/mismatch.err" ||
        fail "key material in the output"
done <"$C/valid.key"

# --- the gauge in a short daemon run ------------------------------------------
cat >"$WORK/daemon.yaml" <<YAML
probe: soon
schedule: {every: 1s, timeout: 900ms}
tls: {ca_file: $C/ca.pem}
steps:
  - {name: get, request: {url: "$(U soon)"}, expect: {tls: {min_days: 1}}}
YAML
start_agent d --region earth --spool-dir "$WORK/spool" "$WORK/daemon.yaml"
wait_until "a run of soon" 30 runs_at_least "$AGENT_URL" soon 1
NA=$(openssl x509 -in "$C/soon.pem" -noout -enddate | sed 's/notAfter=//')
WANT=$(date -u -d "$NA" +%s)
curl -fsS --noproxy '*' "$AGENT_URL/metrics" >"$WORK/metrics.txt"
grep -q "^tripline_tls_cert_not_after_seconds{probe=\"soon\",region=\"earth\",step=\"get\"} $WANT\$" "$WORK/metrics.txt" ||
    fail "gauge: $(grep tls_cert "$WORK/metrics.txt" || echo none; echo "want $WANT")"
status_to "$AGENT_URL" "$WORK/status.json"
grep -q '"tls_not_after":"' "$WORK/status.json" || fail "/status: no tls_not_after for the probe"
stop_agent
echo "ok"
