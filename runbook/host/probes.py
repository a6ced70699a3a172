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


def _meminfo() -> dict[str, int]:
    out = {}
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            k, _, v = line.partition(":")
            parts = v.split()
            if parts and parts[0].isdigit():
                out[k] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return out


def _vmstat(*keys: str) -> dict[str, int]:
    out = {}
    with open("/proc/vmstat", encoding="ascii") as f:
        for line in f:
            k, _, v = line.partition(" ")
            if k in keys:
                out[k] = int(v)
    return out


def _pressure() -> dict[str, float] | None:
    """/proc/pressure/memory: the share of time some (or all) tasks waited for memory, last 10 s."""
    try:
        with open("/proc/pressure/memory", encoding="ascii") as f:
            text = f.read()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        kind, *fields = line.split()
        for fld in fields:
            if fld.startswith("avg10="):
                out[f"{kind}_avg10_pct"] = float(fld[6:])
    return out


def memory(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Available memory, swap, the rate of swapping over params.interval_s (default 1), memory pressure,
    and the processes holding the most memory."""
    import psutil

    require_local(target)
    interval = float(params.get("interval_s", 1.0))
    a = _vmstat("pswpin", "pswpout")
    t0 = time.monotonic()
    time.sleep(interval)
    b = _vmstat("pswpin", "pswpout")
    dt = time.monotonic() - t0
    mi = _meminfo()
    page = os.sysconf("SC_PAGE_SIZE")
    top = []
    for p in psutil.process_iter(["pid", "name", "memory_info"]):
        mem = p.info.get("memory_info")
        if mem is not None:
            top.append((mem.rss, p.info["pid"], p.info["name"]))
    top.sort(reverse=True)
    total, avail = mi.get("MemTotal", 0), mi.get("MemAvailable", 0)
    return {
        "mem_total_bytes": total, "mem_available_bytes": avail,
        "mem_available_pct": round(100 * avail / total, 1) if total else None,
        "swap_total_bytes": mi.get("SwapTotal", 0), "swap_used_bytes": mi.get("SwapTotal", 0) - mi.get("SwapFree", 0),
        "swap_in_per_s": round((b.get("pswpin", 0) - a.get("pswpin", 0)) * page / dt),
        "swap_out_per_s": round((b.get("pswpout", 0) - a.get("pswpout", 0)) * page / dt),
        "pressure": _pressure(), "interval_s": round(dt, 2),
        "low_pct": float(params.get("low_pct", 10)),
        "top_rss": [{"pid": pid, "name": name, "rss_bytes": rss} for rss, pid, name in top[:5]],
    }


def assess_memory(facts: dict[str, Any]) -> list[Finding]:
    from runbook.text import human_bytes

    out = []
    top = ", ".join(f"{p['name']} ({p['pid']}) {human_bytes(p['rss_bytes'])}" for p in facts.get("top_rss") or [])
    pct = facts.get("mem_available_pct")
    if pct is not None and pct < facts.get("low_pct", 10):
        out.append(catalog.make("host.memory.low", {
            "available": human_bytes(facts["mem_available_bytes"]), "total": human_bytes(facts["mem_total_bytes"]),
            "available_pct": pct, "threshold_pct": facts.get("low_pct"), "largest_processes": top}))
    pressure = facts.get("pressure") or {}
    swapping = (facts.get("swap_in_per_s") or 0) + (facts.get("swap_out_per_s") or 0)
    if swapping > 0 or pressure.get("full_avg10_pct", 0) >= 10:
        out.append(catalog.make("host.memory.swapping", {
            "swap_in_per_s": human_bytes(facts.get("swap_in_per_s") or 0),
            "swap_out_per_s": human_bytes(facts.get("swap_out_per_s") or 0),
            "swap_used": human_bytes(facts.get("swap_used_bytes") or 0),
            "memory_pressure_full_avg10_pct": pressure.get("full_avg10_pct"), "largest_processes": top}))
    return out
