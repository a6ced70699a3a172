"""The Redis actions on real servers: each does what its dry-run description says."""

from __future__ import annotations

import shutil
import time

import pytest

from redis_server import RedisServer
from runbook.redis.actions import Bgsave, ConfigSet, Promote, Shutdown
from runbook.targets import Target

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


def test_promote_config_set_bgsave_shutdown(tmp_path) -> None:
    s = RedisServer(tmp_path, "a")
    s.write_conf(f"replicaof 127.0.0.1 {s.port}\n")  # a replica of itself: read-only
    s.start()
    t = Target("master", s.url, "redis")
    try:
        assert Promote.describe(t, {}) == f"REPLICAOF NO ONE on {s.url}"
        assert Promote.run(t, {}, 5) == {"ok": True, "role": "master"}
        s.client().set("k", "v")  # writable again
        assert "CONFIG SET maxmemory 64mb; CONFIG REWRITE" in ConfigSet.describe(t, {"name": "maxmemory", "value": "64mb"})
        r = ConfigSet.run(t, {"name": "maxmemory", "value": "64mb"}, 5)
        assert r["ok"] and "maxmemory 64mb" in s.conf.read_text() and "replicaof" not in s.conf.read_text()
        assert Bgsave.run(t, {}, 5)["ok"]
        deadline = time.monotonic() + 10
        while not (s.base / "dump.rdb").exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(ValueError):
            Shutdown.describe(t, {})  # SAVE or NOSAVE must be said
        assert Shutdown.describe(t, {"save": False}) == f"SHUTDOWN NOSAVE on {s.url}"
        assert Shutdown.run(t, {"save": False}, 5)["ok"]
        s.proc.wait(10)
        assert not s.alive()
    finally:
        s.stop()
