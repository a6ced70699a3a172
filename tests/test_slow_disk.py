"""A disk too slow for the AOF, for real: a redis-server in a blkio cgroup (v1) whose writes to the data
disk are throttled to 8 kB/s, so its everysec fsync cannot keep up and Redis writes without waiting
(aof_delayed_fsync). Root only; the throttle is lifted and the cgroup removed whatever happens."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from redis_server import RedisServer
from conftest import looked
from runbook.sandbox.incidents import remove_cgroup

BLKIO = Path("/sys/fs/cgroup/blkio")
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not (BLKIO / "blkio.throttle.write_bps_device").exists() or not shutil.which("redis-server"),
    reason="needs root, cgroup v1 blkio and redis-server")


def disk_of(path: Path) -> str | None:
    """MAJ:MIN of the whole disk holding path (throttles apply to disks, not partitions), or None."""
    dev = os.stat(path).st_dev
    mm = f"{os.major(dev)}:{os.minor(dev)}"
    sys_dev = Path("/sys/dev/block") / mm
    if os.major(dev) == 0 or not sys_dev.exists():
        return None  # tmpfs, overlay: no block device to throttle
    if (sys_dev / "partition").exists():
        return (sys_dev.resolve().parent / "dev").read_text().strip()
    return mm


def test_an_aof_fsync_that_cannot_keep_up_is_named(tmp_path) -> None:
    from runbook.redis.check import assess, probe
    from runbook.targets import Target

    disk = disk_of(tmp_path)
    if disk is None:
        pytest.skip("the test directory is not on a block device")
    cg = BLKIO / f"runbook-slowdisk-{os.getpid()}"
    cg.mkdir()
    throttle = cg / "blkio.throttle.write_bps_device"
    s = RedisServer(tmp_path, "r", conf="appendonly yes\nappendfsync everysec\n")
    try:
        throttle.write_text(f"{disk} 8192")
        s.proc = subprocess.Popen(["sh", "-c", f'echo $$ > {cg}/cgroup.procs && exec redis-server "$1"', "sh", str(s.conf)],
                                  cwd=s.base, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        s.wait_ready(60)  # its first AOF is written and fsynced at 8 kB/s
        c = s.client(socket_timeout=60)  # a server whose disk cannot keep up blocks its writes for seconds
        deadline = time.monotonic() + 30
        i = 0
        while int(c.info("persistence")["aof_delayed_fsync"]) == 0:
            assert time.monotonic() < deadline, "the fsync never fell behind"
            pipe = c.pipeline(transaction=False)
            for _ in range(500):
                pipe.set(f"k{i}", "x" * 1000)
                i += 1
            pipe.execute()
            time.sleep(0.2)
        f = {x.id: x for x in assess(probe(Target("r", s.url, "redis"), {}, 5.0))}
        ev = f["redis.persistence.aof_fsync_slow"].evidence
        assert ev["aof_delayed_fsync"] >= 1 and ev["appendfsync"] == "everysec"
        assert looked(s.url)["redis.persistence.aof_fsync_slow"]["evidence"]["aof_delayed_fsync"] >= 1
    finally:
        try:
            throttle.write_text(f"{disk} 0")  # lifted first: a process stuck in a throttled fsync cannot die
        except OSError:
            pass
        s.stop()
        remove_cgroup(cg)
