"""Host probes: read-only facts about this machine."""

from __future__ import annotations

import socket
import time
from typing import Any

from runbook import catalog
from runbook.access import parse_meminfo
from runbook.findings import Finding
from runbook.targets import Target


class NotThisHost(Exception):
    pass


def host_access(target: Target) -> Any:
    """How this host target is reached: over its ssh, or this machine. A target that names another
    host with no ssh is refused: nothing is ever read here in its place."""
    from runbook.access import LOCAL, for_target

    if target.ssh:
        return for_target(target)
    url = target.url
    name = url[5:] if url.startswith("host:") else url
    if name in ("local", "localhost", "127.0.0.1", "::1", ""):
        return LOCAL
    me = {socket.gethostname(), socket.getfqdn()}
    if name in me or name.split(".")[0] == socket.gethostname().split(".")[0]:
        return LOCAL
    raise NotThisHost(f"{target.name} is {name}, not this machine ({socket.gethostname()}): give it as "
                      f"ssh://[user@]{name} (or ssh: in the inventory) to reach it over ssh; nothing was read "
                      "here in its place")


def require_local(target: Target) -> None:
    """For what only runs on this machine: a target reached over ssh, or named elsewhere, is refused."""
    if host_access(target).local is False:
        raise NotThisHost(f"{target.name} is reached over ssh: this runs on this machine only")


def _text(acc: Any, path: str, timeout: float) -> str:
    return acc.read(path, 1 << 20, timeout).decode("utf-8", "replace")


def basic(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    acc = host_access(target)
    f = {k: (v or b"").decode("utf-8", "replace") for k, v in acc.read_many(
        ["/proc/loadavg", "/proc/meminfo", "/proc/cpuinfo", "/proc/sys/kernel/hostname", "/proc/uptime"], timeout).items()}
    if not f["/proc/loadavg"] or not f["/proc/meminfo"]:
        raise ValueError(f"cannot read /proc on {acc.name}")
    load1, load5, load15 = (float(x) for x in f["/proc/loadavg"].split()[:3])
    mi = parse_meminfo(f["/proc/meminfo"])
    cpus = sum(1 for line in f["/proc/cpuinfo"].splitlines() if line.startswith("processor"))
    total, avail = mi.get("MemTotal", 0), mi.get("MemAvailable", 0)
    return {
        "hostname": f["/proc/sys/kernel/hostname"].strip(),
        "cpus": cpus or 1,
        "load1": round(load1, 2),
        "load5": round(load5, 2),
        "load15": round(load15, 2),
        "mem_total_bytes": total,
        "mem_available_bytes": avail,
        "mem_used_pct": round(100.0 * (total - avail) / total, 1) if total else 0.0,
        "uptime_s": int(float(f["/proc/uptime"].split()[0])) if f["/proc/uptime"] else None,
        "via": acc.name,
    }


def assess_basic(facts: dict[str, Any]) -> list[Finding]:
    if "load5" in facts and facts["load5"] > facts.get("cpus", 1):
        return [catalog.make("host.load.high", {"load5": facts["load5"], "cpus": facts["cpus"]})]
    return []


def disk(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    acc = host_access(target)
    path = str(params.get("path") or "/")
    total, avail = acc.disk(path, timeout)
    return {
        "disk_path": path,
        "disk_total_bytes": total,
        "disk_free_bytes": avail,
        "disk_used_pct": round(100.0 * (total - avail) / total, 1) if total else 0.0,
        "disk_full_pct": float(params.get("full_pct", 90)),
        "via": acc.name,
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
    acc = host_access(target)
    path = str(params.get("path") or "")
    if not path:
        raise ValueError("host.file needs params.path")
    st = acc.stat(path, timeout)
    if st is None:
        return {"file_path": path, "file_exists": False, "file_size_bytes": 0, "file_content": ""}
    content = ""
    if st["type"].startswith("regular"):
        content = acc.read(path, 4096, timeout).decode("utf-8", "replace").strip()
    return {"file_path": path, "file_exists": True, "file_size_bytes": st["size"], "file_content": content}


def assess_none(facts: dict[str, Any]) -> list[Finding]:
    return []


def _vmstat(acc: Any, timeout: float, *keys: str, text: str | None = None) -> dict[str, int]:
    out = {}
    for line in (text if text is not None else _text(acc, "/proc/vmstat", timeout)).splitlines():
        k, _, v = line.partition(" ")
        if k in keys:
            out[k] = int(v)
    return out


def _pressure(text: str) -> dict[str, float] | None:
    """/proc/pressure/memory: the share of time some (or all) tasks waited for memory, last 10 s."""
    if not text:
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
    acc = host_access(target)
    interval = float(params.get("interval_s", 1.0))
    a = _vmstat(acc, timeout, "pswpin", "pswpout")
    t0 = time.monotonic()
    time.sleep(interval)
    now = {k: (v or b"").decode("ascii", "replace") for k, v in acc.read_many(
        ["/proc/vmstat", "/proc/meminfo", "/proc/pressure/memory"], timeout).items()}
    b = _vmstat(acc, timeout, "pswpin", "pswpout", text=now["/proc/vmstat"])
    dt = time.monotonic() - t0
    mi = parse_meminfo(now["/proc/meminfo"])
    pg = acc.run(["getconf", "PAGESIZE"], timeout).text.strip()  # pswpin/pswpout count pages
    page = int(pg) if pg.isdigit() else 4096
    top = []
    ps = acc.run(["ps", "-eo", "pid=,rss=,comm=", "--sort=-rss"], timeout)
    for line in ps.text.splitlines()[:5]:
        f = line.split(None, 2)
        if len(f) == 3 and f[0].isdigit() and f[1].isdigit():
            top.append((int(f[1]) * 1024, int(f[0]), f[2]))
    total, avail = mi.get("MemTotal", 0), mi.get("MemAvailable", 0)
    return {
        "mem_total_bytes": total, "mem_available_bytes": avail,
        "mem_available_pct": round(100 * avail / total, 1) if total else None,
        "swap_total_bytes": mi.get("SwapTotal", 0), "swap_used_bytes": mi.get("SwapTotal", 0) - mi.get("SwapFree", 0),
        "swap_in_per_s": round((b.get("pswpin", 0) - a.get("pswpin", 0)) * page / dt),
        "swap_out_per_s": round((b.get("pswpout", 0) - a.get("pswpout", 0)) * page / dt),
        "pressure": _pressure(now["/proc/pressure/memory"]), "interval_s": round(dt, 2), "via": acc.name,
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
