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
from runbook.sandbox import java

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
        r = subprocess.run(["java", f"-XX:+{flag}", "-Xmx96m", f"-Xlog:gc*:file={log}:{deco}", *java.program(WORKLOAD), "2"],
                           check=True, capture_output=True, text=True, timeout=120)
        log.with_suffix(".out").write_text(r.stdout)  # "done BYTES KEPT": what the program itself allocated
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


@pytest.mark.parametrize("flag", ["UseG1GC", "UseParallelGC"])
def test_a_jvm_that_dies_of_out_of_memory_is_named(tmp_path, flag) -> None:
    """A real JVM that keeps what it allocates until OutOfMemoryError: its log ends in full GCs that free
    almost nothing, and the answer is the heap (or the leak), not collector tuning."""
    log = tmp_path / "oom.log"
    p = subprocess.run(["java", f"-XX:+{flag}", "-Xmx32m", f"-Xlog:gc:file={log}", *java.program(ROOT / "tests" / "jvm" / "OomDeath.java")],
                       capture_output=True, text=True, timeout=120)
    assert "OutOfMemoryError" in p.stderr
    r = analyze(read_logs([str(log)]))
    found = {f["id"]: f for f in r["findings"]}
    ex = found["gc.heap.exhausted"]
    assert ex["severity"] == "critical"
    ev = ex["evidence"]
    assert ev["full_gcs_in_a_row"] >= 2 and ev["at_end_of_log"] is True and ev["live_set_pct_of_heap"] >= 80
    assert 28 <= ev["max_heap_mb"] <= 33


def test_a_healthy_jvm_is_not_exhausted(logs) -> None:
    for flag, log in logs.items():
        r = analyze(read_logs([str(log)]))
        assert "gc.heap.exhausted" not in {f["id"] for f in r["findings"]}, flag


def test_a_short_log_is_judged_by_its_collections() -> None:
    """1.4 s of log, 877 collections at 72% throughput: a low-throughput finding, not silence."""
    r = analyze(read_logs([str(ROOT / "tests" / "data" / "parallel-jdk17.log")]))
    found = {f["id"]: f for f in r["findings"]}
    assert r["duration_s"] < 10 and r["pauses"]["count"] > 800
    assert found["gc.throughput.low"]["severity"] == "critical"
    assert found["gc.throughput.low"]["evidence"]["collections"] == r["pauses"]["count"]
    iv = r["full_gc_intervals"]
    assert iv["min_s"] <= iv["p50_s"] <= iv["p90_s"] <= iv["max_s"]
    assert "interval_s" in found["gc.full"]["evidence"] and "mean_interval_s" not in found["gc.full"]["evidence"]


