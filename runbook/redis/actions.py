"""Redis actions: the only Redis code that changes anything. Each has describe() (the exact
command, shown in dry-run) and run()."""

from __future__ import annotations

import shlex
import subprocess
import time
from typing import Any

from runbook.expect import expect
from runbook.secrets import MASK, is_secret_key, mask_url
from runbook.text import human_bytes, plural
from runbook.targets import Target


def _client(target: Target, timeout: float) -> Any:
    from runbook.redis.connect import sync_client

    return sync_client(target.url, timeout)


def _call(target: Target, timeout: float, fn: Any) -> dict[str, Any]:
    """Run fn(client) on one connection; any error is the action's failed result."""
    c = _client(target, timeout)
    try:
        return {"ok": True, **(fn(c) or {})}
    except Exception as e:  # noqa: BLE001 - reported in the journal as the outcome
        return {"ok": False, "error": str(e)}
    finally:
        c.close()


def _on(target: Target) -> str:
    return f"on {mask_url(target.url)}"



SHUTDOWN_ARGS = {"default": [], "save": ["SAVE"], "nosave": ["NOSAVE"]}


def _shutdown_mode(params: dict[str, Any]) -> str:
    mode = str(params.get("shutdown") or "default")
    if mode not in SHUTDOWN_ARGS:
        raise ValueError("redis.restart params.shutdown is default, save or nosave")
    return mode


# Over ssh the start is one command in the host's shell: the script is a constant, the directory, the log
# and the command's words are its arguments. setsid: the server outlives the ssh session.
_START_THERE = 'cd -- "$1" || exit 97; log=$2; shift 2; setsid "$@" </dev/null >>"$log" 2>&1 & echo $!'


