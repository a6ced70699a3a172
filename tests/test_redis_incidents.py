"""The incident findings of the playbook library, each raised on a real redis-server put into that state."""

from __future__ import annotations

import shutil
import socket
import time

import pytest
import redis as redis_py

from redis_server import RedisServer
from runbook.redis.check import assess, probe
from runbook.targets import Target

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


def findings(url: str, **params) -> dict:
    facts = probe(Target("r", url, "redis"), params, 5.0)
    return {f.id: f for f in assess(facts)}


def test_connections_refused_at_maxclients(tmp_path) -> None:
    s = RedisServer(tmp_path, "m", conf="maxclients 3\n").start()
    held = []
    try:
        for _ in range(4):
            c = redis_py.Redis(port=s.port, socket_timeout=2)
            held.append(c)
            try:
                c.ping()
            except redis_py.exceptions.ConnectionError as e:
                assert "max number of clients" in str(e)
        held.pop().close()  # the refused one
        held.pop().close()  # one place left: the check's own connection fills it
        f = findings(s.url)
        ev = f["redis.clients.rejected"]
        assert ev.severity == "critical" and ev.evidence["rejected_connections"] >= 1
        assert ev.evidence["connected_clients"] == 3 and ev.evidence["maxclients"] == 3
        for c in held:
            c.close()
        held.clear()
        time.sleep(0.2)
        f = findings(s.url)
        assert f["redis.clients.rejected"].severity == "warning"  # below the limit now
    finally:
        for c in held:
            c.close()
        s.stop()


def test_a_subscriber_that_does_not_read_is_dropped_and_named(tmp_path) -> None:
    s = RedisServer(tmp_path, "m", conf="client-output-buffer-limit pubsub 64kb 32kb 1\n").start()
    sub = socket.create_connection(("127.0.0.1", s.port), timeout=2)
    try:
        sub.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n")
        time.sleep(0.2)  # subscribed; from now on it reads nothing
        c = s.client()
        pipe = c.pipeline(transaction=False)
        for _ in range(20000):  # 20 MB: more than the loopback socket buffers hold
            pipe.publish("news", "x" * 1024)
        pipe.execute()
        deadline = time.monotonic() + 10
        while "for overcoming of output buffer limits" not in s.log.read_text():
            assert time.monotonic() < deadline, "redis never dropped the subscriber"
            time.sleep(0.1)
        f = findings(s.url)
        ev = f["redis.clients.output_buffer_disconnects"].evidence
        assert ev["disconnects_in_log_tail"] == 1 and "flags=P" in ev["last"]
        assert "redis.replication.full_sync_storm" not in f  # a subscriber is not a replica
    finally:
        sub.close()
        s.stop()


def test_a_healthy_server_raises_no_incident_finding(tmp_path) -> None:
    s = RedisServer(tmp_path, "m", conf="save 900 1\n").start()
    try:
        s.fill(1000)
        s.client().save()
        f = findings(s.url)
        assert not {i for i, x in f.items() if x.severity == "critical"}
        assert not {"redis.clients.rejected", "redis.clients.output_buffer_disconnects", "redis.memory.fragmentation",
                    "redis.memory.swapping", "redis.persistence.save_slow", "redis.persistence.aof_fsync_slow",
                    "redis.memory.maxmemory_reached"} & set(f)
    finally:
        s.stop()


def test_fragmentation_after_deleting_most_keys(tmp_path) -> None:
    s = RedisServer(tmp_path, "m", conf="enable-debug-command yes\nactivedefrag no\n").start()
    try:
        c = s.client()
        c.execute_command("DEBUG", "POPULATE", 1_500_000, "key", 200)
        # keep one key in ten: nearly every page keeps a live key, so the memory is not given back
        c.eval("for i = 0, 1499999 do if i % 10 ~= 0 then redis.call('UNLINK', 'key:' .. i) end end", 0)
        f = findings(s.url)
        ev = f["redis.memory.fragmentation"].evidence
        assert ev["mem_fragmentation_ratio"] >= 1.5 and ev["activedefrag"] == "no"
    finally:
        s.stop()


def test_a_long_background_save_is_named_while_it_runs(tmp_path) -> None:
    s = RedisServer(tmp_path, "m", conf="rdb-key-save-delay 100000\n").start()  # 0.1 s per key: a slow disk
    try:
        s.fill(100)
        s.client().bgsave()
        time.sleep(2.5)
        f = findings(s.url, slow_save_s=2)
        ev = f["redis.persistence.save_slow"].evidence
        assert ev["running"] == "BGSAVE" and ev["running_for_s"] >= 2
        assert "redis.persistence.save_slow" not in findings(s.url)  # the default threshold is a minute
    finally:
        s.stop()
