"""The TUI's main flows, driven with Pilot against the real engine."""

from __future__ import annotations

import os
import random

import pytest
from textual.widgets import Button, Input, RichLog, Static, TextArea

from runbook.tui.modals import AskScreen, BreakGlassScreen, ConfirmActionScreen
from runbook.tui.run import RunScreen
from tui_helpers import action_playbook, journal_events, press_in_bursts, press_to_quit, run_app, wait_for


@pytest.fixture
def files(tmp_path):
    flag = tmp_path / "flag"
    flag.write_text("safe")
    return flag, tmp_path / "marker"


def kinds() -> list[str]:
    return [e.kind for e in journal_events()]


async def to_action(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.pending_ack is not None)
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmActionScreen))


async def test_typed_confirmation_runs_the_action(tmp_path, files) -> None:
    flag, marker = files
    app = run_app(action_playbook(tmp_path, flag, marker))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_action(pilot)
        assert app.screen.query_one("#run", Button).disabled
        await pilot.press("enter", "y", "space", "enter")  # none of these can start it
        assert isinstance(app.screen, ConfirmActionScreen) and not marker.exists()
        app.screen.query_one("#typed", Input).value = ""
        await pilot.press(*"host")
        assert not app.screen.query_one("#run", Button).disabled
        await pilot.press("enter")
        await wait_for(pilot, lambda: "session_ended" in kinds())
    assert marker.exists()
    k = kinds()
    assert k.index("confirmation") < k.index("action_intent") < k.index("action_result")


async def test_a_blocking_guard_offers_no_run_button(tmp_path, files) -> None:
    flag, marker = files
    flag.write_text("unsafe")
    app = run_app(action_playbook(tmp_path, flag, marker))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_action(pilot)
        assert not app.screen.query("#run") and not app.screen.query("#typed")
        assert "BLOCKED" in str(app.screen.query_one("#blocked", Static).render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.pending_retry is not None)
        assert "session_ended" not in kinds()
        await pilot.press("escape")  # leaving is asked
        await wait_for(pilot, lambda: isinstance(app.screen, AskScreen))
        await pilot.click("#yes")
        await wait_for(pilot, lambda: any(e.kind == "note" and "interrupted" in e.data["text"] for e in journal_events()))
    assert not marker.exists()
    assert "session_ended" not in kinds()  # left: interrupted, resumable
    assert app.exit_status == 1


@pytest.mark.parametrize("how", ["leave", "ctrl+q"])
async def test_leaving_is_an_interruption_and_the_resume_shows_everything(tmp_path, files, how) -> None:
    from runbook.journal import store

    flag, marker = files
    pb = action_playbook(tmp_path, flag, marker)
    app = run_app(pb)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.pending_ack is not None)
        if how == "leave":
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, AskScreen))
            await pilot.click("#yes")
        else:
            await press_to_quit(pilot)
        await wait_for(pilot, lambda: any(e.kind == "note" and "interrupted" in e.data["text"] for e in journal_events()))
        await wait_for(pilot, lambda: getattr(app, "exit_status", None) is not None)
    assert app.exit_status == 1 and "session_ended" not in kinds()
    journal = sorted(store.sessions_dir().glob("*.jsonl"))[-1]
    before = [e.kind for e in journal_events()]
    again = run_app(pb, resume=journal)
    async with again.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(again.screen, RunScreen) and again.screen.pending_ack is not None)
        run = again.screen
        assert run.states["read"] == "done" and run.states["look"] == "current"
        assert any("[read] check" in line for line in run.timeline), run.timeline  # from the start
        assert any("session_resumed" == e.kind for e in journal_events())
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(again.screen, ConfirmActionScreen))
        await pilot.press(*"host", "enter")
        await wait_for(pilot, lambda: "session_ended" in kinds() and getattr(again, "exit_status", None) is not None)
    after = kinds()
    assert after[:len(before)] == before and after.count("session_started") == 1
    assert after.index("session_resumed") < after.index("guard")  # the guards read fresh after the resume
    assert marker.exists() and journal_events()[-1].data["outcome"] == "completed" and again.exit_status == 0


async def test_cancel_keeps_the_session_then_try_again_after_a_fix(tmp_path, files) -> None:
    flag, marker = files
    flag.write_text("unsafe")
    app = run_app(action_playbook(tmp_path, flag, marker))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_action(pilot)
        await pilot.click("#cancel")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.pending_retry is not None)
        assert "session_ended" not in kinds() and "Cancelled" in str(app.screen.query_one("#step-info").render())
        flag.write_text("safe")  # the engineer fixes what the guard said
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmActionScreen))
        assert not app.screen.request.blocked  # read fresh
        await pilot.press(*"host", "enter")
        await wait_for(pilot, lambda: "session_ended" in kinds())
    assert marker.exists() and journal_events()[-1].data["outcome"] == "completed"


