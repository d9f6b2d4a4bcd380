"""Shared pieces of `make bench`: timing best-of-N, peak RSS, result tables,
test data, and the servers (our mirror, nginx) as child processes.

Ratios, not absolute times, are what the benchmarks report: these machines are
noisy, so ours and the reference tool run side by side in the same run,
interleaved (ours, reference, ours, ...) so both see the same background load,
each best of several, and only their ratio is compared with the target.

Sizes and repeat counts come from environment variables (see
docs/performance.md), so a quick run is `BENCH_QUICK=1 make bench`.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parent.parent
# BENCH_PROFILE=debug runs a quick local check against the debug binaries.
RELEASE = ROOT / "target" / os.environ.get("BENCH_PROFILE", "release")
WORK = pathlib.Path(os.environ.get("BENCH_WORK", ROOT / "target" / "bench"))
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
RUNS = int(os.environ.get("BENCH_RUNS", "2" if QUICK else "5"))
KEY = ROOT / "fixtures" / "keys" / "test-only.secret.pem"
PUB = ROOT / "fixtures" / "keys" / "test-only.public.pem"
MIB = 1 << 20


def env_int(name: str, default: int, quick: int) -> int:
    """An integer setting: the env var, else the quick or the full default."""
    return int(os.environ.get(name, quick if QUICK else default))


@dataclass
class Sample:
    seconds: float
    max_rss_kib: int
    cpu_seconds: float = 0.0


GNU_TIME = "/usr/bin/time"
RSS_FILE = WORK / ".max-rss"


def run_once(cmd: list[str] | str, env: dict | None = None, stdout=subprocess.DEVNULL) -> Sample:
    """Runs a command to completion; wall time, CPU time and peak RSS.

    The peak RSS of a child forked from Python starts at Python's own (Linux
    carries the high-water mark across fork + exec), so a command given as a
    list runs under GNU time, a small process, and its `%M` is used."""
    shell = isinstance(cmd, str)
    timed = not shell and os.path.exists(GNU_TIME)
    if timed:
        WORK.mkdir(parents=True, exist_ok=True)
        cmd = [GNU_TIME, "-q", "-f", "%M", "-o", str(RSS_FILE)] + cmd
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, shell=shell, env=env, stdout=stdout, stderr=subprocess.PIPE)
    # The pipe is only read after exit: commands here write little to stderr.
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"bench: command failed ({proc.returncode}): {cmd}\n{err}")
    if proc.stderr:
        proc.stderr.close()
    # For a shell pipeline ru_maxrss is the largest process of it, not the sum.
    rss = int(RSS_FILE.read_text().split()[-1]) if timed else usage.ru_maxrss
    return Sample(elapsed, rss, usage.ru_utime + usage.ru_stime)


def best_of(cmd, runs: int = RUNS, setup=None, env=None) -> Sample:
    """Best wall time of `runs` runs (setup before each, untimed); max RSS over them."""
    samples = []
    for _ in range(runs):
        if setup:
            setup()
        samples.append(run_once(cmd, env=env))
    return summarize(samples)


def summarize(samples: list[Sample]) -> Sample:
    """Best wall time, largest RSS, least CPU time of a contender's runs."""
    return Sample(min(s.seconds for s in samples), max(s.max_rss_kib for s in samples),
                  min(s.cpu_seconds for s in samples))


def compare(contenders: list[tuple], runs: int = RUNS) -> list[Sample]:
    """Runs each `(cmd, setup)` once per round, `runs` rounds, interleaved, so
    every contender sees the same background load; best time of each."""
    samples: list[list[Sample]] = [[] for _ in contenders]
    for _ in range(runs):
        for i, (cmd, setup) in enumerate(contenders):
            if setup:
                setup()
            samples[i].append(run_once(cmd))
    return [summarize(ss) for ss in samples]


def cpu_idle_share(interval: float = 0.2) -> float:
    """Share of all cores idle over `interval` seconds (from /proc/stat)."""
    def sample():
        fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total
    idle0, total0 = sample()
    time.sleep(interval)
    idle1, total1 = sample()
    return (idle1 - idle0) / max(1, total1 - total0)


