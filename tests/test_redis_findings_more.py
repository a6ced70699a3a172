"""The remaining Redis findings: a stale snapshot and a lagging replica on real servers; the host findings
(which this machine cannot be put into) as the pure functions of facts they are."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import pytest
import redis as redis_py

from conftest import runbook
from redis_server import RedisServer
from runbook.redis.assess import assess

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


def check(url: str) -> dict:
    r = runbook("redis", "check", url, "--json")
    return json.loads(r.stdout)[0]


def test_snapshot_stale_warns_then_data_loss_is_critical(tmp_path) -> None:
    s = RedisServer(tmp_path, "m").start()  # save "": a stop writes nothing
    try:
        s.fill(100)
        s.client().save()
        s.fill(100)  # the same keys rewritten: as many keys on disk, but older values
        f = {x["id"]: x for x in check(s.url)["findings"]}
        assert f["redis.restart.snapshot_stale"]["severity"] == "warning"
        assert f["redis.restart.snapshot_stale"]["evidence"]["rdb_changes_since_last_save"] == 100
        assert "redis.restart.data_loss" not in f
        s.fill(400, prefix="more")  # now the file holds far fewer keys than the server
        f = {x["id"]: x for x in check(s.url)["findings"]}
        ev = f["redis.restart.data_loss"]["evidence"]
        assert f["redis.restart.data_loss"]["severity"] == "critical"
        assert ev["keys_after_restart"] == 100 and ev["keys_live"] == 500 and ev["safe_with"] == ["SHUTDOWN SAVE"]
    finally:
        s.stop()


def test_a_stopped_replica_lags(tmp_path) -> None:
    m = RedisServer(tmp_path, "m").start()
    r = RedisServer(tmp_path, "r", conf=f"replicaof 127.0.0.1 {m.port}\n").start()
    try:
        deadline = time.monotonic() + 20
        while m.client().info("replication").get("slave0", {}).get("state") != "online":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(r.pid, signal.SIGSTOP)
        c = m.client()
        pipe = c.pipeline(transaction=False)
        for i in range(3000):
            pipe.set(f"big:{i}", "x" * 1000)  # about 3 MB the replica has not received
        pipe.execute()
        rep = check(m.url)
        lag = [x for x in rep["findings"] if x["id"] == "redis.replication.replica_lag"]
        assert lag and lag[0]["evidence"]["lag_bytes"] > 1024 * 1024
    finally:
        os.kill(r.pid, signal.SIGCONT)
        r.stop()
        m.stop()


def _facts(**host: object) -> dict:
    return {"reachable": True, "info": {"role": "master", "used_memory_dataset": 500 * 1024 * 1024},
            "config": {"dir": "/var/lib/redis"}, "host": {"local": True, **host}}


def test_host_findings_from_facts() -> None:
    ids = {f.id: f for f in assess(_facts(overcommit_memory=0, transparent_hugepages="always", disk_free_bytes=100 * 1024 * 1024))}
    assert ids["redis.host.overcommit_memory"].evidence == {"vm.overcommit_memory": 0}
    assert ids["redis.host.transparent_hugepages"].severity == "warning"
    assert ids["redis.host.disk_space"].severity == "critical"
    quiet = {f.id for f in assess(_facts(overcommit_memory=1, transparent_hugepages="madvise", disk_free_bytes=10 * 1024**3))}
    assert not quiet & {"redis.host.overcommit_memory", "redis.host.transparent_hugepages", "redis.host.disk_space"}


@pytest.mark.parametrize("policy", ["noeviction", "allkeys-lru", "volatile-lru"])
def test_the_memory_limit_reached(tmp_path, policy) -> None:
    s = RedisServer(tmp_path, "m", conf=f"maxmemory 2mb\nmaxmemory-policy {policy}\n").start()
    try:
        c = s.client()
        refused = 0
        for i in range(20000):
            try:
                c.set(f"key:{i}", "x" * 200)
            except redis_py.exceptions.OutOfMemoryError:
                refused += 1
                if refused > 5:
                    break
        f = {x["id"]: x for x in check(s.url)["findings"]}
        ev = f["redis.memory.maxmemory_reached"]["evidence"]
        assert f["redis.memory.maxmemory_reached"]["severity"] == "critical" and ev["maxmemory_policy"] == policy
        if policy == "allkeys-lru":
            assert ev["evicted_keys"] > 0
        else:
            assert ev["oom_errors"] > 0
    finally:
        s.stop()


def test_a_healthy_server_with_a_limit_is_not_at_it(tmp_path) -> None:
    s = RedisServer(tmp_path, "m", conf="maxmemory 64mb\nmaxmemory-policy allkeys-lru\n").start()
    try:
        s.fill(100)
        ids = {x["id"] for x in check(s.url)["findings"]}
        assert "redis.memory.maxmemory_reached" not in ids and "redis.memory.no_limit" not in ids
    finally:
        s.stop()


def test_the_restart_verdict_is_one_value_read_the_same_by_the_simulation_and_the_guard() -> None:
    """The shutdown mode a step asks for is worked out in one place (the simulation and the guard used
    to read `save` and `shutdown` in opposite orders), and a restart's loss is judged per mode by one
    value: the simulation's own mode as it judged it, another mode by that mode's outcome."""
    from runbook.redis.check import simulation_params
    from runbook.redis.guards import restart_is_safe
    from runbook.redis.verdict import RestartPreview, shutdown_mode
    from runbook.targets import parse_binding

    t = parse_binding("m=redis://127.0.0.1:6379")
    for params in ({"save": False, "shutdown": "save"}, {"shutdown": "nosave"}, {"save": True}, {}):
        assert simulation_params(t, params)["shutdown"] == shutdown_mode(params)
    raw = {"simulated": True, "reached": True, "shutdown": "default", "keys_live": 10, "keys_after": 10,
           "outcomes": {"default": {"keys_after": 10}, "save": {"keys_after": 10}, "nosave": {"keys_after": 3}}}
    pv = RestartPreview(raw)
    assert pv.loss() is None and pv.loss("save") is None
    assert pv.loss("nosave").keys_after == 3 and "NOSAVE" in pv.loss("nosave").why
    assert RestartPreview({**raw, "resyncs_from_current_master": True}).loss("nosave") is None  # synced back
    facts = {"reachable": True, "info": {"role": "master"}, "restart_preview": raw}
    assert restart_is_safe(facts, {"shutdown": "default"})[0]
    ok, ev, why = restart_is_safe(facts, {"save": False})
    assert not ok and ev["shutdown"] == "nosave" and "redis.restart.data_loss" in why
