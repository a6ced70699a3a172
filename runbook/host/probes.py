"""Host probes: read-only facts about this machine."""

from __future__ import annotations

import os
import shutil
import socket
import time
from typing import Any

from runbook import catalog
from runbook.findings import Finding
from runbook.targets import Target


class NotThisHost(Exception):
    pass


def require_local(target: Target) -> None:
    """Host probes and actions read and act on this machine only: a target that names another host
    fails, and is never read here in its place."""
    url = target.url
    name = url[5:] if url.startswith("host:") else url
    if name in ("local", "localhost", "127.0.0.1", "::1", ""):
        return
    me = {socket.gethostname(), socket.getfqdn()}
    if name in me or name.split(".")[0] == socket.gethostname().split(".")[0]:
        return
    raise NotThisHost(f"{target.name} is {name}, not this machine ({socket.gethostname()}): runbook reads and acts "
                      "on other hosts only through remote access, which this target does not have; nothing was "
                      "read here in its place")


def basic(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    import psutil

    require_local(target)
    load1, load5, load15 = os.getloadavg()
    mem = psutil.virtual_memory()
    return {
        "hostname": socket.gethostname(),
        "cpus": os.cpu_count() or 1,
        "load1": round(load1, 2),
        "load5": round(load5, 2),
        "load15": round(load15, 2),
        "mem_total_bytes": mem.total,
        "mem_available_bytes": mem.available,
        "mem_used_pct": round(mem.percent, 1),
        "uptime_s": int(time.time() - psutil.boot_time()),
    }


def assess_basic(facts: dict[str, Any]) -> list[Finding]:
    if "load5" in facts and facts["load5"] > facts.get("cpus", 1):
        return [catalog.make("host.load.high", {"load5": facts["load5"], "cpus": facts["cpus"]})]
    return []


def disk(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    require_local(target)
    path = str(params.get("path") or "/")
    usage = shutil.disk_usage(path)
    return {
        "disk_path": path,
        "disk_total_bytes": usage.total,
        "disk_free_bytes": usage.free,
        "disk_used_pct": round(100.0 * (usage.total - usage.free) / usage.total, 1) if usage.total else 0.0,
        "disk_full_pct": float(params.get("full_pct", 90)),
    }


def assess_disk(facts: dict[str, Any]) -> list[Finding]:
    if "disk_used_pct" in facts and facts["disk_used_pct"] >= facts.get("disk_full_pct", 90):
        return [catalog.make("host.disk.full", {k: facts[k] for k in ("disk_path", "disk_used_pct", "disk_free_bytes")})]
    return []


def guard_reachable(facts: dict[str, Any], params: dict[str, Any]) -> tuple[bool, dict[str, Any], str]:
    ok = bool(facts.get("hostname"))
    return ok, {"hostname": facts.get("hostname")}, "" if ok else "the host could not be read"


def file(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    """A file's state: a maintenance flag, a lock, a pid file. Reads at most 4 KiB of it."""
    require_local(target)
    path = str(params.get("path") or "")
    if not path:
        raise ValueError("host.file needs params.path")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {"file_path": path, "file_exists": False, "file_size_bytes": 0, "file_content": ""}
    content = ""
    if os.path.isfile(path):
        with open(path, "rb") as f:
            content = f.read(4096).decode("utf-8", "replace").strip()
    return {"file_path": path, "file_exists": True, "file_size_bytes": st.st_size, "file_content": content}


def assess_none(facts: dict[str, Any]) -> list[Finding]:
    return []
