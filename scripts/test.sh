#!/usr/bin/env bash
# The whole test suite, as CI runs it: install Debian packages, configure with
# AddressSanitizer + UndefinedBehaviorSanitizer and warnings as errors, build,
# run every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
# PACKAGE_ONLY=1: only the package section (CI runs it in a fresh root filesystem).
if [ -z "${PACKAGE_ONLY:-}" ]; then
scripts/deps.sh test
build=${BUILD_DIR:-build-ci}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DTRIPLINE_SANITIZE=ON -DTRIPLINE_WERROR=ON >/dev/null
cmake --build "$build" -j2
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" --output-on-failure -j2 --timeout 300
else
scripts/deps.sh package
fi

# The Debian package: build it from a release build, install it, run the
# installed examples against the installed demo API, then purge it.
package_check() {
    local pkg=${PKG_BUILD_DIR:-build-pkg} work rc=0
    cmake -S . -B "$pkg" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_TESTING=OFF \
        -DTRIPLINE_WERROR=ON >/dev/null
    cmake --build "$pkg" -j2 >/dev/null
    (cd "$pkg" && rm -f tripline_*.deb && cpack -G DEB >/dev/null)
    dpkg -i "$pkg"/tripline_*.deb >/dev/null
    # the packaged agent allocates with mimalloc (stats on request prove it is the one in use)
    # (read whole first: grep -q would close the pipe early, and pipefail would see SIGPIPE)
    local stats
    stats=$(MIMALLOC_SHOW_STATS=1 /usr/bin/tripline --version 2>&1)
    grep -q 'heap stats' <<<"$stats" || { echo "package: /usr/bin/tripline does not run on mimalloc"; return 1; }
    /usr/bin/tripline check /usr/share/tripline/examples/*.yaml
    /usr/bin/tripline check --config /etc/tripline/tripline.yaml /usr/share/tripline/examples/*.yaml
    for f in copyright changelog.gz README.md docs/config.md; do
        [ -s "/usr/share/doc/tripline/$f" ] || { echo "package: /usr/share/doc/tripline/$f missing"; return 1; }
    done
    for f in probe.schema.json tripline-rules.yml; do
        [ -s "/usr/share/tripline/$f" ] || { echo "package: /usr/share/tripline/$f missing"; return 1; }
    done
    # the examples default to the demo API on 8080 (the documented command);
    # here it gets a free port so a busy 8080 cannot fail the suite
    grep -q 'base: http://127.0.0.1:8080' /usr/share/tripline/examples/login-journey.yaml ||
        { echo "package: the examples' default base URL is not the demo API's 8080"; return 1; }
    work=$(mktemp -d)
    DEMO_PASSWORD=demo-secret /usr/bin/tripline-demo-api --port 0 >"$work/api.out" &
    local api=$!
    for _ in $(seq 100); do [ -s "$work/api.out" ] && break; sleep 0.1; done
    local url; url=$(sed -n 's/^listening on //p' "$work/api.out")
    DEMO_PASSWORD=demo-secret /usr/bin/tripline once --json --var "base=$url" \
        /usr/share/tripline/examples/*.yaml >"$work/once.json" || rc=$?
    kill "$api"; wait "$api" 2>/dev/null || true
    # the README's outcome: three examples pass, three fail on purpose
    [ "$rc" -eq 1 ] && python3 - "$work/once.json" <<'PY' || { rm -rf "$work"; echo "package: examples (exit $rc)"; return 1; }
import json, sys
got = {r["probe"]: r["bucket"] for r in map(json.loads, open(sys.argv[1]))}
want = {"health": None, "login-journey": None, "payments": None, "slow": "budget",
        "quote": "rate_limit", "orders": "contract"}
if got != want:
    sys.exit(f"package: installed examples gave {got}, expected {want}")
PY
    rm -rf "$work"
    echo "package: installed $(dpkg-query -W -f='${Package} ${Version}' tripline), its examples ran against tripline-demo-api"
    # the agent's state as the dynamic user leaves it, then purge
    mkdir -p /var/lib/private/tripline/spool /etc/tripline/probes.d
    ln -sfn private/tripline /var/lib/tripline
    touch /var/lib/private/tripline/spool/events.0 /etc/tripline/probes.d/mine.yaml
    dpkg --purge tripline >/dev/null
    for d in /var/lib/tripline /var/lib/private/tripline /etc/tripline /usr/bin/tripline; do
        if [ -e "$d" ] || [ -L "$d" ]; then echo "package: $d left after dpkg --purge"; return 1; fi
    done
    echo "package: purged, no state or configuration left"
}
if [ -n "${SKIP_PACKAGE:-}" ]; then
    echo "package: skipped (SKIP_PACKAGE is set)"
elif [ "$(id -u)" -eq 0 ]; then
    package_check
else
    echo "package: skipped (needs root to install with dpkg)"
fi
