"""A throwaway redis-server that starts the way a restart would, on private copies of the data.

It gets the restart's own binary, config file and options, in the restart's working directory,
so redis-server itself resolves includes (globs, relative paths, a `dir` that moves what follows).
One include file of ours comes last and makes it harmless: no TCP port (`port 0`), a unix socket,
its data dir, log and pidfile in our temp dir, a master at port 0, which refuses every connection (a
replicaof line of the file would otherwise start a SYNC), no daemon. It is included by a path relative
to the data dir we expect, so it starts only when redis-server's reading of `dir` agrees with ours.

What it cannot be given without harm:
- the file's `logfile` lines: redis-server opens that file while it reads the config (and writes its
  errors there). The main file is copied with those lines blanked; an include that sets a log file is
  reported by the caller.
- module code: the caller starts it only with the engineer's consent when a module file exists.
Killed by its process group, always; everything it writes is in its temp dir. It runs on the server's
host: this machine (a child process), or over ssh (started there by one command under setsid, read
through its socket forwarded by the ssh connection).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook import procs
from runbook.access import LOCAL, AccessError, is_file
from runbook.redis.connect import no_retry
from runbook.redis.info import keyspace, pairs_to_dict, parse_info

_LOGFILE_LINE = re.compile(rb"^[ \t]*logfile([ \t].*)?$", re.IGNORECASE | re.MULTILINE)
# a rename of CONFIG in the main file would hide the copy's settings: its copy keeps CONFIG (proofs.py)
_RENAME_CONFIG = re.compile(rb"^[ \t]*rename-command[ \t]+[\"']?config[\"']?([ \t].*)?$", re.IGNORECASE | re.MULTILINE)


def copy_main(text: bytes) -> bytes:
    """The main config file as the copy reads it: logfile lines blanked, a rename of CONFIG dropped."""
    return _RENAME_CONFIG.sub(b"", _LOGFILE_LINE.sub(b'logfile ""', text))
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
    commands: dict[str, str] | None = None  # name asked -> the command it runs there ("" when none)


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


_PREFIX = "rb-sim-"
_REAPED = False


def _tmp_root() -> str | None:
    return "/tmp" if os.path.isdir("/tmp") else None


def _reap_once() -> None:
    global _REAPED
    if not _REAPED:
        _REAPED = True
        reap()


def reap(root: str | None = None) -> list[str]:
    """Remove the temp dirs of copies whose runbook is gone (killed before it could clean up); the copy
    itself died with its runbook (parent-death signal), and one still running from such a dir is stopped
    first. Returns the dirs removed."""
    import psutil

    removed = []
    for d in procs.stale_dirs(os.path.join(root or _tmp_root() or tempfile.gettempdir(), _PREFIX + "*")):
        try:
            pid = int(Path(d, "server.pid").read_text().split()[0])
            p = psutil.Process(pid)
            if p.cwd() == d or any(a.startswith(d) for a in p.cmdline()):
                p.kill()
        except (OSError, ValueError, IndexError, psutil.Error):
            pass
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed


class _Here:
    """The throwaway on this machine: a child process in its own process group."""

    def __init__(self, acc: Any) -> None:
        _reap_once()
        self.tmp = tempfile.mkdtemp(prefix=_PREFIX, dir=_tmp_root())
        self._owned = procs.mark_owned(self.tmp)  # held while this copy is ours: see reap
        self.proc: subprocess.Popen[bytes] | None = None

    def launch(self, data: list[tuple[str, str]], config_file: str, main: str, ours_lines: list[str],
               argv: list[str], cwd: str, as_ids: tuple[int, int, list[int]] | None = None) -> None:
        """Copy the data (a copy, never a link: an AOF is appended in place) and the config file to main
        with its logfile lines blanked; write our include; start redis-server (as as_ids: uid, gid,
        groups, the restart's user, when that is not us; its temp dir is then handed to that user)."""
        datadir = os.path.join(self.tmp, "data")
        os.mkdir(datadir)
        for src, name in data:
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(datadir, name), symlinks=False)
            else:
                shutil.copyfile(src, os.path.join(datadir, name))
        Path(self.tmp, "ours.conf").write_text("\n".join(ours_lines) + "\n")
        if main != config_file:
            Path(main).write_bytes(copy_main(Path(config_file).read_bytes()))
        with open(os.path.join(self.tmp, "out.log"), "wb") as log:
            kw: dict[str, Any] = {}
            if as_ids:
                uid, gid, groups = as_ids
                for root, dirs, files in os.walk(self.tmp):
                    for n in [root, *(os.path.join(root, x) for x in dirs + files)]:
                        os.chown(n, uid, gid)
                kw = {"user": uid, "group": gid, "extra_groups": groups}
            # the kernel kills the copy when runbook dies (even by SIGKILL): setpriv sets its parent-death
            # signal and runs redis-server in its place
            pdeath = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []
            self.proc = procs.popen([*pdeath, *argv], cwd=cwd, stdout=log, stderr=subprocess.STDOUT, **kw)

    def wait(self, sock: str) -> str:
        """'exited', 'socket' (it listens on its socket) or 'starting'."""
        if self.proc is None or self.proc.poll() is not None:
            return "exited"
        if os.path.exists(sock):
            return "socket"
        time.sleep(0.01)
        return "starting"

    def client_path(self, sock: str) -> str:
        return sock

    def read(self, name: str) -> str:
        return _read(Path(self.tmp) / name)

    def cleanup(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)
        procs.release(self._owned)


