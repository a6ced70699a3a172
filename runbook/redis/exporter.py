"""redis_exporter's series as the INFO fields the finding rules read: the mapping `runbook fleet` judges a
fleet by, so that a rule gives the same finding whether its facts came from INFO or from Prometheus.

Pure: the queries are strings, the answers plain (labels, value) pairs; nothing here reads the network.
Each query covers the whole fleet (an instant query per series, or the increase of a counter over the
window), never one instance. A series whose healthy value is known is asked only where it differs
(`... != 1`, `... > 0`): most of a fleet is healthy, and an instance that Prometheus does not list for it
has that value. What the exporter does not export (the config file, the host, the log, the data on
disk) is not guessed: NOT_FROM_PROMETHEUS names the findings only a live `redis check` can make.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

# One answer of Prometheus: (the series' labels, its value); Prometheus' own answer is a list of these.
Sample = tuple[dict[str, str], float]


def _int(v: float) -> int:
    return int(round(v))


def _status(v: float) -> str:
    return "ok" if v >= 1 else "err"


@dataclass(frozen=True)
class Series:
    """One exporter series read for the whole fleet, and the INFO field it gives.

    healthy: the value an instance has when Prometheus does not list it, because the query asks only for
    the others (`query` then filters); None: the query lists every instance and absent means unknown."""

    series: str
    field: str
    convert: Callable[[float], Any] = _int
    healthy: float | None = None
    only: str = ""  # a label filter inside the selector (errors_total: err="OOM")
    sum: bool = False  # summed over the instance's series (the databases' keys)

    def query(self, match: str) -> str:
        sel = ",".join(x for x in (self.only, match) if x)
        q = f"{'sum' if self.sum else 'max'} by (instance) ({self.series}{{{sel}}})"
        if self.healthy is None:
            return q
        return f"{q} != {self.healthy:g}"


# The mapping (README: "From exporter series to facts" is this table).
SERIES: tuple[Series, ...] = (
    Series("redis_connected_clients", "connected_clients"),
    Series("redis_config_maxclients", "maxclients"),
    Series("redis_blocked_clients", "blocked_clients", healthy=0),
    Series("redis_rejected_connections_total", "rejected_connections", healthy=0),
    Series("redis_memory_used_bytes", "used_memory"),
    Series("redis_memory_used_rss_bytes", "used_memory_rss"),
    Series("redis_memory_used_dataset_bytes", "used_memory_dataset"),
    Series("redis_memory_max_bytes", "maxmemory", healthy=0),
    Series("redis_mem_fragmentation_ratio", "mem_fragmentation_ratio", float),
    Series("redis_mem_fragmentation_bytes", "mem_fragmentation_bytes"),
    Series("redis_allocator_frag_ratio", "allocator_frag_ratio", float),
    Series("redis_allocator_frag_bytes", "allocator_frag_bytes"),
    Series("redis_evicted_keys_total", "evicted_keys", healthy=0),
    Series("redis_errors_total", "errorstat_OOM", lambda v: f"count={_int(v)}", healthy=0, only='err="OOM"'),
    Series("redis_db_keys", "keys", healthy=0, sum=True),
    Series("redis_db_keys_expiring", "expires", healthy=0, sum=True),
    Series("redis_rdb_last_bgsave_status", "rdb_last_bgsave_status", _status, healthy=1),
    Series("redis_rdb_changes_since_last_save", "rdb_changes_since_last_save", healthy=0),
    Series("redis_rdb_last_save_timestamp_seconds", "rdb_last_save_time"),
    Series("redis_rdb_bgsave_in_progress", "rdb_bgsave_in_progress", healthy=0),
    Series("redis_rdb_current_bgsave_duration_sec", "rdb_current_bgsave_time_sec", healthy=-1),
    Series("redis_aof_enabled", "aof_enabled", healthy=0),
    Series("redis_aof_last_write_status", "aof_last_write_status", _status, healthy=1),
    Series("redis_aof_delayed_fsync", "aof_delayed_fsync", healthy=0),
    Series("redis_aof_rewrite_in_progress", "aof_rewrite_in_progress", healthy=0),
    Series("redis_aof_current_rewrite_duration_sec", "aof_current_rewrite_time_sec", healthy=-1),
    Series("redis_latest_fork_seconds", "latest_fork_usec", lambda v: _int(v * 1_000_000), healthy=0),
    Series("redis_connected_slaves", "connected_slaves", healthy=0),
    Series("redis_master_repl_offset", "master_repl_offset", healthy=0),
    Series("redis_replication_backlog_bytes", "repl_backlog_size"),
    Series("redis_replica_resyncs_full", "sync_full", healthy=0),
    Series("redis_replica_partial_resync_denied", "sync_partial_err", healthy=0),
    Series("redis_replica_partial_resync_accepted", "sync_partial_ok", healthy=0),
    Series("redis_uptime_in_seconds", "uptime_in_seconds"),
)

# Series whose labels carry the facts: the server's role and policy, a replica's link, a master's replicas.
INFO_LABELS = ("role", "maxmemory_policy", "redis_mode", "redis_version", "tcp_port")
LABELLED = {
    "info": "max by (instance, " + ", ".join(INFO_LABELS) + ") (redis_instance_info{{{match}}})",
    "link": "max by (instance, master_host, master_port) (redis_master_link_up{{{match}}})",
    "sync": "max by (instance) (redis_master_sync_in_progress{{{match}}}) > 0",
    "replica_offset": "max by (instance, slave_ip, slave_port, slave_state) (redis_connected_slave_offset_bytes{{{match}}})",
    "replica_lag": "max by (instance, slave_ip, slave_port, slave_state) (redis_connected_slave_lag_seconds{{{match}}})",
    "up": "max by (instance) (redis_up{{{match}}})",
    # a scrape that failed (a server that hangs past the scrape timeout) leaves no redis_up: Prometheus' own
    # up, for the jobs that scrape redis_exporter (the jobs of `scraped`)
    "down": "max by (instance, job) (up{{{match}}} == 0)",
    "scraped": "max by (instance, job) (timestamp(redis_up{{{match}}}))",
}

# Counters over the window: what happened in it, so a storm is named from Prometheus' history.
WINDOW = {
    "d_sync_full": "increase(redis_replica_resyncs_full{{{match}}}[{window}])",
    "d_sync_partial_err": "increase(redis_replica_partial_resync_denied{{{match}}}[{window}])",
    "d_sync_partial_ok": "increase(redis_replica_partial_resync_accepted{{{match}}}[{window}])",
    "write_rate_bps": "rate(redis_master_repl_offset{{{match}}}[{window}])",
    "d_rejected_connections": "increase(redis_rejected_connections_total{{{match}}}[{window}])",
    "d_evicted_keys": "increase(redis_evicted_keys_total{{{match}}}[{window}])",
}

# What a live `redis check` names and Prometheus cannot tell, and why (the README's table is this one).
NOT_FROM_PROMETHEUS: dict[str, str] = {
    "redis.restart.*": "the restart preview reads the config file a restart would read and the data on disk",
    "redis.config.unreadable": "whether CONFIG GET is allowed is not exported",
    "redis.memory.swapping": "swap is read from the server's process on its host (/proc)",
    "redis.memory.no_limit": "the host's memory and the server's cgroup limit are read on its host",
    "redis.clients.output_buffer_disconnects": "read from the server's log",
    "redis.host.*": "overcommit, transparent huge pages and free disk are read on the server's host",
    "redis.replication.replicaof_self": "needs the master's run_id, read from the address it replicates from",
    "redis.replication.output_buffer_too_small": "client-output-buffer-limit is config, not exported",
    "redis.latency.slow_commands": "SLOWLOG entries (commands, times, clients) are not exported",
    "redis.sentinel.*": "read from a Sentinel itself",
    "redis.cluster.*": "read from CLUSTER INFO and CLUSTER NODES",
}

# The ids judged from Prometheus' facts; the window's need its history (a live look names them only
# with `redis check --interval`, or a storm from the server's log).
FROM_PROMETHEUS = (
    "redis.unreachable", "redis.memory.maxmemory_reached", "redis.memory.fragmentation", "redis.clients.rejected",
    "redis.persistence.save_failing", "redis.persistence.aof_write_failing", "redis.persistence.aof_fsync_slow",
    "redis.persistence.save_slow", "redis.replication.link_down", "redis.replication.replica_lag",
    "redis.latency.fork",
)
FROM_WINDOW = ("redis.replication.full_sync_storm", "redis.replication.backlog_too_small")


def selector(match: str) -> str:
    """--match as label matchers for inside {}: `job="redis"`, `{job="redis",env="prod"}`. A bad one is
    refused by Prometheus itself, whose words are shown."""
    m = (match or "").strip()
    if m.startswith("{") and m.endswith("}"):
        m = m[1:-1].strip()
    return m


def queries(match: str = "", window: str = "5m", instances: Iterable[str] = ()) -> dict[str, str]:
    """Every query of the full facts, by the name its answer is filed under: of the whole fleet, or of
    these instances only (`instance=~"a|b"`)."""
    sel = ",".join(x for x in (selector(match), instance_matcher(instances)) if x)
    out = {k: q.format(match=sel) for k, q in LABELLED.items()}
    out.update({f"s:{s.field}": s.query(sel) for s in SERIES})
    out.update({f"w:{k}": f"({q.format(match=sel, window=window)}) > 0" for k, q in WINDOW.items()})
    return out


def instance_matcher(instances: Iterable[str]) -> str:
    """`instance=~"..."` naming exactly these instances (RE2 and PromQL string escapes), "" for none."""
    names = sorted(set(instances))
    if not names:
        return ""
    alt = "|".join(re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", n) for n in names)
    return 'instance=~"' + alt.replace("\\", "\\\\").replace('"', '\\"') + '"'


def suspects(match: str = "", window: str = "5m") -> dict[str, str]:
    """The pre-filter: for each rule judged from Prometheus, a query for the instances where a necessary
    condition of that rule holds (its own thresholds, a little wide of them against rounding). Only those
    instances' full facts are read and judged: an instance none of these name cannot have a finding from
    Prometheus (tests compare with --judge-all, which judges every instance on its full facts)."""
    from runbook.redis import assess, latency

    m = selector(match)
    oom = _and('err="OOM"', m)
    by = "max by (instance)"
    q = {
        "redis.unreachable": f"{by} (redis_up{{{m}}}) != 1",
        "redis.memory.maxmemory_reached": f"{by} (redis_errors_total{{{oom}}}) > 0 or "
                                          f"{by} (redis_memory_used_bytes{{{m}}}) >= 0.949 * "
                                          f"({by} (redis_memory_max_bytes{{{m}}}) > 0)",
        "redis.memory.fragmentation": f"{by} (redis_mem_fragmentation_bytes{{{m}}}) >= {assess.FRAG_MIN * 0.999:.0f} "
                                      f"and {by} (redis_mem_fragmentation_ratio{{{m}}}) >= {assess.FRAG_RATIO * 0.999:g}",
        "redis.clients.rejected": f"{by} (redis_rejected_connections_total{{{m}}}) > 0",
        "redis.persistence.save_failing": f"{by} (redis_rdb_last_bgsave_status{{{m}}}) != 1",
        "redis.persistence.aof_write_failing": f"{by} (redis_aof_last_write_status{{{m}}}) != 1",
        "redis.persistence.aof_fsync_slow": f"{by} (redis_aof_delayed_fsync{{{m}}}) > 0",
        "redis.persistence.save_slow": f"{by} (redis_rdb_bgsave_in_progress{{{m}}}) > 0 or "
                                       f"{by} (redis_aof_rewrite_in_progress{{{m}}}) > 0",
        "redis.replication.link_down": f"{by} (redis_master_link_up{{{m}}}) != 1",
        "redis.replication.replica_lag": f"{by} (redis_connected_slave_lag_seconds{{{m}}}) > {assess.LAG_SECONDS - 1} or "
                                         f"({by} (redis_master_repl_offset{{{m}}}) - min by (instance) "
                                         f"(redis_connected_slave_offset_bytes{{{m}}})) > {assess.LAG_BYTES - 1024}",
        "redis.latency.fork": f"{by} (redis_latest_fork_seconds{{{m}}}) >= {latency.FORK_MS / 1000 * 0.999:g}",
        "redis.replication.full_sync_storm": f"{by} (increase(redis_replica_resyncs_full{{{m}}}[{window}])) > 0",
        # the backlog covers less than the outage to survive at the write rate (redis_exporter always exports
        # the backlog's size: INFO has it on every server)
        "redis.replication.backlog_too_small": f"{by} (redis_replication_backlog_bytes{{{m}}}) / "
                                               f"{by} (rate(redis_master_repl_offset{{{m}}}[{window}])) "
                                               f"< {assess.DEFAULT_OUTAGE_S * 1.01:g}",
    }
    return q


def _and(*matchers: str) -> str:
    return ",".join(x for x in matchers if x)


def scrape_failed(answers: dict[str, list[Sample]]) -> set[str]:
    """The instances of a redis_exporter job (one that gives redis_up) whose scrape failed (up 0)."""
    jobs = {labels.get("job") for labels, _ in answers.get("scraped", ())}
    return {labels.get("instance", "") for labels, _ in answers.get("down", ()) if labels.get("job") in jobs}


def _by_instance(samples: Iterable[Sample]) -> dict[str, float]:
    return {labels.get("instance", ""): v for labels, v in samples}


def facts_from(answers: dict[str, list[Sample]], window_s: float, now: float) -> dict[str, dict[str, Any]]:
    """The facts of every instance Prometheus knows (those with redis_up), as `redis check` reads them:
    url, reachable, info (INFO's field names), window (the counters' increase over it), scraped_at.
    config is {}: read, but nothing of it is exported (so no rule takes it for CONFIG refused)."""
    up = _by_instance(answers.get("up", ()))
    for inst in scrape_failed(answers):
        up.setdefault(inst, -1.0)
    scraped = _by_instance(answers.get("scraped", ()))
    fleet: dict[str, dict[str, Any]] = {}
    infos: dict[str, dict[str, Any]] = {}
    for inst, v in up.items():
        f: dict[str, Any] = {"url": inst, "reachable": v >= 1, "source": "prometheus", "scraped_at": scraped.get(inst)}
        if v >= 1:
            info: dict[str, Any] = {"server_time_usec": int(now * 1_000_000)}
            f["info"], f["config"] = info, {}
            infos[inst] = info
        else:
            f["error"] = "redis_exporter could not read it (redis_up 0)" if v == 0 else \
                "Prometheus could not scrape it (up 0: the exporter did not answer in time)"
        fleet[inst] = f
    for labels, _ in answers.get("info", ()):
        info = infos.get(labels.get("instance", ""))
        if info is not None:
            for k in INFO_LABELS:
                if k in labels:
                    info[k] = int(labels[k]) if k == "tcp_port" and labels[k].isdigit() else labels[k]
    for s in SERIES:
        got = answers.get(f"s:{s.field}", ())
        if s.healthy is not None:
            default = s.convert(s.healthy)
            for info in infos.values():
                info[s.field] = default
        for labels, v in got:
            info = infos.get(labels.get("instance", ""))
            if info is not None:
                info[s.field] = s.convert(v)
    for info in infos.values():  # the keyspace as INFO gives it (one db holding the instance's totals)
        keys, expires = info.pop("keys", 0), info.pop("expires", 0)
        if keys:
            info["db0"] = {"keys": keys, "expires": expires}
    for labels, v in answers.get("link", ()):
        info = infos.get(labels.get("instance", ""))
        if info is not None:
            info["master_link_status"] = "up" if v >= 1 else "down"
            info["master_host"] = labels.get("master_host", "")
            port = labels.get("master_port", "")
            info["master_port"] = int(port) if port.isdigit() else port
            info.setdefault("master_sync_in_progress", 0)
    for labels, v in answers.get("sync", ()):
        info = infos.get(labels.get("instance", ""))
        if info is not None:
            info["master_sync_in_progress"] = _int(v)
    _replicas(infos, answers.get("replica_offset", ()), answers.get("replica_lag", ()))
    for inst, f in fleet.items():
        if inst in infos:
            f["window"] = {"dt_s": window_s, "from": "prometheus"}
    for key in WINDOW:
        for labels, v in answers.get(f"w:{key}", ()):
            f = fleet.get(labels.get("instance", ""))
            if f is not None and "window" in f:
                f["window"][key] = round(v, 1) if key == "write_rate_bps" else _int(v)
    for inst, f in fleet.items():
        w = f.get("window")
        if w is None:
            continue
        info = infos[inst]
        for k in ("d_sync_full", "d_sync_partial_err", "d_sync_partial_ok"):
            w.setdefault(k, 0)
        w.setdefault("write_rate_bps", 0.0)
        w["sync_full_before"] = max(0, int(info.get("sync_full") or 0) - w["d_sync_full"])
        w["sync_partial_err_before"] = max(0, int(info.get("sync_partial_err") or 0) - w["d_sync_partial_err"])
    return fleet


def _replicas(infos: dict[str, dict[str, Any]], offsets: Iterable[Sample], lags: Iterable[Sample]) -> None:
    """A master's replicas as INFO's slaveN lines (ip, port, state, offset, lag), in a stable order."""
    found: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for samples, key in ((offsets, "offset"), (lags, "lag")):
        for labels, v in samples:
            inst = labels.get("instance", "")
            if inst not in infos:
                continue
            addr = (labels.get("slave_ip", ""), labels.get("slave_port", ""))
            r = found.setdefault(inst, {}).setdefault(addr, {
                "ip": addr[0], "port": int(addr[1]) if addr[1].isdigit() else addr[1],
                "state": labels.get("slave_state", "")})
            r[key] = _int(v)
    for inst, reps in found.items():
        for i, addr in enumerate(sorted(reps)):
            infos[inst][f"slave{i}"] = reps[addr]
