"""A test exporter for a fleet too big to run: one HTTP server (a child process, stopped by its pid) that
serves, in redis_exporter's names and units, the series of N Redis instances, each labelled with its own
`instance`, split over SHARDS paths (/shard/K) so that Prometheus scrapes them in parallel (honor_labels
keeps the instance label). Every instance is a realistic server (memory, clients, keys, persistence,
replication; a third of the masters have a replica); a known set is planted in a fault, one kind of fault
each, and the counters of a full-sync storm grow with every scrape.

    python tests/fleet_exporter.py N PORT        (prints "ready" once it listens)
"""

from __future__ import annotations

import random
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

SHARDS = 10

# fault -> the finding id runbook must name for it
FAULTS = {
    "oom": "redis.memory.maxmemory_reached",
    "evicting": "redis.memory.maxmemory_reached",
    "rejecting": "redis.clients.rejected",
    "fragmented": "redis.memory.fragmentation",
    "save_failing": "redis.persistence.save_failing",
    "aof_failing": "redis.persistence.aof_write_failing",
    "save_slow": "redis.persistence.save_slow",
    "link_down": "redis.replication.link_down",
    "lagging": "redis.replication.replica_lag",
    "storm": "redis.replication.full_sync_storm",
    "down": "redis.unreachable",
}


def name(i: int) -> str:
    return f"redis://10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}:6379"


