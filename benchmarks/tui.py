"""TUI benchmarks in a real terminal (tmux, 80x24):

1. launch to first frame: `runbook` (the home screen) against a bare Textual app (header, ten-row table,
   footer), in the same run; the time until the first expected text is on the screen.
2. key latency while a probed host is hung: the run screen against a redis-server stopped with SIGSTOP
   (its probe and live panel block in workers until their timeouts); the time from a key press to
   the screen showing its effect.

    .venv/bin/python benchmarks/tui.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from redis_server import RedisServer  # noqa: E402

SESSION = f"rbbench{os.getpid()}"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout


def start(command: str, env: dict[str, str]) -> float:
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    t = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", SESSION, "-x", "80", "-y", "24", f"cd {ROOT} && env {exports} {command}"], check=True)
    return t


def wait(text: str, timeout: float = 30) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in tmux("capture-pane", "-p", "-t", SESSION):
            return time.perf_counter()
        time.sleep(0.002)
    raise RuntimeError(f"{text!r} never appeared")


def stop() -> None:
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    time.sleep(0.2)


def launch(command: str, text: str, env: dict[str, str]) -> float:
    t0 = start(command, env)
    try:
        return wait(text) - t0
    finally:
        stop()


def main() -> None:
    # A pip install compiles runbook's .pyc (textual's are compiled already); where PYTHONDONTWRITEBYTECODE
    # kept them from being written, runbook would pay its compiling at every launch and the bare app not.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "runbook")], check=True)
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    state = tempfile.mkdtemp(prefix="rb-tui-bench-")
    env = {"RUNBOOK_STATE_DIR": state, "TERM": "xterm-256color"}
    py = sys.executable
    bare, ours = [], []
    for _ in range(args.repeat):  # interleaved, so both see the same machine
        bare.append(launch(f"{py} benchmarks/bare_app.py", "BAREAPP row 9", env))
        ours.append(launch(str(Path(py).parent / "runbook"), "Targets", env))
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"launch to first frame (median of {args.repeat}): bare Textual app {b:.3f} s, runbook {o:.3f} s, ratio {o / b:.2f}x")

    tmp = Path(tempfile.mkdtemp(prefix="rb-tui-bench-redis-"))
    s = RedisServer(tmp, "hung").start()
    inv = tmp / "inventory.yaml"
    inv.write_text(json.dumps({"targets": {"master": {"url": s.url}}}))
    os.kill(s.pid, signal.SIGSTOP)
    try:
        start(f"{py} -m runbook.cli run playbooks/redis-master-restart.yaml -i {inv}", env)
        wait("Read the master twice")
        lat = []
        for i in range(args.repeat * 4):
            key, text = ("l", "session live of") if i % 2 == 0 else ("s", "CHECK  Read the master")
            t = time.perf_counter()
            tmux("send-keys", "-t", SESSION, key)
            lat.append(wait(text, 5) - t)
        print("latencies ms:", [round(x * 1000) for x in lat])
        lat.sort()
        print(f"key to screen while the probed host is SIGSTOPped: median {statistics.median(lat) * 1000:.0f} ms, "
              f"p90 {lat[int(len(lat) * 0.9) - 1] * 1000:.0f} ms, "
              f"max {max(lat) * 1000:.0f} ms over {len(lat)} keys")
    finally:
        stop()
        os.kill(s.pid, signal.SIGCONT)
        s.stop()


if __name__ == "__main__":
    main()
