#!/usr/bin/python3
"""Benchmarks of our QEMU side by side with stock QEMU 10.0 (make bench).

Each workload runs on both binaries in turn, ROUNDS times, in one run; the
table gives medians (with min..max) and the ratio ours/stock of the
medians.  The same table is written as JSON.

  scripts/bench.py --ours BIN --stock BIN --bench QXL_BENCH [--json FILE]

Workloads (tests/qtest/qxl-bench.c): QXL commands pushed through the
command ring by a qtest "guest" that follows the ring protocol, released
through the release ring:
  fill    small solid fills
  copy32  copies of a 32x32 32 bpp bitmap (our device leaves it in place)
  copy32big  the same with 256x256, also run with our device copying the
          pixels (x-snapshot-share-pixels=off): what leaving them saves
  copy8   copies of a 32x32 8 bpp bitmap with a palette (our device copies)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

WORKLOADS = ["fill", "copy32", "copy32big", "copy8"]
COMMANDS = 20000
ROUNDS = 5

# metric key, label, unit, better when higher
METRICS = [
    ("commands_per_second", "commands/s through the ring", "", True),
    ("worker_cpu_us_per_command", "spice worker CPU per command", "us", False),
    ("qemu_cpu_us_per_command", "QEMU CPU per command (all threads)", "us",
     False),
    ("snapshot_bytes_per_command", "bytes copied per command", "B", False),
]


def run_one(bench, qemu, workload, options=None):
    env = dict(os.environ, QTEST_QEMU_BINARY=qemu)
    args = [bench, workload, str(COMMANDS)] + ([options] if options else [])
    out = subprocess.run(args, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True, timeout=300)
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("%s %s: no result (status %d)"
                       % (qemu, workload, out.returncode))


def summary(values):
    values = [v for v in values if v is not None and v >= 0]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "runs": values}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    ap.add_argument("--stock", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--json")
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    a = ap.parse_args()

    results = {}
    copying = {}
    for w in WORKLOADS:
        runs = {"ours": [], "stock": [], "ours-copying": []}
        for r in range(a.rounds):
            # Alternate which goes first, so drift hits both alike.
            order = ["ours", "stock"] if r % 2 == 0 else ["stock", "ours"]
            if w == "copy32big":
                order.append("ours-copying")
            for who in order:
                binary = a.stock if who == "stock" else a.ours
                opts = ("x-snapshot-share-pixels=off"
                        if who == "ours-copying" else None)
                runs[who].append(run_one(a.bench, binary, w, opts))
        if runs["ours-copying"]:
            copying[w] = {key: summary([x[key] for x in runs["ours-copying"]])
                          for key, _, _, _ in METRICS}
        results[w] = {}
        for key, _, _, _ in METRICS:
            ours = summary([x[key] for x in runs["ours"]])
            stock = summary([x[key] for x in runs["stock"]])
            ratio = None
            if ours and stock and stock["median"]:
                ratio = ours["median"] / stock["median"]
            results[w][key] = {"ours": ours, "stock": stock, "ratio": ratio}

    def fmt(s):
        if not s:
            return "n/a"
        return "%.1f (%.1f..%.1f)" % (s["median"], s["min"], s["max"])

    print("QXL ring benchmark: %d commands, %d rounds each, medians "
          "(min..max)" % (COMMANDS, a.rounds))
    print("%-8s %-38s %-26s %-26s %s" % ("workload", "metric", "ours",
                                         "stock", "ours/stock"))
    for w in WORKLOADS:
        for key, label, unit, _ in METRICS:
            m = results[w][key]
            print("%-8s %-38s %-26s %-26s %s"
                  % (w, label + (" (%s)" % unit if unit else ""),
                     fmt(m["ours"]), fmt(m["stock"]),
                     "%.2f" % m["ratio"] if m["ratio"] is not None else "-"))
    for w, m in copying.items():
        print("%-8s our device copying the pixels too (x-snapshot-share-"
              "pixels=off):" % w)
        for key, label, unit, _ in METRICS:
            ours = results[w][key]["ours"]
            ratio = (m[key]["median"] / ours["median"]
                     if m[key] and ours and ours["median"] else None)
            print("%-8s %-38s %-26s %-26s %s"
                  % ("", label + (" (%s)" % unit if unit else ""),
                     fmt(m[key]), "(copying/sharing)",
                     "%.2f" % ratio if ratio is not None else "-"))
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"commands": COMMANDS, "rounds": a.rounds,
                       "results": results, "ours_copying_pixels": copying},
                      f, indent=1)
        print("written to %s" % a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
