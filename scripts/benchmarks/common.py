"""What every benchmark shares: summaries, alternation, rows of the table.

A *row* is one metric of one workload measured on both binaries:
    {"target": "P1", "name": ..., "unit": ..., "better": "lower"|"higher",
     "ours": summary, "stock": summary, "ratio": ours/stock of medians,
     "goal": (op, value) or None, "met": True/False/None, "note": str}
A summary is {"median", "min", "max", "runs"}.
"""
import statistics


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "runs": values}


def ratio(ours, stock):
    if not ours or not stock or not stock["median"]:
        return None
    return ours["median"] / stock["median"]


def row(target, name, unit, better, ours_runs, stock_runs, goal=None,
        note="", ours=None, stock=None):
    """goal: ("<=", x) or (">=", x) on the ratio ours/stock."""
    o = ours if ours is not None else summary(ours_runs)
    s = stock if stock is not None else summary(stock_runs)
    r = ratio(o, s)
    met = None
    # A ratio <= 0 (a difference below the noise, such as a display part
    # under the floor) meets nothing and fails nothing.
    if goal and r is not None and r > 0:
        met = r <= goal[1] if goal[0] == "<=" else r >= goal[1]
    return {"target": target, "name": name, "unit": unit, "better": better,
            "ours": o, "stock": s, "ratio": r,
            "goal": list(goal) if goal else None, "met": met, "note": note}


def alternate(rounds, fn, who=("ours", "stock")):
    """Run fn(who, round) for each binary, rounds times, alternating which
    goes first so that drift on a shared machine hits both alike.
    Returns {who: [result, ...]} (a result may be None: failed run)."""
    out = {w: [] for w in who}
    for r in range(rounds):
        order = list(who) if r % 2 == 0 else list(reversed(who))
        for w in order:
            try:
                out[w].append(fn(w, r))
            except Exception as e:      # one failed run must not end it all
                print("  [%s round %d] failed: %s" % (w, r + 1, e),
                      flush=True)
                out[w].append(None)
    return out


def pick(results, key):
    return [r.get(key) if r else None for r in results]


def fmt_num(v):
    if v is None:
        return "n/a"
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 10:
        return "%.2f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3f" % v


def fmt_summary(s):
    if not s:
        return "n/a"
    if len(s["runs"]) == 1:
        return fmt_num(s["median"])
    return "%s (%s..%s)" % (fmt_num(s["median"]), fmt_num(s["min"]),
                            fmt_num(s["max"]))


def fmt_goal(row):
    g = row["goal"]
    if not g:
        return ""
    return "%s %.2g" % (g[0], g[1])


def table(rows):
    """The table as text lines."""
    head = ("target", "metric", "ours", "stock", "ours/stock", "goal", "met")
    lines = []
    cells = []
    for r in rows:
        name = r["name"] + (" (%s)" % r["unit"] if r["unit"] else "")
        cells.append((r["target"], name, fmt_summary(r["ours"]),
                      fmt_summary(r["stock"]),
                      "%.2f" % r["ratio"] if r["ratio"] is not None else "-",
                      fmt_goal(r),
                      {True: "yes", False: "NO", None: ""}[r["met"]]))
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
              for i, h in enumerate(head)]
    sep = "  "
    lines.append(sep.join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
    lines.append(sep.join("-" * w for w in widths))
    for c in cells:
        lines.append(sep.join(v.ljust(w) for v, w in zip(c, widths)).rstrip())
    return lines


def rst_table(rows):
    """The table as an RST grid table (README, docs/benchmarks.rst)."""
    head = ("target", "metric", "ours", "stock", "ours/stock", "goal", "met")
    cells = [head]
    for r in rows:
        name = r["name"] + (" (%s)" % r["unit"] if r["unit"] else "")
        cells.append((r["target"], name, fmt_summary(r["ours"]),
                      fmt_summary(r["stock"]),
                      "%.2f" % r["ratio"] if r["ratio"] is not None else "-",
                      fmt_goal(r) or "-",
                      {True: "yes", False: "no", None: "-"}[r["met"]]))
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    hrule = "+" + "+".join("=" * (w + 2) for w in widths) + "+"
    out = [rule]
    for n, c in enumerate(cells):
        out.append("| " + " | ".join(v.ljust(w) for v, w in zip(c, widths))
                   + " |")
        out.append(hrule if n == 0 else rule)
    return out
