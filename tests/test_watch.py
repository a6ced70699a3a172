"""`runbook watch` with Pilot, following a real session driven in another thread (an answers file at its
keyboard) or on a run screen of its own; and the driver's screen while a break-glass waits for its approval."""

from __future__ import annotations

import subprocess
import sys
import time

from textual.widgets import Button, Input, Static, TextArea

from runbook.engine.approval import ApprovalPolicy
from runbook.journal import beside, store
from runbook.tui.modals import BreakGlassScreen, ConfirmActionScreen, WaitingApprovalScreen
from runbook.tui.run import RunScreen
from runbook.tui.watch import WatchApp, _at
from test_approval import REASON, Driven, blocked_files
from tui_helpers import action_playbook, journal_events, run_app, wait_for


async def press(pilot, sel: str) -> None:
    """Press a button once it is there and enabled (a click at a loaded moment may land before its layout)."""
    app = pilot.app
    await wait_for(pilot, lambda: not app.screen.query_one(sel, Button).disabled, timeout=30, what=f"{sel} enabled")
    app.screen.query_one(sel, Button).press()
    await pilot.pause()


def text(app, sel: str) -> str:
    return str(app.query_one(sel, Static).render())


class Seen(WatchApp):
    """The watch app, noting when it first showed each step (wall clock)."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.shown: dict[str, float] = {}

    def apply(self, ev) -> None:
        super().apply(ev)
        if ev.kind == "step_entered":
            self.shown.setdefault(ev.step, time.time() - _at(ev.ts))


async def test_the_watcher_sees_each_step_within_a_second(tmp_path) -> None:
    d = Driven(tmp_path, ApprovalPolicy(), answers={"look": "ack", "act": {"confirm": "host"}}, start=False)
    d.flag.write_text("safe")
    app = Seen(d.path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.query_one("#status"), what="the watcher up")
        await pilot.pause(0.5)
        d.thread.start()  # the driver starts while the watcher follows its journal
        await wait_for(pilot, lambda: app.ended is not None, timeout=30, what="the session's end")
        await pilot.pause(0.3)
        assert "ENDED completed" in text(app, "#status")
        steps = text(app, "#steps")
        assert "✓ Read the flag" in steps and "✓ Look at it" in steps and "✓ Touch the marker" in steps
        assert "read-only view" in text(app, "#status") and "driver dana" in text(app, "#status")
        facts = app.query_one("#facts-table")
        assert facts.row_count >= 1 and "s ago" in str(facts.get_row_at(0)[3])
    assert d.done() == "completed"
    assert set(app.shown) == {"read", "look", "act"}
    assert max(app.shown.values()) < 1.0, app.shown  # from the journal's write to the watcher's screen
    viewers = beside.read(beside.beside(d.path, beside.VIEWERS))
    assert [v["event"] for v in viewers] == ["watching", "left"] and viewers[0]["via"] == "watch"


async def approve_in(app, pilot, approver: str, typed: str) -> None:
    app.query_one("#approver", Input).value = approver
    app.query_one("#typed", Input).value = typed
    await pilot.pause()


async def test_an_approval_given_in_the_watch_view_lets_the_break_glass_run(tmp_path) -> None:
    d = Driven(tmp_path, ApprovalPolicy(required=True, timeout_s=30))
    app = WatchApp(d.path, viewer_from="test terminal")
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.open_request() is not None, timeout=30, what="the request")
        await pilot.pause(0.3)
        req = text(app, "#request")
        assert "BREAK-GLASS WAITS FOR A SECOND PERSON" in req and REASON in req and "dana wants to run host.command" in req
        assert "the flag file must say safe" in req and "file_content" in req  # the blocking guard and its evidence
        approve = app.query_one("#approve", Button)
        await approve_in(app, pilot, "dana", "host")
        assert approve.disabled  # the driver cannot approve their own break-glass
        await approve_in(app, pilot, "ingrid", "hos")
        assert approve.disabled
        await approve_in(app, pilot, "ingrid", "host")
        assert not approve.disabled
        await press(pilot, "#approve")
        await wait_for(pilot, lambda: app.ended is not None, timeout=30, what="the session's end")
        assert "ENDED completed" in text(app, "#status")
    assert d.done() == "completed" and d.marker.exists()
    ap = next(e for e in d.events() if e.kind == "approval")
    assert ap.data["approver"] == "ingrid" and ap.data["from"] == "test terminal"


async def test_a_denial_given_in_the_watch_view_runs_nothing(tmp_path) -> None:
    d = Driven(tmp_path, ApprovalPolicy(required=True, timeout_s=30))
    app = WatchApp(d.path)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.open_request() is not None, timeout=30, what="the request")
        await approve_in(app, pilot, "ingrid", "")
        await press(pilot, "#deny")
        await wait_for(pilot, lambda: app.ended is not None, timeout=30, what="the session's end")
        assert "ENDED blocked" in text(app, "#status") and "denied" in text(app, "#now-info")
    assert d.done() == "blocked" and not d.marker.exists()


async def test_an_approval_for_evidence_that_changed_is_void(tmp_path) -> None:
    d = Driven(tmp_path, ApprovalPolicy(required=True, timeout_s=30))
    app = WatchApp(d.path)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.open_request() is not None, timeout=30, what="the request")
        first = app.open_request()
        d.flag.write_text("unsafe: another reading")
        await approve_in(app, pilot, "ingrid", "host")
        await press(pilot, "#approve")
        await wait_for(pilot, lambda: "VOID" in text(app, "#now-info"), timeout=30, what="the approval void")
        # the driver broke the glass again (its answers file did): a new request, for the new evidence
        await wait_for(pilot, lambda: app.open_request() is not None and app.open_request() is not first,
                       timeout=30, what="the driver's new request")
        assert app.open_request().data["digest"] != first.data["digest"]
        assert "another reading" in text(app, "#request")
        await approve_in(app, pilot, "ingrid", "")
        await press(pilot, "#deny")
        await wait_for(pilot, lambda: app.ended is not None, timeout=30, what="the session's end")
    assert d.done() == "blocked" and not d.marker.exists()
    assert "action_intent" not in d.kinds()


async def test_the_watcher_says_when_the_driver_is_gone(tmp_path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    path = store.sessions_dir() / f"{store.new_session_id()}.jsonl"
    j = store.Journal(path)
    from runbook.events import Event
    import socket

    j.append(Event("session_started", {"playbook_name": "x", "mode": "live", "driver": "dana", "pid": gone.pid,
                                       "host": socket.gethostname(), "targets": []}))
    j.append(Event("step_entered", {"kind": "check", "title": "Read"}, step="read"))
    j.close()
    app = WatchApp(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: "INTERRUPTED" in text(app, "#status"), what="interrupted")


async def drive_to_break_glass(pilot, see_wait: bool = True) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.pending_ack is not None)
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmActionScreen))
    await press(pilot, "#break-glass")
    await wait_for(pilot, lambda: isinstance(app.screen, BreakGlassScreen))
    app.screen.query_one("#reason", TextArea).text = REASON
    app.screen.query_one("#typed", Input).value = "host"
    await pilot.pause()
    await press(pilot, "#go")
    if see_wait:
        # the screen, and its contents: pushed is not yet composed on a loaded machine
        await wait_for(pilot, lambda: isinstance(app.screen, WaitingApprovalScreen) and bool(app.screen.query("#stop-waiting")),
                       timeout=30, what="the wait for an approval")


async def test_the_driver_can_stop_waiting_and_nothing_runs(tmp_path) -> None:
    flag, marker = blocked_files(tmp_path)
    app = run_app(action_playbook(tmp_path, flag, marker))
    app.start_run["approval"] = ApprovalPolicy(required=True, timeout_s=60)
    async with app.run_test(size=(100, 30)) as pilot:
        await drive_to_break_glass(pilot)
        assert "runbook watch" in text(app.screen, "#waiting-how")
        await press(pilot, "#stop-waiting")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.pending_retry is not None,
                       what="the step waits, Try again offered")
    refused = [e for e in journal_events() if e.kind == "approval_refused"]
    assert refused and refused[0].data["outcome"] == "cancelled" and not marker.exists()
    assert "action_intent" not in [e.kind for e in journal_events()]


async def test_the_driver_waits_no_longer_than_the_timeout(tmp_path) -> None:
    flag, marker = blocked_files(tmp_path)
    app = run_app(action_playbook(tmp_path, flag, marker))
    app.start_run["approval"] = ApprovalPolicy(required=True, timeout_s=2)
    async with app.run_test(size=(100, 30)) as pilot:
        await drive_to_break_glass(pilot, see_wait=False)  # (on a loaded machine it may be over before it is seen)
        await wait_for(pilot, lambda: "approval_requested" in [e.kind for e in journal_events()], timeout=30)
        await wait_for(pilot, lambda: "session_ended" in [e.kind for e in journal_events()], timeout=30, what="the end")
        await wait_for(pilot, lambda: not isinstance(app.screen, WaitingApprovalScreen), what="the wait closed")
        assert "not approved" in text(app.screen, "#step-info")
    assert not marker.exists()
    assert [e.data["outcome"] for e in journal_events() if e.kind == "approval_refused"] == ["timeout"]


async def test_the_watch_view_masks_secrets_and_never_reads_markup(tmp_path) -> None:
    from runbook.events import Event

    path = store.sessions_dir() / f"{store.new_session_id()}.jsonl"
    j = store.Journal(path, secrets={"hunter2-pw"})
    j.append(Event("session_started", {"playbook_name": "x", "mode": "live", "driver": "dana", "pid": 0, "host": "",
                                       "targets": [{"name": "m", "kind": "redis",
                                                    "url": "redis://:hunter2-pw@10.0.0.1:6379"}]}))
    j.append(Event("step_entered", {"kind": "check", "title": "Read [bold red]m[/] hunter2-pw"}, step="read"))
    j.append(Event("facts", {"probe": "redis.info", "target": "m", "facts": {"requirepass": "hunter2-pw"}}, step="read"))
    j.append(Event("note", {"text": "masterauth hunter2-pw [link=http://x]click[/link]"}, step="read"))
    j.close()
    app = WatchApp(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: "Read [bold red]m[/]" in text(app, "#steps"), what="the step, as text")
        shown = [text(app, "#steps"), text(app, "#now-info"), text(app, "#status")]
        await pilot.press("l")
        await wait_for(pilot, lambda: len(app.query_one("#timeline-log").lines) >= 4, what="the timeline")
        shown += [line.text for line in app.query_one("#timeline-log").lines]
        shown.append(app.export_screenshot())
        assert not any("hunter2-pw" in s for s in shown)
        assert any("[link=http://x]click[/link]" in line for line in shown)


def test_watch_and_serve_of_an_unknown_session_say_so_in_one_line() -> None:
    from conftest import runbook

    for cmd in (["watch", "nope"], ["serve", "nope"]):
        r = runbook(*cmd)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no session 'nope'" in r.stderr, r.stderr
