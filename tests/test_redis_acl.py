"""The whole check through the minimal read-only ACL user: the server receives nothing else."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import runbook
from redis_server import RedisServer
from runbook.redis.command import PROBE_COMMANDS, probe_acl

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")

ALLOWED = set(PROBE_COMMANDS)
PROBE_ACL = probe_acl("probe", "probe-pw")


def test_check_through_read_only_user_sends_only_allowed_commands(tmp_path) -> None:
    s = RedisServer(tmp_path, "acl").start()
    try:
        admin = s.client()
        admin.execute_command("ACL", "SETUSER", *PROBE_ACL.split())
        admin.execute_command("ACL", "LOG", "RESET")
        s.fill(100)
        admin.save()
        # INFO commandstats counts every command any client sent (MONITOR hides admin commands such as CONFIG)
        admin.config_resetstat()
        url = f"redis://probe:probe-pw@127.0.0.1:{s.port}"
        r = runbook("redis", "check", url, "--json", "--interval", "1")
        stats = admin.info("commandstats")
        rep = json.loads(r.stdout)[0]
        assert rep["reachable"] and rep["restart_preview"]["loads"] == "rdb"
        assert rep["restart_preview"]["keys_on_disk"] == 100
        assert "probe-pw" not in r.stdout
        names = {k.removeprefix("cmdstat_") for k in stats} - {"config|resetstat"}
        assert names, "the monitor saw nothing"
        assert names <= ALLOWED, names - ALLOWED
        assert {"info", "config|get", "role", "dbsize"} <= names
        assert admin.execute_command("ACL", "LOG") == []  # nothing refused either
    finally:
        s.stop()


def _stats_and_log(admin) -> tuple[set[str], list]:
    names = {k.removeprefix("cmdstat_") for k in admin.info("commandstats")} - {"config|resetstat", "acl|log"}
    return names, admin.execute_command("ACL", "LOG")


@pytest.mark.skipif(not shutil.which("redis-sentinel"), reason="redis-sentinel is not installed")
def test_the_restart_simulation_through_the_read_only_user_on_a_watched_master_and_a_cluster_node(tmp_path) -> None:
    """--restart sends what only a restart needs (COMMAND INFO, PUBSUB NUMSUB, SUBSCRIBE to the Sentinels'
    hello, CLUSTER MYID): all on the list, nothing refused, and the guard's answers are proven through it."""
    import time

    from redis_server import free_port

    user = f"user {PROBE_ACL}\n"
    m = RedisServer(tmp_path, "m", conf="save 3600 1\n" + user).start()
    port = free_port()
    while port > 55535:  # a cluster bus listens 10,000 ports higher
        port = free_port()
    node = RedisServer(tmp_path, "node", port=port,
                       conf="save 3600 1\ncluster-enabled yes\ncluster-config-file nodes.conf\n" + user).start()
    s = RedisServer(tmp_path, "s1")
    s.conf = s.base / "sentinel.conf"
    s.conf.write_text(f"port {s.port}\nbind 127.0.0.1\ndir {s.base}\nlogfile {s.base}/sentinel.log\n"
                      f"sentinel monitor main 127.0.0.1 {m.port} 1\nsentinel down-after-milliseconds main 60000\n")
    s.extra_args = ["--sentinel"]
    s.start()
    try:
        node.client().execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        deadline = time.monotonic() + 20
        while m.client().execute_command("PUBSUB", "NUMSUB", "__sentinel__:hello")[1] < 1:
            assert time.monotonic() < deadline, "the Sentinel never subscribed to the master"
            time.sleep(0.1)
        for server in (m, node):
            admin = server.client()
            server.fill(50) if server is m else None
            admin.save()
            admin.execute_command("ACL", "LOG", "RESET")
            admin.config_resetstat()
            r = runbook("redis", "check", "--restart", "--json", "--no-discover",
                        f"redis://probe:probe-pw@127.0.0.1:{server.port}")
            rep = json.loads(r.stdout)[0]
            names, log = _stats_and_log(admin)
            names -= {"publish"} if server is m else set()  # the Sentinel's own hello, every 2 s
            assert names <= ALLOWED, names - ALLOWED
            assert log == [], log
            assert not rep["restart_preview"]["unproven"], rep["restart_preview"]["unproven"]
            if server is m:
                assert {"command|info", "pubsub|numsub", "subscribe"} <= names
                assert rep["restart_preview"]["sentinels"]["down_after_ms"] == 60000
            else:
                assert "cluster|myid" in names
    finally:
        for x in (s, node, m):
            x.stop()


def test_the_readme_prints_the_list_and_the_copy_changes() -> None:
    from conftest import ROOT
    from runbook.redis.proofs import COPY_CHANGES

    readme = (ROOT / "README.md").read_text()
    assert f"ACL SETUSER {probe_acl('probe', 'pw')}\n" in readme
    for directive in COPY_CHANGES:
        assert f"| `{directive}` |" in readme, directive