def wait_for_quiet(share: float = 0.85, max_wait: float = 15.0) -> None:
    """Waits (untimed, bounded) until other processes leave the cores mostly
    idle: a row that needs every core at once means nothing while someone
    else's build holds one."""
    deadline = time.monotonic() + max_wait
    while cpu_idle_share() < share and time.monotonic() < deadline:
        pass


@dataclass
class Row:
    name: str
    ours: float
    reference: float
    reference_name: str
    target: str
    ok: bool | None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.reference if self.reference else float("inf")


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def add(self, name, ours, reference, reference_name, limit=None, at_least=None, note="", check=None):
        """Adds a ratio row; `limit` = ratio must be ≤, `at_least` = speed-up
        (reference / ours) must be ≥, `check` = (target text, ok) decided by
        the caller; none of them = informative only."""
        ratio = ours / reference if reference else float("inf")
        if limit is not None:
            target, ok = f"≤ {limit}", ratio <= limit
        elif at_least is not None:
            target, ok = f"≥ {at_least}x faster", (reference / ours if ours else 0) >= at_least
        elif check is not None:
            target, ok = check
        else:
            target, ok = "—", None
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
        ok = {True: "yes", False: "NO", None: "—"}[r.ok]
        ratio = f"{r.ratio:.2f}" if r.reference else "—"
        return f"| {r.name} | {ours} | {ref} | {ratio} | {r.target} | {ok}{note} |"

    def markdown(self) -> str:
        return "\n".join([self.header()] + [self.format_row(r) for r in self.rows])

    def save(self, name: str) -> None:
        WORK.mkdir(parents=True, exist_ok=True)
        (WORK / f"{name}.md").write_text(self.markdown() + "\n")
        (WORK / f"{name}.json").write_text(json.dumps([r.__dict__ | {"ratio": r.ratio if r.reference else None} for r in self.rows], indent=2))


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
    """Reads a file (or a folder's files) once so every contender starts from the page cache."""
    paths = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    for p in paths:
        subprocess.run(["cat", str(p)], stdout=subprocess.DEVNULL, check=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    sha = " (SHA-NI)" if any("sha_ni" in l for l in open("/proc/cpuinfo") if l.startswith("flags")) else ""
    mem = next((int(l.split()[1]) >> 20 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    return f"{os.cpu_count()} cores, {cpu}{sha}, {mem} GiB RAM, Linux {os.uname().release}"


def bin(name: str) -> str:
    path = RELEASE / name
    if not path.exists():
        sys.exit(f"bench: {path} is not built (run `make bench-build`)")
    return str(path)


def sha256_of(path: pathlib.Path) -> str:
    out = subprocess.run(["sha256sum", str(path)], check=True, capture_output=True, text=True).stdout
    return out.split()[0]


# ---------------------------------------------------------------------------
# A tool with a large model, published in two versions and stored in a mirror.

TOOL = "bench-tool"


@dataclass
class Fixture:
    """Two versions of a tool (v2 changes one small file) in a mirror store,
    with a static export of that store for nginx."""
    work: pathlib.Path
    v1: pathlib.Path
    v2: pathlib.Path
    store: pathlib.Path
    export: pathlib.Path
    model: pathlib.Path
    model_rel: str
    size: int

    @property
    def model_sha(self) -> str:
        return sha256_of(self.model)


def fixture(name: str, model_bytes: int, export: bool = True) -> Fixture:
    """Builds (or reuses, when the model size matches) the trees, the store and
    (when asked) the static export."""
    td, mirror = bin("tooldelta"), bin("tooldelta-mirror")
    work = WORK / name
    v1, v2, store, out = work / "v1", work / "v2", work / "store", work / "export"
    model_rel = "models/model.gguf"
    model = v1 / model_rel
    done = work / f".ready-{model_bytes}"
    fx = Fixture(work, v1, v2, store, out, model, model_rel, model_bytes)
    if done.exists() and model.exists() and model.stat().st_size == model_bytes and (out.exists() or not export):
        return fx
    shutil.rmtree(work, ignore_errors=True)
    make_file(model, model_bytes)
    (v1 / "README.md").write_text("bench tool v1\n")
    (v1 / "config.toml").write_text("threads = 8\n")
    for i in range(8):
        (v1 / "scripts").mkdir(exist_ok=True)
        (v1 / "scripts" / f"step-{i}.py").write_text(f"print('step {i}')\n" * 50)
    shutil.copytree(v1, v2, copy_function=os.link)
    (v2 / "README.md").unlink()
    (v2 / "README.md").write_text("bench tool v2: one small file changed\n")
    for tree, version in [(v1, "1.0.0"), (v2, "2.0.0")]:
        manifest = work / f"manifest-{version}.json"
        subprocess.run([td, "publish", "--tool-dir", str(tree), "--tool-id", TOOL, "--version", version,
                        "--key", str(KEY), "--out", str(manifest)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        subprocess.run([mirror, "import", "--store", str(store), "--manifest", str(manifest),
                        "--tool-dir", str(tree)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    if export:
        subprocess.run([mirror, "export", "--store", str(store), "--out", str(out)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done.touch()
    return fx


# ---------------------------------------------------------------------------
# Servers as child processes, stopped when the `with` block ends.

def wait_healthy(url: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"bench: the server for {url} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: the server at {url} did not come up")
        time.sleep(0.05)


class Child:
    """A server child process; terminated (then killed) on exit of the block."""

    def __init__(self, cmd: list[str], url: str, name: str):
        self.cmd, self.url, self.name = cmd, url, name
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Child":
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        wait_healthy(self.url, self.proc)
        return self

    def __exit__(self, *exc) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def mirror_server(store: pathlib.Path, args: list[str] | None = None) -> Child:
    port = free_port()
    cmd = [bin("tooldelta-mirror"), "serve", "--store", str(store), "--listen", f"127.0.0.1:{port}"] + (args or [])
    return Child(cmd, f"http://127.0.0.1:{port}", "tooldelta-mirror")


def nofile_hard() -> int:
    """The hard descriptor limit (a large number when unlimited)."""
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 1 << 20 if hard == resource.RLIM_INFINITY else hard


def raise_nofile() -> int:
    """Raises this process's soft descriptor limit to the hard one (children
    such as wrk inherit it); returns it."""
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return nofile_hard()


def nginx_binary() -> str:
    for candidate in [os.environ.get("NGINX", ""), "/usr/sbin/nginx", "/usr/local/sbin/nginx"]:
        if candidate and os.path.isfile(candidate):
            return candidate
    sys.exit("bench: nginx not found (install Debian's nginx-light: `make deps`)")


def nginx_server(export: pathlib.Path, workers: str = "auto", connections: int = 1024) -> Child:
    """nginx (Debian) over a static export with the project's docs/nginx.conf
    server block, changed only in `listen` and `root`; its own prefix, no daemon.
    More than 1024 `connections` per worker also raise its descriptor limit
    (`worker_rlimit_nofile`) to the hard limit, as `tooldelta-mirror serve` does."""
    port = free_port()
    prefix = WORK / "nginx"
    shutil.rmtree(prefix, ignore_errors=True)
    for sub in ("logs", "tmp"):
        (prefix / sub).mkdir(parents=True)
    server = (ROOT / "docs" / "nginx.conf").read_text()
    server = server.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    server = server.replace("/srv/tooldelta/export", str(export))
    user = "user root;\n" if os.geteuid() == 0 else ""
    t = prefix / "tmp"
    rlimit = f"worker_rlimit_nofile {nofile_hard()};\n" if connections > 1024 else ""
    conf = (
        f"{user}daemon off;\nworker_processes {workers};\npid {prefix}/nginx.pid;\n{rlimit}"
        f"error_log {prefix}/logs/error.log warn;\nevents {{ worker_connections {connections}; }}\n"
        f"http {{\n include /etc/nginx/mime.types;\n default_type application/octet-stream;\n"
        f" access_log {prefix}/logs/access.log;\n client_body_temp_path {t}/body;\n"
        f" proxy_temp_path {t}/proxy;\n fastcgi_temp_path {t}/fastcgi;\n uwsgi_temp_path {t}/uwsgi;\n"
        f" scgi_temp_path {t}/scgi;\n{server}\n}}\n")
    (prefix / "nginx.conf").write_text(conf)
    cmd = [nginx_binary(), "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "logs/error.log")]
    return Child(cmd, f"http://127.0.0.1:{port}", "nginx")
