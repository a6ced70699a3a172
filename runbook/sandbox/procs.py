"""The processes of a sandbox: started on free ports in a temp dir, recorded in a state file so that
nothing is left behind, on exit, on Ctrl-C, or after a kill (the next run cleans up)."""

from __future__ import annotations

from runbook.text import plural

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from runbook.journal.store import state_dir
from runbook.procs import still_running


def sandboxes_dir() -> Path:
    return state_dir() / "sandboxes"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill(pid: int, create_time: float) -> bool:
    if not still_running(pid, create_time):
        return False
    try:
        os.kill(pid, signal.SIGCONT)  # a stopped process (fault injection) must be able to die
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def kill_strays(directory: str | Path) -> list[str]:
    """Every process that runs in the sandbox's directory (its working directory is there, deleted or
    not) that the sandbox did not start itself: a server its playbook's restart started. The sandbox owns
    it too. Returns what was stopped."""
    import psutil

    d = str(directory).rstrip("/")
    mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    out = []
    for p in psutil.process_iter(["pid", "name"]):
        if p.info["pid"] in mine:
            continue
        try:
            cwd = p.cwd().removesuffix(" (deleted)")
        except (psutil.Error, OSError):
            continue
        if cwd == d or cwd.startswith(d + "/"):
            try:
                p.kill()
                out.append(f"{p.info['name']} (pid {p.info['pid']})")
            except psutil.Error:
                pass
    return out


def cleanup_stale(say: Callable[[str], None] = lambda s: None) -> int:
    """Stop what sandboxes of runs that no longer exist left behind. Returns how many processes."""
    d = sandboxes_dir()
    if not d.exists():
        return 0
    killed = 0
    for f in d.glob("*.json"):
        try:
            rec = json.loads(f.read_text())
        except (OSError, ValueError):
            f.unlink(missing_ok=True)
            continue
        owner = rec.get("owner", {})
        if owner and still_running(owner.get("pid", -1), owner.get("create_time", 0)):
            continue  # its run is still going
        for p in rec.get("processes", []):
            if _kill(p["pid"], p["create_time"]):
                killed += 1
                say(f"stopped {p['name']} (pid {p['pid']}) left by an earlier rehearsal")
        if rec.get("dir") and Path(rec["dir"]).name.startswith("runbook-sandbox-"):
            for what in kill_strays(rec["dir"]):
                killed += 1
                say(f"stopped {what}, started inside an earlier rehearsal")
            shutil.rmtree(rec["dir"], ignore_errors=True)
        f.unlink(missing_ok=True)
    return killed


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    create_time: float
    info: str = ""

    @property
    def pid(self) -> int:
        return self.popen.pid


@dataclass
class Sandbox:
    name: str
    say: Callable[[str], None] = print
    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="runbook-sandbox-")))
    procs: list[Proc] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)  # run after the processes stop (a cgroup)

    def __post_init__(self) -> None:
        import threading

        self._stop_lock = threading.Lock()  # the exit watchdog may stop it while the main thread does
        self._stopped = False  # once stopped, nothing more starts in it (a build in a thread would go on)
        sandboxes_dir().mkdir(parents=True, exist_ok=True)
        self.state_file = sandboxes_dir() / f"{self.dir.name}.json"
        self._save()

    def _save(self) -> None:
        import psutil

        me = psutil.Process()
        rec = {"name": self.name, "dir": str(self.dir), "owner": {"pid": me.pid, "create_time": me.create_time()},
               "processes": [{"name": p.name, "pid": p.pid, "create_time": p.create_time} for p in self.procs]}
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec))
        os.replace(tmp, self.state_file)

    def start(self, name: str, argv: list[str], cwd: Path | None = None, info: str = "", **kw: Any) -> Proc:
        import psutil

        kw.setdefault("stdout", subprocess.DEVNULL)
        with self._stop_lock:  # a stop waits for a start under way, and a start after a stop is refused
            if self._stopped:
                raise SandboxError(f"the {self.name} sandbox was stopped; {name} was not started")
            popen = subprocess.Popen(argv, cwd=cwd or self.dir, stdin=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True, **kw)
            try:
                ct = psutil.Process(popen.pid).create_time()
            except psutil.Error:
                ct = time.time()
            proc = Proc(name, popen, ct, info)
            self.procs.append(proc)
            self._save()  # recorded before anything else can go wrong
        self.say(f"started {name}{' ' + info if info else ''} (pid {popen.pid})")
        return proc

    def stop(self) -> None:
        with self._stop_lock:
            self._stop()

    def _stop(self) -> None:
        self._stopped = True
        for p in reversed(self.procs):
            if _kill(p.pid, p.create_time):
                try:
                    p.popen.wait(5)
                except subprocess.TimeoutExpired:
                    pass
            else:
                p.popen.poll()
        stopped = len(self.procs) + len(kill_strays(self.dir))  # and what its actions started there
        self.procs.clear()
        for fn in self.cleanups:
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - the rest of the cleanup goes on
                self.say(f"cleanup failed: {e}")
        self.cleanups.clear()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)
        if stopped:
            self.say(f"stopped the {self.name} sandbox ({plural(stopped, 'process', 'processes')}) and removed {self.dir}")

    def __enter__(self) -> "Sandbox":
        from runbook.events import on_forced_exit

        self._old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
        for s in self._old:
            signal.signal(s, self._on_signal)
        self._forget = on_forced_exit(self.stop)  # stopped even if a signal's clean exit gets stuck
        return self

    def _on_signal(self, signum: int, frame: Any) -> None:
        from runbook.events import terminated

        terminated(signum, frame)

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        self._forget()
        for s, h in self._old.items():
            signal.signal(s, h)


class SandboxError(Exception):
    pass


def client(port: int, **kw: Any) -> Any:
    """A client of a sandbox's server that fails at once when nothing answers: redis-py's default retries a
    refused connection ten times with a backoff of up to a second, so a poll overslept by seconds."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(port=port, retry=Retry(NoBackoff(), 0), **kw)


def start_redis(sb: "Sandbox", name: str, conf: str) -> tuple[Any, int, Path, Path]:
    """A redis-server of the sandbox: its own dir, config file, free port; waits until it answers."""
    import redis

    port = free_port()
    d = sb.dir / name
    d.mkdir()
    cfg = d / "redis.conf"
    cfg.write_text(f"port {port}\nbind 127.0.0.1\ndir {d}\nlogfile {d}/redis.log\ndaemonize no\nsave \"\"\nappendonly no\n{conf}")
    proc = sb.start(f"redis-server {name}", ["redis-server", str(cfg)], cwd=d, info=f"on 127.0.0.1:{port}")
    # the build's own client: a DEBUG POPULATE or a long script on a busy machine takes more than seconds
    c = client(port, socket_timeout=120, socket_connect_timeout=2, decode_responses=True)
    deadline = time.monotonic() + 10
    while True:
        if proc.popen.poll() is not None:
            raise SandboxError(f"redis-server {name} exited: see {d}/redis.log")
        try:
            if c.ping():
                return c, port, cfg, d
        except redis.exceptions.RedisError:
            pass
        if time.monotonic() > deadline:
            raise SandboxError(f"redis-server {name} did not answer")
        time.sleep(0.05)


def until(what: str, check: Any, timeout: float = 30.0) -> None:
    """Wait until check() is true; a SandboxError says which condition did not come."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except SandboxError:
            raise
        except Exception:  # noqa: BLE001 - not yet
            pass
        if time.monotonic() > deadline:
            raise SandboxError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.2)
