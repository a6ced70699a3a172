"""From a real fault to the playbook's finding, through the real chain: a redis-server put into the fault,
Debian's redis_exporter (multi-target, as one exporter serves many servers), Prometheus evaluating the
repo's own example rules (examples/prometheus/runbook-rules.yml, with its `for:` waits made 1 s: a test
cannot wait the minutes a page waits), the alert sent to a real Alertmanager, then `runbook alerts` and
`runbook run --alert` reaching the finding of the playbook that declares the alert."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import redis as redis_py

from alertmanager import BINARY as ALERTMANAGER, Alertmanager
from conftest import ROOT, runbook
from mounts import ext4, tmpfs
from prometheus import (NODE_EXPORTER, PROMETHEUS, REDIS_EXPORTER, NodeExporter, Prometheus, RedisExporter,
                        rules_without_waits, wait_for)
from redis_server import RedisServer, no_retry
from runbook.sandbox.incidents import fragment

pytestmark = pytest.mark.skipif(not (PROMETHEUS and REDIS_EXPORTER and ALERTMANAGER and shutil.which("redis-server")),
                                reason="needs prometheus, prometheus-redis-exporter, prometheus-alertmanager, redis")

RULES = ROOT / "examples" / "prometheus" / "runbook-rules.yml"


@pytest.fixture
def chain(tmp_path):
    """start(servers) -> (prometheus, alertmanager); everything stopped by its pid afterwards."""
    started: list = []

    def start(servers: list[RedisServer], node: bool = False) -> tuple[Prometheus, Alertmanager]:
        am = Alertmanager(tmp_path).start()
        started.append(am)
        ex = RedisExporter(tmp_path, "redis_exporter").start()
        started.append(ex)
        nx = None
        if node:
            if not NODE_EXPORTER:
                pytest.skip("needs prometheus-node-exporter")
            nx = NodeExporter(tmp_path, "node_exporter").start()
            started.append(nx)
        prom = Prometheus(tmp_path, "prometheus")
        started.append(prom)
        prom.start(rules_without_waits(RULES, tmp_path / "rules.yml"), am.url, ex, [s.url for s in servers], nx)
        prom.node = nx
        wait_for(lambda: len(prom.query("redis_up == 1")) == len(servers), "every server scraped as up")
        if nx:
            wait_for(lambda: prom.query('up{job="node"} == 1'), "node_exporter scraped as up")
        return prom, am

    yield start
    for p in reversed(started):
        p.stop()


def listed(am: Alertmanager, name: str, url: str, *extra: str, **labels: str) -> dict:
    """The alert as `runbook alerts` lists it, once the Alertmanager has it."""
    def find():
        r = runbook("alerts", "--alertmanager", am.url, "--json", *extra)
        assert r.returncode in (0, 1, 2, 3) and "Traceback" not in r.stderr, r.stderr
        return next((a for a in json.loads(r.stdout or "[]") if a.get("alertname") == name
                     and a.get("labels", {}).get("instance") == url
                     and all(a["labels"].get(k) == v for k, v in labels.items())), None)
    return wait_for(find, f"{name} of {url} listed by runbook alerts", timeout=45, every=0.5)


def this_host(tmp_path) -> str:
    """An inventory that says which host the alerts' 127.0.0.1 is: this one (an exporter's `instance` is
    its own address, a Redis alert's the server's URL; neither says which machine to read on its own)."""
    inv = tmp_path / "inventory.yaml"
    inv.write_text("targets:\n  this: {url: local, addresses: [127.0.0.1]}\n")
    return inv


def run_alert(fingerprint: str, am: Alertmanager, tmp_path, *extra: str) -> set[str]:
    """The finding ids `runbook run --alert` reached (headless), from its journal."""
    from runbook.journal import store

    answers = tmp_path / "answers.yaml"
    answers.write_text("{}\n")
    r = runbook("run", "--alert", fingerprint, "--alertmanager", am.url, "--headless", "--answers", str(answers),
                *extra, timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    journals = list(store.sessions_dir().glob("*.jsonl"))
    assert len(journals) == 1, r.stdout + r.stderr
    (path,) = journals
    return {f["id"] for e in store.read(path).events if e.kind == "findings" for f in e.data.get("findings", [])}


def test_connections_refused_at_maxclients_fire_and_open_redis_clients(chain, tmp_path) -> None:
    s = RedisServer(tmp_path, "r", conf="maxclients 8\n").start()
    held: list[redis_py.Redis] = []
    try:
        prom, am = chain([s])
        for _ in range(12):  # more than the server lets in: some are refused, and it counts them
            c = redis_py.Redis(port=s.port, socket_timeout=2, retry=no_retry())
            try:
                c.ping()
                held.append(c)
            except redis_py.exceptions.ConnectionError:
                c.close()
        assert held and held[0].info("stats")["rejected_connections"] >= 1
        for c in held[-2:]:  # room for the exporter: the counter is read after the fault as it was before
            c.close()
        del held[-2:]
        wait_for(lambda: prom.firing("RedisRejectedConnections"), "RedisRejectedConnections firing in Prometheus",
                 timeout=45)
        for c in held:  # room again for runbook's own connections
            c.close()
        alert = listed(am, "RedisRejectedConnections", s.url)
        assert alert["playbook"] == "redis-clients" and alert["targets"] == {"redis": s.url}
        assert "redis.clients.rejected" in run_alert(alert["fingerprint"], am, tmp_path)
    finally:
        for c in held:
            c.close()
        s.stop()


def test_writes_refused_at_maxmemory_fire_and_open_redis_memory_limit(chain, tmp_path) -> None:
    s = RedisServer(tmp_path, "r", conf="maxmemory 4mb\nmaxmemory-policy noeviction\n").start()
    try:
        c = s.client()
        try:
            for i in range(100_000):  # until the server refuses writes: used memory is at its limit
                c.set(f"k{i}", "x" * 1000)
        except redis_py.exceptions.OutOfMemoryError as e:  # the server's -OOM reply
            assert "maxmemory" in str(e)
        prom, am = chain([s])
        wait_for(lambda: prom.firing("RedisOutOfConfiguredMaxmemory"), "RedisOutOfConfiguredMaxmemory firing", timeout=45)
        alert = listed(am, "RedisOutOfConfiguredMaxmemory", s.url)
        assert alert["playbook"] == "redis-memory-limit" and alert["targets"] == {"redis": s.url}
        assert "redis.memory.maxmemory_reached" in run_alert(alert["fingerprint"], am, tmp_path)
    finally:
        s.stop()


def test_a_master_that_stops_answering_fires_and_open_redis_replication(chain, tmp_path) -> None:
    m = RedisServer(tmp_path, "m").start()
    r = RedisServer(tmp_path, "r", conf=f"replicaof 127.0.0.1 {m.port}\n").start()
    try:
        prom, am = chain([m, r])
        m.stop()  # the fault: the master is gone, its exporter says so
        wait_for(lambda: prom.firing("RedisDown"), "RedisDown firing in Prometheus", timeout=45)
        alert = listed(am, "RedisDown", m.url)
        assert alert["playbook"] == "redis-replication" and alert["targets"] == {"master": m.url}
        # the alert names the master; its replicas are the engineer's to give (or the inventory's)
        found = run_alert(alert["fingerprint"], am, tmp_path, "--target", f"replicas={r.url}")
        assert {"redis.unreachable", "redis.replication.link_down"} <= found
    finally:
        r.stop()
        m.stop()


def test_a_bgsave_that_fails_on_a_full_disk_fires_and_opens_redis_persistence_stall(chain, tmp_path) -> None:
    with tmpfs(tmp_path / "data", "1m") as data:
        s = RedisServer(tmp_path, "r", conf=f"dir {data}\nsave \"\"\n").start()
        try:
            c = s.client()
            pipe = c.pipeline(transaction=False)
            for i in range(2500):  # about 2.5 MB of data that does not compress, for 1 MB of disk
                pipe.set(f"k{i}", os.urandom(1000))
            pipe.execute()
            c.bgsave()
            wait_for(lambda: c.info("persistence")["rdb_last_bgsave_status"] == "err", "the BGSAVE to fail")
            prom, am = chain([s])
            wait_for(lambda: prom.firing("RedisBackupFailing"), "RedisBackupFailing firing in Prometheus", timeout=45)
            alert = listed(am, "RedisBackupFailing", s.url)
            assert alert["playbook"] == "redis-persistence-stall" and alert["targets"] == {"redis": s.url}
            assert "redis.persistence.save_failing" in run_alert(alert["fingerprint"], am, tmp_path)
        finally:
            s.stop()


def test_a_filesystem_that_fills_fires_and_opens_disk_pressure_on_its_mount_point(chain, tmp_path) -> None:
    with ext4(tmp_path / "disk", 32) as disk:
        st = os.statvfs(disk)
        with open(disk / "filler", "wb") as f:  # 97% of the file system: past the rule's 90% and the playbook's
            os.posix_fallocate(f.fileno(), 0, int(st.f_blocks * st.f_frsize * 0.97))
        prom, am = chain([], node=True)
        wait_for(lambda: [a for a in prom.firing("HostOutOfDiskSpace") if a["labels"].get("mountpoint") == str(disk)],
                 "HostOutOfDiskSpace firing for the loop file system", timeout=45)
        inv = this_host(tmp_path)
        alert = listed(am, "HostOutOfDiskSpace", prom.node.address, "-i", inv, mountpoint=str(disk))
        assert alert["playbook"] == "disk-pressure" and alert["targets"] == {"host": "local"}
        assert alert["inputs"] == {"path": str(disk)}  # the mount point that fills, not /
        assert "host.disk.full" in run_alert(alert["fingerprint"], am, tmp_path, "-i", inv)


def test_memory_fragmented_by_deletes_fires_and_opens_redis_memory_health(chain, tmp_path) -> None:
    s = RedisServer(tmp_path, "r", conf="enable-debug-command yes\nactivedefrag no\n").start()
    try:
        fragment(s.client(socket_timeout=120))  # keys made, then deleted: seconds on a busy machine
        prom, am = chain([s])
        wait_for(lambda: prom.firing("RedisMemoryFragmented"), "RedisMemoryFragmented firing in Prometheus", timeout=45)
        inv = this_host(tmp_path)
        alert = listed(am, "RedisMemoryFragmented", s.url, "-i", inv)
        assert alert["playbook"] == "redis-memory-health" and alert["targets"] == {"redis": s.url, "host": "local"}
        assert "redis.memory.fragmentation" in run_alert(alert["fingerprint"], am, tmp_path, "-i", inv)
    finally:
        s.stop()


HOG = """
import os, random, sys, time
chunks = []
def swap_used():
    m = dict(l.split(':', 1) for l in open('/proc/meminfo'))
    total, free = (int(m[k].split()[0]) for k in ('SwapTotal', 'SwapFree'))
    return 1 - free / total
