"""The engine: fail-closed guards, fresh evaluation, evidence-bound confirmations."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from runbook.engine.facts import LiveFacts, RecordedFacts
from runbook.engine.operators import Answer, ConfirmRequest
from runbook.engine.session import Session
from runbook.journal import store
from runbook.playbook import loader
from runbook.targets import Target

HOST = {"host": Target("host", "local", "host")}


def with_flag(guards: str, flag: Path) -> str:
    """A guard's probe reads with the guard's own params: the host.file guards read the flag file."""
    return guards.replace("- probe: host.file\n", f'- probe: host.file\n        params: {{path: "{flag}"}}\n')


def playbook(tmp: Path, flag: Path, marker: Path, guards: str | None = None, extra_step: str = "") -> Any:
    guards = guards or f"""
      - probe: host.file
        expr: facts.host.file_content == 'safe'
        message: the flag file must say safe"""
    guards = with_flag(guards, flag)
    text = f"""
name: t
targets: {{host: {{kind: host}}}}
steps:
  - id: read
    kind: check
    target: host
    probes: [host.file]
    params: {{path: "{flag}"}}
  - id: wait
    kind: instruction
    text: look at it
{extra_step}
  - id: act
    kind: action
    target: host
    action: host.command
    params: {{command: [touch, "{marker}"], path: "{flag}"}}
    guards:{guards}
