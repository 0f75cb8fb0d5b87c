#!/usr/bin/env python3
"""Plot HdrHistogram percentile files (sockify-load --hgrm FILE) as latency-by-percentile curves.

    tools/plot-hgrm.py OUT.png FILE.hgrm [FILE.hgrm ...]
    tools/plot-hgrm.py OUT.png sockify=a.hgrm websockify=b.hgrm     (LABEL=FILE sets the legend)

The x axis is the percentile on the usual HdrHistogram scale (1/(1-p), log), so the tail from p90 to p99.99 gets
as much room as the median; the y axis is latency in microseconds (sockify-load writes µs). Needs matplotlib
(`.venv/bin/python -m pip install matplotlib`, as tools/setup-deps.sh does).
"""
import os
import sys


def read_hgrm(path):
    """(percentile, value) pairs from the 'Value Percentile TotalCount 1/(1-Percentile)' rows."""
    points = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or line.lstrip().startswith("#"):
                continue
            try:
                value, percentile = float(parts[0]), float(parts[1])
            except ValueError:
                continue  # the header row
            points.append((percentile, value))
    if not points:
        raise SystemExit(f"plot-hgrm: {path} has no percentile rows")
    return points


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) > 1 and argv[1] in ("-h", "--help") else 2
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FixedLocator, FuncFormatter
    except ImportError:
        print("plot-hgrm: matplotlib is missing: .venv/bin/python -m pip install matplotlib", file=sys.stderr)
        return 1
    out = argv[1]
    fig, ax = plt.subplots(figsize=(9, 5))
    cap = 1e6  # 99.9999 %: the last row (100 %) would be infinite on this scale
    for spec in argv[2:]:
        label, path = spec.split("=", 1) if "=" in spec and not os.path.exists(spec) else (
            os.path.splitext(os.path.basename(spec))[0], spec)
        points = read_hgrm(path)
        xs = [min(1 / (1 - p), cap) if p < 1 else cap for p, _ in points]
        ax.plot(xs, [v for _, v in points], label=label, linewidth=1.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [1, 2, 10, 100, 1000, 10000, 100000, 1000000]
    names = {1: "0%", 2: "50%", 10: "90%", 100: "99%", 1000: "99.9%", 10000: "99.99%", 100000: "99.999%",
             1000000: "99.9999%"}
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: names.get(int(round(x)), "")))
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency (µs)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    ax.set_title("sockify-load latency by percentile")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"plot-hgrm: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
