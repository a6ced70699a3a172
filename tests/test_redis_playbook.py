"""The shipped Redis playbook, headless, against real servers: guards read fresh, fail closed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import psutil
import pytest

from conftest import PLAYBOOKS, runbook
from redis_server import RedisServer
from runbook.journal import store

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")
PLAYBOOK = str(PLAYBOOKS / "redis-master-restart.yaml")


def inventory(tmp: Path, s: RedisServer) -> Path:
    restart = ["redis-server", str(s.conf)]  # runbook stops the server itself, then runs this
    p = tmp / "inventory.yaml"
    p.write_text(json.dumps({"targets": {"master": {"url": s.url, "restart": {"command": restart}}}}))
    return p


def answers(tmp: Path, **extra: object) -> Path:
    a = {"storm": "done", "aof-trap": "done", "preview": "done", "investigate": "done", **extra}
    p = tmp / "answers.yaml"
    p.write_text(json.dumps(a))
    return p


def events(state: Path) -> list:
    return store.read(next((state / "sessions").glob("*.jsonl"))).events


def kill_port(port: int) -> None:
    for p in psutil.process_iter(["name", "cmdline"]):
        if "redis-server" in (p.info["name"] or "") and f":{port}" in " ".join(p.info["cmdline"] or []):
            p.kill()


def test_replicaof_self_in_the_file_blocks_the_restart_and_the_server_keeps_its_keys(tmp_path, state_dir) -> None:
    s = RedisServer(tmp_path, "m").start()
    try:
        s.fill(300)
        s.client().save()
        s.conf.write_text(s.conf.read_text() + f"replicaof 127.0.0.1 {s.port}\n")
        r = runbook("run", PLAYBOOK, "-i", str(inventory(tmp_path, s)), "--headless",
                    "--answers", str(answers(tmp_path, restart={"confirm": "master"})), timeout=120)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "redis.restart.replicaof_self" in r.stdout
        assert "BLOCK redis.restart_is_safe" in r.stdout
        ev = events(state_dir)
        assert "action_intent" not in [e.kind for e in ev]
        assert ev[-1].data["outcome"] == "blocked"
        assert s.alive() and s.client().dbsize() == 300
    finally:
        s.stop()


def test_aof_trap_blocks_the_restart_and_the_server_keeps_its_keys(tmp_path, state_dir) -> None:
    s = RedisServer(tmp_path, "m").start()
    try:
        s.fill(300)
        s.client().save()
        s.conf.write_text(s.conf.read_text().replace("appendonly no", "appendonly yes"))
        r = runbook("run", PLAYBOOK, "-i", str(inventory(tmp_path, s)), "--headless",
                    "--answers", str(answers(tmp_path, restart={"confirm": "master"})), timeout=120)
        assert r.returncode == 1
        assert "redis.restart.aof_missing" in r.stdout and "go to aof-trap" in r.stdout
        assert "BLOCK redis.restart_is_safe" in r.stdout
        assert s.alive() and s.client().dbsize() == 300 and s.client().info("server")["process_id"] == s.pid
    finally:
        s.stop()


def test_aof_trap_fixed_by_the_safe_switch_then_restarted_with_every_key(tmp_path, state_dir) -> None:
    s = RedisServer(tmp_path, "m").start()
    try:
        s.fill(300)
        s.client().save()
        s.conf.write_text(s.conf.read_text().replace("appendonly no", "appendonly yes"))
        inv = inventory(tmp_path, s)
        switch = tmp_path / "switch.yaml"
        switch.write_text(json.dumps({"explain": "done", "switch": {"confirm": "master"}}))
        r = runbook("run", str(PLAYBOOKS / "redis-enable-aof.yaml"), "-i", str(inv), "--headless", "--answers", str(switch),
                    timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert s.client().info("persistence")["aof_enabled"] == 1
        ans = answers(tmp_path, restart={"confirm": "master"})
        r = runbook("run", PLAYBOOK, "-i", str(inv), "--headless", "--answers", str(ans), timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "PASS  redis.restart_is_safe" in r.stdout
        c = s.client()
        assert c.info("server")["process_id"] != s.pid
        assert c.dbsize() == 300 and c.info("persistence")["aof_enabled"] == 1
    finally:
        kill_port(s.port)
        s.stop()


def test_hung_master_blocks_every_guard(tmp_path, state_dir) -> None:
    s = RedisServer(tmp_path, "m").start()
    try:
        s.fill(10)
        s.client().save()
        inv = inventory(tmp_path, s)
        ans = answers(tmp_path, restart={"confirm": "master"})
        os.kill(s.pid, signal.SIGSTOP)
        t = time.monotonic()
        r = runbook("run", PLAYBOOK, "-i", str(inv), "--headless", "--answers", str(ans), "--timeout", "0.5", timeout=120)
        elapsed = time.monotonic() - t
        os.kill(s.pid, signal.SIGCONT)
        assert r.returncode == 1
        assert "redis.unreachable" in r.stdout
        # the session stops at the first decision on what could not be read, or at the guards: never acts
        ev = events(state_dir)
        guards = [e.data for e in ev if e.kind == "guard"]
        assert all(not g["passed"] for g in guards) and "action_intent" not in [e.kind for e in ev]
        assert guards or any(e.kind == "decision" and e.data.get("unknown") for e in ev)
        assert elapsed < 30
        assert s.client().dbsize() == 10
    finally:
        s.stop()


def test_safe_restart_runs_after_typed_confirmation(tmp_path, state_dir) -> None:
    s = RedisServer(tmp_path, "m").start()
    try:
        s.fill(200)
        s.client().save()
        old_pid = s.pid
        r = runbook("run", PLAYBOOK, "-i", str(inventory(tmp_path, s)), "--headless",
                    "--answers", str(answers(tmp_path, restart={"confirm": "master"})), timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "PASS  redis.restart_is_safe" in r.stdout
        kinds = [e.kind for e in events(state_dir)]
        assert kinds.index("confirmation") < kinds.index("action_intent") < kinds.index("action_result")
        info = s.client().info("server")
        assert info["process_id"] != old_pid
        assert s.client().dbsize() == 200
    finally:
        kill_port(s.port)
        s.stop()


def test_dry_run_names_the_exact_restart_command(tmp_path, state_dir) -> None:
    s = RedisServer(tmp_path, "m").start()
    try:
        s.fill(20)
        s.client().save()
        r = runbook("run", PLAYBOOK, "-i", str(inventory(tmp_path, s)), "--headless", "--dry-run",
                    "--answers", str(answers(tmp_path)), timeout=120)
        assert f"would run: SHUTDOWN on redis://127.0.0.1:{s.port}" in r.stdout and str(s.conf) in r.stdout
        assert s.client().info("server")["process_id"] == s.pid
        assert r.returncode == 0, r.stdout
    finally:
        s.stop()


def test_a_verify_read_that_times_out_never_completes(tmp_path, state_dir) -> None:
    """The decision after the action must not be judged on the reading from before it."""
    s = RedisServer(tmp_path, "m").start()
    try:
        s.fill(50)
        pb = tmp_path / "verify.yaml"
        pb.write_text(f"""
