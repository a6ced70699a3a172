"""Live JVMs: a real local JVM (psutil, jstat, jcmd) and remote ones over HTTP (a local server answering
in Jolokia's and Spring Boot actuator's JSON)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import ROOT, runbook
from runbook.jvm import live
from runbook.sandbox import java
from runbook.targets import Target

WORKLOAD = ROOT / "tests" / "jvm" / "GcWorkload.java"
needs_java = pytest.mark.skipif(not shutil.which("java") or not shutil.which("jcmd"), reason="no JDK")


def start_jvm(tmp: Path, *flags: str) -> subprocess.Popen:
    p = subprocess.Popen(["java", *flags, *java.program(WORKLOAD), "1", "60"], cwd=tmp, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until the JVM answers jcmd (it is up, the workload runs)
        r = subprocess.run(["jcmd", str(p.pid), "VM.version"], capture_output=True, text=True)
        if r.returncode == 0:
            return p
        time.sleep(0.2)
    p.kill()
    raise RuntimeError("the JVM did not come up")


@pytest.fixture
def jvm(tmp_path):
    procs: list[subprocess.Popen] = []

    def make(*flags: str) -> subprocess.Popen:
        p = start_jvm(tmp_path, *flags)
        procs.append(p)
        return p

    yield make
    for p in procs:
        p.kill()
        p.wait(10)


@needs_java
def test_local_jvm_settings_jstat_and_log_rotation(jvm, tmp_path) -> None:
    p = jvm("-XX:+UseParallelGC", "-Xmx80m", f"-Xlog:gc*:file={tmp_path}/gc.log::filecount=0")
    r = runbook("jvm", "check", str(p.pid), "--json")
    [rep] = json.loads(r.stdout)
    f = rep["facts"]
    assert f["collector"] == "Parallel" and f["xmx_bytes"] == 80 * 1024 * 1024
    assert f["gc_log_path"] == f"{tmp_path}/gc.log" and f["gc_log_rotation"] is False
    assert f["jstat"]["YGC"] >= 0
    ids = {x["id"] for x in rep["findings"]}
    assert "gc.log.overwritten_on_restart" in ids and "jvm.heap_dump.disabled" in ids


@needs_java
def test_unique_log_names_and_heap_dump_settings_give_no_warning(jvm, tmp_path) -> None:
    p = jvm("-Xmx64m", f"-Xlog:gc:file={tmp_path}/gc-%p.log", "-XX:+HeapDumpOnOutOfMemoryError",
            f"-XX:HeapDumpPath={tmp_path}")
    [rep] = json.loads(runbook("jvm", "check", str(p.pid), "--json").stdout)
    ids = {x["id"] for x in rep["findings"]}
    assert "gc.log.overwritten_on_restart" not in ids and "jvm.heap_dump.disabled" not in ids
    assert rep["facts"]["collector"] == "G1 (default)"


@needs_java
def test_thread_dump_and_gc_log_probe(jvm, tmp_path) -> None:
    p = jvm("-XX:+UseSerialGC", "-Xmx64m", f"-Xlog:gc*:file={tmp_path}/gc.log")
    assert '"main"' in live.thread_dump(p.pid)
    td = live.probe_thread_dump(Target("app", f"pid:{p.pid}", "jvm"), {}, 10)
    assert td["threads"] > 5 and td["deadlock"] is False and sum(td["thread_states"].values()) > 0
    hist = live.probe_class_histogram(Target("app", f"pid:{p.pid}", "jvm"), {"top": 5}, 30)
    assert len(hist["top_classes"]) == 5 and hist["top_classes"][0]["bytes"] >= hist["top_classes"][1]["bytes"]
    time.sleep(1.5)
    r = live.probe_gc_log(Target("app", f"pid:{p.pid}", "jvm"), {}, 5)
    assert r["collector"] == "Serial" and r["pauses"]["count"] > 0
    summary = live.live_summary(Target("app", f"pid:{p.pid}", "jvm"), 5)  # what the live panel shows
    assert summary["reachable"] and 0 < len(summary["recent_pauses_ms"]) <= 40
    assert all(ms > 0 for ms in summary["recent_pauses_ms"])


@needs_java
def test_heap_dump_is_a_guarded_action_dry_run_first(jvm, tmp_path) -> None:
    p = jvm("-Xmx64m")
    pb = tmp_path / "dump.yaml"
    pb.write_text(f"""
name: dump
targets: {{app: {{kind: jvm}}}}
steps:
  - id: look
    kind: check
    target: app
    probes: [jvm.check]
  - id: dump
    kind: action
    target: app
    action: jvm.heap_dump
    params: {{path: "{tmp_path}/heap.hprof"}}
