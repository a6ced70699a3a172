"""A Redis whose host runbook reaches over ssh (runbook.access): the host facts, read there. The log
(logfile.py) and the restart simulation (preview.py) are read there too, given the same access."""

from __future__ import annotations

import re
from typing import Any


HOST_FILES = ("/proc/sys/vm/overcommit_memory", "/sys/kernel/mm/transparent_hugepage/enabled", "/proc/meminfo")


def host_facts(acc: Any, info: dict[str, Any], config: dict[str, Any] | None) -> dict[str, Any]:
    """What the host says of the server, over ssh: is its process there, listening on its port; its
    working directory, the kernel settings a fork depends on, free disk, memory, its swap."""
    from runbook.access import ADDRESS_FILES, AccessError, parse_addresses, parse_meminfo

    out: dict[str, Any] = {"local": False, "remote": acc.name}
    pid, port = info.get("process_id"), info.get("tcp_port")
    try:
        proc = acc.proc(int(pid), extra=(*HOST_FILES, *ADDRESS_FILES)) if isinstance(pid, int) else None
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
    out["listening_pairs"] = [[ip, p] for ip, p in listening]
    out["host_listening"] = [[ip, p] for ip, p in proc["host_listening"]]
    out["local_addresses"] = sorted(parse_addresses(proc["files"]))
    out["cwd"] = proc.get("cwd")
    files = {k: (proc["files"][k] or b"").decode("utf-8", "replace").strip() for k in HOST_FILES}
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
    out["mem_total_bytes"] = parse_meminfo(files["/proc/meminfo"]).get("MemTotal")
    m = re.search(r"VmSwap:\s+(\d+) kB", proc.get("status") or "")
    out["swap_bytes"] = int(m[1]) * 1024 if m else None
    return out
