"""The Redis actions on real servers: each does what its dry-run description says."""

from __future__ import annotations

import shutil
import time

import pytest

from redis_server import RedisServer, no_retry
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
        r = Promote.run(t, {}, 5)
        assert r["ok"] and r["role"] == "master" and r["expect"] == {"what": "role master", "met": True,
                                                                        "seen": "role master"}
        s.client().set("k", "v")  # writable again
        assert "CONFIG SET maxmemory 64mb; CONFIG REWRITE" in ConfigSet.describe(t, {"name": "maxmemory", "value": "64mb"})
        r = ConfigSet.run(t, {"name": "maxmemory", "value": "64mb"}, 5)
        assert r["ok"] and "maxmemory 64mb" in s.conf.read_text() and "replicaof" not in s.conf.read_text()
        assert r["expect"]["met"] and r["expect"]["seen"] == str(64 * 1024 * 1024)
        r = Bgsave.run(t, {}, 5)
        assert r["ok"] and r["expect"]["met"]
        deadline = time.monotonic() + 10
        while not (s.base / "dump.rdb").exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(ValueError):
            Shutdown.describe(t, {})  # SAVE or NOSAVE must be said
        assert Shutdown.describe(t, {"save": False}) == f"SHUTDOWN NOSAVE on {s.url}"
        r = Shutdown.run(t, {"save": False}, 5)
        assert r["ok"] and r["expect"]["met"]
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

        assert redis_py.Redis(port=s.port, password=secret, retry=no_retry()).ping()  # it did set it
    finally:
        s.stop()


def _kill_port(port: int) -> None:
    import psutil

    for p in psutil.process_iter(["name", "cmdline"]):
        if "redis-server" in (p.info["name"] or "") and f":{port}" in " ".join(p.info["cmdline"] or []):
            p.kill()


def test_restart_stops_starts_and_proves_it(tmp_path, state_dir) -> None:
    from runbook.redis.actions import Restart

    s = RedisServer(tmp_path, "a", conf="save 3600 1\n").start()
    try:
        s.fill(300)
        before = s.client().info("server")
        t = Target("master", s.url, "redis", restart_command=("redis-server", str(s.conf)))
        assert Restart.describe(t, {}).startswith(f"SHUTDOWN on {s.url}; wait for the process to exit; redis-server")
        r = Restart.run(t, {}, 5)
        assert r["ok"], r
        after = s.client().info("server")
        assert after["process_id"] != before["process_id"] and after["run_id"] != before["run_id"]
        assert r["new_run_id"] == after["run_id"] and r["keys"] == 300 == s.client().dbsize()
        assert r["expect"]["met"] and "at least 300 keys" in r["expect"]["what"]
        assert not s.alive()  # the old process is gone: it was stopped, not doubled
    finally:
        _kill_port(s.port)
        s.stop()


def test_a_restart_that_does_not_come_back_says_why_in_the_servers_words(tmp_path, state_dir) -> None:
    from runbook.redis.actions import Restart

    s = RedisServer(tmp_path, "a", conf="save 3600 1\n").start()
    try:
        s.fill(10)
        s.conf.write_text(s.conf.read_text() + "maxmemory-policy sometimes\n")
        t = Target("master", s.url, "redis", restart_command=("redis-server", str(s.conf)))
        r = Restart.run(t, {"wait_s": 10}, 5)
        assert not r["ok"]
        assert "exited 1" in r["error"] and "maxmemory-policy" in r["error"], r["error"]
    finally:
        _kill_port(s.port)
        s.stop()


def test_a_start_command_that_comes_up_on_another_port_is_caught(tmp_path, state_dir) -> None:
    from redis_server import free_port
    from runbook.redis.actions import Restart

    s = RedisServer(tmp_path, "a", conf="save 3600 1\n").start()
    other = free_port()
    try:
        s.fill(10)
        t = Target("master", s.url, "redis", restart_command=("redis-server", str(s.conf), "--port", str(other)))
        r = Restart.run(t, {"wait_s": 3}, 5)
        assert not r["ok"] and "no new server answered at the address" in r["error"], r
    finally:
        _kill_port(other)
        s.stop()


def test_redis_command_reads_allow_listed_commands_only(tmp_path, state_dir) -> None:
    import json

    from conftest import runbook
    from runbook.redis.command import CommandRefused, probe

    s = RedisServer(tmp_path, "a", conf="slowlog-log-slower-than 0\n", password="cmd-secret-9").start()
    try:
        s.client().set("k", "v")
        t = Target("master", s.url, "redis")
        facts = probe(t, {"command": ["SLOWLOG", "GET", "5"]}, 5)
        assert facts["reachable"] and any("set" in json.dumps(e).lower() for e in facts["reply"])
        masked = probe(t, {"command": ["CONFIG", "GET", "requirepass"]}, 5)
        assert "cmd-secret-9" not in json.dumps(masked)
        for bad in (["FLUSHALL"], ["CONFIG", "SET", "save", ""], ["KEYS", "*"], ["DEBUG", "SLEEP", "1"], "INFO"):
            with pytest.raises(CommandRefused):
                probe(t, {"command": bad}, 5)
        assert s.client().dbsize() == 1
        pb = tmp_path / "slow.yaml"
        pb.write_text("""
name: slowlog
targets: {master: {kind: redis}}
steps:
  - id: read
    kind: check
    target: master
    probes: [redis.command]
    params: {command: [SLOWLOG, LEN]}
  - id: judge
    kind: decision
    branches:
      - when: facts.master.reply > 0
        goto: end
    default: none
  - id: none
    kind: instruction
    text: nothing slow
""")
        r = runbook("run", str(pb), "--target", f"master={s.url}", "--headless")
        assert r.returncode == 0 and "go to end because facts.master.reply > 0" in r.stdout, r.stdout + r.stderr
    finally:
        s.stop()
