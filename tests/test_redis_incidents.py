"""The incident findings of the playbook library, each raised on a real redis-server put into that state, by
the playbook's probe and by the one look an engineer runs first (`runbook redis check`), with the same id."""

from __future__ import annotations

import shutil
import socket
import time

import pytest
import redis as redis_py

from conftest import looked, runbook
from redis_server import RedisServer, no_retry
from runbook.redis.check import assess, probe
from runbook.sandbox.incidents import fragment
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
            c = redis_py.Redis(port=s.port, socket_timeout=2, retry=no_retry())
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
        assert looked(s.url)["redis.clients.rejected"]["evidence"]["rejected_connections"] >= 1
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
        assert "flags=P" in looked(s.url)["redis.clients.output_buffer_disconnects"]["evidence"]["last"]
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
        fragment(s.client(socket_timeout=120))  # keys made, then deleted: seconds on a busy machine
        f = findings(s.url)
        ev = f["redis.memory.fragmentation"].evidence
        assert ev["mem_fragmentation_ratio"] >= 1.5 and ev["activedefrag"] == "no"
        assert "redis.memory.fragmentation" in looked(s.url)
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


def _probe(module: str, url: str, **params) -> tuple[dict, dict]:
    import importlib

    m = importlib.import_module(f"runbook.redis.{module}")
    facts = m.probe(Target("r", url, "redis"), params, 5.0)
    return facts, {f.id: f for f in m.assess(facts)}


def test_a_slow_script_and_a_slow_fork_are_named(tmp_path) -> None:
    s = RedisServer(tmp_path, "m", conf="latency-monitor-threshold 1\n").start()
    try:
        c = s.client()
        facts, f = _probe("latency", s.url)
        assert "redis.latency.slow_commands" not in f and facts["slow_commands"] == []
        c.eval("local i = 0 while i < 20000000 do i = i + 1 end return i", 0)  # a busy script: 100 ms or more
        s.fill(20000)
        c.bgsave()
        deadline = time.monotonic() + 10
        while c.info("persistence")["rdb_bgsave_in_progress"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        facts, f = _probe("latency", s.url)
        ev = f["redis.latency.slow_commands"].evidence
        assert ev["slow_commands"] >= 1 and ev["slowest"].upper().startswith("EVAL ") and "EVAL" in ev["by_command"]
        seen = looked(s.url)["redis.latency.slow_commands"]["evidence"]
        assert seen["slowest"].upper().startswith("EVAL ") and seen["by_command"] == ev["by_command"]
        assert "redis.latency.fork" not in f  # a fork of a small dataset is quick
        fork_ms = facts["latest_fork_usec"] / 1000
        assert fork_ms > 0
        facts, f = _probe("latency", s.url, fork_ms=fork_ms / 2)  # the threshold as a playbook may set it
        assert f["redis.latency.fork"].evidence["latest_fork_ms"] == round(fork_ms, 1)
    finally:
        s.stop()


def _sentinel(tmp_path, name: str, master_port: int, quorum: int) -> RedisServer:
    from redis_server import free_port

    port = free_port()
    d = tmp_path / name
    d.mkdir()
    conf = d / "sentinel.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {d}\nlogfile {d}/sentinel.log\n"
                    f"sentinel monitor main 127.0.0.1 {master_port} {quorum}\n"
                    "sentinel down-after-milliseconds main 1000\nsentinel failover-timeout main 5000\n")
    s = RedisServer(tmp_path, name, port=port)
    s.conf = conf
    s.extra_args = ["--sentinel"]
    return s.start()