class Restart:
    """Stop (SHUTDOWN in the stated mode; wait until the process has exited and its port is free), start
    (the declared command, detached, in its working directory, output kept in a log; or
    `systemctl restart UNIT`) on the server's host: this machine, or the target's ssh host. Then prove
    it: a new run_id at the same address, loading finished, the same role and at least the keys it held
    just before the stop."""

    @staticmethod
    def _start_argv(target: Target) -> list[str]:
        if target.restart_command:
            return list(target.restart_command)
        if target.restart_unit:
            return ["systemctl", "restart", target.restart_unit]
        raise ValueError(f"target {target.name} has no restart command or systemd unit: runbook does not guess how "
                         f"this server is started. Bind it with an inventory (-i FILE) that says so: targets: "
                         f"{target.name}: {{url: ..., restart: {{command: [redis-server, /etc/redis/redis.conf]}}}} "
                         f"or restart: {{unit: redis-server}}")

    @staticmethod
    def describe(target: Target, params: dict[str, Any]) -> str:
        start = shlex.join(Restart._start_argv(target)) + (f" on {target.ssh} over ssh" if target.ssh else "")
        if target.restart_unit:
            return f"{start}; then expect a new run_id, its role and its keys {_on(target)}"
        stop = " ".join(["SHUTDOWN", *SHUTDOWN_ARGS[_shutdown_mode(params)]])
        where = f" (in {target.restart_cwd})" if target.restart_cwd else ""
        return (f"{stop} {_on(target)}; wait for the process to exit; {start}{where}; "
                "then expect a new run_id, its role and its keys")

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        import redis

        from runbook.access import AccessError, for_target

        from runbook.engine.runner import progress

        mode = _shutdown_mode(params)
        argv = Restart._start_argv(target)
        wait_s = float(params.get("wait_s", 120))
        acc = for_target(target)
        c = _client(target, timeout)
        try:
            before = c.info()
        except redis.exceptions.RedisError as e:
            c.close()
            return {"ok": False, "error": f"cannot read the server before the stop: {e}"}
        old = {"pid": before.get("process_id"), "run_id": before.get("run_id"), "role": before.get("role"),
               "keys": _keys(before)}
        try:
            host = _host_of(acc, before)  # is that pid really the server, on its host?
            if not host.get("local" if acc.local else "on_host"):
                old["pid"] = None
            from runbook.redis.preview import launch_dir

            # the same directory the restart simulation started its copy in
            running_cwd = str(host.get("cwd") or "/").removesuffix(" (deleted)")
            cwd = target.restart_cwd or launch_dir(running_cwd, target.config or str(before.get("config_file") or ""),
                                                   acc)[0]
        except AccessError as e:
            c.close()
            return {"ok": False, "error": f"cannot read the server's host before the stop, nothing was done: {e}"}
        out: dict[str, Any] = {"ok": False, "shutdown": mode, "old_pid": old["pid"], "old_run_id": old["run_id"],
                               "keys_before": old["keys"]}
        if not acc.local:
            out["host"] = acc.host
        started: Any = None
        if target.restart_unit:
            c.close()
            try:
                p = acc.run(argv, wait_s)
            except AccessError as e:
                out["error"] = str(e)
                return out
            if p.rc != 0:
                out["error"] = (p.stderr.decode("utf-8", "replace").strip() or p.text.strip())[-500:] \
                    or f"{argv[0]} exited {p.rc}"
                return out
        else:
            try:
                c.execute_command("SHUTDOWN", *SHUTDOWN_ARGS[mode])
                out["error"] = "the server answered SHUTDOWN and kept running"
                return out
            except redis.exceptions.ConnectionError:
                pass  # it closed the connection: going down
            except redis.exceptions.ResponseError as e:
                out["error"] = f"the stop failed, nothing was started: {e}"
                return out
            finally:
                c.close()
            gone = _wait_exit(old["pid"], target, wait_s, acc)
            if gone:
                out["error"] = gone
                return out
            progress("stopped", f"{target.name} has stopped; starting it: {shlex.join(argv)}")
            try:
                started = _start_here(target, argv, cwd, out) if acc.local else _start_there(acc, target, argv, cwd, out)
            except (OSError, AccessError) as e:
                out["error"] = f"the start command could not run: {getattr(e, 'strerror', None) or e}: {argv[0]}"
                return out
        progress("started", f"{target.name}: the start command ran; waiting for a new server at the address")
        up = _wait_new(target, old["run_id"], started, wait_s)
        out.update(up)
        if up.get("error"):
            out["error"] += _tail(acc, out.get("start_output"))
            return expect(out, "a new run_id at the address", False, up["error"])
        out["ok"] = True
        what = f"a new run_id at the address, done loading, a {old['role']} with at least {plural(old['keys'], 'key')}"
        seen = f"run_id {str(up['new_run_id'])[:8]}…, a {up['role']} with {plural(up['keys'], 'key')}"
        return expect(out, what, up["role"] == old["role"] and up["keys"] >= old["keys"], seen)


def _host_of(acc: Any, info: dict[str, Any]) -> dict[str, Any]:
    if acc.local:
        from runbook.redis.hostfacts import host_facts

        return host_facts(info, None)
    from runbook.redis.remote import host_facts as remote_host_facts

    return remote_host_facts(acc, info, None)


def _start_here(target: Target, argv: list[str], cwd: str, out: dict[str, Any]) -> Any:
    """The start on this machine: detached (its own session), its output in the state dir."""
    log = _restart_log(target)
    out["start_output"] = str(log)
    with open(log, "ab") as fh:
        return subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=fh, stderr=fh, start_new_session=True)


class _Started:
    """The start command on the host over ssh. It has exited when its pid is gone; its exit code is not
    known (a daemonizing start exits 0 at once), so only an exit with nothing at the address for a few
    seconds is a failure (see _wait_new)."""

    def __init__(self, acc: Any, pid: int) -> None:
        self.acc, self.pid, self.returncode = acc, pid, None

    def poll(self) -> Any:
        if _alive(self.acc, self.pid) is False:  # None (not known): keep waiting for the address
            self.returncode = "unknown"
        return self.returncode


def _alive(acc: Any, pid: int) -> bool | None:
    """Whether pid runs on the host of acc (not gone, not a zombie); None when the host does not answer."""
    from runbook.access import AccessError

    try:
        stat = acc.read_many([f"/proc/{pid}/stat"], 5)[f"/proc/{pid}/stat"]
    except AccessError:
        return None
    return stat is not None and b") Z " not in stat


