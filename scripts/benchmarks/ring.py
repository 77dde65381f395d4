"""P3: the QXL command ring driven by a qtest guest (tests/qtest/qxl-bench.c).

Commands are pushed the way a guest driver does (kick only when prod
crosses notify_on_prod; on a full ring notify_on_cons and wait for the
DISPLAY interrupt) and released through the release ring.  Per workload:
commands per second, spice worker CPU and QEMU CPU per command, full-ring
waits.  Then the instructions per command of the device code, counted by
valgrind's callgrind: the inclusive cost of the device's entry points
(the QXLInterface callbacks spice-server calls and the I/O port write).
"""
import json
import os
import re
import shutil
import subprocess
import tempfile

from .common import alternate, pick, row, summary

WORKLOADS = ["fill", "copy32", "copy32big", "copy8"]

# Entry points of the device code: what spice-server's worker calls, and
# the port write of NOTIFY_CMD and friends.
ENTRY_POINTS = {
    "ours": ["qxl_if_get_command", "qxl_if_req_cmd_notification",
             "qxl_if_release_resource", "qxl_io_write"],
    "stock": ["interface_get_command", "interface_req_cmd_notification",
              "interface_release_resource", "ioport_write"],
}


def run_one(bench, qemu, workload, commands, options=None, wrapper=None):
    env = dict(os.environ,
               QTEST_QEMU_BINARY=(wrapper + " " if wrapper else "") + qemu)
    args = [bench, workload, str(commands)] + ([options] if options else [])
    out = subprocess.run(args, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, timeout=900)
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("%s %s: no result (status %d)"
                       % (qemu, workload, out.returncode))


def callgrind_ir(bench, qemu, who, commands):
    """Instructions per command in the device's entry points (inclusive)."""
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        wrapper = ("valgrind --tool=callgrind --callgrind-out-file=%s "
                   "--dump-instr=no --collect-jumps=no" % out)
        run_one(bench, qemu, "fill", commands, wrapper=wrapper)
        ann = subprocess.run(["callgrind_annotate", "--inclusive=yes",
                              "--threshold=100", out],
                             stdout=subprocess.PIPE, text=True, check=True)
    total = 0
    found = set()
    # "  3,893,361 ( 1.63%)  /path/qxl-spice.c:qxl_if_get_command [/bin]"
    pat = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+\S*:(\w+) \[")
    for line in ann.stdout.splitlines():
        m = pat.match(line)
        if m and m.group(2) in ENTRY_POINTS[who] and m.group(2) not in found:
            found.add(m.group(2))
            total += int(m.group(1).replace(",", ""))
    return total / commands if found else None


def run(args, log):
    rows = []
    collapsed = {"ours": 0, "stock": 0}
    total = {"ours": 0, "stock": 0}
    rounds = args.ring_rounds
    commands = args.ring_commands
    for w in WORKLOADS:
        log("P3 ring: %s, %d commands, %d rounds" % (w, commands, rounds))
        res = alternate(rounds, lambda who, r: run_one(
            args.bench, args.binary[who], w, commands))
        for who in ("ours", "stock"):
            log("  %s: %s" % (who, ", ".join(
                "%.0f/s (%d waits)" % (x["commands_per_second"],
                                       x["full_ring_waits"])
                for x in res[who] if x)))
        rows.append(row("P3", "%s: commands/s" % w, "", "higher",
                        pick(res["ours"], "commands_per_second"),
                        pick(res["stock"], "commands_per_second"),
                        goal=(">=", 1.0)))
        rows.append(row("P3", "%s: worker CPU per command" % w, "us", "lower",
                        pick(res["ours"], "worker_cpu_us_per_command"),
                        pick(res["stock"], "worker_cpu_us_per_command"),
                        goal=("<=", 1.0)))
        # A collapse (the worker only on spice-server's 10 ms poll, about
        # 4,000 commands/s) shows as a run far under the others.
        for who in ("ours", "stock"):
            collapsed[who] += sum(1 for x in res[who]
                                  if x and x["commands_per_second"] < 10000)
            total[who] += len(res[who])
        if w == "fill":
            rows.append(row("P3", "fill: QEMU CPU per command", "us", "lower",
                            pick(res["ours"], "qemu_cpu_us_per_command"),
                            pick(res["stock"], "qemu_cpu_us_per_command")))
            rows.append(row("P3", "fill: full-ring waits", "", "lower",
                            pick(res["ours"], "full_ring_waits"),
                            pick(res["stock"], "full_ring_waits")))
    rows.append(row("P3", "runs under 10,000 commands/s (collapsed), of %d"
                    % total["ours"], "", "lower", [collapsed["ours"]],
                    [collapsed["stock"]]))
    if args.callgrind:
        n = 2000
        log("P3 ring: callgrind, fill, %d commands" % n)
        ir = {who: callgrind_ir(args.bench, args.binary[who], who, n)
              for who in ("ours", "stock")}
        log("  Ir per command: ours %s, stock %s" % (ir["ours"], ir["stock"]))
        rows.append(row("P3", "fill: device instructions per command "
                        "(callgrind)", "Ir", "lower", [ir["ours"]],
                        [ir["stock"]], goal=("<=", 0.5)))
    return rows
