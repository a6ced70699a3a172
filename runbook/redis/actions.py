"""Redis actions: the only Redis code that changes anything. Each has describe() (the exact
command, shown in dry-run) and run()."""

from __future__ import annotations

import shlex
import subprocess
import time
from typing import Any

from runbook.secrets import mask_url
from runbook.targets import Target


def _client(target: Target, timeout: float) -> Any:
    from runbook.redis.connect import sync_client

    return sync_client(target.url, timeout)


def _wait_ping(target: Target, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            c = _client(target, 1.0)
            try:
                if c.ping():
                    return True
            finally:
                c.close()
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.2)
    return False


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


class Restart:
    @staticmethod
    def argv(target: Target) -> list[str]:
        if target.restart_command:
            return list(target.restart_command)
        if target.restart_unit:
            return ["systemctl", "restart", target.restart_unit]
        raise ValueError(f"target {target.name} declares no restart command or systemd unit (inventory: restart)")

    @staticmethod
    def describe(target: Target, params: dict[str, Any]) -> str:
        return shlex.join(Restart.argv(target))

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        argv = Restart.argv(target)
        if target.restart_command:
            # a command that starts redis-server in the foreground must not tie us to it
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            time.sleep(0.2)
            if proc.poll() not in (None, 0):
                return {"ok": False, "error": f"restart command exited {proc.returncode}"}
        else:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
            if p.returncode != 0:
                return {"ok": False, "error": p.stderr.strip()[-500:] or f"exit {p.returncode}"}
        up = _wait_ping(target, timeout)
        return {"ok": up, "answers_ping": up, **({} if up else {"error": "the server does not answer after the restart"})}


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
        return {"ok": not _wait_ping(target, 1.0), "mode": mode}


class ConfigSet:
    @staticmethod
    def _nv(params: dict[str, Any]) -> tuple[str, str]:
        name, value = params.get("name"), params.get("value")
        if not isinstance(name, str) or not name or value is None:
            raise ValueError("redis.config_set needs params.name and params.value")
        return name, str(value)

    @staticmethod
    def describe(target: Target, params: dict[str, Any]) -> str:
        name, value = ConfigSet._nv(params)
        return f"CONFIG SET {name} {shlex.quote(value)}; CONFIG REWRITE {_on(target)}"

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        name, value = ConfigSet._nv(params)

        def go(c: Any) -> dict[str, Any]:
            c.config_set(name, value)
            c.config_rewrite()
            return {"now": c.config_get(name)}

        return _call(target, timeout, go)


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
            return {"ok": True, "aof_enabled": c.info("persistence").get("aof_enabled")}
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

        return _call(target, timeout, go)


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
        return _call(target, timeout, lambda c: c.execute_command(*Failover.args(params)) and None)


class Bgsave:
    @staticmethod
    def describe(target: Target, params: dict[str, Any]) -> str:
        return f"BGSAVE {_on(target)}"

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        return _call(target, timeout, lambda c: c.bgsave() and None)
