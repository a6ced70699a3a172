"""Rehearsals on real local processes: the Twilio 2013 storm and trap, headless; nothing left behind."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from conftest import ROOT, runbook
from redis_server import no_retry
from runbook.sandbox.procs import Sandbox, sandboxes_dir
from runbook.sandbox.scenarios import SCENARIOS

needs_redis = pytest.mark.skipif(not (shutil.which("redis-server") and shutil.which("redis-benchmark")),
                                 reason="needs redis-server and redis-tools")


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def started_pids(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"started .*\(pid (\d+)\)", text)]


def test_rehearse_lists_the_scenarios() -> None:
    r = runbook("rehearse")
    assert r.returncode == 0
    for name in ("twilio-2013", "jvm-gc-pressure", "redis-dir-deleted"):
        assert name in r.stdout
    assert runbook("rehearse", "nope").returncode == 2


@needs_redis
def test_twilio_2013_headless_reaches_the_blocked_restart_and_leaves_nothing() -> None:
    r = runbook("rehearse", "twilio-2013", "--headless", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    for fid in ("redis.replication.full_sync_storm", "redis.restart.aof_missing", "redis.restart.replicaof_self",
                "redis.restart.data_loss"):
        assert fid in r.stdout, fid
    # the figures of the loss: every balance, and the start loads none
    assert re.search(r"A restart would come up with 0 of [\d,]+ keys", r.stdout), r.stdout
    assert "[restart] action: Restart the master" in r.stdout
    assert "guard BLOCK redis.restart_is_safe" in r.stdout
    assert "session blocked" in r.stdout
    pids = started_pids(r.stderr)
    assert len(pids) == 5  # master, three replicas, the writer
    assert not [p for p in pids if alive(p)]
    assert not list(sandboxes_dir().glob("*.json"))


@needs_redis
def test_a_killed_rehearsal_is_cleaned_up_by_the_next_run() -> None:
    p = subprocess.Popen([sys.executable, "-m", "runbook.cli", "rehearse", "twilio-2013", "--headless"], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = ""
    deadline = time.monotonic() + 60
    while "fault injected" not in err and time.monotonic() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        err += line
    os.kill(p.pid, signal.SIGKILL)
    p.wait(10)
    pids = started_pids(err)
    assert len(pids) == 5 and all(alive(x) for x in pids)  # killed: it could not clean up itself
    r = runbook("rehearse")  # any next run cleans up first
    assert "left by an earlier rehearsal" in r.stderr
    deadline = time.monotonic() + 10
    while any(alive(x) for x in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [x for x in pids if alive(x)]
    assert not list(sandboxes_dir().glob("*.json"))


@needs_redis
def test_sandbox_never_touches_a_server_that_was_already_running(tmp_path) -> None:
    from redis_server import RedisServer

    other = RedisServer(tmp_path, "someone-elses").start()
    try:
        r = runbook("rehearse", "redis-dir-deleted", "--headless", timeout=120)
        assert r.returncode == 0, r.stderr
        assert other.alive() and other.client().ping()
        assert other.pid not in started_pids(r.stderr)
    finally:
        other.stop()


@pytest.mark.skipif(not shutil.which("java"), reason="needs java")
def test_jvm_gc_pressure_headless() -> None:
    r = runbook("rehearse", "jvm-gc-pressure", "--headless", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "gc.log.overwritten_on_restart" in r.stdout and "gc.heap.too_small" in r.stdout
    assert "running: jcmd" in r.stdout and "result: ok" in r.stdout
    assert not [x for x in started_pids(r.stderr) if alive(x)]


@needs_redis
async def test_random_keys_in_the_rehearsals_tui_never_restart_redis() -> None:
    from runbook.journal import store
    from runbook.playbook import loader
    from runbook.tui.app import RunbookApp, fixed_clock
    from tui_helpers import press_in_bursts, wait_for

    sc = SCENARIOS["twilio-2013"]
    pb, _ = loader.load(sc.playbook_path)
    with Sandbox(sc.name, say=lambda s: None) as sb:
        built = sc.build(sb)
        master = next(p for p in sb.procs if p.name == "redis-server master")
        app = RunbookApp([ROOT / "playbooks"], clock=fixed_clock(), discover=False,
                         start_run=dict(playbook=pb, targets=built.targets, mode="rehearsal",
                                        journal_path=store.sessions_dir() / "r.jsonl"))
        keys = [*"abcdefghijklmnopqrstuvwxyz", "enter", "space", "tab", "up", "down", "y", "backspace", "escape"]
        rng = random.Random(2013)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "RunScreen" and app.screen.pending_ack is not None, 60)
            await press_in_bursts(pilot, [rng.choice(keys) for _ in range(200)])
            await pilot.pause(0.5)
        assert alive(master.pid)
        import redis

        c = redis.Redis(port=int(built.targets["master"].url.rsplit(":", 1)[1]), socket_timeout=5, retry=no_retry())
        assert c.info("server")["process_id"] == master.pid
        assert c.dbsize() >= 20000
    assert "action_intent" not in [e.kind for e in store.read(store.sessions_dir() / "r.jsonl").events]


@needs_redis
async def test_a_rehearsal_started_from_home_stops_when_the_run_is_left() -> None:
    from runbook.tui.app import RunbookApp
    from runbook.tui.run import RunScreen
    from tui_helpers import wait_for

    app = RunbookApp([ROOT / "playbooks"], discover=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#rehearsals").row_count > 0)
        app.screen.open_row("rehearsals", "redis-dir-deleted")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), 60)
        sb = app.sandboxes[0]
        pids = [p.pid for p in sb.procs]
        assert pids and all(alive(p) for p in pids)
        await wait_for(pilot, lambda: app.screen.pending_ack is not None, 60)
        await pilot.press("escape")  # leaving is asked, and says the sandbox stops
        from runbook.tui.modals import AskScreen

        await wait_for(pilot, lambda: isinstance(app.screen, AskScreen))
        assert "stops its sandbox" in str(app.screen.text)
        await pilot.click("#yes")
        await wait_for(pilot, lambda: not app.sandboxes, 20)
    assert not [p for p in pids if alive(p)]


def _sandbox_pids(started: list[str]) -> list[int]:
    return [int(m[1]) for line in started for m in [re.search(r"\(pid (\d+)\)$", line)] if m]


@needs_redis
def test_a_sandbox_stopped_while_it_is_built_starts_nothing_more(tmp_path) -> None:
    """A rehearsal is built in a thread; a stop (the app closing, a signal) can come in the middle. What was
    started is stopped, and the build's next start is refused instead of leaving a server behind."""
    import threading

    said: list[str] = []
    sb = Sandbox("twilio-2013", say=said.append)
    outcome: list[BaseException | None] = []

    def build() -> None:
        try:
            SCENARIOS["twilio-2013"].build(sb)
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - what the build ended with is the test's subject
            outcome.append(e)

    t = threading.Thread(target=build)
    t.start()
    deadline = time.monotonic() + 60
    while not sb.procs and t.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert sb.procs, "the build started nothing"
    sb.stop()
    t.join(120)
    assert not t.is_alive()
    assert outcome and outcome[0] is not None, "the build went on after its sandbox was stopped"
    pids = _sandbox_pids(said)
    assert pids and not [p for p in pids if alive(p)], said
    assert not sb.dir.exists() and not sb.state_file.exists()
    # the refusal itself, where nothing else would stop the start (a working directory that still exists)
    from runbook.sandbox.procs import SandboxError

    with pytest.raises(SandboxError, match="was stopped"):
        sb.start("sleeper", ["sleep", "60"], cwd=tmp_path)
    assert not [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "60"]]