# Over ssh the whole launch is one command in the host's shell. The script is a constant; every path and
# word is an argument: the temp dir, the start's directory, the config file to copy (or ""), the number of
# (source, name) data pairs and the pairs, the number of lines of our include and the lines, then the argv.
_LAUNCH = """t=$1 cwd=$2 conf=$3 ids=$4 n=$5; shift 5
mkdir -m 700 -- "$t" || exit 94
mkdir -- "$t/data" || exit 95
while [ "$n" -gt 0 ]; do cp -RL -- "$1" "$t/data/$2" || exit 96; shift 2; n=$((n-1)); done
n=$1; shift
while [ "$n" -gt 0 ]; do printf '%s\\n' "$1" >>"$t/ours.conf" || exit 95; shift; n=$((n-1)); done
if [ -n "$conf" ]; then
  sed -e 's/^[[:blank:]]*[Ll][Oo][Gg][Ff][Ii][Ll][Ee]\\([[:blank:]].*\\)\\{0,1\\}$/logfile ""/' \\
      -e '/^[[:blank:]]*[Rr][Ee][Nn][Aa][Mm][Ee]-[Cc][Oo][Mm][Mm][Aa][Nn][Dd][[:blank:]][[:blank:]]*["'"'"']\\{0,1\\}[Cc][Oo][Nn][Ff][Ii][Gg]["'"'"']\\{0,1\\}\\([[:blank:]].*\\)\\{0,1\\}$/d' \\
      -- "$conf" >"$t/main.conf" || exit 96
fi
cd -- "$cwd" || exit 97
if [ -n "$ids" ]; then
  set -- $ids "$@"; u=$1 g=$2 gs=$3; shift 3
  chown -R "$u:$g" -- "$t" || exit 95
  if [ "$gs" = - ]; then set -- setpriv --reuid="$u" --regid="$g" --clear-groups "$@"
  else set -- setpriv --reuid="$u" --regid="$g" --groups="$gs" "$@"; fi
fi
setsid "$@" </dev/null >"$t/out.log" 2>&1 & echo $!"""
_WAIT = ('n=0; while kill -0 "$1" 2>/dev/null; do [ -S "$2" ] && { echo socket; exit 0; }; n=$((n+1)); '
         '[ $n -ge 50 ] && { echo starting; exit 0; }; sleep 0.01; done; echo exited')
_END = 'kill -KILL "-$1" 2>/dev/null || kill -KILL "$1" 2>/dev/null; rm -rf -- "$2"'
# Held open by runbook for the copy's life: when its input ends (runbook closed it, died, or lost the
# connection), a copy whose directory is still there was not cleaned up by runbook, and is ended here.
_WATCH = 'cat >/dev/null; [ -d "$2" ] && { kill -KILL "-$1" 2>/dev/null || kill -KILL "$1" 2>/dev/null; rm -rf -- "$2"; }'


