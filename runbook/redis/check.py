"""Checks of one or many Redis instances: the engine's probes and `runbook redis check`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from runbook.findings import Finding, sort_findings
from runbook.redis import assess as _assess
from runbook.redis.probe import SECRETS, host_and_log, read_instance, read_server
from runbook.targets import Target

DEFAULT_INTERVAL_S = 3.0


def _facts_for_engine(facts: dict[str, Any]) -> dict[str, Any]:
    """Convenience keys at the top, for playbook expressions (facts.master.role, ...)."""
    info = facts.get("info") or {}
    p = facts.get("restart_preview") or {}
    facts = dict(facts)
    facts["role"] = info.get("role") if info else None
    facts["keys_live"] = _assess.keys_live(info) if info else None
    for k in ("loads", "keys_on_disk", "writable", "config_file"):
        facts[k] = p.get(k)
    if info:
        replica = info.get("role") == "slave"
        facts["repl_offset"] = info.get("slave_repl_offset" if replica else "master_repl_offset")
        facts["master_link_status"] = info.get("master_link_status") if replica else None
        for k in ("used_memory", "maxmemory", "maxmemory_policy", "connected_clients", "maxclients"):
            facts[k] = info.get(k)
    facts["host_mem_total_bytes"] = (facts.get("host") or {}).get("mem_total_bytes")
    return facts


def simulation_params(target: Target, params: dict[str, Any]) -> dict[str, Any]:
    """What the restart simulation needs from the target and the step: where the command runs, the
    shutdown mode the action will use, the load limit and consent to load modules."""
    from runbook.redis.preview import DEFAULT_LOAD_LIMIT
    from runbook.redis.verdict import shutdown_mode

    out: dict[str, Any] = {"restart_command": target.restart_command, "restart_unit": target.restart_unit,
                           "declared_config": target.config, "restart_cwd": target.restart_cwd}
    if target.ssh:
        out["ssh"], out["ssh_options"] = target.ssh, tuple(target.ssh_options)
    if target.data:
        out["data"] = target.data
    out["shutdown"] = shutdown_mode(params)
    out["load_limit"] = int(float(params.get("load_limit_mb", DEFAULT_LOAD_LIMIT / 1048576)) * 1048576)
    out["allow_modules"] = bool(params.get("allow_modules", False))
    return out


def probe(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    facts = asyncio.run(look(target.url, timeout, _assess.DEFAULT_OUTAGE_S, **simulation_params(target, params)))
    if "slow_save_s" in params:  # the threshold travels with the facts (findings are functions of facts)
        facts["slow_save_s"] = float(params["slow_save_s"])
    return _facts_for_engine(facts)


async def read_window(url: str, timeout: float, interval: float, outage: float, **kw: Any) -> dict[str, Any]:
    """Two samples `interval` apart: the second is a full read, with the deltas of the first."""
    first = await read_server(url, timeout)
    first.pop(SECRETS, None)
    t0 = time.monotonic()
    if not first.get("reachable"):
        return first
    _, _, log0 = await host_and_log(first["info"], first.get("config"), kw.get("ssh") or "",
                                    tuple(kw.get("ssh_options") or ()))
    await asyncio.sleep(interval)
    second = await read_instance(url, timeout, **kw)
    if not second.get("reachable"):
        return second
    dt = max(time.monotonic() - t0, 1e-3)
    a, b = first["info"], second["info"]

    def d(k: str) -> int:
        try:
            return int(b.get(k) or 0) - int(a.get(k) or 0)
        except (TypeError, ValueError):
            return 0

    c0 = (log0 or {}).get("counts") or {}
    c1 = (second.get("log") or {}).get("counts") or {}
    second["window"] = {
        "dt_s": round(dt, 2),
        "outage_s": outage,
        "d_sync_full": d("sync_full"),
        "d_sync_partial_err": d("sync_partial_err"),
        "d_sync_partial_ok": d("sync_partial_ok"),
        "sync_full_before": a.get("sync_full"),
        "sync_partial_err_before": a.get("sync_partial_err"),
        "write_rate_bps": round(max(d("master_repl_offset"), 0) / dt, 1),
        "d_log_output_buffer_disconnects": max(0, c1.get("output_buffer_disconnects", 0) - c0.get("output_buffer_disconnects", 0)),
    }
    return second


def simulation_budget(params: dict[str, Any], timeout: float) -> float:
    """The wall time a read's restart simulation may take by its own bounds (preview._simulate, throwaway.run):
    the copy's start (its timeout, at least 5 s) and load (its files at 50 MB/s, up to the load limit), its
    reads and writes, the checkers and its stop, each bounded."""
    from runbook.redis.preview import DEFAULT_LOAD_LIMIT

    step = max(timeout, 5.0)
    limit = float(params.get("load_limit_mb", DEFAULT_LOAD_LIMIT / 1048576)) * 1048576
    return 6 * step + limit / (50 * 1024 * 1024) + 10


def replication_budget(params: dict[str, Any], timeout: float) -> float:
    """redis.replication's: its sampling interval, then a read with the restart simulation."""
    return float(params.get("interval", DEFAULT_INTERVAL_S)) + simulation_budget(params, timeout)


