# Shared helpers for integration tests (sourced).
set -euo pipefail
: "${TRIPLINE_BUILD_DIR:?set by ctest}"
: "${TRIPLINE_SOURCE_DIR:?set by ctest}"
B=$TRIPLINE_BUILD_DIR
S=$TRIPLINE_SOURCE_DIR
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
WORK=$(mktemp -d /tmp/tripline-it.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# start_fixture NAME ARGS...: runs a fixture, waits for its first stdout line, echoes it.
start_fixture() {
    local name=$1; shift
    local out=$WORK/$name.out
    "$B/$name" "$@" >"$out" 2>"$WORK/$name.err" &
    PIDS+=($!)
    for _ in $(seq 100); do
        [ -s "$out" ] && { head -n1 "$out"; return 0; }
        sleep 0.1
    done
    fail "$name did not start: $(cat "$WORK/$name.err")"
}
