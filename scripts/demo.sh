#!/usr/bin/env bash
# The embedded default: build tripline, start the bundled demo API on
# loopback, and run the bundled example probes against it once. Passing and
# failing journeys print with their buckets; exit status is tripline's.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j2 >/dev/null
# The demo password travels as a secret: from the environment, never in a file.
export DEMO_PASSWORD=${DEMO_PASSWORD:-demo-secret}
out=$(mktemp)
"$build/demo_api" --port 0 >"$out" &
demo=$!
trap 'kill $demo 2>/dev/null; wait $demo 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 50); do grep -q listening "$out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$out")
echo "demo API at $url" >&2
set +e
"$build/tripline" once --var "base=$url" "$@" probes/examples/*.yaml
rc=$?
set -e
echo "tripline once exited $rc (0: all passed, 1: some failed, as the examples intend)" >&2
exit 0
