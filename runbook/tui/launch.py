"""Entry points into the TUI. The only module the CLI calls; textual is imported here, lazily."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def home(playbook_dirs: list[str], targets: dict[str, Any] | None = None, read_only: bool = False,
         alertmanager: str | None = None) -> int:
    from runbook.tui.app import run_app

    return run_app(playbook_dirs=[Path(d) for d in playbook_dirs], targets=targets, read_only=read_only,
                   alertmanager=alertmanager)


def run_playbook(playbook: Any, targets: dict[str, Any], *, mode: str, journal_path: Path,
                 resume_events: list[Any] | None, read_only: bool, facts: Any = None,
                 params: dict[str, Any] | None = None, alert: dict[str, Any] | None = None,
                 approval: Any = None, driver: str = "") -> int:
    from runbook.tui.app import run_app

    return run_app(playbook_dirs=[Path(playbook.path).parent], targets=targets, read_only=read_only,
                   start_run=dict(playbook=playbook, targets=targets, mode=mode, journal_path=journal_path,
                                  resume_events=resume_events, read_only=read_only, facts=facts,
                                  params=params, alert=alert, approval=approval, driver=driver))


def gc_report(files: list[str]) -> int:
    from runbook.tui.app import run_app

    return run_app(playbook_dirs=[], gc_files=files)


def fleet(source: Any) -> int:
    from runbook.tui.app import run_app

    return run_app(playbook_dirs=[], fleet=source)
