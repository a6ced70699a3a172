"""`jvm.threads`: which threads of a JVM burn the CPU, on this machine or over ssh on its host. Two readings of /proc/PID/task/*/stat
`interval_s` apart give each thread's CPU share; a thread dump (jcmd Thread.print) names each thread by its
nid (the kernel's thread id) and gives its top frames. GC and JIT compiler threads are told apart from the
application's. Read-only (a thread dump is a safe diagnostic: a brief safepoint)."""

from __future__ import annotations

import os
import re
import time
from typing import Any

from runbook.catalog import make
from runbook.findings import Finding
from runbook.targets import Target

HOT_PCT = 80.0  # of one core
_HEADER = re.compile(r'^"(?P<name>(?:[^"\\]|\\.)*)"(?P<rest>.*)$')
_NID = re.compile(r"\bnid=(0x[0-9a-fA-F]+|\d+)\b")
_STATE = re.compile(r"java\.lang\.Thread\.State: (\w+)")
GC_NAMES = ("GC Thread", "G1 ", "ZWorker", "ZDriver", "ZDirector", "ZStat", "Shenandoah", "ParGC", "VM Thread",
            "Concurrent Mark", "Conc#", "CMS ", "VM Periodic")
JIT_NAMES = ("C1 CompilerThre", "C2 CompilerThre", "C1 CompilerThread", "C2 CompilerThread", "Sweeper")


# Over ssh: every thread's stat and comm in one read (the glob is the remote shell's; the pid an argument).
_TASKS = 'cd /proc/"$1"/task || exit 1; exec grep -a -H "" -- */stat */comm'


def _ticks(pid: int, acc: Any) -> tuple[dict[int, int], dict[int, str]]:
    """CPU ticks (utime + stime) and the kernel's name of each thread of pid."""
    stats: dict[int, str] = {}
    comms: dict[int, str] = {}
    if acc.local:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError as e:
            raise ValueError(f"cannot read the threads of {pid}: {e.strerror}") from None
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii", errors="replace") as f:
                    stats[int(tid)] = f.read()
            except OSError:
                continue  # the thread ended between the listing and the read
    else:
        r = acc.run(["sh", "-c", _TASKS, "sh", str(pid)])
        if r.rc not in (0, 2) or not r.stdout:  # 2: a thread ended between the glob and the read
            raise ValueError(f"cannot read the threads of {pid} on {acc.host}")
        for line in r.text.splitlines():
            where, _, value = line.partition(":")
            tid, _, what = where.partition("/")
            if tid.isdigit():
                (stats if what == "stat" else comms)[int(tid)] = value
    out = {}
    for tid, stat in stats.items():
        try:
            fields = stat.rsplit(")", 1)[1].split()
            out[tid] = int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15)
        except (IndexError, ValueError):
            continue
    return out, comms


def kind_of(name: str) -> str:
    if name.startswith(JIT_NAMES):
        return "JIT compiler"
    if name.startswith(GC_NAMES):
        return "GC"
    return "application"


def parse_dump(text: str) -> dict[int, dict[str, Any]]:
    """nid -> name, state, top frames."""
    out: dict[int, dict[str, Any]] = {}
    cur: dict[str, Any] | None = None
    for line in text.splitlines():
        m = _HEADER.match(line)
        if m:
            cur = None
            n = _NID.search(m["rest"])
            if n:
                nid = int(n[1], 16) if n[1].startswith("0x") else int(n[1])
                cur = out[nid] = {"name": m["name"], "state": None, "frames": []}
            continue
        if cur is None:
            continue
        s = _STATE.search(line)
        if s:
            cur["state"] = s[1]
        elif line.startswith("\tat ") and len(cur["frames"]) < 6:
            cur["frames"].append(line[4:].strip())
    return out


