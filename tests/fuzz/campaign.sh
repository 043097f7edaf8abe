#!/bin/bash
# A longer campaign (tests/fuzz/README.md): runs each named harness, niced, on a
# scratch corpus OUT/corpus-<h>, until the fuzzer has used CPU seconds (user +
# sys, not wall time: the machine is shared) of at least CPU (default 600), then
# stops it with SIGINT (libFuzzer prints its final stats). Each run is wrapped in
# /usr/bin/time -v (OUT/time-<h>.<n>, log in OUT/log-<h>.<n>); a second call
# goes on where the first stopped, on the same corpus. Crashes land in OUT/art-<h>/.
#   tests/fuzz/campaign.sh BUILD OUT HARNESS...     (from the repository root)
# Run at most two at a time on a shared machine.
set -u
BUILD=$(realpath "$1") OUT=$2
shift 2
S=$(pwd)
CPU=${CPU:-600}
source "$S/tests/fuzz/harnesses.sh"
tick=$(getconf CLK_TCK)
mkdir -p "$OUT" && cd "$OUT" || exit 2

used() { # CPU seconds of the finished runs of harness $1
    local t total=0 u s
    for t in time-"$1".*; do
        grep -q 'User time' "$t" 2>/dev/null || continue
        u=$(awk '/User time/ {print $NF}' "$t"); s=$(awk '/System time/ {print $NF}' "$t")
        total=$(echo "$total + $u + $s" | bc)
    done
    echo "${total%.*}"
}

for h in "$@"; do
    mkdir -p "corpus-$h" "art-$h"
    rem=$((CPU - $(used "$h")))
    [ "$rem" -gt 0 ] || continue
    n=$(($(ls time-"$h".* 2>/dev/null | wc -l) + 1))
    seeds=()
    for d in ${FUZZ_SEEDS[$h]}; do seeds+=("$S/$d"); done
    /usr/bin/time -v -o "time-$h.$n" nice -n 19 "$BUILD/fuzz_$h" -max_total_time=1000000 \
        -max_len="${FUZZ_MAXLEN[$h]:-65536}" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -dict="$S/tests/fuzz/${FUZZ_DICT[$h]}.dict" -artifact_prefix="art-$h/" \
        "corpus-$h" "${seeds[@]}" >"log-$h.$n" 2>&1 &
    tpid=$!
    fpid=
    while kill -0 "$tpid" 2>/dev/null; do
        sleep 5
        [ -n "$fpid" ] || fpid=$(pgrep -P "$tpid" | head -1)
        st=$(cat "/proc/$fpid/stat" 2>/dev/null) || continue
        # utime and stime, fields 14 and 15, counted after the ") " that ends the name
        c=$(echo "${st##*) }" | awk -v t="$tick" '{print int(($12 + $13) / t)}')
        [ "$c" -lt "$rem" ] || kill -INT "$fpid"
    done
    wait "$tpid"
    echo "$h: $(used "$h") CPU s, $(grep -o 'number_of_executed_units: [0-9]*' "log-$h.$n" | tail -1), $(ls "corpus-$h" | wc -l) inputs, $(ls "art-$h" | wc -l) findings"
done
