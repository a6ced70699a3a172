"""A throwaway redis-server that starts the way a restart would, on private copies of the data.

It gets the restart's own binary, config file and options, in the restart's working directory,
so redis-server itself resolves includes (globs, relative paths, a `dir` that moves what follows).
One include file of ours comes last and makes it harmless: no TCP port (`port 0`), a unix socket,
its data dir and log in our temp dir, a master that is a port we hold closed (a replicaof line of the
file would otherwise start a SYNC), no pidfile, no daemon. It is included by a path relative to the
data dir we expect, so it starts only when redis-server's reading of `dir` agrees with ours.

What it cannot be given without harm:
- the file's `logfile` lines: redis-server opens that file while it reads the config (and writes its
  errors there). The main file is copied with those lines blanked; an include that sets a log file is
  reported by the caller.
- module code: the caller starts it only with the engineer's consent when a module file exists.
Killed by its process group, always; everything it writes is in its temp dir.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook import procs
from runbook.redis.info import keyspace, pairs_to_dict, parse_info

_LOGFILE_LINE = re.compile(rb"^[ \t]*logfile([ \t].*)?$", re.IGNORECASE | re.MULTILINE)
PROBE_KEY = "runbook:restart-simulation:write-probe"


@dataclass
class Outcome:
    started: bool = False
    reason: str = ""  # why it did not start, from its own output
    dir_confirmed: bool = False
    config: dict[str, str] | None = None
    config_error: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)  # db -> keys after loading
    auth_ok: bool | None = None  # the restart's server accepts our credentials
    write: str = ""  # "ok" or the error a write got
    keys_after_write: int | None = None
    log: list[str] = field(default_factory=list)
    load_s: float = 0.0
    timed_out: bool = False
    cannot_read: str = ""  # a file the throwaway needed could not be read or copied by us


def _neutralised_copy(conf: str, dest: Path) -> None:
    data = Path(conf).read_bytes()
    dest.write_bytes(_LOGFILE_LINE.sub(b'logfile ""', data))


def _startup_reason(text: str) -> str:
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    for i, line in enumerate(lines):
        if "FATAL CONFIG FILE ERROR" in line:
            return " ".join(lines[i : i + 4])[-500:]
    keep = [x for x in lines if " # " in x or "FATAL" in x or "Fatal" in x or "rror" in x]
    keep = [x for x in keep if "Memory overcommit" not in x and "WARNING" not in x]
    line = keep[-1] if keep else (lines[-1] if lines else "no output")
    # "1234:M 26 Nov 2026 23:48:30.325 # reason" -> "reason"
    m = re.match(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [#*.-] (.*)$", line)
    return (m[1] if m else line)[-500:]


def run(binary: str, config_file: str, options: list[str], cwd: str, expected_dir: str, data: list[tuple[str, str]],
        *, password: str | None, username: str | None, config_command: str = "CONFIG", timeout: float = 10.0,
        load_timeout: float = 30.0, confirm_dir: bool = True, admin_password: str | None = None) -> Outcome:
    """Start the throwaway and read it. data: (source path, name under the data dir) to copy first.
    With confirm_dir, our include is named relative to expected_dir: redis-server finds it only
    from there, and dir_confirmed says whether it did."""
    import redis as redis_py

    out = Outcome()
    tmp = Path(tempfile.mkdtemp(prefix="rb-sim-", dir="/tmp" if os.path.isdir("/tmp") else None))
    hold = socket.socket()
    proc: subprocess.Popen[bytes] | None = None
    try:
        hold.bind(("127.0.0.1", 0))  # bound, never listening: a connection to it is refused
        dead_port = hold.getsockname()[1]
        datadir = tmp / "data"
        datadir.mkdir()
        main = ""
        try:
            for src, name in data:
                dst = datadir / name
                if os.path.isdir(src):
                    shutil.copytree(src, dst, symlinks=False)
                else:
                    shutil.copyfile(src, dst)  # a copy, never a link: an AOF is appended in place
            if config_file:
                if os.path.isfile(config_file):
                    main = str(tmp / "main.conf")
                    _neutralised_copy(config_file, Path(main))
                else:
                    main = config_file  # let redis-server say it cannot open it
        except (OSError, shutil.Error) as e:
            out.cannot_read = f"{getattr(e, 'filename', '') or ''}: {getattr(e, 'strerror', None) or e}".lstrip(": ")
            return out
        sock = tmp / "s.sock"
        ours = tmp / "ours.conf"
        ours.write_text("\n".join([
            "port 0", "tls-port 0", f'unixsocket "{sock}"', "unixsocketperm 700", f'dir "{datadir}"',
            f'logfile "{tmp / "server.log"}"', f'pidfile "{tmp / "server.pid"}"', "daemonize no", "supervised no",
            "syslog-enabled no", f"replicaof 127.0.0.1 {dead_port}", f'cluster-config-file "{tmp / "nodes.conf"}"',
        ]) + "\n")
        rel = os.path.relpath(ours, os.path.realpath(expected_dir)) if confirm_dir else str(ours)
        argv = [binary, *([main] if main else []), *options, "--include", rel]
        t0 = time.monotonic()
        proc = procs.popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        client = None
        deadline = t0 + timeout
        while True:
            if proc.poll() is not None:
                text = (proc.stdout.read() if proc.stdout else b"").decode("utf-8", "replace")
                text += _read(tmp / "server.log")
                out.log = text.splitlines()[-40:]
                out.reason = _startup_reason(text)
                out.dir_confirmed = not ("can't open config file" in text and f"'{rel}'" in text)
                return out
            if time.monotonic() > deadline:
                out.timed_out = True
                out.reason = f"did not finish starting and loading in {deadline - t0:.0f} s"
                out.log = _read(tmp / "server.log").splitlines()[-40:]
                return out
            if sock.exists():
                if client is None:
                    client = _client(sock, None, None, timeout)
                try:
                    if parse_info(client.execute_command("INFO", "persistence")).get("loading") == 0:
                        break
                    deadline = max(deadline, t0 + load_timeout)
                except redis_py.exceptions.BusyLoadingError:
                    deadline = max(deadline, t0 + load_timeout)
                except redis_py.exceptions.AuthenticationError:
                    break  # a password is set: read it below with credentials
                except redis_py.exceptions.ResponseError as e:
                    if "NOAUTH" in str(e) or "NOPERM" in str(e):
                        break
                except redis_py.exceptions.ConnectionError:
                    pass
            time.sleep(0.01)
        out.started = True
        out.dir_confirmed = True
        out.load_s = round(time.monotonic() - t0, 3)
        if client is not None:
            client.close()
        _read_it(out, sock, password, username, config_command, timeout, admin_password)
        out.log = _read(tmp / "server.log").splitlines()[-40:]
        return out
    finally:
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait(timeout=10)
            if proc.stdout:
                proc.stdout.close()
        hold.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _client(sock: Path, user: str | None, password: str | None, timeout: float) -> Any:
    """A client on the throwaway's socket whose INFO replies stay raw (parse_info reads them)."""
    import redis as redis_py

    c = redis_py.Redis(unix_socket_path=str(sock), username=user, password=password, socket_timeout=timeout,
                       socket_connect_timeout=timeout, driver_info=None, protocol=2)
    c.set_response_callback("INFO", lambda r, **kw: r)
    return c


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _read_it(out: Outcome, sock: Path, password: str | None, username: str | None, config_command: str,
             timeout: float, admin_password: str | None) -> None:
    """Read the started throwaway: as the default user without a password first; with ours when it asks."""
    import redis as redis_py

    c = _client(sock, username, password, timeout)
    try:
        try:
            c.execute_command("PING")
            out.auth_ok = True
        except (redis_py.exceptions.AuthenticationError, redis_py.exceptions.ResponseError) as e:
            msg = str(e)
            if "NOAUTH" in msg or "WRONGPASS" in msg or "invalid" in msg.lower() or "AUTH" in msg:
                out.auth_ok = False
                return
            raise
        out.info = parse_info(c.execute_command("INFO", "all"))
        out.keys = keyspace(out.info)
        if config_command:
            try:
                out.config = pairs_to_dict(c.execute_command(config_command, "GET", "*"))
            except redis_py.exceptions.ResponseError as e:
                out.config_error = str(e)
    except redis_py.exceptions.RedisError as e:
        out.config_error = out.config_error or f"reading the throwaway failed: {e}"
    finally:
        c.close()
    _write(out, sock, admin_password, timeout)


def _write(out: Outcome, sock: Path, admin_password: str | None, timeout: float) -> None:
    """On this private copy, as its default user: the way back from the replicaof we gave it, then one
    SET. A refusal for lack of rights says nothing about the server: the write is then left untested."""
    import redis as redis_py

    c = _client(sock, None, admin_password or None, timeout)
    try:
        try:
            c.execute_command("REPLICAOF", "NO", "ONE")
        except redis_py.exceptions.ResponseError:
            pass
        try:
            c.execute_command("SET", PROBE_KEY, "1")
            out.write = "ok"
        except redis_py.exceptions.ResponseError as e:
            msg = str(e)
            out.write = "" if msg.startswith(("NOPERM", "NOAUTH", "WRONGPASS")) or "unknown command" in msg else msg
        keys = sum(keyspace(parse_info(c.execute_command("INFO", "keyspace"))).values())
        out.keys_after_write = keys - (1 if out.write == "ok" else 0)
    except redis_py.exceptions.RedisError:
        out.write = ""
    finally:
        c.close()
