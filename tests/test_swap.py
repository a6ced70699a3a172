"""Swapping, for real: a swap file of the test's own, and a redis-server in a memory cgroup (v1) smaller
than its data, so the kernel swaps it out. redis.memory.swapping is raised from the process's VmSwap and
host.memory.swapping from the swap traffic while it is read. Root only; the swap file and the cgroup are
removed whatever happens."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from redis_server import RedisServer
from conftest import looked
from swapfile import swapfile
from runbook.sandbox.incidents import remove_cgroup

CGROUP = Path("/sys/fs/cgroup/memory")
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not (CGROUP / "memory.limit_in_bytes").exists() or not shutil.which("swapon")
    or not shutil.which("redis-server"), reason="needs root, cgroup v1 memory, swapon and redis-server")


@pytest.fixture
def swap(tmp_path):
    with swapfile(tmp_path / "test.swap", 512) as f:
        yield f


@pytest.mark.serial  # the host swaps: every test reading host memory beside it would see it
def test_a_redis_in_a_small_cgroup_is_swapped_out_and_named(swap, tmp_path) -> None:
    from runbook.host.probes import assess_memory, memory
    from runbook.redis.check import assess, probe
    from runbook.targets import Target

    cg = CGROUP / f"runbook-swap-{os.getpid()}"
    cg.mkdir()
    s = None
    try:
        (cg / "memory.limit_in_bytes").write_text(str(64 * 1024 * 1024))
        (cg / "memory.swappiness").write_text("100")
        s = RedisServer(tmp_path, "r", conf="enable-debug-command yes\n")
        s.proc = subprocess.Popen(["sh", "-c", f'echo $$ > {cg}/cgroup.procs && exec redis-server "$1"', "sh", str(s.conf)],
                                  cwd=s.base, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        s.wait_ready()
        s.client().execute_command("DEBUG", "POPULATE", 500_000, "key", 300)  # ~200 MB in a 64 MB cgroup
        facts = probe(Target("r", s.url, "redis"), {}, 5.0)
        assert facts["host"]["swap_bytes"] > 16 * 1024 * 1024
        ev = {f.id: f for f in assess(facts)}["redis.memory.swapping"].evidence
        assert ev["pid"] == s.pid
        assert looked(s.url)["redis.memory.swapping"]["evidence"]["pid"] == s.pid  # the one look names it too
        stop = threading.Event()

        def reader() -> None:  # touching swapped pages swaps them in (and others out)
            c = s.client()
            while not stop.is_set():
                c.get(f"key:{random.randrange(500_000)}")

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        try:
            m = memory(Target("host", "local", "host"), {"interval_s": 1.0}, 5)
        finally:
            stop.set()
            t.join(5)
        assert m["swap_in_per_s"] + m["swap_out_per_s"] > 0
        assert "host.memory.swapping" in {f.id for f in assess_memory(m)}
    finally:
        if s is not None:
            s.stop()
        remove_cgroup(cg)
