"""Child processes that a probe starts (jcmd, jstat, redis-check-rdb, a throwaway redis-server) are
started here, each in its own process group and registered with the probe that started it, so that a
probe that times out has its processes killed instead of left running on a host in trouble.

Ground floor: imports nothing of ours.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from typing import Any

_current = threading.local()


class Scope:
    """The processes started by one probe (the thread that runs it)."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[Any]] = []
        self._lock = threading.Lock()
        self.killed = False

    def add(self, p: subprocess.Popen[Any]) -> None:
        with self._lock:
            self._procs.append(p)
            if self.killed:  # started after the deadline: it goes too
                _kill(p)

    def kill(self) -> int:
        """Kill every process group still running; returns how many were killed."""
        with self._lock:
            self.killed = True
            n = 0
            for p in self._procs:
                if p.poll() is None:
                    _kill(p)
                    n += 1
            return n

    def enter(self) -> None:
        _current.scope = self


def _kill(p: subprocess.Popen[Any]) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            p.kill()
        except ProcessLookupError:
            pass


def popen(argv: list[str], **kw: Any) -> subprocess.Popen[Any]:
    """subprocess.Popen in a new process group, registered with the current probe's scope."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw["start_new_session"] = True
    p = subprocess.Popen(argv, **kw)
    scope = getattr(_current, "scope", None)
    if scope is not None:
        scope.add(p)
    return p


def run(argv: list[str], timeout: float, **kw: Any) -> subprocess.CompletedProcess[Any]:
    """subprocess.run with the process group killed on timeout (TimeoutExpired is raised)."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    p = popen(argv, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(p)
        p.communicate()
        raise
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


# -- what runbook leaves in /tmp: each dir names its owner, so that the next run can tell what is stale
def owner_token(pid: int | None = None) -> str:
    """pid and start time: a process that is gone, or a later one with the same pid, is not the owner."""
    import psutil

    pid = pid or os.getpid()
    try:
        return f"{pid} {psutil.Process(pid).create_time():.2f}"
    except psutil.Error:
        return ""


def mark_owned(directory: str) -> None:
    with open(os.path.join(directory, "owner"), "w") as f:
        f.write(owner_token())


def stale_dirs(pattern: str) -> list[str]:
    """This user's dirs matching pattern whose owner (see mark_owned) no longer runs."""
    import glob

    out = []
    for d in glob.glob(pattern):
        try:
            if os.stat(d).st_uid != os.getuid():
                continue
            with open(os.path.join(d, "owner")) as f:
                token = f.read().split()
        except (OSError, ValueError):
            continue
        if len(token) == 2 and token[0].isdigit() and owner_token(int(token[0])) == " ".join(token):
            continue  # its runbook still runs
        out.append(d)
    return out

