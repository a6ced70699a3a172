"""A terminating signal whose clean exit gets stuck still ends runbook, with its sandbox stopped.

The SignalExit raised by SIGTERM or SIGHUP lands wherever the main thread is; seen in CI: an event loop that
went on waiting after a tmux session was killed, runbook and its rehearsal's servers left running. Here the
main thread swallows it on purpose, and a real sandbox process must still be gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from conftest import ROOT

STUCK = """
import signal, sys, time
from runbook import events
from runbook.sandbox.procs import Sandbox

events.EXIT_GRACE_S = 1.0
with Sandbox("stuck", say=lambda t: print(t, flush=True)) as sb:
    p = sb.start("sleep", ["sleep", "600"])
    said = False
    while True:  # swallows the signal's exit, as a shutdown that waits on a thread would
        try:
            if not said:  # said inside the try: a signal sent on reading it is swallowed too
                said = True
                print("ready", p.pid, sb.dir, flush=True)
            time.sleep(3600)
        except events.SignalExit:
            print("swallowed", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stuck_exit_after_a_signal_still_ends_and_stops_the_sandbox(state_dir, sig) -> None:
    env = {**os.environ, "RUNBOOK_STATE_DIR": str(state_dir), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", STUCK], stdout=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    child = None
    try:
        line = proc.stdout.readline()
        while line and not line.startswith("ready"):
            line = proc.stdout.readline()
        assert line.startswith("ready"), "the sandbox never started its process"
        _, pid, sandbox = line.split(maxsplit=2)
        child = psutil.Process(int(pid))
        proc.send_signal(sig)
        code = proc.wait(20)
        out = proc.stdout.read()
        assert code == 128 + sig, (code, out)
        assert "swallowed" in out  # it really was stuck, and the watchdog ended it
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, "the sandbox's process survived"
        assert not os.path.exists(sandbox.strip())
        assert not list((state_dir / "sandboxes").glob("*.json"))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if child is not None and child.is_running():
            child.kill()
