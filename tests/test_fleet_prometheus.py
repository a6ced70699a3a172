"""`runbook fleet` on real parts: 22 real redis-servers in different faults, Debian's redis_exporter in its
multi-target mode (no password: exporter 1.45 drops it in that mode), a real Prometheus scraping every
second. Each instance's findings from Prometheus equal its findings from a live `redis check`, for the
ids both can compute."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis as redis_py

from conftest import runbook
from prometheus import PROMETHEUS, REDIS_EXPORTER, Prometheus, RedisExporter, redis_job, wait_for
from redis_server import RedisServer, refused_port, no_retry
from runbook.sandbox.incidents import fragment

pytestmark = pytest.mark.skipif(not (PROMETHEUS and REDIS_EXPORTER and shutil.which("redis-server")),
                                reason="needs prometheus, prometheus-redis-exporter, redis-server")

HEALTHY = 9


def _confs(tmp_path) -> dict[str, str]:
    return {
        **{f"healthy{i}": "" for i in range(HEALTHY)},
        "oom": "maxmemory 2mb\nmaxmemory-policy noeviction\n",
        "evicting": "maxmemory 2mb\nmaxmemory-policy allkeys-lru\n",
        "volatile": "maxmemory 2mb\nmaxmemory-policy volatile-lru\n",
        "rejecting": "maxclients 8\n",
        "fragmented": "enable-debug-command yes\nactivedefrag no\n",
        "bgsave_fails": f"dir {tmp_path / 'gone'}\n",
        "orphan": f"replicaof 127.0.0.1 {refused_port()}\n",  # its master never existed
        "lagging_master": "",
        "healthy_master": "",
        "killed": "",
        "aof": "appendonly yes\n",
    }


def _fill_until_refused(c: redis_py.Redis, prefix: str, ttl: bool = False) -> None:
    for i in range(200_000):
        try:
            c.set(f"{prefix}{i}", "x" * 200, ex=3600 if ttl and i % 50 == 0 else None)
        except redis_py.exceptions.ResponseError:
            return
        if c.info("stats")["evicted_keys"] > 20:
            return


@pytest.fixture
def fleet(tmp_path):
    started: list = []
    (tmp_path / "gone").mkdir()
    servers = {name: RedisServer(tmp_path, name, conf=conf) for name, conf in _confs(tmp_path).items()}
    try:
        for s in servers.values():
            s.start(wait=False)
            started.append(s)
        for s in servers.values():
            s.wait_ready()
        # replicas: one that keeps up, one that will be stopped (SIGSTOP) so its master sees it lag
        healthy_rep = RedisServer(tmp_path, "healthy_replica",
                                  conf=f"replicaof 127.0.0.1 {servers['healthy_master'].port}\n").start()
        started.append(healthy_rep)
        stopped_rep = RedisServer(tmp_path, "stopped_replica",
                                  conf=f"replicaof 127.0.0.1 {servers['lagging_master'].port}\n").start()
        started.append(stopped_rep)
        servers["healthy_replica"], servers["stopped_replica"] = healthy_rep, stopped_rep
        ex = RedisExporter(tmp_path, "redis_exporter").start()
        started.append(ex)
        prom = Prometheus(tmp_path, "prometheus")
        started.append(prom)

        def faults() -> None:
            _fill_until_refused(servers["oom"].client(), "k")
            _fill_until_refused(servers["evicting"].client(), "k")
            _fill_until_refused(servers["volatile"].client(), "k", ttl=True)
            fragment(servers["fragmented"].client(socket_timeout=60))
            held = []
            for _ in range(12):  # more than maxclients 8: some are refused, and the server counts them
                c = redis_py.Redis(port=servers["rejecting"].port, socket_timeout=2, retry=no_retry())
                try:
                    c.ping()
                    held.append(c)
                except redis_py.exceptions.ConnectionError:
                    c.close()
            for c in held:
                c.close()
            bg = servers["bgsave_fails"].client()
            bg.set("a", 1)
            shutil.rmtree(tmp_path / "gone")
            bg.bgsave()
            wait_for(lambda: bg.info("persistence")["rdb_last_bgsave_status"] == "err", "the BGSAVE failing")
            for s in ("healthy_master", "lagging_master"):
                m = servers[s].client()
                wait_for(lambda m=m: m.info("replication").get("slave0", {}).get("state") == "online",
                         f"{s}'s replica online")
            os.kill(stopped_rep.pid, signal.SIGSTOP)
            lm = servers["lagging_master"].client()
            pipe = lm.pipeline(transaction=False)
            for i in range(3000):
                pipe.set(f"w{i}", "y" * 1000)  # 3 MB the stopped replica never acknowledges
            pipe.execute()
            servers["healthy_master"].client().set("hello", "world")
            servers["killed"].stop()

        with ThreadPoolExecutor(1) as pool:  # the faults are made while Prometheus starts
            made = pool.submit(faults)
            urls = [s.url for s in servers.values()]
            prom.start_jobs([redis_job(ex, urls)])
            made.result()
        done = time.time()
        yield prom, servers, done
    finally:
        for s in servers.values():
            if s.proc and s.proc.poll() is None:
                os.kill(s.pid, signal.SIGCONT)
        for p in reversed(started):
            p.stop()


def _fleet_json(prom: Prometheus, *extra: str) -> tuple[int, dict]:
    r = runbook("fleet", "--prometheus", prom.url, "--json", "--window", "1m", *extra, timeout=60)
    assert "Traceback" not in r.stderr and r.returncode in (0, 1, 2, 3), r.stderr
    return r.returncode, json.loads(r.stdout) if r.stdout.strip() else {}


def test_findings_from_prometheus_equal_the_live_checks(fleet) -> None:
    from runbook.redis.exporter import FROM_PROMETHEUS

    prom, servers, done = fleet

    def seen_after_faults() -> dict | None:
        code, out = _fleet_json(prom)
        by = {i["instance"]: i for i in out.get("instances", [])}
        fresh = len(by) == len(servers) and all(
            i["scraped_at"] is None or i["scraped_at"] > done + 1 for i in by.values())
        return out if fresh else None

    out = wait_for(seen_after_faults, "every server scraped after its fault", timeout=45, every=0.5)
    live_r = runbook("redis", "check", "--json", "--no-preview", "--no-discover", "--timeout", "1",
                     *(s.url for s in servers.values()), timeout=60)
    live = {r["target"]: r for r in json.loads(live_r.stdout)}
    comparable = set(FROM_PROMETHEUS)
    by_prom = {i["instance"]: i for i in out["instances"]}
    mismatches = {}
    for name, s in servers.items():
        p = {(f["id"], f["severity"]) for f in by_prom[s.url]["findings"] if f["id"] in comparable}
        lv = {(f["id"], f["severity"]) for f in live[s.url]["findings"] if f["id"] in comparable}
        if p != lv:
            mismatches[name] = {"prometheus": sorted(p), "live": sorted(lv)}
    assert mismatches == {}
    ids = {name: {f["id"] for f in by_prom[s.url]["findings"]} for name, s in servers.items()}
    expected = {
        "oom": "redis.memory.maxmemory_reached", "evicting": "redis.memory.maxmemory_reached",
        "volatile": "redis.memory.maxmemory_reached", "rejecting": "redis.clients.rejected",
        "fragmented": "redis.memory.fragmentation", "bgsave_fails": "redis.persistence.save_failing",
        "orphan": "redis.replication.link_down", "lagging_master": "redis.replication.replica_lag",
        "stopped_replica": "redis.unreachable", "killed": "redis.unreachable",
    }
    for name, fid in expected.items():
        assert fid in ids[name], (name, ids[name])
    for name in [f"healthy{i}" for i in range(HEALTHY)] + ["healthy_master", "healthy_replica", "aof"]:
        assert ids[name] == set(), (name, ids[name])
    # worst first: every critical or unreadable instance (redis.unreachable is critical) before every warning
    # one, before the quiet ones; the servers down first among them
    order = [i["status"] for i in out["instances"]]
    assert order[:2] == ["unknown", "unknown"]
    rank = {"critical": 0, "unknown": 0, "warning": 1, "ok": 2}
    assert [rank[x] for x in order] == sorted(rank[x] for x in order)
    assert out["counts"]["ok"] == HEALTHY + 3
    # the pre-filter judges only the instances where some rule's condition holds: the same findings as
    # judging every instance on its full facts
    _, every = _fleet_json(prom, "--judge-all")
    assert {i["instance"]: [f["id"] for f in i["findings"]] for i in every["instances"]} == \
        {i["instance"]: [f["id"] for f in i["findings"]] for i in out["instances"]}

    # (on the same fleet, its setup is most of the time) the text, the live drill-in, and bad input
    r = runbook("fleet", "--prometheus", prom.url, "--live", "2", "--window", "1m", "--timeout", "3", timeout=90)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "beside the live check" in r.stdout and r.stdout.count("beside the live check") == 2
    assert "not from Prometheus" in r.stdout
    code, out = _fleet_json(prom, "--match", 'instance=~".*"', "--live", "1")
    assert code == 2 and out["live"][0]["instance"] == out["instances"][0]["instance"]
    assert out["live"][0]["report"]["findings"] is not None and out["live"][0]["age_s"] >= 0
    # a selector that matches nothing, a bad selector and a dead Prometheus: one line, exit 3
    r = runbook("fleet", "--prometheus", prom.url, "--match", 'job="nope"')
    assert r.returncode == 3 and "knows no Redis instance" in r.stderr and r.stderr.count("\n") == 1
    r = runbook("fleet", "--prometheus", prom.url, "--match", "job=")
    assert r.returncode == 3 and "refused the query" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(not shutil.which("redis-benchmark"), reason="needs redis-benchmark (redis-tools)")
def test_a_full_sync_storm_is_named_from_prometheus_history_as_from_two_live_samples(tmp_path) -> None:
    """The Twilio rehearsal's master (three replicas cut off 2.5 s under a steady writer, a backlog and an
    output-buffer limit too small: they resync over and over): Prometheus names the storm from the
    increase of its counters over the window, as `redis check --interval` does from two reads."""
    from runbook.sandbox.procs import Sandbox
    from runbook.sandbox.scenarios import build_twilio

    with Sandbox("fleet-storm", say=lambda s: None) as sb:  # its processes stop with it, by pid
        built = build_twilio(sb)
        url = built.targets["master"].url
        ex = RedisExporter(tmp_path, "redis_exporter").start()
        prom = Prometheus(tmp_path, "prometheus")
        try:
            prom.start_jobs([redis_job(ex, [url])])

            def named():
                code, out = _fleet_json(prom, "--window", "20s")
                ids = {f["id"] for i in out.get("instances", []) for f in i["findings"]}
                return out if "redis.replication.full_sync_storm" in ids else None

            out = wait_for(named, "the storm named from Prometheus", timeout=45, every=1)
            (storm,) = [f for f in out["instances"][0]["findings"] if f["id"] == "redis.replication.full_sync_storm"]
            assert storm["severity"] == "critical" and storm["evidence"]["window_s"] == 20.0
            r = runbook("redis", "check", url, "--json", "--no-preview", "--interval", "2", timeout=60)
            live = {f["id"] for f in json.loads(r.stdout)[0]["findings"]}
            assert "redis.replication.full_sync_storm" in live, live
        finally:
            prom.stop()
            ex.stop()
