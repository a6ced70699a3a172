"""`runbook watch SESSION`: a read-only view of a session that another person drives, followed live from its
journal. It reads the journal file as it grows and nothing else of the session; it has no probe, no action and
no engine to call (this module imports neither), so there is nothing it could run. The one thing a watcher
writes is an answer to a break-glass waiting for a second person's approval, appended to the approvals file
beside the journal, which the driver's session reads and judges (engine/approval.py)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Footer, Header, Input, RichLog, Static, TabbedContent, TabPane

from runbook.engine import approval as approvals
from runbook.events import Event
from runbook.journal import beside
from runbook.transcript import render
from runbook.tui.base import BaseApp

STATE_ICON = {"current": "▶", "done": "✓", "blocked": "✗"}
SEV_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
POLL_S = 0.2


def _at(ts: str) -> float:
    try:
        return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return 0.0


def age(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 90:
        return f"{s} s ago"
    if s < 5400:
        return f"{s // 60} min ago"
    return f"{s // 3600} h {s % 3600 // 60} min ago"


class Follower:
    """The journal as it grows: the whole lines appended since the last read (a line still being written waits)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.rest = b""

    def new_events(self) -> list[Event]:
        import json

        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except OSError:
            return []
        self.offset += len(chunk)
        data = self.rest + chunk
        lines = data.split(b"\n")
        self.rest = lines.pop()  # "" after a whole line
        out = []
        for raw in lines:
            if not raw.strip():
                continue
            try:
                out.append(Event.from_dict(json.loads(raw)))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut by a crash
        return out


def driver_alive(pid: Any, host: Any, since: str) -> bool | None:
    """Whether the driver's runbook still runs: None when it runs on another host (cannot tell from here)."""
    if not pid or host != socket.gethostname():
        return None
    import psutil

    try:
        p = psutil.Process(int(pid))
        return p.status() != psutil.STATUS_ZOMBIE and p.create_time() <= _at(since) + 2
    except (psutil.Error, ValueError):
        return False


