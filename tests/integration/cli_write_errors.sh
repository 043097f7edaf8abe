# Output that cannot be written (a full disk, a closed pipe) is an error:
# `tripline check` and `once`, with or without --json (and their --help),
# exit non-zero with a message on stderr. `check --json > /dev/full` exited 0,
# so a CI step read "no errors" from a report that was never written.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"
[ -w /dev/full ] || { echo "no /dev/full: skipped"; exit 77; }

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
cat >"$WORK/ok.yaml" <<YAML
probe: ok
steps:
  - {name: get, request: {url: "http://127.0.0.1:$HTTP/ok"}, expect: {status: 200}}
YAML
cat >"$WORK/bad.yaml" <<YAML
probe: bad
steps:
  - {name: get, request: {url: "http://127.0.0.1:$HTTP/ok"}, expect: {stauts: 200}}
YAML

run_full() { # WANT-RC ARGS...: runs tripline with stdout on /dev/full
    local want=$1; shift
    local rc=0
    "$B/tripline" "$@" >/dev/full 2>"$WORK/err.txt" || rc=$?
    [ "$rc" -eq "$want" ] || fail "tripline $* > /dev/full: exit $rc, want $want: $(cat "$WORK/err.txt")"
    grep -q "cannot write" "$WORK/err.txt" || fail "tripline $* > /dev/full: no message: $(cat "$WORK/err.txt")"
}
run_full 2 check "$WORK/ok.yaml"
run_full 2 check --json "$WORK/ok.yaml"
run_full 2 check --json "$WORK/bad.yaml"
run_full 2 check --help
run_full 2 once "$WORK/ok.yaml"
run_full 2 once --json "$WORK/ok.yaml"
# and with stdout writable, the exit codes are as before
"$B/tripline" check --json "$WORK/ok.yaml" >/dev/null || fail "check of a good file failed"
rc=0; "$B/tripline" check --json "$WORK/bad.yaml" >/dev/null || rc=$?
[ "$rc" -eq 1 ] || fail "check of a bad file: exit $rc, want 1"
echo ok
