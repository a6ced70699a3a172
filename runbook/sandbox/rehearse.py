"""`runbook rehearse [NAME]`: start a sandbox in a fault state and run its playbook against it."""

from __future__ import annotations

import argparse
import shutil
import os
import sys
from typing import Any


def say(text: str) -> None:
    sys.stderr.write(f"rehearse: {text}\n")
    sys.stderr.flush()


def main(args: argparse.Namespace) -> int:
    from runbook.events import SignalExit
    from runbook.sandbox.procs import Sandbox, cleanup_stale
    from runbook.sandbox.scenarios import REHEARSAL_TIMEOUT, SCENARIOS, SandboxError

    cleanup_stale(say)
    if not args.scenario:
        for name, sc in SCENARIOS.items():
            sys.stdout.write(f"{name:20} {sc.summary} (playbook {sc.playbook})\n")
        return 0
    sc = SCENARIOS.get(args.scenario)
    if sc is None:
        say(f"no rehearsal {args.scenario!r}; known: {', '.join(SCENARIOS)}")
        return 2
    missing = [b for b in sc.needs if not shutil.which(b)]
    if missing:
        say(f"{sc.name} needs {', '.join(missing)} (run .ci/setup)")
        return 1
    from runbook.playbook import loader

    pb, problems = loader.load(sc.playbook_path)
    if pb is None:
        for p in problems:
            say(str(p))
        return 1
    try:
        with Sandbox(sc.name, say=say) as sb:
            say(f"building {sc.name} in {sb.dir}")
            try:
                built = sc.build(sb)
            except (SandboxError, SignalExit, KeyboardInterrupt):
                raise
            except Exception as e:  # noqa: BLE001 - a live process refused or timed out: say which, no traceback
                raise SandboxError(f"{type(e).__name__}: {e}") from e
            if args.headless:
                return _headless(pb, built, getattr(args, "answers", None))
            from runbook.journal import store

            path = store.sessions_dir() / f"{store.new_session_id()}.jsonl"
            from runbook.engine.facts import LiveFacts

            args.screens.run_playbook(pb, built.targets, mode="rehearsal", journal_path=path, resume_events=None,
                                      read_only=False, params=built.params, facts=LiveFacts(REHEARSAL_TIMEOUT))
            outcome = _outcome(path)
            if args.keep:
                say("the sandbox keeps running; press Ctrl-C to stop it")
                import time

                while True:
                    time.sleep(3600)
            if outcome != built.expected:
                say(f"the rehearsal ended {outcome or 'before its end'}; it is meant to end {built.expected}")
                return 1
            return 0
    except SandboxError as e:
        say(f"could not build {sc.name}: {e}")
        return 1
    except SignalExit as e:
        say("terminated")
        return 128 + e.signum
    except KeyboardInterrupt:
        say("interrupted")
        return 130


def _outcome(path: Any) -> str:
    """How the rehearsal's session ended ("" when it did not: the engineer left mid-way)."""
    from runbook.journal import store

    try:
        ended = store.read(path).ended
    except Exception:  # noqa: BLE001 - no journal: it never started
        return ""
    return str(ended.data.get("outcome") or "") if ended is not None else ""


def _headless(pb: Any, built: Any, answers_file: str | None = None) -> int:
    from runbook.engine.facts import LiveFacts
    from runbook.sandbox.scenarios import REHEARSAL_TIMEOUT
    from runbook.engine.operators import AnswersOperator
    from runbook.engine.session import Session
    from runbook.journal import store
    from runbook.transcript import render

    path = store.sessions_dir() / f"{store.new_session_id()}.jsonl"
    journal = store.Journal(path)

    def show(ev: Any) -> None:
        for line in render(ev):
            sys.stdout.write(line + "\n")
        sys.stdout.flush()

    named: set[str] = set()

    def collect(ev: Any) -> None:
        if ev.kind == "findings":
            named.update(f["id"] for f in ev.data.get("findings", []))

    answers, by = built.answers, "rehearsal script"
    if answers_file:
        from runbook.yamlfile import read_mapping

        answers, by = {**built.answers, **read_mapping(answers_file, "answers file")}, os.path.basename(answers_file)
    try:
        outcome = Session(pb, built.targets, mode="rehearsal", journal=journal,
                          operator=AnswersOperator(answers, by=by), facts=LiveFacts(REHEARSAL_TIMEOUT),
                          listeners=[show, collect], params=built.params).start()
    finally:
        journal.close()
    say(f"journal: {path}")
    missed = sorted(built.findings - named)
    if answers_file:  # the engineer chose the path: the scenario's expected end does not apply
        say(f"the rehearsal ended {outcome}")
        return 0 if outcome == "completed" else 1
    if outcome != built.expected or missed:
        say(f"the rehearsal ended {outcome}, expected {built.expected}"
            + (f"; it did not name {', '.join(missed)}" if missed else ""))
        return 1
    say(f"the rehearsal ended {outcome}, as it should" + (f", naming {', '.join(sorted(built.findings))}" if built.findings else ""))
    return 0
