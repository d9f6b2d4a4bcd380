#!/usr/bin/env python3
"""Gathers the results of one `make bench` run into target/bench/report.md:
the ratio tables (hashing, serving, update), the Criterion numbers and the
scaling table. With `--docs` it also replaces the generated part of
docs/performance.md and copies the plot to docs/scaling.png."""

import json
import os
import shutil
import subprocess
import sys
import time

from harness import ROOT, WORK, Table, Row, machine

BEGIN, END = "<!-- bench:begin (written by bench/report.py) -->", "<!-- bench:end -->"
SECTIONS = [("hashing", "Hashing"), ("serving", "Serving"), ("connections", "A whole site at once"),
            ("update", "Installing, small delta, verify, resume"),
            ("network", "Site networks: segments, per-connection caps, --max-rate"),
            ("chunks", "Chunk-level deltas of large GGUF files"),
            ("app", "The desktop app")]


def ratio_tables() -> tuple[str, list[Row]]:
    table = Table()
    for name, _ in SECTIONS:
        path = WORK / f"{name}.json"
        if path.exists():
            for r in json.loads(path.read_text()):
                r.pop("ratio", None)
                table.rows.append(Row(**r))
    return table.markdown(), table.rows


def criterion() -> str:
    base = ROOT / "target" / "criterion"
    lines = ["| Criterion benchmark | time (mean) | throughput |", "|---|---|---|"]
    found = False
    for bench_json in sorted(base.glob("**/new/benchmark.json")):
        meta = json.loads(bench_json.read_text())
        est = json.loads((bench_json.parent / "estimates.json").read_text())
        ns = est["mean"]["point_estimate"]
        tput = meta.get("throughput") or {}
        rate = ""
        if "Bytes" in tput:
            gbs = tput["Bytes"] / ns
            rate = f"{gbs:.2f} GB/s" if gbs >= 1 else f"{gbs * 1000:.0f} MB/s"
        name = f"{meta['group_id']} / {meta.get('function_id') or ''}"
        lines.append(f"| {name} | {fmt_ns(ns)} | {rate} |")
        found = True
    return "\n".join(lines) if found else ""


def fmt_ns(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.0f} ns"


def scaling() -> str:
    path = WORK / "scaling.json"
    if not path.exists():
        return ""
    rows = json.loads(path.read_text())
    out = ["| model | install | curl -o && sync | ratio | small delta | cp -a | ratio | verify | openssl | ratio "
           "| install RSS | verify RSS |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        size = f"{r['size_mib']} MiB" if r["size_mib"] < 1024 else f"{r['size_mib'] / 1024:g} GiB"
        out.append(
            f"| {size} | {r['install_s']:.3f} s | {r['curl_sync_s']:.3f} s | {r['install_s'] / r['curl_sync_s']:.2f} "
            f"| {r['delta_s']:.3f} s | {r['cp_a_s']:.3f} s | {r['delta_s'] / r['cp_a_s']:.3f} "
            f"| {r['verify_s']:.3f} s | {r['openssl_s']:.3f} s | {r['verify_s'] / r['openssl_s']:.2f} "
            f"| {r['install_rss_mib']:.1f} MiB | {r['verify_rss_mib']:.1f} MiB |")
    return "\n".join(out)


def command() -> str:
    settings = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("BENCH_"))
    return f"{settings} make bench".strip()


def revision() -> str:
    """The commit measured, and whether the working tree had more."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "an unknown revision"
    return f"commit {head}" + (" plus uncommitted changes in the tree" if dirty else "")


def build(rows_md: str, rows: list[Row]) -> str:
    misses = [r.name for r in rows if r.ok is False]
    parts = [
        f"Run: `{command()}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {revision()}.",
        f"Machine: {machine()}; shared with other builds and tests while it ran, so only the ratios "
        "(ours and the reference side by side in the same run, interleaved, best of several) mean much.",
        "",
        rows_md,
        "",
        ("Every target holds." if not misses else "Misses: " + "; ".join(misses) + "."),
    ]
    crit = criterion()
    if crit:
        parts += ["", "In-process parts (Criterion, `cargo bench -p tooldelta-core --bench core`):", "", crit]
    scale = scaling()
    if scale:
        parts += ["", "Scaling (best of `BENCH_SCALE_RUNS`; plot: `docs/scaling.png`):", "", scale]
    return "\n".join(parts) + "\n"


def main() -> None:
    rows_md, rows = ratio_tables()
    report = WORK / "report.md"
    if "--docs" in sys.argv and report.exists():
        # The report the run wrote: its time, command and commit are the run's.
        text = report.read_text()
    else:
        text = build(rows_md, rows)
        WORK.mkdir(parents=True, exist_ok=True)
        report.write_text(text)
    print(text)
    if "--docs" in sys.argv:
        doc = ROOT / "docs" / "performance.md"
        current = doc.read_text()
        if BEGIN not in current or END not in current:
            sys.exit(f"report: {doc} has no {BEGIN} … {END} block")
        head, rest = current.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        doc.write_text(f"{head}{BEGIN}\n{text}{END}{tail}")
        png = WORK / "scaling.png"
        if png.exists():
            shutil.copyfile(png, ROOT / "docs" / "scaling.png")
        print(f"report: updated {doc}")
    misses = [r.name for r in rows if r.ok is False]
    if misses and os.environ.get("BENCH_STRICT", "") not in ("", "0"):
        sys.exit(f"report: {len(misses)} target(s) missed (BENCH_STRICT is set)")


if __name__ == "__main__":
    main()