async def test_leaving_a_running_session_is_asked_and_stay_keeps_it(tmp_path, files) -> None:
    flag, marker = files
    app = run_app(action_playbook(tmp_path, flag, marker))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.pending_ack is not None)
        run = app.screen
        await pilot.press("escape")
        # the safe answer has the focus (once the screen is composed: on a loaded machine, a moment after it is pushed)
        await wait_for(pilot, lambda: isinstance(app.screen, AskScreen) and app.screen.query_one("#no", Button).has_focus,
                       what="the question, with the focus on No")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is run)
        assert "session_ended" not in kinds()
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmActionScreen))


async def test_evidence_that_changed_voids_the_confirmation(tmp_path, files) -> None:
    flag, marker = files
    guards = """
      - probe: host.file
        expr: facts.host.file_size_bytes < 100
        message: small flag"""
    app = run_app(action_playbook(tmp_path, flag, marker, guards))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_action(pilot)
        first = app.screen
        flag.write_text("safe, and longer now")  # the world changes while the engineer types
        await pilot.press(*"host", "enter")
        # the engine read the guard again, saw other evidence, voided the confirmation and asks again
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmActionScreen) and app.screen is not first)
        assert "confirmation_void" in kinds() and not marker.exists()
        await pilot.press(*"host", "enter")
        await wait_for(pilot, lambda: "session_ended" in kinds())
    assert marker.exists()


async def test_break_glass_records_its_reason(tmp_path, files) -> None:
    flag, marker = files
    flag.write_text("unsafe")
    app = run_app(action_playbook(tmp_path, flag, marker))
    async with app.run_test(size=(100, 30)) as pilot:
        await to_action(pilot)
        await pilot.click("#break-glass")
        await wait_for(pilot, lambda: isinstance(app.screen, BreakGlassScreen))
        go = app.screen.query_one("#go", Button)
        waiting = lambda: str(app.screen.query_one("#waiting", Static).render())  # noqa: E731
        assert "a reason of at least 10 characters (0 so far)" in waiting() and "host typed" in waiting()
        app.screen.query_one("#typed", Input).value = "host"
        await pilot.pause()
        assert go.disabled  # no reason yet
        assert "host typed" not in waiting()
        app.screen.query_one("#reason", TextArea).text = "flag is stale; lead approved in #inc-42"
        await pilot.pause()
        assert not go.disabled
        await pilot.click("#go")
        await wait_for(pilot, lambda: "session_ended" in kinds())
        await pilot.press("l")
        await pilot.pause()
        log = app.screen.query_one("#timeline-log", RichLog)
        assert any("BREAK-GLASS" in line.text for line in log.lines)
    assert marker.exists()
    bg = [e for e in journal_events() if e.kind == "break_glass"][0]
    assert bg.data["reason"] == "flag is stale; lead approved in #inc-42"


async def test_read_only_refuses(tmp_path, files) -> None:
    flag, marker = files
    app = run_app(action_playbook(tmp_path, flag, marker), read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.pending_ack is not None)
        assert "READ-ONLY" in app.screen.sub_title
        await pilot.press("a")
        await wait_for(pilot, lambda: "session_ended" in kinds())
        assert not isinstance(app.screen, ConfirmActionScreen)
    assert not marker.exists() and "read-only" in journal_events()[-2].data["reason"]


async def test_random_keys_on_the_action_screen_run_nothing(tmp_path, files) -> None:
    flag, marker = files
    app = run_app(action_playbook(tmp_path, flag, marker))
    # escape is left out: it cancels, which is safe, but would end the test's time on the action screen
    keys = [*"abcdefghijklmnopqrstuvwxyz0123456789", "enter", "space", "tab", "up", "down", "left",
            "right", "backspace", "y", "Y", "ctrl+a", "shift+tab", "home", "end", "pageup", "pagedown", "f1"]
    rng = random.Random(20260126)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_action(pilot)
        # 240 keys; Tab then Enter may reach Cancel, which is a safe way out
        await press_in_bursts(pilot, [rng.choice(keys) for _ in range(240)])
        await pilot.pause(0.2)
    assert not marker.exists()
    assert "action_intent" not in kinds()