while swap_used() < 0.85:  # grow past the cgroup's limit until the swap is 85% used (the rule: 80%)
    chunks.append(bytearray(os.urandom(2 << 20)))
print('ready', flush=True)
while True:  # read pages that were swapped out, 2 MB at a time: they come in, others go out
    if swap_used() < 0.82:  # a page read back frees its swap slot (the swap is over half full): top it up
        chunks.append(bytearray(os.urandom(2 << 20)))
    c = random.choice(chunks)
    sum(c[i] for i in range(0, len(c), 4096))
    time.sleep(0.01)
"""


@pytest.mark.serial  # the host swaps: every test reading host memory beside it would see it
def test_a_swap_that_fills_fires_and_opens_host_memory(chain, tmp_path) -> None:
    import subprocess

    from runbook.sandbox.incidents import remove_cgroup
    from swapfile import swapfile

    cgroups = Path("/sys/fs/cgroup/memory")
    if os.geteuid() != 0 or not (cgroups / "memory.limit_in_bytes").exists() or not shutil.which("swapon"):
        pytest.skip("needs root, cgroup v1 memory and swapon")
    with swapfile(tmp_path / "test.swap", 256):  # room to page in and out above the line (128 MB: OOM)
        if int(re.search(r"SwapTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1]) > 270 * 1024:
            pytest.skip("this machine has swap of its own: the test's swap cannot fill it")
        cg = cgroups / f"runbook-alert-swap-{os.getpid()}"
        cg.mkdir()
        hog = None
        try:
            (cg / "memory.limit_in_bytes").write_text(str(48 << 20))  # the interpreter needs room: 16 MB was OOM-killed while paging
            (cg / "memory.swappiness").write_text("100")
            (tmp_path / "hog.py").write_text(HOG)
            hog = subprocess.Popen(["sh", "-c", f'echo $$ > {cg}/cgroup.procs && exec "$0" "$1"', sys.executable,
                                    str(tmp_path / "hog.py")], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                   start_new_session=True, text=True)
            assert hog.stdout.readline().strip() == "ready", "the hog did not fill the swap"
            prom, am = chain([], node=True)
            wait_for(lambda: prom.firing("HostSwapIsFillingUp"), "HostSwapIsFillingUp firing in Prometheus", timeout=90)
            inv = this_host(tmp_path)
            alert = listed(am, "HostSwapIsFillingUp", prom.node.address, "-i", inv)
            assert alert["playbook"] == "host-memory" and alert["targets"] == {"host": "local"}
            assert "host.memory.swapping" in run_alert(alert["fingerprint"], am, tmp_path, "-i", inv)
        finally:
            if hog is not None:
                hog.kill()
                hog.wait(10)
            remove_cgroup(cg)
