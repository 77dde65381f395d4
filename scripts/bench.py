#!/usr/bin/python3
"""make bench: our QEMU and stock QEMU 10.0, alternately, on the same
workloads, in one run; prints one table of medians (min..max), ratios
ours/stock and goals, and writes it as JSON (and a PNG plot).

  scripts/bench.py --ours BIN --stock BIN --bench QXL_BENCH --guest DIR
                   [--json FILE] [--plot FILE] [--quick] [--only P1,P3,...]
  scripts/bench.py --publish BENCH.JSON README.rst docs/bench.png

The parts (scripts/benchmarks/): P1 idle, P2 frames, P3 ring, P4 boot,
memory, migration; see docs/benchmarks.rst.  BENCH_QUICK=1 (or --quick):
one round each, shorter windows.
"""
import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchmarks import common, ring  # noqa: E402

PARTS = ["P3", "P1", "P4", "P2", "Mig"]


def publish(json_path, readme, png):
    """Put the table of a run (bench.json) into the README between its
    bench-table markers, with the date and the plot (png, re-drawn)."""
    with open(json_path) as f:
        run = json.load(f)
    rows, meta = run["rows"], run["meta"]
    from benchmarks import plot
    plot.plot(rows, png, meta)
    rel = os.path.relpath(png, os.path.dirname(os.path.abspath(readme)))
    text = ["", "Run of %s: %s, %d rounds (ring: %d), %.0f s."
            % (meta["date"], "quick" if meta["quick"] else "full",
               meta["rounds"], meta["ring_rounds"], meta["seconds"]),
            "", ".. image:: %s" % rel, "   :width: 100%", "",
            ".. table::", ""]
    text += ["   " + line for line in common.rst_table(rows)]
    text.append("")
    with open(readme) as f:
        s = f.read()
    a = s.index(".. bench-table-start\n") + len(".. bench-table-start\n")
    b = s.index(".. bench-table-end")
    with open(readme, "w") as f:
        f.write(s[:a] + "\n".join(text) + "\n" + s[b:])
    print("README table and %s updated from %s" % (png, json_path))


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--publish":
        publish(*sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    ap.add_argument("--stock", required=True)
    ap.add_argument("--bench", required=True, help="the qxl-bench qtest")
    ap.add_argument("--guest", help="the test guest (make guest)")
    ap.add_argument("--json")
    ap.add_argument("--plot")
    ap.add_argument("--rst", help="write the table as RST here too")
    ap.add_argument("--logdir")
    ap.add_argument("--quick", action="store_true",
                    default=os.environ.get("BENCH_QUICK") == "1")
    ap.add_argument("--only", default=os.environ.get("BENCH_ONLY", ""),
                    help="comma-separated parts: " + ",".join(PARTS))
    a = ap.parse_args()

    a.binary = {"ours": a.ours, "stock": a.stock}
    a.rounds = 1 if a.quick else 3
    a.ring_rounds = 2 if a.quick else 8
    a.ring_commands = 20000
    a.callgrind = True
    a.idle_seconds = 5 if a.quick else 8
    a.frame_seconds = 4 if a.quick else 6
    a.settle = 2
    a.logdir = a.logdir or tempfile.mkdtemp(prefix="bench-logs-")
    only = [p for p in a.only.split(",") if p] or PARTS

    t_start = time.monotonic()

    def log(msg):
        print("[%4.0fs] %s" % (time.monotonic() - t_start, msg), flush=True)

    rows = []
    if "P3" in only:
        rows += ring.run(a, log)
    if a.guest and any(p in only for p in ("P1", "P2", "P4", "Mig")):
        from benchmarks import vm
        if "P1" in only:
            rows += vm.run_idle(a, log)
        if "P4" in only:
            rows += vm.run_boot(a, log)
        if "P2" in only:
            rows += vm.run_frames(a, log)
        if "Mig" in only:
            rows += vm.run_migration(a, log)

    elapsed = time.monotonic() - t_start
    print()
    print("make bench: ours / stock QEMU 10.0, medians (min..max) of %d "
          "rounds (ring: %d), alternating; %s, %d cores; %.0f s"
          % (a.rounds, a.ring_rounds, platform.node(), os.cpu_count(),
             elapsed))
    for line in common.table(rows):
        print(line)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M UTC"),
            "quick": a.quick, "rounds": a.rounds,
            "ring_rounds": a.ring_rounds, "cpus": os.cpu_count(),
            "seconds": elapsed, "ours": a.ours, "stock": a.stock}
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
        print("written to %s" % a.json)
    if a.rst:
        with open(a.rst, "w") as f:
            f.write("\n".join(common.rst_table(rows)) + "\n")
    if a.plot:
        try:
            from benchmarks import plot
            plot.plot(rows, a.plot, meta)
            print("plot: %s" % a.plot)
        except ImportError as e:
            print("no plot (%s)" % e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
