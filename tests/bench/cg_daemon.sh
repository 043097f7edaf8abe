#!/usr/bin/env bash
# Instructions per check of the daemon (`tripline run`) against the raw
# libcurl loop, by callgrind: figures that do not move with the machine's
# load, so each optimisation can be measured on a shared box. Run by hand:
#
#   bash tests/bench/cg_daemon.sh                 # 100 probes every 2s, 20 s window
#   N=1000 EVERY=20s bash tests/bench/cg_daemon.sh   # same rate, 10x the probes
#   BENCH_KEEP=/tmp/cg bash tests/bench/cg_daemon.sh  # keep callgrind files
#   LOG_LEVEL=debug bash tests/bench/cg_daemon.sh # with the per-run "probe ok" log line
#   WINDOW=60 bash tests/bench/cg_daemon.sh       # steadier: a 20 s window moves +-8 %
#   CACHE_SIM=1 LOOPS=0 N=100000 EVERY=2000s LEAD=60 bash tests/bench/cg_daemon.sh
#       # with callgrind's cache model: L1 misses per check (what grows with
#       # the probe count is memory traffic more than instructions); no loops
#
# The agent runs under callgrind with instrumentation off; after start-up and
# one interval, `callgrind_control -i on` opens the window and `-i off` closes
# it. Runs in the window: the delta of tripline_probe_runs_total, scraped
# from /metrics just before and after (with instrumentation off).
# Ir per check = window Ir / runs: everything the daemon does for a check,
# its share of the 1 s escalation tick and the scheduler's wake-ups included.
# The floor: curl_baseline (fresh connection each, same CA settings), marginal
# Ir per transfer = (Ir(M requests) - Ir(1 request)) / (M - 1), and the same
# with --same-opts (tripline's own curl options). Kernel work is not counted
# by callgrind in either. Prints key=value lines.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$SRC/build-bench-cg}
N=${N:-100}
EVERY=${EVERY:-2s}
WINDOW=${WINDOW:-20}
M=${M:-400}
LOG_LEVEL=${LOG_LEVEL:-info}
CACHE_SIM=${CACHE_SIM:-}
LOOPS=${LOOPS:-1}
WORK=$(mktemp -d /tmp/tripline-cg-daemon.XXXXXX)
PIDS=()
# shellcheck source=tests/bench/benchlib.sh
. "$SRC/tests/bench/benchlib.sh"
trap bench_cleanup EXIT
# the last-level cache callgrind models (size,assoc,line): by default this
# machine's L3 as sysfs says, not callgrind's guess
CG_LL=${CG_LL:-$(bench_l3_geometry)}

command -v valgrind >/dev/null || bench_die "valgrind not installed"
bench_build_release "$BUILD" -g
bench_nginx
bench_gen_dir "$N" "$EVERY" "$WORK/probes"
bench_agent_config "$WORK/agent.yaml" "$LOG_LEVEL"

