# Builds the libFuzzer harnesses of tests/fuzz (clang, -DTRIPLINE_FUZZ=ON) in
# their own build folder, replays every regression input of tests/data/fuzz,
# then runs each harness for a few seconds. Skips (exit 77) without clang.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

command -v clang >/dev/null || { echo "skip: clang not installed"; exit 77; }
SECS=${FUZZ_SMOKE_SECONDS:-5}
FB=$B/fuzz-smoke
# configured every time (seconds when cached): a harness added since the last run must be a target
CC=clang cmake -S "$S" -B "$FB" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTRIPLINE_FUZZ=ON \
    -DBUILD_TESTING=OFF >"$WORK/configure.log" 2>&1 || fail "configure: $(tail -20 "$WORK/configure.log")"

source "$S/tests/fuzz/harnesses.sh"
targets=()
for h in "${!FUZZ_SEEDS[@]}"; do targets+=("fuzz_$h"); done
cmake --build "$FB" -j2 --target "${targets[@]}" >"$WORK/build.log" 2>&1 || fail "build: $(tail -30 "$WORK/build.log")"

for h in $(printf '%s\n' "${!FUZZ_SEEDS[@]}" | sort); do
    bin=$FB/fuzz_$h
    reg=$S/tests/data/fuzz/$h
    # every crash found so far stays fixed: replay each input once
    if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
        "$bin" "$reg"/* >"$WORK/$h.replay" 2>&1 || fail "$h: regression input fails: $(tail -30 "$WORK/$h.replay")"
    fi
    corpus=$WORK/corpus-$h
    mkdir -p "$corpus"
    seeds=()
    for d in ${FUZZ_SEEDS[$h]}; do seeds+=("$S/$d"); done
    # the scratch corpus comes first: libFuzzer writes new inputs there only
    "$bin" -max_total_time="$SECS" -max_len="${FUZZ_MAXLEN[$h]:-65536}" -rss_limit_mb=2048 -timeout=10 \
        -dict="$S/tests/fuzz/${FUZZ_DICT[$h]}.dict" -artifact_prefix="$WORK/$h-" \
        "$corpus" "${seeds[@]}" >"$WORK/$h.log" 2>&1 || fail "$h: $(grep -A30 -m1 'ERROR\|runtime error' "$WORK/$h.log")"
    echo "$h: $(grep -o 'DONE.*' "$WORK/$h.log" | head -1)"
done
echo ok
