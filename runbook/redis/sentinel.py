"""`redis.sentinel`: what a Sentinel knows of the masters it watches. The target is the Sentinel itself
(redis://host:26379). Read-only: SENTINEL MASTERS, then SENTINEL CKQUORUM and SENTINEL REPLICAS of each.
"""

from __future__ import annotations

import asyncio
from typing import Any

from runbook.catalog import make
from runbook.findings import Finding
from runbook.redis.command import read_many_async
from runbook.redis.info import pairs_to_dict
from runbook.targets import Target


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, (int, str)) and str(v).lstrip("-").isdigit() else None


def _replica(d: dict[str, str]) -> dict[str, Any]:
    return {"addr": f"{d.get('ip')}:{d.get('port')}", "flags": str(d.get("flags", "")).split(","),
            "master_link_status": d.get("master-link-status"), "offset": _int(d.get("slave-repl-offset")),
            "priority": _int(d.get("slave-priority", d.get("replica-priority")))}


def probe(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    return asyncio.run(read(target.url, timeout))


async def read(url: str, timeout: float) -> dict[str, Any]:
    """What the Sentinel at url knows of its masters (the probe's facts; `redis check` reads it too)."""
    from runbook.secrets import mask_mapping

    facts, replies = await read_many_async(url, [["SENTINEL", "MASTERS"]], timeout)
    if not facts["reachable"]:
        return facts
    masters = replies[0]
    if not isinstance(masters, list):
        facts["error"] = f"not a Sentinel: SENTINEL MASTERS answered {masters}"
        facts["is_sentinel"] = False
        return facts
    facts["is_sentinel"] = True
    out = []
    for raw in masters:
        m = pairs_to_dict(raw)
        out.append({"name": m.get("name"), "addr": f"{m.get('ip')}:{m.get('port')}",
                    "flags": str(m.get("flags", "")).split(","), "quorum": _int(m.get("quorum")),
                    "replicas": _int(m.get("num-slaves")), "other_sentinels": _int(m.get("num-other-sentinels")),
                    "down_after_ms": _int(m.get("down-after-milliseconds")),
                    "last_ok_ping_reply_ms": _int(m.get("last-ok-ping-reply")),
                    "failover_timeout_ms": _int(m.get("failover-timeout"))})
    if out:
        more, replies = await read_many_async(url, [cmd for m in out for cmd in (
            ["SENTINEL", "CKQUORUM", str(m["name"])], ["SENTINEL", "REPLICAS", str(m["name"])])], timeout)
        if not more["reachable"]:
            return more
        for i, m in enumerate(out):
            q, reps = replies[2 * i], replies[2 * i + 1]
            m["ckquorum"] = q if isinstance(q, str) else None
            m["ckquorum_error"] = q["error"] if isinstance(q, dict) else None
            m["replica_list"] = [_replica(pairs_to_dict(r)) for r in reps] if isinstance(reps, list) else []
    facts["masters"] = out
    facts["masters_down"] = [m["name"] for m in out if {"s_down", "o_down"} & set(m["flags"])]
    return mask_mapping(facts)


def assess(facts: dict[str, Any]) -> list[Finding]:
    if not facts.get("reachable"):
        return [make("redis.unreachable", {"url": facts.get("url"), "error": facts.get("error", "no answer")})]
    out = []
    for m in facts.get("masters") or []:
        flags = set(m.get("flags") or [])
        healthy = [r["addr"] for r in m.get("replica_list") or []
                   if r.get("master_link_status") == "ok" and not {"s_down", "o_down", "disconnected"} & set(r["flags"])]
        if {"s_down", "o_down"} & flags:
            objective = "o_down" in flags
            out.append(make("redis.sentinel.master_down", {
                "master": m["name"], "addr": m["addr"], "flags": ",".join(sorted(flags)),
                "agreed": "the Sentinels agree (o_down): a failover starts if a replica can take over" if objective
                else "this Sentinel alone sees it down (s_down): not yet a quorum",
                "last_ok_ping_reply_ms": m.get("last_ok_ping_reply_ms"), "replicas_able_to_take_over": healthy},
                escalated=not objective))
        if m.get("ckquorum_error"):
            out.append(make("redis.sentinel.no_quorum", {
                "master": m["name"], "ckquorum": m["ckquorum_error"], "quorum": m.get("quorum"),
                "other_sentinels": m.get("other_sentinels")}))
        if "failover_in_progress" in flags:
            out.append(make("redis.sentinel.failover_in_progress", {"master": m["name"], "addr": m["addr"],
                                                                    "flags": ",".join(sorted(flags))}))
    return out
