"""Redis findings: pure functions of the facts read by probe.py (so recorded facts test them)."""

from __future__ import annotations

import time
from typing import Any

from runbook.catalog import make
from runbook.findings import Finding
from runbook.redis.info import keyspace, replicas
from runbook.redis.verdict import RestartPreview
from runbook.text import human_bytes

LAG_BYTES = 1024 * 1024
SLOW_SAVE_S = 60  # a BGSAVE or AOF rewrite running this long is a stall in the making
SWAP_MIN = 16 * 1024 * 1024
FRAG_MIN = 100 * 1024 * 1024  # below this the ratio of a small dataset means nothing
FRAG_RATIO = 1.5
LAG_SECONDS = 10
DEFAULT_OUTAGE_S = 60


def server_now(info: dict[str, Any]) -> int:
    """The server's clock when it answered INFO (findings are functions of the facts, not of when they
    are judged: a replayed scenario says the same thing every time)."""
    usec = info.get("server_time_usec")
    return int(usec) // 1_000_000 if isinstance(usec, int) and usec else int(time.time())


def _mb(n: float) -> str:
    return human_bytes(n)


def assess(facts: dict[str, Any]) -> list[Finding]:
    if not facts.get("reachable"):
        return [make("redis.unreachable", {"url": facts.get("url"), "error": facts.get("error", "no answer")})]
    out: list[Finding] = []
    info = facts.get("info") or {}
    config = facts.get("config")
    if config is None:
        out.append(make("redis.config.unreadable", {"error": facts.get("config_error", "")}))
    out += _persistence(info, facts)
    out += _memory(info, facts)
    out += _clients(info, facts)
    out += _host(info, facts)
    out += _replication_now(info, facts)
    if facts.get("restart_preview"):
        out += _preview(info, facts, facts["restart_preview"])
    if facts.get("window"):
        out += _window(info, config or {}, facts)
    if not any(f.id == "redis.replication.full_sync_storm" for f in out):
        look = storm_signals(info, facts)
        if look["conclusive"]:
            out.append(make("redis.replication.full_sync_storm", look["evidence"]))
    return out


