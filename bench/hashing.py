#!/usr/bin/env python3
"""Hashing: `tooldelta publish` against `openssl dgst -sha256` on one large
file, and publish on many files across both cores against the same publish
pinned to one core. (`verify` against openssl is in update.py, which has an
installed tool to verify.)"""

import shutil

from harness import KEY, MIB, RUNS, WORK, Table, bin, compare, env_int, make_file, wait_for_quiet, warm

SIZE_MB = env_int("BENCH_HASH_MB", 1024, 128)
MANY = env_int("BENCH_HASH_FILES", 200, 40)


def main() -> None:
    table = Table()
    td = bin("tooldelta")

    one = WORK / "hash-one"
    for stale in one.glob("*"):
        if stale.name != f"model-{SIZE_MB}M.gguf":
            stale.unlink()
    big = make_file(one / f"model-{SIZE_MB}M.gguf", SIZE_MB * MIB)
    warm(big)
    publish = [td, "publish", "--tool-dir", str(one), "--tool-id", "bench", "--version", "1.0.0",
               "--key", str(KEY), "--out", str(WORK / "hash-one.json")]
    openssl = ["openssl", "dgst", "-sha256", str(big)]
    ours, ref = compare([(publish, None), (openssl, None)])
    # The file gets a chunk index (it is over the 16 MiB threshold): the
    # whole-file hash, the cuts and a second SHA-256 per chunk, on two cores.
    table.add(f"publish, 1 file of {SIZE_MB} MiB (s)", ours.seconds, ref.seconds, "openssl dgst -sha256", limit=1.15)

    many = WORK / "hash-many"
    if len(list(many.glob("*"))) != MANY:
        shutil.rmtree(many, ignore_errors=True)
    for i in range(MANY):
        make_file(many / f"part-{i:03}.bin", 5 * MIB)
    warm(many)
    publish_many = [td, "publish", "--tool-dir", str(many), "--tool-id", "bench", "--version", "1.0.0",
                    "--key", str(KEY), "--out", str(WORK / "hash-many.json")]
    if shutil.which("taskset"):
        # This row needs both cores free at once, which a shared machine
        # offers only now and then: twice the repeats, each after waiting
        # (bounded) for a quiet moment.
        both, single = compare([(publish_many, wait_for_quiet),
                                (["taskset", "-c", "0"] + publish_many, wait_for_quiet)], runs=2 * RUNS)
        table.add(f"publish, {MANY} files of 5 MiB, 2 cores (s)", both.seconds, single.seconds,
                  "same, one core (taskset)", at_least=1.7)
    table.save("hashing")
    print(table.markdown())


if __name__ == "__main__":
    main()
