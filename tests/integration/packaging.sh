#!/bin/bash
# The packaging files are well-formed: systemd accepts the unit and every
# directive in it, the man page renders without groff warnings, and the
# default config names the keys the agent reads.
set -euo pipefail
src=${TRIPLINE_SOURCE_DIR:?}
pkg=$src/packaging
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# systemd-analyze checks the binary exists and runs man for Documentation=;
# neither is installed here, so point them at things that are.
sed -e 's|^Exec\([A-Za-z]*\)=/usr/bin/tripline|Exec\1=/bin/true|' -e '/^Documentation=/d' \
    "$pkg/tripline.service" > "$tmp/tripline.service"
if command -v systemd-analyze >/dev/null; then
    out=$(systemd-analyze verify "$tmp/tripline.service" 2>&1) || { echo "$out"; exit 1; }
    if [ -n "$out" ]; then echo "systemd-analyze: $out"; exit 1; fi
else
    echo "skipped: systemd-analyze verify (systemd-analyze is not installed)"
fi
for want in 'Type=notify' 'DynamicUser=yes' 'StateDirectory=tripline' 'ProtectSystem=strict' \
            'NoNewPrivileges=yes' 'CapabilityBoundingSet=$' 'ExecReload=/bin/kill -HUP $MAINPID' \
            'ExecReload=/usr/bin/tripline check --config /etc/tripline/tripline.yaml' \
            'RestartPreventExitStatus=2' 'LoadCredential=sink-token:' 'LoadCredential=sink-hmac-key:' \
            'ExecStart=/usr/bin/tripline run --config /etc/tripline/tripline.yaml'; do
    grep -q -- "^$want" "$pkg/tripline.service" || { echo "unit lacks $want"; exit 1; }
done

warn=$(groff -man -Tutf8 -ww -z "$pkg/tripline.1" 2>&1)
if [ -n "$warn" ]; then echo "groff: $warn"; exit 1; fi
for section in NAME SYNOPSIS COMMANDS OPTIONS CONFIGURATION SYSTEMD FILES SIGNALS 'EXIT STATUS'; do
    grep -q "^\.SH \"\?$section" "$pkg/tripline.1" || { echo "man page lacks $section"; exit 1; }
done

for key in '^region:' '^probes:' '^listen: 127.0.0.1:9464' '^spool:' '^  dir: /var/lib/tripline/spool' \
           '^log_level: info' '^sinks:' '^  stdout: true' '^limits:' '^  concurrency: 256' \
           '^  per_host: 8'; do
    grep -q -- "$key" "$pkg/tripline.yaml" || { echo "tripline.yaml lacks $key"; exit 1; }
done
# /usr/share/doc/tripline: a Debian changelog whose top version is the
# project's, and a machine-readable copyright file.
version=$(sed -n 's/^project(tripline VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
if command -v dpkg-parsechangelog >/dev/null; then
    got=$(dpkg-parsechangelog -l "$pkg/changelog" -S Version)
else
    got=$(sed -n '1s/^tripline (\([^)]*\)) .*/\1/p' "$pkg/changelog")
fi
[ "$got" = "$version" ] || { echo "changelog version $got, project version $version"; exit 1; }
grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' "$pkg/copyright" &&
    grep -q '^License: ' "$pkg/copyright" || { echo "copyright is not machine-readable"; exit 1; }
echo ok
