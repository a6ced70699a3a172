"""Rehearsal scenarios: real local processes put into a fault, and the playbook that goes with each."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from runbook.sandbox import java
from runbook.sandbox.procs import Sandbox, SandboxError  # noqa: F401 - SandboxError: rehearse reads it here
from runbook.sandbox.procs import start_redis as _redis
from runbook.sandbox.procs import until
from runbook.targets import Target

PLAYBOOKS = Path(__file__).resolve().parent.parent.parent / "playbooks"
DATA = Path(__file__).resolve().parent / "data"


# A probe's timeout in a rehearsal: its processes are local and fresh, and a busy machine (a JVM's attach
# takes seconds when the cores are taken) must not change what the rehearsal teaches.
REHEARSAL_TIMEOUT = 10.0


@dataclass
class Built:
    targets: dict[str, Target]
    answers: dict[str, Any]
    expected: str  # the outcome the rehearsal is meant to reach ("blocked", "completed")
    notes: list[str] = field(default_factory=list)
    findings: set[str] = field(default_factory=set)  # ids the rehearsal must name
    params: dict[str, Any] = field(default_factory=dict)  # the playbook's inputs for this rehearsal


@dataclass
class Scenario:
    name: str
    summary: str
    playbook: str
    build: Callable[[Sandbox], Built]
    needs: tuple[str, ...] = ()

    @property
    def playbook_path(self) -> Path:
        return PLAYBOOKS / f"{self.playbook}.yaml"


def build_twilio(sb: Sandbox) -> Built:
    """Twilio, July 2013: a master, three replicas, a steady writer, a backlog too small for a blip, and the
    master's config file as it was: appendonly yes with only an RDB on disk, replicaof pointing at itself."""
    master, port, cfg, _ = _redis(sb, "master", "repl-backlog-size 16kb\nrepl-diskless-sync no\n"
                                                "client-output-buffer-limit replica 1mb 512kb 1\n")
    pipe = master.pipeline(transaction=False)
    for i in range(20000):
        pipe.set(f"balance:{i}", 100 + i % 900)
    pipe.execute()
    master.save()
    sb.say(f"master holds {master.dbsize()} balances, saved to dump.rdb")
    replicas = []
    for i in range(3):
        c, rport, _, _ = _redis(sb, f"replica{i}", f"replicaof 127.0.0.1 {port}\n")
        replicas.append((c, sb.procs[-1]))
    until("the three replicas online", lambda: [master.info("replication")[f"slave{i}"]["state"] for i in range(3)] == ["online"] * 3, 20)
    # about 1.2 MB/s: a steady load, not a benchmark (a writer at full speed took most of two cores)
    sb.start("steady writer", [sys.executable, "-m", "runbook.sandbox.writer", str(port), "600", "4000", "20000"],
             info=f"to 127.0.0.1:{port}, 4000 writes/s")
    # the config file a restart reads, as it was in 2013 (the running master is not touched)
    cfg.write_text(cfg.read_text().replace("appendonly no", "appendonly yes") + f"replicaof 127.0.0.1 {port}\n")
    sb.say(f"rewrote {cfg}: appendonly yes (no AOF exists) and replicaof 127.0.0.1 {port} (itself)")
    # A snapshot of a big dataset takes seconds; 50 us per key makes these 40,000 take about two, in sleep
    # rather than CPU. The writes buffered for a replica meanwhile outgrow its 1 MB limit, so no full sync
    # can finish: each ends in a disconnect and another request.
    master.config_set("rdb-key-save-delay", 50)
    time.sleep(1.0)
    # the blip: the replicas lose the master, under a burst of writes, long enough to need full resyncs
    for _, p in replicas:
        os.kill(p.pid, signal.SIGSTOP)
    burst = master.pipeline(transaction=False)
    for i in range(20000):
        burst.set(f"w:{i}", "y" * 256)
    burst.execute()
    time.sleep(2.5)
    for _, p in replicas:
        os.kill(p.pid, signal.SIGCONT)
    sb.say("fault injected: the replicas were cut off for 2.5 s; they now ask for full resyncs over and over")
    target = Target("master", f"redis://127.0.0.1:{port}", "redis", restart_command=("redis-server", str(cfg)))
    return Built({"master": target}, {"storm": "done", "aof-trap": "done", "preview": "done",
                                      "restart": {"confirm": "master"}, "investigate": "done"}, "blocked")


