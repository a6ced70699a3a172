"""SVG snapshots of every screen at 80x24 and 120x40 (deterministic: fixed clock, replayed or local facts,
no ports, PIDs or temp paths in the picture). Stored under snapshots/svg; update with --snapshot-update."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import pytest_textual_snapshot

from runbook import scenario
from runbook.engine.facts import RecordedFacts
from runbook.journal import store
from runbook.playbook import loader
from runbook.targets import Target
from runbook.tui.app import RunbookApp, fixed_clock
from runbook.tui.run import RunScreen
from runbook.tui.modals import BindTargetsScreen, BreakGlassScreen, ConfirmActionScreen, FindingScreen
from tui_helpers import ROOT, action_playbook, wait_for

os.environ["TEXTUAL_ANIMATIONS"] = "none"
SNAPSHOTS = ROOT / "snapshots" / "svg"
pytest_textual_snapshot.SVGImageExtension.dirname = classmethod(lambda cls, *, test_location: str(SNAPSHOTS))  # type: ignore[method-assign]
SIZES = [(80, 24), (120, 40)]
TRAP = ROOT / "playbooks" / "scenarios" / "redis-master-restart" / "aof-trap.yaml"


def replay_app() -> RunbookApp:
    pb, _ = loader.load(ROOT / "playbooks" / "redis-master-restart.yaml")
    data = scenario.load(TRAP)
    return RunbookApp([ROOT / "playbooks"], clock=fixed_clock(), discover=False, live_panels=False,
                      start_run=dict(playbook=pb, targets=scenario.targets_of(data), mode="replay",
                                     journal_path=store.sessions_dir() / "snap.jsonl", facts=RecordedFacts(data["facts"])))


def action_app(tmp: Path, flag_says: str = "unsafe") -> RunbookApp:
    flag = tmp / "flag"
    flag.write_text(flag_says)
    pb = action_playbook(tmp, flag, tmp / "marker")
    pb.steps[2] = pb.steps[2].__class__(**{**pb.steps[2].__dict__, "params": {"command": ["true"], "path": str(flag)}})
    pb.__post_init__()
    return RunbookApp([ROOT / "playbooks"], clock=fixed_clock(), discover=False, live_panels=False,
                      start_run=dict(playbook=pb, targets={"host": Target("host", "local", "host")}, mode="live",
                                     journal_path=store.sessions_dir() / "snap.jsonl"))


async def at_instruction(pilot) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunScreen) and pilot.app.screen.pending_ack is not None)
    await pilot.pause(0.1)


async def steady(pilot) -> None:
    """The cursor of every text field held visible: a blink that turns it off in the 0.5 s before the
    picture (a loaded machine) is not a change of the screen."""
    from textual.widgets import Input, TextArea

    for field in pilot.app.screen.query("Input, TextArea"):
        if isinstance(field, (Input, TextArea)):
            field.cursor_blink = False
    await pilot.pause(0.1)


async def home_loaded(pilot) -> None:
    await wait_for(pilot, lambda: pilot.app.screen.query_one("#playbooks").row_count > 0)
    await pilot.pause(0.1)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_home(snap_compare, size) -> None:
    app = RunbookApp([ROOT / "playbooks"], discover=False, targets={"master": Target("master", "redis://master.example:6379", "redis")})
    assert snap_compare(app, terminal_size=size, run_before=home_loaded)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_bind_targets(snap_compare, size) -> None:
    app = RunbookApp([ROOT / "playbooks"], discover=False, targets={"master": Target("master", "redis://master.example:6379", "redis")})

    async def run_before(pilot) -> None:
        await home_loaded(pilot)
        table = app.screen.query_one("#playbooks")
        table.focus()
        keys = [k.value for k in table.rows]
        table.move_cursor(row=next(i for i, k in enumerate(keys) if k.endswith("redis-master-restart.yaml")))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BindTargetsScreen))
        await steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_run_step(snap_compare, size) -> None:
    assert snap_compare(replay_app(), terminal_size=size, run_before=at_instruction)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_run_findings(snap_compare, size) -> None:
    async def run_before(pilot) -> None:
        await at_instruction(pilot)
        await pilot.press("f")
        await pilot.pause(0.1)

    assert snap_compare(replay_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_run_timeline(snap_compare, size) -> None:
    async def run_before(pilot) -> None:
        await at_instruction(pilot)
        await pilot.press("l")
        await pilot.pause(0.1)

    assert snap_compare(replay_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_finding_page(snap_compare, size) -> None:
    app = replay_app()

    async def run_before(pilot) -> None:
        await at_instruction(pilot)
        await pilot.press("f")
        app.screen.query_one("#findings-table").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FindingScreen))

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_action_blocked(snap_compare, size, tmp_path) -> None:
    app = action_app(tmp_path)

    async def run_before(pilot) -> None:
        await at_instruction(pilot)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmActionScreen))
        await steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_action_confirm(snap_compare, size, tmp_path) -> None:
    """A safe action's confirmation: the command, every guard, the field for the target's name, Run and Cancel."""
    app = action_app(tmp_path, "safe")

    async def run_before(pilot) -> None:
        await at_instruction(pilot)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmActionScreen))
        await steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_break_glass(snap_compare, size, tmp_path) -> None:
    app = action_app(tmp_path)

    async def run_before(pilot) -> None:
        await at_instruction(pilot)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmActionScreen))
        await pilot.click("#break-glass")
        await wait_for(pilot, lambda: isinstance(app.screen, BreakGlassScreen))
        # its first Changed events settle the "waiting for" line
        await wait_for(pilot, lambda: str(app.screen.query_one("#waiting").render()) == str(app.screen._waiting()),
                       what="the waiting-for line")
        await steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_gc_report(snap_compare, size) -> None:
    log = ROOT / "tests" / "data" / "parallel-jdk17.log"  # made by our own JVM workload (tests/data/README.md)
    app = RunbookApp([], gc_files=[str(log)])

    async def run_before(pilot) -> None:
        await wait_for(pilot, lambda: pilot.app.screen.result is not None)
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_run_targets(snap_compare, size) -> None:
    async def run_before(pilot) -> None:
        await at_instruction(pilot)
        await pilot.press("t")
        await pilot.pause(0.1)

    assert snap_compare(replay_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_leave_asked(snap_compare, size) -> None:
    from runbook.tui.modals import AskScreen

    app = replay_app()

    async def run_before(pilot) -> None:
        await at_instruction(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, AskScreen))
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
