"""The run screen: the steps, the current step, findings, live target panels, the timeline.

No domain logic: the engine runs the playbook in a worker thread and says what happened; the screen
shows it and carries the engineer's answers back (tui/operator.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, OptionList, RichLog, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from runbook.engine.operators import Interrupted
from runbook.events import Event
from runbook.journal import store
from runbook.playbook.model import Playbook
from runbook.targets import Target
from runbook.transcript import render
from runbook.tui.modals import AskScreen, ConfirmActionScreen, FindingScreen
from runbook.tui.operator import Reply, TuiOperator
from runbook.tui.widgets import STATE_ICON, TargetPanel, finding_text

SEV_ORDER = {"critical": 0, "warning": 1, "info": 2}


class RunScreen(Screen[None]):
    BINDINGS = [
        # The footer of an 80-column terminal holds the keys that matter now; the rest are in F1's panel.
        Binding("a", "acknowledge", "Done", id="step-done"),
        Binding("r", "retry", "Try again", id="step-retry"),
        Binding("s", "tab('step')", "Step", id="tab-step", show=False),
        Binding("f", "tab('findings')", "Findings", id="tab-findings"),
        Binding("t", "tab('targets')", "Targets", id="tab-targets", show=False),
        Binding("l", "tab('timeline')", "Timeline", id="tab-timeline"),
        Binding("c", "copy", "Copy", id="copy", show=False),
        Binding("escape", "leave", "Leave", id="leave-run"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Done and Try again show in the footer only while the session waits for them. While an action's
        guards are read (its confirmation is about to open), no key acts on this screen: what the engineer
        types then is meant for the confirmation (Esc still leaves)."""
        if self._guards_pending and action != "leave":
            return False
        if action == "acknowledge":
            return self.pending_ack is not None
        if action == "retry":
            return self.pending_retry is not None
        return True

    def __init__(self, playbook: Playbook, targets: dict[str, Target], mode: str, journal_path: Path,
                 resume_events: list[Event] | None = None, read_only: bool = False, facts: Any = None,
                 params: dict[str, Any] | None = None, alert: dict[str, Any] | None = None,
                 approval: Any = None, driver: str = "") -> None:
        super().__init__()
        from runbook.engine.approval import ApprovalPolicy

        started = next((e for e in resume_events or () if e.kind == "session_started"), None)
        was = (started.data.get("approval") or {}) if started else {}
        if approval is None and was.get("required"):  # a resumed session keeps what it required
            approval = ApprovalPolicy(True, was.get("timeout_s"), bool(was.get("from_answers")))
        self.approval = approval
        self.driver = driver or (started.data.get("driver", "") if started else "")
        self._waiting: Any = None  # the modal that shows a break-glass waiting for its approval
        self.params = params
        self.alert = alert
        self.playbook = playbook
        self.targets = targets
        self.mode = mode
        self.journal_path = journal_path
        self.resume_events = resume_events
        self.read_only = read_only
        self.facts_source = facts
        self.states: dict[str, str] = {s.id: "pending" for s in playbook.steps}
        self.findings: dict[str, list[dict[str, Any]]] = {}
        self.timeline: list[str] = []
        self._action_lines: list[Text] | None = None  # an action's progress, from its guards to its result
        self._action_t0 = 0.0
        self._failure = ""  # the last action's failure, in the journal's words, kept for the session's end
        self._guards_pending = False  # an action's guards are being read: keys wait for its confirmation
        self.pending_ack: Reply | None = None
        self.pending_retry: Reply | None = None
        self.outcome = ""
        self._ended = False
        self.operator = TuiOperator(self.app_call, self.ask_ack, self.ask_confirm, self.ask_retry, self.ask_consent,
                                    self.show_waiting, self.hide_waiting)

    def app_call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.app.call_from_thread(fn, *args)

    @property
    def rb(self) -> Any:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="run"):
            yield OptionList(*[Option(self._step_label(s.id), id=s.id) for s in self.playbook.steps], id="steps")
            with TabbedContent(initial="step", id="tabs"):
                with TabPane("Step", id="step"):
                    with VerticalScroll():
                        yield Static(id="step-info")
                        yield Button("Done", id="ack", variant="primary", classes="hidden")
                        yield Button("Try the action again (r)", id="retry", variant="warning", classes="hidden")
                with TabPane("Findings", id="findings"):
                    yield DataTable(id="findings-table", cursor_type="row")
                with TabPane("Targets", id="targets"):
                    with VerticalScroll():
                        for t in self.targets.values():
                            yield TargetPanel(t, live=self.rb.live_panels and self.mode != "replay")
                with TabPane("Timeline", id="timeline"):
                    yield RichLog(id="timeline-log", markup=False, highlight=False, wrap=True, min_width=20)  # wraps to its width at 80x24
        yield Footer(compact=True)

    def _step_label(self, sid: str) -> Text:
        step = self.playbook.by_id[sid]
        state = self.states.get(sid, "pending") if hasattr(self, "states") else "pending"
        style = {"current": "bold reverse", "done": "green", "blocked": "bold red"}.get(state, "")
        return Text(f"{STATE_ICON[state]} {step.label}", style=style)

    def on_mount(self) -> None:
        mode = self.mode.upper() + (" READ-ONLY" if self.read_only else "")
        self.title = f"runbook: {self.playbook.name}"
        self.sub_title = mode
        table = self.query_one("#findings-table", DataTable)
        table.add_column("sev", key="sev")
        table.add_column("finding", key="finding", width=self._title_width())
        table.add_column("target", key="target")
        self.query_one("#step-info", Static).update(Text("starting…"))
        for ev in self.resume_events or ():  # a resumed session shows everything its journal holds
            self.on_session_event(ev)
        self.run_session()

    # ---------------------------------------------------------------- session thread
    @work(thread=True, exclusive=True, group="session", exit_on_error=False)
    def run_session(self) -> str:
        from runbook.engine.facts import LiveFacts
        from runbook.engine.session import Session

        journal = store.Journal(self.journal_path)
        try:
            session = Session(self.playbook, self.targets, mode=self.mode, journal=journal, operator=self.operator,
                              facts=self.facts_source or LiveFacts(2.0), clock=self.rb.clock,
                              listeners=[lambda ev: self.app_call(self.on_session_event, ev)], read_only=self.read_only,
                              params=self.params, alert=self.alert, driver=self.driver, approval=self.approval)
            try:
                return session.resume(self.resume_events) if self.resume_events else session.start()
            except Interrupted:  # the engineer left: no end in the journal, so that it resumes
                session.emit("note", None, text=f"left the screen: the session is interrupted here "
                                                f"(runbook run --resume {self.journal_path.stem})")
                return "interrupted"
        finally:
            journal.close()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "session":
            return
        if event.state == WorkerState.ERROR:
            self.query_one("#step-info", Static).update(Text(f"The session stopped on an error: {event.worker.error}", style="bold red"))
        elif event.state == WorkerState.SUCCESS:
            self.outcome = str(event.worker.result)
            self.app.exit_status = 0 if self.outcome == "completed" else 1  # as `runbook run --headless`

    # ---------------------------------------------------------------- events from the engine
    def on_session_event(self, ev: Event) -> None:
        if not self.is_attached:
            return  # the engineer left: the journal still gets every event
        ts = ev.ts[11:19] if len(ev.ts) >= 19 else ev.ts
        log = self.query_one("#timeline-log", RichLog)
        for line in render(ev):
            self.timeline.append(f"{ev.ts} {line}")
            log.write(Text(f"{ts} {line}"))
        if ev.kind in ("action_intent", "dry_run", "blocked", "session_ended", "step_entered"):
            self._guards_pending = False
        if ev.kind == "step_entered" and ev.step:
            self._action_lines, self._action_t0 = None, 0.0
            step_kind = ev.data.get("kind") or self.playbook.by_id[ev.step.split("/", 1)[0]].kind
            self._guards_pending = step_kind == "action" and self.mode not in ("dry-run", "replay")
            self.refresh_bindings()
            own = ev.step.split("/", 1)[0]  # a called playbook's step runs inside the call step
            for sid, st in self.states.items():
                if st == "current" and sid != own:
                    self.states[sid] = "done"
            self.states[own] = "current"
            self._refresh_steps(own)
            step = self.playbook.by_id[own]
            info = Text()
            info.append(f"{str(ev.data.get('kind', step.kind)).upper()}  ", style="bold")
            info.append(str(ev.data.get("title") or step.label) + "\n\n", style="bold")
            if step.description and own == ev.step:
                info.append(step.description.strip() + "\n\n")
            text = ev.data.get("text")  # as filled in from the facts (plain text, never markup)
            if text:
                info.append(str(text).strip() + "\n")
            if step.kind == "action":
                info.append(f"\nChecking the guards of {step.action} on {step.target}, fresh…\n", style="italic")
            self.query_one("#step-info", Static).update(info)
        elif ev.kind == "findings":
            self.findings[f"{ev.data.get('target')}/{ev.data.get('probe')}"] = [dict(f, target=ev.data.get("target")) for f in ev.data.get("findings", [])]
            self._refresh_findings()
        elif ev.kind in ("action_intent", "note", "action_result") and self._action_lines is not None:
            self._action_progress(ev)
        elif ev.kind == "guard" and ev.step and self.playbook.by_id.get(ev.step.split("/", 1)[0]):
            self._action_lines = []  # an action's guards are being read: its progress is shown from here
        elif ev.kind in ("blocked", "session_ended"):
            if ev.step:
                self.states[ev.step.split("/", 1)[0]] = "blocked"
                self._refresh_steps(ev.step.split("/", 1)[0])
            if ev.kind == "session_ended":
                self._ended = True
                self.app.exit_status = 0 if ev.data.get("outcome") == "completed" else 1  # as --headless
                for sid, st in self.states.items():
                    if st == "current":
                        self.states[sid] = "done" if ev.data.get("outcome") == "completed" else st
                self._refresh_steps(None)
                style = "bold green" if ev.data.get("outcome") == "completed" else "bold red"
                self.query_one("#step-info", Static).update(
                    Text(f"Session {ev.data.get('outcome')}" + (f": {ev.data['reason']}" if ev.data.get("reason") else "")
                         + (f"\n\n{self._failure}" if self._failure and ev.data.get("outcome") != "completed" else "")
                         + f"\n\nJournal: {self.journal_path.name}\nExport: runbook journal export {self.journal_path.stem}",
                         style=style))
            else:
                self.query_one("#step-info", Static).update(Text(f"BLOCKED: {ev.data.get('reason')}", style="bold red"))

    def _action_progress(self, ev: Event) -> None:
        """An action's phases on its own screen as they happen, each with the time since it began; a
        failure says why there, in the words the journal has."""
        import datetime as dt

        def at(ts: str) -> float:
            try:
                return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return 0.0

        if ev.kind == "action_intent":
            self._action_t0 = at(ev.ts)
            self._action_lines = [Text(f"Running: {ev.data.get('command')}", style="bold")]
        elif ev.kind == "note":
            self._action_lines.append(Text(f"+{max(0.0, at(ev.ts) - self._action_t0):.1f} s  {ev.data.get('text')}"))
        else:
            ok = bool(ev.data.get("ok"))
            exp = ev.data.get("expect") or {}
            said = ev.data.get("error") or (f"expected {exp.get('what')}; saw {exp.get('seen')}" if exp else "")
            self._action_lines.append(Text(f"+{max(0.0, at(ev.ts) - self._action_t0):.1f} s  "
                                           + ("done" if ok else "FAILED") + (f": {said}" if said else ""),
                                           style="bold green" if ok else "bold red"))
            self._failure = "" if ok else f"{ev.step}: {said}"
        if not self._action_t0:
            return
        self.query_one("#step-info", Static).update(Text("\n").join(self._action_lines))
        if ev.kind == "action_result":
            self._action_lines, self._action_t0 = None, 0.0

    def _refresh_steps(self, current: str | None) -> None:
        ol = self.query_one("#steps", OptionList)
        for i, s in enumerate(self.playbook.steps):
            ol.replace_option_prompt_at_index(i, self._step_label(s.id))
        if current is not None:
            ol.highlighted = [s.id for s in self.playbook.steps].index(current)

    def _title_width(self) -> int:
        """What the title column can have: the tab's width less the severity and target columns."""
        longest_target = max((len(n) for n in self.targets), default=6)
        return max(20, self.size.width - 26 - 6 - (longest_target + 2) - 8)  # 26: the steps list

    def _refresh_findings(self) -> None:
        table = self.query_one("#findings-table", DataTable)
        table.clear()
        rows = sorted((f for fs in self.findings.values() for f in fs), key=lambda f: (SEV_ORDER[f["severity"]], f["id"]))
        self._finding_rows = rows
        width = self._title_width()
        table.columns["finding"].width = width  # titles wrap in their column instead of being cut
        table.columns["finding"].auto_width = False
        for i, f in enumerate(rows):
            # the id never breaks mid-word: at its dots when it is wider than the column, the title below it
            title = Text("\n".join(wrap_id(f["id"], width)) + "\n", style="bold")
            title.append(Text(f["title"]))
            lines = len(title.wrap(self.app.console, width))
            table.add_row(Text(f["severity"][:4].upper(), style={"critical": "bold red", "warning": "yellow"}.get(f["severity"], "cyan")),
                          title, Text(str(f.get("target", ""))), key=str(i), height=max(1, lines))
        tabs = self.query_one("#tabs", TabbedContent)
        tabs.get_tab("findings").label = f"Findings ({len(rows)})"

    @on(DataTable.RowSelected, "#findings-table")
    def _finding_selected(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(FindingScreen(self._finding_rows[int(event.row_key.value)]))

    # ---------------------------------------------------------------- questions from the engine
    def ask_ack(self, step: Any, reply: Reply) -> None:
        self.pending_ack = reply
        self.refresh_bindings()
        self.query_one("#ack", Button).remove_class("hidden")
        self.query_one("#tabs", TabbedContent).active = "step"

    def action_acknowledge(self) -> None:
        if self.pending_ack is not None:
            reply, self.pending_ack = self.pending_ack, None
            self.query_one("#ack", Button).add_class("hidden")
            self.refresh_bindings()
            reply.set(True)

    @on(Button.Pressed, "#ack")
    def _ack_pressed(self) -> None:
        self.action_acknowledge()

    def ask_confirm(self, request: Any, reply: Reply) -> None:
        self._guards_pending = False  # the confirmation takes the keys from here
        self.refresh_bindings()
        self.app.push_screen(ConfirmActionScreen(request), reply.set)

    def ask_retry(self, step: Any, reply: Reply) -> None:
        """Cancel at a confirmation: the session waits here. The engineer can look, fix, re-read and try again."""
        self.pending_retry = reply
        self.refresh_bindings()
        self.query_one("#retry", Button).remove_class("hidden")
        self.query_one("#tabs", TabbedContent).active = "step"
        self.query_one("#step-info", Static).update(Text(
            f"ACTION  {step.label}\n\nCancelled: nothing ran, and the session waits at this step. Look at the "
            "findings and targets, fix what the guards said, then try again: the guards are read fresh. "
            "Esc leaves the session.", style="bold"))
        self.query_one("#retry", Button).focus()

    def action_retry(self) -> None:
        if self.pending_retry is not None:
            reply, self.pending_retry = self.pending_retry, None
            self.query_one("#retry", Button).add_class("hidden")
            self.refresh_bindings()
            reply.set(True)

    @on(Button.Pressed, "#retry")
    def _retry_pressed(self) -> None:
        self.action_retry()

    def ask_consent(self, step: Any, probe: str, why: str, reply: Reply) -> None:
        self.app.push_screen(AskScreen(f"Run {probe}?", f"{probe} {why}. It runs only if you say so.",
                                       "Run it", "Skip it"), reply.set)

    def show_waiting(self, request: dict[str, Any]) -> None:
        """A break-glass waits for a second person: say so, how to reach the watchers, and offer to stop waiting."""
        from runbook.tui.modals import WaitingApprovalScreen

        self._waiting = WaitingApprovalScreen(request, self.operator.cancel_approval)
        self.app.push_screen(self._waiting)

    def hide_waiting(self) -> None:
        if self._waiting is not None and self._waiting.is_attached:
            self._waiting.dismiss(None)
        self._waiting = None

    # ---------------------------------------------------------------- keys
    def action_tab(self, name: str) -> None:
        from textual.css.query import NoMatches

        try:  # a key typed while the screen is still composing, or already closing: nothing to switch
            self.query_one("#tabs", TabbedContent).active = name
            self._focus_tab(name)
        except NoMatches:
            pass

    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._focus_tab(event.pane.id or "")

    def _focus_tab(self, name: str) -> None:
        """The list a tab is about gets the focus, so arrows and Enter work at once."""
        target = {"findings": "#findings-table", "timeline": "#timeline-log"}.get(name)
        if target:
            self.query_one(target).focus()

    def on_resize(self) -> None:
        if getattr(self, "_finding_rows", None):
            self._refresh_findings()

    def action_copy(self) -> None:
        tabs = self.query_one("#tabs", TabbedContent)
        if tabs.active == "findings" and getattr(self, "_finding_rows", None):
            table = self.query_one("#findings-table", DataTable)
            f = self._finding_rows[table.cursor_row]
            self.app.copy_to_clipboard(finding_text(f).plain)
            self.notify(f"copied {f['id']} (OSC 52)")
        else:
            self.action_copy_timeline()

    def action_copy_timeline(self) -> None:
        self.app.copy_to_clipboard("\n".join(self.timeline))
        self.notify("timeline copied (OSC 52)")

    def action_leave(self) -> None:
        if self.outcome or self._ended:
            self._leave(True)
            return
        what = (f"The session stops here; its journal keeps everything so far "
                f"(runbook run --resume {self.journal_path.stem}).")
        if self.mode == "rehearsal":
            what += " Leaving a rehearsal stops its sandbox: every process it started."
        self.app.push_screen(AskScreen("Leave this session?", what, "Leave", "Stay"), self._leave)

    def _leave(self, leave: bool | None) -> None:
        if leave:
            self.interrupt()
            self.dismiss()

    def interrupt(self) -> None:
        """Leave the session where it is (resumable): the questions still open are not answered."""
        if not (self.outcome or self._ended):
            self.app.exit_status = 1
        self.operator.stop()

    def on_unmount(self) -> None:
        self.operator.stop()


def wrap_id(fid: str, width: int) -> list[str]:
    """A finding id in lines of at most width, broken only after its dots (a part wider than width alone
    is cut)."""
    lines: list[str] = []
    cur = ""
    for n, part in enumerate(fid.split(".")):
        piece = part + ("." if n < fid.count(".") else "")
        if cur and len(cur) + len(piece) > width:
            lines.append(cur)
            cur = ""
        cur += piece
        while len(cur) > width:
            lines.append(cur[:width])
            cur = cur[width:]
    return lines + ([cur] if cur else [])

