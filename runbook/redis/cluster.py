"""`redis.cluster`: the state of a Redis Cluster as one of its nodes sees it. Read-only: CLUSTER INFO and
CLUSTER NODES."""

from __future__ import annotations

import asyncio
from typing import Any

from runbook.catalog import make
from runbook.findings import Finding
from runbook.redis.command import read_many_async
from runbook.targets import Target

SLOTS = 16384


def _slot_count(fields: list[str]) -> int:
    n = 0
    for f in fields:
        if f.startswith("["):
            continue  # a slot being imported or migrated
        a, _, b = f.partition("-")
        if a.isdigit():
            n += (int(b) - int(a) + 1) if b.isdigit() else 1
    return n


def parse_nodes(text: str) -> list[dict[str, Any]]:
    nodes = []
    for line in text.splitlines():
        p = line.split()
        if len(p) < 8:
            continue
        nodes.append({"id": p[0][:12], "addr": p[1].split("@", 1)[0], "flags": p[2].split(","),
                      "master": None if p[3] == "-" else p[3][:12], "link": p[7], "slots": _slot_count(p[8:])})
    return nodes


def probe(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    return asyncio.run(read(target.url, timeout))


async def read(url: str, timeout: float) -> dict[str, Any]:
    """The cluster as the node at url sees it (the probe's facts; `redis check` reads it too)."""
    facts, replies = await read_many_async(url, [["CLUSTER", "INFO"], ["CLUSTER", "NODES"]], timeout)
    if not facts["reachable"]:
        return facts
    info_raw, nodes_raw = replies
    if isinstance(info_raw, dict):
        facts["cluster_enabled"] = False
        facts["error"] = info_raw["error"]
        return facts
    facts["cluster_enabled"] = True
    info = dict(line.split(":", 1) for line in str(info_raw).splitlines() if ":" in line)
    for k in ("cluster_state", "cluster_slots_assigned", "cluster_slots_ok", "cluster_slots_pfail",
              "cluster_slots_fail", "cluster_known_nodes", "cluster_size", "cluster_current_epoch"):
        v = info.get(k, "").strip()
        facts[k] = int(v) if v.isdigit() else v or None
    nodes = parse_nodes(nodes_raw) if isinstance(nodes_raw, str) else []
    facts["nodes"] = nodes
    facts["nodes_failed"] = [n["addr"] for n in nodes if "fail" in n["flags"]]
    facts["nodes_pfail"] = [n["addr"] for n in nodes if "fail?" in n["flags"]]
    return facts


def assess(facts: dict[str, Any]) -> list[Finding]:
    if not facts.get("reachable"):
        return [make("redis.unreachable", {"url": facts.get("url"), "error": facts.get("error", "no answer")})]
    if not facts.get("cluster_enabled"):
        return []
    out = []
    assigned, ok = facts.get("cluster_slots_assigned") or 0, facts.get("cluster_slots_ok") or 0
    if facts.get("cluster_state") != "ok" or assigned < SLOTS or facts.get("cluster_slots_fail"):
        out.append(make("redis.cluster.slots_uncovered", {
            "cluster_state": facts.get("cluster_state"), "slots_assigned": assigned, "slots_ok": ok,
            "slots_pfail": facts.get("cluster_slots_pfail"), "slots_fail": facts.get("cluster_slots_fail"),
            "slots_not_served": SLOTS - ok}))
    nodes = facts.get("nodes") or []
    failed, pfail = facts.get("nodes_failed") or [], facts.get("nodes_pfail") or []
    if failed or pfail:
        out.append(make("redis.cluster.node_failed", {
            "failed": failed, "suspected": pfail,
            "slots_on_them": sum(n["slots"] for n in nodes if n["addr"] in failed + pfail)},
            escalated=not failed))
    by_id = {n["id"]: n for n in nodes}
    alone = [n["addr"] for n in nodes if "master" in n["flags"] and n["slots"] and "fail" not in n["flags"]
             and not any(r["master"] == n["id"] and "fail" not in r["flags"] for r in nodes)]
    if alone and by_id:
        out.append(make("redis.cluster.no_replica", {"masters_without_a_replica": alone}))
    return out