"""
    pb, probs = loader.loads(text, "t.yaml")
    assert not probs, probs
    return pb


class Scripted:
    """The engineer, scripted: acknowledges, and answers each confirmation with the next answer.

    `between` runs after an answer is given, standing for the world changing while the engineer types.
    """

    def __init__(self, answers: list[Callable[[ConfirmRequest], Answer]], on_ack: Callable[[], None] | None = None,
                 between: Callable[[int], None] | None = None) -> None:
        self.answers = list(answers)
        self.requests: list[ConfirmRequest] = []
        self.on_ack = on_ack
        self.between = between

    def acknowledge(self, step: Any) -> bool:
        if self.on_ack:
            self.on_ack()
        return True

    def confirm(self, request: ConfirmRequest) -> Answer:
        self.requests.append(request)
        a = self.answers.pop(0)(request) if self.answers else Answer("abort")
        if self.between:
            self.between(len(self.requests))
        return a


def confirm(typed: str = "host") -> Callable[[ConfirmRequest], Answer]:
    return lambda r: Answer("confirm", typed=typed, digest=r.digest, by="test")


def glass(reason: str) -> Callable[[ConfirmRequest], Answer]:
    return lambda r: Answer("break_glass", typed="host", reason=reason, digest=r.digest, by="test")


def run(pb: Any, op: Any, mode: str = "live", read_only: bool = False) -> tuple[str, list[Any]]:
    path = store.sessions_dir() / f"{store.new_session_id()}.jsonl"
    j = store.Journal(path)
    s = Session(pb, HOST, mode=mode, journal=j, operator=op, facts=LiveFacts(2.0), read_only=read_only)
    outcome = s.start()
    j.close()
    return outcome, store.read(path).events


def kinds(events: list[Any]) -> list[str]:
    return [e.kind for e in events]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    flag = tmp_path / "flag"
    flag.write_text("safe")
    return flag, tmp_path / "marker"


def test_typed_confirmation_runs_the_action(tmp_path, files) -> None:
    flag, marker = files
    outcome, ev = run(playbook(tmp_path, flag, marker), Scripted([confirm()]))
    assert outcome == "completed"
    assert marker.exists()
    k = kinds(ev)
    assert k.index("confirmation") < k.index("action_intent") < k.index("action_result")
    # guards evaluated twice: once shown to the engineer, once fresh just before the action
    assert k.count("guard") == 2


def test_guard_reads_fresh_facts_not_the_check_steps(tmp_path, files) -> None:
    flag, marker = files
    # The check step read "safe"; the flag changes before the action: the guard must see it.
    op = Scripted([confirm()], on_ack=lambda: flag.write_text("unsafe"))
    outcome, ev = run(playbook(tmp_path, flag, marker), op)
    assert outcome == "blocked"
    assert not marker.exists()
    g = [e for e in ev if e.kind == "guard"][0].data
    assert g["passed"] is False and g["evidence"] == {"facts.host.file_content": "unsafe"}
    assert g["reason"] == "the flag file must say safe"
    assert op.requests[0].blocked


def test_evidence_that_changed_voids_the_confirmation(tmp_path, files) -> None:
    flag, marker = files
    # The engineer confirms, then the world changes (still passing, but different evidence).
    def between(n: int) -> None:
        if n == 1:
            flag.write_text("unsafe")
    op = Scripted([confirm(), confirm()], between=between)
    outcome, ev = run(playbook(tmp_path, flag, marker), op)
    assert "confirmation_void" in kinds(ev)
    assert outcome == "blocked"  # the fresh evidence now blocks, and a plain confirmation cannot pass it
    assert not marker.exists()


def test_void_confirmation_must_be_given_again_for_the_new_evidence(tmp_path, files) -> None:
    flag, marker = files
    guards = """
      - probe: host.file
        expr: facts.host.file_size_bytes < 100
        message: small"""

    def between(n: int) -> None:
        if n == 1:
            flag.write_text("safe, but longer")
    op = Scripted([confirm(), confirm()], between=between)
    outcome, ev = run(playbook(tmp_path, flag, marker, guards), op)
    assert outcome == "completed" and marker.exists()
    k = kinds(ev)
    assert k.count("confirmation") == 2 and k.count("confirmation_void") == 1
    assert len(op.requests) == 2 and op.requests[0].digest != op.requests[1].digest
    assert k.index("confirmation_void") < k.index("action_intent")


@pytest.mark.parametrize(
    "guards, reason",
    [
        ("""
      - probe: host.file
        expr: facts.host.no_such_fact == 1""", "no value for facts.host.no_such_fact"),
        ("""
      - probe: host.file
        expr: facts.host.file_content""", "not true or false"),
        ("""
      - probe: host.disk
        params: {path: /nonexistent/gone/x}
        expr: facts.host.disk_free_bytes > 0""", "could not read host.disk"),
        ("""
      - probe: host.file
        expr: facts.host.file_size_bytes / 0 > 1""", "division by zero"),
    ],
)
def test_guards_fail_closed(tmp_path, files, guards, reason) -> None:
    flag, marker = files
    pb = playbook(tmp_path, flag, marker, guards)
    op = Scripted([confirm()])
    outcome, ev = run(pb, op)
    assert outcome == "blocked" and not marker.exists()
    g = [e.data for e in ev if e.kind == "guard"][0]
    assert g["passed"] is False and reason in g["reason"], g


def test_wrong_name_or_abort_runs_nothing(tmp_path, files) -> None:
    flag, marker = files
    for answer in (confirm("hots"), confirm(""), lambda r: Answer("abort")):
        outcome, ev = run(playbook(tmp_path, flag, marker), Scripted([answer]))
        assert outcome == "blocked" and not marker.exists()
        assert "action_intent" not in kinds(ev)


def test_plain_confirmation_cannot_pass_a_blocking_guard(tmp_path, files) -> None:
    flag, marker = files
    flag.write_text("unsafe")
    outcome, ev = run(playbook(tmp_path, flag, marker), Scripted([confirm()]))
    assert outcome == "blocked" and not marker.exists()


def test_break_glass_needs_and_records_a_reason(tmp_path, files) -> None:
    flag, marker = files
    flag.write_text("unsafe")
    outcome, _ = run(playbook(tmp_path, flag, marker), Scripted([glass("   ")]))
    assert outcome == "blocked" and not marker.exists()
    outcome, ev = run(playbook(tmp_path, flag, marker), Scripted([glass("primary is already lost; restoring from replica")]))
    assert outcome == "completed" and marker.exists()
    bg = [e.data for e in ev if e.kind == "break_glass"][0]
    assert bg["reason"] == "primary is already lost; restoring from replica"
    assert bg["blocked_by"] == ["the flag file must say safe"]


def test_read_only_refuses(tmp_path, files) -> None:
    flag, marker = files
    op = Scripted([confirm()])
    outcome, ev = run(playbook(tmp_path, flag, marker), op, read_only=True)
    assert outcome == "blocked" and not marker.exists() and op.requests == []


def test_dry_run_shows_the_command_and_runs_nothing(tmp_path, files) -> None:
    flag, marker = files
    op = Scripted([])
    outcome, ev = run(playbook(tmp_path, flag, marker), op, mode="dry-run")
    assert outcome == "completed" and not marker.exists()
    d = [e.data for e in ev if e.kind == "dry_run"][0]
    assert d["command"] == f"touch {marker}"
    assert "action_intent" not in kinds(ev) and op.requests == []


def test_replay_uses_recorded_facts(tmp_path, files) -> None:
    flag, marker = files
    pb = playbook(tmp_path, flag, marker)
    recorded = {"host": {"host.file": {"file_path": "x", "file_exists": True, "file_size_bytes": 4, "file_content": "nope"}}}
    path = store.sessions_dir() / "r.jsonl"
    j = store.Journal(path)
    s = Session(pb, HOST, mode="replay", journal=j, operator=Scripted([]), facts=RecordedFacts(recorded))
    assert s.start() == "blocked"
    assert not marker.exists()


def test_decision_branches_on_facts(tmp_path, files) -> None:
    flag, marker = files
    extra = """  - id: choose
    kind: decision
    branches:
      - when: facts.host.file_content == 'skip'
        goto: end
    default: act"""
    flag.write_text("skip")
    outcome, ev = run(playbook(tmp_path, flag, marker, extra_step=extra), Scripted([]))
    assert outcome == "completed" and not marker.exists()
    d = [e.data for e in ev if e.kind == "decision"][0]
    assert d["goto"] == "end" and d["evidence"] == {"facts.host.file_content": "skip"}


def test_secret_in_target_url_never_reaches_the_journal(tmp_path, files) -> None:
    flag, marker = files
    pb = playbook(tmp_path, flag, marker)
    path = store.sessions_dir() / "s.jsonl"
    j = store.Journal(path)
    targets = {"host": Target("host", "host://admin:hunter2secret@local", "host")}
    flag.write_text("hunter2secret")
    Session(pb, targets, mode="live", journal=j, operator=Scripted([confirm()]), facts=LiveFacts(2.0)).start()
    text = path.read_text()
    assert "hunter2secret" not in text and "*****" in text


def test_a_failed_read_leaves_its_facts_missing_never_the_earlier_values(tmp_path) -> None:
    """Read a directory's disk, act (the directory goes away), read again: that read fails, and the
    decision after it sees missing facts, not the first reading."""
    d = tmp_path / "data"
    d.mkdir()
    text = f"""