def probe(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    from runbook.access import for_target
    from runbook.jvm.live import thread_dump

    if target.pid is None:
        raise ValueError("per-thread CPU needs the JVM's pid (pid:N, with ssh: for another host)")
    acc = for_target(target)
    interval = float(params.get("interval_s", 1.0))
    a, _ = _ticks(target.pid, acc)
    t0 = time.monotonic()
    time.sleep(interval)
    b, comms = _ticks(target.pid, acc)
    dt = time.monotonic() - t0
    return facts_of(target.pid, a, b, comms, dt, thread_dump(target.pid, max(timeout, 10), acc), acc, params)


def facts_of(pid: int, a: dict[int, int], b: dict[int, int], comms: dict[int, str], dt: float, dump_text: str | None,
             acc: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The probe's facts from two samples of the threads' ticks dt seconds apart and a thread dump taken
    between them (None: no dump; the kernel's names are used); `jvm check` samples around its own reads."""
    hz, cpus = _clock(acc)
    dump = parse_dump(dump_text) if dump_text else {}
    rows = []
    for tid, ticks in b.items():
        pct = round(100.0 * (ticks - a.get(tid, ticks)) / hz / dt, 1)
        info = dump.get(tid)
        name = info["name"] if info else (comms.get(tid, "").strip() or _comm(pid, tid, acc))
        rows.append({"tid": tid, "name": name, "cpu_pct": pct, "kind": kind_of(name),
                     "state": info["state"] if info else None, "frames": info["frames"] if info else []})
    rows.sort(key=lambda r: -r["cpu_pct"])
    by_kind: dict[str, float] = {}
    for r in rows:
        by_kind[r["kind"]] = round(by_kind.get(r["kind"], 0.0) + r["cpu_pct"], 1)
    return {"pid": pid, "interval_s": round(dt, 2), "cpus": cpus, "threads": len(rows),
            "hot_pct": float(params.get("hot_pct", HOT_PCT)), "cpu_pct_by_kind": by_kind, "top": rows[:10]}


def _clock(acc: Any) -> tuple[int, int | None]:
    """The host's clock ticks per second and its CPUs."""
    if acc.local:
        return os.sysconf("SC_CLK_TCK"), os.cpu_count()
    r = acc.run(["sh", "-c", "getconf CLK_TCK; nproc"])
    words = r.text.split()
    if r.rc != 0 or len(words) != 2 or not all(w.isdigit() for w in words):
        raise ValueError(f"cannot read the clock ticks and CPUs of {acc.host}")
    return int(words[0]), int(words[1])


def _comm(pid: int, tid: int, acc: Any) -> str:
    if not acc.local:
        return f"tid {tid}"  # its comm came with its stat, or the thread has ended
    try:
        with open(f"/proc/{pid}/task/{tid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return f"tid {tid}"


def assess(facts: dict[str, Any]) -> list[Finding]:
    hot = float(facts.get("hot_pct") or HOT_PCT)
    top = [r for r in facts.get("top") or [] if r["cpu_pct"] >= hot]
    if not top:
        return []
    r = top[0]
    ev = {"thread": r["name"], "nid": hex(r["tid"]), "cpu_pct": r["cpu_pct"], "kind": r["kind"],
          "state": r.get("state"), "top_frames": r.get("frames") or [],
          "cpu_pct_by_kind": facts.get("cpu_pct_by_kind"), "sampled_s": facts.get("interval_s")}
    if len(top) > 1:
        ev["also_hot"] = [f"{x['name']} ({x['cpu_pct']}%, {x['kind']})" for x in top[1:5]]
    title = None
    if r["kind"] != "application":
        title = f"A {r['kind']} thread is using a whole CPU: look at {'the GC' if r['kind'] == 'GC' else 'compilation'}, not the code"
    return [make("jvm.threads.hot", ev, title=title)]


class SaveThreadDumps:
    """params.count thread dumps (default 3), params.interval_s apart (default 2), written to params.path
    on this machine (never over an existing file): the evidence of a hot or deadlocked JVM, kept before
    any restart. A JVM over ssh is dumped there with its own jcmd; the file is kept here, off the host in
    trouble. Proves the file holds every dump."""

    @staticmethod
    def describe(target: Target, params: dict[str, Any]) -> str:
        if target.pid is None:
            raise ValueError("thread dumps are taken of a JVM by its pid (pid:N, with ssh: for another host)")
        if not params.get("path"):
            raise ValueError("jvm.save_thread_dumps needs params.path, the file to write")
        n, every = int(params.get("count", 3)), float(params.get("interval_s", 2))
        there = f" on {target.ssh} over ssh" if target.ssh else ""
        here = " on this machine" if target.ssh else ""  # the evidence is kept off the host in trouble
        return (f"jcmd {target.pid} Thread.print{there}, {n} times {every:g} s apart, into {params['path']}{here} "
                "(a new file)")

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        from runbook.access import for_target
        from runbook.expect import expect
        from runbook.jvm.live import JvmError, thread_dump

        acc = for_target(target)
        path = str(params["path"])
        n, every = int(params.get("count", 3)), float(params.get("interval_s", 2))
        try:
            with open(path, "x", encoding="utf-8") as f:  # "x": never over an existing file
                for i in range(n):
                    if i:
                        time.sleep(every)
                    f.write(f"=== thread dump {i + 1} of {n}, {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n")
                    f.write(thread_dump(target.pid, max(timeout, 10), acc))
                    f.write("\n")
        except FileExistsError:
            return {"ok": False, "error": f"{path} exists: choose a new file (the evidence is never overwritten)"}
        except (OSError, JvmError) as e:
            return {"ok": False, "error": str(e)}
        with open(path, encoding="utf-8", errors="replace") as f:
            dumps = f.read().count("Full thread dump")
        return expect({"ok": True, "path": path}, f"{n} thread dumps in {path}", dumps == n, f"{dumps} dumps")
