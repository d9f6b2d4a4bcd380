#!/usr/bin/env python3
"""The scaling plot: target/bench/scaling.json → target/bench/scaling.png
(matplotlib, when installed) and target/bench/scaling.svg (always; written by
hand, no dependency), log-log, ours as solid lines, references dashed."""

import json
import math
import sys

from harness import WORK

SERIES = [
    ("install_s", "install (verified, fsynced)", "#1f77b4", False),
    ("curl_sync_s", "curl -o && sync", "#1f77b4", True),
    ("delta_s", "one-small-file update", "#2ca02c", False),
    ("cp_a_s", "cp -a of the installed tool", "#2ca02c", True),
    ("verify_s", "verify", "#d62728", False),
    ("openssl_s", "openssl dgst -sha256", "#d62728", True),
]
TITLE = "tooldelta: time against model size (log-log; dashed: reference tools)"


def load() -> list[dict]:
    path = WORK / "scaling.json"
    if not path.exists():
        sys.exit(f"plot: {path} is missing (run bench/scaling.py first)")
    return json.loads(path.read_text())


def png(rows: list[dict]) -> bool:
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    sizes = [r["size_mib"] for r in rows]
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    for key, label, color, dashed in SERIES:
        ax.plot(sizes, [r[key] for r in rows], label=label, color=color, marker="o",
                linestyle="--" if dashed else "-", alpha=0.6 if dashed else 1.0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(sizes, [f"{s} MiB" if s < 1024 else f"{s / 1024:g} GiB" for s in sizes])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("model size")
    ax.set_ylabel("seconds (best of runs)")
    ax.set_title(TITLE, fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(WORK / "scaling.png")
    return True


def svg(rows: list[dict]) -> None:
    """The same plot as plain SVG, for machines without matplotlib."""
    label = lambda s: f"{s} MiB" if s < 1024 else f"{s / 1024:g} GiB"  # noqa: E731
    svg_plot(rows, "size_mib", label, SERIES, TITLE, WORK / "scaling.svg")


def svg_plot(rows: list[dict], xkey: str, xlabel, series, title: str, path) -> None:
    """A log-log plot of `series` (key, label, colour, dashed) against
    `rows[i][xkey]`, as plain SVG written to `path`."""
    w, h, left, right, top, bottom = 900, 520, 80, 250, 40, 60
    sizes = [r[xkey] for r in rows]
    values = [r[k] for r in rows for k, *_ in series if r[k] > 0]
    x0, x1 = math.log10(min(sizes)), math.log10(max(sizes))
    y0, y1 = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = y1 if y1 > y0 else y0 + 1

    def px(v):
        return left + (math.log10(v) - x0) / (x1 - x0) * (w - left - right)

    def py(v):
        return h - bottom - (math.log10(v) - y0) / (y1 - y0) * (h - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>']
    for e in range(y0, y1 + 1):
        y = py(10 ** e)
        out.append(f'<line x1="{left}" y1="{y}" x2="{w - right}" y2="{y}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end">{10 ** e:g} s</text>')
    for s in sizes:
        x = px(s)
        out.append(f'<line x1="{x}" y1="{top}" x2="{x}" y2="{h - bottom}" stroke="#eee"/>')
        out.append(f'<text x="{x}" y="{h - bottom + 18}" text-anchor="middle">{xlabel(s)}</text>')
    for i, (key, label, color, dashed) in enumerate(series):
        pts = " ".join(f"{px(r[xkey]):.1f},{py(r[key]):.1f}" for r in rows if r[key] > 0)
        dash = ' stroke-dasharray="6,4" opacity="0.6"' if dashed else ""
        out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        ly = top + 20 + i * 20
        out.append(f'<line x1="{w - right + 15}" y1="{ly}" x2="{w - right + 45}" y2="{ly}" stroke="{color}" '
                   f'stroke-width="2"{dash}/>')
        out.append(f'<text x="{w - right + 52}" y="{ly + 4}">{label}</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def main() -> None:
    rows = load()
    svg(rows)
    made = png(rows)
    print(f"plot: wrote {WORK / 'scaling.svg'}" + (f" and {WORK / 'scaling.png'}" if made else
                                                  " (no matplotlib: no PNG)"))


if __name__ == "__main__":
    main()
