"""Faults of the machine and of long-running work, put on real servers and named by `runbook redis check`:
a data directory with less room than a save needs, an AOF that can no longer be written, a memory cgroup
the dataset has outgrown, a BGSAVE running for over a minute, a fork slowed by a CPU-starved cgroup, and transparent huge pages set to always
(seen in a private mount namespace, so this machine's setting is never touched). The disk and cgroup faults
need root; without it they skip and say so."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import psutil
import pytest
import redis as redis_py

from conftest import looked
from mounts import tmpfs
from redis_server import RedisServer

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


def wait_for(cond, what: str, timeout: float = 30.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def test_a_data_directory_with_less_room_than_the_dataset_is_named(tmp_path) -> None:
    with tmpfs(tmp_path / "data", "1m") as data:
        s = RedisServer(tmp_path, conf=f"dir {data}\n").start()
        try:
            s.fill(2500, value="x" * 1000)  # about 2.5 MB of data for 1 MB of disk
            f = looked(s.url)
            ev = f["redis.host.disk_space"]["evidence"]
            assert ev["dir"] == str(data) and f["redis.host.disk_space"]["severity"] == "critical", ev
        finally:
            s.stop()


def test_an_aof_that_can_no_longer_be_written_is_named(tmp_path) -> None:
    with tmpfs(tmp_path / "data", "512k") as data:
        # appendfsync everysec: on a failed write the server stays up and refuses writes (with always it exits)
        s = RedisServer(tmp_path, conf=f"dir {data}\nappendonly yes\nappendfsync everysec\n").start()
        try:
            c = s.client()

            def refused() -> bool:
                try:
                    c.set(f"k{time.monotonic_ns()}", "x" * 4000)
                except redis_py.ResponseError as e:  # MISCONF Errors writing to the AOF file
                    return "AOF" in str(e) or "MISCONF" in str(e)
                return c.info("persistence").get("aof_last_write_status") == "err"

            wait_for(refused, "a write to the AOF to fail on the full disk", every=0.005)
            f = looked(s.url)
            assert f["redis.persistence.aof_write_failing"]["evidence"] == {"aof_last_write_status": "err"}
        finally:
            s.stop()


def test_a_dataset_over_half_its_memory_cgroup_is_named_with_the_cgroup(tmp_path) -> None:
    from runbook.sandbox.incidents import memory_cgroup_root, remove_cgroup

    root = memory_cgroup_root()
    if os.geteuid() != 0 or root is None:
        pytest.skip("needs root and a memory cgroup")
    cg = root / f"runbook-test-{os.getpid()}-{tmp_path.name}"
    cg.mkdir()
    s = RedisServer(tmp_path)
    try:
        limit = cg / ("memory.limit_in_bytes" if (cg / "memory.limit_in_bytes").exists() else "memory.max")
        limit.write_text(str(64 * 1024 * 1024))
        s.start()
        (cg / "cgroup.procs").write_text(str(s.pid))  # what it allocates from now on is charged to the cgroup
        assert "no_limit" not in " ".join(looked(s.url))
        s.fill(36000, value="x" * 1000)  # about 40 MB resident: over half of 64 MB, far from half the host's
        f = looked(s.url)
        ev = f["redis.memory.no_limit"]["evidence"]
        assert ev["cgroup_memory_limit"] == "64.0 MiB" and ev["cgroup"].endswith(cg.name), ev
        assert ev["maxmemory"] == 0
    finally:
        s.stop()
        remove_cgroup(cg)


def test_a_bgsave_running_over_a_minute_is_named(tmp_path) -> None:
    s = RedisServer(tmp_path).start()
    try:
        s.fill(200)
        c = s.client()
        c.config_set("rdb-key-save-delay", 1_000_000)  # one second per key: 200 s for the whole save
        c.bgsave()
        wait_for(lambda: int(c.info("persistence").get("rdb_current_bgsave_time_sec", -1)) >= 60,
                 "the BGSAVE to have run 60 s", timeout=120, every=1.0)
        f = looked(s.url)
        ev = f["redis.persistence.save_slow"]["evidence"]
        assert ev["running"] == "BGSAVE" and ev["running_for_s"] >= 60, ev
    finally:
        for child in psutil.Process(s.pid).children():  # the save's fork, so that nothing outlives the test
            child.kill()
        s.stop()


def test_a_fork_slowed_by_a_starved_cpu_cgroup_is_named(tmp_path) -> None:
    """A container held to 2% of a CPU: a fork's copying of the page tables is the server's own CPU time,
    so a BGSAVE stops it for half a second where it took 20 ms."""
    cpu = Path("/sys/fs/cgroup/cpu")
    if os.geteuid() != 0 or not (cpu / "cpu.cfs_quota_us").exists():
        pytest.skip("needs root and the cgroup v1 cpu controller")
    cg = cpu / f"runbook-test-{os.getpid()}-{tmp_path.name}"
    s = RedisServer(tmp_path, conf="enable-debug-command yes\nsave \"\"\n").start()
    cg.mkdir()
    try:
        c = s.client(socket_timeout=60)  # a server held to 2% of a CPU answers in seconds
        c.execute_command("DEBUG", "POPULATE", 1_000_000, "key", 100)  # about 180 MB of page tables to copy
        before = c.info("stats")["latest_fork_usec"]
        (cg / "cpu.cfs_period_us").write_text("100000")
        (cg / "cpu.cfs_quota_us").write_text("2000")
        (cg / "cgroup.procs").write_text(str(s.pid))
        c.bgsave()
        wait_for(lambda: c.info("stats")["latest_fork_usec"] != before, "the fork to return", timeout=60, every=0.2)
        (cg / "cpu.cfs_quota_us").write_text("-1")  # the save itself at full speed; the fork's time stays in INFO
        f = looked(s.url)
        ev = f["redis.latency.fork"]["evidence"]
        assert ev["latest_fork_ms"] > ev["threshold_ms"] == 100, ev
    finally:
        try:
            (cg / "cpu.cfs_quota_us").write_text("-1")
        except OSError:
            pass
        for child in psutil.Process(s.pid).children():  # the save's fork, so that nothing outlives the test
            child.kill()
        s.stop()
        from runbook.sandbox.incidents import remove_cgroup

        remove_cgroup(cg)


def test_transparent_huge_pages_always_is_named(tmp_path) -> None:
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if os.geteuid() != 0 or not shutil.which("unshare") or not thp.exists():
        pytest.skip("needs root, unshare and /sys/kernel/mm/transparent_hugepage")
    fake = tmp_path / "enabled"
    fake.write_text("[always] madvise never\n")
    s = RedisServer(tmp_path).start()
    try:
        # runbook alone runs in a mount namespace of its own where the kernel's file reads "always"
        inside = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                  f'mount --bind "$0" {thp} && exec "$@"', str(fake)]
        f = looked(s.url, prefix=inside)
        assert f["redis.host.transparent_hugepages"]["evidence"] == {"enabled": "always"}
        assert "always" not in thp.read_text().split("[")[1].split("]")[0]  # the machine's own setting is untouched
    finally:
        s.stop()
