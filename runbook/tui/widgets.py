"""Widgets of the run screen. Text from live systems is always rich.text.Text (never markup)."""

from __future__ import annotations

import time
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
from runbook.text import human_bytes, human_value

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
            text = human_value(v)
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
        self.target = target
        self.interval = interval
        self.timeout = timeout
        self.live = live
        self.history: list[float] = []
        self._last_gc: float | None = None
        self._last_t: float | None = None
        self.border_title = f"{target.name} ({target.kind})"

    def compose(self) -> ComposeResult:
        yield Static(Text("not polled yet" if self.live else "replay: no live polling"), id="summary")
        if self.target.kind == "jvm":
            yield Sparkline([0.0], id="spark")

    def on_mount(self) -> None:
        if self.live and self.target.kind in ("redis", "jvm"):
            self.poll()

    @work(thread=True, exclusive=True, exit_on_error=False, group="poll")
    def poll(self) -> dict[str, Any]:
        if self.target.kind == "redis":
            from runbook.redis.check import live_summary

            return live_summary(self.target.url, self.timeout)
        from runbook.jvm.live import live_summary as jvm_summary

        return jvm_summary(self.target, self.timeout)

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
        if self.target.kind == "redis":
            t = Table.grid(padding=(0, 1))
            t.add_column(style="bold")
            t.add_column()
            t.add_row("role", Text(str(s.get("role"))))
            t.add_row("ops/s", Text(str(s.get("ops_per_sec"))))
            t.add_row("memory", Text(str(s.get("used_memory_human"))))
            t.add_row("clients", Text(str(s.get("clients"))))
            t.add_row("keys", Text(human_value(s.get("keys"))))
            persist = f"rdb {s.get('rdb_last_bgsave_status')}, {s.get('rdb_changes_since_last_save')} unsaved, aof {'on' if s.get('aof_enabled') else 'off'}"
            t.add_row("persistence", Text(persist, style="red" if s.get("rdb_last_bgsave_status") == "err" else ""))
            if s.get("role") == "slave":
                t.add_row("link", Text(str(s.get("master_link_status")), style="red" if s.get("master_link_status") != "up" else ""))
            for r in s.get("replicas", [])[:6]:
                t.add_row("replica", Text(f"{r['addr']} {r['state']} lag {human_bytes(r['lag_bytes'])}",
                                          style="" if r["state"] == "online" else "yellow"))
            summary.update(t)
        else:
            now = time.monotonic()
            gc = s.get("gc_time_s")
            if gc is not None and self._last_gc is not None and self._last_t:
                rate = max(0.0, (gc - self._last_gc) / (now - self._last_t) * 100)
                self.history = (self.history + [rate])[-60:]
            self._last_gc, self._last_t = gc, now
            pauses = s.get("recent_pauses_ms") or []
            # recent pauses from the JVM's GC log when it has one, else the share of time in GC per poll
            self.query_one("#spark", Sparkline).data = pauses or self.history or [0.0]
            bits = []
            if s.get("old_pct") is not None:
                bits.append(f"eden {s.get('eden_pct')}%  old {s.get('old_pct')}%")
            if s.get("heap_used_bytes") is not None:
                bits.append(f"heap {human_bytes(s['heap_used_bytes'])} of {human_bytes(s.get('heap_max_bytes') or 0)}")
            if s.get("young_gcs") is not None:
                bits.append(f"young GCs {s.get('young_gcs'):.0f}  full GCs {s.get('full_gcs'):.0f}")
            bits.append(f"time in GC: {self.history[-1]:.1f}% of the last poll" if self.history else "time in GC: measuring")
            if pauses:
                bits.append(f"last {len(pauses)} pauses (chart): max {max(pauses):.1f} ms, last {pauses[-1]:.1f} ms")
            summary.update(Text("\n".join(bits)))


class StepInfo(Static):
    """The current step: what it is, and for an instruction what to do."""


def guards_table(guards: list[dict[str, Any]]) -> Group:
    rows = []
    for g in guards:
        t = Text()
        t.append("PASS  " if g["passed"] else "BLOCK ", style="green" if g["passed"] else "bold red")
        t.append(str(g["guard"]))
        if g.get("reason") and g["reason"] != g["guard"]:
            t.append(f": {g['reason']}")
        rows.append(t)
        for k, v in (g.get("evidence") or {}).items():
            value = ", ".join(human_value(x) for x in v) if isinstance(v, (list, tuple)) else human_value(v)
            rows.append(Text(f"      {k}: {value}", style="dim"))
    return Group(*rows) if rows else Group(Text("no guards"))
