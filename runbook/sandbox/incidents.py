"""Sandboxes for the playbook library: each puts real local processes into the state of one incident.
They serve rehearsals (`runbook rehearse NAME`) and the scenarios recorded from them
(tests/make_scenarios.py), so what a playbook is tested against was once a real server or JVM."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from runbook.sandbox import java
from runbook.sandbox.procs import Proc, Sandbox, SandboxError, client, start_redis, until
from runbook.targets import Target

DATA = Path(__file__).resolve().parent / "data"


def _redis(sb: Sandbox, name: str, conf: str = "") -> tuple[Any, int, Path, Path]:
    return start_redis(sb, name, conf)


def _java(sb: Sandbox, name: str, program: str, *flags: str, args: tuple[str, ...] = ("600",),
          prefix: list[str] | None = None, info: str = "") -> Proc:
    if not shutil.which("java") or not shutil.which("jcmd"):
        raise SandboxError("java and jcmd are not installed (openjdk-17-jdk-headless)")
    src = DATA / program
    out = sb.dir / f"{src.stem}.out"
    with out.open("wb") as f:  # the program prints "ready" once it is in the state the rehearsal needs
        p = sb.start(name, [*(prefix or []), "java", *flags, *java.program(src), *args], info=info, stdout=f)

    def ready() -> bool:
        if p.popen.poll() is not None:
            raise SandboxError(f"{name} exited early: see {out}")
        return "ready" in _read(out).split()

    def jcmd() -> bool:
        return subprocess.run(["jcmd", str(p.pid), "VM.version"], capture_output=True, timeout=10).returncode == 0

    until(f"{name} saying it is ready", ready, 90)
    until(f"{name} answering jcmd", jcmd, 60)
    return p


def build_memory_limit(sb: Sandbox) -> dict[str, Any]:
    """A Redis at a 4 MB maxmemory under noeviction: the writes that followed were refused with OOM."""
    c, port, cfg, _ = _redis(sb, "redis", "maxmemory 4mb\nmaxmemory-policy noeviction\n")
    refused = 0
    for i in range(20000):
        try:
            c.set(f"cart:{i}", "x" * 200)
        except Exception:  # noqa: BLE001 - OOM command not allowed
            refused += 1
            if refused >= 5:
                break
    sb.say(f"filled the server to its 4 MB limit; {refused} writes were refused with OOM")
    return {"targets": {"redis": Target("redis", f"redis://127.0.0.1:{port}", "redis")},
            "answers": {"find-growth": "done", "decide": "done"}, "expected": "completed",
            "findings": {"redis.memory.maxmemory_reached"}}


def build_latency(sb: Sandbox) -> dict[str, Any]:
    """A Redis where a client ran a Lua script that busy-looped for a quarter of a second, twice."""
    c, port, _, _ = _redis(sb, "redis", "latency-monitor-threshold 10\n")
    for _ in range(2):
        c.eval("local i = 0 while i < 40000000 do i = i + 1 end return i", 0)
    sb.say("a client ran a slow Lua script twice")
    return {"targets": {"redis": Target("redis", f"redis://127.0.0.1:{port}", "redis")},
            "answers": {"slow-commands": "done"}, "expected": "completed",
            "findings": {"redis.latency.slow_commands"}}


def build_clients(sb: Sandbox) -> dict[str, Any]:
    """A Redis at maxclients: a leaking pool on 127.0.0.2 holds every connection; new ones are refused."""
    c, port, _, _ = _redis(sb, "redis", "maxclients 24\nprotected-mode no\n")
    c.close()
    status = sb.dir / "pool.status"
    sb.start("leaking pool", [sys.executable, "-m", "runbook.sandbox.holder", str(port), "24", "127.0.0.2", "600",
                              str(status)], info="holding connections from 127.0.0.2")
    until("the pool filling the server", lambda: status.exists() and status.read_text().endswith("\n"))
    if _ping_error(port):
        raise SandboxError("no connection is left for the checks")
    sb.say(f"a leaking pool holds {status.read_text().strip()} of 24 connections; new connections were refused")
    return {"targets": {"redis": Target("redis", f"redis://127.0.0.1:{port}", "redis")},
            "answers": {"busiest": "done", "kill": {"confirm": "redis"}, "cannot-connect": "done"}, "expected": "completed",
            "findings": {"redis.clients.rejected"}}


def _ping_error(port: int) -> str:
    """"" when a new connection is served, else why not."""
    import redis

    c = client(port, socket_timeout=1)
    try:
        c.ping()
        return ""
    except redis.exceptions.RedisError as e:
        return str(e)
    finally:
        c.close()  # the one free place is for the checks


def build_persistence(sb: Sandbox) -> dict[str, Any]:
    """A Redis whose data directory was deleted under it: every save fails."""
    d = sb.dir / "data"
    d.mkdir()
    c, port, _, _ = _redis(sb, "redis", f"dir {d}\n")
    for i in range(2000):
        c.set(f"order:{i}", i)
    shutil.rmtree(d)
    c.bgsave()
    until("the save failing", lambda: c.info("persistence")["rdb_last_bgsave_status"] == "err")
    sb.say(f"deleted {d}; the background save failed")
    return {"targets": {"redis": Target("redis", f"redis://127.0.0.1:{port}", "redis")},
            "answers": {"saves-fail": "done", "save": {"confirm": "redis"}, "still-failing": "done"},
            "expected": "completed", "findings": {"redis.persistence.save_failing"}}


def build_replication(sb: Sandbox) -> dict[str, Any]:
    """A master that died with two replicas, one of which had fallen behind: the other must be promoted."""
    m, mport, _, _ = _redis(sb, "master")
    reps = []
    for i in (1, 2):
        c, port, _, _ = _redis(sb, f"replica{i}", f"replicaof 127.0.0.1 {mport}\n")
        reps.append((c, port, sb.procs[-1]))
    until("both replicas online", lambda: m.info("replication")["connected_slaves"] == 2 and all(
        c.info("replication")["master_link_status"] == "up" for c, _, _ in reps))
    for i in range(1000):
        m.set(f"acct:{i}", i)
    until("the replicas caught up", lambda: all(
        c.info("replication")["slave_repl_offset"] == m.info("replication")["master_repl_offset"] for c, _, _ in reps))
    os.kill(reps[1][2].pid, signal.SIGSTOP)  # replica 2 falls behind
    for i in range(1000, 3000):
        m.set(f"acct:{i}", i)
    until("replica 1 caught up", lambda: reps[0][0].info("replication")["slave_repl_offset"]
           == m.info("replication")["master_repl_offset"])
    master_proc = sb.procs[0]
    os.kill(master_proc.pid, signal.SIGKILL)
    master_proc.popen.wait(5)
    os.kill(reps[1][2].pid, signal.SIGCONT)
    sb.say("the master died; replica 2 had been stopped and missed 2000 writes")
    targets = {"master": Target("master", f"redis://127.0.0.1:{mport}", "redis"),
               "replicas-1": Target("replicas-1", f"redis://127.0.0.1:{reps[0][1]}", "redis"),
               "replicas-2": Target("replicas-2", f"redis://127.0.0.1:{reps[1][1]}", "redis")}
    return {"targets": targets, "answers": {"master-gone": "done", "promote": {"confirm": "replicas-1"}},
            "expected": "completed", "findings": {"redis.unreachable"}}


def _sentinel(sb: Sandbox, name: str, master_port: int, quorum: int = 2) -> int:
    from runbook.sandbox.procs import free_port

    port = free_port()
    d = sb.dir / name
    d.mkdir()
    conf = d / "sentinel.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {d}\nlogfile {d}/sentinel.log\n"
                    f"sentinel monitor main 127.0.0.1 {master_port} {quorum}\n"
                    "sentinel down-after-milliseconds main 1000\nsentinel failover-timeout main 10000\n")
    argv = ["redis-sentinel", str(conf)] if shutil.which("redis-sentinel") else ["redis-server", str(conf), "--sentinel"]
    sb.start(f"redis-sentinel {name}", argv, cwd=d, info=f"on 127.0.0.1:{port}")
    until(f"{name} answering", lambda: client(port, socket_timeout=1).ping())
    return port


def build_sentinel(sb: Sandbox) -> dict[str, Any]:
    """Three Sentinels watching a master with no replica; the master dies: they agree it is down, and
    nothing can take over. The failover's guard must refuse."""
    m, mport, _, _ = _redis(sb, "master")
    ports = [_sentinel(sb, f"sentinel{i}", mport) for i in (1, 2, 3)]
    s = client(ports[0], socket_timeout=2, decode_responses=True)
    until("the Sentinels meeting", lambda: str(s.execute_command("SENTINEL", "CKQUORUM", "main")).startswith("OK"))
    master_proc = sb.procs[0]
    os.kill(master_proc.pid, signal.SIGKILL)
    master_proc.popen.wait(5)
    until("the Sentinels agreeing the master is down",
           lambda: "o_down" in s.execute_command("SENTINEL", "MASTER", "main")["flags"])
    sb.say("the master died; the Sentinels agree it is down (o_down) and it has no replica")
    return {"targets": {"sentinel": Target("sentinel", f"redis://127.0.0.1:{ports[0]}", "redis")},
            "answers": {"master-down": "done", "failing-over": "done", "failover": {"confirm": "sentinel"}},
            "expected": "blocked",
            "findings": {"redis.sentinel.master_down"}}


