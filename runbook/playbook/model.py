"""The playbook model: what a loaded, validated playbook is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runbook.playbook.expr import Expression

STEP_KINDS = ("check", "decision", "instruction", "action", "wait", "call")
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
    list: bool = False  # bound to one target or more: replicas, cluster nodes, Sentinels


@dataclass(frozen=True)
class Input:
    """A typed parameter of the playbook, given with --param NAME=VALUE (or its default)."""

    name: str
    type: str = "str"  # str, int, float, bool
    default: Any = None
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is None

    def parse(self, text: str) -> Any:
        """The value of a --param given as text; ValueError with a message when it is not of the type."""
        if self.type == "int":
            try:
                return int(text)
            except ValueError:
                raise ValueError(f"--param {self.name}: expected a whole number, got {text!r}") from None
        if self.type == "float":
            try:
                return float(text)
            except ValueError:
                raise ValueError(f"--param {self.name}: expected a number, got {text!r}") from None
        if self.type == "bool":
            if text.lower() in ("true", "yes", "1"):
                return True
            if text.lower() in ("false", "no", "0"):
                return False
            raise ValueError(f"--param {self.name}: expected true or false, got {text!r}")
        return text


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
    until: Expression | None = None  # wait: read again until this holds
    timeout_s: float | None = None  # check, action, wait: how long the step may take
    interval_s: float = 2.0  # wait: between reads
    on_timeout: str | None = None  # wait: where to go when until never held
    on_unknown: str | None = None  # decision: where to go when a branch cannot be judged (a fact is missing)
    on_failure: str | None = None  # action: where to go when the action fails or its postcondition is unmet
    for_each: str = ""  # check, action: once per member of a list target
    playbook: str = ""  # call: the playbook (a name beside this one)
    target_map: dict[str, str] = field(default_factory=dict)  # call: its role -> our role
    called: Any = field(default=None, compare=False)  # call: the loaded playbook
    approval: str = ""  # action: "required": its break-glass needs a second person's approval

    @property
    def label(self) -> str:
        return self.title or self.id


@dataclass(frozen=True)
class AlertSpec:
    """An Alertmanager alert the playbook handles: its alertname (and other labels that must match), and
    for each target role, where the alert's labels say the target is (`${labels.instance}`, or a name of
    the inventory); and the playbook's inputs it gives (`path: "${labels.mountpoint}"`)."""

    alertname: str
    match: dict[str, str] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Playbook:
    path: str
    name: str
    title: str
    description: str
    targets: dict[str, TargetRole]
    steps: list[Step]
    version: int = 1
    inputs: dict[str, Input] = field(default_factory=dict)
    alerts: list[AlertSpec] = field(default_factory=list)
    approval: str = ""  # "required": every break-glass needs a second person's approval
    approval_timeout_s: float | None = None  # how long a break-glass waits for it (None: the session's default)

    def __post_init__(self) -> None:
        self.by_id = {s.id: s for s in self.steps}

    def successors(self, step: Step) -> list[str]:
        """Where a step may go next (END included)."""
        if step.kind == "decision":
            out = [b.goto for b in step.branches]
            out.append(step.default or self.following(step))
            if step.on_unknown:
                out.append(step.on_unknown)
            return out
        out = [step.next or self.following(step)]
        if step.kind == "wait" and step.on_timeout:
            out.append(step.on_timeout)
        if step.kind == "action" and step.on_failure:
            out.append(step.on_failure)
        return out

    def input_values(self, given: dict[str, Any] | None = None) -> dict[str, Any]:
        """The inputs' values: the given ones over the defaults. ValueError names a required one missing."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.inputs))
        if unknown:
            raise ValueError(f"unknown --param {', '.join(unknown)}; this playbook takes: {', '.join(self.inputs) or 'none'}")
        out = {}
        for name, inp in self.inputs.items():
            if name in given:
                v = given[name]
                out[name] = inp.parse(v) if isinstance(v, str) and inp.type != "str" else v
            elif inp.required:
                raise ValueError(f"this playbook needs --param {name}=VALUE ({inp.description or inp.type})")
            else:
                out[name] = inp.default
        return out

    def following(self, step: Step) -> str:
        i = [s.id for s in self.steps].index(step.id)  # by id: a step filled in from the facts is a copy
        return self.steps[i + 1].id if i + 1 < len(self.steps) else END