name: verify-after-action
targets: {{master: {{kind: redis}}, host: {{kind: host}}}}
steps:
  - id: before
    kind: check
    target: master
    probes: [redis.check]
    params: {{redis.check: {{load_limit_mb: 0}}}}
  - id: hang-it
    kind: action
    target: host
    action: host.command
    params: {{command: [kill, -STOP, "{s.pid}"]}}
  - id: verify
    kind: check
    target: master
    probes: [redis.check]
  - id: done
    kind: decision
    branches:
      - when: facts.master.role == 'master' and facts.master.keys_live > 0
        goto: end
    default: investigate
  - id: investigate
    kind: instruction
    text: it did not come back as it was
""")
        answers = tmp_path / "a.yaml"
        answers.write_text(json.dumps({"hang-it": {"confirm": "host"}}))
        r = runbook("run", str(pb), "--target", f"master={s.url}", "--target", "host=local", "--headless",
                    "--answers", str(answers), "--timeout", "0.5", timeout=120)
        assert "session completed" not in r.stdout, r.stdout
        assert "go to investigate" in r.stdout
        assert "facts redis.check on master: UNREACHABLE" in r.stdout
        assert "facts of master: read at step verify" in r.stdout
        decision = [e for e in events(state_dir) if e.kind == "decision"][-1].data
        assert decision["reads"]["master"]["step"] == "verify"
    finally:
        os.kill(s.pid, signal.SIGCONT)
        s.stop()


def test_a_restart_bound_without_its_start_shows_the_guards_and_says_how_to_give_it(tmp_path, state_dir) -> None:
    s = RedisServer(tmp_path, "m", conf="save 3600 1\n").start()
    try:
        s.fill(10)
        r = runbook("run", PLAYBOOK, "--target", f"master={s.url}", "--headless",
                    "--answers", str(answers(tmp_path, restart={"confirm": "master"})), timeout=120)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "guard " in r.stdout.split("[restart]")[1], r.stdout  # the guards, read all the same
        assert "restart: {command: [redis-server" in r.stdout and "-i FILE" in r.stdout, r.stdout
        assert s.alive() and s.client().dbsize() == 10
    finally:
        s.stop()