def _start_there(acc: Any, target: Target, argv: list[str], cwd: str, out: dict[str, Any]) -> _Started:
    from runbook.access import AccessError

    name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in target.name)
    r = acc.run(["mktemp", "-t", f"runbook-restart-{name}.XXXXXX"])
    log = r.text.strip()
    if r.rc != 0 or not log:
        raise AccessError(f"mktemp on {acc.host}: {r.stderr.decode('utf-8', 'replace').strip() or 'failed'}")
    out["start_output"], out["start_output_host"] = log, acc.host
    r = acc.run(["sh", "-c", _START_THERE, "sh", cwd, log, *argv])
    if r.rc == 97:
        raise AccessError(f"{cwd} does not exist on {acc.host}")
    if r.rc != 0 or not r.text.strip().isdigit():
        raise AccessError(r.stderr.decode("utf-8", "replace").strip() or f"sh exited {r.rc}")
    return _Started(acc, int(r.text.strip()))


def _keys(info: dict[str, Any]) -> int:
    return sum(int(v.get("keys", 0)) for k, v in info.items() if k.startswith("db") and isinstance(v, dict))


def _restart_log(target: Target) -> Any:
    from runbook.journal.store import state_dir

    d = state_dir() / "restarts"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{target.name}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.log"


def _tail(acc: Any, path: str | None, n: int = 6) -> str:
    """The last lines of the start's output, on its host."""
    if not path:
        return ""
    try:
        text = acc.tail(path, 8192).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - the output is a courtesy: its absence loses nothing
        return ""
    lines = [x.rstrip() for x in text.splitlines()[-n:] if x.strip()]
    return (" | start output: " + " / ".join(lines))[-800:] if lines else ""


def _wait_exit(pid: Any, target: Target, wait_s: float, acc: Any) -> str:
    """Wait until the old process has exited on its host (no /proc entry, or a zombie) and its address
    no longer answers."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        alive = pid is not None and _alive(acc, int(pid)) is not False  # unknown counts as alive
        if not alive and not _answers(target):
            return ""
        time.sleep(0.1)
    return f"the old server (pid {pid}) did not exit within {wait_s:g} s; nothing was started"


def _answers(target: Target) -> bool:
    try:
        c = _client(target, 0.5)
        try:
            c.ping()
            return True
        finally:
            c.close()
    except Exception:  # noqa: BLE001 - refused, reset, auth: anything but an answer
        return False


def _wait_new(target: Target, old_run_id: Any, started: Any, wait_s: float) -> dict[str, Any]:
    """A server with a new run_id at the target's address, done loading."""
    import redis

    deadline = time.monotonic() + wait_s
    last = "no answer"
    gone_since = 0.0
    while time.monotonic() < deadline:
        if started is not None and started.poll() not in (None, 0):
            if not isinstance(started, _Started):
                return {"error": f"the start command exited {started.returncode} and nothing answers at the address"}
            gone_since = gone_since or time.monotonic()
            if time.monotonic() - gone_since > 3:  # a daemonizing start has had time to answer
                return {"error": "the start command exited and nothing answers at the address"}
        try:
            c = _client(target, 1.0)
            try:
                info = c.info()
            finally:
                c.close()
            if info.get("run_id") == old_run_id:
                last = "the old server still answers"
            elif info.get("loading"):
                last = "loading"
            else:
                return {"new_pid": info.get("process_id"), "new_run_id": info.get("run_id"), "role": info.get("role"),
                        "keys": _keys(info)}
        except redis.exceptions.BusyLoadingError:
            last = "loading"
        except Exception as e:  # noqa: BLE001 - not up yet
            last = str(e) or type(e).__name__
        time.sleep(0.2)
    return {"error": f"no new server answered at the address within {wait_s:g} s (last: {last})"}


