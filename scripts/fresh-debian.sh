#!/usr/bin/env bash
# Runs COMMAND as root in a brand-new Debian 12 (bookworm) root filesystem, in
# a fresh clone of this repository's HEAD (committed work only): proof that the
# README's commands work on a machine that has none of our packages.
#
#   scripts/fresh-debian.sh 'DEMO_SECONDS=5 scripts/demo.sh'
#   scripts/fresh-debian.sh 'scripts/test.sh'
#
# Needs root and network. The base image (mmdebstrap --variant=apt, a minute or
# two) is built once into $FRESH_CACHE (default /var/cache/tripline-fresh); every
# run unpacks a new copy under $TMPDIR and removes it afterwards. The chroot
# shares the host's network and kernel: tests that need a kernel feature a
# chroot lacks fail here just as they would on the host.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/fresh-debian.sh COMMAND" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "fresh-debian: needs root (chroot, mount)" >&2; exit 2; }
command=$1
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cache=${FRESH_CACHE:-/var/cache/tripline-fresh}
image=$cache/bookworm.tar

need_mmdebstrap() {
    command -v mmdebstrap >/dev/null && return 0
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
}

# The host's apt sources when it runs Debian (its mirror works from here),
# else the default mirror.
build_image() {
    local sources=()
    for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
        if [ -s "$f" ]; then sources=("$f"); break; fi
    done
    mkdir -p "$cache"
    echo "fresh-debian: building the bookworm image in $image (once)" >&2
    # mmdebstrap picks the output format from the name: keep it ending in .tar
    rm -rf "$cache/partial.tar"
    mmdebstrap --quiet --variant=apt --mode=root bookworm "$cache/partial.tar" "${sources[@]}"
    mv "$cache/partial.tar" "$image"
}

root=""
teardown() {
    [ -n "$root" ] || return 0
    local m
    # Every mount under the root, deepest first: the ones made here and any a
    # test made inside (ip netns leaves /run/netns behind).
    for m in $(awk -v r="$root/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r); do
        umount -l "$m" || true
    done
    rm -rf --one-file-system "$root" || echo "fresh-debian: could not remove all of $root" >&2
}
trap teardown EXIT

need_mmdebstrap
[ -d "$image" ] && rm -rf "$image" # an earlier bug left a folder here
[ -f "$image" ] && [ -s "$image" ] || build_image
root=$(mktemp -d "${TMPDIR:-/tmp}/tripline-fresh.XXXXXX")
tar -C "$root" -xf "$image"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
git clone -q --no-hardlinks "$repo" "$root/root/tripline"
echo "fresh-debian: $(git -C "$repo" rev-parse --short HEAD) in $root: $command" >&2
chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c 'cd /root/tripline && eval "$1"' fresh-debian "$command"
