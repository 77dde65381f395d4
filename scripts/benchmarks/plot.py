"""The README's plot: ratio ours/stock of each metric, with the goal."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Ratios above 1 are better for these, below 1 for the rest.
COLOURS = {True: "#2a9d4b", False: "#d1453b", None: "#7f8c99"}


def plot(rows, path, meta):
    # The metrics with a goal; the rest are in the table.
    rows = [r for r in rows if r["goal"] and r["ratio"] is not None
            and r["ratio"] > 0]
    n = len(rows)
    fig, ax = plt.subplots(figsize=(10, 0.3 * n + 1.8))
    ys = list(range(n))[::-1]
    for y, r in zip(ys, rows):
        ratio = r["ratio"]
        ax.barh(y, math.log10(ratio), color=COLOURS[r["met"]], height=0.7)
        # Spread: the ratio of the extremes, ours min..max over the median
        # of stock.
        o, s = r["ours"], r["stock"]
        if o and s and s["median"] and o["min"] > 0 and o["max"] > 0:
            ax.plot([math.log10(o["min"] / s["median"]),
                     math.log10(o["max"] / s["median"])], [y, y],
                    color="black", linewidth=1)
        if r["goal"]:
            g = math.log10(r["goal"][1])
            ax.plot([g, g], [y - 0.4, y + 0.4], color="black",
                    linewidth=2)
        ax.text(math.log10(ratio), y, " %.2f" % ratio, va="center",
                ha="left" if ratio >= 1 else "right", fontsize=7)
    ax.set_yticks(ys)
    ax.set_yticklabels(["%s %s" % (r["target"], r["name"]) for r in rows],
                       fontsize=7)
    ax.axvline(0, color="grey", linewidth=0.8)
    ticks = [0.01, 0.03, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30]
    ax.set_xticks([math.log10(t) for t in ticks])
    ax.set_xticklabels([str(t) for t in ticks])
    ax.set_xlabel("ours / stock, log scale (black mark: goal; thin line: "
                  "ours min..max over stock's median;\ngreen: goal met, "
                  "red: not met)", fontsize=8)
    ax.set_title("make bench, %s (%s%d rounds, shared %d-core machine)"
                 % (meta["date"], "quick, " if meta["quick"] else "",
                    meta["rounds"], meta["cpus"]), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
