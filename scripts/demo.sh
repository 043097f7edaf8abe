#!/usr/bin/env bash
# The embedded default: build tripline, start the bundled demo API on
# loopback, run the bundled example probes against it once (a table of
# passing and failing journeys with their buckets), then run the daemon on
# the same probes: one short line per incident transition on the screen, the
# full events and the agent's log in files it names, and a summary at the end.
#   DEMO_SECONDS=20   how long the daemon runs (0 skips it)
#   DEMO_DIR=DIR      where the events and logs go (default: a new /tmp dir, kept)
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "== $*" >&2; }

say "[1/4] build packages (scripts/deps.sh build; a minute or two on a fresh machine)"
scripts/deps.sh build
build=${BUILD_DIR:-build}
say "[2/4] configuring in $build/"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
say "[3/4] building tripline and the demo API"
# a progress line every quarter instead of a silent build
cmake --build "$build" -j2 --target tripline demo_api |
    awk '/^\[ *[0-9]+%\]/ { p = substr($0, 2, 3) + 0; if (p >= next_p) { printf "   %d%%\n", p; fflush(); next_p = p - p % 25 + 25 } }' >&2
[ -x "$build/tripline" ] || { say "the build failed"; exit 1; }

# The demo password travels as a secret: from the environment, never in a file.
export DEMO_PASSWORD=${DEMO_PASSWORD:-demo-secret}
dir=${DEMO_DIR:-$(mktemp -d /tmp/tripline-demo.XXXXXX)}
mkdir -p "$dir"
"$build/demo_api" --port 0 >"$dir/demo-api.out" 2>&1 &
demo=$!
agent=
trap 'kill $agent $demo 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q listening "$dir/demo-api.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$dir/demo-api.out")
[ -n "$url" ] || { say "the demo API did not start: $(cat "$dir/demo-api.out")"; exit 1; }
say "[4/4] the demo API listens at $url; tripline once probes/examples/*.yaml"
set +e
"$build/tripline" once --var "base=$url" probes/examples/*.yaml
rc=$?
set -e
say "tripline once exited $rc (1: some probes fail, as the examples intend)"

seconds=${DEMO_SECONDS:-20}
[ "$seconds" -gt 0 ] || exit 0
# The examples run every 15 s to 2 min, as a real fleet would; the demo
# speeds them up to every 2 s so incidents open within seconds.
mkdir -p "$dir/probes"
for f in probes/examples/*.yaml; do
    sed -E -e 's/every: [0-9]+(s|m)/every: 2s/' -e 's/timeout: (5|10|15)s/timeout: 1500ms/' \
        -e 's/jitter: [0-9]+s/jitter: 100ms/' "$f" >"$dir/probes/$(basename "$f")"
done
# Full events to a file, one short line per transition on the screen.
cat >"$dir/config.yaml" <<YAML
region: demo
spool: {dir: $dir/spool}
sinks: {file: $dir/events.jsonl, stdout: line}
YAML
say "tripline run for ${seconds}s: one line per incident transition"
say "   (time probe region level transition bucket/reason actions)"
"$build/tripline" run --config "$dir/config.yaml" --listen 127.0.0.1:0 --log-level warn \
    --var "base=$url" "$dir"/probes/*.yaml 2>"$dir/tripline.log" &
agent=$!
sleep "$seconds"
kill -TERM "$agent"
wait "$agent" || { say "the agent exited with an error: see $dir/tripline.log"; exit 1; }
agent=

n() { grep -c "\"transition\":\"$1\"" "$dir/events.jsonl" 2>/dev/null || true; }
# each action run appears on the timeline of every later event of its incident
actions=$(grep -o '{"at":"[^"]*","action":"[^"]*","kind":"[^"]*","outcome":"[^"]*"' \
    "$dir/events.jsonl" 2>/dev/null | sort -u || true)
count() { if [ -z "$actions" ]; then echo 0; else grep -c "$1" <<<"$actions" || true; fi; }
outcomes=$(grep -o '"outcome":"[^"]*"' <<<"$actions" | cut -d'"' -f4 | sort | uniq -c |
    awk '{ printf "%s%s %s", sep, $2, $1; sep = ", " }' || true)
say "summary: incidents opened $(n opened), escalated $(n escalated), resolved $(n resolved);" \
    "actions run $(count '"kind":"run"'), rollbacks $(count '"kind":"rollback"')${outcomes:+ (outcomes: $outcomes)}"
say "full events (JSON lines): $dir/events.jsonl"
say "the agent's log (warnings per failing run): $dir/tripline.log"
