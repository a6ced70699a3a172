"""Real redis-server processes for tests: own temp dir, free port, stopped by their pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

# For a test's own clients too, the product's: redis-py's default retries a refused connection ten times with
# a backoff of up to a second, so a poll for a restarting server overslept by seconds.
from runbook.redis.connect import no_retry  # noqa: F401 - the tests import it from here

_given: set[int] = set()


def free_port() -> int:
    """A port nobody listens on, never the same twice in one process (servers bind it later)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _given:
            _given.add(port)
            return port


_held: list[socket.socket] = []


def refused_port() -> int:
    """A port that refuses every connection while this test process lives: bound and never listening, so no
    other process (another test's server, a second suite on the machine) can take it in the meantime."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _held.append(s)
    return s.getsockname()[1]


class RedisServer:
    def __init__(self, base: Path, name: str = "r", conf: str = "", port: int | None = None,
                 with_file: bool = True, extra_args: list[str] | None = None, password: str | None = None) -> None:
        self.base = base / name
        self.base.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.password = password
        self.conf = self.base / "redis.conf"
        self.log = self.base / "redis.log"
        self.with_file = with_file
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None
        self.write_conf(conf)

    def write_conf(self, extra: str = "") -> None:
        lines = [
            f"port {self.port}",
            "bind 127.0.0.1",
            f"dir {self.base}",
            f"logfile {self.log}",
            "daemonize no",
            'save ""',
            "appendonly no",
        ]
        if self.password:
            lines.append(f"requirepass {self.password}")
        self.conf.write_text("\n".join(lines) + "\n" + extra + "\n")

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}" if self.password else f"redis://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> "RedisServer":
        if self.with_file:
            argv = ["redis-server", str(self.conf), *self.extra_args]
        else:
            argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.base),
                    "--logfile", str(self.log), "--save", "", *self.extra_args]
        self.proc = subprocess.Popen(argv, cwd=self.base, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log.read_text()[-2000:] if self.log.exists() else ''}")
            try:
                if self.client().ping():
                    return
            except redis.exceptions.BusyLoadingError:
                pass
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                pass
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def client(self, **kw) -> redis.Redis:
        kw.setdefault("socket_timeout", 5)
        kw.setdefault("retry", no_retry())
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, decode_responses=True, **kw)

    @property
    def pid(self) -> int:
        assert self.proc
        return self.proc.pid

    def alive(self) -> bool:
        return bool(self.proc) and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.proc.kill()  # SIGKILL: no save at exit, nothing written
            self.proc.wait(10)

    def fill(self, n: int, prefix: str = "k", value: str | None = None) -> None:
        """n keys (value: each key's value; by default its number)."""
        c = self.client()
        pipe = c.pipeline(transaction=False)
        for i in range(n):
            pipe.set(f"{prefix}{i}", i if value is None else value)
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()