class WatchApp(BaseApp):
    """The watcher's screen: status line, the steps seen so far, and tabs for now, facts, findings, timeline."""

    TITLE = "runbook watch"
    CSS = """
    #status { height: auto; background: $boost; padding: 0 1; }
    #watch { height: 1fr; }
    #steps { width: 28; border-right: solid $panel; padding: 0 1; }
    #approval { height: auto; border: thick $error; padding: 0 1; margin-top: 1; }
    #approval.hidden { display: none; }
    #approval Input { margin-top: 1; }
    .buttons { height: auto; margin-top: 1; }
    .buttons Button { margin-right: 2; }
    """
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding("n", "tab('now')", "Now", id="watch-now"),
        Binding("f", "tab('facts')", "Facts", id="watch-facts"),
        Binding("i", "tab('findings')", "Findings", id="watch-findings"),
        Binding("l", "tab('timeline')", "Timeline", id="watch-timeline"),
    ]

    def __init__(self, journal: Path, viewer_from: str = "", record_viewer: bool = True) -> None:
        super().__init__()
        self.journal = journal
        self.session = journal.stem
        self.viewer_from = viewer_from or beside.where_from()
        self.record_viewer = record_viewer
        self.follower = Follower(journal)
        self.events: list[Event] = []
        self.started: Event | None = None
        self.ended: Event | None = None
        self.left_screen = False  # the driver left: interrupted, resumable
        self.steps: dict[str, str] = {}  # step id -> state, in the order they were entered
        self.titles: dict[str, str] = {}
        self.current = ""
        self.facts: dict[str, dict[str, Any]] = {}  # "target/probe" -> {"at", "step", "error"}
        self.findings: dict[str, list[dict[str, Any]]] = {}
        self.guards: list[dict[str, Any]] = []  # the last guards read, with their evidence
        self.request: Event | None = None  # a break-glass waiting for a second person
        self.answered: dict[int, str] = {}  # request seq -> what became of it
        self.alive: bool | None = True
        self.now_lines: list[Text] = []

    # ---------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(Text(f"watching {self.session}…"), id="status")
        with Horizontal(id="watch"):
            yield Static(Text(""), id="steps")
            with TabbedContent(initial="now", id="tabs"):
                with TabPane("Now", id="now"):
                    with VerticalScroll():
                        yield Static(Text("waiting for the session's first event"), id="now-info")
                        with Vertical(id="approval", classes="hidden"):
                            yield Static(Text(""), id="request")
                            yield Input(placeholder="your name (not the driver's)", id="approver")
                            yield Input(placeholder="type the target's name to approve", id="typed")
                            yield Static(Text(""), id="approval-said")
                            with Horizontal(classes="buttons"):
                                yield Button("Approve", id="approve", variant="error", disabled=True)
                                yield Button("Deny", id="deny", variant="primary")
                with TabPane("Facts", id="facts"):
                    yield DataTable(id="facts-table", cursor_type="row")
                with TabPane("Findings", id="findings"):
                    yield DataTable(id="findings-table", cursor_type="row")
                with TabPane("Timeline", id="timeline"):
                    yield RichLog(id="timeline-log", markup=False, highlight=False, wrap=True, min_width=20)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = "runbook watch"
        self.sub_title = f"READ-ONLY {self.session}"
        facts = self.query_one("#facts-table", DataTable)
        for c in ("target", "probe", "read", "age"):
            facts.add_column(c, key=c)
        findings = self.query_one("#findings-table", DataTable)
        for c in ("sev", "finding", "target"):
            findings.add_column(c, key=c)
        if self.record_viewer:
            self._viewer("watching")
        self.poll()
        self.set_interval(POLL_S, self.poll)
        self.set_interval(1.0, self.tick)

    def on_unmount(self) -> None:
        if self.record_viewer:
            self._viewer("left")

    def _viewer(self, what: str) -> None:
        import getpass

        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "?"
        try:
            beside.append(beside.beside(self.journal, beside.VIEWERS),
                          {"event": what, "viewer": user, "from": self.viewer_from, "pid": os.getpid(), "via": "watch"})
        except OSError:
            pass  # a watcher that cannot write beside the journal still watches

    def action_tab(self, name: str) -> None:
        self.query_one("#tabs", TabbedContent).active = name

    # ---------------------------------------------------------------- following the journal
    def poll(self) -> None:
        from textual.css.query import NoMatches

        try:
            self._poll()
        except NoMatches:
            pass  # the app is closing: its widgets are gone before its timers

    def _poll(self) -> None:
        new = self.follower.new_events()
        if not new:
            return
        log = self.query_one("#timeline-log", RichLog)
        for ev in new:
            self.events.append(ev)
            for line in render(ev):
                log.write(Text(f"{ev.ts[11:19]} {line}"))
            self.apply(ev)
        self.show()

    def apply(self, ev: Event) -> None:
        d = ev.data
        own = (ev.step or "").split("/", 1)[0]
        if ev.kind in ("session_started", "session_resumed"):
            if ev.kind == "session_started":
                self.started = ev
            self.pid, self.host, self.since = d.get("pid"), d.get("host"), ev.ts
            self.left_screen = False
            self.alive = driver_alive(self.pid, self.host, self.since)
        elif ev.kind == "step_entered" and own:
            for sid, st in self.steps.items():
                if st == "current" and sid != own:
                    self.steps[sid] = "done"
            self.steps[own] = "current"
            self.titles[own] = str(d.get("title") or own)
            self.current = own
            self.guards = []
            self.now_lines = [Text(f"{str(d.get('kind', '')).upper()}  {d.get('title', '')}", style="bold")]
            if d.get("text"):
                self.now_lines.append(Text(str(d["text"]).strip()))
        elif ev.kind == "facts":
            self.facts[f"{d.get('target')}/{d.get('probe')}"] = {"at": ev.ts, "step": ev.step, "error": d.get("error") or (
                (d.get("facts") or {}).get("error") if isinstance(d.get("facts"), dict) and d["facts"].get("reachable") is False else "")}
        elif ev.kind == "findings":
            self.findings[f"{d.get('target')}/{d.get('probe')}"] = [dict(f, target=d.get("target")) for f in d.get("findings", [])]
            self._refresh_findings()
        elif ev.kind == "guard":
            self.guards.append(d)
        elif ev.kind == "approval_requested":
            self.request = ev
            self.query_one("#approver", Input).value = ""
            self.query_one("#typed", Input).value = ""
            self.query_one("#approval-said", Static).update(Text(""))
            self.query_one("#tabs", TabbedContent).active = "now"
            self._approval_panel()
            self.call_after_refresh(self._focus_name)  # (once the panel is shown: a hidden input takes no focus)
            self.bell()
        elif ev.kind in ("approval", "approval_refused"):
            who = d.get("approver") or ""
            self.answered[int(d.get("request") or 0)] = (f"approved by {who}" if ev.kind == "approval"
                                                         else f"{d.get('outcome', 'refused')}: {d.get('reason', '')}")
            self.now_lines.append(Text(f"Break-glass {self.answered[int(d.get('request') or 0)]}", style="bold"))
        elif ev.kind == "approval_void":
            self.now_lines.append(Text(f"The approval by {d.get('approver')} is VOID: {d.get('reason')}", style="bold red"))
        elif ev.kind in ("blocked", "session_ended") and own:
            self.steps[own] = "blocked"
        elif ev.kind == "note" and "left the screen" in str(d.get("text", "")):
            self.left_screen = True
        if ev.kind in ("action_intent", "action_result", "blocked", "break_glass", "dry_run", "confirmation_void"):
            for line in render(ev):
                self.now_lines.append(Text(line.strip()))
        if ev.kind == "session_ended":
            self.ended = ev
            if d.get("outcome") == "completed":
                for sid, st in self.steps.items():
                    if st == "current":
                        self.steps[sid] = "done"

    # ---------------------------------------------------------------- showing it
    def show(self) -> None:
        self._status()
        steps = Text()
        for sid, st in self.steps.items():
            steps.append(f"{STATE_ICON.get(st, '·')} {self.titles.get(sid, sid)}\n",
                         style={"current": "bold reverse", "done": "green", "blocked": "bold red"}.get(st, ""))
        self.query_one("#steps", Static).update(steps)
        info = Text("\n").join(self.now_lines) if self.now_lines else Text("")
        if self.guards:
            info.append("\n\nGuards, as the driver's session read them\n", style="bold underline")
            for g in self.guards:
                verdict = "PASS" if g.get("passed") else ("UNKNOWN" if g.get("unknown") else "BLOCK")
                info.append(f"{verdict} ", style="green" if g.get("passed") else "bold red")
                info.append(f"{g.get('guard')}" + (f": {g['reason']}" if g.get("reason") else "") + "\n")
                for k, v in (g.get("evidence") or {}).items():
                    info.append(f"    {k} = {v}\n")
        self.query_one("#now-info", Static).update(info)
        self._refresh_facts()
        self._approval_panel()

    def _status(self) -> None:
        st = self.started.data if self.started else {}
        who = f"driver {st.get('driver', '?')} on {st.get('host', '?')} (pid {st.get('pid', '?')})" if st else "no session yet"
        if self.ended is not None:
            e = self.ended.data
            state = Text(f"ENDED {e.get('outcome')}" + (f": {e['reason']}" if e.get("reason") else ""),
                         style="bold green" if e.get("outcome") == "completed" else "bold red")
        elif self.left_screen or self.alive is False:
            state = Text("INTERRUPTED: the driver's runbook is no longer running (it can be resumed)", style="bold red")
        elif self.alive is None and st:
            state = Text("running (on another host: whether its process still runs cannot be seen from here)")
        else:
            state = Text("RUNNING", style="bold")
        line = Text(f"{st.get('playbook_name', '')} {str(st.get('mode', '')).upper()}  {who}  ")
        line.append(state)
        line.append(f"\nread-only view: nothing here runs a probe or an action")
        self.query_one("#status", Static).update(line)
        if st:
            self.title = f"runbook watch: {st.get('playbook_name', '')}"

    def tick(self) -> None:
        """Every second: how old each fact is, and whether the driver still runs."""
        from textual.css.query import NoMatches

        try:
            self._tick()
        except NoMatches:
            pass  # the app is closing

    def _tick(self) -> None:
        if self.started is not None and self.ended is None and self.alive is not None:
            self.alive = driver_alive(self.pid, self.host, self.since)
        self._status()
        self._refresh_facts()
        if self.request is not None:
            self._approval_panel()

    def _refresh_facts(self) -> None:
        table = self.query_one("#facts-table", DataTable)
        now = time.time()
        rows = sorted(self.facts.items())
        if table.row_count != len(rows):
            table.clear()
            for key, f in rows:
                table.add_row(*self._fact_row(key, f, now), key=key)
            return
        for key, f in rows:
            table.update_cell(key, "age", Text(age(now - _at(f["at"]))))

    def _fact_row(self, key: str, f: dict[str, Any], now: float) -> tuple[Text, ...]:
        target, _, probe = key.partition("/")
        read = Text(f"UNKNOWN: {f['error']}", style="bold red") if f.get("error") else Text(f"at {f['at'][11:19]} ({f['step']})")
        return Text(target), Text(probe), read, Text(age(now - _at(f["at"])))

    def _refresh_findings(self) -> None:
        table = self.query_one("#findings-table", DataTable)
        table.clear()
        order = {"critical": 0, "warning": 1, "info": 2}
        rows = sorted((f for fs in self.findings.values() for f in fs), key=lambda f: (order.get(f["severity"], 3), f["id"]))
        for i, f in enumerate(rows):
            table.add_row(Text(str(f["severity"])[:4].upper(), style=SEV_STYLE.get(f["severity"], "")),
                          Text(f"{f['id']}: {f['title']}"), Text(str(f.get("target", ""))), key=str(i))
        self.query_one("#tabs", TabbedContent).get_tab("findings").label = f"Findings ({len(rows)})"

    # ---------------------------------------------------------------- the approval of a break-glass
    def open_request(self) -> Event | None:
        r = self.request
        if r is None or r.seq in self.answered or self.ended is not None:
            return None
        return r

    def _approval_panel(self) -> None:
        box = self.query_one("#approval", Vertical)
        r = self.open_request()
        if r is None:
            box.add_class("hidden")
            return
        d = r.data
        left = max(0, int(_at(r.ts) + float(d.get("timeout_s") or 0) - time.time()))
        t = Text()
        t.append("BREAK-GLASS WAITS FOR A SECOND PERSON\n", style="bold red")
        t.append(f"{d.get('driver')} wants to run {d.get('action')} on {d.get('target')}:\n")
        t.append(f"  {d.get('command')}\n", style="bold")
        t.append(f"Blocked by: {', '.join(d.get('blocked_by') or [])}\n")
        for g in d.get("guards") or []:
            if not g.get("passed"):
                t.append(f"  {g.get('guard')}" + (f": {g['reason']}" if g.get("reason") else "") + "\n")
                for k, v in (g.get("evidence") or {}).items():
                    t.append(f"      {k} = {v}\n")
        t.append("Their reason: ", style="bold")
        t.append(f"{d.get('reason')}\n")
        t.append(f"Evidence {str(d.get('digest'))[:12]}; time left {left // 60}:{left % 60:02d}, then nothing runs.\n"
                 "Approve with your own name and the target's name typed in full; the approval holds only "
                 "for this evidence.", style="italic")
        self.query_one("#request", Static).update(t)
        box.remove_class("hidden")
        self._validate()

    def _problem(self, decision: str) -> str:
        r = self.open_request()
        if r is None:
            return "no break-glass waits for an approval"
        rec = {"approver": self.query_one("#approver", Input).value, "typed": self.query_one("#typed", Input).value,
               "digest": r.data.get("digest"), "decision": decision}
        return approvals.problem(rec, r.data)

    @on(Input.Changed)
    def _validate(self) -> None:
        why = self._problem("approve")
        self.query_one("#approve", Button).disabled = bool(why)
        self.query_one("#deny", Button).disabled = bool(self._problem("deny"))

    def _focus_name(self) -> None:
        """The approver's name has the focus when a request opens, and the panel says so."""
        if self.open_request() is None:
            return
        self.query_one("#approver", Input).focus()
        self.query_one("#approval-said", Static).update(Text("Type your name, then Enter.", style="italic"))

    @on(Input.Submitted, "#approver")
    def _name_given(self) -> None:
        self.query_one("#typed", Input).focus()
        self.query_one("#approval-said", Static).update(Text("Now type the target's name, then Enter to approve "
                                                             "(or Tab to Deny).", style="italic"))

    @on(Button.Pressed, "#approve")
    @on(Input.Submitted, "#typed")
    def _approve(self) -> None:
        self._answer("approve")

    @on(Button.Pressed, "#deny")
    def _deny(self) -> None:
        self._answer("deny")

    def _answer(self, decision: str) -> None:
        r = self.open_request()
        said = self.query_one("#approval-said", Static)
        why = self._problem(decision)
        if r is None or why:
            said.update(Text(why, style="bold red"))
            return
        try:
            approvals.answer(beside.beside(self.journal, beside.APPROVALS), request=r.seq, digest=str(r.data.get("digest")),
                             approver=self.query_one("#approver", Input).value,
                             typed=self.query_one("#typed", Input).value, decision=decision, where=self.viewer_from)
        except OSError as e:
            said.update(Text(f"could not write the approval beside the journal: {e.strerror}", style="bold red"))
            return
        said.update(Text(("Approval" if decision == "approve" else "Denial") + " written; the driver's session reads it "
                         "and reads its guards fresh before anything runs.", style="bold"))
        self.query_one("#approve", Button).disabled = True


def run(journal: Path, viewer_from: str = "") -> int:
    WatchApp(journal, viewer_from).run()
    return 0
