"""The JVM incident findings, each raised on a real JVM put into that state: a runaway thread, a heap
whose live set fills the old generation, a full Metaspace, a JIT code cache at its limit, a heap larger
than its cgroup's memory limit; and none of them on a healthy JVM."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT
from runbook.jvm import memory, threads
from runbook.sandbox import java
from runbook.sandbox.incidents import memory_cgroup_root, remove_cgroup
from runbook.targets import Target

DATA = ROOT / "runbook" / "sandbox" / "data"
pytestmark = pytest.mark.skipif(not shutil.which("java") or not shutil.which("jcmd"), reason="no JDK")


def start(tmp: Path, program: str, *flags: str, args: tuple[str, ...] = ("120",), prefix: list[str] | None = None,
          source: bool = False) -> subprocess.Popen:
    """The program compiled once (runbook.sandbox.java), or with source=True launched from its source: javac then
    runs in the JVM, filling its Metaspace and code cache as the limits of the test that asks for it expect."""
    run = [str(DATA / program)] if source else java.program(DATA / program)
    p = subprocess.Popen([*(prefix or []), "java", *flags, *run, *args], cwd=tmp, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, start_new_session=True, text=True)
    assert p.stdout.readline().strip() == "ready", "the JVM did not start"
    return p


@pytest.fixture
def jvms():
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        p.kill()
        p.wait(10)


def target(p: subprocess.Popen) -> Target:
    return Target("app", f"pid:{p.pid}", "jvm")


@pytest.mark.serial
def test_a_runaway_thread_is_named_with_its_frames(tmp_path, jvms) -> None:
    jvms.append(start(tmp_path, "HotThread.java"))
    time.sleep(1.0)
    facts = threads.probe(target(jvms[0]), {"interval_s": 1.0}, 10)
    (f,) = threads.assess(facts)
    assert f.id == "jvm.threads.hot" and f.evidence["thread"] == "price-recalc"
    assert f.evidence["kind"] == "application" and f.evidence["cpu_pct"] >= 80
    assert any("HotThread.recalculate" in fr or "HotThread.lambda" in fr for fr in f.evidence["top_frames"])
    assert not any(r["name"] == "http-worker-1" and r["cpu_pct"] > 5 for r in facts["top"])


def test_a_heap_whose_live_set_fills_the_old_generation(tmp_path, jvms) -> None:
    jvms.append(start(tmp_path, "HeapFull.java", "-XX:+UseParallelGC", "-Xmx64m", "-Xmn8m", args=("120", "54")))
    facts = memory.probe(target(jvms[0]), {"interval_s": 1.0}, 10)
    f = {x.id: x for x in memory.assess(facts)}
    ev = f["jvm.heap.exhausted"].evidence
    assert ev["old_gen_used_pct"] >= 95 and ev["full_gcs_during_sample"] >= 5


def test_a_healthy_jvm_raises_none_of_them(tmp_path, jvms) -> None:
    jvms.append(start(tmp_path, "HeapFull.java", "-XX:+UseParallelGC", "-Xmx256m", args=("120", "8")))
    p = jvms[0]
    f = {x.id for x in memory.assess(memory.probe(target(p), {"interval_s": 1.0}, 10))}
    assert not f & {"jvm.heap.exhausted", "jvm.metaspace.high", "jvm.codecache.full", "jvm.container.memory_limit"}
    assert threads.assess(threads.probe(target(p), {"interval_s": 0.5}, 10)) == []


def test_metaspace_near_its_limit_and_a_small_code_cache(tmp_path, jvms) -> None:
    jvms.append(start(tmp_path, "HotThread.java", "-XX:MaxMetaspaceSize=9728k", "-XX:ReservedCodeCacheSize=2496k",
                      "-XX:InitialCodeCacheSize=2496k", "-XX:-SegmentedCodeCache", source=True))
    time.sleep(1.0)
    facts = memory.probe(target(jvms[0]), {"interval_s": 0.5, "codecache_pct": 60}, 10)
    f = {x.id: x for x in memory.assess(facts)}
    assert f["jvm.metaspace.high"].evidence["used_pct"] >= 90
    cc = f["jvm.codecache.full"]
    assert cc.severity == "warning" and cc.evidence["code_cache"] == "2.4 MiB" and cc.evidence["compilation"] == "enabled"
    assert "jvm.codecache.full" not in {x.id for x in memory.assess({**facts, "thresholds": {}})}  # 95% by default


@pytest.mark.skipif(os.geteuid() != 0 or memory_cgroup_root() is None, reason="needs root and a memory cgroup")
def test_a_heap_larger_than_its_cgroup_limit(tmp_path, jvms) -> None:
    root = memory_cgroup_root()
    cg = root / f"runbook-test-{os.getpid()}"
    cg.mkdir()
    try:
        v1 = (cg / "memory.limit_in_bytes").exists()
        (cg / ("memory.limit_in_bytes" if v1 else "memory.max")).write_text(str(256 * 1024 * 1024))
        # the JVM starts inside the cgroup: the shell moves itself in, then becomes java
        prefix = ["sh", "-c", f'echo $$ > {cg}/cgroup.procs && exec "$@"', "sh"]
        jvms.append(start(tmp_path, "HeapFull.java", "-Xmx512m", args=("120", "8"), prefix=prefix))
        facts = memory.probe(target(jvms[0]), {"interval_s": 0.5}, 10)
        assert facts["container"]["limit"] == 256 * 1024 * 1024
        ev = {x.id: x for x in memory.assess(facts)}["jvm.container.memory_limit"].evidence
        assert ev["cgroup_limit"] == "256.0 MiB" and ev["heap_max_pct_of_limit"] == 200.0
        assert ev["jvm_sees_container"] is False
    finally:
        for p in jvms:
            p.kill()
            p.wait(10)
        jvms.clear()
        remove_cgroup(cg)


def jvm_check(p: subprocess.Popen) -> dict[str, dict]:
    """The findings `runbook jvm check PID` names: the one look an engineer runs first."""
    import json

    from conftest import runbook

    r = runbook("jvm", "check", "--json", str(p.pid))
    assert "Traceback" not in r.stderr and r.returncode in (0, 1, 2), r.stderr
    (report,) = json.loads(r.stdout)
    return {f["id"]: f for f in report["findings"]}


def named(p: subprocess.Popen, fid: str, timeout: float = 60) -> dict:
    """The finding fid from `runbook jvm check`, looked for again until it is named (a loaded machine runs the
    JVM's program more slowly); the timeout says which finding never came."""
    deadline = time.monotonic() + timeout
    while True:
        found = jvm_check(p)
        if fid in found:
            return found[fid]
        assert time.monotonic() < deadline, f"{fid} not named within {timeout:g} s: {sorted(found)}"
        time.sleep(0.5)


@pytest.mark.serial
def test_jvm_check_names_a_hot_thread_by_name_with_its_frames(tmp_path, jvms) -> None:
    jvms.append(start(tmp_path, "HotThread.java"))
    time.sleep(1.0)
    ev = jvm_check(jvms[0])["jvm.threads.hot"]["evidence"]
    assert ev["thread"] == "price-recalc" and ev["kind"] == "application" and ev["cpu_pct"] >= 80
    assert any("HotThread.recalculate" in fr or "HotThread.lambda" in fr for fr in ev["top_frames"])


def test_jvm_check_names_a_deadlock_and_a_full_old_generation(tmp_path, jvms) -> None:
    jvms.append(start(tmp_path, "Deadlock.java"))
    jvms.append(start(tmp_path, "HeapFull.java", "-XX:+UseParallelGC", "-Xmx64m", "-Xmn8m", args=("120", "54")))
    healthy = start(tmp_path, "HeapFull.java", "-XX:+UseParallelGC", "-Xmx256m", args=("120", "8"))
    jvms.append(healthy)
    assert jvm_check(jvms[0])["jvm.deadlock"]["evidence"]["thread_states"]["BLOCKED"] >= 2
    ev = named(jvms[1], "gc.heap.too_small")["evidence"]  # its full collections come as the old generation fills
    assert ev["old_gen_used_pct"] >= 95 and ev["full_gcs"] >= 1
    assert not {"jvm.deadlock", "gc.heap.too_small", "jvm.threads.hot"} & set(jvm_check(healthy))


def test_jvm_check_of_a_process_that_is_not_a_jvm_is_unknown_and_says_why() -> None:
    import json

    from conftest import runbook

    r = runbook("jvm", "check", "--json", str(os.getpid()))  # this test's own python
    assert r.returncode == 3 and "Traceback" not in r.stderr
    (report,) = json.loads(r.stdout)
    (f,) = report["findings"]
    assert f["id"] == "jvm.unreachable" and "not a java process" in f["evidence"]["error"]
