"""Named Redis guards: pure functions of fresh facts. Evidence is kept to what a decision rests on
(not live counters such as DBSIZE under a writer), so a confirmation is voided only by a real change."""

from __future__ import annotations

from typing import Any

from runbook.redis.assess import assess, is_cache
from runbook.redis.info import replicas
from runbook.redis.verdict import RestartPreview, shutdown_mode

Result = tuple[bool, dict[str, Any], str]

RESTART_BLOCKERS = ("redis.restart.", "redis.persistence.save_failing", "redis.replication.full_sync_storm")


def _unreadable(facts: dict[str, Any]) -> Result | None:
    if not facts.get("reachable"):
        return False, {"error": facts.get("error")}, f"the server could not be read: {facts.get('error')}"
    return None


def restart_is_safe(facts: dict[str, Any], params: dict[str, Any]) -> Result:
    """Passes only a restart the simulation proved: nothing unproven, no critical restart finding, and
    as many keys after it as are live, for the shutdown mode the action uses."""
    bad = _unreadable(facts)
    if bad:
        return bad
    p = RestartPreview.of(facts)
    mode = shutdown_mode(params, p.mode)
    # evidence is what the verdict rests on, not live counters: under a writer the key counts change
    # with every read, and a confirmation bound to them would be voided again and again
    ev = {"config_file": p.raw.get("config_file") or "", "loads": p.raw.get("loads"), "path": p.raw.get("path"),
          "shutdown": mode, "writable": p.raw.get("writable")}
    if not p.simulated:
        return False, ev, "no restart simulation was run"
    if not p.reached and not p.unproven:
        return False, ev, "the server's host was not reached: the restart preview is unknown"
    if p.unproven:
        ev["not_proven"] = p.unproven
        return False, ev, "the restart could not be proven safe: " + "; ".join(p.unproven)
    # the data loss is judged for this action's mode (the simulation may have judged another)
    critical = {f.id for f in assess(facts) if f.severity == "critical" and f.id.startswith(RESTART_BLOCKERS)}
    critical.discard("redis.restart.data_loss")
    loss = p.loss(mode)
    cache = is_cache(facts) if loss else {}
    if cache:  # lost by design: the confirmation is bound to this line, so the loss is acknowledged, not missed
        # (no key count: under a writer it changes with every read, and would void the confirmation)
        ev["empties_cache"] = f"a restart empties this cache: its keys are lost ({cache['cache']})"
    elif loss:
        critical.add("redis.restart.data_loss")
    critical = sorted(critical)
    if p.keys_after(mode) is None and not p.fails and not cache:
        critical.append("keys after the restart unknown")
    ev["critical_findings"] = critical
    if critical:
        return False, ev, "the restart simulation has critical findings: " + ", ".join(critical)
    ev["keys_after"] = "none: the cache starts empty" if cache else "as many as are live"
    return True, ev, ""


def _role(facts: dict[str, Any], want: str, label: str) -> Result:
    bad = _unreadable(facts)
    if bad:
        return bad
    role = (facts.get("info") or {}).get("role")
    return role == want, {"role": role}, "" if role == want else f"the server is a {role}, not a {label}"


def is_master(facts: dict[str, Any], params: dict[str, Any]) -> Result:
    return _role(facts, "master", "master")


def is_replica(facts: dict[str, Any], params: dict[str, Any]) -> Result:
    return _role(facts, "slave", "replica")


def saves_ok(facts: dict[str, Any], params: dict[str, Any]) -> Result:
    bad = _unreadable(facts)
    if bad:
        return bad
    info = facts.get("info") or {}
    ev = {k: info.get(k) for k in ("rdb_last_bgsave_status", "rdb_bgsave_in_progress", "aof_rewrite_in_progress")}
    if info.get("rdb_last_bgsave_status") != "ok":
        return False, ev, "the last background save failed"
    if info.get("rdb_bgsave_in_progress") or info.get("aof_rewrite_in_progress"):
        return False, ev, "a save or AOF rewrite is in progress"
    return True, ev, ""


def no_save_running(facts: dict[str, Any], params: dict[str, Any]) -> Result:
    """No BGSAVE or AOF rewrite is running (a second fork would double the copy-on-write memory). A
    failed last save does not block: a new save is how one proves the cause is fixed."""
    bad = _unreadable(facts)
    if bad:
        return bad
    info = facts.get("info") or {}
    ev = {k: info.get(k) for k in ("rdb_bgsave_in_progress", "aof_rewrite_in_progress", "rdb_last_bgsave_status")}
    if info.get("rdb_bgsave_in_progress") or info.get("aof_rewrite_in_progress"):
        return False, ev, "a save or AOF rewrite is in progress"
    return True, ev, ""


def no_full_sync_storm(facts: dict[str, Any], params: dict[str, Any]) -> Result:
    bad = _unreadable(facts)
    if bad:
        return bad
    if not facts.get("window"):
        return False, {}, "needs two samples (the redis.replication probe)"
    storm = [f for f in assess(facts) if f.id == "redis.replication.full_sync_storm"]
    ev = {"full_sync_storm": bool(storm)}
    return not storm, ev, "replicas are caught in repeated full syncs" if storm else ""


def replicas_in_sync(facts: dict[str, Any], params: dict[str, Any]) -> Result:
    bad = _unreadable(facts)
    if bad:
        return bad
    info = facts.get("info") or {}
    max_lag = int(params.get("max_lag_bytes", 1024 * 1024))
    offset = int(info.get("master_repl_offset") or 0)
    reps = replicas(info)
    behind = [f"{r.get('ip')}:{r.get('port')}" for r in reps if r.get("state") != "online" or offset - int(r.get("offset") or 0) > max_lag]
    ev = {"replicas": len(reps), "not_in_sync": behind}
    if not reps:
        return False, ev, "no replica is attached"
    return not behind, ev, "" if not behind else f"not in sync: {', '.join(behind)}"


def config_writable(facts: dict[str, Any], params: dict[str, Any]) -> Result:
    bad = _unreadable(facts)
    if bad:
        return bad
    info = facts.get("info") or {}
    cf = info.get("config_file") or ""
    ev = {"config_file": cf, "config_readable": facts.get("config") is not None}
    if facts.get("config") is None:
        return False, ev, "CONFIG GET is refused or renamed"
    if not cf:
        return False, ev, "the server has no config file: CONFIG REWRITE would fail"
    return True, ev, ""
