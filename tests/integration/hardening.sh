#!/usr/bin/env bash
# The agent keeps its secrets out of core dumps and other users' reach: it
# makes itself non-dumpable at start (the kernel then gives /proc/PID to
# root), creates its spool folder 0700, and the unit turns core files off.
set -euo pipefail
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

grep -qx 'LimitCORE=0' "$S/packaging/tripline.service" || fail "the unit does not set LimitCORE=0"

cat >"$WORK/probes.yaml" <<YAML
- probe: idle
  schedule: {every: 1h, timeout: 1s}
  steps: [{name: get, request: {url: "http://127.0.0.1:1/"}, expect: {status: 200}}]
YAML
start_agent h --spool-dir "$WORK/state/spool" "$WORK/probes.yaml"
mode=$(stat -c %a "$WORK/state/spool")
[ "$mode" = 700 ] || fail "spool folder created $mode, not 700"
stop_agent

# Non-dumpable is visible from outside only for a process that is not root:
# its /proc entry then belongs to root instead of its own user.
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
    echo "SKIP (dumpable part): needs root and setpriv to run the agent as another user"
    echo "ok: spool folder 0700, LimitCORE=0"
    exit 0
fi
chmod 755 "$WORK"
install -d -o 65534 -g 65534 "$WORK/nobody"
cp "$WORK/probes.yaml" "$WORK/nobody/probes.yaml"
mkdir -p "$WORK/bin"
printf '#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups %q "$@"\n' "$B/tripline" >"$WORK/bin/tripline"
chmod 755 "$WORK/bin/tripline"
REAL_B=$B
B=$WORK/bin
start_agent n --spool-dir "$WORK/nobody/spool" "$WORK/nobody/probes.yaml"
B=$REAL_B
owner=$(stat -c %u /proc/"$AGENT_PID"/environ)
[ "$owner" = 0 ] || fail "/proc/$AGENT_PID/environ belongs to uid $owner, not root: still dumpable"
curl -fsS "$AGENT_URL/healthz" >/dev/null || fail "/healthz does not answer"
stop_agent
echo "ok: non-dumpable, spool folder 0700, LimitCORE=0"