class _There:
    """The throwaway on the host of an ssh access: started there with setsid, reached through a unix
    socket that the ssh connection forwards to this machine."""

    def __init__(self, acc: Any) -> None:
        self.acc = acc
        self.tmp = f"/tmp/rb-sim-{secrets.token_hex(8)}"  # made by mkdir, which fails if it is there
        self.made = False
        self.pid = 0
        self.forwarded = ""
        self.watchdog: subprocess.Popen[bytes] | None = None
        self._forward: Any = None  # the forward is set up while the copy starts (ssh connects on use)
        self._forward_error: Exception | None = None

    def _open_forward(self) -> None:
        try:
            self.forwarded = self.acc.forward_unix(f"{self.tmp}/s.sock")
        except AccessError as e:
            self._forward_error = e

    def launch(self, data: list[tuple[str, str]], config_file: str, main: str, ours_lines: list[str],
               argv: list[str], cwd: str, as_ids: tuple[int, int, list[int]] | None = None) -> None:
        import threading

        self._forward = threading.Thread(target=self._open_forward, daemon=True)
        self._forward.start()
        pairs = [x for src, name in data for x in (src, name)]
        conf = config_file if main != config_file else ""
        ids = f"{as_ids[0]} {as_ids[1]} {','.join(map(str, as_ids[2])) or '-'}" if as_ids else ""
        r = self.acc.run(["sh", "-c", _LAUNCH, "sh", self.tmp, cwd, conf, ids, str(len(data)), *pairs,
                          str(len(ours_lines)), *ours_lines, *argv], 60)
        self.made = r.rc != 94  # 94: the temp dir could not be made (so it is not ours to remove)
        said = _last_line(r.stderr)
        if r.rc in (94, 95, 96):
            raise AccessError(said or f"copying the data and config on {self.acc.host} failed")
        if r.rc == 97:
            raise AccessError(f"cannot change to {cwd} on {self.acc.host}: {said}")
        self.pid = int(r.text.strip()) if r.rc == 0 and r.text.strip().isdigit() else 0
        if self.pid:
            try:
                self.watchdog = self.acc.watch(_WATCH, str(self.pid), self.tmp)
            except (OSError, AccessError):
                self.watchdog = None  # the copy is still ended by cleanup(); only a kill of runbook is not covered

    def wait(self, sock: str) -> str:
        if not self.pid:
            return "exited"
        return self.acc.run(["sh", "-c", _WAIT, "sh", str(self.pid), sock]).text.strip() or "starting"

    def client_path(self, sock: str) -> str:
        if self._forward is not None:
            self._forward.join()
        if self._forward_error is not None:
            raise self._forward_error
        return self.forwarded

    def read(self, name: str) -> str:
        try:
            return self.acc.read(f"{self.tmp}/{name}", 1 << 20).decode("utf-8", "replace")
        except AccessError:
            return ""

    def cleanup(self) -> None:
        try:
            if self.pid or self.made:
                self.acc.run(["sh", "-c", _END, "sh", str(self.pid or 0), self.tmp])
        except AccessError:
            pass  # the host is gone: its /tmp keeps a small directory, nothing runs
        if self.watchdog is not None:
            try:
                self.watchdog.stdin.close()
                self.watchdog.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.watchdog.kill()
        if self._forward is not None:
            self._forward.join()
        if self.forwarded:  # off the answer's path: the forward leads nowhere now
            import threading

            threading.Thread(target=self.acc.cancel_forward, args=(self.forwarded,), daemon=True).start()


def _last_line(b: bytes) -> str:
    lines = [x for x in b.decode("utf-8", "replace").splitlines() if x.strip()]
    return lines[-1] if lines else ""


def _conf_quote(v: str) -> str:
    """A value as redis-server's config reader takes it back: double-quoted, with escapes."""
    out = []
    for ch in v:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch < " " or ch == "\x7f":
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _secret_options(options: list[str]) -> tuple[list[str], list[str]]:
    """The options split: those that stay on the copy's argv, and the secret ones (--requirepass VALUE,
    --masterauth VALUE, ...) as config lines, in their order. Later lines win, as later options do."""
    from runbook.secrets import is_secret_flag

    plain: list[str] = []
    lines: list[str] = []
    i = 0
    while i < len(options):
        o = options[i]
        if is_secret_flag(o) and i + 1 < len(options) and not options[i + 1].startswith("--"):
            lines.append(f"{o[2:]} {_conf_quote(options[i + 1])}")
            i += 2
            continue
        plain.append(o)
        i += 1
    return plain, lines


