"""A session: runs a playbook step by step in a mode, with no UI, emitting journal events.

Modes: live, dry-run (probes real, actions replaced by their exact command), rehearsal
(live against a local sandbox), replay (recorded facts, actions never run).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from runbook import registry
from runbook.engine import approval as approvals
from runbook.engine.approval import ApprovalPolicy
from runbook.engine.facts import FactSource, ProbeError
from runbook.engine.operators import Answer, ConfirmRequest, Operator
from runbook.events import Event, utcnow
from runbook.findings import Finding
from runbook.kind import unreadable
from runbook.journal.store import Journal
from runbook.playbook.expr import ExprError
from runbook.playbook.model import END, GuardRef, Playbook, Step
from runbook.secrets import mask_mapping, mask_text
from runbook.targets import Target

MODES = ("live", "dry-run", "rehearsal", "replay")
MAX_CONFIRM_ATTEMPTS = 3


@dataclass
class GuardResult:
    guard: str
    passed: bool
    evidence: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    unknown: bool = False  # the facts it needs could not be read: it blocks, and says it does not know

    def to_dict(self) -> dict[str, Any]:
        d = {"guard": self.guard, "passed": self.passed, "evidence": self.evidence, "reason": self.reason}
        if self.unknown:
            d["unknown"] = True
        return d


def evidence_digest(command: str, guards: list[dict[str, Any]]) -> str:
    """What a confirmation is bound to: the command and every guard's verdict and evidence."""
    blob = json.dumps({"command": command, "guards": guards}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class SessionError(Exception):
    pass


def driver_name() -> str:
    """Who drives the session: $RUNBOOK_DRIVER, else the login name."""
    import getpass
    import os

    try:
        return os.environ.get("RUNBOOK_DRIVER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def probe_params(params: dict[str, Any], probe: str, probes: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The params of one probe of a check: the plain params of the step, plus (over them) the
    mapping under the probe's own name (`params: {redis.replication: {interval: 5}}`)."""
    out = {k: v for k, v in params.items() if k not in registry.PROBES}
    if isinstance(params.get(probe), dict):
        out.update(params[probe])
    return out


def members(role: str, targets: dict[str, Target]) -> list[str]:
    """The targets bound to a list role: ROLE-1, ROLE-2... (or one target named ROLE)."""
    if role in targets:
        return [role]
    found = [n for n in targets if n.startswith(role + "-") and n[len(role) + 1:].isdigit()]
    return sorted(found, key=lambda n: int(n[len(role) + 1:]))


def replace_name(t: Target, name: str) -> Target:
    from dataclasses import replace

    return replace(t, name=name)


def check_bindings(playbook: Playbook, targets: dict[str, Target]) -> None:
    """Every role of the playbook is bound, to a target of its kind. Raises SessionError."""
    missing = [r for r in playbook.targets if not members(r, targets)]
    if missing:
        raise SessionError(f"no binding for target(s) {', '.join(missing)}: pass --target NAME=URL")
    for role, spec in playbook.targets.items():
        names = members(role, targets)
        if len(names) > 1 and not spec.list:
            raise SessionError(f"target {role} is one target; {len(names)} were bound")
        for n in names:
            if targets[n].kind != spec.kind:
                raise SessionError(f"target {n} must be {spec.kind}, got {targets[n].kind} ({targets[n].display})")


class Session:
    def __init__(
        self,
        playbook: Playbook,
        targets: dict[str, Target],
        *,
        mode: str,
        journal: Journal,
        operator: Operator,
        facts: FactSource,
        clock: Callable[[], str] = utcnow,
        listeners: list[Callable[[Event], None]] | None = None,
        read_only: bool = False,
        params: dict[str, Any] | None = None,
        prefix: str = "",
        alert: dict[str, Any] | None = None,
        driver: str = "",
        approval: ApprovalPolicy | None = None,
    ) -> None:
        if mode not in MODES:
            raise SessionError(f"unknown mode {mode!r}")
        check_bindings(playbook, targets)
        try:
            self.params = playbook.input_values(params)
        except ValueError as e:
            raise SessionError(str(e)) from None
        self.prefix = prefix  # a called playbook's steps are journalled as CALL-STEP/STEP
        self.alert = alert  # the Alertmanager alert the session was started from (its labels and annotations)
        self.playbook = playbook
        self.targets = targets
        self.mode = mode
        self.journal = journal
        self.operator = operator
        self.source = facts
        self.clock = clock
        self.listeners = list(listeners or [])
        self.read_only = read_only
        self.driver = driver or driver_name()  # the person at the keyboard; a second person approves a break-glass
        self.approval = approval or ApprovalPolicy()
        # Facts of a target come from the last check step that read it, whole: a read that fails leaves
        # its facts missing, never the values of an earlier read. `reads` says where they came from.
        self.facts: dict[str, dict[str, Any]] = {name: {} for name in targets}
        self.reads: dict[str, dict[str, Any]] = {}  # target -> {"step", "at", "probes": {probe: outcome}}
        self.findings: dict[str, list[Finding]] = {}  # per "target/probe", of the same reads
        self.outcome = ""
        self.done_on: set[tuple[str, str]] = set()  # (action step, target) run before a resume
        self._deferred: list[int] = []  # signals that came while an action ran (see _signals_wait)
        self._told = False
        for t in targets.values():  # a target's secrets are masked in every event, before any listener sees it
            journal.secrets |= t.secrets()

    # -- events
    def emit(self, kind: str, step: str | None = None, /, **data: Any) -> Event:
        if step and self.prefix:
            step = self.prefix + step
        ev = self.journal.append(Event(kind, data, step=step, ts=self.clock()))
        for cb in self.listeners:
            try:
                cb(ev)
            except Exception:  # noqa: BLE001 - a screen that went away never stops the session or its journal
                pass
        return ev

    @property
    def all_findings(self) -> list[Finding]:
        return [f for fs in self.findings.values() for f in fs]

    def env(self) -> dict[str, Any]:
        fs = self.all_findings
        by_target: dict[str, list[str]] = {}
        for key, found in self.findings.items():
            by_target.setdefault(key.split("/", 1)[0], []).extend(f.id for f in found)
        unread = {t: sorted(p for p, o in r["probes"].items() if o != "read") for t, r in self.reads.items()}
        return {"facts": self.facts, "findings": [f.id for f in fs], "findings_by_target": by_target,
                "severities": [f.severity for f in fs], "params": self.params, "unread": unread}

    def rendered(self, step: Step) -> Step:
        """The step with every ${EXPR} of its target, params and text taken from the facts now.
        Raises ExprError (a fact it needs was not read)."""
        from dataclasses import replace

        from runbook.playbook import template

        if not (template.has_templates(step.params) or template.has_templates(step.text)
                or template.has_templates(step.target)):
            return step
        env = self.env()
        target = template.render(step.target, env)
        if template.has_templates(step.target) and (not isinstance(target, str) or target not in self.targets):
            raise ExprError(f"the facts chose {target!r} as the target, which is not a bound target "
                            f"({', '.join(self.targets)})")
        shown = frozenset(self.journal.secrets)  # a text shows facts to people: their secrets masked as they go in
        return replace(step, target=target, params=template.render(step.params, env),
                       text=template.render(step.text, env, lambda v: mask_text(v, shown)))

    def _forget(self, target: str, step: str, at: str) -> None:
        """A new look at a target: what earlier steps read of it is no longer its facts."""
        self.facts[target] = {}
        for role in self.playbook.targets:  # a member's new look changes its list's facts too
            if target in members(role, self.targets) and role not in self.targets:
                self.facts.pop(role, None)
        for key in [k for k in self.findings if k.split("/", 1)[0] == target]:
            del self.findings[key]
        self.reads[target] = {"step": step, "at": at, "probes": {}}

    def _record(self, target: str, step: str, at: str, probe: str, facts: dict[str, Any] | None, error: str,
                findings: list[Finding]) -> None:
        if self.reads.get(target, {}).get("step") != step:
            self._forget(target, step, at)
        why = error or unreadable(facts) or ""  # a target that could not be read: its findings are not known either
        self.reads[target]["probes"][probe] = "read" if not why else f"failed: {why}"
        if error or facts is None:
            self.facts[target] = {}  # nothing of this look stands when part of it failed
            self.reads[target]["failed"] = True
        elif not self.reads[target].get("failed"):
            self.facts[target].update(facts)
        self.findings[f"{target}/{probe}"] = findings

    def provenance(self, targets: list[str]) -> dict[str, Any]:
        """Which read the facts of these targets come from (for decisions and the journal)."""
        return {t: {"step": r["step"], "at": r["at"], "probes": dict(r["probes"])} if (r := self.reads.get(t))
                else None for t in targets}

    # -- running
    def needs_approval(self, step: Step) -> bool:
        return self.approval.required or "required" in (self.playbook.approval, step.approval)

    @property
    def approval_timeout_s(self) -> float:
        return self.approval.timeout_s or self.playbook.approval_timeout_s or approvals.DEFAULT_TIMEOUT_S

    def start(self) -> str:
        import os
        import socket

        policy = self.approval.to_dict() if self.approval != ApprovalPolicy() or self.playbook.approval == "required" else None
        self.emit(
            "session_started",
            playbook=self.playbook.path,
            playbook_name=self.playbook.name,
            mode=self.mode,
            read_only=self.read_only,
            driver=self.driver,  # who drives, from which process on which host: watchers see when it is gone
            pid=os.getpid(),
            host=socket.gethostname(),
            **({"approval": dict(policy, timeout_s=self.approval_timeout_s)} if policy else {}),
            targets=[t.to_dict() for t in self.targets.values()],
            **({"params": mask_mapping(self.params)} if self.params else {}),
            **({"alert": self.alert} if self.alert else {}),
        )
        return self.run_from(self.playbook.steps[0].id)

    def resume(self, events: list[Event]) -> str:
        """Continue after an interruption: restore facts and findings, re-enter the interrupted step
        (an action's guards are evaluated fresh before anything else)."""
        at: str | None = None
        done_action: set[str] = set()
        open_intent: dict[str, Event] = {}  # step -> its action_intent with no action_result yet
        pending: dict[tuple[str, str], tuple[Event, dict[str, Any]]] = {}
        for e in events:
            if e.kind == "action_intent" and e.step:
                open_intent[e.step] = e
            elif e.kind == "action_result" and e.step:
                intent = open_intent.pop(e.step, None)
                if intent is not None:
                    self.done_on.add((e.step, str(intent.data.get("target") or "")))
            if e.kind == "facts" and e.data.get("target") in self.facts:
                pending[(e.data["target"], e.data.get("probe", ""))] = (e, e.data)
            elif e.kind == "findings" and (e.data.get("target"), e.data.get("probe")) in pending:
                fe, d = pending.pop((e.data["target"], e.data["probe"]))
                self._record(d["target"], fe.step or "", fe.ts, d["probe"], d.get("facts"), d.get("error", ""),
                             [Finding.from_dict(f) for f in e.data.get("findings", [])])
            elif e.kind == "step_entered":
                at = (e.step or "").split("/", 1)[0]  # inside a call: that call step runs again from its start
            elif e.kind in ("action_result", "dry_run") and e.step:
                done_action.add(e.step)
            elif e.kind == "session_ended":
                raise SessionError(f"session already ended ({e.data.get('outcome')}); nothing to resume")
        if at is None:
            at = self.playbook.steps[0].id
        if at not in self.playbook.by_id:
            raise SessionError(f"step {at!r} of the journal is not in the playbook any more")
        step = self.playbook.by_id[at]
        import os
        import socket

        self.emit("session_resumed", at, mode=self.mode, read_only=self.read_only, driver=self.driver,
                  pid=os.getpid(), host=socket.gethostname())
        intent = open_intent.get(at)
        if intent is not None:
            # Reconciled before anything else: an action begun is never begun again.
            target = str(intent.data.get("target") or step.target)
            result = self._reconcile(step, intent, target)
            if result is None:
                return self.outcome
            if not result.get("not_run"):
                self.done_on.add((at, target))
                if not step.for_each:  # (a for_each goes on with the members not done yet)
                    nxt = self._after_action(step, result)
                    if nxt is None:
                        return self.outcome
                    return self.run_from(nxt) if nxt != END else self._end("completed")
        if step.kind == "action" and at in done_action:
            nxt = self.playbook.successors(step)[0]
            return self.run_from(nxt) if nxt != END else self._end("completed")
        return self.run_from(at)

    def run_from(self, step_id: str) -> str:
        current = step_id
        visits: dict[str, int] = {}
        while current != END:
            visits[current] = visits.get(current, 0) + 1
            if visits[current] > 50:
                return self._end("failed", reason=f"step {current!r} visited 50 times: stopping a loop")
            step = self.playbook.by_id[current]
            try:
                step = self.rendered(step)
            except ExprError as e:
                self.emit("step_entered", step.id, kind=step.kind, title=step.label)
                reason = f"cannot fill in the step from the facts: {e}"
                self.emit("blocked", step.id, reason=reason)
                return self._end("blocked" if step.kind == "action" else "failed", reason=reason)
            self.emit("step_entered", step.id, kind=step.kind, title=step.label,
                      **({"text": step.text} if step.text else {}))
            handler = getattr(self, "_" + step.kind)
            nxt = handler(step)
            if nxt is None:
                return self.outcome
            current = nxt
        return self._end("completed")

    def _end(self, outcome: str, reason: str = "") -> str:
        self.outcome = outcome
        data: dict[str, Any] = {"outcome": outcome}
        if reason:
            data["reason"] = reason
        if self.prefix:  # a called playbook ends; the session goes on (or ends) in its caller
            self.emit("call_ended", **data)
        else:
            self.emit("session_ended", **data)
        return outcome

    # -- step kinds
    def _read(self, probe: str, target: Target, params: dict[str, Any],
              timeout: float | None = None) -> tuple[dict[str, Any] | None, list[Finding], str]:
        spec = registry.PROBES[probe]
        try:
            facts = self.source.read(probe, target, params, timeout) if timeout else self.source.read(probe, target, params)
        except ProbeError as e:
            return None, [], str(e)
        except Exception as e:  # noqa: BLE001 - a probe must never crash the session
            return None, [], f"{type(e).__name__}: {e}"
        try:
            findings = list(spec.assess(facts))
        except Exception as e:  # noqa: BLE001
            return facts, [], f"assessment failed: {type(e).__name__}: {e}"
        return facts, findings, ""

    def _check(self, step: Step) -> str | None:
        if step.for_each:
            from dataclasses import replace

            names = members(step.for_each, self.targets)
            for name in names:
                self._read_probes(replace(step, target=name))
            self.facts[step.for_each] = [dict(self.facts.get(n) or {}, target=n) for n in names
                                         if not (self.reads.get(n) or {}).get("failed")]
            return self.playbook.successors(step)[0]
        self._read_probes(step)
        return self.playbook.successors(step)[0]

    def _read_probes(self, step: Step) -> None:
        target = self.targets[step.target]
        for probe in step.probes:
            params = probe_params(step.params, probe, step.probes)
            why = registry.PROBES[probe].intrusive
            if why and self.mode != "replay":
                consent = getattr(self.operator, "consent", None)
                if self.mode == "dry-run" or not (consent and consent(step, probe, why)):
                    verb = "would read" if self.mode == "dry-run" else "not read without consent"
                    self.emit("facts", step.id, target=step.target, probe=probe, params=mask_mapping(params),
                              facts=None, error=f"{verb}: {probe} {why}", intrusive=True)
                    self._record(step.target, step.id, self.clock(), probe, None, f"{verb} ({why})", [])
                    self.emit("findings", step.id, target=step.target, probe=probe, findings=[])
                    continue
                self.emit("note", step.id, text=f"consent given to run {probe}, which {why}")
            facts, findings, error = self._read(probe, target, params, step.timeout_s)
            data: dict[str, Any] = {"target": step.target, "probe": probe, "params": mask_mapping(params),
                                    "facts": mask_mapping(facts) if facts else None}
            if error:
                data["error"] = error
            ev = self.emit("facts", step.id, **data)
            self._record(step.target, step.id, ev.ts, probe, facts, error, findings)
            self.emit("findings", step.id, target=step.target, probe=probe, findings=[f.to_dict() for f in findings])

    def _wait(self, step: Step) -> str | None:
        """Read the probe again until `until` holds, the timeout passes (on_timeout) or the engineer stops."""
        import time

        assert step.until is not None
        timeout = step.timeout_s or 60.0
        start = time.monotonic()
        reads = 0
        while True:
            reads += 1
            self._read_probes(step)
            try:
                held = bool(step.until.evaluate(self.env()))
                why = ""
            except ExprError as e:
                held, why = False, str(e)
            elapsed = time.monotonic() - start
            self.emit("waiting", step.id, until=step.until.source, held=held, reads=reads, elapsed_s=round(elapsed, 1),
                      timeout_s=timeout, evidence=step.until.fact_refs(self.env()), **({"error": why} if why else {}))
            if held:
                return self.playbook.successors(step)[0]
            if self.mode == "replay" or elapsed + step.interval_s > timeout:
                reason = f"{step.until.source} did not hold within {timeout:g} s"
                if step.on_timeout:
                    self.emit("note", step.id, text=reason)
                    return step.on_timeout
                self._end("failed", reason=reason)
                return None
            stopped = getattr(self.operator, "wait", None)
            if stopped is not None:
                if not stopped(step, step.interval_s):
                    self.emit("note", step.id, text="the engineer stopped waiting")
                    self._end("aborted", reason="stopped waiting")
                    return None
            else:
                time.sleep(step.interval_s)

    def _call(self, step: Step) -> str | None:
        """Run another playbook here, with our targets in its roles; its steps are journalled under this one."""
        called = step.called
        targets = {}
        for role, ours in step.target_map.items():
            for name in members(ours, self.targets):
                targets[role + name[len(ours):]] = replace_name(self.targets[name], role + name[len(ours):])
        self.emit("note", step.id, text=f"calling the playbook {called.name}")
        sub = Session(called, targets, mode=self.mode, journal=self.journal, operator=self.operator, facts=self.source,
                      clock=self.clock, listeners=self.listeners, read_only=self.read_only, prefix=f"{self.prefix}{step.id}/",
                      driver=self.driver, approval=self.approval)
        outcome = sub.run_from(called.steps[0].id)
        if outcome != "completed":
            self._end(outcome, reason=f"{called.name} ended {outcome}")
            return None
        return self.playbook.successors(step)[0]

    def _decision(self, step: Step) -> str | None:
        env = self.env()
        errors = []
        for b in step.branches:
            try:
                taken = bool(b.when.evaluate(env))
            except ExprError as e:
                errors.append(f"{b.when.source}: {e}")
                continue
            if taken:
                self.emit("decision", step.id, when=b.when.source, goto=b.goto, evidence=b.when.fact_refs(env),
                          errors=errors, reads=self.provenance(b.when.targets()))
                return b.goto
        named = sorted({t for b in step.branches for t in b.when.targets()})
        if errors:
            # A branch that could not be judged might have been the true one: the default is not taken.
            if step.on_unknown:
                self.emit("decision", step.id, when=None, goto=step.on_unknown, errors=errors, unknown=True,
                          reads=self.provenance(named))
                return step.on_unknown
            reason = f"cannot decide on what could not be read: {'; '.join(errors)}"
            self.emit("decision", step.id, when=None, goto=None, errors=errors, unknown=True, reads=self.provenance(named))
            self.emit("blocked", step.id, reason=reason)
            self._end("blocked", reason="a decision on missing facts")
            return None
        goto = step.default or self.playbook.following(step)
        self.emit("decision", step.id, when=None, goto=goto, errors=errors, reads=self.provenance(named))
        return goto

    def _instruction(self, step: Step) -> str | None:
        if not self.operator.acknowledge(step):
            self.emit("note", step.id, text="not acknowledged: session stopped")
            self._end("aborted")
            return None
        self.emit("acknowledged", step.id)
        return self.playbook.successors(step)[0]

    def guard_refs(self, step: Step) -> list[GuardRef]:
        spec = registry.ACTIONS[step.action]
        refs = [GuardRef(name=g) for g in spec.guards]
        names = {g for g in spec.guards}
        refs += [g for g in step.guards if not (g.name and g.name in names)]
        return refs

    def evaluate_guards(self, step: Step) -> list[GuardResult]:
        """Every guard of the action, each on facts read fresh now. Errors and timeouts block."""
        target = self.targets[step.target]
        fresh: dict[str, tuple[dict[str, Any] | None, list[Finding], str]] = {}
        results = []
        for ref in self.guard_refs(step):
            probe = registry.GUARDS[ref.name].probe if ref.name else ref.probe
            own = dict(ref.params or {})
            probe_args = {**registry.ACTIONS[step.action].probe_params(step.params), **own}
            key = json.dumps([probe, probe_args], sort_keys=True, default=str)
            if key not in fresh:
                fresh[key] = self._read(probe, target, probe_args)
            facts, findings, error = fresh[key]
            label = ref.label
            if facts is None:
                results.append(GuardResult(label, False, {}, f"could not read {probe} on {step.target}: {error}",
                                           unknown=True))
                continue
            try:
                if ref.name:
                    passed, evidence, reason, unknown = registry.GUARDS[ref.name].verdict(facts, probe_args)
                    if unknown:
                        results.append(GuardResult(label, False, evidence, f"{step.target}: {reason}", unknown=True))
                        continue
                elif (why := unreadable(facts)) is not None:  # an expression on what was not read: not known
                    results.append(GuardResult(label, False, {"error": why}, f"could not read {step.target}: {why}",
                                               unknown=True))
                    continue
                else:
                    env = {
                        "facts": {step.target: facts},
                        "findings": [f.id for f in findings],
                        "severities": [f.severity for f in findings],
                        "params": {**self.params, **step.params},  # the playbook's inputs and the action's own
                    }
                    value = ref.expr.evaluate(env)  # type: ignore[union-attr]
                    evidence = ref.expr.fact_refs(env)  # type: ignore[union-attr]
                    if not isinstance(value, bool):
                        passed, reason = False, f"the guard expression gave {value!r}, not true or false"
                    else:
                        passed, reason = value, "" if value else (ref.message or f"{ref.expr.source} is false")  # type: ignore[union-attr]
            except Exception as e:  # noqa: BLE001 - fail closed
                results.append(GuardResult(label, False, {}, f"guard could not be evaluated: {e}"))
                continue
            results.append(GuardResult(label, bool(passed), mask_mapping(evidence), reason))
        return results

    def describe(self, step: Step) -> str:
        impl = registry.ACTIONS[step.action].impl
        secrets = getattr(impl, "secrets", None)
        if secrets:  # masked in every event from now on (the journal's own mask)
            self.journal.secrets.update(v for v in secrets(step.params) if v)
        return impl.describe(self.targets[step.target], step.params)

    def _action(self, step: Step) -> str | None:
        if step.for_each:
            from dataclasses import replace

            for name in members(step.for_each, self.targets):
                if (step.id, name) in self.done_on:
                    self.emit("note", step.id, text=f"{step.action} on {name}: done before the interruption")
                    continue
                self.emit("note", step.id, text=f"{step.action} on {name}")
                nxt = self._action_on(replace(step, target=name, for_each=""))
                if nxt is None or nxt == step.on_failure:
                    return nxt
            return self.playbook.successors(step)[0]
        return self._action_on(step)

    def _action_on(self, step: Step) -> str | None:
        dry = self.mode in ("dry-run", "replay")
        if self.read_only and not dry:
            self.emit("blocked", step.id, reason="read-only session: actions are refused")
            self._end("blocked", reason="read-only")
            return None
        try:
            command = self.describe(step)
        except Exception as e:  # noqa: BLE001
            for g in self.evaluate_guards(step):  # what the guards say stands on its own: shown all the same
                self.emit("guard", step.id, **g.to_dict())
            self.emit("blocked", step.id, reason=f"cannot build the command: {e}")
            self._end("blocked", reason=f"cannot build the command of {step.action}")
            return None
        if dry:
            # Nothing will run: show the guards as they stand now and the exact command.
            guards = [r.to_dict() for r in self.evaluate_guards(step)]
            for g in guards:
                self.emit("guard", step.id, **g)
            blocked_by = [g["guard"] for g in guards if not g["passed"]]
            self.emit("dry_run", step.id, command=command, action=step.action, target=step.target, blocked_by=blocked_by)
            if blocked_by:
                reason = f"blocked by {', '.join(blocked_by)}"
                self.emit("blocked", step.id, reason=reason, blocked_by=blocked_by)
                self._end("blocked", reason=reason)
                return None
            return self.playbook.successors(step)[0]
        answer: Answer | None = None
        approved: dict[str, Any] | None = None  # a second person's approval of the break-glass in answer
        attempt = 0
        fresh = False  # the answer stands for guards read again after it was given
        while attempt < MAX_CONFIRM_ATTEMPTS:
            attempt += 1
            results = self.evaluate_guards(step)
            guards = [r.to_dict() for r in results]
            for g in guards:
                self.emit("guard", step.id, **g)
            digest = evidence_digest(command, guards)
            # Bound to the evidence just shown: if an earlier answer was for this same evidence, it stands.
            if answer is not None:
                if answer.digest == digest:
                    fresh = True
                    break
                self.emit("confirmation_void", step.id, typed=answer.typed, digest=answer.digest, by=answer.by,
                          reason="the evidence changed after it was confirmed")
                if approved is not None:
                    self.emit("approval_void", step.id, request=approved["request"], approver=approved["approver"],
                              digest=answer.digest, reason="the evidence changed after it was approved")
                answer, approved = None, None
            blocked = any(not r.passed for r in results)
            req = ConfirmRequest(step, step.target, command, guards, digest, False, blocked, attempt)
            a = self.operator.confirm(req)
            if a.kind == "back":
                # Cancel keeps the session: the engineer may fix something, re-read, and try again.
                self.emit("note", step.id, text="cancelled at the confirmation; the session waits at this step")
                if not self._again(step, req):
                    return None
                answer, attempt = None, 0
                continue
            if a.kind == "abort" or (a.kind == "break_glass" and not a.reason.strip()):
                reason = f"blocked by {', '.join(req.blocked_by)}" if blocked else "the engineer stopped at the confirmation"
                self.emit("blocked", step.id, reason=reason, blocked_by=req.blocked_by)
                self._end("blocked", reason=reason)
                return None
            if a.typed != step.target:
                self.emit("blocked", step.id, reason=f"typed {a.typed!r}, not the target name {step.target!r}")
                self._end("blocked", reason="confirmation did not match the target name")
                return None
            if a.kind == "break_glass":
                if not blocked:
                    a = Answer("confirm", a.typed, "", a.digest, a.by)
                else:
                    self.emit("break_glass", step.id, reason=a.reason, blocked_by=req.blocked_by, digest=a.digest, by=a.by,
                              driver=self.driver)
                    if self.needs_approval(step):
                        got = self._second_person(step, req, a)
                        if got is None:
                            return None
                        if got == "back":  # the driver stopped waiting: the session waits at this step
                            if not self._again(step, req):
                                return None
                            answer, attempt = None, 0
                            continue
                        approved = got
            if a.kind == "confirm" and blocked:
                self.emit("blocked", step.id, reason=f"blocked by {', '.join(req.blocked_by)}", blocked_by=req.blocked_by)
                self._end("blocked", reason="guards blocked")
                return None
            self.emit("confirmation", step.id, typed=a.typed, digest=a.digest, by=a.by, kind=a.kind)
            answer = a
            # Loop: evaluate the guards fresh once more, immediately before the action.
        if not fresh:
            self.emit("blocked", step.id, reason="the evidence kept changing: confirmation voided too often")
            self._end("blocked", reason="evidence unstable")
            return None
        return self._after_action(step, self._run_action(step, command))

    def _again(self, step: Step, req: ConfirmRequest) -> bool:
        """After a Cancel: True when the engineer tries the action again (its guards read fresh); else the
        session ends blocked here."""
        if not self.operator.retry(step):
            self.emit("blocked", step.id, reason="the engineer left at the confirmation", blocked_by=req.blocked_by)
            self._end("blocked", reason="left at the confirmation")
            return False
        self.emit("note", step.id, text="trying the action again: its guards are read fresh")
        return True

    def _second_person(self, step: Step, req: ConfirmRequest, a: Answer) -> dict[str, Any] | str | None:
        """Wait for a second person's approval of this break-glass: its record (approved), "back" (the driver
        cancelled the wait), or None (denied, or no approval in time: nothing ran, the session ended here)."""
        from runbook.engine.operators import Interrupted
        from runbook.events import TERMINATING
        from runbook.journal import beside

        path = beside.beside(self.journal.path, beside.APPROVALS)
        timeout = self.approval_timeout_s
        request = {"action": step.action, "target": step.target, "command": req.command, "guards": req.guards,
                   "blocked_by": req.blocked_by, "reason": a.reason, "digest": req.digest, "driver": self.driver,
                   "timeout_s": timeout, "approvals": path.name}
        ev = self.emit("approval_requested", step.id, **request)
        request = ev.data  # as journalled (masked)

        def approved(rec: dict[str, Any], source: str) -> dict[str, Any]:
            out = {"request": ev.seq, "approver": rec["approver"], "typed": rec.get("typed"), "digest": rec.get("digest"),
                   "from": rec.get("from") or "", "source": source}
            self.emit("approval", step.id, **out, **({"note": rec["note"]} if rec.get("note") else {}))
            return out

        given = getattr(self.operator, "approval", None)
        name = given(step) if given else None
        if name:
            if self.approval.from_answers:
                rec = {"approver": name, "typed": step.target, "digest": req.digest, "decision": "approve",
                       "from": getattr(self.operator, "by", "answers file")}
                why = approvals.problem(rec, request)
                if not why:
                    self.emit("note", step.id, text=f"the approval by {name} is taken from the answers file, as this "
                                                    "session allows (--approval-from-answers): no second person saw "
                                                    "this request on a screen")
                    return approved(rec, "answers file")
                self.emit("note", step.id, text=f"the answers file's approval does not count: {why}")
            else:
                self.emit("note", step.id, text=f"the answers file names {name} as the approver, but this session does "
                                                "not take approvals from it (--approval-from-answers): waiting for a "
                                                "second person (runbook watch)")

        def stopping() -> None:
            stopped = getattr(self.operator, "stopped", None)
            if TERMINATING.is_set() or (stopped is not None and stopped.is_set()):
                raise Interrupted()

        told: set[int] = set()

        def invalid(rec: dict[str, Any], why: str) -> None:
            if id(rec) not in told:
                told.add(id(rec))
                self.emit("note", step.id, text=f"an answer to the approval request does not count: {why}")

        waiting = getattr(self.operator, "awaiting_approval", None)
        cancel = getattr(self.operator, "approval_cancelled", None)
        if waiting:
            waiting(step, dict(request, request=ev.seq, session=self.journal.path.stem))
        try:
            got = approvals.wait(path, ev.seq, request, timeout, cancel or (lambda: False), stopping, invalid)
        finally:
            over = getattr(self.operator, "approval_over", None)
            if over:
                over()
        if got.kind == "approved":
            return approved(got.record or {}, "watch")
        if got.kind == "cancelled":
            self.emit("approval_refused", step.id, request=ev.seq, outcome="cancelled",
                      reason=f"{self.driver} (the driver) stopped waiting for the approval: nothing ran")
            return "back"
        if got.kind == "denied":
            rec = got.record or {}
            reason = f"denied by {rec.get('approver')}" + (f": {rec['note']}" if rec.get("note") else "")
            self.emit("approval_refused", step.id, request=ev.seq, outcome="denied", approver=rec.get("approver"),
                      reason=reason, **{"from": rec.get("from") or ""})
        else:
            reason = f"no approval within {timeout:g} s: nothing ran"
            self.emit("approval_refused", step.id, request=ev.seq, outcome="timeout", reason=reason)
        self.emit("blocked", step.id, reason=f"break-glass not approved ({reason})", blocked_by=req.blocked_by)
        self._end("blocked", reason="break-glass not approved")
        return None

    def _reconcile(self, step: Step, intent: Event, target: str) -> dict[str, Any] | None:
        """What became of an action whose intent is journalled and result is not, from its runner's
        record: its result (journalled now), or the wait for a runner still running. None: the session
        ended here (the action was lost half way: runbook never runs it again on its own)."""
        from runbook.engine import runner

        record = self._record_path(intent.seq)
        st, v = runner.state(record)
        if st == "not_run":
            self.emit("note", step.id, text=f"the {step.action} on {target} had not begun when the session was "
                                            "interrupted: nothing was done; its guards are read fresh")
            return {"not_run": True}
        if st == "running":
            self.emit("note", step.id, text=f"the {step.action} on {target} is still running in its runner "
                                            f"(pid {v['pid']}): waiting for its result")
            with self._signals_wait(step):
                return self._wait_runner(step, record, None)
        if st == "done":
            self.emit("note", step.id, text=f"the {step.action} on {target} finished while the session was "
                                            "interrupted: its result, from its runner's record")
            self.emit("action_result", step.id, reconciled=True, **mask_mapping(v))
            return v
        reason = (f"the {step.action} on {target} was interrupted after {v['phase']!r} with no result: runbook will "
                  f"not run it again on its own; read {target} now (runbook redis check, or a new session)")
        self.emit("blocked", step.id, reason=reason)
        self._end("blocked", reason=reason)
        return None

    def _record_path(self, intent_seq: int) -> Path:
        """The runner's record of the action whose intent is that event (in actions/ beside the journal)."""
        return self.journal.path.parent / "actions" / f"{self.journal.path.stem}-{intent_seq}.jsonl"

    def _run_action(self, step: Step, command: str) -> dict[str, Any]:
        """Journal the intent, run the action in its own runner (see runner.py) and journal its result.
        From the intent to the result, SIGINT, SIGTERM and SIGHUP wait (in the main thread): the screen says
        the action is being finished; then the session is interrupted (resumable) as the signal asked."""
        from runbook.engine import runner

        with self._signals_wait(step):
            intent = self.emit("action_intent", step.id, command=command, action=step.action, target=step.target)
            record = self._record_path(intent.seq)
            try:
                proc = runner.start(record, step.action, self.targets[step.target], step.params,
                                    step.timeout_s or 30.0)
            except OSError as e:
                result = {"ok": False, "error": f"the action's runner could not start, nothing was done: {e}"}
                self.emit("action_result", step.id, **result)
                return result
            return self._wait_runner(step, record, proc)

    def _wait_runner(self, step: Step, record: Path, proc: Any) -> dict[str, Any]:
        from runbook.engine import runner

        result = runner.wait(record, proc, on_phase=lambda r: self.emit("note", step.id, text=r["text"]),
                             tick=lambda: self._tell_deferred(step))
        self.emit("action_result", step.id, **mask_mapping(result))
        return result

    @contextlib.contextmanager
    def _signals_wait(self, step: Step) -> Iterator[None]:
        import signal
        import threading

        self._deferred, self._told = [], False
        old: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                old[s] = signal.signal(s, lambda signum, frame: self._deferred.append(signum))
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        if self._deferred:
            from runbook.events import SignalExit

            sig = self._deferred[0]
            raise KeyboardInterrupt() if sig == signal.SIGINT else SignalExit(sig)

    def _tell_deferred(self, step: Step) -> None:
        import signal

        if self._deferred and not self._told:
            self._told = True
            self.emit("note", step.id, text=f"{signal.Signals(self._deferred[0]).name}: finishing the {step.action} "
                                            "first (it runs in its own process); the session stops when it is done")

    def _after_action(self, step: Step, result: dict[str, Any]) -> str | None:
        if not result.get("ok"):
            if step.on_failure:
                self.emit("note", step.id, text=f"action {step.action} failed: going to {step.on_failure}")
                return step.on_failure
            self._end("failed", reason=f"action {step.action} failed")
            return None
        return self.playbook.successors(step)[0]
