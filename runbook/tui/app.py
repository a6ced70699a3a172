"""The Textual app and its home screen (playbooks, targets, rehearsals, past sessions)."""

from __future__ import annotations

import datetime as dt
import os
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker, WorkerState

from runbook.events import utcnow
from runbook.targets import Target
from runbook.tui.base import BaseApp

# The run screen, the modals and the playbook loader are imported when first needed: the home screen
# is on the terminal before them (see benchmarks/tui.py).


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


class RunbookApp(BaseApp):
    TITLE = "runbook"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding("f1", "toggle_help", "Keys", id="help"),
    ]

    def action_toggle_help(self) -> None:
        """F1 opens the key panel, and closes it."""
        from textual.widgets import HelpPanel

        if self.screen.query(HelpPanel):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def __init__(self, playbook_dirs: list[Path], start_run: dict[str, Any] | None = None,
                 clock: Callable[[], str] = utcnow, live_panels: bool = True, read_only: bool = False,
                 targets: dict[str, Target] | None = None, discover: bool = True,
                 gc_files: list[str] | None = None, alertmanager: str | None = None, fleet: Any = None) -> None:
        super().__init__()
        self.fleet = fleet  # a fleet source (runbook fleet --tui): the fleet screen is the only one
        self.alertmanager = alertmanager  # the home lists its firing alerts (--alertmanager, $RUNBOOK_ALERTMANAGER)
        self.gc_files = gc_files
        self.sandboxes: list[Any] = []  # rehearsals started from the home screen, stopped on the way out
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
        if self.gc_files:
            from runbook.tui.gc_report import GcReportScreen

            self.push_screen(GcReportScreen(self.gc_files))
            return
        if self.fleet is not None:
            from runbook.tui.fleet import FleetScreen

            self.push_screen(FleetScreen(self.fleet))
            return
        if self.start_run:
            from runbook.tui.run import RunScreen

            self.push_screen(RunScreen(**self.start_run))

    def get_default_screen(self) -> Screen:
        """The home is the app's first screen (not pushed over an empty one: one screen less to lay out
        before the first frame); a GC report has none beneath it."""
        return Screen() if self.gc_files or self.fleet is not None else HomeScreen()

    def on_unmount(self) -> None:
        """The app's last event: every rehearsal it started stops with it, whoever ran it (`runbook`, a test,
        an embedding); one still being built in its thread can start nothing more once stopped."""
        for sb in list(self.sandboxes):
            sb.stop()

    async def action_quit(self) -> None:
        """Ctrl+Q: a session still running is interrupted (resumable, exit 1), never ended."""
        from runbook.tui.run import RunScreen

        for screen in self.screen_stack:
            if isinstance(screen, RunScreen):
                screen.interrupt()
        self.exit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Light theme", "Use a theme for light terminals", partial(setattr, self, "theme", "textual-light"))
        yield SystemCommand("Terminal colours", "Follow the terminal's own palette", partial(setattr, self, "theme", "textual-ansi"))
        from runbook.tui.run import RunScreen

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
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#playbooks", DataTable).add_columns("playbook", "state", "title")
        self.query_one("#targets", DataTable).add_columns("name", "kind", "url", "from")
        self.problems: dict[str, list[str]] = {}
        self._fill_targets(self.rb.known_targets, "command line")
        self.query_one("#playbooks", DataTable).focus()  # arrows and Enter work at once
        self.call_after_refresh(self._below_the_fold)  # the first frame first; then the rest, then the disk

    def _below_the_fold(self) -> None:
        home = self.query_one("#home", VerticalScroll)
        rehearsals = DataTable(id="rehearsals", cursor_type="row")
        sessions = DataTable(id="sessions", cursor_type="row")
        home.mount(Static(Text("Rehearsals", style="bold"), classes="section"), rehearsals,
                   Static(Text("Past sessions", style="bold"), classes="section"), sessions)
        rehearsals.add_columns("rehearsal", "what it starts")
        sessions.add_columns("session", "playbook", "mode", "status", "last step")
        if self.rb.alertmanager:  # the page first: above the playbooks, refreshed in the background
            alerts = DataTable(id="alerts", cursor_type="row")
            home.mount(Static(Text(f"Alerts firing ({self.rb.alertmanager})", style="bold"), classes="section"),
                       Static(Text("reading…", style="dim"), id="alerts-status"), alerts, before=0)
            alerts.add_columns("alert", "since", "playbook", "targets")
            self.handlings: dict[str, Any] = {}
            self.read_alerts()
            self.set_interval(30, self.read_alerts)
        self.action_reload()

    @property
    def rb(self) -> RunbookApp:
        return self.app  # type: ignore[return-value]

    def action_reload(self) -> None:
        self.read_home()
        if self.rb.discover:
            self.set_timer(0.2, self.discover_targets)

    @work(thread=True, exclusive=True, group="home", exit_on_error=False)
    def read_home(self) -> dict[str, Any]:
        """Playbooks with their validation state, rehearsals, past sessions: read off the screen's thread."""
        from runbook.journal import store
        from runbook.playbook import loader

        playbooks = []
        for f in loader.find_playbooks([str(d) for d in self.rb.playbook_dirs]):
            playbook, problems = loader.load(f)
            playbooks.append((str(f), f.name, playbook.title if playbook else "", [str(p) for p in problems]))
        try:
            from runbook.sandbox.scenarios import SCENARIOS
        except ImportError:
            SCENARIOS = {}
        rehearsals = [(name, sc.summary) for name, sc in SCENARIOS.items()]
        sessions = [s.summary() for s in reversed(store.list_sessions()[-50:])]
        return {"playbooks": playbooks, "rehearsals": rehearsals, "sessions": sessions}

    def _show_home(self, data: dict[str, Any]) -> None:
        pb = self.query_one("#playbooks", DataTable)
        pb.clear()
        for key, name, title, problems in data["playbooks"]:
            state = Text("valid", style="green") if not problems else Text(f"{len(problems)} problem(s)", style="bold red")
            pb.add_row(Text(name), state, Text(title), key=key)
            self.problems[key] = problems
        rh = self.query_one("#rehearsals", DataTable)
        rh.clear()
        for name, summary in data["rehearsals"]:
            rh.add_row(Text(name), Text(summary), key=name)
        ss = self.query_one("#sessions", DataTable)
        ss.clear()
        for m in data["sessions"]:
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
        """What each kind finds running on this machine (read-only: process table and listening sockets)."""
        from runbook.kind import kinds

        found: dict[str, Target] = {}
        for k in kinds():
            if k.discover:
                found.update(k.discover())
        return found

    @work(thread=True, exclusive=True, group="alerts", exit_on_error=False)
    def read_alerts(self) -> list[Any]:
        """The firing alerts, each with the playbook that handles it (off the screen's thread)."""
        from runbook import alerts
        from runbook.playbook import loader

        playbooks = loader.valid_playbooks([str(d) for d in self.rb.playbook_dirs])
        return [alerts.handle(a, playbooks, self.rb.known_targets) for a in alerts.fetch(self.rb.alertmanager)]

    def _show_alerts(self, handlings: list[Any]) -> None:
        from runbook.secrets import mask_url

        table = self.query_one("#alerts", DataTable)
        table.clear()
        self.handlings = {h.alert.fingerprint: h for h in handlings}
        for h in handlings:
            a = h.alert
            where = ", ".join(f"{r}={mask_url(t.url)}" for r, t in h.targets.items()) or \
                (f"needs {', '.join(m.split(':', 1)[0] for m in h.missing)}" if h.missing else "")
            table.add_row(Text(a.name), Text(a.starts_at.replace("T", " ")[:19]),
                          Text(h.playbook.name if h.playbook else "none" + (f" (closest: {', '.join(h.closest)})"
                                                                            if h.closest else ""),
                               style="" if h.playbook else "yellow"),
                          Text(where), key=a.fingerprint)
        self.query_one("#alerts-status", Static).update(
            Text(f"{len(handlings)} firing; Enter starts the playbook with the alert's targets" if handlings
                 else "no alert is firing", style="dim"))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "rehearsal" and event.state == WorkerState.ERROR:
            self.notify(f"the rehearsal could not start: {event.worker.error}", severity="error")
        if event.worker.group == "alerts" and event.state == WorkerState.ERROR:  # one line; nothing else stops
            self.query_one("#alerts-status", Static).update(Text(f"cannot read the alerts: {event.worker.error}",
                                                                 style="bold red"))
        if event.state != WorkerState.SUCCESS:
            return
        if event.worker.group == "alerts":
            self._show_alerts(event.worker.result or [])
        if event.worker.group == "rehearsal":
            self._start_rehearsal(*event.worker.result)
        elif event.worker.group == "discover":
            self.discovered = event.worker.result or {}
            self._fill_targets(self.discovered, "this machine", clear=False)
        elif event.worker.group == "home":
            self._show_home(event.worker.result)

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
        from runbook.playbook import loader

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
        elif table == "alerts":
            h = getattr(self, "handlings", {}).get(key)
            if h is None:
                return
            if h.playbook is None:
                self.notify(f"no playbook handles {h.alert.name}" + (f"; closest: {', '.join(h.closest)}" if h.closest
                                                                       else ""), severity="warning")
                return
            self.bind_and_run(h.playbook, prefill=h.targets, alert=h.alert.to_dict())
        elif table == "rehearsals":
            self.notify(f"building the {key} sandbox: real local processes, stopped when you leave the run",
                        title="rehearsal")
            self.build_rehearsal(key)

    @work(thread=True, exclusive=True, group="rehearsal", exit_on_error=False)
    def build_rehearsal(self, name: str) -> tuple[Any, Any, Any]:
        from runbook.playbook import loader
        from runbook.sandbox.procs import Sandbox, cleanup_stale
        from runbook.sandbox.scenarios import SCENARIOS

        cleanup_stale()
        sc = SCENARIOS[name]
        pb, problems = loader.load(sc.playbook_path)
        if pb is None:
            raise RuntimeError(str(problems[0]))
        sb = Sandbox(sc.name, say=lambda text: None)
        self.rb.sandboxes.append(sb)
        try:
            built = sc.build(sb)
        except Exception:
            sb.stop()
            raise
        return sb, built, pb

    def _start_rehearsal(self, sb: Any, built: Any, pb: Any) -> None:
        from runbook.journal import store
        from runbook.tui.run import RunScreen

        def done(_: Any = None) -> None:
            self.stop_sandbox(sb)

        path = store.sessions_dir() / f"{store.new_session_id()}.jsonl"
        from runbook.engine.facts import LiveFacts
        from runbook.sandbox.scenarios import REHEARSAL_TIMEOUT

        self.app.push_screen(RunScreen(playbook=pb, targets=built.targets, mode="rehearsal", journal_path=path,
                                       read_only=self.rb.read_only, params=built.params,
                                       facts=LiveFacts(REHEARSAL_TIMEOUT)), done)

    @work(thread=True, group="sandbox-stop", exit_on_error=False)
    def stop_sandbox(self, sb: Any) -> None:
        sb.stop()
        if sb in self.rb.sandboxes:
            self.rb.sandboxes.remove(sb)

    def bind_and_run(self, pb: Any, resume_events: list[Any] | None = None, journal_path: Path | None = None,
                     prefill: dict[str, Target] | None = None, params: dict[str, Any] | None = None,
                     alert: dict[str, Any] | None = None) -> None:
        from runbook.journal import store
        from runbook.tui.modals import BindTargetsScreen
        from runbook.tui.run import RunScreen

        known = {**getattr(self, "discovered", {}), **(prefill or {}), **self.rb.known_targets}
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
            params = result.pop("__params__", {})
            path = journal_path or store.sessions_dir() / f"{store.new_session_id()}.jsonl"
            self.app.push_screen(RunScreen(playbook=pb, targets=result, mode="dry-run" if dry else "live",
                                           journal_path=path, resume_events=resume_events, read_only=self.rb.read_only,
                                           params=params, alert=alert))

        from dataclasses import replace

        inputs = [replace(i, default=params[i.name]) if params and i.name in params else i for i in pb.inputs.values()]
        self.app.push_screen(BindTargetsScreen(roles, suggestions, inputs,
                                               {r for r, spec in pb.targets.items() if spec.list}), start)

    def resume(self, session: str) -> None:
        from runbook.journal import store
        from runbook.playbook import loader

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
        from runbook.targets import Target

        # the session's own targets, whole, as its journal has them (a password there is masked: type it again)
        journal_targets = {t["name"]: Target.from_dict(t) for t in jr.started.data.get("targets", [])}
        self.bind_and_run(pb, resume_events=jr.events, journal_path=path, prefill=journal_targets,
                          params=jr.started.data.get("params"))


def run_app(**kwargs: Any) -> int:
    app = RunbookApp(**kwargs)
    try:
        app.run()
    finally:  # the app stops them as it unmounts; this is for an app that failed before it could
        for sb in list(app.sandboxes):
            sb.stop()
    return app.return_code or getattr(app, "exit_status", 0) or 0


def fixed_clock(start: str = "2026-01-01T00:00:00Z") -> Callable[[], str]:
    """A clock for snapshots and tests: one second per event from a fixed start."""
    t0 = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    n = [0]

    def clock() -> str:
        n[0] += 1
        return (t0 + dt.timedelta(seconds=n[0])).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    return clock