@needs_redis
async def test_an_app_closed_while_a_rehearsal_is_built_leaves_nothing() -> None:
    from runbook.tui.app import RunbookApp
    from tui_helpers import wait_for

    app = RunbookApp([ROOT / "playbooks"], discover=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#rehearsals").row_count > 0)
        app.screen.open_row("rehearsals", "twilio-2013")
        await wait_for(pilot, lambda: bool(app.sandboxes) and bool(app.sandboxes[0].procs), 60)
        sb = app.sandboxes[0]
        said: list[str] = []
        sb.say = said.append  # what it starts from here on
        first = [p.pid for p in sb.procs]
    # closed mid-build: the build's thread may still be running; it can start nothing more
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (sb.dir.exists() or any(alive(p) for p in first + _sandbox_pids(said))):
        time.sleep(0.05)
    assert not [p for p in first + _sandbox_pids(said) if alive(p)], said
    assert not sb.dir.exists() and not sb.state_file.exists()


LIBRARY = [n for n, sc in SCENARIOS.items() if sc.playbook != "redis-master-restart" and n != "jvm-gc-pressure"]


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.serial) if n == "jvm-hot-thread" else n
                                  for n in LIBRARY])
def test_every_library_rehearsal_names_its_findings_ends_as_it_should_and_leaves_nothing(name) -> None:
    sc = SCENARIOS[name]
    missing = [b for b in sc.needs if not shutil.which(b)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    if name == "jvm-container-limit":
        from runbook.sandbox.incidents import memory_cgroup_root

        if os.geteuid() != 0 or memory_cgroup_root() is None:
            pytest.skip("needs root and a memory cgroup")
    r = runbook("rehearse", name, "--headless", timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "as it should" in r.stderr
    for pid in started_pids(r.stderr):
        assert not alive(pid), f"pid {pid} of {name} is still running"
    assert not list(sandboxes_dir().glob("*.json"))
    if name == "jvm-container-limit":  # its own cgroup, named after its sandbox (another suite may run one too)
        (built_in,) = re.findall(r"building jvm-container-limit in (\S+)", r.stderr)
        assert not (memory_cgroup_root() / f"runbook-{Path(built_in).name}").exists()


@needs_redis
def test_the_server_a_broken_glass_restart_started_is_stopped_with_its_sandbox(tmp_path) -> None:
    """The flagship rehearsal, the glass broken: the restart really runs (the master comes back as a replica
    of itself, empty), and when the rehearsal ends no process runs in its sandbox, that one included."""
    answers = tmp_path / "answers.yaml"
    answers.write_text('{storm: done, aof-trap: done, preview: done, investigate: done, '
                       'restart: {confirm: master, break_glass: "rehearsal: see the trap happen"}}\n')
    r = runbook("rehearse", "twilio-2013", "--headless", "--answers", str(answers), timeout=240)
    out = r.stdout + r.stderr
    sandbox = re.search(r"building twilio-2013 in (\S+)", out)[1]
    assert "BREAK-GLASS by answers.yaml" in out, out
    # it happened as the simulation said: the master came back empty and a replica of itself
    assert "a slave with 0 keys" in out and "stopped the twilio-2013 sandbox (6 processes)" in out, out
    left = []
    for p in psutil.process_iter(["name"]):
        try:
            if p.cwd().startswith(sandbox):
                left.append((p.pid, p.info["name"], p.cwd()))
        except psutil.Error:
            continue
    assert not left, left
    assert not list(sandboxes_dir().glob("*.json"))