class Shutdown:
    @staticmethod
    def _mode(params: dict[str, Any]) -> str:
        if "save" not in params or not isinstance(params["save"], bool):
            raise ValueError("redis.shutdown needs params.save: true (SHUTDOWN SAVE) or false (SHUTDOWN NOSAVE)")
        return "SAVE" if params["save"] else "NOSAVE"

    @staticmethod
    def describe(target: Target, params: dict[str, Any]) -> str:
        return f"SHUTDOWN {Shutdown._mode(params)} {_on(target)}"

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        import redis

        mode = Shutdown._mode(params)
        c = _client(target, timeout)
        try:
            c.execute_command("SHUTDOWN", mode)
        except redis.exceptions.ConnectionError:
            pass  # the server closed the connection: it is going down
        except redis.exceptions.ResponseError as e:
            return {"ok": False, "error": str(e)}
        finally:
            c.close()
        gone = not _answers(target) or (time.sleep(1.0) or not _answers(target))
        return expect({"ok": True, "mode": mode}, "nothing answers at the address", gone,
                      "no answer" if gone else "the server still answers")


_SIZE_SETTINGS = ("maxmemory", "repl-backlog-size", "client-query-buffer-limit", "proto-max-bulk-len",
                  "active-defrag-ignore-bytes", "auto-aof-rewrite-min-size")


def _sized(name: str, value: object) -> str:
    """A size setting's value as Redis takes it, and for people beside it: '4194304 (4.0 MiB)'."""
    v = str(value)
    if name.lower() in _SIZE_SETTINGS and v.isdigit() and int(v) >= 1024:
        return f"{v} ({human_bytes(int(v))})"
    return v


class ConfigSet:
    @staticmethod
    def _nv(params: dict[str, Any]) -> tuple[str, str]:
        name, value = params.get("name"), params.get("value")
        if not isinstance(name, str) or not name or value is None:
            raise ValueError("redis.config_set needs params.name and params.value")
        return name, str(value)

    @staticmethod
    def secrets(params: dict[str, Any]) -> list[str]:
        """Param values that are secrets: masked in the description, the journal and every output."""
        name, value = params.get("name"), params.get("value")
        return [str(value)] if isinstance(name, str) and is_secret_key(name) and value not in (None, "") else []

    @staticmethod
    def describe(target: Target, params: dict[str, Any]) -> str:
        name, value = ConfigSet._nv(params)
        shown = MASK if ConfigSet.secrets(params) else _sized(name, shlex.quote(value))
        return f"CONFIG SET {name} {shown}; CONFIG REWRITE {_on(target)}"

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        name, value = ConfigSet._nv(params)

        def go(c: Any) -> dict[str, Any]:
            c.config_set(name, value)
            c.config_rewrite()
            return {"now": c.config_get(name)}

        r = _call(target, timeout, go)
        if not r["ok"]:
            return r
        now = (r.get("now") or {}).get(name)
        # the server reports memory in bytes: 64mb reads back as 67108864
        from runbook.redis.config import normalize

        met = now is not None and normalize(str(now)) == normalize(value)
        secret = bool(ConfigSet.secrets(params))
        return expect(r, f"CONFIG GET {name} gives the new value", met,
                      ("the new value" if met else "another value") if secret else now)


class EnableAof:
    @staticmethod
    def describe(target: Target, params: dict[str, Any]) -> str:
        return (f"CONFIG SET appendonly yes; wait until aof_rewrite_in_progress:0 and aof_rewrite_scheduled:0 "
                f"and aof_last_bgrewrite_status:ok; CONFIG REWRITE {_on(target)}")

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        wait_s = float(params.get("wait_s", 300))
        c = _client(target, timeout)
        try:
            c.config_set("appendonly", "yes")
            deadline = time.monotonic() + wait_s
            while True:
                info = c.info("persistence")
                if not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled"):
                    break
                if time.monotonic() > deadline:
                    return {"ok": False, "error": f"the AOF rewrite did not finish in {wait_s:g} s; CONFIG REWRITE not run"}
                time.sleep(0.2)
            if info.get("aof_last_bgrewrite_status") != "ok":
                return {"ok": False, "error": "the AOF rewrite failed; CONFIG REWRITE not run"}
            c.config_rewrite()
            on = c.info("persistence").get("aof_enabled")
            return expect({"ok": True, "aof_enabled": on}, "aof_enabled:1, the rewrite done and the file rewritten",
                          on == 1, f"aof_enabled:{on}")
        except Exception as e:  # noqa: BLE001
            return {"ok": False, "error": str(e)}
        finally:
            c.close()