name: stale
targets: {{host: {{kind: host}}}}
steps:
  - id: before
    kind: check
    target: host
    probes: [host.disk]
    params: {{path: "{d}"}}
  - id: act
    kind: action
    target: host
    action: host.command
    params: {{command: [rmdir, "{d}"]}}
  - id: verify
    kind: check
    target: host
    probes: [host.disk]
    params: {{path: "{d}"}}
  - id: judge
    kind: decision
    branches:
      - when: facts.host.disk_free_bytes > 0
        goto: end
    default: end
    on_unknown: look
  - id: look
    kind: instruction
    text: the second read failed
"""
    pb, probs = loader.loads(text, "t.yaml")
    assert not probs, probs
    seen: list[str] = []

    class Op(Scripted):
        def acknowledge(self, step: Any) -> bool:
            seen.append(step.id)
            return False

    outcome, ev = run(pb, Op([confirm()]))
    assert outcome == "aborted" and seen == ["look"]
    decision = [e.data for e in ev if e.kind == "decision"][0]
    assert decision["goto"] == "look" and decision["reads"]["host"]["step"] == "verify"
    assert "failed" in decision["reads"]["host"]["probes"]["host.disk"]


def test_findings_are_kept_per_target(tmp_path) -> None:
    from runbook.playbook.expr import compile_expr

    env = {"findings": ["host.disk.full"], "findings_by_target": {"db": ["host.disk.full"], "app": []}}
    assert compile_expr("finding('host.disk.full')").evaluate(env) is True
    assert compile_expr("finding('host.disk.full', 'db')").evaluate(env) is True
    assert compile_expr("finding('host.disk.full', 'app')").evaluate(env) is False
    assert compile_expr("finding('host.disk.full', 'app') or facts.db.x").targets() == ["app", "db"]


def test_a_timed_out_probe_has_its_processes_killed() -> None:
    import psutil

    from runbook import procs
    from runbook.engine.facts import ProbeError, call_with_timeout

    started: list[int] = []

    def slow_probe() -> None:
        p = procs.popen(["sh", "-c", "sleep 60 & sleep 60"])  # a child with a child of its own
        started.append(p.pid)
        p.wait()

    with pytest.raises(ProbeError, match="killed the 1 process"):
        call_with_timeout(slow_probe, 0.5)

    def in_group() -> list[int]:
        out = []
        for p in psutil.process_iter(["status"]):
            try:
                if os.getpgid(p.pid) == started[0] and p.info["status"] != psutil.STATUS_ZOMBIE:
                    out.append(p.pid)
            except (ProcessLookupError, psutil.Error):
                pass
        return out

    deadline = time.monotonic() + 5
    while in_group() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started and not in_group()


def test_a_host_target_that_is_not_this_machine_is_never_read_here(tmp_path) -> None:
    text = """
