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
