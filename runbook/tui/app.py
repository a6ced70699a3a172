"""The Textual app: home (playbooks, targets, rehearsals, sessions) and the run screen.

No domain logic here: the engine runs the playbook in a worker thread and says what happened; the
screen shows it and carries the engineer's answers back (tui/operator.py)."""

from __future__ import annotations

import datetime as dt
import os
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, OptionList, RichLog, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from runbook.events import Event, utcnow
from runbook.journal import store
from runbook.playbook import loader
from runbook.playbook.model import Playbook
from runbook.targets import Target
from runbook.transcript import render
from runbook.tui.modals import BindTargetsScreen, ConfirmActionScreen, FindingScreen
from runbook.tui.operator import Reply, TuiOperator
from runbook.tui.widgets import STATE_ICON, TargetPanel, finding_text

SEV_ORDER = {"critical": 0, "warning": 1, "info": 2}


def keymap_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(os.environ.get("RUNBOOK_KEYMAP") or Path(base) / "runbook" / "keymap.yaml")


def load_keymap(path: Path) -> dict[str, str]:
    """binding id -> keys (comma separated), from a small YAML file. Bad files are ignored with a notice."""
    import yaml

    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


class RunbookApp(App[int]):
    TITLE = "runbook"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding("f1", "show_help_panel", "Keys", id="help"),
    ]

    def __init__(self, playbook_dirs: list[Path], start_run: dict[str, Any] | None = None,
                 clock: Callable[[], str] = utcnow, live_panels: bool = True, read_only: bool = False,
                 targets: dict[str, Target] | None = None, discover: bool = True) -> None:
        super().__init__()
        self.playbook_dirs = playbook_dirs
        self.start_run = start_run
        self.clock = clock
        self.live_panels = live_panels
        self.read_only = read_only
        self.known_targets = dict(targets or {})
        self.discover = discover
        theme = os.environ.get("RUNBOOK_THEME")
        if theme:
            self.theme = theme

    def on_mount(self) -> None:
        km = load_keymap(keymap_path())
        if km:
            self.set_keymap(km)
        self.push_screen(HomeScreen())
        if self.start_run:
            self.push_screen(RunScreen(**self.start_run))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Light theme", "Use a theme for light terminals", partial(setattr, self, "theme", "textual-light"))
        yield SystemCommand("Terminal colours", "Follow the terminal's own palette", partial(setattr, self, "theme", "textual-ansi"))
        if isinstance(screen, RunScreen):
            yield SystemCommand("Copy timeline", "Copy the session's timeline to the clipboard (OSC 52)", screen.action_copy_timeline)
            yield SystemCommand("Show findings", "Switch to the findings of this session", partial(screen.action_tab, "findings"))
            yield SystemCommand("Show timeline", "Switch to the session's timeline", partial(screen.action_tab, "timeline"))
            yield SystemCommand("Show targets", "Switch to the live target panels", partial(screen.action_tab, "targets"))
        if isinstance(screen, HomeScreen):
            yield SystemCommand("Reload", "Read the playbooks and sessions again", screen.action_reload)


class HomeScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "reload", "Reload", id="home-reload"),
        Binding("enter", "open", "Open", id="home-open", show=True),
    ]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with VerticalScroll(id="home"):
            yield Static(Text("Playbooks", style="bold"), classes="section")
            yield DataTable(id="playbooks", cursor_type="row")
            yield Static("", id="problems")
            yield Static(Text("Targets", style="bold"), classes="section")
            yield DataTable(id="targets", cursor_type="row")
            yield Static(Text("Rehearsals", style="bold"), classes="section")
            yield DataTable(id="rehearsals", cursor_type="row")
            yield Static(Text("Past sessions", style="bold"), classes="section")
            yield DataTable(id="sessions", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#playbooks", DataTable).add_columns("playbook", "state", "title")
        self.query_one("#targets", DataTable).add_columns("name", "kind", "url", "from")
        self.query_one("#rehearsals", DataTable).add_columns("rehearsal", "what it starts")
        self.query_one("#sessions", DataTable).add_columns("session", "playbook", "mode", "status", "last step")
        self.problems: dict[str, list[str]] = {}
        self.action_reload()

    @property
    def rb(self) -> RunbookApp:
        return self.app  # type: ignore[return-value]

    def action_reload(self) -> None:
        pb = self.query_one("#playbooks", DataTable)
        pb.clear()
        for f in loader.find_playbooks([str(d) for d in self.rb.playbook_dirs]):
            playbook, problems = loader.load(f)
            state = Text("valid", style="green") if not problems else Text(f"{len(problems)} problem(s)", style="bold red")
            pb.add_row(Text(f.name), state, Text(playbook.title if playbook else ""), key=str(f))
            self.problems[str(f)] = [str(p) for p in problems]
        self._fill_targets(self.rb.known_targets, "command line")
        if self.rb.discover:
            self.discover_targets()
        rh = self.query_one("#rehearsals", DataTable)
        rh.clear()
        try:
            from runbook.sandbox.scenarios import SCENARIOS
        except ImportError:
            SCENARIOS = {}
        for name, sc in SCENARIOS.items():
            rh.add_row(Text(name), Text(sc.summary), key=name)
        ss = self.query_one("#sessions", DataTable)
        ss.clear()
        for s in reversed(store.list_sessions()[-50:]):
            m = s.summary()
            ss.add_row(*(Text(str(m[k])) for k in ("session", "playbook", "mode", "status", "last_step")), key=m["session"])

    def _fill_targets(self, targets: dict[str, Target], source: str, clear: bool = True) -> None:
        t = self.query_one("#targets", DataTable)
        if clear:
            t.clear()
        for name, tg in targets.items():
            if name not in t.rows:
                t.add_row(Text(name), Text(tg.kind), Text(tg.display.split("=", 1)[1]), Text(source), key=name)

    @work(thread=True, exclusive=True, group="discover", exit_on_error=False)
    def discover_targets(self) -> dict[str, Target]:
        """Local redis-servers and JVMs (read-only: process table and listening sockets)."""
        import psutil

        from runbook.jvm.live import java_processes
        from runbook.redis.probe import listening

        found: dict[str, Target] = {}
        for p in psutil.process_iter(["name"]):
            if (p.info["name"] or "").startswith("redis-server"):
                for ip, port in listening(p.pid)[:1]:
                    host = "127.0.0.1" if ip in ("0.0.0.0", "::", "127.0.0.1") else ip
                    found[f"redis-{port}"] = Target(f"redis-{port}", f"redis://{host}:{port}", "redis")
        for pid in java_processes():
            found[f"jvm-{pid}"] = Target(f"jvm-{pid}", f"pid:{pid}", "jvm")
        return found

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "discover" and event.state == WorkerState.SUCCESS:
            self.discovered = event.worker.result or {}
            self._fill_targets(self.discovered, "this machine", clear=False)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "playbooks" and event.row_key.value is not None:
            probs = self.problems.get(event.row_key.value, [])
            self.query_one("#problems", Static).update(Text("\n".join(probs[:4]), style="red"))

    def action_open(self) -> None:
        focused = self.focused
        if isinstance(focused, DataTable) and focused.row_count:
            key = focused.coordinate_to_cell_key(focused.cursor_coordinate).row_key.value
            self.open_row(focused.id or "", key)

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.open_row(event.data_table.id or "", event.row_key.value)

    def open_row(self, table: str, key: str | None) -> None:
        if key is None:
            return
        if table == "playbooks":
            pb, problems = loader.load(key)
            if pb is None:
                self.notify("this playbook has problems: fix them first (runbook validate)", severity="error")
                return
            self.bind_and_run(pb)
        elif table == "sessions":
            self.resume(key)
        elif table == "rehearsals":
            self.notify(f"start it from a shell: runbook rehearse {key}", title="rehearsal")

    def bind_and_run(self, pb: Playbook, resume_events: list[Event] | None = None, journal_path: Path | None = None) -> None:
        known = {**getattr(self, "discovered", {}), **self.rb.known_targets}
        suggestions = {}
        for role, spec in pb.targets.items():
            if role in known:
                suggestions[role] = known[role].url
            else:
                same = [t for t in known.values() if t.kind == spec.kind]
                if len(same) == 1:
                    suggestions[role] = same[0].url
        roles = [(r, s.kind) for r, s in pb.targets.items()]

        def start(result: dict | None) -> None:
            if not result:
                return
            dry = result.pop("__dry_run__", False)
            path = journal_path or store.sessions_dir() / f"{store.new_session_id()}.jsonl"
            self.app.push_screen(RunScreen(playbook=pb, targets=result, mode="dry-run" if dry else "live",
                                           journal_path=path, resume_events=resume_events, read_only=self.rb.read_only))

        self.app.push_screen(BindTargetsScreen(roles, suggestions), start)

    def resume(self, session: str) -> None:
        try:
            path = store.find(session)
        except store.JournalError as e:
            self.notify(str(e), severity="error")
            return
        jr = store.read(path)
        if jr.ended is not None or jr.started is None:
            self.notify("this session has ended: nothing to resume", severity="warning")
            return
        pb, problems = loader.load(jr.started.data["playbook"])
        if pb is None:
            self.notify("its playbook no longer loads: " + (str(problems[0]) if problems else ""), severity="error")
            return
        self.bind_and_run(pb, resume_events=jr.events, journal_path=path)


class RunScreen(Screen[None]):
    BINDINGS = [
        Binding("a", "acknowledge", "Done", id="step-done"),
        Binding("s", "tab('step')", "Step", id="tab-step"),
        Binding("f", "tab('findings')", "Findings", id="tab-findings"),
        Binding("t", "tab('targets')", "Targets", id="tab-targets"),
        Binding("l", "tab('timeline')", "Timeline", id="tab-timeline"),
        Binding("c", "copy", "Copy", id="copy"),
        Binding("escape", "leave", "Leave", id="leave-run"),
    ]

    def __init__(self, playbook: Playbook, targets: dict[str, Target], mode: str, journal_path: Path,
                 resume_events: list[Event] | None = None, read_only: bool = False, facts: Any = None) -> None:
        super().__init__()
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
        self.pending_ack: Reply | None = None
        self.outcome = ""
        self.operator = TuiOperator(self.app_call, self.ask_ack, self.ask_confirm)

    def app_call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.app.call_from_thread(fn, *args)

    @property
    def rb(self) -> RunbookApp:
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
                with TabPane("Findings", id="findings"):
                    yield DataTable(id="findings-table", cursor_type="row")
                with TabPane("Targets", id="targets"):
                    with VerticalScroll():
                        for t in self.targets.values():
                            yield TargetPanel(t, live=self.rb.live_panels and self.mode != "replay")
                with TabPane("Timeline", id="timeline"):
                    yield RichLog(id="timeline-log", markup=False, highlight=False, wrap=True)
        yield Footer()

    def _step_label(self, sid: str) -> Text:
        step = self.playbook.by_id[sid]
        state = self.states.get(sid, "pending") if hasattr(self, "states") else "pending"
        style = {"current": "bold reverse", "done": "green", "blocked": "bold red"}.get(state, "")
        return Text(f"{STATE_ICON[state]} {step.label}", style=style)

    def on_mount(self) -> None:
        mode = self.mode.upper() + (" READ-ONLY" if self.read_only else "")
        self.title = f"runbook: {self.playbook.name}"
        self.sub_title = mode
        self.query_one("#findings-table", DataTable).add_columns("sev", "finding", "target")
        self.query_one("#step-info", Static).update(Text("starting…"))
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
                              listeners=[lambda ev: self.app_call(self.on_session_event, ev)], read_only=self.read_only)
            return session.resume(self.resume_events) if self.resume_events else session.start()
        finally:
            journal.close()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "session":
            return
        if event.state == WorkerState.ERROR:
            self.query_one("#step-info", Static).update(Text(f"The session stopped on an error: {event.worker.error}", style="bold red"))
        elif event.state == WorkerState.SUCCESS:
            self.outcome = str(event.worker.result)

    # ---------------------------------------------------------------- events from the engine
    def on_session_event(self, ev: Event) -> None:
        ts = ev.ts[11:19] if len(ev.ts) >= 19 else ev.ts
        log = self.query_one("#timeline-log", RichLog)
        for line in render(ev):
            self.timeline.append(f"{ev.ts} {line}")
            log.write(Text(f"{ts} {line}"))
        if ev.kind == "step_entered" and ev.step:
            for sid, st in self.states.items():
                if st == "current":
                    self.states[sid] = "done"
            self.states[ev.step] = "current"
            self._refresh_steps(ev.step)
            step = self.playbook.by_id[ev.step]
            info = Text()
            info.append(f"{step.kind.upper()}  ", style="bold")
            info.append(step.label + "\n\n", style="bold")
            if step.description:
                info.append(step.description.strip() + "\n\n")
            if step.text:
                info.append(step.text.strip() + "\n")
            if step.kind == "action":
                info.append(f"\nChecking the guards of {step.action} on {step.target}, fresh…\n", style="italic")
            self.query_one("#step-info", Static).update(info)
        elif ev.kind == "findings":
            self.findings[f"{ev.data.get('target')}/{ev.data.get('probe')}"] = [dict(f, target=ev.data.get("target")) for f in ev.data.get("findings", [])]
            self._refresh_findings()
        elif ev.kind in ("blocked", "session_ended"):
            if ev.step:
                self.states[ev.step] = "blocked"
                self._refresh_steps(ev.step)
            if ev.kind == "session_ended":
                for sid, st in self.states.items():
                    if st == "current":
                        self.states[sid] = "done" if ev.data.get("outcome") == "completed" else st
                self._refresh_steps(None)
                style = "bold green" if ev.data.get("outcome") == "completed" else "bold red"
                self.query_one("#step-info", Static).update(
                    Text(f"Session {ev.data.get('outcome')}" + (f": {ev.data['reason']}" if ev.data.get("reason") else "")
                         + f"\n\nJournal: {self.journal_path.name}\nExport: runbook journal export {self.journal_path.stem}",
                         style=style))
            else:
                self.query_one("#step-info", Static).update(Text(f"BLOCKED: {ev.data.get('reason')}", style="bold red"))

    def _refresh_steps(self, current: str | None) -> None:
        ol = self.query_one("#steps", OptionList)
        for i, s in enumerate(self.playbook.steps):
            ol.replace_option_prompt_at_index(i, self._step_label(s.id))
        if current is not None:
            ol.highlighted = [s.id for s in self.playbook.steps].index(current)

    def _refresh_findings(self) -> None:
        table = self.query_one("#findings-table", DataTable)
        table.clear()
        rows = sorted((f for fs in self.findings.values() for f in fs), key=lambda f: (SEV_ORDER[f["severity"]], f["id"]))
        self._finding_rows = rows
        for i, f in enumerate(rows):
            table.add_row(Text(f["severity"][:4].upper(), style={"critical": "bold red", "warning": "yellow"}.get(f["severity"], "cyan")),
                          Text(f"{f['id']}: {f['title']}"), Text(str(f.get("target", ""))), key=str(i))
        tabs = self.query_one("#tabs", TabbedContent)
        tabs.get_tab("findings").label = f"Findings ({len(rows)})"

    @on(DataTable.RowSelected, "#findings-table")
    def _finding_selected(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(FindingScreen(self._finding_rows[int(event.row_key.value)]))

    # ---------------------------------------------------------------- questions from the engine
    def ask_ack(self, step: Any, reply: Reply) -> None:
        self.pending_ack = reply
        self.query_one("#ack", Button).remove_class("hidden")
        self.query_one("#tabs", TabbedContent).active = "step"

    def action_acknowledge(self) -> None:
        if self.pending_ack is not None:
            reply, self.pending_ack = self.pending_ack, None
            self.query_one("#ack", Button).add_class("hidden")
            reply.set(True)

    @on(Button.Pressed, "#ack")
    def _ack_pressed(self) -> None:
        self.action_acknowledge()

    def ask_confirm(self, request: Any, reply: Reply) -> None:
        self.app.push_screen(ConfirmActionScreen(request), reply.set)

    # ---------------------------------------------------------------- keys
    def action_tab(self, name: str) -> None:
        self.query_one("#tabs", TabbedContent).active = name

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
        self.operator.stop()
        self.app.pop_screen()

    def on_unmount(self) -> None:
        self.operator.stop()


def run_app(**kwargs: Any) -> int:
    app = RunbookApp(**kwargs)
    app.run()
    return app.return_code or 0


def fixed_clock(start: str = "2026-01-01T00:00:00Z") -> Callable[[], str]:
    """A clock for snapshots and tests: one second per event from a fixed start."""
    t0 = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    n = [0]

    def clock() -> str:
        n[0] += 1
        return (t0 + dt.timedelta(seconds=n[0])).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    return clock
