"""The report of tests/bench/table.sh: one markdown table from its work dir.

    table_report.py WORK CLK_TCK PROTOS CONFIGS OUT COMMAND [ROUNDS]
"""
import os
import re
import sys


def metric_sum(path, name):
    tot = 0.0
    for line in open(path):
        if line.startswith(name + "{") or line.startswith(name + " "):
            tot += float(line.rsplit(" ", 1)[1])
    return tot


def lateness(path):
    b = {}
    for line in open(path):
        m = re.match(r'tripline_schedule_lateness_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
        if m:
            b[float("inf") if m.group(1) == "+Inf" else float(m.group(1))] = float(m.group(2))
    return b


def quantile(q, bounds, cum):
    """Prometheus histogram_quantile: linear inside the bucket (cum: cumulative counts)."""
    if not cum or cum[-1] <= 0:
        return float("nan")
    rank, prev_b, prev_c = q * cum[-1], 0.0, 0.0
    for b, c in zip(bounds, cum):
        if c >= rank:
            if b == float("inf"):
                return prev_b
            return prev_b + (b - prev_b) * ((rank - prev_c) / (c - prev_c) if c > prev_c else 0)
        prev_b, prev_c = b, c
    return prev_b


def p99(b0, b1):
    bounds = sorted(b1)
    return quantile(0.99, bounds, [b1[k] - b0.get(k, 0) for k in bounds])


def core(path):
    """The measured core over the window, % of its time: softirq (sampled at the
    tick, so it undercounts short bursts at low load) and steal (the
    hypervisor's own clock). Idle is left out: with a tickless kernel the busy
    side of /proc/stat is sampled and does not add up at low load."""
    if not os.path.exists(path):
        return "-"
    v = [int(x) for x in open(path).read().split()]
    d = [b - a for a, b in zip(v[:8], v[8:])]
    total = sum(d) or 1
    return f"{100 * d[6] / total:.0f} / {100 * d[7] / total:.0f}"


def window(path, tck):
    c0, c1, t0, t1, rss, twc, tws = open(path).read().split()
    secs = float(t1) - float(t0)
    return (float(c1) - float(c0)) / tck, secs, int(rss), f"{twc} / {tws}"


def agent_row(work, tag, tck):
    cpu, secs, rss, tw = window(f"{work}/{tag}.cpu", tck)
    m0, m1 = f"{work}/{tag}.m0", f"{work}/{tag}.m1"
    s1, s2 = (float(x) for x in open(f"{work}/{tag}.mt").read().split())
    runs = metric_sum(m1, "tripline_probe_runs_total") - metric_sum(m0, "tripline_probe_runs_total")
    fails = metric_sum(m1, "tripline_probe_failures_total") - metric_sum(m0, "tripline_probe_failures_total")
    agent = metric_sum(m1, "tripline_agent_faults_total") - metric_sum(m0, "tripline_agent_faults_total")
    skips = metric_sum(m1, "tripline_runs_skipped_total") - metric_sum(m0, "tripline_runs_skipped_total")
    # due times passed over while the loop stalled longer than an interval
    missed = metric_sum(m1, "tripline_runs_missed_total") - metric_sum(m0, "tripline_runs_missed_total")
    rate = runs / (s2 - s1)
    return {"rate": rate, "cpu_pct": 100 * cpu / secs, "us": 1e6 * cpu / (rate * secs) if rate else float("nan"),
            "rss": rss / 1024, "tw": tw, "bad": f"{fails:.0f} ({agent:.0f} agent) / {skips:.0f}" + (f" + {missed:.0f} missed" if missed else ""),
            "p99": f"{1000 * p99(lateness(m0), lateness(m1)):.2f} ms", "core": core(f"{work}/{tag}.cpu.core")}


def exporter_row(work, tag, tck):
    path = f"{work}/{tag}.bbcpu"
    if not os.path.exists(path):
        return None
    cpu, secs, rss, tw = window(path, tck)
    kv = dict(x.split("=", 1) for x in open(f"{work}/{tag}.scraper").read().split() if "=" in x)
    rate = float(kv.get("rate", "0/s").rstrip("/s"))
    return {"rate": rate, "cpu_pct": 100 * cpu / secs, "us": 1e6 * cpu / (rate * secs) if rate else float("nan"),
            "rss": rss / 1024, "tw": tw, "bad": f"{kv.get('failed', '?')} / {kv.get('late', '?')} late",
            "p99": "n/a", "core": core(path + ".core")}


def loop_row(work, tag):
    if not os.path.exists(f"{work}/{tag}.loop"):
        return None
    kv = dict(x.split("=", 1) for x in open(f"{work}/{tag}.loop").read().split() if "=" in x)
    tw = " / ".join(open(f"{work}/{tag}.looptw").read().split())
    cpu, wall = float(kv["cpu_s"]), float(kv["wall_s"])
    return {"rate": float(kv["runs_per_s"]), "cpu_pct": 100 * cpu / wall, "us": float(kv["cpu_us_per_req"]),
            "rss": float("nan"), "tw": tw, "bad": f"{kv['failures']} / -",
            # only a loop woken at its due times (--timerfd) says how late it started
            "p99": f"{float(kv['late_p99_ms']):.2f} ms" if kv.get("timerfd") == "1" else "n/a",
            "core": core(f"{work}/{tag}.loop.core")}


def median_round(rounds):
    """The round whose CPU per check is the median (the upper middle of an
    even count: the costlier): its figures stay together in the row, every
    round's CPU per check beside it."""
    ok = sorted((r for r in rounds if r and r["us"] == r["us"]), key=lambda r: r["us"])
    return ok[len(ok) // 2] if ok else None


def ratios(num, den):
    """Per-round ratio of CPU per check, the two taken in the same round."""
    return [a["us"] / b["us"] for a, b in zip(num, den) if a and b and b["us"] > 0]


def say_ratios(rs):
    if len(rs) == 1:
        return f"{rs[0]:.2f}"
    s = sorted(rs)
    med = (s[(len(s) - 1) // 2] + s[len(s) // 2]) / 2
    return f"{med:.2f} (median of {len(rs)} rounds: " + ", ".join(f"{r:.2f}" for r in rs) + ")"


def main():
    work, tck, protos, configs, out, command = sys.argv[1:7]
    rounds = int(sys.argv[7]) if len(sys.argv) > 7 else 1
    tck = float(tck)
    head = ("| protocol | tool | probes x interval | checks/s | CPU % of one core | CPU µs per check "
            "| RSS MiB | TIME_WAIT client / server | failed (of them agent) / skipped | lateness p99 "
            "| core softirq / steal % |")
    rows = [head, "|" + "---|" * 11]
    notes = []

    def add(proto, tool, cfg, rs):
        r = median_round(rs) if isinstance(rs, list) else rs
        if not r:
            return None
        us = f"{r['us']:.0f}"
        if isinstance(rs, list) and len(rs) > 1:
            us += " (" + ", ".join(f"{x['us']:.0f}" for x in rs if x) + ")"
        rss = "-" if r["rss"] != r["rss"] else f"{r['rss']:.1f}"
        rows.append(f"| {proto} | {tool} | {cfg} | {r['rate']:.0f} | {r['cpu_pct']:.1f} | {us} | {rss} "
                    f"| {r['tw']} | {r['bad']} | {r['p99']} | {r['core']} |")
        return r

    for proto in protos.split():
        for cfg in configs.split():
            n, every = cfg.split(":")
            tags = [f"{proto}-{n}-{every}.r{i + 1}" for i in range(rounds)]
            label = f"{int(n):,} x {every}"
            P = proto.upper()
            a = [agent_row(work, t, tck) for t in tags]
            add(P, "tripline", label, a)
            b = [exporter_row(work, t, tck) for t in tags]
            if add(P, "blackbox_exporter", label, b) and ratios(a, b):
                notes.append(f"- {P} {label}: CPU per check, tripline / blackbox_exporter: {say_ratios(ratios(a, b))}")
            p = [loop_row(work, f"{t}.paced") for t in tags]
            if add(P, "raw libcurl loop, paced in the agent's slots", label, p) and ratios(a, p):
                notes.append(f"- {P} {label}: CPU per check, tripline / raw loop at the same rate: "
                             f"{say_ratios(ratios(a, p))}")
        f = loop_row(work, proto)
        if f:
            add(proto.upper(), "raw libcurl loop", "flat out, 50 at a time", f)
    rows.append("| TCP, DNS | see RESULTS-tcp.md, RESULTS-dns.md | | | | | | | | | |")
    if rounds > 1:
        notes.insert(0, f"Each configuration measured in {rounds} rounds (tripline, blackbox_exporter, the paced "
                        "loop, in that order, each round); a row shows the round with the median CPU per check, "
                        "every round's figure in brackets; ratios are taken within a round.\n")
    table = "\n".join(rows) + "\n\n" + "\n".join(notes)
    print(table)
    machine = open(f"{work}/machine.txt").read().strip()
    with open(out, "w") as f:
        f.write("# tests/bench/table.sh results\n\n```\n" + command.strip() + "\n```\n\n```\n" + machine +
                "\n```\n\n" + table + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
