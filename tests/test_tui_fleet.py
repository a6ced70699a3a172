"""`runbook fleet --tui` on real parts: two redis-servers (one at its memory limit), Debian's redis_exporter
and a real Prometheus. The table stays responsive while Prometheus does not answer (SIGSTOPped: the
queries wait in a worker thread), is filtered as you type and sorted; Enter checks the instance live and
shows both views side by side."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal

import pytest
import redis as redis_py

from prometheus import PROMETHEUS, REDIS_EXPORTER, Prometheus, RedisExporter, redis_job, wait_for as wait_until
from redis_server import RedisServer
from tui_helpers import wait_for

pytestmark = pytest.mark.skipif(not (PROMETHEUS and REDIS_EXPORTER and shutil.which("redis-server")),
                                reason="needs prometheus, prometheus-redis-exporter, redis-server")
os.environ["TEXTUAL_ANIMATIONS"] = "none"


@pytest.fixture
def two(tmp_path):
    started: list = []
    try:
        full = RedisServer(tmp_path, "full", conf="maxmemory 2mb\nmaxmemory-policy noeviction\n").start()
        started.append(full)
        ok = RedisServer(tmp_path, "ok").start()
        started.append(ok)
        c = full.client()
        for i in range(100_000):
            try:
                c.set(f"k{i}", "x" * 200)
            except redis_py.exceptions.ResponseError:
                break
        ex = RedisExporter(tmp_path, "ex").start()
        started.append(ex)
        prom = Prometheus(tmp_path, "prometheus")
        started.append(prom)
        prom.start_jobs([redis_job(ex, [full.url, ok.url])])
        wait_until(lambda: len(prom.query("redis_up == 1")) == 2 and prom.query("redis_errors_total > 0"),
                   "both servers scraped, the refused writes counted")
        yield prom, full, ok
    finally:
        for p in reversed(started):
            if isinstance(p, Prometheus) and p.proc and p.proc.poll() is None:
                os.kill(p.proc.pid, signal.SIGCONT)
            p.stop()


def test_the_fleet_table_filters_sorts_and_drills_in_live(two) -> None:
    from textual.widgets import DataTable, Input

    from runbook.redis.fleet import FleetSource
    from runbook.tui.app import RunbookApp
    from runbook.tui.fleet import FleetScreen, LiveScreen

    prom, full, ok = two

    async def go() -> None:
        app = RunbookApp(playbook_dirs=[], fleet=FleetSource(prom.url, window="1m", timeout=20))
        os.kill(prom.proc.pid, signal.SIGSTOP)  # Prometheus does not answer: the queries wait in the worker
        stopped = True
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen))
                screen = app.screen
                table = screen.query_one("#fleet-table", DataTable)
                assert table.loading and table.row_count == 0
                screen.query_one("#fleet-filter", Input).focus()
                await pilot.press(*"memory")  # the screen takes keys while the queries wait
                await pilot.pause(0.2)
                assert screen.query_one("#fleet-filter", Input).value == "memory" and table.loading
                os.kill(prom.proc.pid, signal.SIGCONT)
                stopped = False
                await wait_for(pilot, lambda: not table.loading and screen.rows, timeout=30)
                assert table.row_count == 1  # the filter holds: only the server at its limit
                assert table.get_row_at(0)[1].plain == full.url
                assert "maxmemory_reached" in table.get_row_at(0)[3].plain
                screen.query_one("#fleet-filter", Input).value = ""
                await pilot.pause(0.2)
                assert table.row_count == 2 and table.get_row_at(0)[0].plain == "CRITICAL"
                table.focus()
                await pilot.press("s")  # by instance
                await pilot.pause(0.1)
                assert [table.get_row_at(i)[1].plain for i in range(2)] == sorted([full.url, ok.url])
                await pilot.press("s", "s", "s")  # back to worst first
                await pilot.pause(0.1)
                assert table.get_row_at(0)[1].plain == full.url
                table.move_cursor(row=0)
                await pilot.press("enter")
                await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.view is not None,
                               timeout=30)
                view = app.screen.view
                rows = {fid: (a, b) for fid, a, b in view["rows"]}
                assert rows["redis.memory.maxmemory_reached"] == ("critical", "critical")
                assert view["live"]["age_s"] >= 0 and view["prometheus"]["age_s"] is not None
                # what only the live check can see is said to be so, not left blank
                assert any(a == "not from Prometheus" for a, _ in rows.values()), rows
                await pilot.press("escape")
                await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen))
        finally:
            if stopped:
                os.kill(prom.proc.pid, signal.SIGCONT)

    asyncio.run(go())
