"""The GC report: statistics, findings, and pauses over time as a chart. The log is read in a worker
with progress, so a log that takes seconds to read never freezes the screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Group
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


def bucketed(ts: list[float], vs: list[float], pick: Any, buckets: int = BUCKETS) -> list[float]:
    """One value per stretch of the log's time (pick: max for pauses, min for the heap's floor)."""
    if not ts:
        return [0.0]
    t0, t1 = min(ts), max(ts)
    if t1 <= t0:
        return [pick(vs)]
    out: list[float | None] = [None] * buckets
    width = (t1 - t0) / buckets
    for t, v in zip(ts, vs):
        b = min(int((t - t0) / width), buckets - 1)
        out[b] = v if out[b] is None else pick(out[b], v)
    last = 0.0
    filled = []
    for v in out:  # an empty stretch shows the value before it
        last = v if v is not None else last
        filled.append(last)
    return filled


def pause_chart(series: dict[str, list[float]], buckets: int = BUCKETS) -> list[float]:
    """The longest pause in each stretch of the log's time: what the chart draws."""
    return bucketed(series.get("t") or [], series.get("pause_ms") or [], max, buckets)


def heap_chart(series: dict[str, list[float]], buckets: int = BUCKETS) -> list[float]:
    """The heap after GC in each stretch (its floor: the live set), in MB."""
    return [b / 1048576 for b in bucketed(series.get("after_t") or [], series.get("after_b") or [], min, buckets)]


def _when(ev: dict[str, Any]) -> str:
    """Where in the log a finding happened, from its evidence."""
    if "first_s" in ev:
        a, b = float(ev["first_s"]), float(ev.get("last_s", ev["first_s"]))
        digits = 0 if b - a >= 10 else 1  # a stretch of a few seconds is not "1-1"
        first, last = f"{a:,.{digits}f}", f"{b:,.{digits}f}"
        return first if first == last else f"{first}–{last}"
    if "since_s" in ev:
        return f"from {ev['since_s']:,.0f}"
    if "cluster_start_s" in ev:
        return f"from {ev['cluster_start_s']:,.0f}"
    return ""


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
            yield Static(Text("Findings", style="bold"), classes="section")
            yield DataTable(id="gc-findings", cursor_type="row")
            yield Static(Text("Longest pause over time", style="bold"), classes="section")
            yield Sparkline([0.0], id="gc-chart")
            yield Static("", id="gc-axis")
            yield Static(Text("Heap after GC over time (the live set)", style="bold"), classes="section")
            yield Sparkline([0.0], id="gc-heap")
            yield Static("", id="gc-heap-axis")
            yield Static(Text("Pauses by kind, and stalls", style="bold"), classes="section")
            yield Static("", id="gc-kinds")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = "runbook: GC report"
        table = self.query_one("#gc-findings", DataTable)
        table.add_column("sev", key="sev")
        table.add_column("finding", key="finding")
        table.add_column("when (s)", key="when")
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
        self._more_views(r)
        width = max(20, self.size.width - 6 - 8 - 16)
        table.columns["finding"].width = width  # titles wrap in their column instead of being cut
        table.columns["finding"].auto_width = False
        for i, f in enumerate(r["findings"]):
            title = Text(f"{f['id']}: {f['title']}")
            table.add_row(Text(f["severity"][:4].upper(), style={"critical": "bold red", "warning": "yellow"}.get(f["severity"], "cyan")),
                          title, Text(_when(f["evidence"])), key=str(i),
                          height=max(1, len(title.wrap(self.app.console, width))))
        table.focus()  # the findings are what this screen is about: arrows and Enter work at once

    def _more_views(self, r: dict[str, Any]) -> None:
        """The live set against the maximum heap; pauses by kind; stalls beside pauses."""
        series = r["series"]
        heap = heap_chart(series)
        self.query_one("#gc-heap", Sparkline).data = heap
        max_mb = r.get("max_heap_mb")
        if series.get("after_t"):
            line = f"floor {min(heap):,.0f} MB → {heap[-1]:,.0f} MB at the end"
            if max_mb:
                line += f"; maximum heap {max_mb:,.0f} MB (the end is {100 * heap[-1] / max_mb:.0f}% of it)"
            self.query_one("#gc-heap-axis", Static).update(Text(line, style="dim"))
        t = Table.grid(padding=(0, 2))
        for col in ("kind", "count", "p50 ms", "p99 ms", "max ms"):
            t.add_column(col, justify="left" if col == "kind" else "right")
        t.add_row(*(Text(c, style="bold") for c in ("kind", "count", "p50 ms", "p99 ms", "max ms")))
        for kind, k in r["pauses_by_kind"].items():
            if k["count"]:
                t.add_row(Text(kind), f"{k['count']:,}", f"{k['p50_ms']:,.1f}", f"{k['p99_ms']:,.1f}", f"{k['max_ms']:,.1f}")
        stalled = r.get("stalled_ms") or 0
        worst = r.get("worst_window") or {}
        notes = [f"stalls (threads waiting outside pauses): {stalled / 1000:,.2f} s beside {r['pauses']['total_ms'] / 1000:,.2f} s of pauses"]
        if worst:
            notes.append(f"worst {worst['length_s']:.0f} s from {worst['start_s']:,.0f} s: {worst['throughput_pct']:.1f}% throughput")
        self.query_one("#gc-kinds", Static).update(Group(t, Text("\n".join(notes), style="dim")))

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
