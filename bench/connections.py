#!/usr/bin/env python3
"""A whole site at once: 2 000 concurrent connections (`wrk`) asking random
64 KiB ranges of one blob, `tooldelta-mirror serve` against nginx, both on
127.0.0.1 at the same time, both with their descriptor limits raised the same
way (the soft RLIMIT_NOFILE to the hard one: the mirror does it itself, nginx
by `worker_rlimit_nofile`; nginx's `worker_connections` raised to fit, the
mirror's per-address cap off since every client is 127.0.0.1):

- requests/s ≥ 0.8x nginx's (reported as time per request, ≤ 1.25);
- 0 errors (connect, read, write, status, timeout);
- peak RSS of each server (informative).
"""

import os
import shutil
import subprocess

from harness import MIB, RUNS, Table, env_int, fixture, mirror_server, nginx_server, raise_nofile, warm
from serving import check_range, wrk

SIZE_MB = env_int("BENCH_MODEL_MB", 1024, 128)
CONNECTIONS = env_int("BENCH_SITE_CONNECTIONS", 2000, 2000)
SECONDS = env_int("BENCH_SITE_SECONDS", 10, 4)


def peak_rss_kib(pid: int) -> int:
    """VmHWM of a process and its children (nginx's workers), in KiB."""
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                   text=True).stdout.split()]
    total = 0
    for p in pids:
        for line in open(f"/proc/{p}/status"):
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total


def main() -> None:
    if not shutil.which("wrk"):
        raise SystemExit("bench: wrk not found (`make deps` installs it)")
    hard = raise_nofile()
    if hard < 3 * CONNECTIONS:
        raise SystemExit(f"bench: the hard descriptor limit {hard} is too low for {CONNECTIONS} connections")
    table = Table()
    fx = fixture("tool", SIZE_MB * MIB)
    warm(fx.model)
    path = f"/api/v1/blobs/sha256/{fx.model_sha}"
    # nginx: `auto` workers (one per core), each able to hold every connection.
    ours_args = ["--max-connections-per-address", "0"]
    with mirror_server(fx.store, ours_args) as ours, nginx_server(fx.export, connections=2 * CONNECTIONS) as ref:
        urls = {"ours": ours.url + path, "nginx": ref.url + path}
        for url in urls.values():
            check_range(url, fx.size)
        runs = max(1, min(RUNS, 3))
        best = {"ours": None, "nginx": None}
        errors = {"ours": 0, "nginx": 0}
        for _ in range(runs):
            for name, url in urls.items():
                s = wrk(url, fx.size, connections=CONNECTIONS, seconds=SECONDS)
                errors[name] += s["errors"]
                if best[name] is None or s["rps"] > best[name]["rps"]:
                    best[name] = s
        rss = {"ours": peak_rss_kib(ours.proc.pid), "nginx": peak_rss_kib(ref.proc.pid)}
    per_ours, per_ref = 1e6 / best["ours"]["rps"], 1e6 / best["nginx"]["rps"]
    table.add(f"{CONNECTIONS} clients at once, random 64 KiB ranges (µs/request)", per_ours, per_ref, "nginx",
              limit=1.25,
              note=f"({best['ours']['rps']:.0f} vs {best['nginx']['rps']:.0f} req/s; target ≥ 0.8x nginx's req/s; "
                   f"p99 {best['ours']['p99_us'] / 1000:.0f} vs {best['nginx']['p99_us'] / 1000:.0f} ms)")
    table.add(f"errors over {runs} wrk runs of {SECONDS} s with {CONNECTIONS} clients", errors["ours"],
              errors["nginx"], "nginx's errors", check=("0", errors["ours"] == 0))
    table.add(f"peak RSS serving {CONNECTIONS} clients (MiB)", rss["ours"] / 1024, rss["nginx"] / 1024,
              "nginx, master + workers")
    table.save("connections")
    print(table.markdown())


if __name__ == "__main__":
    main()
