"""The playbook model: what a loaded, validated playbook is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runbook.playbook.expr import Expression

STEP_KINDS = ("check", "decision", "instruction", "action")
END = "end"


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


@dataclass(frozen=True)
class TargetRole:
    name: str
    kind: str
    description: str = ""


@dataclass(frozen=True)
class Branch:
    when: Expression
    goto: str


@dataclass(frozen=True)
class GuardRef:
    """A named guard from the registry, or an expression over the fresh facts of one probe."""

    name: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    expr: Expression | None = None
    probe: str = ""
    message: str = ""

    @property
    def label(self) -> str:
        return self.name or self.message or (self.expr.source if self.expr else "?")


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    line: int
    col: int = 1
    ref_pos: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False)  # "next"/"default"/"goto:N" -> (line, col)
    title: str = ""
    description: str = ""
    next: str | None = None
    target: str = ""
    probes: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    branches: tuple[Branch, ...] = ()
    default: str | None = None
    text: str = ""
    action: str = ""
    guards: tuple[GuardRef, ...] = ()

    @property
    def label(self) -> str:
        return self.title or self.id


@dataclass
class Playbook:
    path: str
    name: str
    title: str
    description: str
    targets: dict[str, TargetRole]
    steps: list[Step]
    version: int = 1

    def __post_init__(self) -> None:
        self.by_id = {s.id: s for s in self.steps}

    def successors(self, step: Step) -> list[str]:
        """Where a step may go next (END included)."""
        if step.kind == "decision":
            out = [b.goto for b in step.branches]
            out.append(step.default or self.following(step))
            return out
        return [step.next or self.following(step)]

    def following(self, step: Step) -> str:
        i = self.steps.index(step)
        return self.steps[i + 1].id if i + 1 < len(self.steps) else END
