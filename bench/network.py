#!/usr/bin/env python3
"""Site networks (issue 12): segmented downloads and the bandwidth cap.

- on a server that caps each connection (the testkit's fault server,
  `--throttle-per-connection`, over the static export): a fresh, verified
  install of a tool with a 1 GiB model with the default 4 connections vs
  one stream (`--connections 1`): ≥ 3x faster;
- the same with `--connections 8` vs `aria2c -x8 -s8` of the model's blob
  from the same server (aria2 does not verify; we do): ≤ 1.1x its time;
- on the plain loopback mirror: segmented (default) vs one stream, never slower;
- `--max-rate 20MiB` on a 200 MiB install: 10 s ± 5 %;
- peak RSS of the segmented install: ≤ 64 MiB.
"""

import os
import shutil
import subprocess

from harness import MIB, PUB, TOOL, Table, bin, compare, env_int, fixture, mirror_server, run_once, warm
from update import faultserver

SIZE_MB = env_int("BENCH_NET_MODEL_MB", 1024, 256)
# Per-connection cap: one stream of the model takes SIZE_MB / CAP_MB seconds.
CAP_MB = env_int("BENCH_NET_CAP_MB", 48, 48)
RATE_MB = env_int("BENCH_NET_RATE_MODEL_MB", 200, 200)
RUNS = env_int("BENCH_NET_RUNS", 2, 1)


def update_cmd(url: str, root, extra: list[str]) -> list[str]:
    return [bin("tooldelta"), "update", TOOL, "--mirror", url, "--root", str(root), "--trust", str(PUB),
            "--version", "1.0.0"] + extra


def rm(path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def clean(*paths):
    def setup():
        for p in paths:
            rm(p)
        os.sync()
    return setup


def main() -> None:
    table = Table()
    fx = fixture("network", SIZE_MB * MIB)
    warm(fx.export)
    capped(table, fx)
    loopback(table, fx)
    max_rate(table)
    table.save("network")
    print(table.markdown())


def capped(table: Table, fx) -> None:
    root, out = fx.work / "root", fx.work / "aria2.out"
    cap = CAP_MB * MIB
    server = [bin("tooldelta-faultserver"), "--root", str(fx.export), "--throttle-per-connection", str(cap)]
    blob = f"/api/v1/blobs/sha256/{fx.model_sha}"
    with faultserver(server) as url:
        segmented, single = compare([
            (update_cmd(url, root, []), clean(root)),
            (update_cmd(url, root, ["--connections", "1"]), clean(root)),
        ], runs=RUNS)
        table.add(f"install, {SIZE_MB} MiB model, {CAP_MB} MiB/s per connection: 4 connections vs 1 (s)",
                  segmented.seconds, single.seconds, "one stream", at_least=3.0)
        table.add("peak RSS of that segmented install (MiB)", segmented.max_rss_kib / 1024, 64,
                  "target 64 MiB", limit=1.0)
        eight, aria = compare([
            (update_cmd(url, root, ["--connections", "8"]), clean(root)),
            (["aria2c", "-q", "-x8", "-s8", "--allow-overwrite=true", "--auto-file-renaming=false",
              "--file-allocation=none", "-d", str(out.parent), "-o", out.name, f"{url}{blob}"], clean(out)),
        ], runs=RUNS)
        table.add("same, 8 connections, verified (s)", eight.seconds, aria.seconds, "aria2c -x8 -s8 (unverified)",
                  limit=1.1)
    rm(root)
    rm(out)


def loopback(table: Table, fx) -> None:
    root = fx.work / "root"
    with mirror_server(fx.store) as mirror:
        segmented, single = compare([
            (update_cmd(mirror.url, root, []), clean(root)),
            (update_cmd(mirror.url, root, ["--connections", "1"]), clean(root)),
        ], runs=RUNS)
    table.add(f"install, {SIZE_MB} MiB model, plain loopback mirror: segmented vs one stream (s)",
              segmented.seconds, single.seconds, "one stream (before segments)", limit=1.05)
    rm(root)


def max_rate(table: Table) -> None:
    fx = fixture("network-rate", RATE_MB * MIB)
    root = fx.work / "root"
    total = sum(p.stat().st_size for p in fx.v1.rglob("*") if p.is_file())
    expected = total / (20 * MIB)
    with mirror_server(fx.store) as mirror:
        clean(root)()
        took = run_once(update_cmd(mirror.url, root, ["--max-rate", "20MiB"])).seconds
    ok = abs(took - expected) <= 0.05 * expected
    table.add(f"--max-rate 20MiB, {total / MIB:.0f} MiB install (s)", took, expected,
              "bytes / 20 MiB/s", check=("± 5 %", ok))
    rm(root)


if __name__ == "__main__":
    main()
