#!/usr/bin/env python3
"""Tools made of many small files (issue 21): a venv-shaped tree of 1,000 /
20,000 / 100,000 files of 0.5–4 KB, from the real mirror on 127.0.0.1, each
row interleaved with its reference in the same run:

- fresh install vs `cp -a TREE OUT && sync` (≤ 2x);
- a one-file update vs the same `cp -a && sync` of the installed tree (≤ 0.25x);
- `verify` vs `find -type f | xargs sha256sum` in the installed tree (≤ 1x);
- mirror `import` vs `cp -a && sync` of the tree (≤ 2x);
- peak RSS of install, update, verify and import (≤ 64 MiB);
- beside them, the fsync-family calls (strace -c -f, one extra untimed run)
  and the HTTP requests the mirror counted, per install and update;
- the scaling plot: seconds against file count, ours and references
  (target/bench/smallfiles-scaling.{json,svg}).

`BENCH_SMALLFILES=1000,20000` picks the sizes (quick: 1000,20000).
"""

import os
import random
import re
import shutil
import subprocess
import urllib.request

from harness import KEY, PUB, QUICK, WORK, Table, bin, compare, mirror_server, run_once

TOOL = "venv-tool"
SIZES = [int(n) for n in os.environ.get(
    "BENCH_SMALLFILES", "1000,20000" if QUICK else "1000,20000,100000").split(",")]
FILES_PER_DIR = 40
RSS_LIMIT = 64


def rm(path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def settle(*paths) -> None:
    """Untimed: removes outputs and writes back dirty pages, so no contender
    pays for the one before it."""
    for p in paths:
        rm(p)
    os.sync()


def make_tree(root, count: int, seed: int) -> None:
    """`count` files of 0.5–4 KB in folders of FILES_PER_DIR, venv-like paths."""
    rng = random.Random(seed)
    for i in range(count):
        d = root / "lib" / "site-packages" / f"pkg{i // FILES_PER_DIR:05d}"
        if i % FILES_PER_DIR == 0:
            d.mkdir(parents=True, exist_ok=True)
        (d / f"mod{i % FILES_PER_DIR:02d}.py").write_bytes(rng.randbytes(rng.randint(512, 4096)))


def fixture(work, count: int):
    """v1 (count files) and v2 (one file changed), published and imported."""
    v1, v2, store = work / "v1", work / "v2", work / "store"
    done = work / ".ready"
    if done.exists():
        return v1, v2, store
    rm(work)
    make_tree(v1, count, count)
    subprocess.run(["cp", "-al", str(v1), str(v2)], check=True)
    changed = v2 / "lib" / "site-packages" / "pkg00000" / "mod00.py"
    changed.unlink()
    changed.write_bytes(b"# changed in 2.0.0\n" * 100)
    for tree, version in [(v1, "1.0.0"), (v2, "2.0.0")]:
        publish(tree, version, work / f"manifest-{version}.json")
        import_cmd(store, work / f"manifest-{version}.json", tree, check=True)
    done.touch()
    return v1, v2, store


def publish(tree, version, out) -> None:
    subprocess.run([bin("tooldelta"), "publish", "--tool-dir", str(tree), "--tool-id", TOOL, "--version",
                    version, "--key", str(KEY), "--out", str(out)], check=True, stdout=subprocess.DEVNULL)


def import_cmd(store, manifest, tree, check=False):
    cmd = [bin("tooldelta-mirror"), "import", "--store", str(store), "--manifest", str(manifest),
           "--tool-dir", str(tree)]
    if check:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return cmd


def update_cmd(url, root, version) -> list[str]:
    return [bin("tooldelta"), "update", TOOL, "--mirror", url, "--root", str(root), "--trust", str(PUB),
            "--version", version]


def requests_served(url) -> int:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as r:
        text = r.read().decode()
    # Route labels hold braces (`{hex}`); the /metrics polls are not counted.
    return sum(int(float(m.group(2))) for m in re.finditer(r"^tooldelta_mirror_requests_total\{(.*)\} (\S+)$",
                                                          text, re.M) if "/metrics" not in m.group(1))


def fsyncs(cmd, setup) -> str:
    """The fsync-family calls of one untimed run, by strace -c -f."""
    if not shutil.which("strace"):
        return "strace not installed"
    setup()
    out = subprocess.run(["strace", "-f", "-c", "-e", "trace=fsync,fdatasync,syncfs,sync,sync_file_range"] + cmd,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).stderr
    counts = {m.group(2): int(m.group(1)) for m in re.finditer(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$",
                                                               out, re.M)}
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()) if k != "total") or "none"


