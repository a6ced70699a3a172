"""Replays: a playbook run against recorded facts gives a transcript, kept as a text snapshot."""

from __future__ import annotations

import difflib
import sys
import tempfile
from pathlib import Path
from typing import Any

from runbook import scenario
from runbook.engine.facts import RecordedFacts
from runbook.engine.operators import AnswersOperator
from runbook.engine.session import Session
from runbook.events import Event
from runbook.journal.store import Journal
from runbook.playbook import loader
from runbook.playbook.model import Playbook
from runbook.transcript import render

FIXED_TS = "2026-01-01T00:00:00.000Z"


def transcript(events: list[Event]) -> str:
    """Deterministic text: steps visited, finding ids, decisions, guard results, actions that would run."""
    lines = []
    for e in events:
        lines += render(e)
    return "\n".join(lines) + "\n"


def replay(pb: Playbook, data: dict[str, Any]) -> tuple[str, list[Event]]:
    events: list[Event] = []
    with tempfile.TemporaryDirectory(prefix="runbook-replay-") as tmp:
        journal = Journal(Path(tmp) / "replay.jsonl")
        try:
            s = Session(pb, scenario.targets_of(data), mode="replay", journal=journal,
                        operator=AnswersOperator(data.get("answers") or {}, by="scenario"),
                        facts=RecordedFacts(data["facts"]), clock=lambda: FIXED_TS, listeners=[events.append],
                        params=data.get("params") or {})
            s.start()
        finally:
            journal.close()
    return transcript(events), events


def default_snapshots() -> Path:
    return Path.cwd() / "snapshots" / "transcripts"


def run_tests(path: str, update: bool = False, snapshots: str | None = None) -> int:
    from runbook.engine.session import SessionError

    root = Path(path)
    pbs = loader.find_playbooks([path])
    scen_root = (root if root.is_dir() else root.parent) / "scenarios"
    snap_root = Path(snapshots) if snapshots else default_snapshots()
    failures = passed = updated = 0
    for f in pbs:
        pb, problems = loader.load(f)
        if pb is None:
            for p in problems:
                print(p)
            failures += 1
            continue
        found = sorted((scen_root / pb.name).glob("*.yaml"))
        if not found:
            print(f"FAIL {pb.name}: no scenario in {scen_root / pb.name} (record one: runbook record --playbook FILE, "
                  "then runbook test --update)")
            failures += 1
            continue
        for sc in found:
            label = f"{pb.name}/{sc.stem}"
            try:
                data = scenario.load(sc)
                text, _ = replay(pb, data)
            except (scenario.ScenarioError, SessionError) as e:
                print(f"ERROR {label}: {e}")
                failures += 1
                continue
            snap = snap_root / pb.name / f"{sc.stem}.txt"
            if update:
                snap.parent.mkdir(parents=True, exist_ok=True)
                if not snap.exists() or snap.read_text(encoding="utf-8") != text:
                    snap.write_text(text, encoding="utf-8")
                    updated += 1
                    print(f"updated {label}")
                passed += 1
                continue
            if not snap.exists():
                print(f"FAIL {label}: no snapshot at {snap} (run: runbook test --update)")
                failures += 1
                continue
            expected = snap.read_text(encoding="utf-8")
            if expected != text:
                failures += 1
                print(f"FAIL {label}: the transcript differs from {snap}")
                sys.stdout.writelines(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                                           fromfile=str(snap), tofile=f"{label} (now)"))
            else:
                passed += 1
                print(f"ok   {label}")
    print(f"{passed} passed, {failures} failed" + (f", {updated} updated" if updated else ""))
    return 1 if failures else 0
