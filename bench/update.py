#!/usr/bin/env python3
"""The update engine against the reference tools, from the real mirror on
127.0.0.1 (issue 4's and issue 7's speed and memory targets):

- a fresh, verified, durable install of a tool with a 1 GiB model vs
  `curl -o FILE URL && sync FILE` of that model from the same mirror (≤ 1.1x),
  and vs the shell's verified equivalent
  `curl URL | tee FILE | openssl dgst -sha256; sync FILE` (well ahead);
- a one-small-file update of that tool vs `cp -a` of the installed tool (≤ 0.1x);
- `verify` of the installed tool vs `openssl dgst -sha256` of the model (≤ 1.1x);
- the peak RSS of install and verify (≤ 64 MiB);
- resume: a download cut at a random point fetches again at most the
  remainder + 1 MiB; a client killed at a random point resumes from its partial.
"""

import json
import os
import random
import shutil
import subprocess
import time

from harness import MIB, PUB, TOOL, Table, bin, compare, env_int, fixture, mirror_server, warm

SIZE_MB = env_int("BENCH_MODEL_MB", 1024, 128)


def update_cmd(url: str, root, version: str) -> list[str]:
    return [bin("tooldelta"), "update", TOOL, "--mirror", url, "--root", str(root), "--trust", str(PUB),
            "--version", version]


def update_json(url: str, root, version: str) -> dict:
    out = subprocess.run(update_cmd(url, root, version) + ["--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def rm(path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def settle(*paths) -> None:
    """Removes earlier outputs and lets the disk write back what is pending
    (untimed): `cp -a` leaves a GiB of dirty pages that the next run's
    fsyncs would otherwise pay for."""
    for path in paths:
        rm(path)
    os.sync()


def fresh_root(template, root, copy) -> None:
    """A root with v1 installed, as a hardlinked copy of `template`: the
    store's objects and releases are read-only and only ever replaced by
    rename, so a linked copy is an independent root."""
    rm(root)
    subprocess.run(["cp", "-al", str(template), str(root)], check=True)
    settle(copy)


def main() -> None:
    fx = fixture("tool", SIZE_MB * MIB)
    warm(fx.v1)
    table = Table()
    with mirror_server(fx.store) as mirror:
        install(table, fx, mirror.url)
        small_delta_and_verify(table, fx, mirror.url)
        resume(table, fx, mirror.url)
    table.save("update")
    print(table.markdown())


def install(table: Table, fx, url: str) -> None:
    work = fx.work
    out, root = work / "curl.out", work / "root"
    blob = f"{url}/api/v1/blobs/sha256/{fx.model_sha}"
    ours, curl_sync, tee = compare([
        (update_cmd(url, root, "1.0.0"), lambda: rm(root)),
        (f"curl -s --fail -o '{out}' '{blob}' && sync '{out}'", lambda: rm(out)),
        (f"curl -s --fail '{blob}' | tee '{out}' | openssl dgst -sha256 >/dev/null; sync '{out}'", lambda: rm(out)),
    ])
    rm(out)
    table.add(f"fresh install, {SIZE_MB} MiB model (s)", ours.seconds, curl_sync.seconds,
              "curl -o && sync", limit=1.1)
    table.add("same install (s)", ours.seconds, tee.seconds, "curl | tee | openssl dgst; sync", limit=1.0,
              note="(well ahead of the shell's verified equivalent)")
    table.add("peak RSS of that install (MiB)", ours.max_rss_kib / 1024, 64, "target 64 MiB", limit=1.0)


def small_delta_and_verify(table: Table, fx, url: str) -> None:
    work = fx.work
    template, root, copy = work / "root-v1", work / "root", work / "cp-a.out"
    rm(template)
    subprocess.run(update_cmd(url, template, "1.0.0"), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    installed = template / "tools" / TOOL / "current"

    small, cp = compare([
        (update_cmd(url, root, "2.0.0"), lambda: fresh_root(template, root, copy)),
        (["cp", "-a", f"{installed}/.", str(copy)], lambda: settle(copy)),
    ])
    rm(copy)
    # The target is set for a 1 GiB model: below that, `cp -a` is too quick
    # for a fixed cost of a few fsyncs to be a tenth of it.
    if SIZE_MB >= 1024:
        table.add(f"one-small-file update, {SIZE_MB} MiB model (s)", small.seconds, cp.seconds,
                  "cp -a of the installed tool", limit=0.1)
    else:
        table.add(f"one-small-file update, {SIZE_MB} MiB model (s)", small.seconds, cp.seconds,
                  "cp -a of the installed tool", note="(the ≤ 0.1 target is for a model of 1 GiB or more)")

    verify = [bin("tooldelta"), "verify", TOOL, "--root", str(template)]
    model = installed / fx.model_rel
    warm(model)
    ours, openssl = compare([(verify, None), (["openssl", "dgst", "-sha256", str(model)], None)])
    table.add(f"verify, {SIZE_MB} MiB model (s)", ours.seconds, openssl.seconds, "openssl dgst -sha256",
              limit=1.1)
    table.add("peak RSS of that verify (MiB)", ours.max_rss_kib / 1024, 64, "target 64 MiB", limit=1.0)


def resume(table: Table, fx, url: str) -> None:
    """A cut at a random point, then a kill at a random point."""
    work = fx.work
    small_bytes = sum(p.stat().st_size for p in fx.v1.rglob("*") if p.is_file()) - fx.size
    rng = random.Random(int(time.time()))
    cut = rng.randrange(1, fx.size)
    root = work / "root-resume"
    rm(root)
    blob_path = f"/api/v1/blobs/sha256/{fx.model_sha}"
    fault = [bin("tooldelta-faultserver"), "--upstream", url, "--only-prefix", blob_path, "--first", "1",
             "--cut-after", str(cut)]
    with faultserver(fault) as cut_url:
        report = update_json(cut_url, root, "1.0.0")
    again = report["bytes_downloaded"] - small_bytes - cut
    remainder = fx.size - cut
    table.add(f"bytes fetched after a cut at byte {cut} (MiB)", again / MIB, remainder / MIB + 1,
              "the remainder + 1 MiB", limit=1.0)

    # A client killed mid-download: the next run keeps the partial on disk.
    rm(root)
    throttle = max(fx.size // 4, 16 * MIB)  # about 4 s for the model
    fault = [bin("tooldelta-faultserver"), "--upstream", url, "--throttle", str(throttle)]
    partial_dir = root / "objects" / "partial"
    with faultserver(fault) as slow_url:
        proc = subprocess.Popen(update_cmd(slow_url, root, "1.0.0"), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 3.0))
        proc.kill()
        proc.wait()
    partial = partial_dir / f"{fx.model_sha}.partial"
    kept = partial.stat().st_size if partial.exists() else 0
    report = update_json(url, root, "1.0.0")
    again = report["bytes_downloaded"] - small_bytes
    table.add(f"bytes fetched after a kill with {kept / MIB:.0f} MiB on disk (MiB)", again / MIB,
              (fx.size - kept) / MIB + 1, "the remainder + 1 MiB", limit=1.0,
              note=f"(bytes_resumed {report['bytes_resumed'] / MIB:.0f} MiB)")
    rm(root)


class faultserver:
    """`tooldelta-faultserver` as a child; yields its URL."""

    def __init__(self, cmd: list[str]):
        self.cmd = cmd

    def __enter__(self) -> str:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise SystemExit(f"bench: the fault server did not start: {line!r}")
        return line.removeprefix("listening on ").rstrip("/")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    main()
