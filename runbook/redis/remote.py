"""A Redis whose host runbook reaches over ssh (runbook.access): the host facts, the log and the files a
restart reads, read there. What it proves is less than on this machine: it reads the config file a restart
reads (includes too) and lists the data directory, which names the AOF trap and a data directory that is
gone; it does not start a copy of the server there, so the restart itself stays unproven and the restart
guard blocks, saying so."""

from __future__ import annotations

import os
import re
import shlex
from typing import Any

from runbook.secrets import mask_text

NOT_SIMULATED = ("over ssh runbook read the config file a restart reads and listed the data directory, but it "
                 "does not start a copy of the server on that host: what a restart would load, and whether it "
                 "would come up writable at the same address, are not proven")


def host_facts(acc: Any, info: dict[str, Any], config: dict[str, Any] | None) -> dict[str, Any]:
    """What the host says of the server, over ssh: is its process there, listening on its port; its
    working directory, the kernel settings a fork depends on, free disk, memory, its swap."""
    from runbook.access import AccessError

    out: dict[str, Any] = {"local": False, "remote": acc.name}
    pid, port = info.get("process_id"), info.get("tcp_port")
    try:
        proc = acc.proc(int(pid)) if isinstance(pid, int) else None
    except AccessError as e:
        out["error"] = str(e)
        return out
    if proc is None or not any("redis" in a for a in proc["cmdline"][:1]):
        out["on_host"] = False
        out["error"] = f"no redis-server with pid {pid} on {acc.name}: is it the right host?"
        return out
    listening = [tuple(x) for x in proc.get("listening") or []]
    out["on_host"] = not port or any(p == port for _, p in listening)
    out["pid"] = pid
    out["listening"] = [f"{ip}:{p}" for ip, p in listening]
    out["cwd"] = proc.get("cwd")
    files = {k: (v or b"").decode("utf-8", "replace").strip() for k, v in acc.read_many(
        ["/proc/sys/vm/overcommit_memory", "/sys/kernel/mm/transparent_hugepage/enabled", "/proc/meminfo"]).items()}
    oc = files["/proc/sys/vm/overcommit_memory"]
    out["overcommit_memory"] = int(oc) if oc.isdigit() else None
    thp = files["/sys/kernel/mm/transparent_hugepage/enabled"]
    if thp:
        out["transparent_hugepages"] = thp[thp.find("[") + 1: thp.find("]")] if "[" in thp else thp
    data_dir = (config or {}).get("dir") or out.get("cwd")
    if data_dir:
        try:
            out["disk_total_bytes"], out["disk_free_bytes"] = acc.disk(data_dir)
        except AccessError as e:
            out["disk_error"] = str(e)
    m = re.search(r"MemTotal:\s+(\d+) kB", files["/proc/meminfo"])
    out["mem_total_bytes"] = int(m[1]) * 1024 if m else None
    m = re.search(r"VmSwap:\s+(\d+) kB", proc.get("status") or "")
    out["swap_bytes"] = int(m[1]) * 1024 if m else None
    return out


def log_facts(acc: Any, config: dict[str, Any] | None, cwd: str | None) -> dict[str, Any]:
    from runbook.redis.logfile import LOG_TAIL_BYTES, count_log_lines

    logfile = (config or {}).get("logfile") or ""
    if not logfile:
        return {"readable": False, "reason": "logs go to stdout or syslog"}
    path = logfile if os.path.isabs(logfile) else os.path.join(cwd or "/", logfile)
    try:
        tail = acc.tail(path, LOG_TAIL_BYTES).decode("utf-8", "replace").splitlines()
    except Exception as e:  # noqa: BLE001 - an AccessError
        return {"readable": False, "path": path, "reason": str(e)}
    return {"readable": True, "path": path, "via": acc.name, **count_log_lines(tail)}


def _config_file(restart_command: tuple[str, ...], declared: str, running: str) -> tuple[str, str]:
    if declared:
        return declared, "the inventory's config"
    for arg in restart_command[1:]:
        if not arg.startswith("-") and arg.endswith(".conf"):
            return arg, "the declared restart command"
    return running, "the running server's config_file"


def restart_preview(acc: Any, facts: dict[str, Any], *, restart_command: tuple[str, ...] = (), declared_config: str = "",
                    restart_cwd: str = "", shutdown: str = "default", **_: Any) -> dict[str, Any]:
    """The files a restart would read on the remote host: always unproven (no copy is started there)."""
    from runbook.redis.config import flatten
    from runbook.redis.info import keyspace

    info = facts.get("info") or {}
    host = facts.get("host") or {}
    running = str(info.get("config_file") or "")
    out: dict[str, Any] = {"keys_live": sum(keyspace(info).values()), "running_config_file": running, "local": False,
                           "remote": acc.name, "unproven": [NOT_SIMULATED], "shutdown": shutdown, "loads": "unknown",
                           "writable": None, "tiers": {}}
    if host.get("error") or not host.get("on_host"):
        out["unproven"].append(host.get("error") or f"the server's pid does not listen on its port on {acc.name}")
        return out
    config_file, source = _config_file(restart_command, declared_config, running)
    cwd = restart_cwd or host.get("cwd") or "/"
    out.update(config_file=config_file, config_source=source, cwd=cwd)
    if not config_file:
        out["unproven"].append("the server runs without a config file: nothing says what a restart reads")
        return out
    fc = flatten(config_file, cwd, acc=acc)
    out["files"] = fc.files
    if fc.problems:
        out["unproven"] += [mask_text(p) for p in fc.problems]
    if not fc.files:
        return out
    s = fc.settings()
    appendonly = s.get("appendonly", "no")
    data_dir = fc.dir
    out.update(appendonly=appendonly, dir=data_dir)
    dbfilename = s.get("dbfilename", "dump.rdb")
    rdb_path = os.path.join(data_dir, dbfilename)
    aof_dir = os.path.join(data_dir, s.get("appenddirname", "appendonlydir"))
    name = s.get("appendfilename", "appendonly.aof")
    manifest = os.path.join(aof_dir, name + ".manifest")
    legacy = os.path.join(data_dir, name)
    stats = acc.stat_many([rdb_path, aof_dir, manifest, legacy])  # one call for the four
    st = stats[rdb_path]
    out["rdb"] = {"path": rdb_path, "exists": st is not None, "size_bytes": (st or {}).get("size")}
    if appendonly == "yes":
        aof = {"dir": aof_dir, "manifest": manifest, "dir_exists": stats[aof_dir] is not None,
               "manifest_exists": stats[manifest] is not None, "legacy_file": legacy if stats[legacy] else None}
        out["aof"] = aof
        out["loads"], out["path"] = "aof", manifest
        if not aof["manifest_exists"] and not aof["legacy_file"]:
            out["loads"], out["path"], out["starts_empty"] = "nothing", aof_dir, True
    else:
        out["loads"], out["path"] = ("rdb", rdb_path) if st is not None else ("nothing", rdb_path)
        out["starts_empty"] = st is None
    out["restart_command"] = shlex.join(restart_command) if restart_command else ""
    return out
