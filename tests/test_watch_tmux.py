"""Two people in one incident, in two real terminals (tmux sessions of their own): the driver runs a playbook
(headless, its answers file breaking the glass); a watcher follows it with `runbook watch` and approves or
denies the break-glass of an action whose guard (a flag file, read fresh) blocks. (The driver's own screen
while it waits, and its Stop waiting, are tested with Pilot in test_watch.py.)"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from runbook.journal import store
from runbook.journal.beside import is_beside
from test_tui_tmux import Tmux

pytestmark = pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")

REASON = "the flag is stale, we checked it by hand"


class Pane(Tmux):
    def start_sized(self, command: list[str], env: dict[str, str], cols: int, rows: int) -> None:
        import subprocess

        from conftest import ROOT

        exports = " ".join(f"{k}={v}" for k, v in env.items())
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(cols), "-y", str(rows),
                        f"cd {ROOT} && env {exports} {' '.join(command)}"], check=True)


def playbook(tmp: Path, flag: Path, marker: Path) -> Path:
    p = tmp / "two-people.yaml"
    p.write_text(f"""
name: two-people
title: a break-glass that needs a second person
approval: required
approval_timeout_s: 120
targets: {{host: {{kind: host}}}}
steps:
  - id: read
    kind: check
    title: Read the flag
    target: host
    probes: [host.file]
    params: {{path: "{flag}"}}
  - id: look
    kind: instruction
    title: Look at the flag
    text: Check the flag by hand.
  - id: act
    kind: action
    title: Touch the marker
    target: host
    action: host.command
    params: {{command: [touch, "{marker}"], path: "{flag}"}}
    guards:
      - probe: host.file
        params: {{path: "{flag}"}}
        expr: facts.host.file_content == 'safe'
        message: the flag file must say safe
""")
    return p


def journal_of(state: Path, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in (state / "sessions").glob("*.jsonl") if not is_beside(p)] if (state / "sessions").exists() else []
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("the driver's session has no journal")


def wait_event(journal: Path, pred, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in store.read(journal).events:
            if pred(e):
                return e
        time.sleep(0.02)
    raise AssertionError(f"no such event; the journal has {[e.kind for e in store.read(journal).events]}")


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_a_watcher_follows_the_driver_and_decides_the_break_glass(tmp_path, state_dir, decision) -> None:
    flag, marker = tmp_path / "flag", tmp_path / "marker"
    flag.write_text("unsafe")
    env = {"RUNBOOK_STATE_DIR": str(state_dir), "TERM": "xterm-256color", "TEXTUAL_ANIMATIONS": "none"}
    driver = Pane(f"rbdrive{os.getpid()}{decision}")
    watcher = Pane(f"rbwatch{os.getpid()}{decision}")
    try:
        # the driver: a headless run in a terminal of its own, answering on that terminal
        driver.start([sys.executable, "-m", "runbook.cli", "run", str(playbook(tmp_path, flag, marker)), "-t", "host=local",
                      "--headless", "--driver", "dana", "--approval-timeout", "120", ";", "sleep", "60"], env)
        journal = journal_of(state_dir)
        watcher.start_sized([sys.executable, "-m", "runbook.cli", "watch", journal.stem], env, 100, 30)
        watcher.wait_for("read-only view", 30)
        driver.wait_for("Type 'done' when done", 40)
        watcher.wait_for("Look at the flag", 5)
        driver.send("-l", "done")
        driver.send("Enter")
        # the step the driver enters now shows on the watcher's screen within a second of its journal line
        wait_event(journal, lambda e: e.kind == "step_entered" and e.step == "act")
        watcher.wait_for("Touch the marker", 1.0)
        driver.wait_for("To break the glass, write the reason", 40)
        watcher.wait_for("BLOCK the flag file must say safe", 5)  # the guard's verdict and evidence, as read
        driver.send("-l", REASON)
        driver.send("Enter")
        driver.wait_for("Type the target name 'host'", 10)
        driver.send("-l", "host")
        driver.send("Enter")
        driver.wait_for("waiting up to 120 s for a second person", 40)
        screen = watcher.wait_for("Their reason: the flag is stale", 5)  # (the panel scrolled to the name field)
        assert "Blocked by: the flag file must say safe" in screen and "file_content = unsafe" in screen
        assert not marker.exists()
        watcher.wait_for("Type your name, then Enter", 5)
        watcher.send("-l", "ingrid")
        watcher.wait_for("ingrid", 5)
        watcher.send("Enter")
        watcher.wait_for("Now type the target's name", 5)  # the focus went on to it
        if decision == "approve":
            watcher.send("-l", "host")
            watcher.send("Enter")
            try:
                driver.wait_for("session completed", 40)
            except AssertionError as e:
                raise AssertionError(f"{e}\nthe watcher's screen:\n{watcher.screen()}") from None
            assert "APPROVED by ingrid" in driver.screen()
            watcher.wait_for("ENDED completed", 5)
            assert marker.exists()
        else:
            watcher.send("Tab")  # past Approve (disabled: nothing typed) to Deny
            watcher.send("Enter")
            driver.wait_for("session blocked", 40)
            assert "approval DENIED: denied by ingrid" in driver.screen()
            watcher.wait_for("ENDED blocked", 5)
            assert not marker.exists()
        events = store.read(journal).events
        kinds = [e.kind for e in events]
        assert ("approval" if decision == "approve" else "approval_refused") in kinds
        who = next(e for e in events if e.kind in ("approval", "approval_refused") and e.data.get("approver"))
        assert who.data["approver"] == "ingrid" and "local terminal" in who.data["from"]
        watcher.send("C-q")
    finally:
        driver.kill()
        watcher.kill()
    viewers = [json.loads(x) for x in journal.with_name(journal.stem + ".viewers.jsonl").read_text().splitlines()]
    assert viewers[0]["event"] == "watching"
