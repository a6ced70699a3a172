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


def still_running(pid: int, create_time: float, slack_s: float = 1.0) -> bool:
    """The process started at create_time runs (not gone, not a zombie, not a later one with its pid)."""
    import psutil

    try:
        p = psutil.Process(pid)
        return abs(p.create_time() - create_time) < slack_s and p.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, OSError):
        return False


# -- what runbook leaves in /tmp: each dir holds a lock its owner keeps while it runs; the kernel drops the
# lock when the owner dies (however it dies, in whatever pid namespace), so the next run can tell what is stale
def mark_owned(directory: str) -> int:
    """Lock the dir's `owner` file for as long as this process runs (or until release): the fd to keep."""
    import fcntl

    fd = os.open(os.path.join(directory, "owner"), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, str(os.getpid()).encode())
    return fd


def release(fd: int) -> None:
    try:
        os.close(fd)  # (the lock goes with it)
    except OSError:
        pass


def stale_dirs(pattern: str) -> list[str]:
    """This user's dirs matching pattern whose owner no longer runs (nobody holds the lock of its `owner`)."""
    import fcntl
    import glob

    out = []
    for d in glob.glob(pattern):
        try:
            if os.stat(d).st_uid != os.getuid():
                continue
            fd = os.open(os.path.join(d, "owner"), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue  # no owner file: not one of ours (or not yet marked)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # its runbook still runs
        finally:
            os.close(fd)
        out.append(d)
    return out
