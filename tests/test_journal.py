"""The journal survives SIGKILL at any step; resume continues; export is a UTC timeline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, runbook
from runbook.journal import store

PLAYBOOK = """
name: killable
targets: {{host: {{kind: host}}}}
steps:
  - id: look
    kind: check
    target: host
    probes: [host.basic, host.file]
    params: {{path: "{flag}"}}
  - id: first
    kind: instruction
    text: first thing
  - id: second
    kind: instruction
    text: second thing
  - id: act
    kind: action
    target: host
    action: host.command
    params: {{command: [sh, -c, 'echo ran >> "$0"; while [ -e "$1" ]; do sleep 0.05; done', "{marker}", "{slow}"], path: "{flag}"}}
    guards:
      - probe: host.file
        params: {{path: "{flag}"}}
        expr: facts.host.file_exists
  - id: last
    kind: instruction
    text: all done
"""


def write_playbook(tmp: Path, sleep: int = 0) -> tuple[Path, Path]:
    flag, marker = tmp / "flag", tmp / "marker"
    flag.write_text("x")
    slow = tmp / "slow"
    if sleep:
        slow.write_text("the action hangs while this file exists")
    p = tmp / "pb.yaml"
    p.write_text(PLAYBOOK.format(flag=flag, marker=marker, slow=slow))
    return p, marker


def wait_for_event(state: Path, pred, what: str, proc: subprocess.Popen, timeout: float = 90) -> Path:
    """The session file once an event that pred accepts is in it; fails at once, with its stderr, when the
    run ended before it (a loaded machine gets the whole timeout, a dead run none of it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for f in (state / "sessions").glob("*.jsonl") if (state / "sessions").exists() else []:
            for line in f.read_text().splitlines():
                try:
                    if pred(json.loads(line)):
                        return f
                except ValueError:
                    pass
        if proc.poll() is not None:
            raise AssertionError(f"runbook ended ({proc.returncode}) before {what}: {proc.stderr.read()[-2000:]}")
        time.sleep(0.02)
    raise AssertionError(f"{what} not in the journal after {timeout} s")


@pytest.mark.parametrize("kill_at", ["look", "first", "second", "act-intent", "last"])
def test_sigkill_at_any_step_then_show_and_resume(tmp_path, state_dir, kill_at) -> None:
    pb, marker = write_playbook(tmp_path, sleep=30 if kill_at == "act-intent" else 0)
    proc = subprocess.Popen([sys.executable, "-m", "runbook.cli", "run", str(pb), "--target", "host=local", "--headless"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    answers = {"look": "", "first": "done\n", "second": "done\n", "act": "host\n", "last": ""}
    try:
        order = ["look", "first", "second", "act", "last"]
        target = "act" if kill_at == "act-intent" else kill_at
        for step in order:
            path = wait_for_event(state_dir, lambda e, s=step: e["kind"] == "step_entered" and e["step"] == s,
                                  f"step {step} entered", proc)
            if step == target and kill_at != "act-intent":
                break
            proc.stdin.write(answers[step])
            proc.stdin.flush()
            if step == target:
                path = wait_for_event(state_dir, lambda e: e["kind"] == "action_intent", "the action's intent", proc)
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        # the action runs on in its own runner: runbook's death does not stop it half way
        (tmp_path / "slow").unlink(missing_ok=True)
    finally:
        if proc.poll() is None:
            proc.kill()
    session = path.stem
    shown = runbook("journal", "show", session)
    assert shown.returncode == 0 and "Traceback" not in shown.stderr
    read = store.read(path)
    assert read.ended is None and not read.damaged
    assert read.summary()["status"] == "interrupted"

    order = ["look", "first", "second", "act", "last"]
    began = False
    if kill_at == "act-intent":
        # The runner finishes what it began: the resume journals its result and never runs it again. A kill
        # that landed before the runner had its job means nothing began: the resume runs it, once.
        records = state_dir / "sessions" / "actions"
        deadline = time.monotonic() + 30
        while True:
            text = "".join(p.read_text() for p in records.glob("*.jsonl")) if records.exists() else ""
            if '"result"' in text or (time.monotonic() > deadline - 25 and '"began"' not in text):
                break
            assert time.monotonic() < deadline, "the runner began and never recorded a result"
            time.sleep(0.05)
        began = '"began"' in text
        target = "last" if began else "act"
    before = marker.read_text().count("ran") if marker.exists() else 0
    answers_in = "".join(a for s, a in answers.items() if order.index(s) >= order.index(target))
    r = runbook("run", "--resume", session, "--headless", input=answers_in + "done\n")
    assert r.returncode == 0, r.stdout + r.stderr
    events = store.read(path).events
    kinds = [e.kind for e in events]
    assert kinds.count("session_started") == 1 and "session_resumed" in kinds
    assert events[-1].kind == "session_ended" and events[-1].data["outcome"] == "completed"
    resumed_at = kinds.index("session_resumed")
    if target in ("look", "first", "second", "act"):
        # the action's guards are evaluated fresh after the resume, before it runs
        after = kinds[resumed_at:]
        assert after.index("guard") < after.index("action_intent")
    after_count = marker.read_text().count("ran") if marker.exists() else 0
    assert after_count - before == (0 if target == "last" else 1)
    if kill_at == "act-intent":
        assert after_count == 1 and kinds.count("action_result") == 1, "the action ran exactly once"
        if began:
            assert any(e.kind == "action_result" and e.data.get("reconciled") and e.data.get("ok") for e in events)
    # sequence numbers carry on
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_cut_line_is_skipped_and_reported(tmp_path, state_dir) -> None:
    pb, _ = write_playbook(tmp_path)
    runbook("run", str(pb), "--target", "host=local", "--headless", "--dry-run", input="done\ndone\n")
    path = next((state_dir / "sessions").glob("*.jsonl"))
    with open(path, "ab") as f:
        f.write(b'{"seq": 99, "ts": "2026-')
    shown = runbook("journal", "show", path.stem)
    assert shown.returncode == 0
    assert "damaged line" in shown.stderr
    assert shown.stdout.count("\n") >= 10
    # a writer opened on a cut file starts on a fresh line
    j = store.Journal(path)
    from runbook.events import Event

    j.append(Event("note", {"text": "after"}))
    j.close()
    assert store.read(path).events[-1].data["text"] == "after"


def test_export_is_a_markdown_timeline_with_every_decision(tmp_path, state_dir) -> None:
    pb, marker = write_playbook(tmp_path)
    (tmp_path / "flag").unlink()
    ans = tmp_path / "answers.yaml"
    ans.write_text("first: done\nsecond: done\nact: {confirm: host, break_glass: 'flag gone, [b]approved[/b] by lead | ok'}\nlast: done\n")
    r = runbook("run", str(pb), "--target", "host=local", "--headless", "--answers", str(ans))
    assert r.returncode == 0, r.stdout + r.stderr
    session = next((state_dir / "sessions").glob("*.jsonl")).stem
    md = runbook("journal", "export", session).stdout
    assert md.startswith("# Incident timeline: killable")
    assert "BREAK-GLASS" in md and "flag gone, \\[b\\]approved\\[/b\\] by lead \\| ok" in md
    assert "BLOCK" in md and "about to run" in md and "went to" not in md
    assert "(UTC)" in md
    rows = [x for x in md.splitlines() if x.startswith("| 2")]
    assert all(x.split("|")[1].strip().endswith("Z") for x in rows)
    listed = runbook("journal", "list", "--json")
    assert json.loads(listed.stdout)[0]["status"] == "completed"


def test_unknown_session_is_a_clear_error() -> None:
    r = runbook("journal", "show", "nope")
    assert r.returncode == 1 and "no session 'nope'" in r.stderr and "Traceback" not in r.stderr
