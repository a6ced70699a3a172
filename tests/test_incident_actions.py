"""The incident actions through a session, on real servers: each guard is read fresh, shows what the
action would touch, blocks what it must, and the action proves its result."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from conftest import ROOT, redis_look_findings
from redis_server import RedisServer, free_port
from runbook.engine.facts import LiveFacts
from runbook.engine.operators import AnswersOperator
from runbook.engine.session import Session
from runbook.journal import store
from runbook.playbook import loader
from runbook.sandbox import java
from runbook.targets import Target

needs_redis = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


def act(tmp: Path, kind: str, action: str, params: str, targets: dict[str, Target], role: str,
        answers: dict | None = None) -> tuple[str, list[Any]]:
    text = f"""
name: act
targets: {{{role}: {{kind: {kind}}}}}
steps:
  - id: act
    kind: action
    target: {role}
    action: {action}
    params: {params}
"""
    pb, problems = loader.loads(text, str(tmp / "act.yaml"))
    assert not problems, problems
    path = store.sessions_dir() / f"{store.new_session_id()}.jsonl"
    j = store.Journal(path)
    try:
        outcome = Session(pb, targets, mode="live", journal=j, operator=AnswersOperator(answers or {"act": {"confirm": role}}),
                          facts=LiveFacts(3.0)).start()
    finally:
        j.close()
    return outcome, store.read(path).events


def guards(events: list[Any]) -> dict[str, Any]:
    return {e.data["guard"]: e.data for e in events if e.kind == "guard"}


@needs_redis
def test_client_kill_closes_the_clients_of_one_address_and_nothing_else(tmp_path) -> None:
    s = RedisServer(tmp_path, "m", conf="protected-mode no\n").start()  # bound to 127.0.0.1 only; clients from 127.0.0.2
    noisy = [socket.create_connection(("127.0.0.1", s.port), timeout=2, source_address=("127.0.0.2", 0)) for _ in range(3)]
    keep = socket.create_connection(("127.0.0.1", s.port), timeout=2)
    try:
        for sock in noisy + [keep]:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            assert sock.recv(64) == b"+PONG\r\n"
        target = {"m": Target("m", s.url, "redis")}
        outcome, events = act(tmp_path, "redis", "redis.client_kill", "{ip: 127.0.0.3}", target, "m")
        assert outcome == "blocked" and "no client is connected from 127.0.0.3" in guards(events)["redis.client_kill_preview"]["reason"]
        outcome, events = act(tmp_path, "redis", "redis.client_kill", "{ip: 127.0.0.2}", target, "m")
        assert outcome == "completed", [e.data for e in events if e.kind in ("blocked", "action_result")]
        assert guards(events)["redis.client_kill_preview"]["evidence"]["clients"] == 3  # shown before the confirmation
        assert [e.data for e in events if e.kind == "action_result"][0]["expect"]["met"]
        for sock in noisy:
            assert sock.recv(64) == b""  # closed by the server
        keep.sendall(b"*1\r\n$4\r\nPING\r\n")
        assert keep.recv(64) == b"+PONG\r\n"  # another address: untouched
    finally:
        for sock in noisy + [keep]:
            sock.close()
        s.stop()


@needs_redis
def test_client_kill_refuses_an_address_that_holds_a_replication_link(tmp_path) -> None:
    m = RedisServer(tmp_path, "m").start()
    r = RedisServer(tmp_path, "r", conf=f"replicaof 127.0.0.1 {m.port}\n").start()
    try:
        deadline = time.monotonic() + 20
        while m.client().info("replication").get("connected_slaves", 0) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        outcome, events = act(tmp_path, "redis", "redis.client_kill", "{ip: 127.0.0.1}", {"m": Target("m", m.url, "redis")}, "m")
        assert outcome == "blocked" and "replication link" in guards(events)["redis.client_kill_preview"]["reason"]
        assert m.client().info("replication")["connected_slaves"] == 1
    finally:
        r.stop()
        m.stop()


def _sentinel(tmp: Path, name: str, master_port: int) -> RedisServer:
    d = tmp / name
    d.mkdir()
    s = RedisServer(tmp, name)
    s.conf = d / "sentinel.conf"
    s.conf.write_text(f"port {s.port}\nbind 127.0.0.1\ndir {d}\nlogfile {d}/sentinel.log\n"
                      f"sentinel monitor main 127.0.0.1 {master_port} 2\n"
                      "sentinel down-after-milliseconds main 1000\nsentinel failover-timeout main 10000\n")
    s.extra_args = ["--sentinel"]
    return s.start()


@needs_redis
def test_sentinel_failover_is_guarded_by_quorum_and_proves_a_new_master(tmp_path) -> None:
    m = RedisServer(tmp_path, "m").start()
    r = RedisServer(tmp_path, "r", conf=f"replicaof 127.0.0.1 {m.port}\n").start()
    sentinels = [_sentinel(tmp_path, "s1", m.port)]
    try:
        target = {"sentinel": Target("sentinel", sentinels[0].url, "redis")}
        outcome, events = act(tmp_path, "redis", "redis.sentinel_failover", "{master: main}", target, "sentinel")
        assert outcome == "blocked" and "no quorum" in guards(events)["redis.sentinel_can_failover"]["reason"]
        sentinels += [_sentinel(tmp_path, "s2", m.port), _sentinel(tmp_path, "s3", m.port)]
        deadline = time.monotonic() + 30
        while True:  # the Sentinels find each other and the replica
            c = sentinels[0].client()
            try:
                replicas = c.execute_command("SENTINEL", "REPLICAS", "main")
                # Sentinel's own view of the replica's link (refreshed every 10 s): what the guard reads
                if c.execute_command("SENTINEL", "CKQUORUM", "main").startswith("OK") and replicas and \
                        replicas[0].get("master-link-status") == "ok":  # redis-py gives a dict
                    break
            except Exception:  # noqa: BLE001 - NOQUORUM until they have met
                pass
            assert time.monotonic() < deadline
            time.sleep(0.3)
        import asyncio
        import threading

        from runbook.redis.check import look

        seen: list[dict] = []
        done = threading.Event()

        def watch() -> None:  # while the failover runs, `redis check` of the Sentinel says so
            while not done.is_set() and not seen:
                facts = asyncio.run(look(sentinels[0].url, 2.0, 60.0, preview=False))
                f = {x.id: x for x in redis_look_findings(facts)}
                if "redis.sentinel.failover_in_progress" in f:
                    seen.append(f["redis.sentinel.failover_in_progress"].evidence)
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        outcome, events = act(tmp_path, "redis", "redis.sentinel_failover", "{master: main}", target, "sentinel")
        done.set()
        watcher.join(5)
        assert outcome == "completed", [e.data for e in events if e.kind in ("blocked", "action_result", "guard")]
        assert seen and "failover_in_progress" in seen[0]["flags"]
        result = [e.data for e in events if e.kind == "action_result"][0]
        assert result["master_after"] == f"127.0.0.1:{r.port}"
        deadline = time.monotonic() + 10
        while r.client().info("replication")["role"] != "master":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        # the old master, back as a replica under Sentinel: promoting it by hand is refused
        m2 = {"m": Target("m", m.url, "redis")}
        def role(server: RedisServer) -> str | None:
            try:
                return server.client().info("replication")["role"]
            except redis.ConnectionError:  # Sentinel's REPLICAOF of it drops its clients
                return None

        while role(m) != "slave":
            assert time.monotonic() < deadline + 20, "the old master never became a replica"
            time.sleep(0.2)
        outcome, events = act(tmp_path, "redis", "redis.promote", "{}", m2, "m")
        assert outcome == "blocked" and "Sentinel(s) manage this server" in guards(events)["redis.not_managed_by_sentinel"]["reason"]
        assert m.client().info("replication")["role"] == "slave"
    finally:
        for s in sentinels:
            s.stop()
        r.stop()
        m.stop()


@needs_redis
def test_cluster_failover_on_a_replica_and_never_forced_without_the_glass(tmp_path) -> None:
    conf = "cluster-enabled yes\ncluster-node-timeout 2000\n"
    bus = [free_port() for _ in range(4)]
    nodes = [RedisServer(tmp_path, f"n{i}", conf=conf + f"cluster-config-file nodes-{i}.conf\ncluster-port {bus[i]}\n").start()
             for i in range(4)]
    try:
        for n, (a, b) in zip(nodes, [(0, 5460), (5461, 10922), (10923, 16383)]):
            n.client().execute_command("CLUSTER", "ADDSLOTSRANGE", a, b)
        for n, b in zip(nodes[1:], bus[1:]):
            nodes[0].client().execute_command("CLUSTER", "MEET", "127.0.0.1", n.port, b)
        deadline = time.monotonic() + 30
        while nodes[3].client().execute_command("CLUSTER", "INFO").count("cluster_known_nodes:4") == 0:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        master_id = nodes[0].client().execute_command("CLUSTER", "MYID")
        nodes[3].client().execute_command("CLUSTER", "REPLICATE", master_id)
        while nodes[3].client().info("replication").get("master_link_status") != "up":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        replica = {"replica": Target("replica", nodes[3].url, "redis")}
        outcome, events = act(tmp_path, "redis", "redis.cluster_failover", "{mode: FORCE}", replica, "replica")
        assert outcome == "blocked" and "break the glass" in guards(events)["redis.cluster_failover_not_forced"]["reason"]
        assert nodes[3].client().info("replication")["role"] == "slave"
        outcome, events = act(tmp_path, "redis", "redis.cluster_failover", "{}", replica, "replica")
        assert outcome == "completed", [e.data for e in events if e.kind in ("blocked", "action_result", "guard")]
        assert nodes[3].client().info("replication")["role"] == "master"
        master = {"replica": Target("replica", nodes[3].url, "redis")}  # now a master: the guard refuses
        outcome, events = act(tmp_path, "redis", "redis.cluster_failover", "{}", master, "replica")
        assert outcome == "blocked" and "not a replica" in guards(events)["redis.is_replica"]["reason"]
    finally:
        for n in nodes:
            n.stop()


@pytest.mark.skipif(not shutil.which("jcmd"), reason="no JDK")
def test_thread_dumps_are_saved_to_a_new_file_only(tmp_path) -> None:
    p = subprocess.Popen(["java", *java.program(ROOT / "runbook" / "sandbox" / "data" / "HotThread.java"), "60"], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        target = {"app": Target("app", f"pid:{p.pid}", "jvm")}
        out = tmp_path / "dumps.txt"
        outcome, events = act(tmp_path, "jvm", "jvm.save_thread_dumps", f"{{path: {out}, count: 2, interval_s: 1}}", target, "app")
        assert outcome == "completed" and out.read_text().count("Full thread dump") == 2 and "price-recalc" in out.read_text()
        outcome, events = act(tmp_path, "jvm", "jvm.save_thread_dumps", f"{{path: {out}, count: 1}}", target, "app")
        assert outcome == "failed" and out.read_text().count("Full thread dump") == 2  # never overwritten
    finally:
        p.kill()
        p.wait(10)
