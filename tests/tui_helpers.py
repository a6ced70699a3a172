from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Callable

from runbook.journal import store
from runbook.playbook import loader
from runbook.targets import Target
from runbook.tui.app import RunbookApp, fixed_clock

ROOT = Path(__file__).resolve().parent.parent


async def wait_for(pilot: Any, cond: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    """Until cond() holds and the screen on top is composed and mounted (a screen just pushed has no children
    yet on a loaded machine: a query of it then finds nothing, and an assertion that something is absent would
    pass for the wrong reason); a widget cond reads that is not mounted yet is "not yet"."""
    from textual.css.query import NoMatches

    def holds() -> bool:
        try:
            return bool(cond()) and pilot.app.screen.is_mounted
        except NoMatches:
            return False

    deadline = time.monotonic() + timeout
    while not holds():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout:g} s: {what or getattr(cond, '__name__', cond)}")
        await pilot.pause(0.05)


async def press_in_bursts(pilot: Any, keys: list[str], burst: int = 4) -> None:
    """Keys as a fast typist over a slow link sends them: `burst` at once, then the app left to settle (idle)
    before the next burst. Pilot's press settles after every key, about 80 ms a key here: 240 random keys
    took 20 s of waiting."""
    import unicodedata

    from textual import events
    from textual._wait import wait_for_idle
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    app = pilot.app
    for i in range(0, len(keys), burst):
        for key in keys[i:i + burst]:
            if len(key) == 1 and not key.isalnum():
                key = _character_to_key(key)
            try:
                char: str | None = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
            except KeyError:
                char = key if len(key) == 1 else None
            event = events.Key(key, char)
            event.set_sender(app)
            app._driver.send_message(event)
        await wait_for_idle(0)


async def press_to_quit(pilot: Any, key: str = "ctrl+q", timeout: float = 30.0) -> None:
    """Press a key that ends the app. Pilot's press waits for the app's animations to complete; when the app
    exits during that wait its animator has stopped, and an animation a closing widget starts then never
    completes: the press would wait forever. So the wait is bounded, and only an app that has exited ends it."""
    press = asyncio.ensure_future(pilot.press(key))
    deadline = time.monotonic() + timeout
    while not press.done():
        if not pilot.app.is_running:  # its message loop has ended: nothing will complete the press's wait
            press.cancel()
            return
        if time.monotonic() > deadline:
            press.cancel()
            raise AssertionError(f"{key} neither returned nor ended the app in {timeout:g} s")
        await asyncio.sleep(0.05)
    press.result()


def action_playbook(tmp: Path, flag: Path, marker: Path, guards: str | None = None) -> Any:
    guards = guards or """
      - probe: host.file
        expr: facts.host.file_content == 'safe'
        message: the flag file must say safe"""
    guards = guards.replace("- probe: host.file\n", f'- probe: host.file\n        params: {{path: "{flag}"}}\n')
    text = f"""
name: tui-test
title: a test of the action screen
targets: {{host: {{kind: host}}}}
steps:
  - id: read
    kind: check
    title: Read the flag
    target: host
    probes: [host.file]
    params: {{path: "{flag}"}}
  - id: look
    kind: instruction
    title: Look at it
    text: Check the flag by hand.
  - id: act
    kind: action
    title: Touch the marker
    target: host
    action: host.command
    params: {{command: [touch, "{marker}"], path: "{flag}"}}
    guards:{guards}
"""
    pb, problems = loader.loads(text, str(tmp / "tui-test.yaml"))
    assert not problems, problems
    return pb


def run_app(pb: Any, targets: dict[str, Target] | None = None, mode: str = "live", read_only: bool = False,
            facts: Any = None, live_panels: bool = False, resume: Path | None = None) -> RunbookApp:
    """The app on a run screen; resume: a journal to continue (its events shown first, as `--resume`)."""
    targets = targets or {"host": Target("host", "local", "host")}
    path = resume or store.sessions_dir() / f"{store.new_session_id()}.jsonl"
    return RunbookApp([ROOT / "playbooks"], clock=fixed_clock(), discover=False, live_panels=live_panels,
                      start_run=dict(playbook=pb, targets=targets, mode=mode, journal_path=path, read_only=read_only,
                                     facts=facts, resume_events=store.read(resume).events if resume else None))


def journal_events() -> list[Any]:
    files = sorted(store.sessions_dir().glob("*.jsonl"))
    return store.read(files[-1]).events if files else []


__all__ = ["wait_for", "action_playbook", "run_app", "journal_events", "asyncio"]