def run(binary: str, config_file: str, options: list[str], cwd: str, expected_dir: str, data: list[tuple[str, str]],
        *, password: str | None, username: str | None, config_command: str = "CONFIG", timeout: float = 10.0,
        load_timeout: float = 30.0, confirm_dir: bool = True, admin_password: str | None = None,
        acc: Any = None, commands: tuple[str, ...] = (), cluster: bool = False, tls: bool = False,
        as_ids: tuple[int, int, list[int]] | None = None) -> Outcome:
    """Start the throwaway on the host of acc (this machine by default) and read it. data: (source path,
    name under the data dir) to copy first. With confirm_dir, our include is named relative to
    expected_dir: redis-server finds it only from there, and dir_confirmed says whether it did.
    commands: names to look up in the copy (COMMAND INFO). cluster: the file turns cluster mode on (the
    copy runs without it: no cluster bus, no gossip). tls: the file uses TLS (the copy loads the
    certificates through tls-replication, with no TLS port). as_ids: (uid, gid, groups) to run it as, the
    restart's own user, so it reads the config, includes, certificates and data with that user's rights."""
    import redis as redis_py

    acc = acc or LOCAL
    out = Outcome()
    box: Any = None
    try:
        box = (_Here if acc.local else _There)(acc)
        tmp = box.tmp
        sock, ours = f"{tmp}/s.sock", f"{tmp}/ours.conf"
        rel = os.path.relpath(ours, acc.realpath(expected_dir)) if confirm_dir else ours
        # a config file that is there is copied with its logfile lines blanked; one that is not is given
        # as it is, for redis-server to say it cannot open it
        main = f"{tmp}/main.conf" if config_file and is_file(acc.stat(config_file)) else config_file
        # a secret option of the restart (--requirepass x) becomes a line of our include: never on an argv
        plain, secret_lines = _secret_options(options)
        argv = [binary, *([main] if main else []), *plain, "--include", rel]
        ours_lines = [*secret_lines,
            "port 0", "tls-port 0", f'unixsocket "{sock}"', "unixsocketperm 700", f'dir "{tmp}/data"',
            f'logfile "{tmp}/server.log"', f'pidfile "{tmp}/server.pid"', "daemonize no", "supervised no",
            # port 0 refuses every connection: a replicaof line of the file would otherwise start a SYNC
            "syslog-enabled no", *(["cluster-enabled no"] if cluster else []), "replicaof 127.0.0.1 0",
            f'cluster-config-file "{tmp}/nodes.conf"', *(["tls-replication yes"] if tls else [])]
        t0 = time.monotonic()
        try:
            box.launch(data, config_file, main, ours_lines, argv, cwd, as_ids)
        except (OSError, shutil.Error, AccessError) as e:
            out.cannot_read = f"{getattr(e, 'filename', '') or ''}: {getattr(e, 'strerror', None) or e}".lstrip(": ")
            return out
        client = None
        deadline = t0 + timeout
        while True:
            state = box.wait(sock)
            if state == "exited":
                text = box.read("out.log") + box.read("server.log")
                out.log = text.splitlines()[-40:]
                out.reason = _startup_reason(text)
                out.dir_confirmed = not ("can't open config file" in text and f"'{rel}'" in text)
                return out
            if time.monotonic() > deadline:
                out.timed_out = True
                out.reason = f"did not finish starting and loading in {deadline - t0:.0f} s"
                out.log = box.read("server.log").splitlines()[-40:]
                return out
            if state == "socket":
                if client is None:
                    client = _client(box.client_path(sock), None, None, timeout)
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
        out.started = True
        out.dir_confirmed = True
        out.load_s = round(time.monotonic() - t0, 3)
        if client is not None:
            client.close()
        _read_it(out, box.client_path(sock), password, username, config_command, timeout, admin_password, commands)
        out.log = box.read("server.log").splitlines()[-40:]
        return out
    except AccessError as e:
        out.cannot_read = str(e)
        return out
    finally:
        if box is not None:
            box.cleanup()


def _client(sock: str, user: str | None, password: str | None, timeout: float) -> Any:
    """A client on the throwaway's socket whose INFO replies stay raw (parse_info reads them)."""
    import redis as redis_py

    c = redis_py.Redis(unix_socket_path=str(sock), username=user, password=password, socket_timeout=timeout,
                       socket_connect_timeout=timeout, driver_info=None, protocol=2, retry=no_retry())
    c.set_response_callback("INFO", lambda r, **kw: r)
    return c


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _read_it(out: Outcome, sock: str, password: str | None, username: str | None, config_command: str,
             timeout: float, admin_password: str | None, commands: tuple[str, ...] = ()) -> None:
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
    if commands:
        out.commands = command_names(sock, admin_password, timeout, commands)
    _write(out, sock, admin_password, timeout)


def command_names(sock: str, password: str | None, timeout: float, names: tuple[str, ...]) -> dict[str, str] | None:
    """COMMAND INFO on the copy, as its default user: name -> the command that name runs ("" for none)."""
    import redis as redis_py

    c = _client(sock, None, password or None, timeout)
    c.set_response_callback("COMMAND", lambda r, **kw: r)
    try:
        return commands_from_reply(names, c.execute_command("COMMAND", "INFO", *names))
    except redis_py.exceptions.RedisError:
        return None
    finally:
        c.close()


def commands_from_reply(names: tuple[str, ...] | list[str], reply: Any) -> dict[str, str] | None:
    """COMMAND INFO's reply (one entry or nil per name asked) -> name -> the command's own name."""
    if not isinstance(reply, list) or len(reply) != len(names):
        return None
    out = {}
    for name, entry in zip(names, reply):
        first = entry[0] if isinstance(entry, list) and entry else b""
        out[name] = (first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first or "")).lower()
    return out


def _write(out: Outcome, sock: str, admin_password: str | None, timeout: float) -> None:
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
