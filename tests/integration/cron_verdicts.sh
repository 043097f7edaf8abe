# One cron verdict everywhere: `tripline check`, `tripline once` and
# `tripline run` (at start and on SIGHUP) all reject "0 0 * * thr" (a typo)
# and "0 0 30 2 *" (never fires) with the parser's message at file:line:column,
# and all accept "@midnight". Nothing crashes.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP

probe_file() { # file id cron
    printf -- '- probe: %s\n  schedule: {cron: "%s"}\n  steps: [{name: get, request: {url: "%s/ok"}}]\n' \
        "$2" "$3" "$H" >"$1"
}
probe_file "$WORK/thr.yaml" typo "0 0 * * thr"
probe_file "$WORK/feb30.yaml" never "0 0 30 2 *"
probe_file "$WORK/midnight.yaml" nightly "@midnight"
THR_MSG="thr.yaml:2:20: schedule.cron: day-of-week: unknown name 'thr' (expected 0-7 or sun..sat)"
FEB_MSG="feb30.yaml:2:20: schedule.cron: never fires: day-of-month 30 never occurs in month 2"

# expect_rc WANT NAME CMD...: runs CMD, output to $WORK/NAME.txt; a signal
# (exit >= 128) or an ASan report is a crash whatever WANT says.
expect_rc() {
    local want=$1 name=$2 rc=0
    shift 2
    "$@" >"$WORK/$name.txt" 2>&1 || rc=$?
    [ "$rc" -lt 128 ] || fail "$name crashed (exit $rc): $(cat "$WORK/$name.txt")"
    grep -q AddressSanitizer "$WORK/$name.txt" && fail "$name: ASan: $(cat "$WORK/$name.txt")"
    [ "$rc" -eq "$want" ] || fail "$name exited $rc, expected $want: $(cat "$WORK/$name.txt")"
}
has() { grep -qF -- "$2" "$WORK/$1.txt" || fail "$1 lacks '$2': $(cat "$WORK/$1.txt")"; }

# check
expect_rc 1 check-thr "$B/tripline" check "$WORK/thr.yaml"
has check-thr "$THR_MSG"
expect_rc 1 check-feb "$B/tripline" check "$WORK/feb30.yaml"
has check-feb "$FEB_MSG"
expect_rc 0 check-mid "$B/tripline" check "$WORK/midnight.yaml"

# once: a file with errors is refused before anything runs (exit 2)
expect_rc 2 once-thr "$B/tripline" once "$WORK/thr.yaml"
has once-thr "$THR_MSG"
expect_rc 2 once-feb "$B/tripline" once "$WORK/feb30.yaml"
has once-feb "$FEB_MSG"
expect_rc 0 once-mid "$B/tripline" once "$WORK/midnight.yaml"

# run with only a bad file: nothing to run, the agent says why and exits 2 (man page: file errors)
expect_rc 2 run-thr "$B/tripline" run --listen 127.0.0.1:0 --spool-dir "$WORK/sp1" "$WORK/thr.yaml"
has run-thr "$THR_MSG"
has run-thr "no probe could be loaded"
expect_rc 2 run-feb "$B/tripline" run --listen 127.0.0.1:0 --spool-dir "$WORK/sp2" "$WORK/feb30.yaml"
has run-feb "$FEB_MSG"

# run with the bad files next to a good one: the good one is scheduled, the
# bad ones are reported and left out (the start-up rule for any bad file)
start_agent r --spool-dir "$WORK/sp3" "$WORK/midnight.yaml" "$WORK/thr.yaml" "$WORK/feb30.yaml"
curl -fsS "$AGENT_URL/status" >"$WORK/s1.json"
grep -qF -- "$THR_MSG" "$WORK/r.log" || fail "run: no thr error in the log: $(cat "$WORK/r.log")"
grep -qF -- "$FEB_MSG" "$WORK/r.log" || fail "run: no feb30 error in the log: $(cat "$WORK/r.log")"

# SIGHUP with @midnight broken both ways: refused, the last good version kept
for bad in "0 0 * * thr" "0 0 30 2 *"; do
    probe_file "$WORK/midnight.yaml" nightly "$bad"
    n=$(grep -c "keeping its last good version" "$WORK/r.log" || true)
    kill -HUP "$AGENT_PID"
    end=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$end" ]; do
        [ "$(grep -c "keeping its last good version" "$WORK/r.log" || true)" -gt "$n" ] && break
        kill -0 "$AGENT_PID" 2>/dev/null || fail "agent died on reload: $(cat "$WORK/r.log")"
        sleep 0.1
    done
    [ "$(grep -c "keeping its last good version" "$WORK/r.log" || true)" -gt "$n" ] ||
        fail "reload with cron '$bad' not refused: $(cat "$WORK/r.log")"
done
curl -fsS "$AGENT_URL/status" >"$WORK/s2.json"
stop_agent
grep -q AddressSanitizer "$WORK/r.log" && fail "ASan in the agent: $(cat "$WORK/r.log")"

python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
errors = []
for f in ("s1", "s2"):
    probes = {p["probe"]: p for p in json.load(open(f"{w}/{f}.json"))["probes"]}
    if set(probes) != {"nightly"}: errors.append(f"{f}: probes {sorted(probes)}")
    elif probes["nightly"]["schedule"].get("cron") != "@midnight":
        errors.append(f"{f}: schedule {probes['nightly']['schedule']}")
log = open(f"{w}/r.log").read()
if "cannot be scheduled" in log: errors.append("a loaded cron was refused by the scheduler")
if "midnight.yaml:2:20: schedule.cron: day-of-week: unknown name 'thr'" not in log:
    errors.append("reload: no thr error at file:line:column")
if "midnight.yaml:2:20: schedule.cron: never fires" not in log:
    errors.append("reload: no never-fires error at file:line:column")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok: check, once and run agree on thr, Feb 30 and @midnight")
PY