def build_cluster(sb: Sandbox) -> dict[str, Any]:
    """A three-master cluster; the third master dies and its replica is set not to fail over by itself:
    5461 slots are down until the engineer forces the failover (break-glass)."""
    from runbook.sandbox.procs import free_port

    nodes = []
    for i in range(4):
        bus = free_port()
        extra = "cluster-replica-no-failover yes\n" if i == 3 else ""
        c, port, _, _ = _redis(sb, f"node{i}", f"cluster-enabled yes\ncluster-node-timeout 1000\ncluster-port {bus}\n"
                                             f"cluster-config-file nodes.conf\n{extra}")
        nodes.append((c, port, bus, sb.procs[-1]))
    for (c, _, _, _), (a, b) in zip(nodes, [(0, 5460), (5461, 10922), (10923, 16383)]):
        c.execute_command("CLUSTER", "ADDSLOTSRANGE", a, b)
    for _, port, bus, _ in nodes[1:]:
        nodes[0][0].execute_command("CLUSTER", "MEET", "127.0.0.1", port, bus)
    until("the nodes meeting", lambda: "cluster_known_nodes:4" in str(nodes[3][0].execute_command("CLUSTER", "INFO")))
    nodes[3][0].execute_command("CLUSTER", "REPLICATE", nodes[2][0].execute_command("CLUSTER", "MYID"))
    until("the replica in sync", lambda: nodes[3][0].info("replication").get("master_link_status") == "up")
    until("the cluster serving every slot", lambda: "cluster_state:ok" in str(nodes[0][0].execute_command("CLUSTER", "INFO")))
    os.kill(nodes[2][3].pid, signal.SIGKILL)
    until("the cluster failing", lambda: "cluster_state:fail" in str(nodes[0][0].execute_command("CLUSTER", "INFO")))
    sb.say("the third master died; its replica will not fail over by itself")
    return {"targets": {"node": Target("node", f"redis://127.0.0.1:{nodes[0][1]}", "redis"),
                        "replica": Target("replica", f"redis://127.0.0.1:{nodes[3][1]}", "redis")},
            "params": {"mode": "FORCE"},
            "answers": {"failed": "done",
                        "failover": {"confirm": "replica", "break_glass": "its master is dead: a coordinated failover cannot happen"}},
            "expected": "completed", "findings": {"redis.cluster.node_failed", "redis.cluster.slots_uncovered"}}


