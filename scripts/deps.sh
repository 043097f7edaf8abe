#!/usr/bin/env bash
# Installs the Debian packages tripline needs to build, test and demo.
# Usage: scripts/deps.sh [build|package|test]   (package adds what building and checking
# the .deb needs, test what the test suite drives)
set -euo pipefail
what=${1:-build}
pkgs=(build-essential cmake pkg-config libuv1-dev libcurl4-openssl-dev libyaml-dev libcjson-dev
      libssl-dev libmicrohttpd-dev libsystemd-dev libc-ares-dev libmimalloc-dev ca-certificates)
if [ "$what" = package ]; then
    pkgs+=(python3 dpkg-dev file)
fi
if [ "$what" = test ]; then
    pkgs+=(libcmocka-dev curl python3 python3-yaml python3-jsonschema prometheus
           prometheus-alertmanager nginx-light iproute2 file dpkg-dev procps systemd groff-base clang
           libclang-rt-14-dev stress-ng python3-grpcio openssl libxml2-utils dnsmasq-base
           python3-dnspython gdb)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
