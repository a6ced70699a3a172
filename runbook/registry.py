"""The table of probes, guards and actions that playbooks may name.

Names are known here without importing the domain code, so `runbook validate` stays fast;
implementations are imported when first used.

- A probe reads (I/O) and returns plain facts; its `assess` turns facts into findings (pure).
- A guard is a pure function of the facts of one probe, read fresh just before an action.
- An action is the only code that changes anything; `describe` gives the exact command.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable


def _resolve(ref: str) -> Callable[..., Any]:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class ProbeSpec:
    name: str
    target_kind: str
    read: str  # "module:function(target, params, timeout) -> dict"
    assess: str  # "module:function(facts) -> list[Finding]"
    doc: str
    intrusive: str = ""  # why it is not a plain read ("forces a full GC"): never run without consent

    def read_fn(self) -> Callable[..., dict[str, Any]]:
        return _resolve(self.read)

    def assess_fn(self) -> Callable[..., list[Any]]:
        return _resolve(self.assess)


@dataclass(frozen=True)
class GuardSpec:
    name: str
    probe: str
    check: str  # "module:function(facts, params) -> (passed, evidence, reason)"
    doc: str

    def check_fn(self) -> Callable[..., tuple[bool, dict[str, Any], str]]:
        return _resolve(self.check)


@dataclass(frozen=True)
class ActionSpec:
    name: str
    target_kind: str
    impl: str  # "module:Name", an object with describe(target, params) -> str and run(target, params, timeout) -> dict
    doc: str
    guards: tuple[str, ...] = ()  # always evaluated, in addition to the playbook's
    params: dict[str, str] = field(default_factory=dict)  # name -> "str" | "int" | "list" | "bool"
    guard_params: tuple[str, ...] = ()  # params of the action its guards' probes read (e.g. the shutdown mode)

    def impl_obj(self) -> Any:
        return _resolve(self.impl)

    def probe_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return {k: params[k] for k in self.guard_params if k in params}


PROBES: dict[str, ProbeSpec] = {
    p.name: p
    for p in [
        ProbeSpec("host.basic", "host", "runbook.host.probes:basic", "runbook.host.probes:assess_basic",
                  "host name, load average, CPUs, memory"),
        ProbeSpec("host.disk", "host", "runbook.host.probes:disk", "runbook.host.probes:assess_disk",
                  "free space of params.path (default /)"),
        ProbeSpec("host.memory", "host", "runbook.host.probes:memory", "runbook.host.probes:assess_memory",
                  "available memory, swap and its rate over params.interval_s, memory pressure (PSI), the "
                  "largest processes (params: low_pct, default 10)"),
        ProbeSpec("host.file", "host", "runbook.host.probes:file", "runbook.host.probes:assess_none",
                  "whether params.path exists, its size and its first 4 KiB (a flag, a lock, a pid file)"),
        ProbeSpec("redis.check", "redis", "runbook.redis.check:probe", "runbook.redis.check:assess",
                  "INFO, CONFIG GET *, ROLE, host facts where local, and the restart preview"),
        ProbeSpec("redis.replication", "redis", "runbook.redis.check:probe_replication",
                  "runbook.redis.check:assess", "two samples a few seconds apart: storm, backlog, lag"),
        ProbeSpec("redis.command", "redis", "runbook.redis.command:probe", "runbook.redis.command:assess",
                  "one allow-listed read command (params.command: [SLOWLOG, GET, 10]); facts.reply is its answer"),
        ProbeSpec("redis.clients", "redis", "runbook.redis.clients:probe", "runbook.redis.clients:assess",
                  "CLIENT LIST: connections per address, largest output buffers, pub/sub and blocked clients "
                  "(params.ip: the clients of that address)"),
        ProbeSpec("redis.latency", "redis", "runbook.redis.latency:probe", "runbook.redis.latency:assess",
                  "SLOWLOG (command and key, never values), LATENCY LATEST, the last fork's duration "
                  "(params: recent_s, fork_ms)"),
        ProbeSpec("redis.sentinel", "redis", "runbook.redis.sentinel:probe", "runbook.redis.sentinel:assess",
                  "a Sentinel's masters: flags, quorum check, replicas and their link (the target is the Sentinel)"),
        ProbeSpec("redis.cluster", "redis", "runbook.redis.cluster:probe", "runbook.redis.cluster:assess",
                  "CLUSTER INFO and CLUSTER NODES: state, slot coverage, failed nodes, masters without replicas"),
        ProbeSpec("jvm.check", "jvm", "runbook.jvm.live:probe", "runbook.jvm.live:assess",
                  "collector, heap settings, GC log and its rotation, heap dump settings"),
        ProbeSpec("jvm.thread_dump", "jvm", "runbook.jvm.live:probe_thread_dump", "runbook.jvm.live:assess_diagnostics",
                  "jcmd Thread.print: thread states and deadlocks (a safe diagnostic)"),
        ProbeSpec("jvm.threads", "jvm", "runbook.jvm.threads:probe", "runbook.jvm.threads:assess",
                  "per-thread CPU over params.interval_s (default 1) from /proc, named from a thread dump: the "
                  "hottest threads, their kind (application, GC, JIT compiler) and top frames (params: hot_pct)"),
        ProbeSpec("jvm.memory", "jvm", "runbook.jvm.memory:probe", "runbook.jvm.memory:assess",
                  "two jstat -gc samples (params.interval_s, default 2), VM.flags, the code cache, RSS and the "
                  "cgroup's memory limit (params: old_full_pct, metaspace_pct, codecache_pct)"),
        ProbeSpec("jvm.class_histogram", "jvm", "runbook.jvm.live:probe_class_histogram",
                  "runbook.jvm.live:assess_diagnostics", "jcmd GC.class_histogram: the top classes by bytes",
                  intrusive="forces a full GC: it stops the JVM for as long as a full collection takes"),
        ProbeSpec("jvm.gc_log", "jvm", "runbook.jvm.live:probe_gc_log", "runbook.jvm.live:assess_gc_log",
                  "analysis of the JVM's GC log"),
    ]
}

GUARDS: dict[str, GuardSpec] = {
    g.name: g
    for g in [
        GuardSpec("host.reachable", "host.basic", "runbook.host.probes:guard_reachable",
                  "the host could be read"),
        GuardSpec("redis.restart_is_safe", "redis.check", "runbook.redis.guards:restart_is_safe",
                  "no critical restart-preview finding: a restart loads the live data and comes up writable"),
        GuardSpec("redis.is_master", "redis.check", "runbook.redis.guards:is_master", "the server is a master"),
        GuardSpec("redis.is_replica", "redis.check", "runbook.redis.guards:is_replica", "the server is a replica"),
        GuardSpec("redis.saves_ok", "redis.check", "runbook.redis.guards:saves_ok",
                  "the last background save succeeded and none is in progress"),
        GuardSpec("redis.no_save_running", "redis.check", "runbook.redis.guards:no_save_running",
                  "no background save or AOF rewrite is running"),
        GuardSpec("redis.no_full_sync_storm", "redis.replication", "runbook.redis.guards:no_full_sync_storm",
                  "replicas are not caught in repeated full syncs"),
        GuardSpec("redis.replicas_in_sync", "redis.check", "runbook.redis.guards:replicas_in_sync",
                  "every replica is online and close to the master's offset"),
        GuardSpec("redis.config_writable", "redis.check", "runbook.redis.guards:config_writable",
                  "the server was started from a config file that CONFIG REWRITE can update"),
        GuardSpec("redis.client_kill_preview", "redis.clients", "runbook.redis.clients:guard_kill_preview",
                  "the clients of params.ip, listed: at least one, at most params.max_clients, no replication link"),
        GuardSpec("redis.not_managed_by_sentinel", "redis.clients", "runbook.redis.clients:guard_not_managed_by_sentinel",
                  "no Sentinel is connected to the server (a role changed by hand under Sentinel is undone)"),
        GuardSpec("redis.sentinel_can_failover", "redis.sentinel", "runbook.redis.failover:guard_sentinel_can_failover",
                  "the Sentinel has quorum for params.master and a replica in sync, and no failover is running"),
        GuardSpec("redis.cluster_failover_not_forced", "redis.check", "runbook.redis.failover:guard_not_forced",
                  "a coordinated CLUSTER FAILOVER (FORCE and TAKEOVER only with the glass broken)"),
        GuardSpec("jvm.disk_for_heap_dump", "jvm.check", "runbook.jvm.live:guard_disk_for_heap_dump",
                  "the dump directory has room for a dump the size of the heap"),
    ]
}

ACTIONS: dict[str, ActionSpec] = {
    a.name: a
    for a in [
        ActionSpec("host.command", "host", "runbook.host.actions:Command",
                   "run params.command (a list of arguments, never a shell string)",
                   params={"command": "list", "timeout": "int"}),
        ActionSpec("redis.restart", "redis", "runbook.redis.actions:Restart",
                   "stop (SHUTDOWN in params.shutdown mode: default, save or nosave), start the declared command "
                   "or restart the systemd unit, then prove a new run_id with its role and keys",
                   guards=("redis.restart_is_safe",), params={"shutdown": "str", "wait_s": "int"},
                   guard_params=("shutdown",)),
        ActionSpec("redis.shutdown", "redis", "runbook.redis.actions:Shutdown",
                   "SHUTDOWN SAVE or NOSAVE (params.save: true|false, required)",
                   guards=("redis.restart_is_safe",), params={"save": "bool"}, guard_params=("save",)),
        ActionSpec("redis.config_set", "redis", "runbook.redis.actions:ConfigSet",
                   "CONFIG SET params.name params.value, then CONFIG REWRITE",
                   guards=("redis.config_writable",), params={"name": "str", "value": "str"}),
        ActionSpec("redis.enable_aof", "redis", "runbook.redis.actions:EnableAof",
                   "the safe RDB to AOF switch: CONFIG SET appendonly yes, wait for the rewrite, CONFIG REWRITE",
                   guards=("redis.config_writable", "redis.saves_ok")),
        ActionSpec("redis.promote", "redis", "runbook.redis.actions:Promote", "REPLICAOF NO ONE; proves role master",
                   guards=("redis.not_managed_by_sentinel",)),
        ActionSpec("redis.failover", "redis", "runbook.redis.actions:Failover",
                   "FAILOVER (to params.host/params.port when given) with params.timeout_ms",
                   guards=("redis.is_master", "redis.replicas_in_sync"),
                   params={"host": "str", "port": "int", "timeout_ms": "int"}),
        ActionSpec("redis.client_kill", "redis", "runbook.redis.actions:ClientKill",
                   "CLIENT KILL ID of every client from params.ip (never a replication link); proves none is left",
                   guards=("redis.client_kill_preview",), params={"ip": "str", "max_clients": "int"},
                   guard_params=("ip", "max_clients")),
        ActionSpec("redis.sentinel_failover", "redis", "runbook.redis.failover:SentinelFailover",
                   "SENTINEL FAILOVER params.master on a Sentinel; proves Sentinel names a new master",
                   guards=("redis.sentinel_can_failover",), params={"master": "str", "wait_s": "int"},
                   guard_params=("master",)),
        ActionSpec("redis.cluster_failover", "redis", "runbook.redis.failover:ClusterFailover",
                   "CLUSTER FAILOVER on a cluster replica (params.mode FORCE or TAKEOVER only with the glass "
                   "broken); proves the node became a master",
                   guards=("redis.is_replica", "redis.cluster_failover_not_forced"), params={"mode": "str", "wait_s": "int"},
                   guard_params=("mode",)),
        ActionSpec("redis.bgsave", "redis", "runbook.redis.actions:Bgsave",
                   "BGSAVE (forks; check memory first); proves rdb_last_bgsave_status:ok",
                   guards=("redis.no_save_running",)),
        ActionSpec("jvm.save_thread_dumps", "jvm", "runbook.jvm.threads:SaveThreadDumps",
                   "params.count thread dumps (default 3) params.interval_s apart into params.path, a new file",
                   params={"path": "str", "count": "int", "interval_s": "int"}),
        ActionSpec("jvm.heap_dump", "jvm", "runbook.jvm.live:HeapDump",
                   "jcmd PID GC.heap_dump params.path (pauses the JVM)",
                   guards=("jvm.disk_for_heap_dump",), params={"path": "str"}),
    ]
}
