"""Failovers that a Redis deployment's own machinery performs: SENTINEL FAILOVER on a Sentinel, CLUSTER
FAILOVER on a cluster replica. Each waits for the new state and proves it. Guards: a Sentinel with quorum
and a replica in sync; a forced cluster failover only with the glass broken."""

from __future__ import annotations

import time
from typing import Any

from runbook.expect import expect
from runbook.redis.actions import _call, _on, _text
from runbook.targets import Target

Result = tuple[bool, dict[str, Any], str]


def _master(facts: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((m for m in facts.get("masters") or [] if m.get("name") == name), None)


def guard_sentinel_can_failover(facts: dict[str, Any], params: dict[str, Any]) -> Result:
    if not facts.get("reachable"):
        return False, {"error": facts.get("error")}, f"the Sentinel could not be read: {facts.get('error')}"
    name = str(params.get("master") or "")
    m = _master(facts, name)
    if m is None:
        return False, {"masters": [x.get("name") for x in facts.get("masters") or []]}, f"this Sentinel watches no master named {name!r}"
    ready = [r["addr"] for r in m.get("replica_list") or []
             if r.get("master_link_status") == "ok" and not {"s_down", "o_down", "disconnected"} & set(r.get("flags") or [])]
    ev = {"master": name, "ckquorum": m.get("ckquorum") or m.get("ckquorum_error"), "replicas_in_sync": ready,
          "failover_in_progress": "failover_in_progress" in (m.get("flags") or [])}
    if m.get("ckquorum_error"):
        return False, ev, f"no quorum: {m['ckquorum_error']}"
    if not ready:
        return False, ev, "no replica is in sync with the master: a failover would promote stale data or fail"
    if ev["failover_in_progress"]:
        return False, ev, "a failover is already in progress"
    return True, ev, ""


def guard_not_forced(facts: dict[str, Any], params: dict[str, Any]) -> Result:
    """CLUSTER FAILOVER FORCE or TAKEOVER skips the handshake with the master: only with the glass broken."""
    how = str(params.get("mode") or "").upper()
    if how in ("FORCE", "TAKEOVER"):
        return False, {"mode": how}, (f"CLUSTER FAILOVER {how} does not wait for the master to agree and can lose writes: "
                                      "break the glass if the master is really gone")
    return True, {"mode": how or "coordinated"}, ""


class SentinelFailover:
    @staticmethod
    def describe(target: Target, params: dict[str, Any]) -> str:
        return f"SENTINEL FAILOVER {params.get('master')} {_on(target)}; then wait for a new master address"

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        name = str(params["master"])
        before = _call(target, timeout, lambda c: {"addr": c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)})
        if not before["ok"]:
            return before
        r = _call(target, timeout, lambda c: c.execute_command("SENTINEL", "FAILOVER", name) and None)
        if not r["ok"]:
            return r
        deadline = time.monotonic() + float(params.get("wait_s", 60))
        addr = before["addr"]
        while time.monotonic() < deadline:
            now = _call(target, timeout, lambda c: {"addr": c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)})
            addr = now.get("addr")
            if now["ok"] and addr and list(map(_text, addr)) != list(map(_text, before["addr"] or [])):
                break
            time.sleep(0.5)
        r["master_before"] = ":".join(map(_text, before["addr"] or []))
        r["master_after"] = ":".join(map(_text, addr or []))
        return expect(r, "Sentinel names a new master", r["master_after"] != r["master_before"],
                      f"master {r['master_before']} -> {r['master_after']}")


class ClusterFailover:
    @staticmethod
    def args(params: dict[str, Any]) -> list[str]:
        mode = str(params.get("mode") or "").upper()
        if mode not in ("", "FORCE", "TAKEOVER"):
            raise ValueError("redis.cluster_failover params.mode is FORCE or TAKEOVER (or none: coordinated)")
        return ["CLUSTER", "FAILOVER", *([mode] if mode else [])]

    @staticmethod
    def describe(target: Target, params: dict[str, Any]) -> str:
        return f"{' '.join(ClusterFailover.args(params))} {_on(target)}; then wait until it is a master"

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        r = _call(target, timeout, lambda c: c.execute_command(*ClusterFailover.args(params)) and None)
        if not r["ok"]:
            return r
        deadline = time.monotonic() + float(params.get("wait_s", 30))
        role = None
        while time.monotonic() < deadline:
            role = _call(target, timeout, lambda c: {"role": c.info("replication").get("role")}).get("role")
            if role == "master":
                break
            time.sleep(0.2)
        return expect(r, "this node became a master", role == "master", f"role {role}")