FRAGMENT_KEYS = 300_000


def fragment(c: Any) -> None:
    """Fragment a Redis (started with enable-debug-command yes, activedefrag no): 300,000 keys of 800 bytes,
    then nine in ten deleted. Nearly every allocator page keeps a live key, so the memory stays with the
    process: about 270 MB held for 35 MB of data, a ratio near 9, steady for minutes (jemalloc 5 in Redis 7).
    1.5 million keys of 200 bytes held as much and took four times the server's CPU to make."""
    c.execute_command("DEBUG", "POPULATE", FRAGMENT_KEYS, "key", 800)
    c.eval(f"for i = 0, {FRAGMENT_KEYS - 1} do if i % 10 ~= 0 then redis.call('UNLINK', 'key:' .. i) end end", 0)


def build_fragmentation(sb: Sandbox) -> dict[str, Any]:
    """A Redis that loaded 300,000 keys and deleted nine in ten: the memory stays with the process."""
    c, port, cfg, _ = _redis(sb, "redis", "enable-debug-command yes\nactivedefrag no\n")
    fragment(c)
    sb.say("loaded 300,000 keys and deleted nine in ten")
    return {"targets": {"redis": Target("redis", f"redis://127.0.0.1:{port}", "redis"), "host": Target("host", "local", "host")},
            "answers": {"fragmentation": "done", "defrag": {"confirm": "redis"}, "no-defrag": "done"}, "expected": "completed",
            "findings": {"redis.memory.fragmentation"}}


