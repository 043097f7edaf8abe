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

# The Debian package: build it from a release build, install it, and run the
# installed binary on the installed examples and the default config.
if [ "$(id -u)" -eq 0 ] && [ -z "${SKIP_PACKAGE:-}" ]; then
    pkg=${PKG_BUILD_DIR:-build-pkg}
    cmake -S . -B "$pkg" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_TESTING=OFF \
        -DTRIPLINE_WERROR=ON >/dev/null
    cmake --build "$pkg" -j2 >/dev/null
    (cd "$pkg" && rm -f tripline_*.deb && cpack -G DEB >/dev/null)
    dpkg -i "$pkg"/tripline_*.deb >/dev/null
    /usr/bin/tripline check /usr/share/tripline/examples/*.yaml
    /usr/bin/tripline check --config /etc/tripline/tripline.yaml /usr/share/tripline/examples/*.yaml
    echo "package: installed $(dpkg-query -W -f='${Package} ${Version}' tripline) and checked its examples"
else
    echo "package: skipped (needs root to install with dpkg)"
fi
