"""Target kinds: what a kind of target (Redis, a JVM, a host) brings, declared in one place, its own package.

A kind is a package of runbook with a `kind.py` whose KIND says everything the rest of runbook needs:
- which target URLs are its (claims) and how to write one (url_help);
- its probes (read, then assess: facts to findings), its guards (pure, over one probe's facts) and its
  actions (the only code that changes anything), with real references to the functions;
- its finding rules (the catalogue's entries: `runbook explain ID`);
- what `runbook record` reads of it, how it is found on this machine (discovery), the live panel's
  summary in the TUI (plain lines, no UI code), its secrets (config keys, and URL forms whose user part
  is a password).

Two parts are found by their module's name instead, so that a command line and a finding do not import
every kind's probes: its finding rules are RULES in KIND/rules.py when it has one (KIND.rules is that
tuple), and its subcommands are added by register(subparsers) in KIND/cli.py when it has one.

Adding a kind (say Postgres) is adding runbook/postgres/ with a kind.py, and its docs: kinds() finds it.
Ground floor: imports nothing of runbook; the kinds import it.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import os
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Rule:
    """A finding id with its default severity, title, why and what to do."""

    id: str
    severity: str
    title: str
    why: str
    action: str
    example: str = ""
    # The one other severity a finding of this rule can have, and when: ("critical", "a pause is 5x the
    # threshold"). Code asks for it with make(..., escalated=True); nothing else changes a severity.
    otherwise: tuple[str, str] = ("", "")
    # What names it: the one-look commands ("redis check") and, where no command does, the probes that a
    # playbook runs ("probe jvm.memory"). Set by each kind's rules.py through named_by().
    named_by: tuple[str, ...] = ()

    @property
    def severity_text(self) -> str:
        """How the page states it: "warning; critical when ..." """
        sev, when = self.otherwise
        return f"{self.severity}; {sev} when {when}" if sev else self.severity


def named_by(rules: tuple[Rule, ...], by: dict[str, tuple[str, ...]]) -> tuple[Rule, ...]:
    """The rules, each with what names it: by maps an id, or a prefix of ids ending in ".", to the commands
    or probes; the longest match wins. A rule that nothing names is an error, at import."""
    out = []
    for r in rules:
        keys = [k for k in by if k == r.id or (k.endswith(".") and r.id.startswith(k))]
        if not keys:
            raise ValueError(f"{r.id}: nothing names it (named_by)")
        out.append(dataclasses.replace(r, named_by=by[max(keys, key=len)]))
    return tuple(out)


@dataclass(frozen=True)
class ProbeSpec:
    """A probe reads (I/O) and returns plain facts; assess turns facts into findings (pure)."""

    name: str
    read: Callable[..., dict[str, Any]]  # (target, params, timeout) -> facts
    assess: Callable[..., list[Any]]  # (facts) -> findings
    doc: str
    intrusive: str = ""  # why it is not a plain read ("forces a full GC"): never run without consent
    check_params: Callable[[dict[str, Any]], None] | None = None  # at load: ValueError for params it refuses
    target_kind: str = ""  # filled in by its Kind
    # (params, timeout) -> seconds a read may take beyond the engine's allowance for its network reads: its own
    # waits (a sampling interval) and the bounded work it starts (a restart simulation's copy). The engine's
    # wall clock is a backstop for a read that hangs; it must not cut one still within its own bounds.
    budget: Callable[[dict[str, Any], float], float] | None = None


@dataclass(frozen=True)
class GuardSpec:
    """A guard is a pure function of the facts of one probe, read fresh just before an action."""

    name: str
    probe: str
    check: Callable[..., tuple[bool, dict[str, Any], str]]  # (facts, params) -> (passed, evidence, reason)
    doc: str

    def verdict(self, facts: Any, params: dict[str, Any]) -> tuple[bool, dict[str, Any], str, bool]:
        """(passed, evidence, reason, unknown): on facts of a target that could not be read, the guard does
        not know, and blocks, whatever its check would say."""
        why = unreadable(facts)
        if why is not None:
            return False, {"error": why}, f"could not read the target: {why}", True
        passed, evidence, reason = self.check(facts, params)
        return bool(passed), evidence, reason, False


def unreadable(facts: Any) -> str | None:
    """Why the facts say their target could not be read (None: it was read)."""
    if isinstance(facts, dict) and facts.get("reachable") is False:
        return str(facts.get("error") or "not reachable")
    return None


@dataclass(frozen=True)
class ActionSpec:
    """The only code that changes anything: impl has describe(target, params) -> the exact command, and
    run(target, params, timeout) -> result."""

    name: str
    impl: Any
    doc: str
    guards: tuple[str, ...] = ()  # always evaluated, in addition to the playbook's
    params: dict[str, str] = field(default_factory=dict)  # name -> "str" | "int" | "list" | "bool"
    guard_params: tuple[str, ...] = ()  # params of the action its guards' probes read (e.g. the shutdown mode)
    target_kind: str = ""  # filled in by its Kind

    def probe_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return {k: params[k] for k in self.guard_params if k in params}


@dataclass(frozen=True)
class Kind:
    name: str
    claims: Callable[[str], bool]  # url -> whether a target at that URL is of this kind
    url_help: str  # how its URLs are written, for an error that names every kind's
    probes: tuple[ProbeSpec, ...] = ()
    guards: tuple[GuardSpec, ...] = ()
    actions: tuple[ActionSpec, ...] = ()
    rules: tuple[Rule, ...] = ()
    record_probes: tuple[str, ...] = ()  # what `runbook record` reads of a target of this kind
    discover: Callable[[], dict[str, Any]] | None = None  # its targets running on this machine, by name
    panel: Callable[[], Any] | None = None  # a new live panel: poll(target, timeout), lines(summary), chart
    secret_keys: frozenset[str] = frozenset()  # its config keys whose values are secrets
    password_user_schemes: tuple[str, ...] = ()  # URL schemes where a lone user part is a password

    def __post_init__(self) -> None:
        for spec in (*self.probes, *self.actions):
            object.__setattr__(spec, "target_kind", self.name)
        for spec in (*self.probes, *self.guards, *self.actions):
            if not spec.name.startswith(self.name + "."):
                raise ValueError(f"{spec.name}: a {self.name} kind's names start with {self.name}.")


class Panel:
    """The live panel of a target in the TUI, as plain data: the TUI draws it. poll() runs in a worker
    thread; lines() turns its summary into (label, text, style) rows; chart is a series to draw, or None."""

    charted = False

    def poll(self, target: Any, timeout: float) -> dict[str, Any]:
        raise NotImplementedError

    def lines(self, summary: dict[str, Any]) -> list[tuple[str, str, str]]:
        raise NotImplementedError

    @property
    def chart(self) -> list[float] | None:
        return None


_ROOT = os.path.dirname(os.path.abspath(__file__))


@functools.lru_cache(maxsize=1)
def packages() -> tuple[str, ...]:
    """The packages of runbook that are kinds (they have a kind.py), found on disk: nothing is imported."""
    return tuple(e for e in sorted(os.listdir(_ROOT)) if os.path.isfile(os.path.join(_ROOT, e, "kind.py")))


def kinds() -> tuple[Kind, ...]:
    """Every kind, its kind.py imported (with its probes, guards and actions)."""
    return tuple(importlib.import_module(f"runbook.{entry}.kind").KIND for entry in packages())


def rules() -> tuple[Rule, ...]:
    """Every kind's finding rules: from its rules.py alone where it has one (a finding made from a GC log
    needs no probe), else from its kind.py."""
    out: list[Rule] = []
    for entry in packages():
        has_own = os.path.isfile(os.path.join(_ROOT, entry, "rules.py"))
        out += importlib.import_module(f"runbook.{entry}.rules").RULES if has_own else \
            importlib.import_module(f"runbook.{entry}.kind").KIND.rules
    return tuple(out)


def command_modules() -> tuple[Any, ...]:
    """The kinds' command-line modules (KIND/cli.py, each with register(subparsers))."""
    return tuple(importlib.import_module(f"runbook.{entry}.cli") for entry in packages()
                 if os.path.isfile(os.path.join(_ROOT, entry, "cli.py")))


def kind(name: str) -> Kind | None:
    return next((k for k in kinds() if k.name == name), None)


def names() -> tuple[str, ...]:
    return tuple(k.name for k in kinds())