def counted(url, cmd, setup) -> str:
    before = requests_served(url)
    setup()
    run_once(cmd)
    return f"{requests_served(url) - before} HTTP requests, {fsyncs(cmd, setup)}"


SERIES = [
    ("install_s", "fresh install", "#1f77b4", False),
    ("cp_install_s", "cp -a && sync of the tree", "#1f77b4", True),
    ("update_s", "one-file update", "#2ca02c", False),
    ("verify_s", "verify", "#d62728", False),
    ("sha256sum_s", "find | xargs sha256sum", "#d62728", True),
    ("import_s", "mirror import", "#9467bd", False),
]


def plot(points: list[dict]) -> None:
    """Seconds against file count, log-log (plain SVG, no dependency)."""
    import json
    from plot import svg_plot
    (WORK / "smallfiles-scaling.json").write_text(json.dumps(points, indent=2))
    if len(points) > 1:
        svg_plot(points, "files", lambda n: f"{n:,} files", SERIES,
                 "tooldelta: tools of many small files (log-log; dashed: references)",
                 WORK / "smallfiles-scaling.svg")


def rows(table: Table, work, count: int) -> dict:
    v1, v2, store = fixture(work, count)
    root, copy, template = work / "root", work / "cp-a.out", work / "root-v1"
    label = f"{count:,} files"
    with mirror_server(store) as mirror:
        url = mirror.url
        ours, cp = compare([
            (update_cmd(url, root, "1.0.0"), lambda: settle(root, copy)),
            (f"cp -a '{v1}' '{copy}' && sync", lambda: settle(root, copy)),
        ])
        table.add(f"fresh install, {label} (s)", ours.seconds, cp.seconds, "cp -a && sync", limit=2.0)
        point = {"files": count, "install_s": ours.seconds, "cp_install_s": cp.seconds}
        table.add(f"peak RSS of that install, {label} (MiB)", ours.max_rss_kib / 1024, RSS_LIMIT, "target",
                  limit=1.0, note=counted(url, update_cmd(url, root, "1.0.0"), lambda: settle(root, copy)))

        settle(template)
        subprocess.run(update_cmd(url, template, "1.0.0"), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        installed = template / "tools" / TOOL / "current"

        def fresh_root():
            rm(root)
            subprocess.run(["cp", "-a", str(template), str(root)], check=True)
            settle(copy)

        ours, cp = compare([
            (update_cmd(url, root, "2.0.0"), fresh_root),
            (f"cp -a '{installed}/.' '{copy}' && sync", lambda: settle(copy)),
        ])
        table.add(f"one-file update, {label} (s)", ours.seconds, cp.seconds, "cp -a && sync", limit=0.25)
        point["update_s"] = ours.seconds
        table.add(f"peak RSS of that update, {label} (MiB)", ours.max_rss_kib / 1024, RSS_LIMIT, "target",
                  limit=1.0, note=counted(url, update_cmd(url, root, "2.0.0"), fresh_root))

    verify = [bin("tooldelta"), "verify", TOOL, "--root", str(template)]
    subprocess.run(f"cd '{installed}/' && find . -type f -print0 | xargs -0 cat > /dev/null", shell=True)
    ours, ref = compare([
        (verify, None),
        (f"cd '{installed}/' && find . -type f -print0 | xargs -0 sha256sum > /dev/null", None),
    ])
    table.add(f"verify, {label} (s)", ours.seconds, ref.seconds, "find | xargs sha256sum", limit=1.0)
    point |= {"verify_s": ours.seconds, "sha256sum_s": ref.seconds}
    table.add(f"peak RSS of that verify, {label} (MiB)", ours.max_rss_kib / 1024, RSS_LIMIT, "target", limit=1.0)

    fresh_store = work / "store-import"
    manifest = work / "manifest-1.0.0.json"
    ours, cp = compare([
        (import_cmd(fresh_store, manifest, v1), lambda: settle(fresh_store, copy)),
        (f"cp -a '{v1}' '{copy}' && sync", lambda: settle(fresh_store, copy)),
    ])
    table.add(f"mirror import, {label} (s)", ours.seconds, cp.seconds, "cp -a && sync", limit=2.0)
    point["import_s"] = ours.seconds
    table.add(f"peak RSS of that import, {label} (MiB)", ours.max_rss_kib / 1024, RSS_LIMIT, "target",
              limit=1.0, note=f"fsyncs: {fsyncs(import_cmd(fresh_store, manifest, v1), lambda: settle(fresh_store))}")
    settle(fresh_store, copy, root, template)
    return point


def main() -> None:
    table = Table()
    points = [rows(table, WORK / f"smallfiles-{count}", count) for count in SIZES]
    table.save("smallfiles")
    plot(points)
    print(table.markdown())


if __name__ == "__main__":
    main()
