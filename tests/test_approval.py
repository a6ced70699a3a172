"""A second person's approval of a break-glass, through the engine and the approvals file beside the journal:
a real guard (a flag file read fresh) blocks a real action (touch a marker); the approver answers in the file
as `runbook watch` does."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from conftest import runbook
from runbook.engine import approval as approvals
from runbook.engine.approval import ApprovalPolicy
from runbook.engine.facts import LiveFacts
from runbook.engine.operators import AnswersOperator
from runbook.engine.session import Session
from runbook.journal import beside, store
from runbook.journal.export import export_markdown
from runbook.targets import Target
from tui_helpers import action_playbook

REASON = "the flag is stale; the restart is worth it"


def blocked_files(tmp_path: Path) -> tuple[Path, Path]:
    flag = tmp_path / "flag"
    flag.write_text("unsafe")
    return flag, tmp_path / "marker"


class Driven:
    """A session run in a thread by an answers file that breaks the glass, as a headless driver would."""

    def __init__(self, tmp_path: Path, policy: ApprovalPolicy, answers: dict | None = None, driver: str = "dana",
                 start: bool = True) -> None:
        self.flag, self.marker = blocked_files(tmp_path)
        pb = action_playbook(tmp_path, self.flag, self.marker)
        self.path = store.sessions_dir() / f"{store.new_session_id()}.jsonl"
        self.journal = store.Journal(self.path)
        op = AnswersOperator(answers or {"look": "ack", "act": {"break_glass": REASON, "confirm": "host"}})
        self.session = Session(pb, {"host": Target("host", "local", "host")}, mode="live", journal=self.journal,
                               operator=op, facts=LiveFacts(2.0), driver=driver, approval=policy)
        self.outcome = ""
        self.thread = threading.Thread(target=self._run, daemon=True)
        if start:
            self.thread.start()

    def _run(self) -> None:
        try:
            self.outcome = self.session.start()
        finally:
            self.journal.close()

    def events(self) -> list:
        return store.read(self.path).events

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events()]

    def wait_request(self, n: int = 1, timeout: float = 30) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reqs = [e for e in self.events() if e.kind == "approval_requested"]
            if len(reqs) >= n:
                return reqs[n - 1]
            time.sleep(0.02)
        raise AssertionError(f"no approval request; the journal has {self.kinds()}")

    def answer(self, req, approver: str = "ingrid", typed: str = "host", decision: str = "approve", digest: str = "") -> None:
        approvals.answer(beside.beside(self.path, beside.APPROVALS), request=req.seq, digest=digest or req.data["digest"],
                         approver=approver, typed=typed, decision=decision, where="test")

    def done(self, timeout: float = 60) -> str:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the session still runs; its journal: {self.kinds()}"
        return self.outcome


def test_an_approved_break_glass_runs_and_both_people_are_named(tmp_path) -> None:
    d = Driven(tmp_path, ApprovalPolicy(required=True, timeout_s=30))
    req = d.wait_request()
    assert req.data["driver"] == "dana" and req.data["reason"] == REASON and req.data["target"] == "host"
    assert req.data["blocked_by"] and any(not g["passed"] for g in req.data["guards"])
    time.sleep(0.3)
    assert not d.marker.exists()  # nothing runs while it waits
    d.answer(req)
    assert d.done() == "completed" and d.marker.exists()
    k = d.kinds()
    assert k.index("break_glass") < k.index("approval_requested") < k.index("approval") < k.index("action_intent")
    ap = next(e for e in d.events() if e.kind == "approval")
    assert ap.data["approver"] == "ingrid" and ap.data["digest"] == req.data["digest"] and ap.data["request"] == req.seq
    md = export_markdown(store.read(d.path))
    assert "- Driver: dana" in md and "Break-glass approved by: ingrid" in md
    assert "**APPROVED** by ingrid" in md and "BREAK-GLASS** by dana" in md


def test_a_denial_ends_blocked_and_nothing_runs(tmp_path) -> None:
    d = Driven(tmp_path, ApprovalPolicy(required=True, timeout_s=30))
    d.answer(d.wait_request(), decision="deny")
    assert d.done() == "blocked" and not d.marker.exists()
    refused = next(e for e in d.events() if e.kind == "approval_refused")
    assert refused.data["outcome"] == "denied" and "ingrid" in refused.data["reason"]
    assert "action_intent" not in d.kinds()


def test_evidence_that_changes_after_the_request_voids_the_approval(tmp_path) -> None:
    d = Driven(tmp_path, ApprovalPolicy(required=True, timeout_s=3))
    req = d.wait_request()
    d.flag.write_text("unsafe, and other now")  # the guard's evidence changes before the approver answers
    d.answer(req)  # for the evidence of the request
    # the driver breaks the glass again (the answers file does): a new request, which nobody approves in time
    second = d.wait_request(2)
    assert second.data["digest"] != req.data["digest"]
    assert d.done() == "blocked" and not d.marker.exists()
    k = d.kinds()
    assert k.index("approval") < k.index("confirmation_void") < k.index("approval_void")
    void = next(e for e in d.events() if e.kind == "approval_void")
    assert void.data["approver"] == "ingrid" and "evidence changed" in void.data["reason"]
    assert "action_intent" not in k


def test_no_approval_in_time_runs_nothing(tmp_path) -> None:
    d = Driven(tmp_path, ApprovalPolicy(required=True, timeout_s=1))
    t0 = time.monotonic()
    d.wait_request()
    assert d.done() == "blocked" and not d.marker.exists()
    assert time.monotonic() - t0 < 10
    refused = next(e for e in d.events() if e.kind == "approval_refused")
    assert refused.data["outcome"] == "timeout" and "nothing ran" in refused.data["reason"]


@pytest.mark.parametrize("approver,typed,digest,why", [
    ("dana", "host", "", "is the driver"),
    ("Dana ", "host", "", "is the driver"),
    ("ingrid", "hots", "", "not the target's name"),
    ("ingrid", "host", "0" * 64, "other evidence"),
    ("", "host", "", "names no approver"),
])
def test_answers_that_do_not_count(tmp_path, approver, typed, digest, why) -> None:
    d = Driven(tmp_path, ApprovalPolicy(required=True, timeout_s=1.5))
    d.answer(d.wait_request(), approver=approver, typed=typed, digest=digest)
    assert d.done() == "blocked" and not d.marker.exists()
    notes = [e.data["text"] for e in d.events() if e.kind == "note"]
    assert any("does not count" in n and why in n for n in notes), notes


def test_the_playbook_can_require_it_for_one_action(tmp_path) -> None:
    flag, marker = blocked_files(tmp_path)
    pb = action_playbook(tmp_path, flag, marker)
    from dataclasses import replace

    pb.steps[2] = replace(pb.steps[2], approval="required")
    pb.by_id["act"] = pb.steps[2]
    s = Session(pb, {"host": Target("host", "local", "host")}, mode="live", journal=store.Journal(tmp_path / "j.jsonl"),
                operator=AnswersOperator({}), facts=LiveFacts(2.0))
    assert s.needs_approval(pb.steps[2]) and not s.needs_approval(pb.steps[0])
    plain = action_playbook(tmp_path, flag, marker)
    assert not Session(plain, {"host": Target("host", "local", "host")}, mode="live",
                       journal=store.Journal(tmp_path / "k.jsonl"), operator=AnswersOperator({}),
                       facts=LiveFacts(2.0)).needs_approval(plain.steps[2])


def headless(tmp_path: Path, *extra: str, approved_by: str = "ingrid") -> tuple[object, Path]:
    import tempfile

    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))
    flag, marker = blocked_files(tmp_path)
    pbfile = tmp_path / "pb.yaml"
    pbfile.write_text(f"""
