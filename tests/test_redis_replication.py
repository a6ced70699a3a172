"""Replication on real servers: a healthy set, a full-sync storm, backlog sizing."""

from __future__ import annotations

import json
import re
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import runbook
from redis_server import RedisServer

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


@pytest.fixture
def cluster(tmp_path):
    made: list[RedisServer] = []
    procs: list[subprocess.Popen] = []

    def make(n_replicas: int, master_conf: str = "", replica_conf: str = "") -> tuple[RedisServer, list[RedisServer]]:
        m = RedisServer(tmp_path, "master", conf=master_conf)
        made.append(m)
        m.start()
        reps = []
        for i in range(n_replicas):
            r = RedisServer(tmp_path, f"replica{i}", conf=f"replicaof 127.0.0.1 {m.port}\n{replica_conf}")
            made.append(r)
            reps.append(r.start())
        deadline = time.monotonic() + 20
        while m.client().info("replication")["connected_slaves"] < n_replicas or any(
            r.client().info("replication")["master_link_status"] != "up" for r in reps
        ):
            assert time.monotonic() < deadline, "replicas did not connect"
            time.sleep(0.05)
        return m, reps

    make.procs = procs  # type: ignore[attr-defined]
    yield make
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    for s in made:
        s.stop()


def check(url: str, *extra: str) -> tuple[int, dict]:
    r = runbook("redis", "check", url, "--json", *extra, timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode, json.loads(r.stdout)[0]


def save_when_idle(s: RedisServer) -> None:
    """SAVE, once the BGSAVE a replica's full sync started has finished (SAVE refuses to run beside it)."""
    import redis as redis_py

    deadline = time.monotonic() + 20
    while True:
        try:
            s.client().save()
            return
        except redis_py.exceptions.ResponseError as e:
            assert "in progress" in str(e) and time.monotonic() < deadline, e
            time.sleep(0.1)


def test_healthy_master_with_replicas_has_no_critical_finding(cluster) -> None:
    m, reps = cluster(2)
    m.fill(1000)
    save_when_idle(m)
    for r in reps:
        save_when_idle(r)
    code, rep = check(m.url, "--interval", "1")
    assert rep["role"] == "master"
    assert [f for f in rep["findings"] if f["severity"] == "critical"] == []
    assert code in (0, 1)
    for r in reps:
        code, rr = check(r.url)
        assert rr["role"] == "slave" and not [f for f in rr["findings"] if f["severity"] == "critical"], rr["findings"]


def test_replica_link_down(cluster) -> None:
    m, [r] = cluster(1)
    m.stop()
    deadline = time.monotonic() + 10
    while r.client().info("replication")["master_link_status"] != "down":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    code, rep = check(r.url)
    assert code == 2
    assert any(f["id"] == "redis.replication.link_down" and f["severity"] == "critical" for f in rep["findings"])


def storm(cluster) -> tuple[RedisServer, subprocess.Popen]:
    """knowledge/redis.md's reproduction: a 16 kB backlog, a 1 MB replica output-buffer limit, four replicas,
    a heavy writer, the replicas paused 2.5 s. Returns the master and the writer (still writing)."""
    m, reps = cluster(
        4,
        master_conf="repl-backlog-size 16kb\nrepl-diskless-sync no\nclient-output-buffer-limit replica 1mb 512kb 1\n",
    )
    m.fill(20000)
    writer = subprocess.Popen(
        ["redis-benchmark", "-p", str(m.port), "-t", "set", "-n", "50000000", "-d", "256", "-P", "16", "-r", "200000", "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    cluster.procs.append(writer)
    time.sleep(0.5)
    for r in reps:
        os.kill(r.pid, signal.SIGSTOP)
    time.sleep(2.5)
    for r in reps:
        os.kill(r.pid, signal.SIGCONT)
    return m, writer


@pytest.mark.skipif(not shutil.which("redis-benchmark"), reason="redis-benchmark is not installed")
def test_full_sync_storm_with_several_replicas(cluster) -> None:
    m, writer = storm(cluster)
    code, rep = check(m.url, "--interval", "3")
    writer.kill()
    found = {f["id"]: f for f in rep["findings"]}
    assert "redis.replication.full_sync_storm" in found, rep["findings"]
    ev = found["redis.replication.full_sync_storm"]["evidence"]
    print(json.dumps(ev))
    assert ev["window_s"] >= 3
    assert code == 2
    # the write rate makes a 16 kB backlog hopeless: sizing advice with a figure
    bl = found["redis.replication.backlog_too_small"]
    assert re.match(r"\d+mb \(", bl["evidence"]["suggested_repl_backlog_size"])
    assert "CONFIG SET repl-backlog-size" in bl["action"]
    # the advice steers away from restarting the overloaded master
    assert "Do not restart the master" in found["redis.replication.full_sync_storm"]["action"]


@pytest.mark.skipif(not shutil.which("redis-benchmark"), reason="redis-benchmark is not installed")
def test_a_storm_is_named_from_one_look(cluster) -> None:
    """The issue's reproduction: small backlog and replica output-buffer limit, several replicas, a heavy
    writer, the replicas paused a few seconds; right after they resume, one `redis check` with no
    --interval names the storm."""
    m, writer = storm(cluster)
    time.sleep(1.0)
    code, rep = check(m.url)
    writer.kill()
    found = {f["id"]: f for f in rep["findings"]}
    assert "redis.replication.full_sync_storm" in found, (rep.get("second_look"), rep["findings"])
    ev = found["redis.replication.full_sync_storm"]["evidence"]
    assert code == 2 and ev
    assert "--interval" not in json.dumps(rep.get("window") or {})


def test_a_healthy_master_with_replicas_is_not_a_storm_from_one_look(cluster) -> None:
    m, reps = cluster(3)
    m.fill(2000)
    code, rep = check(m.url)
    assert "redis.replication.full_sync_storm" not in {f["id"] for f in rep["findings"]}