async def test_markup_from_live_systems_is_shown_literally(tmp_path, files) -> None:
    flag, marker = files
    flag.write_text("[bold red]x[/]")
    app = run_app(action_playbook(tmp_path, flag, marker))
    async with app.run_test(size=(120, 40)) as pilot:
        await to_action(pilot)
        from rich.console import Console

        def shown() -> str:
            console = Console(width=200, record=True, file=open("/dev/null", "w"))
            for w in app.screen.query(Static):
                console.print(w.content)
            return console.export_text()

        # the guard's evidence is shown once its fresh check is back
        await wait_for(pilot, lambda: "facts.host.file_content:" in shown(), what="the guard's evidence on the screen")
        assert "facts.host.file_content: [bold red]x[/]" in shown()
        await pilot.press("escape")  # back to the step: the session waits there
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.pending_retry is not None)
        await pilot.press("l")
        log = app.screen.query_one("#timeline-log", RichLog)
        assert any("[bold red]x[/]" in line.text for line in log.lines)


async def test_keys_can_be_rebound_by_binding_id(tmp_path, files, monkeypatch) -> None:
    flag, marker = files
    keymap = tmp_path / "keymap.yaml"
    keymap.write_text("step-done: z\n")
    monkeypatch.setenv("RUNBOOK_KEYMAP", str(keymap))
    app = run_app(action_playbook(tmp_path, flag, marker))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.pending_ack is not None)
        await pilot.press("a")  # no longer bound
        await pilot.pause(0.2)
        assert app.screen.pending_ack is not None
        await pilot.press("z")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmActionScreen))
        await pilot.press("escape")
    assert not marker.exists()


async def test_a_suggested_url_shows_its_password_masked_and_still_works(tmp_path) -> None:
    from textual.widgets import Input

    from runbook.targets import Target
    from runbook.tui.app import RunbookApp
    from runbook.tui.modals import BindTargetsScreen
    from tui_helpers import ROOT

    secret = "Hunter2-secret"
    app = RunbookApp([ROOT / "playbooks"], discover=False,
                     targets={"master": Target("master", f"redis://:{secret}@127.0.0.1:6399", "redis")})
    results = []
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#playbooks").row_count > 0)
        app.push_screen(BindTargetsScreen([("master", "redis")], {"master": f"redis://:{secret}@127.0.0.1:6399"}),
                        results.append)
        await pilot.pause(0.1)
        shown = app.screen.query_one("#role-master", Input).value
        assert secret not in shown and "*****" in shown
        await pilot.click("#start")
        await pilot.pause(0.1)
    assert results[0]["master"].url == f"redis://:{secret}@127.0.0.1:6399"


@pytest.mark.parametrize("name, lessons", [("twilio", ["storm", "aof-trap"]), ("aof-trap", ["aof-trap"]),
                                           ("healthy", [])])
async def test_the_flagship_playbook_shows_every_lesson_that_applies(name, lessons) -> None:
    """Walked in the TUI on facts recorded from real servers: the storm does not hide the lesson that a
    restart would start empty, and a healthy master gets neither."""
    from runbook import scenario
    from runbook.engine.facts import RecordedFacts
    from runbook.journal import store
    from runbook.playbook import loader
    from runbook.tui.app import RunbookApp, fixed_clock
    from tui_helpers import ROOT

    pb, _ = loader.load(ROOT / "playbooks" / "redis-master-restart.yaml")
    data = scenario.load(ROOT / "playbooks" / "scenarios" / "redis-master-restart" / f"{name}.yaml")
    app = RunbookApp([ROOT / "playbooks"], clock=fixed_clock(), discover=False, live_panels=False,
                     start_run=dict(playbook=pb, targets=scenario.targets_of(data), mode="replay",
                                    journal_path=store.sessions_dir() / f"{name}.jsonl",
                                    facts=RecordedFacts(data["facts"])))
    shown: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(10):
            await wait_for(pilot, lambda: "session_ended" in kinds() or (
                isinstance(app.screen, RunScreen) and app.screen.pending_ack is not None))
            if "session_ended" in kinds():
                break
            shown.append(next(sid for sid, st in app.screen.states.items() if st == "current"))
            await pilot.press("a")
            await pilot.pause(0.05)
    assert [s for s in shown if s in ("storm", "aof-trap")] == lessons
    assert shown[-1] == "preview"