def storm_signals(info: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    """What one look says of a full-sync storm: counters against the replicas known, replicas waiting for
    or receiving a full sync, a BGSAVE serving them, and the log's own lines of the last minute.
    suggestive: worth a second sample; conclusive: named from this look alone."""
    if info.get("role") != "master":
        return {"suggestive": False, "conclusive": False, "evidence": {}}
    reps = replicas(info)
    states = [str(r.get("state")) for r in reps]
    syncing = sum(1 for x in states if x in ("wait_bgsave", "send_bulk"))
    known = max(len(reps), int(info.get("connected_slaves") or 0), 1)
    full, perr = int(info.get("sync_full") or 0), int(info.get("sync_partial_err") or 0)
    log = facts.get("log") or {}
    recent = log.get("recent") or {}
    obuf = recent.get("output_buffer_disconnects", 0)
    resyncs = recent.get("full_resync_requested", 0)
    refused = recent.get("partial_resync_refused", 0)
    ev: dict[str, Any] = {
        "sync_full": full, "sync_partial_err": perr, "replicas": known,
        "full_syncs_per_replica": round(full / known, 1), "uptime_s": info.get("uptime_in_seconds"),
        "replicas_syncing": syncing, "replica_states": states, "rdb_bgsave_in_progress": info.get("rdb_bgsave_in_progress"),
    }
    if log.get("readable"):
        ev["log_last_minute"] = {"output_buffer_disconnects": obuf, "full_resync_requested": resyncs,
                                 "partial_resync_refused": refused}
        sample = (log.get("samples") or {}).get("output_buffer_disconnects") if obuf else None
        if sample:
            ev["log"] = sample
    repeated = full >= 2 * known and perr >= 1  # each replica needed more than one full sync
    suggestive = repeated or syncing > 0 or obuf > 0 or resyncs > known
    conclusive = (obuf >= 2 or (obuf >= 1 and (resyncs >= 1 or refused >= 1)) or resyncs >= 2 * known) and (
        repeated or syncing > 0 or bool(info.get("rdb_bgsave_in_progress")) or obuf >= 2)
    return {"suggestive": suggestive, "conclusive": conclusive, "evidence": ev}


def _persistence(info: dict[str, Any], facts: dict[str, Any]) -> list[Finding]:
    out = []
    if info.get("rdb_last_bgsave_status") == "err":
        ev = {
            "rdb_last_bgsave_status": "err",
            "rdb_changes_since_last_save": info.get("rdb_changes_since_last_save"),
            "last_successful_save_age_s": server_now(info) - int(info.get("rdb_last_save_time") or 0),
        }
        host = facts.get("host") or {}
        if host.get("cwd_deleted"):
            ev["cwd"] = host.get("cwd")
        sample = ((facts.get("log") or {}).get("samples") or {}).get("bgsave_errors")
        if sample:
            ev["log"] = sample
        out.append(make("redis.persistence.save_failing", ev))
    if info.get("aof_enabled") == 1 and info.get("aof_last_write_status") == "err":
        out.append(make("redis.persistence.aof_write_failing", {"aof_last_write_status": "err"}))
    delayed = int(info.get("aof_delayed_fsync") or 0)
    if info.get("aof_enabled") == 1 and delayed:
        out.append(make("redis.persistence.aof_fsync_slow", {
            "aof_delayed_fsync": delayed, "appendfsync": (facts.get("config") or {}).get("appendfsync"),
            "aof_rewrite_in_progress": info.get("aof_rewrite_in_progress"),
            "rdb_bgsave_in_progress": info.get("rdb_bgsave_in_progress")}))
    for what, running, secs in (("BGSAVE", "rdb_bgsave_in_progress", "rdb_current_bgsave_time_sec"),
                                ("AOF rewrite", "aof_rewrite_in_progress", "aof_current_rewrite_time_sec")):
        took = int(info.get(secs) or -1)
        if info.get(running) == 1 and took >= float(facts.get("slow_save_s") or SLOW_SAVE_S):
            used = int(info.get("used_memory") or 0)
            out.append(make("redis.persistence.save_slow", {
                "running": what, "running_for_s": took, "threshold_s": float(facts.get("slow_save_s") or SLOW_SAVE_S), "used_memory": human_bytes(used),
                "current_fork_perc": info.get("current_fork_perc"),
                "current_cow_size": human_bytes(int(info.get("current_cow_size") or 0))}))
    return out


def _clients(info: dict[str, Any], facts: dict[str, Any]) -> list[Finding]:
    """Connections refused at maxclients; clients dropped for their output buffers (pub/sub, normal)."""
    out = []
    rejected = int(info.get("rejected_connections") or 0)
    connected, maxclients = int(info.get("connected_clients") or 0), int(info.get("maxclients") or 0)
    if rejected:
        at_limit = bool(maxclients) and connected >= maxclients - 1
        out.append(make("redis.clients.rejected", {
            "rejected_connections": rejected, "connected_clients": connected, "maxclients": maxclients,
            "blocked_clients": info.get("blocked_clients"),
            "now": "at the limit" if at_limit else "below the limit now: the rejections happened earlier"},
            escalated=at_limit))
    log = facts.get("log") or {}
    n = (log.get("counts") or {}).get("client_output_buffer_disconnects", 0)
    if n:
        out.append(make("redis.clients.output_buffer_disconnects", {
            "disconnects_in_log_tail": n, "in_the_last_minute": (log.get("recent") or {}).get("client_output_buffer_disconnects", 0),
            "last": (log.get("samples") or {}).get("client_output_buffer_disconnects"),
            "client-output-buffer-limit": (facts.get("config") or {}).get("client-output-buffer-limit")}))
    return out


def _errorstat(info: dict[str, Any], name: str) -> int:
    """INFO errorstats: errorstat_OOM:count=12 -> 12."""
    v = str(info.get(f"errorstat_{name}") or "")
    return int(v.split("=", 1)[1]) if v.startswith("count=") and v[6:].isdigit() else 0


def _memory(info: dict[str, Any], facts: dict[str, Any]) -> list[Finding]:
    """The memory limit: reached (writes refused, keys evicted, or nothing left that may be evicted), or
    absent on a host where the kernel's OOM killer would decide instead."""
    out = []
    maxmemory = int(info.get("maxmemory") or 0)
    used = int(info.get("used_memory") or 0)
    policy = str(info.get("maxmemory_policy") or "noeviction")
    if maxmemory:
        oom = _errorstat(info, "OOM")
        evicted = int(info.get("evicted_keys") or 0)
        ks = keyspace(info)
        keys = sum(ks.values())
        expires = sum(int(v.get("expires", 0)) for k, v in info.items() if k in ks and isinstance(v, dict))
        full = used >= 0.95 * maxmemory
        nothing_to_evict = policy.startswith("volatile-") and keys and expires < 0.1 * keys
        if oom or (full and (evicted or nothing_to_evict or policy == "noeviction")):
            why = ("writes refused with OOM" if oom else f"{evicted:,} keys evicted" if evicted else
                   f"{policy} may evict only keys with a TTL, and {expires:,} of {keys:,} have one"
                   if nothing_to_evict else "at the limit under noeviction: the next writes are refused")
            out.append(make("redis.memory.maxmemory_reached", {
                "used_memory": human_bytes(used), "maxmemory": human_bytes(maxmemory), "maxmemory_policy": policy,
                "oom_errors": oom, "evicted_keys": evicted, "keys_with_ttl": f"{expires:,} of {keys:,}", "what": why}))
    host = facts.get("host") or {}
    swap = host.get("swap_bytes")
    rss = int(info.get("used_memory_rss") or 0)
    if isinstance(swap, int) and swap >= max(SWAP_MIN, 0.01 * rss):
        out.append(make("redis.memory.swapping", {"swapped_out": human_bytes(swap), "used_memory_rss": human_bytes(rss),
                                                  "pid": host.get("pid")}))
    frag_b = int(info.get("mem_fragmentation_bytes") or 0)
    ratio = info.get("mem_fragmentation_ratio")
    afrag_b = int(info.get("allocator_frag_bytes") or 0)
    if frag_b >= FRAG_MIN and isinstance(ratio, (int, float)) and ratio >= FRAG_RATIO:
        out.append(make("redis.memory.fragmentation", {
            "mem_fragmentation_ratio": ratio, "wasted": human_bytes(frag_b), "used_memory": human_bytes(used),
            "used_memory_rss": human_bytes(rss), "allocator_frag_ratio": info.get("allocator_frag_ratio"),
            "allocator_frag_bytes": human_bytes(afrag_b),
            "activedefrag": (facts.get("config") or {}).get("activedefrag")}))
    if not maxmemory:
        total = host.get("mem_total_bytes")
        cg = host.get("cgroup_memory_limit_bytes")
        limit = min(x for x in (total, cg) if isinstance(x, int) and x) if total or cg else None
        if limit and rss > 0.5 * limit:
            ev = {"used_memory_rss": human_bytes(rss), "host_memory": human_bytes(total) if total else None, "maxmemory": 0}
            if limit == cg and (not total or cg < total):
                ev["cgroup_memory_limit"] = human_bytes(cg)
                ev["cgroup"] = host.get("cgroup")
            out.append(make("redis.memory.no_limit", ev))
    return out


def _host(info: dict[str, Any], facts: dict[str, Any]) -> list[Finding]:
    host = facts.get("host") or {}
    if not (host.get("local") or host.get("on_host")):  # read on its host: here, or over ssh
        return []
    out = []
    oc = host.get("overcommit_memory")
    if oc is not None and oc != 1:
        out.append(make("redis.host.overcommit_memory", {"vm.overcommit_memory": oc}))
    if host.get("transparent_hugepages") == "always":
        out.append(make("redis.host.transparent_hugepages", {"enabled": "always"}))
    free = host.get("disk_free_bytes")
    used = info.get("used_memory_dataset") or info.get("used_memory") or 0
    if isinstance(free, int) and used and free < used * 1.2:
        out.append(make("redis.host.disk_space", {"dir": (facts.get("config") or {}).get("dir"), "free": _mb(free),
                                                  "dataset": _mb(used)}))
    return out


def _replication_now(info: dict[str, Any], facts: dict[str, Any]) -> list[Finding]:
    out = []
    if info.get("role") == "slave":
        mh, mp = str(info.get("master_host") or ""), info.get("master_port")
        self_by_id = bool(facts.get("master_run_id")) and str(facts.get("master_run_id")) == str(info.get("run_id"))
        self_by_addr = bool(facts.get("master_is_self_by_address"))
        if self_by_id or self_by_addr:
            out.append(make("redis.restart.replicaof_self", {
                "replicaof": f"{mh} {mp}", "where": "running server", "tcp_port": info.get("tcp_port"),
                "detected_by": "run_id" if self_by_id else "address",
                "master_link_status": info.get("master_link_status")},
                title="This server is a replica of itself: it is read-only and never syncs"))
        elif info.get("master_link_status") == "down":
            out.append(make("redis.replication.link_down", {
                "master": f"{mh}:{mp}", "master_link_down_since_seconds": info.get("master_link_down_since_seconds"),
                "master_sync_in_progress": info.get("master_sync_in_progress")}))
    elif info.get("role") == "master":
        offset = int(info.get("master_repl_offset") or 0)
        for i, r in enumerate(replicas(info)):
            lag_b = offset - int(r.get("offset") or 0)
            lag_s = r.get("lag")
            if r.get("state") == "online" and (lag_b > LAG_BYTES or (isinstance(lag_s, int) and lag_s > LAG_SECONDS)):
                out.append(make("redis.replication.replica_lag", {
                    "replica": f"{r.get('ip')}:{r.get('port')}", "lag_bytes": lag_b, "lag_s": lag_s}))
    return out


def _preview(info: dict[str, Any], facts: dict[str, Any], p: dict[str, Any]) -> list[Finding]:
    out = []
    pv = RestartPreview(p)
    keys_live = pv.keys_live
    base = {"config_file": p.get("config_file") or "(none)", "config_source": p.get("config_source") or ""}
    if p.get("reads_other_file"):
        base["running_config_file"] = p.get("running_config_file")
    if not p.get("config_file") and not p.get("running_config_file") and pv.reached:
        out.append(make("redis.restart.no_config_file", {"config_file": "", "keys_live": keys_live}))
    if pv.unproven and pv.simulated:  # a look that did not simulate proves nothing either way
        out.append(make("redis.restart.unproven", {**base, "not_proven": pv.unproven}))
    if pv.fails:
        out.append(make("redis.restart.would_fail", {**base, "reason": pv.fails}))
    aof = p.get("aof") or {}
    rdb = p.get("rdb") or {}
    if p.get("appendonly") == "yes" and p.get("starts_empty") and (keys_live > 0 or rdb.get("keys")):
        ev = {**base, "appendonly": "yes", "aof_dir": aof.get("dir"), "aof_dir_exists": aof.get("dir_exists"),
              "manifest_exists": aof.get("manifest_exists"), "keys_live": keys_live}
        if rdb.get("exists"):
            ev["rdb"] = rdb.get("path")
            ev["rdb_keys"] = rdb.get("keys")
        out.append(make("redis.restart.aof_missing", ev))
    if aof.get("problems"):
        out.append(make("redis.restart.aof_damaged", {**base, "aof_dir": aof.get("dir"), "problems": aof["problems"],
                                                      "exits_at_start": bool(aof.get("fatal"))}))
    loss = pv.loss()
    cache = is_cache(facts) if loss else {}
    if loss and cache:
        out.append(make("redis.restart.empties_cache", {
            **base, "keys_live": loss.keys_live, "keys_after_restart": loss.keys_after, **cache},
            title=f"A restart empties this cache: {loss.keys_live:,} keys, by design"))
    elif loss:
        lost = (p.get("data_loss") or {}).get("lost")
        ev = {**base, "keys_after_restart": loss.keys_after, "keys_live": loss.keys_live, "lost": lost,
              "why": loss.why, "shutdown": (p.get("data_loss") or {}).get("shutdown"), "loads": p.get("loads"),
              "path": p.get("path")}
        if loss.safe_modes:
            ev["safe_with"] = [f"SHUTDOWN {m.upper()}" if m != "default" else "SHUTDOWN" for m in loss.safe_modes]
        title = None if loss.keys_after is None else \
            f"A restart would come up with {loss.keys_after:,} of {loss.keys_live:,} keys"
        out.append(make("redis.restart.data_loss", {k: v for k, v in ev.items() if v is not None}, title=title))
    elif p.get("loads") == "rdb" and not (p.get("stop") or {}).get("current", {}).get(pv.mode):
        changes = int(info.get("rdb_changes_since_last_save") or 0)
        if changes > 0 and keys_live > 0:
            age = server_now(info) - int(info.get("rdb_last_save_time") or 0)
            out.append(make("redis.restart.snapshot_stale", {**base, "path": p.get("path"),
                                                             "rdb_changes_since_last_save": changes,
                                                             "last_save_age_s": age}))
    if p.get("diff"):
        out.append(make("redis.restart.config_drift", {**base, "differences": p["diff"],
                                                       "files_read": p.get("files") or []}))
    if p.get("moves"):
        out.append(make("redis.restart.moves", {**base, **p["moves"]}))
    if p.get("auth_changes"):
        out.append(make("redis.restart.auth_changes", {**base, **p["auth_changes"]}))
    if p.get("read_only"):
        out.append(make("redis.restart.read_only", {**base, **p["read_only"]}))
    if p.get("role_changes"):
        out.append(make("redis.restart.role_changes", {**base, **p["role_changes"]}))
    if p.get("clients_break"):
        out.append(make("redis.restart.clients_break", {**base, **p["clients_break"]}))
    if p.get("sentinel_failover"):
        sf = p["sentinel_failover"]
        out.append(make("redis.restart.sentinel_failover", {**base, **sf},
                        action=f"Fail over first: SENTINEL FAILOVER {sf.get('master_name')} on a Sentinel (the "
                               "Sentinel playbook), then restart the old master as a replica."))
    if p.get("cluster_forgets"):
        out.append(make("redis.restart.cluster_forgets", {**base, **p["cluster_forgets"]}))
    fr = p.get("file_replicaof") or {}
    if fr and not p.get("resyncs_from_current_master"):
        self_by_id = bool(fr.get("run_id")) and str(fr.get("run_id")) == str(info.get("run_id"))
        if self_by_id or fr.get("self_by_address"):
            out.append(make("redis.restart.replicaof_self", {
                **base, "replicaof": p.get("replicaof"), "where": "config file",
                "port_after_restart": (p.get("file") or {}).get("port"),
                "detected_by": "run_id" if self_by_id else "address"}))
        else:
            ev = {**base, "replicaof": p.get("replicaof"), "role_now": info.get("role")}
            if fr.get("keys") is not None:
                ev["peer_keys"] = fr["keys"]
                ev["keys_live"] = keys_live
            elif not fr.get("reachable"):
                ev["peer"] = "not reachable: the replica would wait, read-only, with no data from it"
            out.append(make("redis.restart.becomes_replica", ev, escalated=info.get("role") != "master"))
    return out


def is_cache(facts: dict[str, Any]) -> dict[str, Any]:
    """Why this server is a cache, whose data a restart may empty by design ({} when it is not, or when
    anything says its data matters): no persistence at all, an eviction policy, no replica that would
    sync the empty dataset over its own copy; or the inventory says `data: cache`. `data: store` wins."""
    p = facts.get("restart_preview") or {}
    declared = p.get("declared_data") or ""
    if declared == "store":
        return {}
    if declared == "cache":
        return {"cache": "the inventory says data: cache"}
    info, live = facts.get("info") or {}, facts.get("config") or {}
    policy = str(live.get("maxmemory-policy") or info.get("maxmemory_policy") or "")
    if (not live or str(live.get("save", "x")).strip() or str(live.get("appendonly")) != "no"
            or policy in ("", "noeviction") or int(info.get("connected_slaves") or 0) or info.get("role") != "master"
            or (p.get("file") or {}).get("appendonly") == "yes"):
        return {}
    return {"cache": "no persistence by design (save \"\", appendonly no) and keys are evicted "
                     f"({policy}); no replica", "maxmemory-policy": policy}


def parse_output_buffer_limit(v: str) -> dict[str, tuple[int, int, int]]:
    parts = (v or "").split()
    out = {}
    for i in range(0, len(parts) - 3, 4):
        try:
            out[parts[i]] = (int(parts[i + 1]), int(parts[i + 2]), int(parts[i + 3]))
        except ValueError:
            continue
    if "slave" in out and "replica" not in out:
        out["replica"] = out["slave"]
    return out


def _window(info: dict[str, Any], config: dict[str, Any], facts: dict[str, Any]) -> list[Finding]:
    """Findings over two samples: the storm, and backlog / buffer sizing from the measured write rate."""
    w = facts["window"]
    out = []
    d_full, d_perr, d_pok = w.get("d_sync_full", 0), w.get("d_sync_partial_err", 0), w.get("d_sync_partial_ok", 0)
    states = [r.get("state") for r in replicas(info)]
    syncing = [s for s in states if s in ("wait_bgsave", "send_bulk")]
    log = (facts.get("log") or {}).get("counts") or {}
    d_obuf = w.get("d_log_output_buffer_disconnects", 0)
    storm = d_full >= 2 or (d_full >= 1 and d_perr >= 1) or (d_full >= 1 and d_obuf >= 1)
    if storm:
        ev: dict[str, Any] = {
            "window_s": w.get("dt_s"),
            "sync_full": f"{w.get('sync_full_before')} -> {info.get('sync_full')}",
            "sync_partial_err": f"{w.get('sync_partial_err_before')} -> {info.get('sync_partial_err')}",
            "sync_partial_ok_delta": d_pok,
            "replicas_syncing": len(syncing),
            "replica_states": states,
            "rdb_bgsave_in_progress": info.get("rdb_bgsave_in_progress"),
            "connected_slaves": info.get("connected_slaves"),
        }
        if log:
            ev["log_output_buffer_disconnects"] = log.get("output_buffer_disconnects", 0)
            ev["log_partial_resync_refused"] = log.get("partial_resync_refused", 0)
            sample = (facts.get("log") or {}).get("samples", {}).get("output_buffer_disconnects")
            if sample:
                ev["log"] = sample
        out.append(make("redis.replication.full_sync_storm", ev))
    rate = w.get("write_rate_bps") or 0
    outage = w.get("outage_s") or DEFAULT_OUTAGE_S
    if info.get("role") == "master" and rate > 0:
        backlog = int(info.get("repl_backlog_size") or config.get("repl-backlog-size") or 0)
        covers = backlog / rate if rate else float("inf")
        if covers < outage:
            want = int(rate * outage * 1.5)
            want_mb = (want + 1048575) // 1048576
            out.append(make("redis.replication.backlog_too_small", {
                "write_rate": f"{_mb(rate)}/s", "repl_backlog_size": _mb(backlog), "covers_s": round(covers, 1),
                "outage_to_survive_s": outage, "suggested_repl_backlog_size": f"{want_mb}mb ({human_bytes(want_mb * 1048576)})"},
                action=f"CONFIG SET repl-backlog-size {want_mb}mb (covers {outage} s at {_mb(rate)}/s with 50% margin), "
                       "then CONFIG REWRITE."))
        limits = parse_output_buffer_limit(str(config.get("client-output-buffer-limit") or ""))
        hard = limits.get("replica", (0, 0, 0))[0]
        used = int(info.get("used_memory_dataset") or info.get("used_memory") or 0)
        sync_s = max(10.0, 2.0 * float(info.get("rdb_last_bgsave_time_sec") or 0) + used / (100 * 1048576))
        need = rate * sync_s
        if hard and hard < need:
            want_mb = int(need * 1.5 + 1048575) // 1048576
            out.append(make("redis.replication.output_buffer_too_small", {
                "write_rate": f"{_mb(rate)}/s", "replica_hard_limit": _mb(hard), "full_sync_estimate_s": round(sync_s, 1),
                "needed": _mb(need)},
                action=f"CONFIG SET client-output-buffer-limit \"replica {want_mb}mb {max(1, want_mb // 2)}mb 60\", then CONFIG REWRITE."))
    return out


def keys_live(info: dict[str, Any]) -> int:
    return sum(keyspace(info).values())