def test_a_rotation_set_that_wraps_is_one_timeline_in_time_order(tmp_path) -> None:
    """JDK rotation writes its files round-robin: after a wrap the numbers are not the time order."""
    from runbook.jvm.gclog.read import order_rotation

    import time

    log = tmp_path / "gc.log"
    # the JVM runs until its rotation has wrapped (gc.log.0 written again after gc.log.2), however long a
    # busy machine makes that take; then it is stopped (a JVM flushes its log on SIGTERM)
    jvm = subprocess.Popen(["java", "-XX:+UseSerialGC", "-Xmx64m",
                            f"-Xlog:gc*:file={log}:uptime,level,tags:filecount=3,filesize=30k", *java.program(WORKLOAD), "120"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rotated = [tmp_path / f"gc.log.{i}" for i in range(3)]
    try:
        deadline = time.monotonic() + 110
        while not (all(p.exists() for p in rotated) and rotated[0].stat().st_mtime_ns > rotated[2].stat().st_mtime_ns):
            assert jvm.poll() is None and time.monotonic() < deadline, "the rotation never wrapped"
            time.sleep(0.1)
    finally:
        jvm.terminate()
        jvm.wait(30)
    files = sorted(str(p) for p in tmp_path.glob("gc.log*"))
    assert len(files) == 4
    firsts = {}
    for f in files:
        m = re.search(r"\[(\d+\.\d+)s\]", Path(f).read_text())
        firsts[f] = float(m[1])
    assert order_rotation(files) == sorted(files, key=firsts.get)
    r = analyze(read_logs(files))
    lasts = [float(x) for x in re.findall(r"\[(\d+\.\d+)s\]", Path(order_rotation(files)[-1]).read_text())]
    assert r["restarts"] == 0
    # one timeline: never longer than the span of its lines (the old order counted a false restart and more)
    span = lasts[-1] - min(firsts.values())
    assert 0.5 * span < r["duration_s"] <= span + 0.001
    for f in r["findings"]:
        ev = f["evidence"]
        if "first_s" in ev and "last_s" in ev:
            assert ev["first_s"] <= ev["last_s"], f["id"]


@pytest.mark.parametrize("flag", list(RUNS))
def test_the_allocation_rate_is_what_the_program_allocated(logs, flag) -> None:
    """Against the truth: the workload counts the bytes of the arrays it allocates and prints them. The log
    sees the heap grow between collections (for Shenandoah, whose pauses carry no heap sizes, between its
    cleanups; for ZGC, also what its heap table says was allocated while a cycle ran), from the empty heap
    the JVM started with, up to its last collection: at least most of what the program allocated, and no
    more than it plus the JVM's own allocations."""
    log = logs[flag]
    sink = int(log.with_suffix(".out").read_text().split()[1])
    r = analyze(read_logs([str(log)]))
    seen = r["allocation_rate_mb_s"] * r["duration_s"] * 1024 * 1024
    assert 0.7 * sink <= seen <= 1.1 * sink + 16 * 1024 * 1024, (seen / 1e6, sink / 1e6)


def test_a_paced_shenandoah_counts_its_pacing_against_throughput(tmp_path) -> None:
    """Shenandoah paces allocating threads instead of pausing them: its '<average total>' lines say how long an
    average thread waited, and that is time the application did not run."""
    log = tmp_path / "shen.log"
    subprocess.run(["java", "-XX:+UseShenandoahGC", "-Xmx24m", "-Xms24m", f"-Xlog:gc*:file={log}", *java.program(WORKLOAD), "2"],
                   check=True, capture_output=True, timeout=120)
    paced = sum(int(m[1]) for m in re.finditer(r"(\d+) of\s+\d+ ms \(.*\): <average total>", log.read_text()))
    r = analyze(read_logs([str(log)]))
    assert r["stalled_ms"] == paced and paced > 0  # (how it compares with the pauses depends on the machine's load)
    expected = 100 * (1 - (r["pauses"]["total_ms"] + paced) / 1000 / (r["duration_s"] + r["pauses"]["max_ms"] / 1000))
    assert abs(r["throughput_pct"] - expected) < 0.01
    assert r["unparsed_lines"] == 0


def test_a_stalled_zgc_counts_its_stalls_against_throughput(tmp_path) -> None:
    """ZGC barely pauses; when it cannot keep up, threads stall in allocation instead. Those stalls are time
    the application did not run: the headline must not say 99%."""
    log = tmp_path / "zgc.log"
    subprocess.run(["java", "-XX:+UseZGC", "-Xmx32m", "-Xms32m", f"-Xlog:gc*:file={log}", *java.program(WORKLOAD), "2"],
                   check=True, capture_output=True, timeout=120)
    stalls = [float(m[1]) for m in re.finditer(r"\] (?:Allocation|Relocation) Stall \(.*\) (\d+(?:\.\d+)?)ms", log.read_text())]
    r = analyze(read_logs([str(log)]))
    assert stalls and abs(r["stalled_ms"] - sum(stalls)) < 0.01
    assert r["stalled_ms"] > 10 * r["pauses"]["total_ms"]
    # the stalls are counted as time the application did not run: the headline is lower than the pauses alone
    # would make it by their share of the run (how much lower depends on how starved the machine left the JVM)
    span = r["duration_s"] + r["pauses"]["max_ms"] / 1000
    pauses_only = 100 * (1 - r["pauses"]["total_ms"] / 1000 / span)
    assert r["throughput_pct"] < 95 and pauses_only - r["throughput_pct"] >= 0.99 * 100 * r["stalled_ms"] / 1000 / span
    found = {f["id"]: f for f in r["findings"]}
    # judged when the log stopped the application often enough: its pauses and its stalls together (under load
    # the JVM runs fewer cycles and stalls more; the stalls alone are as much evidence as pauses)
    assert len(stalls) + r["pauses"]["count"] >= 50 or r["duration_s"] >= 10, (len(stalls), r["pauses"]["count"])
    assert "gc.zgc.allocation_stall" in found and "gc.throughput.low" in found, (len(stalls), r["pauses"]["count"])
    assert found["gc.throughput.low"]["evidence"]["stalled_s"] > 0
