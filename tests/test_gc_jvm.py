"""Real JVMs (JDK 17) under each collector, logging with -Xlog:gc*: the analysis agrees with the log itself."""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import ROOT, runbook
from runbook.jvm.gclog.analyze import analyze
from runbook.jvm.gclog.read import read_logs

WORKLOAD = ROOT / "tests" / "jvm" / "GcWorkload.java"
pytestmark = pytest.mark.skipif(not shutil.which("java"), reason="java is not installed")

RUNS = {
    # collector flag -> (expected collector, decorators)
    "UseG1GC": ("G1", "uptime,level,tags"),
    "UseParallelGC": ("Parallel", "time,uptimemillis,level,tags,pid,tid"),
    "UseSerialGC": ("Serial", "uptimenanos,tags"),
    "UseZGC": ("ZGC", "utctime,level,tags"),
    "UseShenandoahGC": ("Shenandoah", "uptime,timemillis,level,tags"),
}
DURATION_LINE = re.compile(r"Pause .*?\d+(?:\.\d+)?ms\s*$")


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("jvm-logs")

    def one(flag: str) -> tuple[str, Path]:
        log = d / f"{flag}.log"
        deco = RUNS[flag][1]
        subprocess.run(["java", f"-XX:+{flag}", "-Xmx96m", f"-Xlog:gc*:file={log}:{deco}", str(WORKLOAD), "2"],
                       check=True, capture_output=True, timeout=120)
        return flag, log

    with ThreadPoolExecutor(2) as ex:
        return dict(ex.map(one, RUNS))


@pytest.mark.parametrize("flag", list(RUNS))
def test_analysis_matches_the_log(logs, flag) -> None:
    log = logs[flag]
    text = log.read_text()
    duration_lines = [x for x in text.splitlines() if DURATION_LINE.search(x)]
    r = analyze(read_logs([str(log)]))
    assert r["format"] == "unified"
    assert r["collector"] == RUNS[flag][0]
    assert r["pauses"]["count"] == len(duration_lines) > 0
    total = sum(float(re.search(r"(\d+(?:\.\d+)?)ms\s*$", x)[1]) for x in duration_lines)
    assert abs(r["pauses"]["total_ms"] - total) < 0.01
    assert r["duration_s"] > 0.5
    assert r["jdk"] and r["jdk"].startswith("17")
    if "System.gc()" in text and flag != "UseShenandoahGC":
        assert "gc.explicit" in {f["id"] for f in r["findings"]}


def test_command_exit_code_follows_the_findings(logs) -> None:
    r = runbook("gc", "analyze", str(logs["UseG1GC"]))
    assert r.returncode in (0, 1, 2) and "G1, unified format, JDK 17" in r.stdout
