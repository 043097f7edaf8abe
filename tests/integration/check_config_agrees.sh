# `tripline check --config` refuses what `tripline run` would refuse at start:
# a listen address that is a host name (run takes literals only, no DNS) and
# a status token file that cannot be read. check said "ok (config)" for both
# and the agent then exited 2 at start, in a deploy that had passed its check.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

gen_probes "$WORK/p.yaml" 1 "http://127.0.0.1:9/"
expect_refused() { # name config-text grep-pattern
    printf '%s\n' "$2" >"$WORK/$1.yaml"
    local rc=0
    "$B/tripline" check --config "$WORK/$1.yaml" "$WORK/p.yaml" >"$WORK/$1.check" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] || fail "$1: check passed a config run refuses: $(cat "$WORK/$1.check")"
    grep -q -- "$3" "$WORK/$1.check" || fail "$1: check did not say why ($3): $(cat "$WORK/$1.check")"
    rc=0
    timeout 20 "$B/tripline" run --config "$WORK/$1.yaml" --spool-dir "$WORK/spool-$1" "$WORK/p.yaml" \
        >/dev/null 2>"$WORK/$1.run" || rc=$?
    [ "$rc" -eq 2 ] || fail "$1: run exited $rc, expected 2 (this test's premise): $(tail -3 "$WORK/$1.run")"
}
expect_refused listen-name 'listen: "localhost:0"' "$WORK/listen-name.yaml:1:9: listen: bad address"
expect_refused listen-ip 'listen: "999.1.1.1:0"' "$WORK/listen-ip.yaml:1:9: listen: bad address"
expect_refused token 'endpoint: {status_token_file: /nonexistent/status.token}' \
    "endpoint.status_token_file: .*/nonexistent/status.token"
# what run takes, check takes
printf 'listen: "127.0.0.1:0"\n' >"$WORK/good.yaml"
"$B/tripline" check --config "$WORK/good.yaml" "$WORK/p.yaml" >/dev/null || fail "check refused a good listen address"
echo ok