def build_heap_exhausted(sb: Sandbox) -> dict[str, Any]:
    """A JVM whose cache grew to fill its old generation: full GCs back to back, each freeing nothing."""
    p = _java(sb, "java HeapFull", "HeapFull.java", "-XX:+UseParallelGC", "-Xmx64m", "-Xmn8m",
              f"-Xlog:gc*:file={sb.dir}/gc.log", args=("600", "54"), info="with -Xmx64m and a 54 MB live set")
    until("full GCs coming back to back", lambda: _read(sb.dir / "gc.log").count("Pause Full") >= 3, 60)
    return {"targets": {"app": Target("app", f"pid:{p.pid}", "jvm")},
            "answers": {"keep-evidence": "done", "histogram": {"consent": ["jvm.class_histogram"]},
                        "dump": {"confirm": "app"}, "restart": "done"},
            "params": {"dump_path": str(sb.dir / "heap.hprof")},
            "expected": "completed", "findings": {"jvm.heap.exhausted"}}


def build_hot_thread(sb: Sandbox) -> dict[str, Any]:
    """A JVM with one runaway thread spinning in a loop."""
    p = _java(sb, "java HotThread", "HotThread.java", info="with a runaway thread, price-recalc")
    return {"targets": {"app": Target("app", f"pid:{p.pid}", "jvm")},
            "answers": {"keep-dumps": {"confirm": "app"}, "read-code": "done"},
            "params": {"dumps_path": str(sb.dir / "thread-dumps.txt")},
            "expected": "completed", "findings": {"jvm.threads.hot"}}


def build_deadlock(sb: Sandbox) -> dict[str, Any]:
    """A JVM whose two order workers deadlocked on two locks taken in opposite orders."""
    p = _java(sb, "java Deadlock", "Deadlock.java", info="with two deadlocked workers")
    return {"targets": {"app": Target("app", f"pid:{p.pid}", "jvm")},
            "answers": {"keep-dumps": {"confirm": "app"}, "restart": "done"},
            "params": {"dumps_path": str(sb.dir / "deadlock-dumps.txt")},
            "expected": "completed", "findings": {"jvm.deadlock"}}


def memory_cgroup_root() -> Path | None:
    for root in (Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup")):
        if (root / "cgroup.procs").exists() and ((root / "memory.limit_in_bytes").exists()
                                                 or "memory" in _read(root / "cgroup.controllers")):
            return root
    return None


def _read(p: Path) -> str:
    try:
        return p.read_text()
    except OSError:
        return ""


def build_container_memory(sb: Sandbox) -> dict[str, Any]:
    """A JVM started with -Xmx512m inside a cgroup limited to 256 MB: the kernel would kill it long before
    its heap is full. Needs root (it makes the cgroup, and removes it when the sandbox stops)."""
    root = memory_cgroup_root()
    if os.geteuid() != 0 or root is None:
        raise SandboxError("needs root and a memory cgroup (cgroup v1 memory or v2)")
    cg = sb.dir.name
    path = root / f"runbook-{cg}"
    path.mkdir()
    limit_file = path / ("memory.limit_in_bytes" if (path / "memory.limit_in_bytes").exists() else "memory.max")
    limit_file.write_text(str(256 * 1024 * 1024))
    sb.notes.append(f"cgroup {path}")
    sb.cleanups.append(lambda: remove_cgroup(path))
    p = _java(sb, "java HeapFull", "HeapFull.java", "-Xmx512m", args=("600", "8"),
              prefix=["sh", "-c", f'echo $$ > {path}/cgroup.procs && exec "$@"', "sh"], info="in a 256 MB cgroup")
    return {"targets": {"app": Target("app", f"pid:{p.pid}", "jvm")}, "answers": {"limit": "done"},
            "expected": "completed", "findings": {"jvm.container.memory_limit"}}


def remove_cgroup(path: Path, timeout: float = 30.0) -> None:
    """rmdir the sandbox's cgroup once the processes in it are gone: any still listed in it (a child the
    sandbox did not start itself) is killed, and the kernel lets go of them a moment later, longer on a
    busy machine."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SandboxError(f"the cgroup {path} still holds processes: remove it with rmdir once they end") from None
        for pid in _read(path / "cgroup.procs").split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        time.sleep(0.1)
