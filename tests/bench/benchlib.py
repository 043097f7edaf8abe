"""Helpers for tests/bench/run.sh: exact child CPU, percentiles, the report.

  benchlib.py rusage OUTFILE -- CMD...  run CMD (stdout to OUTFILE), print
                                        "wall user sys rc" of the child (wait4)
  benchlib.py ttfb EXPECT_MS FILES...   steps[0].timings.ttfb_ms of every JSON
                                        line, print "n p50 p99 max min" of ttfb - EXPECT_MS
  benchlib.py curlw EXPECT_MS FILE      same for one time_starttransfer (s) per line
  benchlib.py okcount FILE              JSON lines with "ok": true
  benchlib.py report RESULTS_KV OUT_MD  render the table from key=value lines
"""
import json
import os
import statistics
import subprocess
import sys
import time


def rusage(out, cmd):
    with open(out, "wb") as f:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=f)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
    rc = os.waitstatus_to_exitcode(status)
    print(f"{wall:.4f} {ru.ru_utime:.4f} {ru.ru_stime:.4f} {rc}")


def pct(xs, q):
    """Nearest-rank percentile: the value at or below which q% of samples lie."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))
    return s[k]


def summary(errs):
    print(f"{len(errs)} {pct(errs, 50):.3f} {pct(errs, 99):.3f} {max(errs):.3f} {min(errs):.3f}")


def ttfb(expect, files):
    net = files[0] == "--net"
    files = files[1:] if net else files
    errs = []
    for fn in files:
        for line in open(fn):
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if not r.get("ok"):
                sys.exit(f"ttfb: a run failed: {line[:300]}")
            t = r["steps"][0]["timings"]
            # --net: what is left once the connect (the server's accept) is taken out
            errs.append(t["ttfb_ms"] - expect - (t["dns_ms"] + t["connect_ms"] if net else 0.0))
    summary(errs)


def curlw(expect, args):
    net = args[0] == "--net"
    fn = args[-1]
    errs = []
    for line in open(fn):
        if line.strip():
            st, conn = (float(x) * 1000.0 for x in line.split())
            errs.append(st - expect - (conn if net else 0.0))
    summary(errs)


def okcount(fn):
    n = 0
    for line in open(fn):
        if line.strip() and json.loads(line).get("ok"):
            n += 1
    print(n)


def report(kv_file, out_md):
    kv = {}
    for line in open(kv_file):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            kv[k] = v

    def f(k):
        return float(kv[k])

    rows = []
    for proto in ("http", "https"):
        tl = f(f"tl_{proto}_net_us")
        base = f(f"base_{proto}_us")
        target = 1.5 if proto == "http" else 1.3
        rows.append((proto, tl, base, tl / base, target))
    lines = []
    lines.append("### CPU per fresh run (median of %s rounds, %s runs each, all in flight at once)" %
                 (kv["rounds"], kv["n"]))
    lines.append("")
    lines.append("| | tripline once: runs/s | tripline CPU µs/run (net of load) | tripline CPU s/1,000 runs "
                 "| curl-multi loop: runs/s | loop CPU µs/req | ratio | target | loop with tripline's curl options µs/req |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for proto, tl, base, ratio, target in rows:
        ok = "met" if ratio <= target else "MISSED"
        lines.append(f"| {proto} | {f(f'tl_{proto}_rps'):.0f} | {tl:.1f} | {tl / 1000:.3f} | "
                     f"{f(f'base_{proto}_rps'):.0f} | {base:.1f} | {ratio:.2f}x | {target}x ({ok}) | "
                     f"{f(f'same_{proto}_us'):.1f} |")
    lines.append("")
    lines.append(f"Load/start cost, reported apart (`tripline check` on the same {kv['n']}-probe file): "
                 f"http {f('tl_http_load_ms'):.1f} ms, https {f('tl_https_load_ms'):.1f} ms CPU. "
                 f"Gross `tripline once` CPU for {kv['n']} runs: "
                 f"http {f('tl_http_gross_ms'):.1f} ms, https {f('tl_https_gross_ms'):.1f} ms.")
    if "bb_http_us" in kv:
        lines.append("")
        lines.append("### blackbox_exporter (same nginx, same run)")
        lines.append("")
        lines.append("| | probes | failed | CPU µs/probe (/proc/PID/stat, 10 ms ticks) | vs tripline | vs loop |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for proto in ("http", "https"):
            bb = f(f"bb_{proto}_us")
            lines.append(f"| {proto} | {kv[f'bb_{proto}_n']} | {kv[f'bb_{proto}_failed']} | {bb:.0f} | "
                         f"{bb / f(f'tl_{proto}_net_us'):.2f}x | {bb / f(f'base_{proto}_us'):.2f}x |")
    if "cg_http_tl_ir" in kv:
        lines.append("")
        lines.append("### Instruction counts (callgrind, %s runs, marginal per run: N runs minus 1 run, "
                     "tripline also minus the load difference from `tripline check`)" % kv["cg_n"])
        lines.append("")
        lines.append("| | tripline Ir/run | curl-multi loop Ir/req | ratio | loop with tripline's options Ir/req | ratio |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for proto in ("http", "https"):
            if f"cg_{proto}_tl_ir" not in kv:
                continue
            a, b, c = f(f"cg_{proto}_tl_ir"), f(f"cg_{proto}_base_ir"), f(f"cg_{proto}_same_ir")
            lines.append(f"| {proto} | {a:,.0f} | {b:,.0f} | {a / b:.2f}x | {c:,.0f} | {a / c:.2f}x |")
    lines.append("")
    lines.append("### TTFB error against a server-injected 50 ms delay (hostile_server /delay?ms=50)")
    lines.append("")
    lines.append("| | runs | p50 ms | p99 ms | max ms | min ms |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for key, label in (("ttfb_seq", "tripline, one run at a time"),
                       ("ttfb_curl", "curl CLI reference, one at a time"),
                       ("ttfb_conc", "tripline, all runs in one `once` (stress)"),
                       ("ttfb_curlpar", "curl CLI, all in flight (`--parallel`, stress reference)"),
                       ("ttfbnet_seq", "tripline, one at a time, net of connect"),
                       ("ttfbnet_curl", "curl CLI, one at a time, net of connect"),
                       ("ttfbnet_conc", "tripline, all in one `once`, net of connect")):
        if key in kv:
            n, p50, p99, mx, mn = kv[key].split()
            lines.append(f"| {label} | {n} | {p50} | {p99} | {mx} | {mn} |")
    p99 = float(kv["ttfb_seq"].split()[2])
    lines.append("")
    lines.append(f"Target p99 < 0.5 ms: {'met' if p99 < 0.5 else 'MISSED'} ({p99:.3f} ms, one run at a time).")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(out_md, "a") as o:
        o.write(text)


def main():
    cmd = sys.argv[1]
    if cmd == "rusage":
        assert sys.argv[3] == "--"
        rusage(sys.argv[2], sys.argv[4:])
    elif cmd == "ttfb":
        ttfb(float(sys.argv[2]), sys.argv[3:])
    elif cmd == "curlw":
        curlw(float(sys.argv[2]), sys.argv[3:])
    elif cmd == "okcount":
        okcount(sys.argv[2])
    elif cmd == "report":
        report(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
