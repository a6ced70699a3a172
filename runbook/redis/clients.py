"""`redis.clients`: who is connected. CLIENT LIST, parsed: connections per client address, the clients
holding the most output buffer, blocked and pub/sub clients; and INFO clients. Read-only. A client's
name and address are shown; its last command's arguments never are (CLIENT LIST has only its name)."""

from __future__ import annotations

from typing import Any

from runbook.catalog import make
from runbook.findings import Finding
from runbook.redis.command import read_many
from runbook.redis.info import parse_info
from runbook.targets import Target


def parse_client_list(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        fields = dict(p.split("=", 1) for p in line.split(" ") if "=" in p)
        if "id" not in fields:
            continue
        addr = fields.get("addr", "")
        out.append({"id": int(fields["id"]) if fields["id"].isdigit() else fields["id"], "addr": addr,
                    "ip": addr.rsplit(":", 1)[0] if ":" in addr else addr, "name": fields.get("name", ""),
                    "flags": fields.get("flags", ""), "cmd": fields.get("cmd", ""),
                    "age_s": int(fields.get("age", 0) or 0), "idle_s": int(fields.get("idle", 0) or 0),
                    "omem": int(fields.get("omem", 0) or 0), "sub": int(fields.get("sub", 0) or 0),
                    "psub": int(fields.get("psub", 0) or 0), "user": fields.get("user", "")})
    return out


def is_server_link(c: dict[str, Any]) -> bool:
    """A replica's or master's replication link (flags S or M): never a client to kill."""
    return "S" in c["flags"] or "M" in c["flags"]


def probe(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    facts, replies = read_many(target.url, [["CLIENT", "LIST"], ["INFO", "clients"], ["CLIENT", "INFO"]], timeout)
    if not facts["reachable"]:
        return facts
    listing, info_raw, me = replies
    if isinstance(listing, dict):
        facts["error"] = f"CLIENT LIST refused: {listing['error']}"
        facts["reachable"] = False
        return facts
    own = parse_client_list(me)[0]["id"] if isinstance(me, str) and parse_client_list(me) else None
    clients = [c for c in parse_client_list(listing) if c["id"] != own]  # not our own connection
    by_ip: dict[str, int] = {}
    for c in clients:
        by_ip[c["ip"]] = by_ip.get(c["ip"], 0) + 1
    info = parse_info(info_raw) if isinstance(info_raw, str) else {}
    ip = str(params.get("ip") or "")
    facts.update({
        "sentinels_connected": sorted({c["name"].rsplit("-", 1)[0] for c in clients if c["name"].startswith("sentinel-")}),
        "clients": len(clients), "connected_clients": info.get("connected_clients"), "maxclients": info.get("maxclients"),
        "blocked_clients": info.get("blocked_clients"),
        "busiest_addresses": [{"ip": k, "connections": v} for k, v in sorted(by_ip.items(), key=lambda kv: -kv[1])[:10]],
        "largest_output_buffers": [{k: c[k] for k in ("id", "addr", "name", "flags", "cmd", "omem")}
                                   for c in sorted(clients, key=lambda c: -c["omem"])[:5] if c["omem"]],
        "pubsub_clients": sum(1 for c in clients if c["sub"] or c["psub"]),
    })
    if ip:  # the clients an action on this address would touch
        facts["ip"] = ip
        facts["matching"] = [{k: c[k] for k in ("id", "addr", "name", "flags", "cmd", "idle_s")}
                             for c in clients if c["ip"] == ip]
    return facts


def assess(facts: dict[str, Any]) -> list[Finding]:
    if not facts.get("reachable"):
        return [make("redis.unreachable", {"url": facts.get("url"), "error": facts.get("error", "no answer")})]
    return []


def guard_kill_preview(facts: dict[str, Any], params: dict[str, Any]) -> tuple[bool, dict[str, Any], str]:
    """The clients CLIENT KILL would close, shown before the confirmation: at least one, at most
    params.max_clients (default 100), and never a replication link."""
    if not facts.get("reachable"):
        return False, {"error": facts.get("error")}, f"the server could not be read: {facts.get('error')}"
    matching = facts.get("matching")
    if matching is None:
        return False, {}, "no address given (params.ip)"
    links = [c["addr"] for c in matching if is_server_link(c)]
    ids = sorted(c["id"] for c in matching if not is_server_link(c))
    ev = {"ip": facts.get("ip"), "clients": len(ids), "ids": ids,
          "commands": sorted({c["cmd"] for c in matching if not is_server_link(c)}),
          "names": sorted({c["name"] for c in matching if c["name"]})[:10]}
    if links:
        ev["replication_links"] = links
        return False, ev, f"{facts.get('ip')} holds a replication link ({', '.join(links)}): killing it breaks replication"
    if not ids:
        return False, ev, f"no client is connected from {facts.get('ip')}"
    limit = int(params.get("max_clients", 100))
    if len(ids) > limit:
        return False, ev, f"{len(ids)} clients match, more than max_clients {limit}"
    return True, ev, ""


def guard_not_managed_by_sentinel(facts: dict[str, Any], params: dict[str, Any]) -> tuple[bool, dict[str, Any], str]:
    """No Sentinel watches this server (Sentinels name their connections sentinel-ID-cmd): a server that
    Sentinel manages is promoted or re-pointed through Sentinel, or Sentinel undoes it."""
    if not facts.get("reachable"):
        return False, {"error": facts.get("error")}, f"the server could not be read: {facts.get('error')}"
    found = facts.get("sentinels_connected") or []
    ev = {"sentinels_connected": found}
    if found:
        return False, ev, (f"{len(found)} Sentinel(s) manage this server: change its role through Sentinel "
                           "(the redis-sentinel playbook), or Sentinel reconfigures it back")
    return True, ev, ""
