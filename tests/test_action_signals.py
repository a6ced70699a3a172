"""runbook killed in the middle of a restart: the master ends up with every key (by itself, or after one
--resume), and the restart runs exactly once. Real redis-server, the shipped playbook, headless."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import redis

from conftest import PLAYBOOKS, ROOT, runbook
from redis_server import RedisServer, no_retry
from runbook.journal import store

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")

KEYS = 100_000


def _journal(state: Path) -> Path | None:
    return next((state / "sessions").glob("*.jsonl"), None) if (state / "sessions").exists() else None


def _kinds(state: Path) -> list[str]:
    p = _journal(state)
    return [e.kind for e in store.read(p).events] if p else []


def _until(cond, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _answers(s: RedisServer) -> dict | None:
    try:
        return redis.Redis(host="127.0.0.1", port=s.port, socket_timeout=0.5, decode_responses=True, retry=no_retry()).info("server")
    except redis.exceptions.RedisError:
        return None


def _runners(state: Path) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "runbook.engine.runner" in cmd and str(state) in cmd:
            out.append(p)
    return out


@pytest.mark.parametrize("point", ["intent", "stopped", "started"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL], ids=lambda s: s.name)
def test_a_signal_during_a_restart_never_leaves_the_master_down_nor_runs_it_twice(tmp_path, state_dir, sig, point):
    # enough keys that the stop (its save) and the start (the load) take a moment
    s = RedisServer(tmp_path, "m", conf="save 3600 1\nenable-debug-command local\n").start()
    start = ["redis-server", str(s.conf)]
    inv = tmp_path / "inventory.yaml"
    inv.write_text(json.dumps({"targets": {"master": {"url": s.url, "restart": {"command": start}}}}))
    ans = tmp_path / "answers.yaml"
    ans.write_text(json.dumps({"storm": "done", "aof-trap": "done", "preview": "done", "investigate": "done",
                               "restart": {"confirm": "master"}}))
    proc = None
    try:
        s.client().execute_command("DEBUG", "POPULATE", KEYS, "key", 64)
        s.client().save()
        starts = s.log.read_text().count("Ready to accept connections")
        old_run_id = s.client().info("server")["run_id"]
        proc = subprocess.Popen([sys.executable, "-m", "runbook.cli", "run", str(PLAYBOOKS / "redis-master-restart.yaml"),
                                 "-i", str(inv), "--headless", "--answers", str(ans)], cwd=ROOT,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        def intent() -> bool:
            if proc.poll() is not None:  # it ended before the restart began: blocked, say why
                out, err = proc.communicate()
                raise AssertionError(f"runbook ended ({proc.returncode}) before the restart's intent:\n{out}\n{err}")
            return "action_intent" in _kinds(state_dir)

        # its guards read twice and simulate the restart twice (100,000 keys): a minute on a loaded machine
        _until(intent, "the restart's intent in the journal", timeout=120)
        if point != "intent":  # "stopped": the old server has exited, the start has not run yet;
            # "started": the start command ran, the new server is not proven yet
            _until(lambda: any(f'"phase":"{point}"' in p.read_text() for p in (state_dir / "sessions" / "actions").glob("*.jsonl")),
                   f"the runner to record {point!r}", timeout=60)
        os.kill(proc.pid, sig)
        out, err = proc.communicate(timeout=60)
        if sig != signal.SIGKILL:
            # deferred: the restart was finished and journalled, then runbook stopped as the signal asked
            assert proc.returncode == (130 if sig == signal.SIGINT else 128 + sig), out + err
            kinds = _kinds(state_dir)
            assert "action_result" in kinds and "session_ended" not in kinds, out + err
            assert "finishing the redis.restart first" in out
        # by itself, the master is up with every key: restarted by the runner, or never stopped (a SIGKILL
        # that landed before the runner had its job: nothing began)
        _until(lambda: not _runners(state_dir), "the runner to finish", 60)
        info = _answers(s)
        assert info is not None and s.client().dbsize() == KEYS
        if sig != signal.SIGKILL or point != "intent":
            assert info["run_id"] != old_run_id
        r = runbook("run", "--resume", _journal(state_dir).stem, "--headless", "--answers", str(ans), timeout=120)
        ev = store.read(_journal(state_dir)).events
        kinds = [e.kind for e in ev]
        assert r.returncode == 0 and ev[-1].data["outcome"] == "completed", r.stdout + r.stderr
        assert kinds.count("action_result") == 1, kinds
        assert s.log.read_text().count("Ready to accept connections") == starts + 1, "the restart ran exactly once"
        assert s.client().dbsize() == KEYS
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        info = _answers(s)
        s.stop()
        if info and info.get("process_id"):
            try:
                os.kill(int(info["process_id"]), signal.SIGKILL)
            except ProcessLookupError:
                pass
