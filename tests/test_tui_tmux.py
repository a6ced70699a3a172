"""End to end in a real terminal (tmux, 80x24): a real redis-server in the AOF-trap state; the engineer
types their way to the restart action; the guard blocks it; the server still runs with all its keys."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PLAYBOOKS, ROOT
from redis_server import RedisServer, no_retry

pytestmark = pytest.mark.skipif(not (shutil.which("tmux") and shutil.which("redis-server")), reason="needs tmux and redis-server")


class Tmux:
    def __init__(self, name: str) -> None:
        self.name = name

    def start(self, command: list[str], env: dict[str, str]) -> None:
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", "80", "-y", "24",
                        f"cd {ROOT} && env {exports} {' '.join(command)}"], check=True)

    def start_shell(self, script: str, env: dict[str, str]) -> None:
        exports = " && ".join(f"export {k}={v}" for k, v in env.items())
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", "80", "-y", "24",
                        f"cd {ROOT} && {exports} && {script}; sleep 30"], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True).stdout

    def send(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{self.screen()}")

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def in_sandbox(sandbox: str) -> set[int]:
    """The processes that run in a rehearsal's sandbox dir (deleted or not): its own, and those its actions
    started there (other suites' sandboxes may run beside it)."""
    import psutil

    out = set()
    for p in psutil.process_iter():
        try:
            if p.status() != psutil.STATUS_ZOMBIE and p.cwd().removesuffix(" (deleted)").startswith(sandbox):
                out.add(p.pid)
        except psutil.Error:
            continue
    return out


def test_restart_blocked_in_a_real_terminal(tmp_path, state_dir) -> None:
    s = RedisServer(tmp_path, "m").start()
    tmux = Tmux(f"rbtest{os.getpid()}")
    try:
        s.fill(500)
        s.client().save()
        s.conf.write_text(s.conf.read_text().replace("appendonly no", "appendonly yes"))
        inv = tmp_path / "inventory.yaml"
        inv.write_text(json.dumps({"targets": {"master": {"url": s.url, "restart": {"command": ["redis-server", str(s.conf)]}}}}))
        tmux.start([sys.executable, "-m", "runbook.cli", "run", str(PLAYBOOKS / "redis-master-restart.yaml"), "-i", str(inv)],
                   {"RUNBOOK_STATE_DIR": str(state_dir), "TERM": "xterm-256color", "TEXTUAL_ANIMATIONS": "none"})
        tmux.wait_for("A restart would start empty", 40)
        tmux.send("a")
        tmux.wait_for("Read the restart simulation")
        tmux.send("a")
        screen = tmux.wait_for("BLOCKED by", 40)
        assert "redis.restart_is_safe" in screen
        # nothing typed here can run it: there is no confirmation field on a blocked action
        tmux.send("m", "a", "s", "t", "e", "r", "Enter", "y", "Space", "Enter")
        time.sleep(0.5)
        tmux.send("Escape")  # back to the step: the session waits there
        tmux.wait_for("Cancelled: nothing ran")
        time.sleep(0.5)  # a terminal's lone Escape is told from an escape sequence by a pause after it
        for _ in range(5):  # leaving is asked; Stay has the focus
            tmux.send("Escape")
            try:
                tmux.wait_for("Leave this session?", 5)
                break
            except AssertionError:
                continue
        tmux.send("Tab", "Enter")
        tmux.send("C-q")
        time.sleep(0.5)
    finally:
        tmux.kill()
        alive = s.alive()
        keys = s.client().dbsize() if alive else None
        pid = s.client().info("server")["process_id"] if alive else None
        s.stop()
    assert alive and keys == 500 and pid == s.pid


@pytest.mark.skipif(not shutil.which("redis-benchmark"), reason="needs redis-tools")
def test_the_readme_main_command_rehearses_twilio_and_leaves_nothing(state_dir) -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```sh", 1)[1].split("```", 1)[0]
    main_cmd = block.strip().splitlines()[0].split("#", 1)[0].strip()
    assert main_cmd.endswith("runbook rehearse twilio-2013")
    tmux = Tmux(f"rbmain{os.getpid()}")
    try:
        tmux.start_shell(main_cmd, {"RUNBOOK_STATE_DIR": str(state_dir), "TERM": "xterm-256color"})
        tmux.wait_for("The replicas are in a full-sync storm", 180)  # set-up, sandbox, the first check
        import json

        # this rehearsal's sandbox (other suites' may run beside it): what must be gone at the end
        sandbox = json.loads(next((state_dir / "sandboxes").glob("*.json")).read_text())["dir"]

        assert in_sandbox(sandbox)  # the sandbox's servers, while it runs
        tmux.send("a")
        tmux.wait_for("A restart would start empty", 30)  # the storm does not hide this lesson
        tmux.send("a")
        tmux.wait_for("Read the restart simulation", 30)
        tmux.send("a")
        screen = tmux.wait_for("BLOCKED by", 60)
        assert "redis.restart_is_safe" in screen
        tmux.send("Escape")
        tmux.wait_for("Cancelled: nothing ran", 30)
        tmux.send("C-q")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            left = in_sandbox(sandbox)
            if not left:
                break
            time.sleep(0.2)
        assert not left, left
    finally:
        tmux.kill()


@pytest.mark.skipif(not shutil.which("redis-benchmark"), reason="needs redis-tools")
def test_the_flagship_rehearsal_with_the_glass_broken_restarts_into_the_trap_and_leaves_nothing(state_dir) -> None:
    """In a real terminal at 80x24: the Twilio rehearsal to its blocked restart, the glass broken with a
    reason and the target's name; the master really restarts (a new run_id) and comes back as the
    simulation said (a replica, empty); after Ctrl+Q no process of the sandbox is left, that server
    included."""
    import json

    import redis

    from runbook.journal import store

    tmux = Tmux(f"rbglass{os.getpid()}")
    try:
        tmux.start([sys.executable, "-m", "runbook.cli", "rehearse", "twilio-2013"],
                   {"RUNBOOK_STATE_DIR": str(state_dir), "TERM": "xterm-256color", "TEXTUAL_ANIMATIONS": "none"})
        tmux.wait_for("The replicas are in a full-sync storm", 180)
        sandbox = json.loads(next((state_dir / "sandboxes").glob("*.json")).read_text())["dir"]
        journal = next((state_dir / "sessions").glob("*.jsonl"))
        url = next(t["url"] for t in store.read(journal).started.data["targets"] if t["name"] == "master")
        master = redis.Redis.from_url(url, socket_timeout=5, retry=no_retry())
        before = master.info("server")["run_id"]
        for lesson in ("A restart would start empty", "Read the restart simulation"):
            tmux.send("a")
            tmux.wait_for(lesson, 30)
        tmux.send("a")
        tmux.wait_for("BLOCKED by", 60)
        tmux.send("BTab")  # from Cancel to "Break glass…"
        tmux.send("Enter")
        tmux.wait_for("type master to run it anyway", 15)
        tmux.send("-l", "rehearsal: see the trap happen")
        tmux.wait_for("see the trap happen", 10)
        for _ in range(3):
            tmux.send("Tab")  # from the reason to the target's name
            time.sleep(0.5)
            tmux.send("-l", "master")
            try:
                tmux.wait_for("Ready: the action will run", 10)
                break
            except AssertionError:
                # tmux drops a send-keys now and then under load (tmux/tmux#1185): a lost Tab puts the name
                # after the reason, which the screen shows; take it out and press Tab again
                if "happenmaster" not in tmux.screen():
                    raise
                tmux.send(*["BSpace"] * len("master"))
                tmux.wait_for("see the trap happen ", 10)
        tmux.send("Enter")
        # the proof on the action's own screen: a master was expected, the trap gave an empty replica
        tmux.wait_for("a slave with 0 keys", 90)
        info = master.info()
        assert info["run_id"] != before and info["role"] == "slave" and master.dbsize() == 0
        tmux.send("C-q")

        deadline = time.monotonic() + 30
        while in_sandbox(sandbox) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not in_sandbox(sandbox)
    finally:
        tmux.kill()


def _walkable_rehearsals() -> list:
    from runbook.sandbox.scenarios import SCENARIOS

    out = []
    for name, sc in SCENARIOS.items():
        if name == "jvm-container-limit" or not all(shutil.which(n) for n in sc.needs):
            continue  # needs root and a cgroup of its own
        # a hot thread is hot only on a machine with a core to spare: run it alone (see the serial tests)
        out.append(pytest.param(name, marks=pytest.mark.serial) if name == "jvm-hot-thread" else name)
    return out


def _answered(tmux: Tmux, key: str, state_dir: Path) -> None:
    """Send key to the step on screen, then wait until the journal has the answer: a screen read before the
    app took the key still shows the step, and a second key sent to it would land on the next screen (a
    Done's "a" typed into the action's confirmation field)."""
    def size() -> int:
        return sum(p.stat().st_size for p in (state_dir / "sessions").glob("*.jsonl"))

    before, shown = size(), tmux.screen()
    tmux.send(key)
    deadline = time.monotonic() + 30
    while size() == before and time.monotonic() < deadline:
        time.sleep(0.1)
    deadline = time.monotonic() + 10  # and the screen drawn after it, not the one the key was sent to
    while tmux.screen() == shown and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)