def planted(n: int) -> dict[str, str]:
    """instance -> fault: 1 in 100 instances, the kinds in turn (the same for a given n)."""
    kinds = list(FAULTS)
    return {name(i): kinds[(i // 100) % len(kinds)] for i in range(37, n, 100)}


def _series(i: int, fault: str, rnd: random.Random) -> list[tuple[str, str, float]]:
    """(series, extra labels, value) of one instance."""
    mb = 1024 * 1024
    used = rnd.randint(50, 900) * mb
    maxmem = 2048 * mb if rnd.random() < 0.7 else 0
    policy = "allkeys-lru" if rnd.random() < 0.3 else "noeviction"
    clients, maxclients = rnd.randint(5, 300), 10000
    keys = rnd.randint(1000, 2_000_000)
    replica = i % 3 == 1 or fault == "link_down"  # a master (i % 3 == 0) has its replica at i + 1
    role = "slave" if replica and fault not in ("lagging", "storm") else "master"
    ratio = round(rnd.uniform(1.02, 1.3), 2)
    rss = int(used * ratio)
    out: list[tuple[str, str, float]] = []
    v: dict[str, float] = {
        "redis_connected_clients": clients, "redis_config_maxclients": maxclients, "redis_blocked_clients": 0,
        "redis_rejected_connections_total": 0, "redis_memory_used_bytes": used, "redis_memory_used_rss_bytes": rss,
        "redis_memory_used_dataset_bytes": int(used * 0.8), "redis_memory_max_bytes": maxmem,
        "redis_config_maxmemory": maxmem, "redis_mem_fragmentation_ratio": ratio,
        "redis_mem_fragmentation_bytes": rss - used, "redis_allocator_frag_ratio": 1.01,
        "redis_allocator_frag_bytes": 100_000, "redis_evicted_keys_total": 0, "redis_rdb_last_bgsave_status": 1,
        "redis_rdb_changes_since_last_save": rnd.randint(0, 5000), "redis_rdb_last_save_timestamp_seconds": 1.7e9,
        "redis_rdb_bgsave_in_progress": 0, "redis_rdb_current_bgsave_duration_sec": -1, "redis_aof_enabled": 0,
        "redis_aof_last_write_status": 1, "redis_aof_rewrite_in_progress": 0,
        "redis_aof_current_rewrite_duration_sec": -1, "redis_latest_fork_seconds": round(used / (1024 * mb) * 0.015, 4),
        "redis_connected_slaves": 0, "redis_master_repl_offset": rnd.randint(10**6, 10**9),
        "redis_replication_backlog_bytes": 64 * mb, "redis_replica_resyncs_full": rnd.randint(0, 2),
        "redis_replica_partial_resync_denied": 0, "redis_replica_partial_resync_accepted": rnd.randint(0, 3),
        "redis_uptime_in_seconds": rnd.randint(3600, 10**7), "redis_commands_processed_total": rnd.randint(10**6, 10**9),
        "redis_keyspace_hits_total": rnd.randint(10**5, 10**8), "redis_keyspace_misses_total": rnd.randint(10**3, 10**6),
        "redis_net_input_bytes_total": rnd.randint(10**8, 10**11), "redis_expired_keys_total": rnd.randint(0, 10**6),
    }
    if fault == "down":
        return [("redis_up", "", 0)]
    if fault == "oom":
        v["redis_memory_max_bytes"] = v["redis_config_maxmemory"] = 1024 * mb
        v["redis_memory_used_bytes"] = 1024 * mb - 100
        out.append(("redis_errors_total", 'err="OOM"', 1234))
        policy = "noeviction"
    if fault == "evicting":
        v["redis_memory_max_bytes"] = v["redis_config_maxmemory"] = 1024 * mb
        v["redis_memory_used_bytes"] = 1020 * mb
        v["redis_evicted_keys_total"] = 55555
        policy = "allkeys-lru"
    if fault == "rejecting":
        v["redis_rejected_connections_total"] = 321
    if fault == "fragmented":
        v["redis_mem_fragmentation_ratio"], v["redis_mem_fragmentation_bytes"] = 2.4, 700 * mb
    if fault == "save_failing":
        v["redis_rdb_last_bgsave_status"] = 0
    if fault == "aof_failing":
        v["redis_aof_enabled"], v["redis_aof_last_write_status"] = 1, 0
    if fault == "save_slow":
        v["redis_rdb_bgsave_in_progress"], v["redis_rdb_current_bgsave_duration_sec"] = 1, 240
    if role == "master" and (i % 3 == 0 or fault in ("lagging", "storm")):
        v["redis_connected_slaves"] = 1
        behind = 50 * mb if fault == "lagging" else 0
        state = "online"
        lab = f'slave_ip="10.99.{i // 256 % 256}.{i % 256}",slave_port="6379",slave_state="{state}"'
        out.append(("redis_connected_slave_offset_bytes", lab, v["redis_master_repl_offset"] - behind))
        out.append(("redis_connected_slave_lag_seconds", lab, 0 if fault != "lagging" else 30))
    if fault == "storm":
        v["redis_connected_slaves"] = 2
    if role == "slave":
        up = 0 if fault == "link_down" else 1
        lab = f'master_host="{name(i - 1).split("//")[1].split(":")[0]}",master_port="6379"'
        out.append(("redis_master_link_up", lab, up))
        out.append(("redis_master_sync_in_progress", lab, 0))
        out.append(("redis_slave_repl_offset", lab, v["redis_master_repl_offset"]))
    out.append(("redis_instance_info", f'maxmemory_policy="{policy}",redis_mode="standalone",redis_version="7.0.15",'
                f'role="{role}",tcp_port="6379",os="Linux 6.1.0 x86_64",run_id="{rnd.getrandbits(160):040x}"', 1))
    out.append(("redis_db_keys", 'db="db0"', keys))
    out.append(("redis_db_keys_expiring", 'db="db0"', keys // 10))
    out.append(("redis_up", "", 1))
    out += [(k, "", x) for k, x in v.items()]
    return out


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def render(n: int) -> tuple[list[bytes], list[tuple[int, str]]]:
    """Each shard's text without the storm counters, and (shard, instance) of the storm instances."""
    rnd = random.Random(n)
    faults = planted(n)
    shards: list[list[str]] = [[] for _ in range(SHARDS)]
    storms = []
    for i in range(n):
        inst = name(i)
        fault = faults.get(inst, "")
        lines = shards[i % SHARDS]
        for series, labels, value in _series(i, fault, rnd):
            if fault == "storm" and series in ("redis_replica_resyncs_full", "redis_replica_partial_resync_denied"):
                continue
            lab = f'instance="{inst}"' + (f",{labels}" if labels else "")
            lines.append(f"{series}{{{lab}}} {_fmt(value)}")
        if fault == "storm":
            storms.append((i % SHARDS, inst))
    return [("\n".join(s) + "\n").encode() for s in shards], storms


def serve(n: int, port: int) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    texts, storms = render(n)
    scrapes = [0] * SHARDS

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            parts = self.path.strip("/").split("/")
            if len(parts) != 2 or parts[0] != "shard" or not parts[1].isdigit() or int(parts[1]) >= SHARDS:
                self.send_error(404)
                return
            k = int(parts[1])
            scrapes[k] += 1
            s = scrapes[k]
            dyn = "".join(f'redis_replica_resyncs_full{{instance="{inst}"}} {10 + 3 * s}\n'
                          f'redis_replica_partial_resync_denied{{instance="{inst}"}} {8 + 3 * s}\n'
                          for shard, inst in storms if shard == k).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(texts[k]) + len(dyn)))
            self.end_headers()
            self.wfile.write(texts[k])
            self.wfile.write(dyn)

        def log_message(self, *a: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    srv.serve_forever()


class FleetExporter:
    """The exporter as a child process of the test, in its own session, stopped by its pid."""

    def __init__(self, tmp: Path, n: int) -> None:
        from redis_server import free_port

        self.n, self.port = n, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"fleet_exporter_{n}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "FleetExporter":
        self.proc = subprocess.Popen([sys.executable, __file__, str(self.n), str(self.port)], stdout=subprocess.PIPE,
                                     stderr=open(self.log, "wb"), stdin=subprocess.DEVNULL, start_new_session=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the condition: it says it listens (or exits, with its log)
        if line.strip() != b"ready":
            self.stop()
            raise RuntimeError(f"the fleet exporter did not start: {self.log.read_text()[-2000:]}")
        return self

    def jobs(self, interval: str = "2s") -> list[dict[str, Any]]:
        """Prometheus' scrape jobs, one per shard; honor_labels keeps each series' own instance."""
        return [{"job_name": f"redis-fleet-{k}", "honor_labels": True, "metrics_path": f"/shard/{k}",
                 "scrape_interval": interval, "scrape_timeout": interval,
                 "static_configs": [{"targets": [self.url.split("://", 1)[1]], "labels": {"fleet": "test"}}]}
                for k in range(SHARDS)]

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return r.read()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