async def test_each_screen_opens_with_its_list_focused_and_f1_toggles_the_keys(tmp_path, files) -> None:
    from textual.widgets import DataTable, HelpPanel

    from runbook.tui.app import RunbookApp
    from tui_helpers import ROOT

    app = RunbookApp([ROOT / "playbooks"], discover=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#playbooks").row_count > 0)
        assert app.focused is app.screen.query_one("#playbooks", DataTable)
        before = app.screen.query_one("#playbooks", DataTable).cursor_row
        await pilot.press("down")  # arrows work without a Tab first
        assert app.screen.query_one("#playbooks", DataTable).cursor_row == before + 1
        await pilot.press("f1")
        await pilot.pause()
        assert app.screen.query(HelpPanel)
        await pilot.press("f1")
        await pilot.pause()
        assert not app.screen.query(HelpPanel)

    flag, marker = files
    run = run_app(action_playbook(tmp_path, flag, marker))
    async with run.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(run.screen, RunScreen) and run.screen.pending_ack is not None)
        await pilot.press("f")
        await pilot.pause()
        assert run.focused is run.screen.query_one("#findings-table", DataTable)

    gc = RunbookApp([], gc_files=[str(ROOT / "tests" / "data" / "parallel-jdk17.log")])
    async with gc.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: gc.screen.result is not None)
        await pilot.pause()
        assert gc.focused is gc.screen.query_one("#gc-findings", DataTable)
        await pilot.press("enter")  # Enter opens the first finding at once
        from runbook.tui.modals import FindingScreen

        await wait_for(pilot, lambda: isinstance(gc.screen, FindingScreen))


async def test_the_footer_keeps_quit_and_keys_at_80_columns(tmp_path, files) -> None:
    flag, marker = files
    app = run_app(action_playbook(tmp_path, flag, marker))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.pending_ack is not None)
        keys = ("Done", "Findings", "Leave", "Quit", "Keys")
        # the footer is redrawn after the step's bindings change: wait for that, then check every key
        await wait_for(pilot, lambda: all(k in app.export_screenshot() for k in keys), what="the footer with its keys")
        text = app.export_screenshot()
        for key in keys:
            assert key in text, key


async def test_the_gc_report_shows_the_live_set_kinds_and_when(tmp_path) -> None:
    from textual.widgets import DataTable, Sparkline

    from runbook.tui.app import RunbookApp
    from tui_helpers import ROOT

    app = RunbookApp([], gc_files=[str(ROOT / "tests" / "data" / "parallel-jdk17.log")])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.result is not None)
        await pilot.pause()
        heap = app.screen.query_one("#gc-heap", Sparkline).data
        assert len(heap) > 10 and max(heap) > 0
        assert "maximum heap" in str(app.screen.query_one("#gc-heap-axis", Static).render())
        from rich.console import Console

        console = Console(width=120, record=True, file=open(os.devnull, "w"))
        console.print(app.screen.query_one("#gc-kinds", Static).content)
        kinds = console.export_text()
        assert "Full" in kinds and "Young" in kinds and "stalls" in kinds
        table = app.screen.query_one("#gc-findings", DataTable)
        whens = [str(table.get_cell_at((i, 2))) for i in range(table.row_count)]
        assert any(w for w in whens)


async def test_the_bind_screen_takes_inputs_and_list_members(tmp_path) -> None:
    from runbook.playbook.model import Input as PlaybookInput
    from runbook.tui.app import RunbookApp
    from runbook.tui.modals import BindTargetsScreen
    from tui_helpers import ROOT

    app = RunbookApp([ROOT / "playbooks"], discover=False)
    results = []
    inputs = [PlaybookInput("low_pct", "int", 10, "threshold"), PlaybookInput("name", "str", None, "required one")]
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#playbooks").row_count > 0)
        app.push_screen(BindTargetsScreen([("replicas", "redis")], {}, inputs, {"replicas"}), results.append)
        await pilot.pause(0.1)
        app.screen.query_one("#role-replicas", Input).value = "redis://127.0.0.1:7001, redis://127.0.0.1:7002"
        assert app.screen.query_one("#param-low_pct", Input).value == "10"
        def error() -> str:
            return str(app.screen.query_one("#bind-error", Static).render())

        app.screen.query_one("#start", Button).press()
        await wait_for(pilot, lambda: "name is required" in error())
        app.screen.query_one("#param-low_pct", Input).value = "ten"
        app.screen.query_one("#param-name", Input).value = "x"
        await pilot.pause(0.05)
        app.screen.query_one("#start", Button).press()
        await wait_for(pilot, lambda: "expected a whole number" in error())
        app.screen.query_one("#param-low_pct", Input).value = "25"
        app.screen.query_one("#start", Button).press()
        await pilot.pause(0.1)
    got = results[0]
    assert got["__params__"] == {"low_pct": 25, "name": "x"}
    assert got["replicas-1"].url == "redis://127.0.0.1:7001" and got["replicas-2"].url == "redis://127.0.0.1:7002"