def _instruction_waiting(state_dir: Path) -> bool:
    """The journal's last step entered is an instruction not yet acknowledged: the footer's "a Done" can
    still be on screen while the next step (an action's guards being read) is under way, and an "a" sent
    then lands in the action's confirmation field."""
    from runbook.journal import store

    journal = next((state_dir / "sessions").glob("*.jsonl"), None)
    if journal is None:
        return False
    kind = None
    for e in store.read(journal).events:
        if e.kind == "step_entered":
            kind = e.data.get("kind")
        elif e.kind == "acknowledged":
            kind = None
    return kind == "instruction"


@pytest.mark.parametrize("name", _walkable_rehearsals())
def test_each_rehearsal_walked_to_its_action_screen_at_80x24(name, state_dir) -> None:
    """Each rehearsal in a real terminal at 80x24, walked step by step (Done on every instruction) to the
    screen of its first action: the command, every guard by name, and the way on (the field and Run, or
    Break glass) are all on screen; Cancel goes back; Ctrl+Q leaves no process of the sandbox."""
    from runbook.journal import store

    tmux = Tmux(f"rbwalk{os.getpid()}{abs(hash(name)) % 10000}")
    sandbox = None
    try:
        tmux.start([sys.executable, "-m", "runbook.cli", "rehearse", name],
                   {"RUNBOOK_STATE_DIR": str(state_dir), "TERM": "xterm-256color", "TEXTUAL_ANIMATIONS": "none"})
        deadline = time.monotonic() + 240
        screen = ""
        while time.monotonic() < deadline:
            screen = tmux.screen()
            if sandbox is None and list((state_dir / "sandboxes").glob("*.json")):
                sandbox = json.loads(next((state_dir / "sandboxes").glob("*.json")).read_text())["dir"]
            if "Guards, evaluated just now" in screen and ("Cancel" in screen):
                break
            if "Session completed" in screen or "Session failed" in screen or "Session blocked" in screen:
                break
            if "a Done" in screen and _instruction_waiting(state_dir):
                _answered(tmux, "a", state_dir)
            elif "It runs only if you say so" in screen:
                _answered(tmux, "Enter", state_dir)  # a consent asked: the safe answer (Skip it) has the focus
            else:
                time.sleep(0.2)
        journal = next((state_dir / "sessions").glob("*.jsonl"), None)
        assert journal, f"{name}: no session began; the screen was:\n{screen}"
        events = store.read(journal).events
        guards = [e.data for e in events if e.kind == "guard"]
        if "Guards, evaluated just now" not in screen:
            # a rehearsal whose path has no action without inputs (raising maxmemory needs --param): it ends
            assert "Session completed" in screen and not any(e.kind == "action_intent" for e in events), screen
        else:
            assert "Command" in screen and (guards or "no guards" in screen), screen
            # every guard by name, the command, and the way on are on the screen at 80x24
            for g in guards:
                assert str(g.get("guard"))[:60] in screen.replace("\n", ""), (g, screen)
            assert ("to run it" in screen and "Run" in screen) or ("BLOCKED by" in screen and "Break glass" in screen), screen
            tmux.send("Escape")
            tmux.wait_for("Cancelled: nothing ran", 30)
        tmux.send("C-q")
        deadline = time.monotonic() + 30
        while sandbox and in_sandbox(sandbox) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not (sandbox and in_sandbox(sandbox))
    finally:
        tmux.kill()


