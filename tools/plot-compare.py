#!/usr/bin/env python3
"""Draw a tools/compare results table (the markdown it prints or writes to docs/benchmarks.md) as bar charts.

    tools/plot-compare.py OUT.png TABLE.md [--metrics "GB/s,msgs/s"] [--columns "socat,Sockify,..."]

Reads the first markdown table whose header starts with `| workload | metric |` and draws one panel per metric kind
(throughput in GB/s; message rates in msgs/s, frames/s, conns/s), one group of bars per workload and one bar per
proxy column. Ratio columns ("… ÷ …") are skipped. Needs matplotlib (tools/setup-deps.sh puts it in .venv).
"""
import sys


def parse_table(path):
    """(columns, rows): the proxy column names and [(workload, metric, {column: float|None})]."""
    header, rows = None, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("|"):
                if header and rows:
                    break
                continue
            cells = [c.strip() for c in line.strip("|").split("|")]
            if header is None:
                if cells[:2] == ["workload", "metric"]:
                    header = cells
                continue
            if set(cells[0]) <= set("-: "):
                continue  # the alignment row
            values = {}
            for name, cell in zip(header[2:], cells[2:]):
                if "÷" in name:
                    continue
                text = cell.replace(",", "").replace("×", "").strip()
                try:
                    values[name] = float(text)
                except ValueError:
                    values[name] = None  # "—"
            rows.append((cells[0], cells[1], values))
    if not header:
        raise SystemExit(f"plot-compare: no '| workload | metric |' table in {path}")
    return [h for h in header[2:] if "÷" not in h], rows


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) > 1 and argv[1] in ("-h", "--help") else 2
    out, table = argv[1], argv[2]
    wanted_metrics = ["GB/s", "msgs/s", "frames/s", "conns/s"]
    wanted_columns = None
    rest = argv[3:]
    while rest:
        flag = rest.pop(0)
        if flag == "--metrics" and rest:
            wanted_metrics = [m.strip() for m in rest.pop(0).split(",")]
        elif flag == "--columns" and rest:
            wanted_columns = [c.strip() for c in rest.pop(0).split(",")]
        else:
            raise SystemExit(f"plot-compare: unknown argument {flag}")
    columns, rows = parse_table(table)
    if wanted_columns:
        missing = [c for c in wanted_columns if c not in columns]
        if missing:
            raise SystemExit(f"plot-compare: no column {missing} (have {columns})")
        columns = wanted_columns
    panels = []
    for metric in wanted_metrics:
        selected = [(w, v) for (w, m, v) in rows if m.split(" ")[0] == metric]
        if selected:
            panels.append((metric, selected))
    if not panels:
        raise SystemExit(f"plot-compare: none of {wanted_metrics} in {table}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3.2 * len(panels)), squeeze=False)
    width = 0.8 / len(columns)
    for axis, (metric, selected) in zip(axes[:, 0], panels):
        for index, column in enumerate(columns):
            xs = [i + index * width for i in range(len(selected))]
            ys = [values.get(column) or 0 for _, values in selected]
            axis.bar(xs, ys, width, label=column)
        axis.set_xticks([i + width * (len(columns) - 1) / 2 for i in range(len(selected))])
        axis.set_xticklabels([workload for workload, _ in selected])
        axis.set_ylabel(metric + (" (log)" if metric != "GB/s" else ""))
        if metric != "GB/s":
            axis.set_yscale("log")
        else:
            axis.set_ylim(top=axis.get_ylim()[1] * 1.2)  # room for the legend
        axis.grid(axis="y", alpha=0.3)
    axes[0, 0].legend(ncol=min(len(columns), 6), fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot-compare: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