async def test_an_action_shows_its_phases_and_why_it_failed_on_its_own_screen(tmp_path, files) -> None:
    flag, marker = files
    pb = action_playbook(tmp_path, flag, marker)
    act = pb.by_id["act"]
    act.params["command"] = ["sh", "-c", "echo the disk said no >&2; exit 7"]
    app = run_app(pb)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_action(pilot)
        await pilot.press(*"host", "enter")
        await wait_for(pilot, lambda: "session_ended" in kinds())
        await pilot.pause(0.2)
        info = str(app.screen.query_one("#step-info", Static).render())
    assert "Session failed" in info and "act:" in info and ("exit" in info or "7" in info), info


async def test_keys_typed_while_the_guards_are_read_never_act_on_the_screen_behind(tmp_path, files) -> None:
    """Between entering an action and its confirmation (the guards read fresh), what the engineer types is
    meant for the confirmation: no shortcut of the run screen fires (a tab switch, a copy, a retry)."""
    from runbook.events import Event

    flag, marker = files
    app = run_app(action_playbook(tmp_path, flag, marker))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.pending_ack is not None)
        run = app.screen
        tabs = run.query_one("#tabs")
        # the moment the action step is entered, before its confirmation opens
        run.on_session_event(Event("step_entered", {"kind": "action", "title": "Touch the marker"}, step="act"))
        await pilot.pause()
        for key in ("s", "t", "c", "r", "f", "l"):
            await pilot.press(key)
        assert tabs.active == "step" and isinstance(app.screen, RunScreen)
        run.on_session_event(Event("blocked", {"reason": "test"}, step="act"))
        await pilot.pause()
        await pilot.press("l")
        assert tabs.active == "timeline"  # once the wait is over, the keys work again


async def test_the_confirmation_at_80x24_keeps_its_run_button_small_and_shows_every_guard(tmp_path, files) -> None:
    flag, marker = files
    two = """
      - probe: host.file
        expr: facts.host.file_content == 'safe'
        message: the flag file must say safe
      - probe: host.file
        expr: facts.host.file_exists
        message: the flag file must be there"""
    app = run_app(action_playbook(tmp_path, flag, marker, guards=two))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_action(pilot)
        await pilot.pause(0.2)
        run = app.screen.query_one("#run", Button)
        guards = app.screen.query_one("#guards")
        assert run.size.height <= 3, run.size  # it was drawn ten rows tall (a rule meant for the run screen)
        shown = guards.query_one(Static).size.height  # each guard: its verdict line and its evidence lines
        assert len(app.screen.request.guards) == 2 and guards.size.height >= min(shown, 4), (guards.size, shown)


async def test_the_timeline_wraps_within_80_columns(tmp_path, files) -> None:
    flag, marker = files
    pb = action_playbook(tmp_path, flag, marker)
    long_url = "redis://127.0.0.1:65432/0?" + "x" * 40  # nothing of a line is lost past the edge
    from runbook.targets import Target

    app = run_app(pb, {"host": Target("host", "local", "host")})
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.pending_ack is not None)
        await pilot.press("l")
        await pilot.pause(0.2)
        log = app.screen.query_one("#timeline-log", RichLog)
        log.write(long_url)
        await pilot.pause(0.2)
        assert max(len(strip.text) for strip in log.lines) <= log.size.width, (log.size, [s.text for s in log.lines][-3:])


async def test_a_key_that_comes_back_after_the_last_screen_closed_is_dropped() -> None:
    """A key typed as the app closes can bubble back up from a widget once no screen is left (seen with random
    keys under load): Textual would fail looking for its bindings, and the exit end in a traceback."""
    from textual import events
    from textual.app import App

    from runbook.tui.app import RunbookApp
    from tui_helpers import ROOT

    def bubbled() -> events.Key:
        key = events.Key("a", "a")
        key._set_forwarded()
        return key

    bare = App()
    assert not bare.screen_stack
    with pytest.raises(Exception, match="No screens on stack"):  # what Textual itself does: the case is real
        await bare.on_event(bubbled())
    from runbook.tui.watch import WatchApp

    for app in (RunbookApp([ROOT / "playbooks"], discover=False), WatchApp(ROOT / "no-such-session.jsonl", record_viewer=False)):
        assert not app.screen_stack
        await app.on_event(bubbled())
