"""How a session asks the engineer: the protocol, and headless implementations.

The TUI provides its own operator; these serve `--headless` runs (a terminal, or an
answers file for scripts, CI and replays).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from runbook.playbook.model import Step


@dataclass
class ConfirmRequest:
    step: Step
    target: str  # the name that must be typed
    command: str
    guards: list[dict[str, Any]]  # label, passed, evidence, reason
    digest: str
    dry_run: bool
    blocked: bool
    attempt: int = 1

    @property
    def blocked_by(self) -> list[str]:
        return [g["guard"] for g in self.guards if not g["passed"]]


class Interrupted(Exception):
    """The engineer left the screen (Leave, Ctrl+Q, the terminal closed): the session stops where it is,
    without an end, and `runbook run --resume` continues it."""


@dataclass
class Answer:
    kind: str  # "confirm", "break_glass", "abort"
    typed: str = ""
    reason: str = ""
    digest: str = ""
    by: str = field(default="")


class Operator(Protocol):
    def acknowledge(self, step: Step) -> bool: ...
    def confirm(self, request: ConfirmRequest) -> Answer: ...
    # After a Cancel ("back") at a confirmation: True to try the action again (guards read fresh).
    def retry(self, step: Step) -> bool: ...
    # Before an intrusive read (it pauses the JVM, loads the server): True to run it.
    def consent(self, step: Step, probe: str, why: str) -> bool: ...


class AnswersOperator:
    """Answers from a mapping: {step_id: "ack" | {"confirm": NAME} | {"break_glass": REASON, "confirm": NAME}}.

    A step that has no answer is refused: acknowledge returns False, confirm aborts.
    """

    def __init__(self, answers: dict[str, Any], by: str = "answers-file") -> None:
        self.answers = answers or {}
        self.by = by

    @classmethod
    def from_file(cls, path: str | Path) -> "AnswersOperator":
        from runbook.yamlfile import read_mapping

        data = read_mapping(path, "answers file")
        return cls(data.get("answers", data), by=f"answers file {Path(path).name}")

    def acknowledge(self, step: Step) -> bool:
        a = self.answers.get(step.id)
        return a in ("ack", "yes", True, "done") or (isinstance(a, dict) and bool(a.get("ack")))

    def approval(self, step: Step) -> str | None:
        """{step: {break_glass: REASON, confirm: NAME, approved_by: PERSON}}: taken only by a session that
        allows it (runbook run --approval-from-answers)."""
        a = self.answers.get(step.id)
        name = a.get("approved_by") if isinstance(a, dict) else None
        return str(name).strip() or None if name else None

    def awaiting_approval(self, step: Step, request: dict[str, Any]) -> None:
        _tell_waiting(sys.stderr, request)

    def retry(self, step: Step) -> bool:
        return False

    def consent(self, step: Step, probe: str, why: str) -> bool:
        """{step: {consent: [probe, ...]}} (or consent: true for every intrusive read of the step)."""
        a = self.answers.get(step.id)
        c = a.get("consent") if isinstance(a, dict) else None
        return c is True or (isinstance(c, list) and probe in c)

    def confirm(self, request: ConfirmRequest) -> Answer:
        a = self.answers.get(request.step.id)
        if not isinstance(a, dict):
            return Answer("abort", by=self.by)
        typed = str(a.get("confirm", ""))
        if request.blocked:
            reason = str(a.get("break_glass") or "")
            if not reason:
                return Answer("abort", by=self.by)
            return Answer("break_glass", typed=typed, reason=reason, digest=request.digest, by=self.by)
        return Answer("confirm", typed=typed, digest=request.digest, by=self.by)


def _tell_waiting(out: TextIO, request: dict[str, Any]) -> None:
    out.write(f"  waiting up to {request['timeout_s']:g} s for a second person to approve this break-glass: "
              f"runbook watch {request['session']} (on this host, or over ssh to it)\n")
    out.flush()


class TerminalOperator:
    """Asks on a terminal. Destructive actions need the target's name typed in full."""

    def __init__(self, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout, by: str = "terminal") -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.by = by

    def _ask(self, prompt: str) -> str:
        self.stdout.write(prompt)
        self.stdout.flush()
        line = self.stdin.readline()
        if not line:
            raise EOFError
        return line.strip()

    def acknowledge(self, step: Step) -> bool:
        try:
            return self._ask("  Type 'done' when done (anything else stops): ").lower() == "done"
        except EOFError:
            return False

    def retry(self, step: Step) -> bool:
        return False

    def awaiting_approval(self, step: Step, request: dict[str, Any]) -> None:
        _tell_waiting(self.stdout, request)  # (Ctrl+C stops waiting: the session is interrupted, nothing ran)

    def consent(self, step: Step, probe: str, why: str) -> bool:
        try:
            return self._ask(f"  {probe} {why}. Type 'yes' to run it (anything else skips it): ").lower() == "yes"
        except EOFError:
            return False

    def confirm(self, request: ConfirmRequest) -> Answer:
        try:
            if request.blocked:
                self.stdout.write(f"  BLOCKED by: {', '.join(request.blocked_by)}\n")
                reason = self._ask("  To break the glass, write the reason (empty stops): ")
                if not reason:
                    return Answer("abort", by=self.by)
                typed = self._ask(f"  Type the target name '{request.target}' to run it anyway: ")
                return Answer("break_glass", typed=typed, reason=reason, digest=request.digest, by=self.by)
            verb = "record" if request.dry_run else "run"
            typed = self._ask(f"  Type the target name '{request.target}' to {verb} this action (empty stops): ")
            if not typed:
                return Answer("abort", by=self.by)
            return Answer("confirm", typed=typed, digest=request.digest, by=self.by)
        except EOFError:
            return Answer("abort", by=self.by)
