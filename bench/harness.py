"""Shared pieces of `make bench`: timing best-of-N, peak RSS, result tables.

Ratios, not absolute times, are what the benchmarks report: these machines are
noisy, so ours and the reference tool run side by side in the same run, each
best of several, and only their ratio is compared with the target.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target" / "release"
WORK = pathlib.Path(os.environ.get("BENCH_WORK", ROOT / "target" / "bench"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


@dataclass
class Sample:
    seconds: float
    max_rss_kib: int


def run_once(cmd: list[str] | str, env: dict | None = None, stdout=subprocess.DEVNULL) -> Sample:
    """Runs a command to completion; wall time and the child's own peak RSS."""
    shell = isinstance(cmd, str)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, shell=shell, env=env, stdout=stdout, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"bench: command failed ({proc.returncode}): {cmd}\n{err}")
    return Sample(elapsed, usage.ru_maxrss)


def best_of(cmd, runs: int = RUNS, setup=None, env=None) -> Sample:
    """Best wall time of `runs` runs (setup before each, untimed); max RSS over them."""
    samples = []
    for _ in range(runs):
        if setup:
            setup()
        samples.append(run_once(cmd, env=env))
    return Sample(min(s.seconds for s in samples), max(s.max_rss_kib for s in samples))


@dataclass
class Row:
    name: str
    ours: float
    reference: float
    reference_name: str
    target: str
    ok: bool
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.reference if self.reference else float("inf")


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def add(self, name, ours, reference, reference_name, limit=None, at_least=None, note=""):
        """Adds a ratio row; `limit` = ratio must be ≤, `at_least` = speed-up must be ≥."""
        ratio = ours / reference if reference else float("inf")
        if limit is not None:
            target, ok = f"≤ {limit}", ratio <= limit
        else:
            target, ok = f"≥ {at_least}x faster", (reference / ours if ours else 0) >= at_least
        row = Row(name, ours, reference, reference_name, target, ok, note)
        self.rows.append(row)
        print(self.format_row(row), flush=True)
        return row

    @staticmethod
    def header() -> str:
        return "| benchmark | ours | reference | ratio | target | ok |\n|---|---|---|---|---|---|"

    @staticmethod
    def format_row(r: Row) -> str:
        ours = f"{r.ours:.3f}"
        ref = f"{r.reference:.3f} ({r.reference_name})"
        note = f" {r.note}" if r.note else ""
        return f"| {r.name} | {ours} | {ref} | {r.ratio:.2f} | {r.target} | {'yes' if r.ok else 'NO'}{note} |"

    def markdown(self) -> str:
        return "\n".join([self.header()] + [self.format_row(r) for r in self.rows])

    def save(self, name: str) -> None:
        WORK.mkdir(parents=True, exist_ok=True)
        (WORK / f"{name}.md").write_text(self.markdown() + "\n")
        (WORK / f"{name}.json").write_text(json.dumps([r.__dict__ | {"ratio": r.ratio} for r in self.rows], indent=2))


def make_file(path: pathlib.Path, size: int) -> pathlib.Path:
    """Incompressible content, fast: AES-CTR keystream from openssl."""
    if path.exists() and path.stat().st_size == size:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        f"head -c {size} /dev/zero | openssl enc -aes-128-ctr -nosalt -pass pass:bench 2>/dev/null > '{path}'",
        shell=True, check=True)
    return path


def warm(path: pathlib.Path) -> None:
    """Reads a file once so every contender starts from the page cache."""
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return f"{os.cpu_count()} cores, {cpu}, {os.uname().release}"


def bin(name: str) -> str:
    path = RELEASE / name
    if not path.exists():
        sys.exit(f"bench: {path} is not built (run `cargo build --release --workspace --bins`)")
    return str(path)