def probe_replication(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    interval = float(params.get("interval", DEFAULT_INTERVAL_S))
    outage = float(params.get("outage_s", _assess.DEFAULT_OUTAGE_S))
    facts = asyncio.run(read_window(target.url, timeout, interval, outage, **simulation_params(target, params)))
    return _facts_for_engine(facts)


def assess(facts: dict[str, Any]) -> list[Finding]:
    """The findings of the redis.check probe (a playbook reads SLOWLOG, a Sentinel, a cluster by their
    own probes, whose findings these would repeat)."""
    return sort_findings(_assess.assess(facts))


def assess_look(facts: dict[str, Any]) -> list[Finding]:
    """Every finding of one look (`redis check`): the server's own, and those of the read-only probes that
    apply to it (redis.latency always, redis.cluster on a cluster node; on a Sentinel only redis.sentinel's),
    with the ids those probes give in a playbook."""
    from runbook.redis import cluster, latency, sentinel

    if facts.get("reachable") and facts.get("sentinel"):
        return sort_findings(sentinel.assess(facts["sentinel"]))
    out = _assess.assess(facts)
    if facts.get("reachable"):
        for key, rules in (("latency", latency.assess), ("cluster", cluster.assess)):
            if (facts.get(key) or {}).get("reachable"):
                out += rules(facts[key])
    return sort_findings(out)


def status_code(facts: dict[str, Any], findings: list[Finding]) -> int:
    """Monitoring-plugin code of one instance: 3 when it could not be read."""
    if not facts.get("reachable"):
        return 3
    if any(f.severity == "critical" for f in findings):
        return 2
    if any(f.severity == "warning" for f in findings):
        return 1
    return 0


def aggregate(codes: list[int]) -> int:
    order = {2: 4, 3: 3, 1: 2, 0: 1}
    return max(codes, key=lambda c: order[c]) if codes else 3


def report(facts: dict[str, Any], findings: list[Finding]) -> dict[str, Any]:
    """The JSON of one instance (DESIGN contract)."""
    info = facts.get("info") or {}
    p = facts.get("restart_preview") or {}
    return {
        "target": facts.get("url"),
        "reachable": bool(facts.get("reachable")),
        "status": ["ok", "warning", "critical", "unknown"][status_code(facts, findings)],
        "role": info.get("role") if info else None,
        "version": info.get("redis_version"),
        "mode": info.get("redis_mode"),
        "error": facts.get("error"),
        "findings": [f.to_dict() for f in findings],
        "restart_preview": {
            "config_file": p.get("config_file"),
            "config_source": p.get("config_source"),
            "loads": p.get("loads", "unknown"),
            "path": p.get("path"),
            "keys_on_disk": p.get("keys_on_disk"),
            "keys_live": p.get("keys_live"),
            "replicaof": p.get("replicaof") or (f"{info.get('master_host')} {info.get('master_port')}" if info.get("role") == "slave" else ""),
            "writable": p.get("writable"),
            "keys_after": p.get("keys_after"),
            "reader": p.get("reader"),
            "shutdown": p.get("shutdown"),
            "outcomes": p.get("outcomes"),
            "cwd": p.get("cwd"),
            "cwd_source": p.get("cwd_source"),
            "read_over": p.get("read_over"),
            "restart_fails": p.get("restart_fails"),
            "unproven": p.get("unproven") or [],
            "tiers": {k: (v or {}).get("said") for k, v in (p.get("tiers") or {}).items()},
            "stop": (p.get("stop") or {}).get("said"),
            "notes": p.get("notes") or [],
            "diff": p.get("diff") or {},
            "simulated": p.get("simulated", True),
            "copy_changes": p.get("copy_changes") or {},
            "sentinels": p.get("sentinels"),
            "read": bool(p),  # false: --no-preview (nothing above was read)
        } if facts.get("reachable") else None,
        "window": facts.get("window"),
        "second_look": facts.get("second_look"),
    }


SECOND_LOOK_S = 2.0


async def look(url: str, timeout: float, outage: float, **kw: Any) -> dict[str, Any]:
    """One look; when it is suggestive of a full-sync storm but not conclusive, a second sample by
    itself (two reads SECOND_LOOK_S apart) rather than silence."""
    facts = await read_instance(url, timeout, **kw)
    if not facts.get("reachable"):
        return facts
    signals = _assess.storm_signals(facts.get("info") or {}, facts)
    if signals["suggestive"] and not signals["conclusive"]:
        second = await read_window(url, timeout, SECOND_LOOK_S, outage, **kw)
        if second.get("reachable"):
            second["second_look"] = "the first look suggested a full-sync storm: sampled twice to be sure"
            return second
    return facts


async def check_many(urls: list[str], timeout: float, interval: float | None, outage: float,
                     preview: bool = True, **simulation: Any) -> list[dict[str, Any]]:
    async def one(u: str) -> dict[str, Any]:
        if interval:
            return await read_window(u, timeout, interval, outage, preview=preview, **simulation)
        return await look(u, timeout, outage, preview=preview, **simulation)

    return list(await asyncio.gather(*(one(u) for u in urls)))


def live_summary(url: str, timeout: float) -> dict[str, Any]:
    """What the live panel shows: role, ops/s, memory, clients, replicas, persistence (INFO only)."""
    from runbook.redis.info import replicas as _replicas

    facts = asyncio.run(read_server(url, timeout))
    facts.pop(SECRETS, None)
    if not facts.get("reachable"):
        return {"reachable": False, "error": facts.get("error")}
    i = facts["info"]
    offset = int(i.get("master_repl_offset") or 0)
    return {
        "reachable": True,
        "role": i.get("role"),
        "ops_per_sec": i.get("instantaneous_ops_per_sec"),
        "used_memory_human": i.get("used_memory_human"),
        "used_memory": i.get("used_memory"),
        "clients": i.get("connected_clients"),
        "keys": _assess.keys_live(i),
        "replicas": [{"addr": f"{r.get('ip')}:{r.get('port')}", "state": r.get("state"),
                      "lag_bytes": offset - int(r.get("offset") or 0)} for r in _replicas(i)],
        "master_link_status": i.get("master_link_status"),
        "rdb_last_bgsave_status": i.get("rdb_last_bgsave_status"),
        "rdb_changes_since_last_save": i.get("rdb_changes_since_last_save"),
        "aof_enabled": i.get("aof_enabled"),
        "rdb_bgsave_in_progress": i.get("rdb_bgsave_in_progress"),
    }