APORT=$(bench_free_port)
valgrind --tool=callgrind --instr-atstart=no ${CACHE_SIM:+--cache-sim=yes ${CG_LL:+--LL=$CG_LL}} \
    --callgrind-out-file="$WORK/cg.agent" "$BUILD/tripline" run --config "$WORK/agent.yaml" \
    --listen "127.0.0.1:$APORT" "$WORK"/probes/*.yaml >"$WORK/agent.out" 2>"$WORK/agent.err" &
APID=$!
PIDS+=($APID)
# "tripline started" is an info line: wait for the endpoint instead
bench_wait_http "http://127.0.0.1:$APORT/status" "$APID"
# one interval before the window (LEAD=S: less, for long intervals; the runs
# of a file are spread over the interval from the start, so the rate is even)
sleep "${LEAD:-$(bench_secs "$EVERY")}"
runs() { # runs (or, with an argument, another per-probe counter) summed over the probes
    curl -fsS "http://127.0.0.1:$APORT/metrics" |
        awk -v m="^${1:-tripline_probe_runs_total}[{ ]" '$0 ~ m {n += $NF} END {printf "%d\n", n}'
}
r0=$(runs)
callgrind_control -z "$APID" >/dev/null
callgrind_control -i on "$APID" >/dev/null
sleep "$WINDOW"
callgrind_control -i off "$APID" >/dev/null
r1=$(runs)
bad=$(runs tripline_probe_failures_total)
kill -TERM "$APID"
wait "$APID" || true
agent_ir=$(bench_ir_total "$WORK/cg.agent")
# with CACHE_SIM: L1 instruction misses, L1 data misses (read + write) and
# last-level data misses in the window
agent_l1=$(awk '/^events:/ {for (i = 2; i <= NF; i++) col[$i] = i}
    /^(totals|summary):/ {t = $0} END {split(t, v, " "); if ("D1mr" in col)
    printf "%d %d %d\n", v[col["I1mr"]], v[col["D1mr"]] + v[col["D1mw"]], v[col["DLmr"]] + v[col["DLmw"]];
    else print "0 0 0"}' "$WORK/cg.agent")

make -s -C "$SRC/tests/bench" OUT="$WORK" >/dev/null
ir() { valgrind --tool=callgrind --callgrind-out-file="$1" "${@:2}" >/dev/null 2>"$1.log" ||
    bench_die "callgrind: ${*:2} failed"; bench_ir_total "$1"; }
URL="${TARGET_PREFIX}0"
b_m=0 b_1=0 s_m=0 s_1=0
if [ "$LOOPS" = 1 ]; then
    b_m=$(ir "$WORK/cg.base" "$WORK/curl_baseline" -t 120000 -n "$M" -c 10 "$URL")
    b_1=$(ir "$WORK/cg.base1" "$WORK/curl_baseline" -t 120000 -n 1 -c 1 "$URL")
    s_m=$(ir "$WORK/cg.same" "$WORK/curl_baseline" --same-opts -t 120000 -n "$M" -c 10 "$URL")
    s_1=$(ir "$WORK/cg.same1" "$WORK/curl_baseline" --same-opts -t 120000 -n 1 -c 1 "$URL")
fi

python3 - "$agent_ir" "$r0" "$r1" "$bad" "$b_m" "$b_1" "$s_m" "$s_1" "$M" $agent_l1 "$N" "$EVERY" "$WINDOW" "$LOG_LEVEL" <<'PY'
import sys
air, r0, r1, bad, bm, b1, sm, s1, m, i1, d1, dl = (int(x) for x in sys.argv[1:13])
n, every, window, level = sys.argv[13:]
runs = r1 - r0
agent = air / runs if runs else float("nan")
print(f"probes={n} every={every} window_s={window} log_level={level} runs={runs} failed_runs_total={bad}")
print(f"agent_ir_per_check={agent:.0f}")
if runs and (i1 or d1):
    print(f"agent_i1_misses_per_check={i1 / runs:.0f}")
    print(f"agent_d1_misses_per_check={d1 / runs:.0f}")
    print(f"agent_ll_data_misses_per_check={dl / runs:.1f}")
if bm:
    base = (bm - b1) / (m - 1)
    same = (sm - s1) / (m - 1)
    print(f"loop_ir_per_transfer={base:.0f}")
    print(f"loop_same_opts_ir_per_transfer={same:.0f}")
    print(f"ratio_agent_to_loop={agent / base:.2f}")
    print(f"ratio_agent_to_loop_same_opts={agent / same:.2f}")
PY
callgrind_annotate --threshold=95 ${CACHE_SIM:+--sort=D1mr,Ir} "$WORK/cg.agent" 2>/dev/null | sed -n '1,45p' >"$WORK/top.agent.txt" || true
cat "$WORK/top.agent.txt"
[ -n "${BENCH_KEEP:-}" ] && mkdir -p "$BENCH_KEEP" && cp -r "$WORK"/cg.* "$WORK"/*.yaml "$WORK"/probes "$BENCH_KEEP"/
exit 0
