#!/usr/bin/env python3
"""Hashing: `tooldelta publish` (and `verify`, once installed) against
`openssl dgst -sha256` on one large file, and publish on many files across
both cores against the same publish pinned to one core."""

import os
import shutil

from harness import ROOT, WORK, Table, best_of, bin, make_file, warm

SIZE_MB = int(os.environ.get("BENCH_HASH_MB", "1024"))


def main() -> None:
    table = Table()
    key = str(ROOT / "fixtures" / "keys" / "test-only.secret.pem")
    td = bin("tooldelta")

    one = WORK / "hash-one"
    big = make_file(one / f"model-{SIZE_MB}M.gguf", SIZE_MB << 20)
    warm(big)
    publish = [td, "publish", "--tool-dir", str(one), "--tool-id", "bench", "--version", "1.0.0",
               "--key", key, "--out", str(WORK / "hash-one.json")]
    ours = best_of(publish)
    ref = best_of(["openssl", "dgst", "-sha256", str(big)])
    table.add(f"publish 1 file of {SIZE_MB} MiB (s)", ours.seconds, ref.seconds, "openssl dgst -sha256", limit=1.1)

    many = WORK / "hash-many"
    for i in range(200):
        make_file(many / f"part-{i:03}.bin", 5 << 20)
    for p in many.iterdir():
        warm(p)
    publish_many = [td, "publish", "--tool-dir", str(many), "--tool-id", "bench", "--version", "1.0.0",
                    "--key", key, "--out", str(WORK / "hash-many.json")]
    both = best_of(publish_many)
    if shutil.which("taskset"):
        single = best_of(["taskset", "-c", "0"] + publish_many)
        table.add("publish 200 files of 5 MiB (s)", both.seconds, single.seconds, "same, one core", at_least=1.7)
    table.save("hashing")
    print(table.markdown())


if __name__ == "__main__":
    main()
