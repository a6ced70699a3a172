"""Many instances: a Sentinel address expands to its master and replicas; unix sockets work."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest
import redis

from conftest import runbook
from redis_server import RedisServer, free_port, no_retry

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


def test_sentinel_expands_to_master_and_replicas(tmp_path) -> None:
    m = RedisServer(tmp_path, "master").start()
    r = RedisServer(tmp_path, "replica", conf=f"replicaof 127.0.0.1 {m.port}\n").start()
    sport = free_port()
    sdir = tmp_path / "sentinel"
    sdir.mkdir()
    conf = sdir / "sentinel.conf"
    conf.write_text(f"port {sport}\nbind 127.0.0.1\ndir {sdir}\nsentinel monitor mymaster 127.0.0.1 {m.port} 1\n")
    sentinel = subprocess.Popen(["redis-server", str(conf), "--sentinel"], cwd=sdir, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        c = redis.Redis(port=sport, decode_responses=True, socket_timeout=2, retry=no_retry())
        deadline = time.monotonic() + 30
        while True:
            try:
                if c.execute_command("SENTINEL", "REPLICAS", "mymaster"):
                    break
            except redis.exceptions.RedisError:
                pass
            assert time.monotonic() < deadline, "the sentinel never saw the replica"
            time.sleep(0.2)
        out = runbook("redis", "check", f"redis://127.0.0.1:{sport}", "--json", "--no-preview")
        reps = json.loads(out.stdout)
        roles = sorted((x["target"], x["role"]) for x in reps)
        assert roles == sorted([(f"redis://127.0.0.1:{m.port}", "master"), (f"redis://127.0.0.1:{r.port}", "slave")])
    finally:
        sentinel.kill()
        sentinel.wait(10)
        r.stop()
        m.stop()


def test_unix_socket(tmp_path) -> None:
    sock = tmp_path / "s" / "redis.sock"
    sock.parent.mkdir()
    s = RedisServer(tmp_path, "u", conf=f"unixsocket {sock}\nunixsocketperm 700\n").start()
    try:
        s.fill(7)
        out = runbook("redis", "check", f"unix://{sock}", "--json")
        [rep] = json.loads(out.stdout)
        assert rep["reachable"] and rep["restart_preview"]["keys_live"] == 7
    finally:
        s.stop()
