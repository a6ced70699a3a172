"""`jvm.memory`: where a JVM's memory goes and what limits it, on this machine or over ssh on its host. Two jstat -gc samples `interval_s`
apart (heap, old generation, metaspace, full GCs and their time), jcmd VM.flags (the limits the JVM runs
with), jcmd Compiler.codecache, the process's RSS, and the memory limit of its cgroup (v1 or v2). Read-only."""

from __future__ import annotations

import re
import time
from typing import Any

from runbook.access import LOCAL
from runbook.catalog import make
from runbook.findings import Finding
from runbook.targets import Target
from runbook.text import human_bytes

OLD_FULL_PCT = 95.0
METASPACE_PCT = 90.0
CODECACHE_PCT = 95.0
UNLIMITED = 1 << 60  # cgroup v1 writes 9223372036854771712 for "no limit"


def _jstat_gc(pid: int, timeout: float, acc: Any) -> dict[str, float]:
    from runbook.jvm.live import JvmError, _run

    out = _run(["jstat", "-gc", str(pid)], timeout, acc).strip().splitlines()
    if len(out) < 2:
        raise JvmError("jstat gave no sample")
    res: dict[str, float] = {}
    for h, v in zip(out[0].split(), out[-1].split()):
        try:
            res[h] = float(v)
        except ValueError:
            pass
    return res


def _flags(pid: int, timeout: float, acc: Any) -> dict[str, str]:
    from runbook.jvm.live import _run

    return dict(re.findall(r"-XX:[+-]?(\w+)=(\S+)", _run(["jcmd", str(pid), "VM.flags"], timeout, acc)))


def _codecache(pid: int, timeout: float, acc: Any) -> dict[str, Any]:
    """Summed over the code heaps (segmented or not): size, used, max_used in bytes; compilation on or off."""
    from runbook.jvm.live import _run

    text = _run(["jcmd", str(pid), "Compiler.codecache"], timeout, acc)
    size = used = max_used = 0
    for m in re.finditer(r"size=(\d+)Kb used=(\d+)Kb max_used=(\d+)Kb", text):
        size, used, max_used = size + int(m[1]) * 1024, used + int(m[2]) * 1024, max_used + int(m[3]) * 1024
    disabled = re.search(r"compilation: disabled[^\n]*", text)
    return {"size": size, "used": used, "max_used": max_used,
            "compilation": disabled[0].split(": ", 1)[1] if disabled else "enabled"}


def cgroup_limit(pid: int, acc: Any = LOCAL) -> dict[str, Any]:
    """The memory limit of the process's cgroup (on the host of acc) and where it was read; limit None
    when there is none."""
    raw = acc.read_many([f"/proc/{pid}/cgroup"])[f"/proc/{pid}/cgroup"]
    if raw is None:
        return {"error": f"cannot read /proc/{pid}/cgroup on {acc.host}"}
    lines = raw.decode("utf-8", "replace").splitlines()
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if "memory" in controllers.split(","):
            candidates = [(f"/sys/fs/cgroup/memory{path}/memory.limit_in_bytes", "v1")]
        elif controllers == "":
            candidates = [(f"/sys/fs/cgroup{path}/memory.max", "v2"), (f"/sys/fs/cgroup/unified{path}/memory.max", "v2")]
        else:
            continue
        files = acc.read_many([file for file, _ in candidates])
        for file, version in candidates:
            if files[file] is None:
                continue
            v = files[file].decode("ascii", "replace").strip()
            limit = None if v == "max" or not v.isdigit() or int(v) >= UNLIMITED else int(v)
            return {"limit": limit, "file": file, "cgroup": version}
    return {"limit": None}