class Promote:
    @staticmethod
    def describe(target: Target, params: dict[str, Any]) -> str:
        return f"REPLICAOF NO ONE {_on(target)}"

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        def go(c: Any) -> dict[str, Any]:
            c.execute_command("REPLICAOF", "NO", "ONE")
            return {"role": c.info("replication").get("role")}

        r = _call(target, timeout, go)
        return expect(r, "role master", r.get("role") == "master", f"role {r.get('role')}") if r["ok"] else r


class Failover:
    @staticmethod
    def args(params: dict[str, Any]) -> list[str]:
        out = ["FAILOVER"]
        if params.get("host"):
            out += ["TO", str(params["host"]), str(int(params.get("port", 6379)))]
        out += ["TIMEOUT", str(int(params.get("timeout_ms", 5000)))]
        return out

    @staticmethod
    def describe(target: Target, params: dict[str, Any]) -> str:
        return f"{' '.join(Failover.args(params))} {_on(target)}"

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        r = _call(target, timeout, lambda c: c.execute_command(*Failover.args(params)) and None)
        if not r["ok"]:
            return r
        deadline = time.monotonic() + int(params.get("timeout_ms", 5000)) / 1000 + 5
        role = state = None
        while time.monotonic() < deadline:
            info = _call(target, timeout, lambda c: {"info": c.info("replication")}).get("info") or {}
            role, state = info.get("role"), info.get("master_failover_state")
            if role == "slave" and state in (None, "no-failover"):
                break
            time.sleep(0.2)
        return expect(r, "this server became a replica of the new master", role == "slave",
                      f"role {role}, failover state {state}")


class Bgsave:
    @staticmethod
    def describe(target: Target, params: dict[str, Any]) -> str:
        return f"BGSAVE {_on(target)}"

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        def go(c: Any) -> dict[str, Any]:
            before = c.info("persistence")
            c.bgsave()
            deadline = time.monotonic() + float(params.get("wait_s", 300))
            while time.monotonic() < deadline:
                info = c.info("persistence")
                # rdb_saves counts successful saves (7.0); a failed one sets the status to err
                done = (info.get("rdb_saves", 0) != before.get("rdb_saves", 0) or info.get("rdb_last_bgsave_status") == "err"
                        or ("rdb_saves" not in info and info.get("rdb_last_save_time") != before.get("rdb_last_save_time")))
                if not info.get("rdb_bgsave_in_progress") and done:
                    return {"status": info.get("rdb_last_bgsave_status")}
                time.sleep(0.1)
            return {"status": "still running"}

        r = _call(target, timeout, go)
        return expect(r, "the background save finished with rdb_last_bgsave_status:ok", r.get("status") == "ok",
                      f"rdb_last_bgsave_status:{r.get('status')}") if r["ok"] else r


class ClientKill:
    """CLIENT KILL ID of every client connected from params.ip (never a replication link), then prove no
    client of that address is left. The clients are those listed by the redis.client_kill_preview guard,
    read fresh and shown before the confirmation."""

    @staticmethod
    def describe(target: Target, params: dict[str, Any]) -> str:
        if not params.get("ip"):
            raise ValueError("redis.client_kill needs params.ip, the client address whose connections to close")
        return f"CLIENT KILL ID ... for each client from {params['ip']} (not replication links) {_on(target)}"

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        from runbook.redis.clients import is_server_link, parse_client_list

        ip = str(params["ip"])

        def go(c: Any) -> dict[str, Any]:
            me = c.client_id()
            victims = [x for x in parse_client_list(_text(c.execute_command("CLIENT", "LIST")))
                       if x["ip"] == ip and not is_server_link(x) and x["id"] != me]
            killed = sum(int(c.execute_command("CLIENT", "KILL", "ID", x["id"]) or 0) for x in victims)
            time.sleep(0.1)
            left = [x["id"] for x in parse_client_list(_text(c.execute_command("CLIENT", "LIST")))
                    if x["ip"] == ip and not is_server_link(x) and x["id"] != me and x["id"] in {v["id"] for v in victims}]
            return {"killed": killed, "left": left}

        r = _call(target, timeout, go)
        return expect(r, f"none of the clients from {ip} is connected", not r.get("left"),
                      f"{r.get('killed')} closed, {len(r.get('left') or [])} left") if r["ok"] else r


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
