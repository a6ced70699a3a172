"""From the page to the playbook, against a real Alertmanager (Debian's prometheus-alertmanager): firing
alerts listed with the playbook that handles each and the targets its labels bind; `run --alert` starts it
with the alert in the journal and the timeline; an Alertmanager that cannot be read is one line."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import threading
import time

import pytest

from alertmanager import BINARY, Alertmanager
from conftest import ROOT, runbook
from redis_server import RedisServer, refused_port

needs_am = pytest.mark.skipif(not BINARY, reason="needs prometheus-alertmanager")


@pytest.fixture
def am(tmp_path):
    a = Alertmanager(tmp_path).start()
    yield a
    a.stop()


@needs_am
def test_firing_alerts_are_listed_with_the_playbook_that_handles_each_and_their_targets(am, tmp_path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text("targets:\n  db7: {url: 'ssh://root@db7.example'}\n  cache: {url: 'redis://10.0.0.9:6379'}\n")
    am.fire("RedisOutOfConfiguredMaxmemory", {"instance": "redis://10.0.0.5:6379", "job": "redis"},
            {"summary": "10.0.0.5 uses over 90% of its maxmemory"})
    am.fire("HostOutOfMemory", {"instance": "db7.example:9100", "job": "node"})  # the exporter's address: the inventory
    am.fire("RedisRejectedConnections", {"instance": "10.0.0.9:9121"})  # another port than the server's: not a guess
    am.fire("CustomLatencyPage", {"instance": "redis://10.0.0.5:6379"},
            {"runbook_url": "https://wiki.example.com/runbooks/redis-latency.yaml"})
    am.fire("RedisSlowCommandsPiling", {"instance": "redis://10.0.0.5:6379"})
    r = runbook("alerts", "--alertmanager", am.url, "-i", str(inv), "--json")
    assert r.returncode == 0, r.stderr
    by = {a["alertname"]: a for a in json.loads(r.stdout)}
    mem = by["RedisOutOfConfiguredMaxmemory"]
    assert mem["playbook"] == "redis-memory-limit" and mem["targets"] == {"redis": "redis://10.0.0.5:6379"}
    assert mem["annotations"]["summary"].startswith("10.0.0.5") and mem["starts_at"] and mem["fingerprint"]
    host = by["HostOutOfMemory"]
    assert host["playbook"] == "host-memory" and host["targets"] == {"host": "ssh://root@db7.example"}
    rejected = by["RedisRejectedConnections"]
    assert rejected["playbook"] == "redis-clients" and not rejected["targets"]
    assert "10.0.0.9:9121" in rejected["missing_targets"][0] and "inventory" in rejected["missing_targets"][0]
    assert by["CustomLatencyPage"]["playbook"] == "redis-latency"  # its rule's runbook_url names the playbook
    unknown = by["RedisSlowCommandsPiling"]
    assert unknown["playbook"] is None and "redis-latency" in unknown["closest_playbooks"]
    text = runbook("alerts", "--alertmanager", am.url, "-i", str(inv)).stdout
    assert "playbook redis-memory-limit: redis=redis://10.0.0.5:6379" in text
    assert f"runbook run --alert {mem['fingerprint']}" in text and "no playbook handles it; closest: " in text


@needs_am
def test_run_alert_starts_its_playbook_with_the_targets_bound_and_the_alert_in_the_journal(am, tmp_path) -> None:
    from runbook.journal import store
    from runbook.journal.export import export_markdown

    s = RedisServer(tmp_path, "r").start()
    try:
        fp = am.fire("RedisOutOfConfiguredMaxmemory", {"instance": s.url, "job": "redis"},
                     {"summary": "over 90% of maxmemory", "runbook_url": "https://wiki.example.com/redis-memory-limit"})
        answers = tmp_path / "answers.yaml"
        answers.write_text("{}\n")
        r = runbook("run", "--alert", fp[:8], "--alertmanager", am.url, "--headless", "--answers", str(answers),
                    timeout=120)
        assert "session live of redis-memory-limit" in r.stdout, r.stdout + r.stderr
        assert f"alert RedisOutOfConfiguredMaxmemory ({fp})" in r.stdout
        journal = store.read(next((store.sessions_dir()).glob("*.jsonl")))
        started = journal.started.data
        assert started["alert"]["fingerprint"] == fp and started["alert"]["labels"]["instance"] == s.url
        assert [t["url"] for t in started["targets"]] == [s.url]
        md = export_markdown(journal)
        assert "- Alert: RedisOutOfConfiguredMaxmemory" in md and "annotation summary: over 90% of maxmemory" in md
    finally:
        s.stop()
    # an alert that is not firing, and one whose targets its labels do not give, are said plainly
    r = runbook("run", "--alert", "0000dead", "--alertmanager", am.url, "--headless")
    assert r.returncode == 2 and "no firing alert has the fingerprint" in r.stderr
    fp = am.fire("RedisTooManyConnections", {"instance": "10.1.1.1:9121"})
    r = runbook("run", "--alert", fp, "--alertmanager", am.url, "--headless")
    assert r.returncode == 2 and "opens redis-clients, but redis:" in r.stderr and "Traceback" not in r.stderr


class _Garbage(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"<html>a login page</html>")

    def log_message(self, *a) -> None:
        pass


def test_an_alertmanager_that_cannot_be_read_is_one_line_and_exit_3(tmp_path) -> None:
    garbage = http.server.HTTPServer(("127.0.0.1", 0), _Garbage)
    threading.Thread(target=garbage.serve_forever, daemon=True).start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts, never answers
    closed_port = refused_port()
    try:
        for url, said in ((f"http://127.0.0.1:{garbage.server_port}", "not JSON"),
                          (f"http://127.0.0.1:{silent.getsockname()[1]}", "no answer within 1 s"),
                          (f"http://127.0.0.1:{closed_port}", "cannot reach it"),
                          ("ftp://127.0.0.1/", "starts with http")):
            t = time.monotonic()
            r = runbook("alerts", "--alertmanager", url, "--timeout", "1")
            assert r.returncode == 3 and said in r.stderr and len(r.stderr.strip().splitlines()) == 1, (url, r.stderr)
            assert time.monotonic() - t < 30  # a hang, not a speed (a loaded machine starts Python in seconds)
    finally:
        garbage.shutdown()
        silent.close()


def test_alert_declarations_are_validated() -> None:
    from runbook.playbook import loader

    bad = ROOT / "tests" / "data" / "alerts-bad.yaml"
    problems = [p.message for p in loader.load(bad)[1]]
    assert any("alertname must be a Prometheus alert name" in p for p in problems)
    assert any("'nope' is not a target of this playbook" in p for p in problems)
    assert any("inputs: 'mount' is not an input of this playbook" in p for p in problems)
    assert any("inputs: path:" in p and "reads only labels and annotations" in p for p in problems), problems
    assert any("an alert's binding reads only labels and annotations" in p for p in problems)
    assert any("only an alert's targets read these" in p for p in problems)


@pytest.mark.skipif(not shutil.which("promtool"), reason="needs promtool (Debian's prometheus)")
def test_the_example_rules_load_in_prometheus_and_each_alert_opens_the_playbook_its_runbook_url_names() -> None:
    import subprocess

    import yaml

    from runbook import alerts
    from runbook.playbook import loader

    rules = ROOT / "examples" / "prometheus" / "runbook-rules.yml"
    r = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    playbooks = [loader.load(f)[0] for f in loader.find_playbooks([str(ROOT / "playbooks")])]
    for group in yaml.safe_load(rules.read_text())["groups"]:
        for rule in group["rules"]:
            alert = alerts.Alert("f", {"alertname": rule["alert"]}, rule["annotations"], "")
            declared = [pb.name for pb in playbooks if alerts.handles(pb, alert)]
            assert declared == [alerts.by_runbook_url(alert, playbooks).name], rule["alert"]


@needs_am
async def test_the_tui_home_lists_the_firing_alerts_and_enter_starts_the_playbook_with_its_targets(am, tmp_path) -> None:
    """The home lists what fires (refreshed in the background); Enter on an alert binds the playbook's
    targets from its labels (shown to the engineer before anything starts) and the run's journal holds it.
    An Alertmanager that cannot be read is one line, and the rest of the home works."""
    from textual.widgets import DataTable, Static

    from runbook.journal import store
    from runbook.tui.app import RunbookApp
    from runbook.tui.modals import BindTargetsScreen
    from runbook.tui.run import RunScreen
    from tui_helpers import press_to_quit, wait_for

    fp = am.fire("RedisOutOfConfiguredMaxmemory", {"instance": "redis://127.0.0.1:6390", "job": "redis"})
    am.fire("RedisSlowCommandsPiling", {"instance": "redis://127.0.0.1:6390"})
    app = RunbookApp([ROOT / "playbooks"], discover=False, alertmanager=am.url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#alerts", DataTable).row_count == 2, what="two alerts listed")
        table = app.screen.query_one("#alerts", DataTable)
        rows = {str(table.get_row(k)[0]): [str(c) for c in table.get_row(k)] for k in table.rows}
        assert rows["RedisOutOfConfiguredMaxmemory"][2:] == ["redis-memory-limit", "redis=redis://127.0.0.1:6390"]
        assert rows["RedisSlowCommandsPiling"][2].startswith("none (closest: ")
        assert app.screen.query_one("#playbooks", DataTable).row_count > 0  # the rest of the home is there
        table.focus()
        table.move_cursor(row=table.get_row_index(fp))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BindTargetsScreen), what="the binding screen")
        assert app.screen.query_one("#role-redis").value == "redis://127.0.0.1:6390"
        app.screen.query_one("#dry").press()
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), what="the run screen")
        await wait_for(pilot, lambda: list(store.sessions_dir().glob("*.jsonl")), what="a journal")
        await wait_for(pilot, lambda: store.read(next(store.sessions_dir().glob("*.jsonl"))).started is not None,
                       what="the session's start")
        started = store.read(next(store.sessions_dir().glob("*.jsonl"))).started.data
        assert started["alert"]["fingerprint"] == fp and started["mode"] == "dry-run"
        await press_to_quit(pilot)

    dead = RunbookApp([ROOT / "playbooks"], discover=False, alertmanager="http://127.0.0.1:1")
    async with dead.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: "cannot read the alerts" in str(dead.screen.query_one("#alerts-status", Static).render()),
                       what="the Alertmanager's one line")
        await wait_for(pilot, lambda: dead.screen.query_one("#playbooks", DataTable).row_count > 0, what="the playbooks")
