"""The Redis kind: a server at redis://, rediss:// or unix:// (a Sentinel or a cluster node too)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from runbook.redis import actions
from runbook.redis import check
from runbook.redis import clients
from runbook.redis import cluster
from runbook.redis import command
from runbook.redis import failover
from runbook.redis import guards
from runbook.redis import latency
from runbook.redis import sentinel
from runbook.kind import ActionSpec, GuardSpec, Kind, Panel, ProbeSpec
from runbook.redis.rules import RULES
from runbook.text import human_bytes, human_field

SCHEMES = ("redis", "rediss", "unix", "redis+unix")


def _claims(url: str) -> bool:
    return urlsplit(url).scheme.lower() in SCHEMES


PROBES = (
    ProbeSpec("redis.check", check.probe, check.assess,
              "INFO, CONFIG GET *, ROLE, host facts where local, and the restart preview",
              budget=check.simulation_budget),
    ProbeSpec("redis.replication", check.probe_replication, check.assess,
              "two samples a few seconds apart: storm, backlog, lag", budget=check.replication_budget),
    ProbeSpec("redis.command", command.probe, command.assess,
              "one allow-listed read command (params.command: [SLOWLOG, GET, 10]); facts.reply is its answer",
              check_params=lambda params: command.check_allowed(params.get("command"))),
    ProbeSpec("redis.clients", clients.probe, clients.assess,
              "CLIENT LIST: connections per address, largest output buffers, pub/sub and blocked clients "
              "(params.ip: the clients of that address)"),
    ProbeSpec("redis.latency", latency.probe, latency.assess,
              "SLOWLOG (command and key, never values), LATENCY LATEST, the last fork's duration (params: recent_s,"
              " fork_ms)"),
    ProbeSpec("redis.sentinel", sentinel.probe, sentinel.assess,
              "a Sentinel's masters: flags, quorum check, replicas and their link (the target is the Sentinel)"),
    ProbeSpec("redis.cluster", cluster.probe, cluster.assess,
              "CLUSTER INFO and CLUSTER NODES: state, slot coverage, failed nodes, masters without replicas"),
)

GUARDS = (
    GuardSpec("redis.restart_is_safe", "redis.check", guards.restart_is_safe,
              "no critical restart-preview finding: a restart loads the live data and comes up writable"),
    GuardSpec("redis.is_master", "redis.check", guards.is_master,
              "the server is a master"),
    GuardSpec("redis.is_replica", "redis.check", guards.is_replica,
              "the server is a replica"),
    GuardSpec("redis.saves_ok", "redis.check", guards.saves_ok,
              "the last background save succeeded and none is in progress"),
    GuardSpec("redis.no_save_running", "redis.check", guards.no_save_running,
              "no background save or AOF rewrite is running"),
    GuardSpec("redis.no_full_sync_storm", "redis.replication", guards.no_full_sync_storm,
              "replicas are not caught in repeated full syncs"),
    GuardSpec("redis.replicas_in_sync", "redis.check", guards.replicas_in_sync,
              "every replica is online and close to the master's offset"),
    GuardSpec("redis.config_writable", "redis.check", guards.config_writable,
              "the server was started from a config file that CONFIG REWRITE can update"),
    GuardSpec("redis.client_kill_preview", "redis.clients", clients.guard_kill_preview,
              "the clients of params.ip, listed: at least one, at most params.max_clients, no replication link"),
    GuardSpec("redis.not_managed_by_sentinel", "redis.clients", clients.guard_not_managed_by_sentinel,
              "no Sentinel is connected to the server (a role changed by hand under Sentinel is undone)"),
    GuardSpec("redis.sentinel_can_failover", "redis.sentinel", failover.guard_sentinel_can_failover,
              "the Sentinel has quorum for params.master and a replica in sync, and no failover is running"),
    GuardSpec("redis.cluster_failover_not_forced", "redis.check", failover.guard_not_forced,
              "a coordinated CLUSTER FAILOVER (FORCE and TAKEOVER only with the glass broken)"),
)

ACTIONS = (
    ActionSpec("redis.restart", actions.Restart,
               "stop (SHUTDOWN in params.shutdown mode: default, save or nosave), start the declared command or "
               "restart the systemd unit, then prove a new run_id with its role and keys",
               guards=("redis.restart_is_safe",), params={"shutdown": "str", "wait_s": "int"},
               guard_params=("shutdown",)),
    ActionSpec("redis.shutdown", actions.Shutdown,
               "SHUTDOWN SAVE or NOSAVE (params.save: true|false, required)",
               guards=("redis.restart_is_safe",), params={"save": "bool"}, guard_params=("save",)),
    ActionSpec("redis.config_set", actions.ConfigSet,
               "CONFIG SET params.name params.value, then CONFIG REWRITE",
               guards=("redis.config_writable",), params={"name": "str", "value": "str"}),
    ActionSpec("redis.enable_aof", actions.EnableAof,
               "the safe RDB to AOF switch: CONFIG SET appendonly yes, wait for the rewrite, CONFIG REWRITE",
               guards=("redis.config_writable", "redis.saves_ok")),
    ActionSpec("redis.promote", actions.Promote,
               "REPLICAOF NO ONE; proves role master", guards=("redis.not_managed_by_sentinel",)),
    ActionSpec("redis.failover", actions.Failover,
               "FAILOVER (to params.host/params.port when given) with params.timeout_ms",
               guards=("redis.is_master", "redis.replicas_in_sync"),
               params={"host": "str", "port": "int", "timeout_ms": "int"}),
    ActionSpec("redis.client_kill", actions.ClientKill,
               "CLIENT KILL ID of every client from params.ip (never a replication link); proves none is left",
               guards=("redis.client_kill_preview",), params={"ip": "str", "max_clients": "int"},
               guard_params=("ip", "max_clients")),
    ActionSpec("redis.sentinel_failover", failover.SentinelFailover,
               "SENTINEL FAILOVER params.master on a Sentinel; proves Sentinel names a new master",
               guards=("redis.sentinel_can_failover",), params={"master": "str", "wait_s": "int"},
               guard_params=("master",)),
    ActionSpec("redis.cluster_failover", failover.ClusterFailover,
               "CLUSTER FAILOVER on a cluster replica (params.mode FORCE or TAKEOVER only with the glass broken); "
               "proves the node became a master",
               guards=("redis.is_replica", "redis.cluster_failover_not_forced"), params={"mode": "str", "wait_s": "int"},
               guard_params=("mode",)),
    ActionSpec("redis.bgsave", actions.Bgsave,
               "BGSAVE (forks; check memory first); proves rdb_last_bgsave_status:ok",
               guards=("redis.no_save_running",)),
)



def discover() -> dict[str, Any]:
    """The redis-servers of this machine, by their first listening socket (process table and /proc only)."""
    import psutil

    from runbook.redis.hostfacts import listening
    from runbook.targets import Target

    found: dict[str, Any] = {}
    for p in psutil.process_iter(["name"]):
        if (p.info["name"] or "").startswith("redis-server"):
            for ip, port in listening(p.pid)[:1]:
                host = "127.0.0.1" if ip in ("0.0.0.0", "::", "127.0.0.1") else ip
                found[f"redis-{port}"] = Target(f"redis-{port}", f"redis://{host}:{port}", "redis")
    return found


class RedisPanel(Panel):
    """Role, load, memory, clients, keys, persistence and the replicas of a live server."""

    def poll(self, target: Any, timeout: float) -> dict[str, Any]:
        return check.live_summary(target.url, timeout)

    def lines(self, s: dict[str, Any]) -> list[tuple[str, str, str]]:
        out = [("role", str(s.get("role")), ""), ("ops/s", human_field("ops", s.get("ops_per_sec")), ""),
               ("memory", human_field("used_memory", s.get("used_memory")) if s.get("used_memory") is not None
                else str(s.get("used_memory_human")), ""),
               ("clients", human_field("clients", s.get("clients")), ""), ("keys", human_field("keys", s.get("keys")), "")]
        persist = (f"rdb {s.get('rdb_last_bgsave_status')}, "
                   f"{human_field('changes', s.get('rdb_changes_since_last_save'))} unsaved, "
                   f"aof {'on' if s.get('aof_enabled') else 'off'}")
        out.append(("persistence", persist, "red" if s.get("rdb_last_bgsave_status") == "err" else ""))
        if s.get("role") == "slave":
            out.append(("link", str(s.get("master_link_status")), "red" if s.get("master_link_status") != "up" else ""))
        for r in s.get("replicas", [])[:6]:
            out.append(("replica", f"{r['addr']} {r['state']} lag {human_bytes(r['lag_bytes'])}",
                        "" if r["state"] == "online" else "yellow"))
        return out


KIND = Kind("redis", _claims, "redis://, rediss://, unix:// (Redis)", PROBES, GUARDS, ACTIONS, RULES,
            record_probes=("redis.check", "redis.replication"), discover=discover, panel=RedisPanel,
            secret_keys=frozenset({"requirepass", "masterauth", "tls-key-file-pass", "tls-client-key-file-pass",
                                   "sentinel-pass"}),
            password_user_schemes=("redis", "rediss"))
