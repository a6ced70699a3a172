"""`runbook fleet` over 10,000 instances on a real Prometheus: their series come from the test's own exporter
(tests/fleet_exporter.py: realistic INFO-derived series, a known set of planted faults), which Prometheus
scrapes. Every planted fault is named, no healthy instance is called critical; and what cannot be read
is one line and exit 3."""

from __future__ import annotations

import json
import time

import pytest

from conftest import runbook
from fleet_exporter import FAULTS, FleetExporter, planted
from prometheus import PROMETHEUS, Prometheus, wait_for
from redis_server import refused_port

N = 10_000


@pytest.fixture
def big_fleet(tmp_path):
    if not PROMETHEUS:
        pytest.skip("needs prometheus")
    started: list = []
    try:
        ex = FleetExporter(tmp_path, N).start()
        started.append(ex)
        prom = Prometheus(tmp_path, "prometheus")
        started.append(prom)
        prom.start_jobs(ex.jobs("3s"))
        wait_for(lambda: prom.query("count(redis_up)") and int(prom.query("count(redis_up)")[0]["value"][1]) == N,
                 f"all {N:,} instances scraped", timeout=60, every=0.5)
        yield prom
    finally:
        for p in reversed(started):
            p.stop()


@pytest.mark.serial  # a Prometheus of 450,000 series: alone, after the parallel run (it starved it, and it)
def test_every_planted_fault_is_named_and_no_healthy_instance_is_critical(big_fleet) -> None:
    prom = big_fleet
    faults = planted(N)
    storms = {i for i, f in faults.items() if f == "storm"}

    def ranked():
        # a loaded CI machine's Prometheus answers a 10,000-instance query in more than the default 5 s
        r = runbook("fleet", "--prometheus", prom.url, "--json", "--window", "1m", "--match", 'fleet="test"',
                    "--timeout", "30", timeout=120)
        assert r.returncode in (1, 2) and "Traceback" not in r.stderr, r.stderr
        out = json.loads(r.stdout)
        named = {i["instance"] for i in out["instances"] if any(f["id"] == FAULTS["storm"] for f in i["findings"])}
        return out if storms <= named else None  # the storm needs two scrapes inside the window

    out = wait_for(ranked, "the storms in Prometheus' history", timeout=60, every=1)
    by = {i["instance"]: i for i in out["instances"]}
    assert len(by) == N
    missed = {inst: fault for inst, fault in faults.items()
              if FAULTS[fault] not in {f["id"] for f in by[inst]["findings"]}}
    assert missed == {}
    healthy_critical = [i for i, x in by.items() if i not in faults and x["status"] in ("critical", "unknown")]
    assert healthy_critical == []
    healthy_named = {i: [f["id"] for f in x["findings"]] for i, x in by.items() if i not in faults and x["findings"]}
    assert healthy_named == {}
    # the pre-filter (only the suspects' full facts are read and judged) loses nothing
    r = runbook("fleet", "--prometheus", prom.url, "--json", "--window", "1m", "--match", 'fleet="test"', "--judge-all",
                "--timeout", "30", timeout=120)  # (the same query timeout as above, for the same reason)
    assert r.returncode in (1, 2) and "Traceback" not in r.stderr, r.stderr
    every = {i["instance"]: [f["id"] for f in i["findings"]] for i in json.loads(r.stdout)["instances"]}
    assert every == {i: [f["id"] for f in x["findings"]] for i, x in by.items()}
    # worst first: the criticals lead
    assert {x["instance"] for x in out["instances"][:len(faults)]} <= set(faults)
    assert out["instances"][0]["status"] in ("critical", "unknown") and out["instances"][-1]["status"] == "ok"


def test_what_cannot_be_read_is_one_line_and_exit_3(tmp_path) -> None:
    dead = f"http://127.0.0.1:{refused_port()}"
    for argv, said in ((["--prometheus", dead], "cannot reach it"),
                       (["--prometheus", "ftp://x"], "starts with http"),
                       (["--prometheus", dead, "--window", "5 minutes"], "--window"),
                       (["--prometheus", dead, "--tui"], "cannot reach it"),
                       ([], "starts with http")):
        r = runbook("fleet", *argv, env={"RUNBOOK_PROMETHEUS": ""})
        assert r.returncode == 3 and said in r.stderr and r.stderr.count("\n") == 1 and not r.stdout, (argv, r.stderr)


def test_something_else_than_a_prometheus_is_said(tmp_path) -> None:
    ex = FleetExporter(tmp_path, 10).start()  # an HTTP server that is no Prometheus
    try:
        t = time.monotonic()
        r = runbook("fleet", "--prometheus", ex.url, "--timeout", "2")
        assert r.returncode == 3 and "is it a Prometheus?" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert time.monotonic() - t < 20
        r = runbook("fleet", "--prometheus", ex.url, "--tui", "--timeout", "2")  # said before any screen
        assert r.returncode == 3 and "is it a Prometheus?" in r.stderr and not r.stdout, r.stderr
    finally:
        ex.stop()
