"""Host access: how runbook reads a host and runs a command on it. Two implementations of one small
interface: this machine, and a remote host over the engineer's own `ssh` (their ~/.ssh/config, keys,
agent, ProxyJump and bastions), one multiplexed connection per host.

Nothing here is a shell string: a command is an argument list. Over ssh the remote login shell is
given the list with each word quoted (shlex), so it reads back exactly those words; file contents come
back as bytes. Every call has a timeout; a host that drops the connection, or does not answer, is an
AccessError within it, never a hang.

Ground floor: imports only procs.
"""

from __future__ import annotations

import atexit
import errno
import functools
import os
import re
import secrets
import shlex
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from runbook import procs
from runbook.secrets import mask_ssh_option

DEFAULT_TIMEOUT = 10.0
READ_LIMIT = 16 * 1024 * 1024


class AccessError(Exception):
    """The host could not be reached or did not answer, or refused the read: the message says which."""

    def __init__(self, message: str, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing  # the path does not exist (as opposed to: could not be read)


class _Timeout(AccessError):
    pass


@dataclass
class Ran:
    rc: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


class Access:
    """What every host access gives. `local` says whether the host is this machine."""

    name = "?"
    local = False

    def run(self, argv: list[str], timeout: float = DEFAULT_TIMEOUT) -> Ran:
        raise NotImplementedError

    # -- built on run() and read(): the same code for both transports
    def read(self, path: str, limit: int = READ_LIMIT, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """The first `limit` bytes of a file."""
        return self._file(["head", "-c", str(limit), "--", path], path, timeout)

    def tail(self, path: str, nbytes: int, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """The last `nbytes` bytes of a file."""
        return self._file(["tail", "-c", str(nbytes), "--", path], path, timeout)

    def _file(self, argv: list[str], path: str, timeout: float) -> bytes:
        r = self.run(argv, timeout)
        if r.rc != 0:
            err = r.stderr.decode("utf-8", "replace").strip()
            raise AccessError(f"{self.name}: cannot read {path}: {_last(err) or f'exit {r.rc}'}",
                              missing="No such file" in err)
        return r.stdout

    def read_many(self, paths: list[str], timeout: float = DEFAULT_TIMEOUT) -> dict[str, bytes | None]:
        """Several small text files (/proc, config) in one call: path -> content, None when it cannot be
        read. Each costs a session over ssh: one call for many is what keeps a remote check fast."""
        if not paths:
            return {}
        r = self.run(["grep", "-a", "-H", "", "--", *paths], timeout)
        out: dict[str, bytes | None] = {p: None for p in paths}
        found: dict[str, list[bytes]] = {}
        keys = sorted(paths, key=len, reverse=True)  # the longest name first: /a/b before /a
        for line in r.stdout.split(b"\n"):
            for p in keys:
                prefix = p.encode() + b":"
                if line.startswith(prefix):
                    found.setdefault(p, []).append(line[len(prefix):])
                    break
        err = r.stderr.decode("utf-8", "replace")
        for p in paths:
            if p in found:
                out[p] = b"\n".join(found[p]) + b"\n"
            elif f"{p}: " not in err:
                out[p] = b""  # there, and empty
        return out

    def stat_many(self, paths: list[str], timeout: float = DEFAULT_TIMEOUT) -> dict[str, dict[str, Any] | None]:
        """stat() of several paths in one call (None for those that do not exist)."""
        if not paths:
            return {}
        r = self.run(["stat", "-L", "-c", "%s %Y %F %n", "--", *paths], timeout)
        out: dict[str, dict[str, Any] | None] = {p: None for p in paths}
        for line in r.text.splitlines():
            f = line.split(" ", 3)
            if len(f) == 4 and f[0].isdigit():
                rest = f[3]  # "%F %n": the type may hold spaces ("regular file"); the name is what we asked
                for p in sorted(paths, key=len, reverse=True):
                    if rest.endswith(" " + p):
                        out[p] = {"size": int(f[0]), "mtime": int(f[1]), "type": (f[2] + " " + rest[: -len(p) - 1]).strip()}
                        break
        return out

    def disk(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> tuple[int, int]:
        """(total, available) bytes of the filesystem holding path (df -P -B1); AccessError when unknown."""
        r = self.run(["df", "-P", "-B1", "--", path], timeout)
        lines = r.text.strip().splitlines()
        f = lines[-1].split() if r.rc == 0 and len(lines) >= 2 else []
        if len(f) < 4 or not f[1].isdigit() or not f[3].isdigit():
            raise AccessError(f"df {path} on {self.name}: {_last(r.stderr.decode('utf-8', 'replace').strip()) or 'no answer'}")
        return int(f[1]), int(f[3])

    def stat(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any] | None:
        """size, mtime and type of a path (following links), or None when it does not exist."""
        r = self.run(["stat", "-L", "-c", "%s %Y %F", "--", path], timeout)
        if r.rc != 0:
            err = r.stderr.decode("utf-8", "replace")
            if "No such file" in err:
                return None
            raise AccessError(f"{self.name}: cannot stat {path}: {_last(err.strip())}")
        size, mtime, kind = r.text.strip().split(" ", 2)
        return {"size": int(size), "mtime": int(mtime), "type": kind}

    def listdir(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
        r = self.run(["find", path, "-mindepth", "1", "-maxdepth", "1", "-printf", "%f\\0"], timeout)
        if r.rc != 0:
            err = r.stderr.decode("utf-8", "replace").strip()
            raise AccessError(f"{self.name}: cannot list {path}: {_last(err)}", missing="No such file" in err)
        return sorted(x for x in r.stdout.decode("utf-8", "replace").split("\0") if x)

    def realpath(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """The path with its links resolved (missing parts kept as written), as the host sees it."""
        r = self.run(["realpath", "-m", "--", path], timeout)
        return r.text.rstrip("\n") if r.rc == 0 and r.stdout.strip() else os.path.normpath(path)

    def which(self, word: str, timeout: float = DEFAULT_TIMEOUT) -> str | None:
        """The executable a command word runs on the host (PATH of its login), or None."""
        if "/" in word:
            return word if self.run(["test", "-f", word, "-a", "-x", word], timeout).rc == 0 else None
        r = self.run(["sh", "-c", 'command -v -- "$1"', "sh", word], timeout)
        found = r.text.strip()
        return found if r.rc == 0 and found.startswith("/") else None

    def resolve(self, name: str, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
        """The addresses a host name has for the host (its own resolver: getent)."""
        r = self.run(["getent", "ahosts", name], timeout)
        return sorted({line.split()[0] for line in r.text.splitlines() if line.strip()}) if r.rc == 0 else []

    def mem_available(self, timeout: float = DEFAULT_TIMEOUT) -> int | None:
        """MemAvailable of the host in bytes (None when unknown)."""
        text = (self.read_many(["/proc/meminfo"], timeout)["/proc/meminfo"] or b"").decode("ascii", "replace")
        return parse_meminfo(text).get("MemAvailable")

    def listen_table(self, timeout: float = DEFAULT_TIMEOUT) -> dict[str, tuple[str, int]]:
        """inode -> (address, port) of every listening TCP socket on the host: from `ss -ltne` (netlink),
        else from /proc/net/tcp and tcp6 (which some kernels, and sandboxes, are slow to write)."""
        r = self.run(["ss", "-H", "-l", "-t", "-n", "-e"], timeout)
        if r.rc == 0:
            out = {}
            for line in r.text.splitlines():
                f = line.split()
                ino = next((w[4:] for w in f if w.startswith("ino:")), "")
                if len(f) >= 4 and f[0] == "LISTEN" and ino.isdigit() and ":" in f[3]:
                    addr, _, port = f[3].rpartition(":")
                    addr = addr.strip("[]").split("%")[0]
                    if port.isdigit():
                        out[ino] = ({"*": "0.0.0.0"}.get(addr, addr), int(port))
            if out:  # none at all is a netlink view that shows nothing (a restricted container): ask /proc
                return out
        files = self.read_many(["/proc/net/tcp", "/proc/net/tcp6"], timeout)
        return parse_listen_tables(files["/proc/net/tcp"], files["/proc/net/tcp6"])

    def proc(self, pid: int, timeout: float = DEFAULT_TIMEOUT, extra: tuple[str, ...] = ()) -> dict[str, Any] | None:
        """A process's facts from /proc: cmdline, cwd, its listening TCP ports (and the host's, in
        host_listening), its cgroup; None when there is no such process. A value it may not read
        (another user's cwd) is left out. The files of `extra` are read in the same call (in "files")."""
        files = self.read_many([f"/proc/{pid}/cmdline", f"/proc/{pid}/cgroup", f"/proc/{pid}/status", *extra], timeout)
        cmdline = files[f"/proc/{pid}/cmdline"]
        if cmdline is None:
            return None
        out: dict[str, Any] = {"pid": pid, "cmdline": [a.decode("utf-8", "replace") for a in cmdline.rstrip(b"\n").split(b"\0") if a]}
        if files[f"/proc/{pid}/cgroup"] is not None:
            out["cgroup"] = files[f"/proc/{pid}/cgroup"].decode("utf-8", "replace")
        if files[f"/proc/{pid}/status"] is not None:
            out["status"] = files[f"/proc/{pid}/status"].decode("utf-8", "replace")
        # its working directory and its socket fds, in one listing ("%p %l": the link and what it points to)
        r = self.run(["find", f"/proc/{pid}/cwd", f"/proc/{pid}/fd", "-maxdepth", "1", "-printf", "%p %l\\n"], timeout)
        inodes = set()
        for line in r.text.splitlines():
            path, _, link = line.partition(" ")
            if path == f"/proc/{pid}/cwd" and link:
                out["cwd"] = link
            elif link.startswith("socket:["):
                inodes.add(link[8:-1])
        listen = self.listen_table(timeout)
        out["listening"] = sorted(p for inode, p in listen.items() if inode in inodes)
        out["host_listening"] = sorted(set(listen.values()))
        out["files"] = {p: files[p] for p in extra}
        return out

    def forward_unix(self, remote: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """A path on this machine that reaches the unix socket `remote` of the host."""
        return remote

    def cancel_forward(self, local: str) -> None:
        pass

    def close(self) -> None:
        pass


@functools.lru_cache(maxsize=256)  # a host's thousand listeners share a handful of addresses
def _addr(hexaddr: str, v6: bool, kernel_order: bool = True) -> str:
    """An address as /proc writes it: in 32-bit words of host byte order (net/tcp), or in network
    order (if_inet6)."""
    import ipaddress

    raw = bytes.fromhex(hexaddr)
    if not v6:
        return str(ipaddress.IPv4Address(raw[::-1]))
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)) if kernel_order else raw
    return str(ipaddress.IPv6Address(words))


def parse_listen_tables(tcp: bytes | None, tcp6: bytes | None) -> dict[str, tuple[str, int]]:
    """inode -> (address, port) of every listening TCP socket, from the text of /proc/net/tcp and tcp6."""
    out = {}
    for raw, v6 in ((tcp, False), (tcp6, True)):
        if raw is None:
            continue
        for line in raw.decode("ascii", "replace").splitlines()[1:]:
            f = line.split()
            if len(f) > 9 and f[3] == "0A":  # LISTEN
                addr, port = f[1].split(":")
                out[f[9]] = (_addr(addr, v6), int(port, 16))
    return out


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo's values, in bytes where it counts in kB."""
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        parts = v.split()
        if parts and parts[0].isdigit():
            out[k] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return out


ADDRESS_FILES = ("/proc/net/fib_trie", "/proc/net/if_inet6")


def parse_addresses(files: dict[str, bytes | None]) -> set[str]:
    """The host's own IP addresses from ADDRESS_FILES: the /32 host LOCAL routes, and the IPv6 addresses."""
    out: set[str] = set()
    last = ""
    for line in (files.get(ADDRESS_FILES[0]) or b"").decode("ascii", "replace").splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] in ("|--", "+--"):
            last = f[1].split("/")[0]
        elif "/32 host LOCAL" in line and last:
            out.add(last)
    for line in (files.get(ADDRESS_FILES[1]) or b"").decode("ascii", "replace").splitlines():
        f = line.split()
        if f and len(f[0]) == 32:
            out.add(_addr(f[0], True, kernel_order=False))
    return out


def _kind(mode: int, size: int) -> str:
    """The file type as GNU stat's %F names it."""
    import stat as st

    if st.S_ISREG(mode):
        return "regular file" if size else "regular empty file"
    for test, name in ((st.S_ISDIR, "directory"), (st.S_ISLNK, "symbolic link"), (st.S_ISSOCK, "socket"),
                       (st.S_ISFIFO, "fifo"), (st.S_ISCHR, "character special file"), (st.S_ISBLK, "block special file")):
        if test(mode):
            return name
    return "weird file"


def is_dir(st: dict[str, Any] | None) -> bool:
    return bool(st) and st["type"] == "directory"


def is_file(st: dict[str, Any] | None) -> bool:
    return bool(st) and st["type"] in ("regular file", "regular empty file")


def _last(text: str) -> str:
    lines = [x for x in text.splitlines() if x.strip()]
    return lines[-1] if lines else ""


class Local(Access):
    name = host = "this machine"
    local = True

    def read_many(self, paths: list[str], timeout: float = DEFAULT_TIMEOUT) -> dict[str, bytes | None]:
        out: dict[str, bytes | None] = {}
        for p in paths:
            try:
                with open(p, "rb") as f:
                    out[p] = f.read(READ_LIMIT)
            except OSError:
                out[p] = None
        return out

    # the same answers as the commands of the base class would give, without a process each
    def read(self, path: str, limit: int = READ_LIMIT, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        try:
            with open(path, "rb") as f:
                return f.read(limit)
        except OSError as e:
            raise AccessError(f"cannot read {path}: {e.strerror}", missing=isinstance(e, FileNotFoundError)) from None

    def tail(self, path: str, nbytes: int, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        try:
            with open(path, "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - nbytes))
                return f.read(nbytes)
        except OSError as e:
            raise AccessError(f"cannot read {path}: {e.strerror}", missing=isinstance(e, FileNotFoundError)) from None

    def stat(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any] | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        except OSError as e:
            if e.errno == errno.ENOTDIR:
                return None
            raise AccessError(f"cannot stat {path}: {e.strerror}") from None
        return {"size": st.st_size, "mtime": int(st.st_mtime), "type": _kind(st.st_mode, st.st_size)}

    def stat_many(self, paths: list[str], timeout: float = DEFAULT_TIMEOUT) -> dict[str, dict[str, Any] | None]:
        out: dict[str, dict[str, Any] | None] = {}
        for p in paths:
            try:
                out[p] = self.stat(p)
            except AccessError:
                out[p] = None
        return out

    def listdir(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
        try:
            return sorted(os.listdir(path))
        except OSError as e:
            raise AccessError(f"cannot list {path}: {e.strerror}", missing=isinstance(e, FileNotFoundError)) from None

    def realpath(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        return os.path.realpath(path)

    def which(self, word: str, timeout: float = DEFAULT_TIMEOUT) -> str | None:
        if "/" in word:
            return word if os.path.isfile(word) and os.access(word, os.X_OK) else None
        return shutil.which(word)

    def resolve(self, name: str, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
        import socket

        try:
            return sorted({ai[4][0] for ai in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)})
        except OSError:
            return []

    def run(self, argv: list[str], timeout: float = DEFAULT_TIMEOUT) -> Ran:
        try:
            p = procs.run(argv, timeout)
        except FileNotFoundError:
            return Ran(127, b"", f"{argv[0]}: command not found".encode())
        except subprocess.TimeoutExpired:
            raise AccessError(f"{shlex.join(argv[:3])} did not finish within {timeout:g} s") from None
        return Ran(p.returncode, p.stdout, p.stderr)


_SSH_REAPED = False


def _reap_ssh_dirs() -> list[str]:
    """The control dirs of runbooks that were killed: their masters are told to exit (ssh -O exit on each
    socket), the dirs removed. Once per process, before its first connection."""
    global _SSH_REAPED
    if _SSH_REAPED:
        return []
    _SSH_REAPED = True
    removed = []
    for d in procs.stale_dirs(os.path.join(tempfile.gettempdir(), "runbook-ssh-*")):
        for name in os.listdir(d):
            path = os.path.join(d, name)
            if not name.startswith("fwd-") and stat.S_ISSOCK(os.lstat(path).st_mode):
                try:
                    procs.run(["ssh", "-o", f"ControlPath={path}", "-O", "exit", "runbook-stale"], 5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed


_DEST = re.compile(r"^(?:(?P<user>[^@\s/:]+)@)?(?P<host>\[[^\]]+\]|[^@\s/:\[\]]+)(?::(?P<port>\d{1,5}))?$")


def parse_dest(text: str) -> tuple[str, str, int | None]:
    """"[user@]host[:port]" (or ssh://[user@]host[:port]) -> (user, host, port)."""
    t = text[6:] if text.startswith("ssh://") else text
    m = _DEST.match(t.rstrip("/"))
    if not m or m["host"].startswith("-"):
        raise ValueError(f"expected [user@]host[:port] for ssh, got {text!r}")
    return m["user"] or "", m["host"].strip("[]"), int(m["port"]) if m["port"] else None


@dataclass
class Ssh(Access):
    """A host over the system ssh client, multiplexed: the first call opens a master connection
    (ControlMaster in a private directory), every later call reuses it."""

    dest: str
    options: tuple[str, ...] = ()
    connect_timeout: float = 10.0
    local = False
    _dir: str = field(default="", repr=False)
    _owned: int = field(default=-1, repr=False)  # the lock on _dir's owner file (procs.mark_owned)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _open: bool = field(default=False, repr=False)
    _run_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _sh: Any = field(default=None, repr=False)
    _buf: bytes = field(default=b"", repr=False)
    _forwards: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.user, self.host, self.port = parse_dest(self.dest)
        for o in self.options:
            if "=" not in o or o.startswith("-"):
                raise ValueError(f"an ssh option is Key=Value, got {o!r}")
        self.name = f"ssh {self.dest}"

    def _base(self) -> list[str]:
        if not self._dir:
            _reap_ssh_dirs()
            self._dir = tempfile.mkdtemp(prefix="runbook-ssh-")  # 0700: only this user reaches the socket
            self._owned = procs.mark_owned(self._dir)  # held while this connection is ours: see _reap_ssh_dirs
            atexit.register(self.close)
        argv = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={int(self.connect_timeout)}",
                "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=2",
                "-o", f"ControlPath={self._dir}/%C"]
        secret = [o for o in self.options if mask_ssh_option(o) != o]
        if secret:  # never on an argv (ps shows it to every user): in a config file of the private dir
            conf = os.path.join(self._dir, "options.conf")
            if not os.path.exists(conf):
                fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    # the first value ssh obtains wins: these, then the configs ssh reads without -F
                    f.write("".join(" ".join(o.split("=", 1)) + "\n" for o in secret)
                            + "Include ~/.ssh/config\nInclude /etc/ssh/ssh_config\n")
            argv += ["-F", conf]
        for o in self.options:
            if o not in secret:
                argv += ["-o", o]
        if self.port:
            argv += ["-p", str(self.port)]
        if self.user:
            argv += ["-l", self.user]
        return argv

    def _master(self, timeout: float) -> None:
        """Open the shared connection once (authentication and host key checks happen here, with ssh's
        own messages). Its stderr goes to a file: the master lives on and would hold a pipe open."""
        with self._lock:
            if self._open:
                return
            base = self._base()
            try:  # a master that is still there (after an error of one session) is used again
                if procs.run([*base, "-O", "check", "--", self.host], 5).returncode == 0:
                    self._open = True
                    return
            except subprocess.TimeoutExpired:
                pass
            err = os.path.join(self._dir, "master.err")
            with open(err, "wb") as ef:
                try:
                    p = procs.run([*base, "-M", "-N", "-f", "-o", "ControlPersist=300", "--", self.host],
                                  max(timeout, self.connect_timeout + 2), stdout=subprocess.DEVNULL, stderr=ef)
                except subprocess.TimeoutExpired:
                    raise AccessError(f"{self.name}: no connection within {max(timeout, self.connect_timeout + 2):g} s") from None
            if p.returncode != 0:
                with open(err, "rb") as ef:
                    msg = ef.read().decode("utf-8", "replace").strip()
                raise AccessError(f"{self.name}: {msg or f'ssh exited {p.returncode}'}")
            self._open = True

    def run(self, argv: list[str], timeout: float = DEFAULT_TIMEOUT) -> Ran:
        """The command runs in one long-lived remote `sh` per host (the login shell and its rc files start
        once, not per command). Its output goes to files first (nothing it leaves running can write into
        the stream), then comes back framed by a marker that is new for every call, so any bytes come
        back intact; an empty file costs no `cat`. A command that does not finish in time ends that shell
        (the next call starts another)."""
        if not shutil.which("ssh"):
            raise AccessError("ssh is not installed on this machine")
        with self._run_lock:
            deadline = time.monotonic() + timeout
            sh = self._shell(timeout)
            mark = "@@" + secrets.token_hex(12)
            # stdin from /dev/null: the command must never read the stream that carries the next ones
            script = (f'{shlex.join(argv)} </dev/null >"$T/o" 2>"$T/e"; r=$?; [ -s "$T/o" ] && cat "$T/o"; '
                      f'printf "\\n{mark} %d\\n" "$r"; [ -s "$T/e" ] && cat "$T/e"; printf "\\n{mark}\\n"\n')
            try:
                sh.stdin.write(script.encode())
                sh.stdin.flush()
                out = self._until(sh, f"\n{mark} ".encode(), deadline)
                rc = self._line(sh, deadline)
                err = self._until(sh, f"\n{mark}\n".encode(), deadline)
            except (OSError, ValueError, AccessError) as e:
                self._end_shell()
                if isinstance(e, _Timeout):
                    raise AccessError(f"{self.name}: {shlex.join(argv[:3])} did not finish within {timeout:g} s") from None
                raise AccessError(f"{self.name}: {e if isinstance(e, AccessError) else 'connection lost'}") from None
            if not rc.lstrip(b"-").isdigit():
                self._end_shell()
                raise AccessError(f"{self.name}: the remote shell answered {rc[:80]!r}")
            return Ran(int(rc), out, err)

    def _shell(self, timeout: float) -> subprocess.Popen:
        if self._sh is not None and self._sh.poll() is None:
            return self._sh
        self._master(timeout)
        self._buf = b""
        sh = procs.popen([*self._base(), "-o", "ControlMaster=no", "--", self.host, "sh"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._sh = sh
        try:
            sh.stdin.write(b'T=$(mktemp -d) || exit 1; trap \'rm -rf "$T"\' EXIT; echo "@@ready"\n')
            sh.stdin.flush()
            if self._line(sh, time.monotonic() + max(timeout, self.connect_timeout)) != b"@@ready":
                raise AccessError(f"{self.name}: the remote shell did not start")
        except (OSError, AccessError) as e:
            self._end_shell()
            raise AccessError(f"{self.name}: {e if isinstance(e, AccessError) else 'connection lost'}") from None
        return sh

    def _fill(self, sh: subprocess.Popen, deadline: float) -> None:
        import select

        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sh.stdout], [], [], left)[0]:
            raise _Timeout(f"{self.name}: no answer in time")
        chunk = os.read(sh.stdout.fileno(), 1 << 20)
        if not chunk:
            raise AccessError("connection lost")
        self._buf += chunk

    def _line(self, sh: subprocess.Popen, deadline: float) -> bytes:
        while b"\n" not in self._buf:
            self._fill(sh, deadline)
        line, self._buf = self._buf.split(b"\n", 1)
        return line.strip()

    def _until(self, sh: subprocess.Popen, marker: bytes, deadline: float) -> bytes:
        """The bytes before marker (which is consumed)."""
        start = 0
        while (i := self._buf.find(marker, start)) < 0:
            start = max(0, len(self._buf) - len(marker))
            self._fill(sh, deadline)
        out, self._buf = self._buf[:i], self._buf[i + len(marker):]
        return out

    def watch(self, script: str, *args: str, timeout: float = DEFAULT_TIMEOUT) -> subprocess.Popen:
        """`sh -c SCRIPT sh ARGS...` on the host, in a channel of its own whose stdin stays open for as long
        as the returned process's does: the script reads it to its end, and that end comes when runbook
        closes it, when runbook dies (the kernel closes it), or when the connection goes."""
        self._master(timeout)
        return subprocess.Popen([*self._base(), "-o", "ControlMaster=no", "--", self.host,
                                 shlex.join(["sh", "-c", script, "sh", *args])],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)

    def forward_unix(self, remote: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Forward a unix socket of the host to one in the private control directory, over the shared
        connection (ssh -O forward -L LOCAL:REMOTE)."""
        self._master(timeout)
        local = os.path.join(self._dir, f"fwd-{len(self._forwards)}-{os.getpid()}.sock")
        try:
            p = procs.run([*self._base(), "-O", "forward", "-L", f"{local}:{remote}", "--", self.host], timeout)
        except subprocess.TimeoutExpired:
            raise AccessError(f"{self.name}: forwarding {remote} did not finish within {timeout:g} s") from None
        if p.returncode != 0:
            raise AccessError(f"{self.name}: cannot forward {remote}: "
                              f"{_last(p.stderr.decode('utf-8', 'replace')) or f'ssh exited {p.returncode}'}")
        self._forwards[local] = remote
        return local

    def cancel_forward(self, local: str) -> None:
        remote = self._forwards.pop(local, None)
        if remote is None:
            return
        try:
            procs.run([*self._base(), "-O", "cancel", "-L", f"{local}:{remote}", "--", self.host], 5)
        except (subprocess.TimeoutExpired, OSError):
            pass
        try:
            os.unlink(local)
        except OSError:
            pass

    def _end_shell(self) -> None:
        sh, self._sh, self._buf = self._sh, None, b""
        if sh is not None:
            procs._kill(sh)
            try:
                sh.wait(5)
            except subprocess.TimeoutExpired:
                pass
            self._drop()  # a master that lost its session may be gone too: check it afresh next time

    def _drop(self) -> None:
        """Close the shared connection (ssh -O exit); the next call opens a new one."""
        with self._lock:
            if self._open and self._dir:
                try:
                    procs.run([*self._base(), "-O", "exit", "--", self.host], 5)
                except (subprocess.TimeoutExpired, OSError):
                    pass
            self._open = False

    def close(self) -> None:
        sh, self._sh = self._sh, None
        if sh is not None:
            try:
                sh.stdin.close()  # the remote shell ends and removes its temp dir
                sh.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                procs._kill(sh)
        self._drop()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = ""
            procs.release(self._owned)


class Memo:
    """The reads of one look at a host: the same realpath, which, resolve, stat or read asked twice is
    answered once. Made for one restart simulation and dropped with it; everything else goes straight
    to the access it wraps."""

    def __init__(self, acc: Access) -> None:
        self.acc = acc
        self._seen: dict[tuple[Any, ...], Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.acc, name)

    def _once(self, key: tuple[Any, ...], fn: Any) -> Any:
        if key not in self._seen:
            self._seen[key] = fn()
        return self._seen[key]

    def read(self, path: str, limit: int = READ_LIMIT, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        return self._once(("read", path, limit), lambda: self.acc.read(path, limit, timeout))

    def stat(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any] | None:
        return self._once(("stat", path), lambda: self.acc.stat(path, timeout))

    def stat_many(self, paths: list[str], timeout: float = DEFAULT_TIMEOUT) -> dict[str, dict[str, Any] | None]:
        missing = [p for p in dict.fromkeys(paths) if ("stat", p) not in self._seen]
        for p, st in (self.acc.stat_many(missing, timeout) if missing else {}).items():
            self._seen[("stat", p)] = st
        return {p: self._seen[("stat", p)] for p in paths}

    def realpath(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        return self._once(("realpath", path), lambda: self.acc.realpath(path, timeout))

    def realpath_many(self, paths: list[str], timeout: float = DEFAULT_TIMEOUT) -> None:
        """Resolve several paths in one call (a host over ssh), ready for realpath()."""
        missing = [p for p in dict.fromkeys(paths) if p and "\n" not in p and ("realpath", p) not in self._seen]
        if len(missing) < 2 or self.acc.local:
            return
        r = self.acc.run(["realpath", "-m", "--", *missing], timeout)
        lines = r.text.split("\n")[:-1]
        if r.rc == 0 and len(lines) == len(missing):
            self._seen.update({("realpath", p): real for p, real in zip(missing, lines)})

    def which(self, word: str, timeout: float = DEFAULT_TIMEOUT) -> str | None:
        return self._once(("which", word), lambda: self.acc.which(word, timeout))

    def which_many(self, words: list[str], timeout: float = DEFAULT_TIMEOUT) -> None:
        """Look up several command words in one call (a host over ssh), ready for which()."""
        missing = [w for w in dict.fromkeys(words) if w and "/" not in w and "\n" not in w
                   and ("which", w) not in self._seen]
        if len(missing) < 2 or self.acc.local:
            return
        r = self.acc.run(["sh", "-c", 'for w; do command -v -- "$w" || echo; done', "sh", *missing], timeout)
        lines = r.text.split("\n")[:-1]
        if len(lines) == len(missing):
            self._seen.update({("which", w): (p if p.startswith("/") else None) for w, p in zip(missing, lines)})

    def resolve(self, name: str, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
        return self._once(("resolve", name), lambda: self.acc.resolve(name, timeout))


LOCAL = Local()
_ssh: dict[tuple[str, tuple[str, ...]], Ssh] = {}
_ssh_lock = threading.Lock()


def ssh(dest: str, options: tuple[str, ...] = ()) -> Ssh:
    """One Ssh per host and options for the whole process: one connection per host, reused."""
    key = (dest, tuple(options))
    with _ssh_lock:
        if key not in _ssh:
            _ssh[key] = Ssh(dest, tuple(options))
        return _ssh[key]


def for_target(target: Any) -> Access | None:
    """The access to a target's host: its ssh, or this machine for a target that is here, or None for
    a host runbook cannot reach (an address elsewhere, no ssh given)."""
    dest = getattr(target, "ssh", "") or ""
    if dest:
        return ssh(dest, tuple(getattr(target, "ssh_options", ()) or ()))
    return LOCAL