name: approval-test
approval: required
approval_timeout_s: 1
targets: {{host: {{kind: host}}}}
steps:
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
    answers = tmp_path / "answers.yaml"
    answers.write_text(f"act: {{break_glass: '{REASON}', confirm: host, approved_by: {approved_by}}}\n")
    r = runbook("run", str(pbfile), "-t", "host=local", "--headless", "--answers", str(answers), "--driver", "dana", *extra)
    return r, marker


def test_headless_takes_the_answers_file_approval_only_when_the_session_allows_it(tmp_path) -> None:
    r, marker = headless(tmp_path)
    assert r.returncode == 1 and not marker.exists(), r.stdout + r.stderr
    assert "does not take approvals from it" in r.stdout and "approval TIMEOUT" in r.stdout
    r, marker = headless(tmp_path, "--approval-from-answers")
    assert r.returncode == 0 and marker.exists(), r.stdout + r.stderr
    assert "APPROVED by ingrid" in r.stdout and "taken from the answers file" in r.stdout
    sessions = sorted(store.list_sessions(), key=lambda s: s.summary()["session"])
    ap = next(e for e in sessions[-1].events if e.kind == "approval")
    assert ap.data["source"] == "answers file"
    r, marker = headless(tmp_path, "--approval-from-answers", approved_by="dana")  # the driver cannot approve
    assert r.returncode == 1 and not marker.exists() and "is the driver" in r.stdout


def test_approval_from_answers_needs_a_headless_answers_run(tmp_path) -> None:
    r = runbook("run", "playbooks/redis-master-restart.yaml", "--approval-from-answers", "-t", "master=redis://127.0.0.1:1")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--approval-from-answers" in r.stderr
