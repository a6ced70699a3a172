"""The GC report: statistics, findings, and pauses over time as a chart. The log is read in a worker
with progress, so a log that takes seconds to read never freezes the screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, ProgressBar, Sparkline, Static
from textual.worker import Worker, WorkerState, get_current_worker

BUCKETS = 120


def pause_chart(series: dict[str, list[float]], buckets: int = BUCKETS) -> list[float]:
    """The longest pause in each stretch of the log's time: what the chart draws."""
    ts, ms = series.get("t") or [], series.get("pause_ms") or []
    if not ts:
        return [0.0]
    t0, t1 = min(ts), max(ts)
    if t1 <= t0:
        return [max(ms)]
    out = [0.0] * buckets
    width = (t1 - t0) / buckets
    for t, m in zip(ts, ms):
        b = min(int((t - t0) / width), buckets - 1)
        if m > out[b]:
            out[b] = m
    return out


class GcReportScreen(Screen[None]):
    BINDINGS = [Binding("escape,q", "app.quit", "Quit", id="gc-quit"),
                Binding("c", "copy", "Copy finding", id="gc-copy")]

    def __init__(self, files: list[str]) -> None:
        super().__init__()
        self.files = files
        self.result: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with VerticalScroll(id="gc"):
            yield Static(Text(f"Reading {', '.join(Path(f).name for f in self.files)}…"), id="gc-summary")
            yield ProgressBar(total=100, id="gc-progress", show_eta=False)
            yield Static(Text("Longest pause over time", style="bold"), classes="section")
            yield Sparkline([0.0], id="gc-chart")
            yield Static("", id="gc-axis")
            yield Static(Text("Findings", style="bold"), classes="section")
            yield DataTable(id="gc-findings", cursor_type="row")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = "runbook: GC report"
        table = self.query_one("#gc-findings", DataTable)
        table.add_column("sev", key="sev")
        table.add_column("finding", key="finding")
        self.analyze()

    @work(thread=True, exclusive=True, group="gc", exit_on_error=False)
    def analyze(self) -> dict[str, Any]:
        from runbook.jvm.gclog.analyze import analyze
        from runbook.jvm.gclog.read import read_logs

        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            if not worker.is_cancelled:
                self.app.call_from_thread(self.query_one("#gc-progress", ProgressBar).update, progress=100 * done / max(total, 1))

        return analyze(read_logs(self.files, progress=progress, workers=1))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "gc":
            return
        if event.state == WorkerState.ERROR:
            self.query_one("#gc-summary", Static).update(Text(f"Cannot read: {event.worker.error}", style="bold red"))
            self.query_one("#gc-progress", ProgressBar).display = False
            for chart in self.query("#gc-chart"):
                chart.display = False
            self.app.exit_status = 3  # as `gc analyze` without the screen: could not read
        elif event.state == WorkerState.SUCCESS:
            self.show(event.worker.result)

    def show(self, r: dict[str, Any]) -> None:
        self.result = r
        self.query_one("#gc-progress", ProgressBar).display = False
        p = r["pauses"]
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column()
        t.add_row("collector", Text(f"{r['collector'] or 'unknown'} ({r['format']}{', JDK ' + r['jdk'] if r['jdk'] else ''})"))
        t.add_row("log", Text(f"{r['duration_s']:,.1f} s" + (f", {r['restarts']} JVM restart(s)" if r["restarts"] else "")))
        t.add_row("pauses", Text(f"{p['count']:,}  total {p['total_ms'] / 1000:,.2f} s  p50 {p['p50_ms']:.1f}  p99 {p['p99_ms']:.1f}  max {p['max_ms']:.1f} ms"))
        tp = r["throughput_pct"]
        t.add_row("throughput", Text("-" if tp is None else f"{tp:.2f} %", style="red" if tp is not None and tp < 95 else ""))
        t.add_row("full GCs", Text(str(r["full_gcs"])))
        t.add_row("allocation", Text("-" if r["allocation_rate_mb_s"] is None else f"{r['allocation_rate_mb_s']:,.1f} MB/s"))
        self.query_one("#gc-summary", Static).update(t)
        self.query_one("#gc-chart", Sparkline).data = pause_chart(r["series"])
        ts = r["series"]["t"]
        if ts:
            self.query_one("#gc-axis", Static).update(Text(f"{min(ts):,.0f} s → {max(ts):,.0f} s (uptime); tallest bar {p['max_ms']:,.1f} ms", style="dim"))
        table = self.query_one("#gc-findings", DataTable)
        width = max(20, self.size.width - 6 - 8)
        table.columns["finding"].width = width  # titles wrap in their column instead of being cut
        table.columns["finding"].auto_width = False
        for i, f in enumerate(r["findings"]):
            title = Text(f"{f['id']}: {f['title']}")
            table.add_row(Text(f["severity"][:4].upper(), style={"critical": "bold red", "warning": "yellow"}.get(f["severity"], "cyan")),
                          title, key=str(i), height=max(1, len(title.wrap(self.app.console, width))))
        table.focus()  # the findings are what this screen is about: arrows and Enter work at once

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from runbook.tui.modals import FindingScreen

        if self.result:
            self.app.push_screen(FindingScreen(self.result["findings"][int(event.row_key.value)]))

    def action_copy(self) -> None:
        from runbook.tui.widgets import finding_text

        if self.result and self.result["findings"]:
            table = self.query_one("#gc-findings", DataTable)
            self.app.copy_to_clipboard(finding_text(self.result["findings"][table.cursor_row]).plain)
            self.notify("finding copied (OSC 52)")
