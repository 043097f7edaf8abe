#!/usr/bin/env bash
# The embedded default: build tripline, start the bundled demo API on
# loopback, run the bundled example probes against it once (a table of
# passing and failing journeys with their buckets), then run the daemon on
# the same probes so escalation events arrive on stdout as JSON lines.
#   DEMO_SECONDS=20   how long the daemon runs (0 skips it)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j2 --target tripline demo_api >/dev/null
# The demo password travels as a secret: from the environment, never in a file.
export DEMO_PASSWORD=${DEMO_PASSWORD:-demo-secret}
work=$(mktemp -d)
"$build/demo_api" --port 0 >"$work/demo.out" &
demo=$!
trap 'kill $demo 2>/dev/null || true; wait $demo 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do grep -q listening "$work/demo.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/demo.out")
echo "== demo API at $url" >&2
echo "== tripline once probes/examples/*.yaml" >&2
set +e
"$build/tripline" once --var "base=$url" probes/examples/*.yaml
rc=$?
set -e
echo "== tripline once exited $rc (1: some probes fail, as the examples intend)" >&2

seconds=${DEMO_SECONDS:-20}
[ "$seconds" -gt 0 ] || exit 0
# The examples run every 15 s to 2 min, as a real fleet would; the demo
# speeds them up to every 2 s so incidents open within seconds.
mkdir -p "$work/probes"
for f in probes/examples/*.yaml; do
    sed -E -e 's/every: [0-9]+(s|m)/every: 2s/' -e 's/timeout: (5|10|15)s/timeout: 1500ms/' \
        -e 's/jitter: [0-9]+s/jitter: 100ms/' "$f" >"$work/probes/$(basename "$f")"
done
echo "== tripline run for ${seconds}s (events on stdout, logs on stderr; Ctrl-C stops it)" >&2
"$build/tripline" run --region demo --listen 127.0.0.1:0 --spool-dir "$work/spool" --log-level warn \
    --var "base=$url" "$work"/probes/*.yaml &
agent=$!
trap 'kill $agent $demo 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
sleep "$seconds"
kill -TERM $agent
wait $agent
echo "== the daemon drained and stopped" >&2