def probe(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    from runbook.access import for_target

    if target.pid is None:
        raise ValueError("the memory of a JVM is read by its pid (pid:N, with ssh: for another host)")
    acc = for_target(target)
    pid = target.pid
    proc = acc.proc(pid, timeout)
    if proc is None:
        raise ValueError(f"no process {pid} on {acc.host}")
    interval = float(params.get("interval_s", 2.0))
    a = _jstat_gc(pid, timeout, acc)
    time.sleep(interval)
    b = _jstat_gc(pid, timeout, acc)
    flags = _flags(pid, timeout, acc)
    kb = 1024
    old_cap, old_used = b.get("OC", 0) * kb, b.get("OU", 0) * kb
    facts: dict[str, Any] = {
        "pid": pid, "interval_s": interval,
        "heap_max_bytes": int(flags["MaxHeapSize"]) if flags.get("MaxHeapSize", "").isdigit() else None,
        "heap_used_bytes": int(sum(b.get(k, 0) for k in ("S0U", "S1U", "EU", "OU")) * kb),
        "old_capacity_bytes": int(old_cap), "old_used_bytes": int(old_used),
        "old_used_pct": round(100 * old_used / old_cap, 1) if old_cap else None,
        "full_gcs": int(b.get("FGC", 0)), "full_gcs_during_sample": int(b.get("FGC", 0) - a.get("FGC", 0)),
        "gc_time_pct_of_sample": round(100 * (b.get("GCT", 0) - a.get("GCT", 0)) / interval, 1),
        "metaspace_used_bytes": int(b.get("MU", 0) * kb),
        "metaspace_max_bytes": int(flags["MaxMetaspaceSize"]) if flags.get("MaxMetaspaceSize", "").isdigit()
        and int(flags["MaxMetaspaceSize"]) < UNLIMITED else None,
        "codecache": _codecache(pid, timeout, acc),
        "container": cgroup_limit(pid, acc),
        "use_container_support": "-XX:-UseContainerSupport" not in proc["cmdline"],
        "thresholds": {"old_full_pct": float(params.get("old_full_pct", OLD_FULL_PCT)),
                       "metaspace_pct": float(params.get("metaspace_pct", METASPACE_PCT)),
                       "codecache_pct": float(params.get("codecache_pct", CODECACHE_PCT))},
    }
    if not acc.local:
        facts["via"] = acc.name
    status = proc.get("status") or ""
    for key, field, scale in (("rss_bytes", "VmRSS", 1024), ("threads", "Threads", 1)):
        m = re.search(rf"^{field}:\s+(\d+)", status, re.MULTILINE)
        if m:
            facts[key] = int(m[1]) * scale
    return facts


def assess(facts: dict[str, Any]) -> list[Finding]:
    out = []
    th = facts.get("thresholds") or {}
    old_pct = facts.get("old_used_pct")
    gc_pct = facts.get("gc_time_pct_of_sample") or 0
    if old_pct is not None and old_pct >= th.get("old_full_pct", OLD_FULL_PCT) and (
            facts.get("full_gcs_during_sample") or (facts.get("full_gcs") and gc_pct >= 50)):
        out.append(make("jvm.heap.exhausted", {
            "old_gen_used_pct": old_pct, "old_gen": human_bytes(facts.get("old_capacity_bytes") or 0),
            "heap_max": human_bytes(facts.get("heap_max_bytes") or 0),
            "full_gcs_during_sample": facts.get("full_gcs_during_sample"), "sample_s": facts.get("interval_s"),
            "gc_time_pct_of_sample": gc_pct}))
    mu, mmax = facts.get("metaspace_used_bytes"), facts.get("metaspace_max_bytes")
    if mu and mmax and 100 * mu / mmax >= th.get("metaspace_pct", METASPACE_PCT):
        out.append(make("jvm.metaspace.high", {"metaspace_used": human_bytes(mu), "MaxMetaspaceSize": human_bytes(mmax),
                                               "used_pct": round(100 * mu / mmax, 1)}))
    cc = facts.get("codecache") or {}
    if cc.get("size"):
        pct = round(100 * cc["max_used"] / cc["size"], 1)
        off = cc.get("compilation", "enabled") != "enabled"
        if off or pct >= th.get("codecache_pct", CODECACHE_PCT):
            out.append(make("jvm.codecache.full", {"code_cache": human_bytes(cc["size"]), "max_used_pct": pct,
                                                   "used": human_bytes(cc["used"]), "compilation": cc.get("compilation")},
                            escalated=off))
    limit = (facts.get("container") or {}).get("limit")
    heap_max = facts.get("heap_max_bytes") or 0
    if limit:
        # what the JVM may take outside the heap: metaspace in use, the code cache, a thread stack each
        outside = (mu or 0) + (cc.get("size") or 0) + (facts.get("threads") or 0) * 1024 * 1024
        need = heap_max + outside
        rss = facts.get("rss_bytes") or 0
        if need >= limit or rss >= 0.9 * limit:
            out.append(make("jvm.container.memory_limit", {
                "cgroup_limit": human_bytes(limit), "heap_max": human_bytes(heap_max),
                "outside_heap_estimate": human_bytes(outside), "rss": human_bytes(rss),
                "heap_max_pct_of_limit": round(100 * heap_max / limit, 1),
                "jvm_sees_container": bool(facts.get("use_container_support")) and heap_max < limit,
                "cgroup_file": (facts.get("container") or {}).get("file")}))
    return out
