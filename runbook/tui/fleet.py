"""The fleet: every instance a Prometheus knows, worst first, in a table that stays responsive while the
queries run (they run in a worker thread). Sortable (a column's header, or `s`), filtered as you type
(instance, finding ids, status, role); Enter checks the instance live and shows both views side by side,
each with its age. The screen renders what its source gives (plain data): it knows nothing of Redis."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static
from textual.worker import Worker, WorkerState

from runbook.tui.widgets import SEV_STYLE

SHOWN = 2000  # rows in the table at once: a filter narrows 10,000 instances to what matters
STATUS_STYLE = {"critical": "bold red", "unknown": "bold magenta", "warning": "yellow", "ok": "green"}
SORTS = ("rank", "instance", "findings", "age_s")


def _age(s: Any) -> str:
    return "?" if s is None else f"{s:,.0f} s" if s >= 10 else f"{s:.1f} s"


class FleetScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q", "app.quit", "Quit", id="fleet-quit"),
        Binding("r", "reload", "Reload", id="fleet-reload"),
        Binding("s", "sort", "Sort", id="fleet-sort"),
        Binding("slash", "filter", "Filter", id="fleet-filter"),
    ]

    def __init__(self, source: Any) -> None:
        super().__init__()
        self.source = source
        self.rows: list[dict[str, Any]] = []
        self.sort_by = "rank"

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(Text("Reading Prometheus…"), id="fleet-summary")
        yield Input(placeholder="filter: instance, finding id, status or role", id="fleet-filter")
        yield DataTable(id="fleet-table", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = "runbook: fleet"
        table = self.query_one("#fleet-table", DataTable)
        for label, key in (("status", "status"), ("instance", "instance"), ("role", "role"),
                           ("worst finding", "worst"), ("n", "findings"), ("age", "age_s")):
            table.add_column(label, key=key)
        self.action_reload()

    def action_reload(self) -> None:
        self.query_one("#fleet-table", DataTable).loading = True
        self.load()

    @work(thread=True, exclusive=True, group="fleet-load", exit_on_error=False)
    def load(self) -> dict[str, Any]:
        return self.source.load()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "fleet-load":
            return
        table = self.query_one("#fleet-table", DataTable)
        if event.state == WorkerState.ERROR:
            table.loading = False
            self.query_one("#fleet-summary", Static).update(Text(f"Cannot read: {event.worker.error}", style="bold red"))
            self.app.exit_status = 3
        elif event.state == WorkerState.SUCCESS:
            got = event.worker.result
            self.rows = got["rows"]
            self.app.exit_status = got.get("code", 0)
            self.query_one("#fleet-summary", Static).update(Text(got["title"]))
            table.loading = False
            self.fill()
            table.focus()

    def shown(self) -> list[dict[str, Any]]:
        """The rows the filter keeps (every word must appear), in the chosen order."""
        words = self.query_one("#fleet-filter", Input).value.lower().split()
        rows = [r for r in self.rows if all(w in f"{r['instance']} {r['status']} {r['role']} {r['ids']}".lower()
                                            for w in words)]
        key = self.sort_by
        if key == "rank":
            return rows
        if key == "findings":
            return sorted(rows, key=lambda r: (-r["findings"], r["rank"]))
        if key == "age_s":
            return sorted(rows, key=lambda r: (-(r["age_s"] or 0), r["rank"]))
        return sorted(rows, key=lambda r: r[key])

    def fill(self) -> None:
        table = self.query_one("#fleet-table", DataTable)
        rows = self.shown()
        with self.app.batch_update():
            table.clear()
            for r in rows[:SHOWN]:
                table.add_row(Text(r["status"].upper(), style=STATUS_STYLE.get(r["status"], "")), Text(r["instance"]),
                              Text(r["role"] or "-"), Text(r["worst"] or "-", style=SEV_STYLE.get(r["worst_severity"], "")),
                              Text(str(r["findings"])), Text(_age(r["age_s"])), key=r["instance"])
        more = len(rows) - SHOWN
        table.border_subtitle = f"{SHOWN:,} of {len(rows):,} shown: filter to narrow" if more > 0 else \
            f"{len(rows):,} of {len(self.rows):,}, by {self.sort_by}"

    @on(Input.Changed, "#fleet-filter")
    def _filtered(self) -> None:
        if self.rows:
            self.fill()

    @on(Input.Submitted, "#fleet-filter")
    def _to_table(self) -> None:
        self.query_one("#fleet-table", DataTable).focus()

    def action_filter(self) -> None:
        self.query_one("#fleet-filter", Input).focus()

    def action_sort(self) -> None:
        self.sort_by = SORTS[(SORTS.index(self.sort_by) + 1) % len(SORTS)]
        self.fill()

    @on(DataTable.HeaderSelected, "#fleet-table")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        self.sort_by = {"status": "rank", "worst": "rank", "role": "rank"}.get(key, key)
        self.fill()

    @on(DataTable.RowSelected, "#fleet-table")
    def _drill(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(LiveScreen(self.source, str(event.row_key.value)))


class LiveScreen(Screen[None]):
    """One instance: Prometheus' view beside the live check, each with its age."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="fleet-back"),
                Binding("r", "recheck", "Check again", id="fleet-recheck")]

    def __init__(self, source: Any, instance: str) -> None:
        super().__init__()
        self.source, self.instance = source, instance
        self.view: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(Text(f"{self.instance}: checking it live…"), id="live-title")
        with Horizontal(id="live-views"):
            with Vertical(classes="live-col"):
                yield Static(Text("Prometheus", style="bold"), id="live-prom-head")
                yield Static("", id="live-prom")
            with Vertical(classes="live-col"):
                yield Static(Text("live check", style="bold"), id="live-live-head")
                yield Static("", id="live-live")
        yield DataTable(id="live-compare", cursor_type="row")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = "runbook: fleet, one instance"
        table = self.query_one("#live-compare", DataTable)
        for label, key in (("finding", "id"), ("prometheus", "prom"), ("live", "live")):
            table.add_column(label, key=key)
        self.action_recheck()

    def action_recheck(self) -> None:
        self.query_one("#live-compare", DataTable).loading = True
        self.check()

    @work(thread=True, exclusive=True, group="fleet-live", exit_on_error=False)
    def check(self) -> dict[str, Any]:
        return self.source.live(self.instance)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "fleet-live":
            return
        table = self.query_one("#live-compare", DataTable)
        if event.state == WorkerState.ERROR:
            table.loading = False
            self.query_one("#live-title", Static).update(Text(f"{self.instance}: {event.worker.error}", style="bold red"))
        elif event.state == WorkerState.SUCCESS:
            self.show(event.worker.result)

    def show(self, v: dict[str, Any]) -> None:
        self.view = v
        p, lv = v["prometheus"], v["live"]
        self.query_one("#live-title", Static).update(Text(f"{v['instance']}"))
        self.query_one("#live-prom-head", Static).update(
            Text(f"Prometheus: {p['status'].upper()}, scraped {_age(p['age_s'])} ago", style="bold"))
        self.query_one("#live-live-head", Static).update(
            Text(f"live check: {lv['status'].upper()}, read {_age(lv['age_s'])} ago", style="bold"))

        def listing(findings: list[Any], error: str | None = None) -> Text:
            t = Text()
            if error:
                t.append(f"could not read: {error}\n", style="bold red")
            for sev, fid, title in findings:
                t.append(f"{sev[:4].upper():5}", style=SEV_STYLE.get(sev, ""))
                t.append(f"{fid}\n      {title}\n")
            return t if t.plain else Text("no findings", style="dim")

        self.query_one("#live-prom", Static).update(listing(p["findings"]))
        self.query_one("#live-live", Static).update(listing(lv["findings"], lv.get("error")))
        table = self.query_one("#live-compare", DataTable)
        table.loading = False
        table.clear()
        for fid, a, b in v["rows"]:
            table.add_row(Text(fid), Text(a, style=SEV_STYLE.get(a, "dim")), Text(b, style=SEV_STYLE.get(b, "dim")), key=fid)
        table.focus()
