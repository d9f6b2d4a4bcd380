#!/usr/bin/env python3
"""The desktop app (`tooldelta-app`, debug build from `make app`) under Xvfb,
on a workstation with 30 tools from a real mirror (4 with an update pending):

- time from start until its window is mapped (a proxy for first paint);
- time from start until the full list of 30 tools is known to the UI: the
  `list_tools` command answered with every tool checked against the mirror
  (the app logs `listed` at that moment; the dashboard renders it within a
  frame);
- memory: proportional set size (PSS, shared pages split between the
  processes) of the app and its WebKit processes, once settled;
- idle CPU: the app and its WebKit processes over BENCH_APP_IDLE_SECONDS
  after it settled, as a share of one core.

No reference tool to compare with, so these rows are informative. Skipped
(with a note) when Xvfb or the app binary is missing: `make bench` does not
build the app.
"""

import os
import re
import shutil
import subprocess
import threading
import time

from harness import KEY, PUB, ROOT, WORK, Table, bin, env_int, mirror_server
from update import rm

APP = ROOT / "target" / "debug" / "tooldelta-app"
IDLE_SECONDS = env_int("BENCH_APP_IDLE_SECONDS", 10, 5)
TOOLS = 30
PENDING = 4
TICK = os.sysconf("SC_CLK_TCK")


def descendants(root_pid: int) -> list[int]:
    """The process and all its descendants."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    out, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(p for p, parent in parents.items() if parent == pid)
    return out


def tree_ticks(root_pid: int) -> int:
    """utime + stime of a process and all its descendants, in clock ticks."""
    total = 0
    for pid in descendants(root_pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return total


def tree_pss_kib(root_pid: int) -> int:
    """PSS of a process and all its descendants (KiB): shared libraries count once overall."""
    total = 0
    for pid in descendants(root_pid):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except (OSError, StopIteration):
            continue
    return total


def window_mapped(display: str) -> bool:
    out = subprocess.run(["xwininfo", "-root", "-tree"], env=dict(os.environ, DISPLAY=display),
                         capture_output=True, text=True).stdout
    return '"tooldelta"' in out


def fleet_store(work) -> list[str]:
    """30 small tools (a distinct 256 KiB weight file each) at 1.0.0, the first
    PENDING also at 2.0.0; returns the tool ids."""
    td, mirror = bin("tooldelta"), bin("tooldelta-mirror")
    store = work / "store"
    tools = [f"bench-tool-{i:02d}" for i in range(TOOLS)]
    if (work / ".ready").exists():
        return tools
    rm(work)
    for i, tool in enumerate(tools):
        for version in ["1.0.0", "2.0.0"] if i < PENDING else ["1.0.0"]:
            tree = work / "trees" / tool / version
            (tree / "models").mkdir(parents=True)
            (tree / "models" / "weights.bin").write_bytes(bytes((j * (i + 7)) % 251 for j in range(256 << 10)))
            (tree / "README.md").write_text(f"{tool} {version}\n")
            manifest = work / f"{tool}-{version}.json"
            quiet = dict(check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run([td, "publish", "--tool-dir", str(tree), "--tool-id", tool, "--version", version,
                            "--key", str(KEY), "--out", str(manifest)], **quiet)
            subprocess.run([mirror, "import", "--store", str(store), "--manifest", str(manifest),
                            "--tool-dir", str(tree), "--trust", str(PUB)], **quiet)
    (work / ".ready").touch()
    return tools


def wait_for_line(proc: subprocess.Popen, needle: str, found: threading.Event) -> None:
    """Reads the app's log until `needle` appears (then keeps draining it)."""
    for line in proc.stderr:
        line = re.sub(r"\x1b\[[0-9;]*m", "", line)  # the log is coloured even into a pipe
        if needle in line and not found.is_set():
            found.set()


def main() -> None:
    if not APP.exists() or not shutil.which("Xvfb") or not shutil.which("xwininfo"):
        print(f"bench: app rows skipped ({APP} not built — `make app` — or no Xvfb/xwininfo)")
        return
    table = Table()
    work = WORK / "app-fleet"
    tools = fleet_store(work)
    root = work / "root"
    display = f":{90 + os.getpid() % 9}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        with mirror_server(work / "store") as mirror:
            rm(root)
            for tool in tools:
                subprocess.run([bin("tooldelta"), "update", tool, "--mirror", mirror.url, "--root", str(root),
                                "--trust", str(PUB), "--version", "1.0.0"], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            env = dict(os.environ, DISPLAY=display, TOOLDELTA_ROOT=str(root), TOOLDELTA_MIRROR=mirror.url,
                       TOOLDELTA_TRUST=str(PUB), TOOLDELTA_CONFIG=str(WORK / "app-config.toml"),
                       TOOLDELTA_LOG="warn,tooldelta_app::commands=info")
            listed = threading.Event()
            start = time.perf_counter()
            app = subprocess.Popen([str(APP)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True)
            threading.Thread(target=wait_for_line, args=(app, f"listed tools={TOOLS}", listed),
                             daemon=True).start()
            try:
                deadline = start + 120
                mapped = None
                while mapped is None or not listed.is_set():
                    if time.perf_counter() > deadline or app.poll() is not None:
                        raise SystemExit("bench: the app did not show its window and list within 120 s")
                    if mapped is None and window_mapped(display):
                        mapped = time.perf_counter() - start
                    if listed.is_set() and mapped is None:
                        mapped = time.perf_counter() - start
                    time.sleep(0.02)
                full_list = time.perf_counter() - start
                time.sleep(5)  # let it render and settle
                pss = tree_pss_kib(app.pid) / 1024
                t0, c0 = time.perf_counter(), tree_ticks(app.pid)
                time.sleep(IDLE_SECONDS)
                t1, c1 = time.perf_counter(), tree_ticks(app.pid)
                idle = (c1 - c0) / TICK / (t1 - t0) * 100
            finally:
                app.terminate()
                try:
                    app.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    app.kill()
                    app.wait()
    finally:
        xvfb.terminate()
        xvfb.wait()
        rm(root)
    table.add("app: start to window mapped, debug build (s)", mapped, 0, "—",
              note="(informative; a proxy for first paint: the web view fills the window after)")
    table.add(f"app: start to the full list of {TOOLS} tools, each checked against the mirror (s)", full_list, 0,
              "—", note=f"(informative; {PENDING} with an update pending; debug build)")
    table.add(f"app: memory with {TOOLS} tools, app + WebKit, PSS (MiB)", pss, 0, "—", note="(informative)")
    table.add(f"app: idle CPU with {TOOLS} tools over {IDLE_SECONDS} s, app + WebKit (% of a core)", idle, 0,
              "—", note="(informative)")
    table.save("app")
    print(table.markdown())


if __name__ == "__main__":
    main()