name: remote
targets: {host: {kind: host}}
steps:
  - id: read
    kind: check
    target: host
    probes: [host.basic, host.disk]
  - id: judge
    kind: decision
    branches:
      - when: facts.host.load1 >= 0
        goto: end
    default: end
    on_unknown: look
  - id: look
    kind: instruction
    text: not read
"""
    pb, probs = loader.loads(text, "t.yaml")
    assert not probs
    path = store.sessions_dir() / f"{store.new_session_id()}.jsonl"
    j = store.Journal(path)
    s = Session(pb, {"host": Target("host", "host:db7.example", "host")}, mode="live", journal=j,
                operator=Scripted([]), facts=LiveFacts(2.0))
    s.start()
    j.close()
    ev = store.read(path).events
    facts = [e.data for e in ev if e.kind == "facts"]
    assert all(f["facts"] is None and "not this machine" in f["error"] for f in facts), facts
    assert [(e.data["goto"], e.data.get("unknown")) for e in ev if e.kind == "decision"] == [("look", True)]


def test_a_decision_on_a_fact_that_could_not_be_read_does_not_decide(tmp_path) -> None:
    """Every fact unknown (a host that is not this machine): the decision neither takes a branch nor its
    default; without on_unknown the session stops there, blocked, naming what could not be read."""
    text = """
name: undecided
targets: {host: {kind: host}}
steps:
  - id: read
    kind: check
    target: host
    probes: [host.disk]
  - id: full
    kind: decision
    branches:
      - when: finding('host.disk.full')
        goto: clean
    default: all-clear
  - id: clean
    kind: instruction
    text: clean
  - id: all-clear
    kind: instruction
    text: nothing to clean
"""
    pb, probs = loader.loads(text, "t.yaml")
    assert not probs, probs
    seen: list[str] = []

    class Op(Scripted):
        def acknowledge(self, step: Any) -> bool:
            seen.append(step.id)
            return True

    j = store.Journal(tmp_path / "s.jsonl")
    outcome = Session(pb, {"host": Target("host", "host:db7.invalid", "host")}, mode="live", journal=j, operator=Op([]),
                      facts=LiveFacts(2.0)).start()
    j.close()
    assert outcome == "blocked" and seen == []
    blocked = [e for e in store.read(tmp_path / "s.jsonl").events if e.kind == "blocked"][0]
    assert "host.disk on host could not be read" in blocked.data["reason"]


@pytest.mark.skipif(not __import__("shutil").which("redis-server"), reason="needs redis-server")
def test_a_read_within_its_own_bounds_is_not_cut_by_the_engines_wall_clock(tmp_path) -> None:
    """The wall clock is a backstop over a probe's network timeouts (3 x 0.5 s + 1 here); a probe that waits
    longer by design (redis.replication's sampling interval, a restart simulation's copy loading) declares it
    in its budget, and its read is not called timed out while it is within it."""
    from redis_server import RedisServer

    s = RedisServer(tmp_path, "m").start()
    try:
        facts = LiveFacts(0.5).read("redis.replication", Target("m", s.url, "redis"), {"interval": 3})
        assert facts["reachable"] and facts["window"]["dt_s"] >= 3
    finally:
        s.stop()
