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


def test_config_set_requirepass_shows_no_value_anywhere(tmp_path, state_dir) -> None:
    import json

    from conftest import runbook

    secret = "n3w-pa55-Zq8x"
    s = RedisServer(tmp_path, "a").start()
    try:
        pb = tmp_path / "pw.yaml"
        pb.write_text(f"""
name: set-password
targets: {{master: {{kind: redis}}}}
steps:
  - id: set
    kind: action
    target: master
    action: redis.config_set
    params: {{name: requirepass, value: "{secret}"}}
""")
        answers = tmp_path / "a.yaml"
        answers.write_text(json.dumps({"set": {"confirm": "master"}}))
        dry = runbook("run", str(pb), "--target", f"master={s.url}", "--headless", "--dry-run", "--answers", str(answers))
        live = runbook("run", str(pb), "--target", f"master={s.url}", "--headless", "--answers", str(answers))
        assert live.returncode == 0, live.stdout + live.stderr
        assert "CONFIG SET requirepass *****" in dry.stdout and "CONFIG SET requirepass *****" in live.stdout
        journals = list((state_dir / "sessions").glob("*.jsonl"))
        session = journals[0].stem
        shown = [runbook("journal", "show", j.stem, "-v").stdout for j in journals]
        export = runbook("journal", "export", session).stdout
        outputs = [dry.stdout, dry.stderr, live.stdout, live.stderr, export, *shown,
                   *(j.read_text() for j in journals)]
        assert all(secret not in o for o in outputs)
        import redis as redis_py

        assert redis_py.Redis(port=s.port, password=secret).ping()  # it did set it
    finally:
        s.stop()
