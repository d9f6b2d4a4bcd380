#!/usr/bin/env python3
"""Scaling curves: time against tool size (10 MiB → 4 GiB model) for a fresh
install, a one-small-file update and verify, with the references beside them
(`curl -o && sync` of the model, `cp -a` of the installed tool, `openssl dgst`).
Writes target/bench/scaling.json and a plot (bench/plot.py).

Sizes: BENCH_SCALE_MB (comma-separated MiB), repeats: BENCH_SCALE_RUNS.
"""

import json
import os
import shutil

from harness import MIB, QUICK, TOOL, WORK, bin, compare, fixture, mirror_server, warm
from update import fresh_root, rm, settle, update_cmd

SIZES = [int(s) for s in os.environ.get("BENCH_SCALE_MB", "10,50" if QUICK else "10,100,1024,4096").split(",")]
RUNS = int(os.environ.get("BENCH_SCALE_RUNS", "2"))


def one_size(size_mb: int) -> dict:
    fx = fixture(f"scale-{size_mb}", size_mb * MIB, export=False)
    warm(fx.v1)
    work = fx.work
    root, out, copy, template = work / "root", work / "curl.out", work / "cp-a.out", work / "root-v1"
    blob_sha = fx.model_sha
    with mirror_server(fx.store) as mirror:
        url = mirror.url
        blob = f"{url}/api/v1/blobs/sha256/{blob_sha}"
        install, curl_sync = compare([
            (update_cmd(url, root, "1.0.0"), lambda: rm(root)),
            (f"curl -s --fail -o '{out}' '{blob}' && sync '{out}'", lambda: rm(out)),
        ], runs=RUNS)
        rm(out)
        rm(template)
        root.rename(template)
        installed = template / "tools" / TOOL / "current"

        delta, cp = compare([
            (update_cmd(url, root, "2.0.0"), lambda: fresh_root(template, root, copy)),
            (["cp", "-a", f"{installed}/.", str(copy)], lambda: settle(copy)),
        ], runs=RUNS)
        rm(copy)
        model = installed / fx.model_rel
        warm(model)
        verify, openssl = compare([
            ([bin("tooldelta"), "verify", TOOL, "--root", str(template)], None),
            (["openssl", "dgst", "-sha256", str(model)], None),
        ], runs=RUNS)
    result = {
        "size_mib": size_mb,
        "install_s": install.seconds, "curl_sync_s": curl_sync.seconds,
        "delta_s": delta.seconds, "cp_a_s": cp.seconds,
        "verify_s": verify.seconds, "openssl_s": openssl.seconds,
        "install_rss_mib": install.max_rss_kib / 1024, "verify_rss_mib": verify.max_rss_kib / 1024,
    }
    if not os.environ.get("BENCH_KEEP"):
        shutil.rmtree(work, ignore_errors=True)
    return result


def main() -> None:
    results = []
    print("| model (MiB) | install (s) | curl -o && sync (s) | small delta (s) | cp -a (s) | verify (s) "
          "| openssl dgst (s) | install RSS (MiB) | verify RSS (MiB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in SIZES:
        r = one_size(size)
        results.append(r)
        print(f"| {r['size_mib']} | {r['install_s']:.3f} | {r['curl_sync_s']:.3f} | {r['delta_s']:.3f} "
              f"| {r['cp_a_s']:.3f} | {r['verify_s']:.3f} | {r['openssl_s']:.3f} | {r['install_rss_mib']:.1f} "
              f"| {r['verify_rss_mib']:.1f} |", flush=True)
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "scaling.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
