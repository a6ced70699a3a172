"""Scenarios: facts recorded from live targets (secrets masked), replayed by `runbook test` and the TUI.

A scenario file (YAML):
    playbook: redis-master-restart          # which playbook it is for (name)
    description: ...
    targets: {master: {kind: redis, url: redis://master:6379}}
    facts: {master: {redis.check: {...}, redis.replication: {...}}}
    answers: {preview: done, restart: {confirm: master}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from runbook import registry
from runbook.engine.facts import facts_key
from runbook.kind import kind
from runbook.secrets import mask_mapping
from runbook.targets import Target, to_inventory_entry

class ScenarioError(Exception):
    pass


def record(targets: dict[str, Target], timeout: float = 3.0, params: dict[str, Any] | None = None) -> dict[str, Any]:
    from runbook.engine.facts import LiveFacts, ProbeError

    live = LiveFacts(timeout)
    facts: dict[str, dict[str, Any]] = {}
    for name, t in targets.items():
        facts[name] = {}
        for probe in getattr(kind(t.kind), "record_probes", ()):
            try:
                facts[name][probe] = live.read(probe, t, dict(params or {}))
            except ProbeError as e:
                facts[name][probe] = {"error": str(e)}
    return mask_mapping({
        "targets": {n: to_inventory_entry(t) for n, t in targets.items()},
        "facts": facts,
        "answers": {},
    }, _secrets_of(targets))


def _secrets_of(targets: dict[str, Target]) -> frozenset[str]:
    """Every secret the targets carry (URL passwords, secret restart options, ssh SetEnv values)."""
    return frozenset(x for t in targets.values() for x in t.secrets())


def record_playbook(pb: Any, targets: dict[str, Target], answers: dict[str, Any], params: dict[str, Any] | None = None,
                    timeout: float = 3.0) -> dict[str, Any]:
    """The facts a playbook reads, recorded by running it as a dry run against the live targets: every
    probe its checks, waits and guards read, with their params, on the path the answers take. Actions
    are never run (a dry run shows them)."""
    import tempfile

    from runbook.engine.facts import LiveFacts, ProbeError
    from runbook.engine.operators import AnswersOperator
    from runbook.engine.session import Session
    from runbook.journal.store import Journal

    recorded: dict[str, dict[str, Any]] = {}

    class Recording(LiveFacts):
        def read(self, probe: str, target: Target, p: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
            mine = recorded.setdefault(target.name, {})
            try:
                facts = super().read(probe, target, p, timeout)
                value: Any = facts
            except ProbeError as e:
                value, facts = {"error": str(e)}, None
            if probe not in mine:
                mine[probe] = value
                mine.setdefault("_params", {})[probe] = p
            elif mine["_params"].get(probe) != p:
                mine.setdefault(facts_key(probe, p), value)
            if facts is None:
                raise ProbeError(value["error"])
            return facts

    with tempfile.TemporaryDirectory(prefix="runbook-record-") as tmp:
        journal = Journal(Path(tmp) / "record.jsonl")
        try:
            outcome = Session(pb, targets, mode="dry-run", journal=journal, operator=AnswersOperator(answers, by="recording"),
                              facts=Recording(timeout), params=params).start()
        finally:
            journal.close()
    for by_probe in recorded.values():
        by_probe.pop("_params", None)
    return mask_mapping({
        "playbook": pb.name,
        "targets": {n: to_inventory_entry(t) for n, t in targets.items()},
        **({"params": params} if params else {}),
        "facts": recorded,
        "answers": answers,
        "recorded_outcome": outcome,
    }, _secrets_of(targets))


def save(data: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")


def load(path: str | Path) -> dict[str, Any]:
    from runbook.yamlfile import YamlFileError, read_mapping

    p = Path(path)
    try:
        data = read_mapping(p, "scenario")
    except YamlFileError as e:
        raise ScenarioError(str(e)) from None
    if not isinstance(data.get("facts"), dict) or not isinstance(data.get("targets"), dict):
        raise ScenarioError(f"{p}: a scenario is a mapping with targets and facts")
    for name, by_probe in data["facts"].items():
        for key in by_probe or {}:
            probe = key.split(" ", 1)[0]
            if probe not in registry.PROBES:
                raise ScenarioError(f"{p}: unknown probe {probe!r} for target {name}")
    return data


def targets_of(data: dict[str, Any]) -> dict[str, Target]:
    """The scenario's targets, with what an inventory may say of them (restart command or unit, config, logs)."""
    from runbook.targets import TargetError, from_inventory_entry

    out = {}
    for name, t in data["targets"].items():
        try:
            out[name] = from_inventory_entry(name, t)
        except TargetError as e:
            raise ScenarioError(str(e)) from None
    return out