@pytest.mark.parametrize("where", ["instruction", "action screen"])
def test_a_terminal_that_goes_away_ends_the_rehearsal_and_its_sandbox(where, state_dir, tmp_path) -> None:
    """A dropped ssh or a closed tmux sends SIGHUP and then SIGCONT. runbook ends (129), stops its sandbox,
    and leaves the session resumable: it never takes the dead terminal back (a reader spinning on it, a
    writer blocked on it, the sandbox left running: seen after a closed tmux at the action screen)."""
    import signal

    import psutil

    from runbook.journal import store

    rc = tmp_path / "rc"
    tmux = Tmux(f"rbhup{os.getpid()}{len(where)}")
    try:
        tmux.start_shell(f"{sys.executable} -m runbook.cli rehearse redis-dir-deleted; echo $? > {rc}",
                         {"RUNBOOK_STATE_DIR": str(state_dir), "TERM": "xterm-256color", "TEXTUAL_ANIMATIONS": "none",
                          "PYTHONFAULTHANDLER": "1"})
        tmux.wait_for("a Done", 60)
        if where == "action screen":
            for _ in range(10):
                tmux.send("a")
                time.sleep(0.7)
                if "Guards, evaluated just now" in tmux.screen():
                    break
            tmux.wait_for("BLOCKED by", 30)
        record = json.loads(next((state_dir / "sandboxes").glob("*.json")).read_text())
        owner = psutil.Process(record["owner"]["pid"])
        assert in_sandbox(record["dir"])
        owner.send_signal(signal.SIGHUP)
        owner.send_signal(signal.SIGCONT)  # what a terminal that goes away sends next
        t0 = time.monotonic()
        while not rc.exists() and time.monotonic() < t0 + 45:  # it ends in about a second; a loaded CI is slower
            time.sleep(0.1)
        if not rc.exists():  # where it hangs: the interpreter's own dump of every thread (PYTHONFAULTHANDLER)
            owner.send_signal(signal.SIGABRT)
            time.sleep(2)
            raise AssertionError(f"runbook did not end within 45 s of SIGHUP ({where}); its threads:\n{tmux.screen()}")
        assert rc.read_text().strip() == "129"
        assert not in_sandbox(record["dir"])
        journal = next((state_dir / "sessions").glob("*.jsonl"))
        assert store.read(journal).ended is None  # interrupted: it resumes
    finally:
        tmux.kill()