""")
    r = runbook("run", str(pb), "--target", f"app=pid:{p.pid}", "--headless", "--dry-run")
    assert f"would run: jcmd {p.pid} GC.heap_dump {tmp_path}/heap.hprof" in r.stdout
    assert "PASS  jvm.disk_for_heap_dump" in r.stdout and not (tmp_path / "heap.hprof").exists()
    ans = tmp_path / "a.yaml"
    ans.write_text("dump: {confirm: app}\n")
    r = runbook("run", str(pb), "--target", f"app=pid:{p.pid}", "--headless", "--answers", str(ans), timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "heap.hprof").stat().st_size > 0


def test_dead_pid_is_unknown() -> None:
    r = runbook("jvm", "check", "999999")
    assert r.returncode == 3 and "no process 999999" in r.stdout


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, object] = {}

    def do_GET(self) -> None:  # noqa: N802
        body = self.routes.get(self.path.split("?")[0])
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a: object) -> None:
        pass


@pytest.fixture
def http_jvm():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", _Handler.routes
    srv.shutdown()
    srv.server_close()
    _Handler.routes.clear()


def test_jolokia(http_jvm) -> None:
    url, routes = http_jvm
    routes["/jolokia/read/java.lang:type=GarbageCollector,name=*"] = {"status": 200, "value": {
        "java.lang:name=G1 Young Generation,type=GarbageCollector": {"CollectionCount": 120, "CollectionTime": 900},
        "java.lang:name=G1 Old Generation,type=GarbageCollector": {"CollectionCount": 3, "CollectionTime": 4100}}}
    routes["/jolokia/read/java.lang:type=Memory/HeapMemoryUsage"] = {"status": 200, "value": {"used": 100, "max": 400}}
    r = runbook("jvm", "check", f"{url}/jolokia", "--json")
    [rep] = json.loads(r.stdout)
    f = rep["facts"]
    assert f["collector"] == "G1" and f["collectors"]["G1 Old Generation"] == {"count": 3, "time_ms": 4100}
    assert f["heap_max_bytes"] == 400 and r.returncode == 0


def test_spring_boot_actuator(http_jvm) -> None:
    url, routes = http_jvm
    routes["/actuator/metrics/jvm.gc.pause"] = {"name": "jvm.gc.pause", "measurements": [
        {"statistic": "COUNT", "value": 42.0}, {"statistic": "TOTAL_TIME", "value": 1.5}, {"statistic": "MAX", "value": 0.2}],
        "availableTags": [{"tag": "cause", "values": ["G1 Evacuation Pause", "System.gc()"]}]}
    routes["/actuator/metrics/jvm.memory.used"] = {"measurements": [{"statistic": "VALUE", "value": 5e8}]}
    routes["/actuator/metrics/jvm.memory.max"] = {"measurements": [{"statistic": "VALUE", "value": 1e9}]}
    [rep] = json.loads(runbook("jvm", "check", f"{url}/actuator", "--json").stdout)
    f = rep["facts"]
    assert f["gc_pause_count"] == 42.0 and f["gc_causes"] == ["G1 Evacuation Pause", "System.gc()"]
    assert f["heap_used_bytes"] == 5e8


def test_remote_errors_are_unknown(http_jvm) -> None:
    url, routes = http_jvm
    r = runbook("jvm", "check", f"{url}/jolokia")  # 404
    assert r.returncode == 3 and "could not read" in r.stdout
    r = runbook("jvm", "check", "http://127.0.0.1:1/jolokia", "--timeout", "0.5")
    assert r.returncode == 3 and "Traceback" not in r.stderr


@needs_java
async def test_live_panel_shows_recent_pauses_of_a_real_jvm(jvm, tmp_path) -> None:
    from textual.widgets import Static

    from runbook.playbook import loader
    from runbook.tui.run import TargetPanel
    from tui_helpers import run_app, wait_for

    p = jvm("-XX:+UseSerialGC", "-Xmx64m", f"-Xlog:gc*:file={tmp_path}/gc.log")
    time.sleep(1.5)
    pb, _ = loader.loads("name: t\ntargets: {app: {kind: jvm}}\nsteps:\n  - {id: wait, kind: instruction, text: look}\n", "t.yaml")
    app = run_app(pb, targets={"app": Target("app", f"pid:{p.pid}", "jvm")}, live_panels=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("t")

        def shown() -> str:
            return str(app.screen.query_one(TargetPanel).query_one("#summary", Static).content)

        await wait_for(pilot, lambda: "pauses (chart)" in shown(), 60, what="the live panel's pauses chart")
        assert "old" in shown()


@needs_java
def test_class_histogram_is_never_run_without_consent(jvm, tmp_path) -> None:
    """GC.class_histogram forces a full GC ("Heap Inspection Initiated GC" in the JVM's own log): a dry run
    only says it would read it; a live run without consent skips it; with consent it runs."""
    log = tmp_path / "gc.log"
    p = jvm("-XX:+UseSerialGC", "-Xmx64m", f"-Xlog:gc:file={log}")
    pb = tmp_path / "hist.yaml"
    pb.write_text("""
name: histogram
targets: {app: {kind: jvm}}
steps:
  - id: hist
    kind: check
    target: app
    probes: [jvm.class_histogram]
""")
    forced = lambda: "Heap Inspection Initiated GC" in log.read_text()  # noqa: E731
    dry = runbook("run", str(pb), "--target", f"app=pid:{p.pid}", "--headless", "--dry-run", timeout=120)
    assert "would read" in dry.stdout and not forced(), dry.stdout
    no = tmp_path / "no.yaml"
    no.write_text("{}")
    live_no = runbook("run", str(pb), "--target", f"app=pid:{p.pid}", "--headless", "--answers", str(no), timeout=120)
    assert "not read without consent" in live_no.stdout and not forced(), live_no.stdout
    yes = tmp_path / "yes.yaml"
    yes.write_text(json.dumps({"hist": {"consent": ["jvm.class_histogram"]}}))
    live_yes = runbook("run", str(pb), "--target", f"app=pid:{p.pid}", "--headless", "--answers", str(yes), timeout=120)
    assert live_yes.returncode == 0, live_yes.stdout + live_yes.stderr
    deadline = time.monotonic() + 10
    while not forced() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert forced()
