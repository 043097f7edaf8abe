#!/usr/bin/env python3
"""Probe files just under a size cap, to measure what the loader costs at the
cap (docs/probe-file.md, "Size cap"): realistic content (the bundled
examples, ids renumbered), and the worst cases: aliases of one big value
in many steps, long scalars, nesting at the allowed depth, an error on every
line. Usage: probe_file_cap.py OUTDIR [CAP_BYTES] (run from the repository
root); then time `tripline check OUTDIR/NAME.yaml` for each."""
import os
import re
import sys


def fill(unit, cap, head=""):
    """head, then as many numbered copies of unit as stay under cap."""
    out, n = [head], len(head.encode())
    i = 0
    while True:
        u = unit(i)
        if n + len(u.encode()) > cap:
            return "".join(out)
        out.append(u)
        n += len(u.encode())
        i += 1


def realistic(cap):
    items = []
    for name in sorted(os.listdir("probes/examples")):
        text = open(os.path.join("probes/examples", name)).read()
        items += ["- probe:" + p for p in re.split(r"^- probe:", text, flags=re.M)[1:]]
    return fill(lambda i: re.sub(r"^- probe: (\S+)", r"- probe: \1-%d" % i, items[i % len(items)]), cap)


def aliases(cap):
    # one value of ~100k nodes (10 x 100 x 100), then steps whose JSON body is it
    big = "{" + ", ".join("k%d: &l%d [%s]" % (i, i, ", ".join(["[%s]" % ", ".join(["x"] * 100)] * 100))
                          for i in range(10)) + "}"
    head = "- probe: aliases\n  vars: {big: &big %s}\n  steps:\n" % big
    return fill(lambda i: "    - {name: s%d, request: {url: http://x/, method: POST, json: *big}}\n" % i, cap, head)


def long_scalars(cap):
    n = cap // 4 - 200
    return ("- probe: long\n  description: %s\n  vars: {a: x}\n  steps:\n    - name: s\n      request:\n"
            "        url: \"http://x/{{ a }}%s\"\n        body: \"%s\"\n      expect:\n"
            "        body: {matches: \"%s\"}\n" % ("d" * n, "u" * n, "{{ a }}" * (n // 7), "(a|b)*c" * (n // 7)))


def deep(cap):
    d = 56  # with the probe's own levels, just inside the 64 allowed
    return fill(lambda i: "- probe: deep%d\n  steps:\n    - {name: s, request: {url: http://x/, json: %s%s}}\n"
                % (i, "[" * d, "]" * d), cap)


def errors(cap):
    return fill(lambda i: "- probe: e%d\n  scheduel: 1m\n  stpes: []\n" % i, cap)


def main():
    out = sys.argv[1]
    cap = int(sys.argv[2]) if len(sys.argv) > 2 else 4 << 20
    os.makedirs(out, exist_ok=True)
    for name, gen in [("realistic", realistic), ("aliases", aliases), ("long-scalars", long_scalars),
                      ("deep", deep), ("errors", errors)]:
        text = gen(cap)
        with open(os.path.join(out, name + ".yaml"), "w") as f:
            f.write(text)
        print(name, len(text.encode()))


if __name__ == "__main__":
    main()
