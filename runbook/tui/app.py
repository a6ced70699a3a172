"""The Textual app: home (playbooks, sessions) and the run screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Header, Static

from runbook.journal import store
from runbook.playbook import loader


class RunbookApp(App[int]):
    TITLE = "runbook"
    CSS = """
    #playbooks { height: 1fr; }
    #sessions { height: 1fr; }
    .section { padding: 0 1; text-style: bold; }
    #problems { height: auto; max-height: 6; color: $error; padding: 0 1; }
    """
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("r", "reload", "Reload", id="reload"),
        Binding("tab", "focus_next", "Next pane", show=False, id="focus-next"),
    ]

    def __init__(self, playbook_dirs: list[Path], start_run: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.playbook_dirs = playbook_dirs
        self.start_run = start_run
        self.problems: dict[str, list[str]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static("Playbooks", classes="section")
            yield DataTable(id="playbooks", cursor_type="row")
            yield Static("", id="problems")
            yield Static("Past sessions", classes="section")
            yield DataTable(id="sessions", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        pb = self.query_one("#playbooks", DataTable)
        pb.add_columns("playbook", "state", "title")
        ss = self.query_one("#sessions", DataTable)
        ss.add_columns("session", "playbook", "mode", "status", "last step")
        self.action_reload()

    def action_reload(self) -> None:
        pb = self.query_one("#playbooks", DataTable)
        pb.clear()
        self.problems.clear()
        for f in loader.find_playbooks([str(d) for d in self.playbook_dirs]):
            playbook, problems = loader.load(f)
            state = Text("valid", style="green") if not problems else Text(f"{len(problems)} problem(s)", style="bold red")
            title = playbook.title if playbook else ""
            pb.add_row(Text(f.name), state, Text(title), key=str(f))
            self.problems[str(f)] = [str(p) for p in problems]
        ss = self.query_one("#sessions", DataTable)
        ss.clear()
        for s in reversed(store.list_sessions()[-50:]):
            m = s.summary()
            ss.add_row(*(Text(str(m[k])) for k in ("session", "playbook", "mode", "status", "last_step")), key=m["session"])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "playbooks" or event.row_key.value is None:
            return
        probs = self.problems.get(event.row_key.value, [])
        self.query_one("#problems", Static).update(Text("\n".join(probs[:5])))