def build_dir_deleted(sb: Sandbox) -> Built:
    """A master whose data directory was deleted under it: saves fail, writes may be refused, a restart
    would not find its directory."""
    d = sb.dir / "data"
    d.mkdir()
    master, port, cfg, home = _redis(sb, "master", f"dir {d}\n")
    pipe = master.pipeline(transaction=False)
    for i in range(5000):
        pipe.set(f"session:{i}", "x" * 32)
    pipe.execute()
    shutil.rmtree(d)
    try:
        master.bgsave()
    except Exception:  # noqa: BLE001
        pass
    deadline = time.monotonic() + 10
    while master.info("persistence")["rdb_last_bgsave_status"] != "err" and time.monotonic() < deadline:
        time.sleep(0.1)
    sb.say(f"deleted {d} under the running master; its background save failed")
    target = Target("master", f"redis://127.0.0.1:{port}", "redis", restart_command=("redis-server", str(cfg)))
    return Built({"master": target}, {"storm": "done", "aof-trap": "done", "preview": "done",
                                      "restart": {"confirm": "master"}, "investigate": "done"}, "blocked")


def build_jvm_gc(sb: Sandbox) -> Built:
    """A JVM with a small heap and a live set close to it: long and frequent old collections, its GC log
    written without rotation (a restart would overwrite the evidence)."""
    if not shutil.which("java"):
        raise SandboxError("java is not installed (openjdk-17-jdk-headless)")
    log = sb.dir / "gc.log"
    # one GC thread: the collections are as long and as frequent (a fifth of the time left to the program),
    # on one core where two GC threads kept a core and a half busy for as long as the rehearsal ran
    p = sb.start("java GcPressure", ["java", "-XX:+UseParallelGC", "-XX:ParallelGCThreads=1", "-Xmx24m", "-Xms24m",
                                     f"-Xlog:gc*:file={log}::filecount=0", *java.program(DATA / "GcPressure.java"), "600"],
                 info="with -Xmx24m and an unrotated GC log")
    deadline = time.monotonic() + 30
    while (not log.exists() or log.stat().st_size < 20000) and time.monotonic() < deadline:
        if p.popen.poll() is not None:
            raise SandboxError("the JVM exited early")
        time.sleep(0.2)
    time.sleep(2.0)
    target = Target("app", f"pid:{p.pid}", "jvm")
    return Built({"app": target}, {"keep-evidence": "done", "dump": {"confirm": "app"}, "healthy": "done"}, "completed")


def _built(fn: Callable[[Sandbox], dict[str, Any]]) -> Callable[[Sandbox], Built]:
    def build(sb: Sandbox) -> Built:
        return Built(**fn(sb))

    build.__doc__ = fn.__doc__
    return build


def _library() -> list[Scenario]:
    from runbook.sandbox import incidents as i

    r, j = ("redis-server",), ("java", "jcmd")
    return [
        Scenario("redis-oom", "a Redis at its memory limit refusing writes with OOM", "redis-memory-limit",
                 _built(i.build_memory_limit), r),
        Scenario("redis-slow-script", "a Redis where a client's Lua script stalled everyone", "redis-latency",
                 _built(i.build_latency), r),
        Scenario("redis-maxclients", "a Redis at maxclients, its connections held by one leaking pool", "redis-clients",
                 _built(i.build_clients), r),
        Scenario("redis-save-failing", "a Redis whose saves fail: its data directory was deleted",
                 "redis-persistence-stall", _built(i.build_persistence), r),
        Scenario("redis-master-lost", "a master died; one replica is behind, the other must be promoted",
                 "redis-replication", _built(i.build_replication), r),
        Scenario("sentinel-master-down", "Sentinels agree the master is down, and nothing can take over",
                 "redis-sentinel", _built(i.build_sentinel), r),
        Scenario("cluster-node-failed", "a cluster master died; its replica will not take over by itself",
                 "redis-cluster", _built(i.build_cluster), r),
        Scenario("redis-fragmented", "a Redis holding far more memory than its data after mass deletes",
                 "redis-memory-health", _built(i.build_fragmentation), r),
        Scenario("jvm-heap-full", "a JVM whose live set fills its heap: full GCs free nothing", "jvm-heap-exhausted",
                 _built(i.build_heap_exhausted), j),
        Scenario("jvm-hot-thread", "a JVM with one runaway thread", "jvm-hot-thread", _built(i.build_hot_thread), j),
        Scenario("jvm-deadlock", "a JVM with two deadlocked workers", "jvm-deadlock", _built(i.build_deadlock), j),
        Scenario("jvm-container-limit", "a JVM whose heap may outgrow its cgroup's memory limit (needs root)",
                 "jvm-container-memory", _built(i.build_container_memory), j),
    ]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario("twilio-2013", "a Redis master in a full-sync storm whose restart would start empty, as a replica of itself",
                 "redis-master-restart", build_twilio, ("redis-server", "redis-cli")),
        Scenario("redis-dir-deleted", "a Redis master whose data directory was deleted: saves fail",
                 "redis-master-restart", build_dir_deleted, ("redis-server",)),
        Scenario("jvm-gc-pressure", "a JVM with a heap too small, long pauses, and a GC log a restart would overwrite",
                 "jvm-gc-pressure", build_jvm_gc, ("java",)),
        *_library(),
    ]
}
