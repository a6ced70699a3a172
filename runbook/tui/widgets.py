"""Widgets of the run screen. Text from live systems is always rich.text.Text (never markup)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static
from textual.worker import Worker, WorkerState

from runbook.targets import Target
from runbook.text import human_field

SEV_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
STATE_ICON = {"pending": "·", "current": "▶", "done": "✓", "blocked": "✗", "skipped": " "}


def finding_text(f: dict[str, Any], wide: bool = True) -> Text:
    t = Text()
    t.append(f"{f['severity'].upper()} ", style=SEV_STYLE.get(f["severity"], ""))
    t.append(f"{f['id']}\n", style="bold")
    t.append(f"{f['title']}\n\n")
    if f.get("evidence"):
        t.append("Evidence\n", style="bold underline")
        for k, v in f["evidence"].items():
            t.append(f"  {k}: ", style="bold")
            text = human_field(k, v)
            t.append(("\n    " + text.replace("\n", "\n    ") if "\n" in text else text) + "\n")
        t.append("\n")
    t.append("Why it matters\n", style="bold underline")
    t.append(f"  {f.get('why', '')}\n\n")
    t.append("What to do\n", style="bold underline")
    t.append(f"  {f.get('action', '')}\n")
    return t


class TargetPanel(Vertical):
    """A live panel for one target, polled in a worker; the next poll is armed only when the last one
    has finished, so a hung host never piles up polls (and never blocks the screen)."""

    DEFAULT_CSS = """
    TargetPanel { height: auto; border: round $panel; padding: 0 1; margin-bottom: 1; }
    TargetPanel Sparkline { height: 2; }
    """

    def __init__(self, target: Target, interval: float = 2.0, timeout: float = 1.5, live: bool = True) -> None:
        super().__init__()
        from runbook.kind import kind

        self.target = target
        self.interval = interval
        self.timeout = timeout
        k = kind(target.kind)
        self.panel = k.panel() if k and k.panel else None  # what the kind shows of a live target
        self.live = live and self.panel is not None
        self.border_title = f"{target.name} ({target.kind})"

    def compose(self) -> ComposeResult:
        idle = "replay: no live polling" if self.panel is not None else f"no live panel for a {self.target.kind} target"
        yield Static(Text("not polled yet" if self.live else idle), id="summary")
        if self.panel is not None and self.panel.charted:
            yield Sparkline([0.0], id="spark")

    def on_mount(self) -> None:
        if self.live:
            self.poll()

    @work(thread=True, exclusive=True, exit_on_error=False, group="poll")
    def poll(self) -> dict[str, Any]:
        return self.panel.poll(self.target, self.timeout)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "poll":
            return
        if event.state == WorkerState.SUCCESS:
            self.show(event.worker.result or {})
        elif event.state == WorkerState.ERROR:
            self.show({"reachable": False, "error": str(event.worker.error)})
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED) and self.is_attached:
            self.set_timer(self.interval, self.poll)

    def show(self, s: dict[str, Any]) -> None:
        summary = self.query_one("#summary", Static)
        if not s.get("reachable"):
            summary.update(Text(f"UNKNOWN: {s.get('error')}", style="bold red"))
            return
        lines = self.panel.lines(s)
        if any(label for label, _, _ in lines):
            t = Table.grid(padding=(0, 1))
            t.add_column(style="bold")
            t.add_column()
            for label, text, style in lines:
                t.add_row(label, Text(text, style=style))
            summary.update(t)
        else:
            summary.update(Text("\n".join(text for _, text, _ in lines)))
        if self.panel.charted:
            self.query_one("#spark", Sparkline).data = self.panel.chart or [0.0]


class StepInfo(Static):
    """The current step: what it is, and for an instruction what to do."""


def guards_table(guards: list[dict[str, Any]]) -> Group:
    """Every guard's verdict first, one line each (at 80x24 a long evidence never hides a second guard),
    then each guard's evidence under its name."""
    rows = []
    for g in guards:
        t = Text()
        t.append("PASS  " if g["passed"] else ("UNKNOWN " if g.get("unknown") else "BLOCK "),
                 style="green" if g["passed"] else "bold red")
        t.append(str(g["guard"]))
        if g.get("reason") and g["reason"] != g["guard"]:
            t.append(f": {g['reason']}")
        rows.append(t)
    for g in guards:
        if not g.get("evidence"):
            continue
        rows.append(Text(f"{g['guard']}", style="dim bold"))
        for k, v in g["evidence"].items():
            value = ", ".join(human_field(k, x) for x in v) if isinstance(v, (list, tuple)) else human_field(k, v)
            rows.append(Text(f"      {k}: {value}", style="dim"))
    return Group(*rows) if rows else Group(Text("no guards"))
