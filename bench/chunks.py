#!/usr/bin/env python3
"""Chunk-level deltas of large GGUF files (issue 11, item 9), from the real
mirror on 127.0.0.1, for a 1 GiB and a 4 GiB model (`BENCH_CHUNKS_SIZES`,
MiB, comma-separated) and two kinds of update (`BENCH_CHUNKS_KINDS`):

- `edit`: llama.cpp's `gguf-new-metadata --chat-template` (shifts every tensor);
- `tensor`: one of 64 tensors retrained (same layout, new values).

For each: bytes over the wire and requests, from the mirror's own `/metrics`;
time to apply vs `cp old new && sync new` of the same file (≤ 1.25x) and vs a
whole-file update (`publish --no-chunks`) from the same mirror (≤ 1.0x); peak
RSS (≤ 64 MiB); and what desync and electron-builder would move for the same
pair, computed from their formats (`other_tools`).

Disk: a row keeps the store (both versions) and one installed root; the
source trees go once imported, and everything of a size goes before the next.
"""

import json
import os
import shutil
import subprocess
import sys

from harness import KEY, MIB, PUB, QUICK, WORK, Table, bin, compare, mirror_server, warm
from chunks_other import desync_bytes, electron_bytes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = [int(s) for s in os.environ.get("BENCH_CHUNKS_SIZES", "128" if QUICK else "1024,4096").split(",") if s]
KINDS = [k for k in os.environ.get("BENCH_CHUNKS_KINDS", "edit,tensor").split(",") if k]
TENSORS = 64
TOOL, WHOLE = "gguf", "gguf-whole"
TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] | trim }}<|im_end|>\n"
            "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def run(cmd: list[str]) -> str:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out.stdout


