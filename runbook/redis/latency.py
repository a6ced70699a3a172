"""`redis.latency`: what made a Redis slow. SLOWLOG (the slowest commands, by name and key, never their
values), LATENCY LATEST (the events Redis's latency monitor caught: fork, command, aof-fsync-always...),
and the last fork's duration against the dataset. Read-only: SLOWLOG GET, LATENCY LATEST, INFO, TIME,
CONFIG GET of two settings.
"""

from __future__ import annotations

from typing import Any

from runbook.catalog import make
from runbook.findings import Finding
from runbook.redis.command import read_many
from runbook.redis.info import pairs_to_dict, parse_info
from runbook.targets import Target
from runbook.text import human_bytes

RECENT_S = 900  # slow commands of the last 15 minutes count
FORK_MS = 100  # a fork that stops the server this long is felt by every client
GB = 1024 ** 3


def _words(args: Any) -> str:
    """The command and its key, never the values (which may be anything, secrets included)."""
    if not isinstance(args, list) or not args:
        return "?"
    return " ".join(str(a)[:60] for a in args[:2])


# What the look sends beside INFO and CONFIG GET (their settings are read from those)
COMMANDS = [["SLOWLOG", "GET", "128"], ["LATENCY", "LATEST"], ["TIME"]]


def probe(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    facts, replies = read_many(target.url, COMMANDS + [
        ["INFO", "all"], ["CONFIG", "GET", "slowlog-log-slower-than"], ["CONFIG", "GET", "latency-monitor-threshold"],
    ], timeout)
    if not facts["reachable"]:
        facts["recent_s"] = float(params.get("recent_s", RECENT_S))
        facts["fork_ms"] = float(params.get("fork_ms", FORK_MS))
        return facts
    slowlog, latest, now, info_raw, slow_cfg, lat_cfg = replies
    config = {**_pairs(slow_cfg), **_pairs(lat_cfg)} if isinstance(slow_cfg, list) or isinstance(lat_cfg, list) else None
    return facts_of(facts, slowlog, latest, now, parse_info(info_raw) if isinstance(info_raw, str) else {},
                    config, params)


def _pairs(reply: Any) -> dict[str, Any]:
    return pairs_to_dict(reply) if isinstance(reply, list) else {}


def facts_of(facts: dict[str, Any], slowlog: Any, latest: Any, now: Any, info: dict[str, Any],
             config: dict[str, Any] | None, params: dict[str, Any]) -> dict[str, Any]:
    """The probe's facts from the replies to COMMANDS (plain: an error is {"error": ...}), INFO and the
    config (None: CONFIG refused); `redis check` builds them from its own look."""
    from runbook.secrets import mask_mapping

    facts["recent_s"] = float(params.get("recent_s", RECENT_S))
    facts["fork_ms"] = float(params.get("fork_ms", FORK_MS))
    server_now = int(now[0]) if isinstance(now, list) and now else None
    facts["server_time"] = server_now
    facts["slowlog_log_slower_than_us"] = _config_int(config, "slowlog-log-slower-than")
    facts["latency_monitor_threshold_ms"] = _config_int(config, "latency-monitor-threshold")
    if isinstance(slowlog, list):
        facts["slow_commands"] = [
            {"id": e[0], "at": e[1], "ago_s": None if server_now is None else server_now - int(e[1]),
             "duration_ms": round(int(e[2]) / 1000, 1), "command": _words(e[3]),
             "client": e[4] if len(e) > 4 else ""}
            for e in slowlog if isinstance(e, list) and len(e) >= 4]
    else:
        facts["slowlog_error"] = str(slowlog)
    if isinstance(latest, list):
        facts["latency_events"] = [
            {"event": e[0], "at": e[1], "ago_s": None if server_now is None else server_now - int(e[1]),
             "latest_ms": e[2], "max_ms": e[3]} for e in latest if isinstance(e, list) and len(e) >= 4]
    else:
        facts["latency_error"] = str(latest)
    facts["latest_fork_usec"] = info.get("latest_fork_usec")
    facts["used_memory"] = info.get("used_memory")
    facts["total_forks"] = info.get("total_forks")
    return mask_mapping(facts)


def _config_int(config: dict[str, Any] | None, name: str) -> int | None:
    if config is None:
        return None  # CONFIG refused (renamed, or not allowed to this user)
    v = config.get(name)
    return int(v) if v is not None and str(v).lstrip("-").isdigit() else None


def assess(facts: dict[str, Any]) -> list[Finding]:
    if not facts.get("reachable"):
        return [make("redis.unreachable", {"url": facts.get("url"), "error": facts.get("error", "no answer")})]
    out = []
    recent_s = float(facts.get("recent_s") or RECENT_S)
    slow = [e for e in facts.get("slow_commands") or [] if e.get("ago_s") is not None and e["ago_s"] <= recent_s]
    if slow:
        by_cmd: dict[str, list[float]] = {}
        for e in slow:
            by_cmd.setdefault(str(e["command"]).split(" ", 1)[0].upper(), []).append(float(e["duration_ms"]))
        worst = max(slow, key=lambda e: e["duration_ms"])
        top = sorted(by_cmd.items(), key=lambda kv: -sum(kv[1]))[:3]
        out.append(make("redis.latency.slow_commands", {
            "slow_commands": len(slow), "within_s": int(recent_s),
            "slowest": f"{worst['command']} took {worst['duration_ms']:,} ms, {worst['ago_s']} s ago, from {worst['client'] or '?'}",
            "by_command": {k: f"{len(v)} x, {round(sum(v), 1):,} ms in all" for k, v in top},
            "slowlog_log_slower_than_us": facts.get("slowlog_log_slower_than_us")}))
    fork_ms = float(facts.get("fork_ms") or FORK_MS)
    latest_fork = facts.get("latest_fork_usec")
    used = int(facts.get("used_memory") or 0)
    fork_events = [e for e in facts.get("latency_events") or [] if e.get("event") == "fork"]
    worst_event = max((float(e["max_ms"]) for e in fork_events), default=0.0)
    if isinstance(latest_fork, int) and (latest_fork / 1000 >= fork_ms or worst_event >= fork_ms):
        ev = {"latest_fork_ms": round(latest_fork / 1000, 1), "used_memory": human_bytes(used),
              "threshold_ms": fork_ms}
        if used >= 64 * 1024 * 1024:
            ev["ms_per_gb"] = round(latest_fork / 1000 / (used / GB), 1)
        if fork_events:
            ev["latency_monitor_fork_max_ms"] = worst_event
        out.append(make("redis.latency.fork", ev))
    return out
