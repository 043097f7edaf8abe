#!/usr/bin/env bash
# The whole test suite, as CI runs it: install Debian packages, configure with
# AddressSanitizer + UndefinedBehaviorSanitizer and warnings as errors, build,
# run every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
build=${BUILD_DIR:-build-ci}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DTRIPLINE_SANITIZE=ON -DTRIPLINE_WERROR=ON >/dev/null
cmake --build "$build" -j2
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" --output-on-failure -j2 --timeout 300