def make_gguf(out, mib: int, *extra: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    run([sys.executable, os.path.join(ROOT, "fixtures", "make_gguf.py"), str(out),
         "--tensor-mib", str(mib), "--tensors", str(TENSORS), *extra])


def rm(path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def served(url: str) -> tuple[int, int]:
    """`(bytes served, requests)` from the mirror's `/metrics`."""
    import urllib.request
    with urllib.request.urlopen(f"{url}/metrics") as r:
        text = r.read().decode()
    total = {"bytes": 0, "requests": 0}
    for line in text.splitlines():
        if line.startswith("tooldelta_mirror_bytes_served_total"):
            total["bytes"] += int(float(line.rsplit(" ", 1)[1]))
        elif line.startswith("tooldelta_mirror_requests_total"):
            total["requests"] += int(float(line.rsplit(" ", 1)[1]))
    return total["bytes"], total["requests"]


def update_cmd(url: str, root, tool: str, version: str) -> list[str]:
    return [bin("tooldelta"), "update", tool, "--mirror", url, "--root", str(root), "--trust", str(PUB),
            "--version", version]


def import_version(work, tree, version: str) -> None:
    """Publishes `tree` as both tools (chunked and `--no-chunks`) and imports it."""
    for tool, extra in ((TOOL, []), (WHOLE, ["--no-chunks"])):
        manifest = work / f"{tool}-{version}.json"
        run([bin("tooldelta"), "publish", "--tool-dir", str(tree), "--tool-id", tool, "--version", version,
             "--key", str(KEY), "--out", str(manifest), *extra])
        run([bin("tooldelta-mirror"), "import", "--store", str(store_of(work)), "--manifest", str(manifest),
             "--tool-dir", str(tree)])


def store_of(work):
    return work / "store"


def template_of(work):
    return work / "root-v1"


def prepare(work, mib: int, kind: str) -> dict:
    """A root with v1 of both tools installed and a store holding v2 only.
    At most three copies of the model exist at once: v1 is dropped from the
    store (and its source tree) once installed, v2's tree once imported."""
    v1, v2, store, template = work / "v1", work / "v2", store_of(work), template_of(work)
    make_gguf(v1 / "model.gguf", mib)
    (v1 / "run.sh").write_text("echo run\n")
    import_version(work, v1, "1.0.0")
    rm(v1)
    with mirror_server(store) as mirror:
        for tool in (TOOL, WHOLE):
            run(update_cmd(mirror.url, template, tool, "1.0.0"))
    for tool in (TOOL, WHOLE):
        run([bin("tooldelta-mirror"), "remove", "--store", str(store), "--tool", tool, "--version", "1.0.0"])
    run([bin("tooldelta-mirror"), "gc", "--store", str(store), "--grace-secs", "0"])
    old = template / "tools" / TOOL / "current" / "model.gguf"
    if kind == "edit":
        v2.mkdir(parents=True, exist_ok=True)
        run(["gguf-new-metadata", "--force", "--chat-template", TEMPLATE, str(old), str(v2 / "model.gguf")])
    else:
        make_gguf(v2 / "model.gguf", mib, "--change-tensor", "5")
    (v2 / "run.sh").write_text("echo run\n")
    sizes = {"old": old.stat().st_size, "new": (v2 / "model.gguf").stat().st_size}
    sizes["changed"] = mib * MIB // TENSORS if kind == "tensor" else changed_span(old, v2 / "model.gguf")
    import_version(work, v2, "2.0.0")
    rm(v2)
    return sizes


def changed_span(old, new) -> int:
    """Bytes of the one region of the new file that differs from the old
    (after it, the old bytes follow shifted): from the first differing byte
    of the header to the last one."""
    shift = new.stat().st_size - old.stat().st_size
    with open(old, "rb") as a, open(new, "rb") as b:
        head_a, head_b = a.read(64 * MIB), b.read(64 * MIB)
    first, block = 0, 4096
    while head_a[first:first + block] == head_b[first:first + block]:
        first += block
    while head_a[first] == head_b[first]:
        first += 1
    # (The edit may shorten the header: `shift` is then negative.)
    end = min(len(head_b), len(head_a) + shift)
    # Back from the end, a block at a time, while new == old shifted.
    while end - block > first and head_b[end - block:end] == head_a[end - block - shift:end - shift]:
        end -= block
    while end > first and head_b[end - 1] == head_a[end - 1 - shift]:
        end -= 1
    return end - first


def measure(table: Table, work, mib: int, kind: str, sizes: dict) -> None:
    store, template, root, copy = store_of(work), template_of(work), work / "root", work / "copy.gguf"
    old = template / "tools" / TOOL / "current" / "model.gguf"
    with mirror_server(store) as mirror:
        url = mirror.url

        def fresh() -> None:
            rm(root)
            rm(copy)
            os.sync()
            subprocess.run(["cp", "-al", str(template), str(root)], check=True)
            warm(old)

        fresh()
        before = served(url)
        report = json.loads(run(update_cmd(url, root, TOOL, "2.0.0") + ["--json"]))
        after = served(url)
        wire, requests = after[0] - before[0], after[1] - before[1]
        fresh()
        before = served(url)
        run(update_cmd(url, root, WHOLE, "2.0.0"))
        whole_wire = served(url)[0] - before[0]

        ours, cp, whole = compare([
            (update_cmd(url, root, TOOL, "2.0.0"), fresh),
            (f"cp '{old}' '{copy}' && sync '{copy}'", fresh),
            (update_cmd(url, root, WHOLE, "2.0.0"), fresh),
        ])
    rm(root)
    rm(copy)
    name = f"{mib} MiB GGUF, {'chat-template edit' if kind == 'edit' else 'one tensor changed'}"
    target = MIB if kind == "edit" else sizes["new"] // TENSORS * 101 // 100 + MIB
    table.add(f"{name}: bytes over the wire", wire, whole_wire, "whole-file update",
              check=(f"≤ {target:,} B", wire <= target),
              note=f"({requests} requests; {report['bytes_from_local_chunks']:,} B from local chunks)")
    table.add(f"{name}: time to apply (s)", ours.seconds, cp.seconds, "cp old new && sync", limit=1.25)
    table.add(f"{name}: time to apply (s)", ours.seconds, whole.seconds, "whole-file update (--no-chunks)",
              limit=1.0)
    table.add(f"{name}: peak RSS (MiB)", ours.max_rss_kib / 1024, 64, "target 64 MiB", limit=1.0)
    d = desync_bytes(sizes["new"], sizes["changed"])
    e = electron_bytes(sizes["old"], sizes["new"], sizes["changed"])
    table.add(f"{name}: bytes, ours vs desync", wire, d, "desync (64 KiB CDC, caibx whole)",
              note="(computed from its format)")
    table.add(f"{name}: bytes, ours vs electron-builder", wire, e, "electron-builder (2 blockmaps, 16 KiB)",
              note="(computed from its format)")


def main() -> None:
    table = Table()
    load = open("/proc/loadavg").read().split()[:3]
    print(f"load average at start: {' '.join(load)}", flush=True)
    for mib in SIZES:
        for kind in KINDS:
            work = WORK / "gguf-deltas" / f"{mib}-{kind}"
            rm(work)
            work.mkdir(parents=True)
            # Three copies of the model at once, and a margin for others.
            free = shutil.disk_usage(work).free
            if free < 3 * mib * MIB + 4 * 1024 * MIB:
                print(f"bench-chunks: skipping {mib} MiB {kind}: {free >> 20} MiB free", flush=True)
                continue
            sizes = prepare(work, mib, kind)
            measure(table, work, mib, kind, sizes)
            # A 4 GiB row leaves nothing behind for the next.
            rm(work)
    load_end = open("/proc/loadavg").read().split()[:3]
    print(f"load average at end: {' '.join(load_end)}", flush=True)
    table.save("chunks")
    print(table.markdown())


if __name__ == "__main__":
    main()
