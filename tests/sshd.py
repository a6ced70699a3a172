"""A real sshd for tests: Debian's openssh-server started on a free loopback port with its own host key
and one authorized client key, in its own temp dir, stopped by its pid. Root only (sshd's privilege
separation needs it)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def available() -> bool:
    return os.path.exists(SSHD) and bool(shutil.which("ssh")) and bool(shutil.which("ssh-keygen")) and os.geteuid() == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def _clear_stale_pyenv_lock() -> None:
    """This machine's root login runs `pyenv init` from ~/.bashrc, which takes a lock in pyenv's shims dir
    while it rehashes; a login killed in the middle (drop_connections does that) leaves the lock, and
    every later ssh login here waits on it for a minute. A lock older than a minute is stale."""
    lock = Path(os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))) / "shims" / ".pyenv-shim"
    try:
        if time.time() - lock.stat().st_mtime > 60:
            lock.unlink()
    except OSError:
        pass


class Sshd:
    def __init__(self, base: Path) -> None:
        self.dir = base / "sshd"
        self.dir.mkdir(parents=True)
        self.port = _free_port()
        keygen(self.dir / "host_key")
        keygen(self.dir / "client_key")
        (self.dir / "authorized_keys").write_text((self.dir / "client_key.pub").read_text())
        host_pub = (self.dir / "host_key.pub").read_text().split()
        (self.dir / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        (self.dir / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.dir}/host_key\nPidFile {self.dir}/sshd.pid\n"
            f"AuthorizedKeysFile {self.dir}/authorized_keys\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin yes\nLogLevel ERROR\n"
            "MaxSessions 50\nMaxStartups 50\n")
        self.proc: subprocess.Popen | None = None

    @property
    def dest(self) -> str:
        return f"root@127.0.0.1:{self.port}"

    @property
    def options(self) -> tuple[str, ...]:
        """What the engineer's ~/.ssh/config would say: the key, and the host key it trusts."""
        return (f"IdentityFile={self.dir}/client_key", "IdentitiesOnly=yes", f"UserKnownHostsFile={self.dir}/known_hosts",
                "StrictHostKeyChecking=yes", "GlobalKnownHostsFile=/dev/null")

    def start(self) -> "Sshd":
        os.makedirs("/run/sshd", exist_ok=True)  # privilege separation directory the package expects
        _clear_stale_pyenv_lock()
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.dir / "sshd_config")], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=open(self.dir / "sshd.log", "wb"),
                                     start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {(self.dir / 'sshd.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not listen")

    def drop_connections(self) -> None:
        """Kill every connection's sshd process (the listener stays): what a host that drops you does."""
        import psutil

        for child in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                child.kill()
            except psutil.Error:
                pass

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.drop_connections()
            self.proc.kill()
            self.proc.wait(10)