@pytest.mark.skipif(not shutil.which("redis-sentinel") and not shutil.which("redis-server"), reason="no sentinel")
def test_sentinel_quorum_and_a_master_down(tmp_path) -> None:
    m = RedisServer(tmp_path, "m").start()
    sentinels = []
    try:
        sentinels.append(_sentinel(tmp_path, "s1", m.port, 2))
        facts, f = _probe("sentinel", sentinels[0].url)
        assert facts["is_sentinel"] and facts["masters"][0]["name"] == "main"
        assert "NOQUORUM" in f["redis.sentinel.no_quorum"].evidence["ckquorum"]  # one Sentinel, quorum 2
        # the one look through the Sentinel reports it for what it says, beside the master it names
        assert "NOQUORUM" in looked(sentinels[0].url, discover=True)["redis.sentinel.no_quorum"]["evidence"]["ckquorum"]
        text = runbook("redis", "check", "--no-discover", sentinels[0].url).stdout
        assert f"{sentinels[0].url}  sentinel" in text and "not previewed" not in text and "NOQUORUM" in text
        sentinels += [_sentinel(tmp_path, "s2", m.port, 2), _sentinel(tmp_path, "s3", m.port, 2)]
        deadline = time.monotonic() + 20
        while True:  # the Sentinels find each other through the master's hello channel
            facts, f = _probe("sentinel", sentinels[0].url)
            if "redis.sentinel.no_quorum" not in f:
                break
            assert time.monotonic() < deadline, facts
            time.sleep(0.3)
        assert facts["masters"][0]["ckquorum"].startswith("OK") and "redis.sentinel.master_down" not in f
        m.stop()  # no replica: nothing can take over
        deadline = time.monotonic() + 20
        while True:
            facts, f = _probe("sentinel", sentinels[0].url)
            if "redis.sentinel.master_down" in f and f["redis.sentinel.master_down"].severity == "critical":
                break
            assert time.monotonic() < deadline, facts
            time.sleep(0.3)
        ev = f["redis.sentinel.master_down"].evidence
        assert "o_down" in ev["flags"] and ev["replicas_able_to_take_over"] == []
        assert "o_down" in looked(sentinels[0].url)["redis.sentinel.master_down"]["evidence"]["flags"]
        _, f = _probe("sentinel", m.url)  # not a Sentinel (and not reachable): unreachable, never a guess
        assert "redis.unreachable" in f
    finally:
        for s in sentinels:
            s.stop()
        m.stop()


def test_a_cluster_with_a_failed_node_and_uncovered_slots(tmp_path) -> None:
    from redis_server import free_port

    conf = "cluster-enabled yes\ncluster-node-timeout 1000\n"
    bus = [free_port() for _ in range(3)]  # named: a port above 55535 has no default bus port
    nodes = [RedisServer(tmp_path, f"n{i}", conf=conf + f"cluster-config-file nodes-{i}.conf\ncluster-port {bus[i]}\n").start()
             for i in range(3)]
    try:
        _, f = _probe("cluster", nodes[0].url)
        assert "redis.cluster.slots_uncovered" in f  # nothing assigned yet
        assert "redis.cluster.slots_uncovered" in looked(nodes[0].url)
        ranges = [(0, 5460), (5461, 10922), (10923, 16383)]
        for n, (a, b) in zip(nodes, ranges):
            n.client().execute_command("CLUSTER", "ADDSLOTSRANGE", a, b)
        for n, b in zip(nodes[1:], bus[1:]):
            nodes[0].client().execute_command("CLUSTER", "MEET", "127.0.0.1", n.port, b)
        deadline = time.monotonic() + 20
        while True:
            facts, f = _probe("cluster", nodes[0].url)
            if facts["cluster_state"] == "ok" and facts["cluster_known_nodes"] == 3:
                break
            assert time.monotonic() < deadline, facts
            time.sleep(0.2)
        assert "redis.cluster.slots_uncovered" not in f and "redis.cluster.node_failed" not in f
        assert len(f["redis.cluster.no_replica"].evidence["masters_without_a_replica"]) == 3
        assert len(looked(nodes[0].url)["redis.cluster.no_replica"]["evidence"]["masters_without_a_replica"]) == 3
        nodes[2].stop()
        deadline = time.monotonic() + 20
        while True:
            facts, f = _probe("cluster", nodes[0].url)
            if "redis.cluster.node_failed" in f and f["redis.cluster.node_failed"].severity == "critical":
                break
            assert time.monotonic() < deadline, facts
            time.sleep(0.2)
        assert f["redis.cluster.node_failed"].evidence["failed"] == [f"127.0.0.1:{nodes[2].port}"]
        assert f["redis.cluster.node_failed"].evidence["slots_on_them"] == 5461
        ev = f["redis.cluster.slots_uncovered"].evidence
        assert ev["cluster_state"] == "fail" and ev["slots_not_served"] == 5461
        seen = looked(nodes[0].url)
        assert seen["redis.cluster.node_failed"]["evidence"]["failed"] == [f"127.0.0.1:{nodes[2].port}"]
        assert seen["redis.cluster.slots_uncovered"]["evidence"]["slots_not_served"] == 5461
        nodes.append(RedisServer(tmp_path, "plain").start())  # stopped with the others
        _, f = _probe("cluster", nodes[-1].url)
        assert f == {}  # not a cluster node: nothing to say
    finally:
        for n in nodes:
            n.stop()
