#!/usr/bin/env python3
"""The desktop app (`tooldelta-app`, debug build from `make app`) under Xvfb:

- time from start until its window is mapped (a proxy for first paint: the
  window is mapped once the web view has its first frame to show);
- idle CPU: the app and its WebKit processes, with one tool installed, over
  BENCH_APP_IDLE_SECONDS after it settled, as a share of one core.

No reference tool to compare with, so these rows are informative. Skipped
(with a note) when Xvfb or the app binary is missing: `make bench` does not
build the app.
"""

import os
import shutil
import subprocess
import time

from harness import MIB, PUB, ROOT, WORK, Table, env_int, fixture, mirror_server
from update import rm, update_cmd

APP = ROOT / "target" / "debug" / "tooldelta-app"
IDLE_SECONDS = env_int("BENCH_APP_IDLE_SECONDS", 10, 5)
TICK = os.sysconf("SC_CLK_TCK")


def tree_ticks(root_pid: int) -> int:
    """utime + stime of a process and all its descendants, in clock ticks."""
    parents, ticks = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        ticks[int(entry)] = int(fields[11]) + int(fields[12])
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo.extend(p for p, parent in parents.items() if parent == pid)
    return total


def window_mapped(display: str) -> bool:
    out = subprocess.run(["xwininfo", "-root", "-tree"], env=dict(os.environ, DISPLAY=display),
                         capture_output=True, text=True).stdout
    return '"tooldelta"' in out


def main() -> None:
    if not APP.exists() or not shutil.which("Xvfb") or not shutil.which("xwininfo"):
        print(f"bench: app rows skipped ({APP} not built — `make app` — or no Xvfb/xwininfo)")
        return
    table = Table()
    fx = fixture("app-tool", 10 * MIB, export=False)
    root = fx.work / "root-app"
    display = f":{90 + os.getpid() % 9}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        with mirror_server(fx.store) as mirror:
            rm(root)
            subprocess.run(update_cmd(mirror.url, root, "1.0.0"), check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            env = dict(os.environ, DISPLAY=display, TOOLDELTA_ROOT=str(root), TOOLDELTA_MIRROR=mirror.url,
                       TOOLDELTA_TRUST=str(PUB), TOOLDELTA_CONFIG=str(WORK / "app-config.toml"))
            start = time.perf_counter()
            app = subprocess.Popen([str(APP)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = start + 60
                while not window_mapped(display):
                    if time.perf_counter() > deadline or app.poll() is not None:
                        raise SystemExit("bench: the app window did not appear within 60 s")
                    time.sleep(0.02)
                mapped = time.perf_counter() - start
                time.sleep(5)  # let it load the tool list and settle
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
    table.add(f"app: idle CPU over {IDLE_SECONDS} s, app + WebKit (% of a core)", idle, 0, "—",
              note="(informative)")
    table.save("app")
    print(table.markdown())


if __name__ == "__main__":
    main()
