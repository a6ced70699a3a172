"""Live JVMs: local processes (psutil, jstat, jcmd) and remote ones over HTTP (Jolokia, Spring Boot
actuator). Probes only read; the heap dump is an action."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Any

from runbook import catalog, procs
from runbook.expect import expect
from runbook.findings import Finding, sort_findings
from runbook.targets import Target

COLLECTOR_FLAGS = [("UseG1GC", "G1"), ("UseParallelGC", "Parallel"), ("UseParallelOldGC", "Parallel"),
                   ("UseSerialGC", "Serial"), ("UseConcMarkSweepGC", "CMS"), ("UseZGC", "ZGC"),
                   ("UseShenandoahGC", "Shenandoah")]
_SIZE = re.compile(r"^(\d+)([kKmMgGtT]?)$")


class JvmError(Exception):
    pass


def _size(v: str) -> int | None:
    m = _SIZE.match(v)
    if not m:
        return None
    return int(m[1]) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}[m[2].lower()]


def java_processes() -> list[int]:
    import psutil

    out = []
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            name = p.info["name"] or ""
            cmd = p.info["cmdline"] or []
            if name == "java" or (cmd and os.path.basename(cmd[0]) == "java"):
                out.append(p.pid)
        except psutil.Error:
            continue
    return sorted(out)


def parse_cmdline(cmd: list[str], cwd: str | None) -> dict[str, Any]:
    """Collector, heap settings, GC log and its rotation, heap dump settings, from a java command line."""
    facts: dict[str, Any] = {"collector": None, "xmx_bytes": None, "xms_bytes": None, "gc_log": None,
                             "gc_log_rotation": None, "heap_dump_on_oom": False, "heap_dump_path": None}
    for a in cmd:
        if a.startswith("-XX:+"):
            for flag, coll in COLLECTOR_FLAGS:
                if a[5:] == flag:
                    facts["collector"] = coll
            if a == "-XX:+HeapDumpOnOutOfMemoryError":
                facts["heap_dump_on_oom"] = True
        elif a.startswith("-Xmx"):
            facts["xmx_bytes"] = _size(a[4:])
        elif a.startswith("-Xms"):
            facts["xms_bytes"] = _size(a[4:])
        elif a.startswith("-XX:MaxHeapSize="):
            facts["xmx_bytes"] = _size(a.split("=", 1)[1])
        elif a.startswith("-XX:HeapDumpPath="):
            facts["heap_dump_path"] = a.split("=", 1)[1]
        elif a.startswith("-Xloggc:"):
            facts["gc_log"] = a[len("-Xloggc:"):]
            facts["gc_log_format"] = "legacy"
            facts["gc_log_rotation"] = "-XX:+UseGCLogFileRotation" in cmd
        elif a.startswith("-Xlog:") and ("gc" in a.split(":")[0] or a.startswith("-Xlog:gc")):
            parts = a[len("-Xlog:"):].split(":")
            if len(parts) >= 2 and parts[1].startswith("file="):
                facts["gc_log"] = parts[1][5:].strip('"')
                facts["gc_log_format"] = "unified"
                opts = parts[3] if len(parts) >= 4 else ""
                m = re.search(r"filecount=(\d+)", opts)
                facts["gc_log_rotation"] = not (m and m[1] == "0")  # unified logging rotates files by default
                facts["gc_log_options"] = opts
    if facts["collector"] is None:
        facts["collector"] = "G1 (default)"
    log = facts["gc_log"]
    if log:
        facts["gc_log_unique_name"] = "%p" in log or "%t" in log
        path = log.replace("%p", "*").replace("%t", "*")
        if cwd and not os.path.isabs(path):
            path = os.path.join(cwd, path)
        facts["gc_log_path"] = path
    return facts


def _is_jvm(pid: str, acc: Any = None) -> bool:
    """Whether the process has the JVM's library mapped: jcmd attaches by sending SIGQUIT, and SIGQUIT ends a
    process that is not a JVM (a wrong pid typed at 2 a.m. would kill it)."""
    if not pid.isdigit():
        return False
    if acc is not None and not acc.local:
        from runbook.access import AccessError

        try:
            return acc.run(["grep", "-q", "-F", "libjvm.so", f"/proc/{pid}/maps"], 10).rc == 0
        except AccessError:
            return False
    try:
        with open(f"/proc/{pid}/maps", "rb") as f:
            return any(b"libjvm.so" in line for line in f)
    except OSError:
        return False


def _run(argv: list[str], timeout: float, acc: Any = None) -> str:
    """A JDK tool's output, on this machine or, with a host access (runbook.access), on the JVM's host.
    jcmd runs only against a process that is a JVM (see _is_jvm)."""
    if argv[0] == "jcmd" and len(argv) > 1 and not _is_jvm(argv[1], acc):
        raise JvmError(f"process {argv[1]} is not a JVM (no libjvm.so in its memory), or could not be read: jcmd "
                       "was not run (it attaches by sending SIGQUIT, which ends a process that is not a JVM)")
    if acc is not None and not acc.local:
        from runbook.access import AccessError

        try:
            r = acc.run(argv, timeout)
        except AccessError as e:
            raise JvmError(str(e)) from None
        if r.rc == 127:
            raise JvmError(f"{argv[0]} is not installed on {acc.name}")
        if r.rc != 0:
            raise JvmError((r.stderr or r.stdout).decode("utf-8", "replace").strip()[-300:] or f"{argv[0]} exited {r.rc}")
        return r.text
    if not shutil.which(argv[0]):
        raise JvmError(f"{argv[0]} is not installed")
    try:
        p = procs.run(argv, timeout, text=True)
    except subprocess.TimeoutExpired:
        raise JvmError(f"{' '.join(argv[:3])} did not answer within {timeout:g} s") from None
    if p.returncode != 0:
        raise JvmError((p.stderr or p.stdout).strip()[-300:] or f"{argv[0]} exited {p.returncode}")
    return p.stdout


def jstat(pid: int, timeout: float, acc: Any = None) -> dict[str, float]:
    """One jstat -gcutil sample: S0 S1 E O M CCS YGC YGCT FGC FGCT CGC CGCT GCT."""
    out = _run(["jstat", "-gcutil", str(pid)], timeout, acc).strip().splitlines()
    if len(out) < 2:
        raise JvmError("jstat gave no sample")
    head, vals = out[0].split(), out[-1].split()
    res = {}
    for h, v in zip(head, vals):
        try:
            res[h] = int(v) if h in ("YGC", "FGC", "CGC") else float(v)  # counts are counts
        except ValueError:
            res[h] = None  # type: ignore[assignment]
    return res


def read_over(acc: Any, pid: int, timeout: float) -> dict[str, Any]:
    """A JVM on another host, read there over ssh with its own tools: /proc for its command line, jstat."""
    from runbook.access import AccessError

    try:
        proc = acc.proc(pid, timeout)
    except AccessError as e:
        return {"pid": pid, "reachable": False, "error": str(e), "via": acc.name}
    if proc is None:
        return {"pid": pid, "reachable": False, "error": f"no process {pid} on {acc.name}", "via": acc.name}
    cmd, cwd = proc["cmdline"], proc.get("cwd")
    if not cmd or os.path.basename(cmd[0]) != "java":
        return {"pid": pid, "reachable": False, "error": f"process {pid} on {acc.name} is not a java process", "via": acc.name}
    facts: dict[str, Any] = {"pid": pid, "reachable": True, "cwd": cwd, "via": acc.name,
                             "main": next((a for a in cmd[1:] if not a.startswith("-")), ""), **parse_cmdline(cmd, cwd)}
    m = re.search(r"VmRSS:\s+(\d+) kB", proc.get("status") or "")  # read with the process's other facts
    facts["rss_bytes"] = int(m[1]) * 1024 if m else None
    try:
        facts["jstat"] = jstat(pid, timeout, acc)
    except JvmError as e:
        facts["jstat_error"] = str(e)
    dump_dir = facts.get("heap_dump_path") or cwd or "/"
    try:
        facts["dump_dir_free_bytes"] = acc.disk(dump_dir, timeout)[1]
        facts["dump_dir"] = dump_dir
    except AccessError as e:
        facts["dump_dir_error"] = str(e)
    return facts


def java_processes_over(acc: Any, timeout: float = 10) -> list[int]:
    r = acc.run(["ps", "-eo", "pid=,comm="], timeout)
    return sorted(int(f[0]) for f in (line.split() for line in r.text.splitlines()) if len(f) == 2 and f[1] == "java")


def read_local(pid: int, timeout: float) -> dict[str, Any]:
    import psutil

    try:
        p = psutil.Process(pid)
        cmd = p.cmdline()
        cwd = p.cwd()
        rss = p.memory_info().rss
    except psutil.NoSuchProcess:
        return {"pid": pid, "reachable": False, "error": f"no process {pid}"}
    except psutil.Error as e:
        return {"pid": pid, "reachable": False, "error": str(e) or type(e).__name__}
    if not cmd or os.path.basename(cmd[0]) != "java":
        return {"pid": pid, "reachable": False, "error": f"process {pid} is not a java process"}
    facts: dict[str, Any] = {"pid": pid, "reachable": True, "cwd": cwd, "rss_bytes": rss,
                             "main": next((a for a in cmd[1:] if not a.startswith("-")), ""), **parse_cmdline(cmd, cwd)}
    try:
        facts["jstat"] = jstat(pid, timeout)
    except JvmError as e:
        facts["jstat_error"] = str(e)
    dump_dir = facts.get("heap_dump_path") or cwd
    if dump_dir and not os.path.isdir(dump_dir):
        dump_dir = os.path.dirname(dump_dir) or cwd
    try:
        st = os.statvfs(dump_dir)
        facts["dump_dir"] = dump_dir
        facts["dump_dir_free_bytes"] = st.f_bavail * st.f_frsize
    except OSError as e:
        facts["dump_dir_error"] = str(e)
    return facts


# ------------------------------------------------------------------ remote: Jolokia, actuator
def read_remote(url: str, timeout: float) -> dict[str, Any]:
    import httpx

    from runbook.secrets import mask_url

    facts: dict[str, Any] = {"url": mask_url(url), "reachable": False}
    base = url.rstrip("/")
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as c:
            if "/actuator" in base:
                root = base[: base.index("/actuator") + len("/actuator")]
                pause = c.get(f"{root}/metrics/jvm.gc.pause")
                pause.raise_for_status()
                meas = {m["statistic"]: m["value"] for m in pause.json().get("measurements", [])}
                facts.update({"source": "actuator", "reachable": True, "gc_pause_count": meas.get("COUNT"),
                              "gc_pause_total_s": meas.get("TOTAL_TIME"), "gc_pause_max_s": meas.get("MAX")})
                causes = [t for t in pause.json().get("availableTags", []) if t.get("tag") == "cause"]
                facts["gc_causes"] = causes[0].get("values", []) if causes else []
                used = c.get(f"{root}/metrics/jvm.memory.used", params={"tag": "area:heap"})
                mx = c.get(f"{root}/metrics/jvm.memory.max", params={"tag": "area:heap"})
                if used.status_code == 200 and mx.status_code == 200:
                    facts["heap_used_bytes"] = used.json()["measurements"][0]["value"]
                    facts["heap_max_bytes"] = mx.json()["measurements"][0]["value"]
            else:
                root = base if base.endswith("/jolokia") else base + "/jolokia"
                r = c.get(f"{root}/read/java.lang:type=GarbageCollector,name=*")
                r.raise_for_status()
                body = r.json()
                if body.get("status") != 200:
                    raise JvmError(f"Jolokia answered status {body.get('status')}: {body.get('error', '')}")
                gcs = {}
                for mbean, v in (body.get("value") or {}).items():
                    name = mbean.split("name=", 1)[-1].split(",")[0]
                    gcs[name] = {"count": v.get("CollectionCount"), "time_ms": v.get("CollectionTime")}
                facts.update({"source": "jolokia", "reachable": True, "collectors": gcs,
                              "collector": _collector_from_beans(list(gcs))})
                m = c.get(f"{root}/read/java.lang:type=Memory/HeapMemoryUsage")
                if m.status_code == 200 and m.json().get("status") == 200:
                    hv = m.json()["value"]
                    facts["heap_used_bytes"] = hv.get("used")
                    facts["heap_max_bytes"] = hv.get("max")
    except (httpx.HTTPError, ValueError, KeyError, JvmError) as e:
        facts["error"] = f"{type(e).__name__}: {e}" if not isinstance(e, JvmError) else str(e)
        facts["reachable"] = False
    return facts


def _collector_from_beans(names: list[str]) -> str | None:
    joined = " ".join(names)
    for key, coll in (("G1", "G1"), ("PS ", "Parallel"), ("ParNew", "CMS"), ("ConcurrentMarkSweep", "CMS"),
                      ("ZGC", "ZGC"), ("Shenandoah", "Shenandoah"), ("Copy", "Serial"), ("MarkSweepCompact", "Serial")):
        if key in joined:
            return coll
    return None


# ------------------------------------------------------------------ engine probes, findings, guard, action
def probe(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    if target.pid is not None and target.ssh:
        from runbook.access import for_target

        return read_over(for_target(target), target.pid, timeout)
    if target.pid is not None:
        return read_local(target.pid, timeout)
    return read_remote(target.url, timeout)


def assess(facts: dict[str, Any]) -> list[Finding]:
    if not facts.get("reachable"):
        return [catalog.make("jvm.unreachable", {"target": facts.get("pid") or facts.get("url"), "error": facts.get("error")})]
    out = []
    if facts.get("gc_log") and facts.get("gc_log_rotation") is False and not facts.get("gc_log_unique_name"):
        out.append(catalog.make("gc.log.overwritten_on_restart", {"gc_log": facts.get("gc_log_path") or facts["gc_log"],
                                                                  "rotation": False, "name_has_%p_or_%t": False}))
    if "heap_dump_on_oom" in facts and not facts["heap_dump_on_oom"]:
        out.append(catalog.make("jvm.heap_dump.disabled", {"pid": facts.get("pid")}))
    js = facts.get("jstat") or {}
    if js.get("O") is not None and js["O"] >= 95 and (js.get("FGC") or 0) > 0:
        out.append(catalog.make("gc.heap.too_small", {"old_gen_used_pct": js["O"], "full_gcs": js.get("FGC"),
                                                      "full_gc_time_s": js.get("FGCT")}))
    return sort_findings(out)


GC_LOG_OVER_SSH = 32 * 1024 * 1024  # of each file of a GC log on another host, the last this many bytes are read


def probe_gc_log(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The analysis of the JVM's GC log (params.gc_log, else the file its command line names). For a JVM
    on another host the files are read there over ssh (the last 32 MB of each) and analysed here."""
    from runbook.jvm.gclog.analyze import analyze
    from runbook.jvm.gclog.read import read_logs

    acc = access_of(target)
    path = params.get("gc_log")
    if not path:
        facts = {} if target.pid is None else read_over(acc, target.pid, timeout) if acc else read_local(target.pid, timeout)
        path = facts.get("gc_log_path")
    if not path:
        raise JvmError("the JVM writes no GC log that can be found (no -Xlog:gc*:file= or -Xloggc:)")
    if acc is None:
        import glob

        files = sorted(glob.glob(path)) if "*" in path else [path]
        r = analyze(read_logs(files, workers=1))
    else:
        r = _gc_log_over(acc, path, timeout)
    r.pop("series", None)
    return r


def _gc_log_over(acc: Any, path: str, timeout: float) -> dict[str, Any]:
    """The GC log's files on the JVM's host, brought here (their last GC_LOG_OVER_SSH bytes) and analysed."""
    import fnmatch
    import json
    import shutil
    import tempfile

    from runbook.jvm.gclog.analyze import analyze
    from runbook.jvm.gclog.read import read_logs

    from runbook.access import AccessError, is_file

    try:
        if "*" in path:
            parent, pattern = os.path.split(path)
            names = [os.path.join(parent, f) for f in acc.listdir(parent) if fnmatch.fnmatchcase(f, pattern)]
        else:
            names = [path]
        stats = acc.stat_many(names, timeout)
        names = [n for n in names if is_file(stats[n])]
        if not names:
            raise JvmError(f"no GC log at {path} on {acc.host}")
        tmp = tempfile.mkdtemp(prefix="rb-gclog-")
        try:
            local: dict[str, str] = {}  # the copy here -> the file there
            for n in sorted(names):
                dest = os.path.join(tmp, f"{len(local):03d}-{os.path.basename(n)}")
                with open(dest, "wb") as f:
                    f.write(acc.tail(n, GC_LOG_OVER_SSH, max(timeout, 60)))
                local[dest] = n
            r = analyze(read_logs(list(local), workers=1))
            text = json.dumps(r)  # the answer names the files there, never the copies
            for dest, n in local.items():
                text = text.replace(json.dumps(dest)[1:-1], json.dumps(n)[1:-1])
            r = json.loads(text)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except AccessError as e:
        raise JvmError(str(e)) from None
    r["read_over"] = acc.name
    cut = [n for n in names if stats[n]["size"] > GC_LOG_OVER_SSH]
    if cut:
        r["partial"] = f"only the last {GC_LOG_OVER_SSH >> 20} MB of {', '.join(cut)} were read over ssh"
    return r


def assess_gc_log(facts: dict[str, Any]) -> list[Finding]:
    return [Finding.from_dict(f) for f in facts.get("findings", [])]


def guard_disk_for_heap_dump(facts: dict[str, Any], params: dict[str, Any]) -> tuple[bool, dict[str, Any], str]:
    if not facts.get("reachable"):
        return False, {}, f"the JVM could not be read: {facts.get('error')}"
    need = facts.get("xmx_bytes") or facts.get("rss_bytes")
    free = facts.get("dump_dir_free_bytes")
    # whole GiB: a log growing by a few MB must not void a confirmation given a moment ago
    ev = {"dump_dir": facts.get("dump_dir"), "free_gib": round(free / 1024**3) if free else None,
          "heap_mb": round(need / 1048576) if need else None}
    if free is None or need is None:
        return False, ev, "cannot tell the free space or the heap size"
    if free < need * 1.1:
        return False, ev, "not enough free space for a dump the size of the heap"
    return True, ev, ""


class HeapDump:
    """jcmd GC.heap_dump, run on the JVM's host (over ssh for a JVM there): the dump lands on that host's
    disk, next to the JVM; proven by the file's size there."""

    @staticmethod
    def _argv(target: Target, params: dict[str, Any]) -> list[str]:
        if target.pid is None:
            raise ValueError("a heap dump needs the JVM's pid (pid:N, with ssh: for another host)")
        return ["jcmd", str(target.pid), "GC.heap_dump", HeapDump.path(target, params)]

    @staticmethod
    def path(target: Target, params: dict[str, Any]) -> str:
        """Where the dump lands: a relative path is the JVM's (jcmd writes it from the JVM's working
        directory), so it is shown resolved."""
        from runbook.access import AccessError, for_target

        path = str(params.get("path") or f"heap-{target.pid}.hprof")
        if not os.path.isabs(path):
            try:
                cwd = (for_target(target).proc(int(target.pid or 0)) or {}).get("cwd")
            except (AccessError, ValueError):
                cwd = None
            path = os.path.join(cwd, path) if cwd else path
        return path

    @staticmethod
    def describe(target: Target, params: dict[str, Any]) -> str:
        import shlex

        return shlex.join(HeapDump._argv(target, params)) + (f" on {target.ssh} over ssh" if target.ssh else "")

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        from runbook.access import AccessError, for_target

        acc = for_target(target)
        path = HeapDump.path(target, params)
        try:
            out = _run(["jcmd", str(target.pid), "GC.heap_dump", path], max(timeout, 300), acc)
            size = (acc.stat(path) or {}).get("size", 0)
        except (JvmError, AccessError) as e:
            return {"ok": False, "error": str(e)}
        where = "" if acc.local else f" on {acc.host}"
        return expect({"ok": True, "output": out.strip()[-500:], "path": path}, f"a heap dump at {path}{where}",
                      size > 0, f"{size:,} bytes" if size else "no file")


def thread_dump(pid: int, timeout: float = 10, acc: Any = None) -> str:
    """jcmd Thread.print: a safe diagnostic (it does not stop the JVM for long)."""
    return _run(["jcmd", str(pid), "Thread.print"], timeout, acc)


def class_histogram(pid: int, timeout: float = 30, acc: Any = None) -> str:
    """jcmd GC.class_histogram: note that it triggers a full GC on most collectors."""
    return _run(["jcmd", str(pid), "GC.class_histogram"], timeout, acc)


def access_of(target: Target) -> Any:
    """The JVM's host: over its ssh, or None for this machine."""
    if not target.ssh:
        return None
    from runbook.access import for_target

    return for_target(target)


# ------------------------------------------------------------------ CLI
def live_summary(target: Target, timeout: float) -> dict[str, Any]:
    """What the live panel shows: heap occupancy and GC counters (jstat locally, HTTP remotely)."""
    if target.pid is None:
        f = read_remote(target.url, timeout)
        return {"reachable": f.get("reachable"), "error": f.get("error"), "heap_used_bytes": f.get("heap_used_bytes"),
                "heap_max_bytes": f.get("heap_max_bytes"),
                "gc_time_s": (sum((v.get("time_ms") or 0) for v in (f.get("collectors") or {}).values()) / 1000.0)
                if f.get("collectors") else f.get("gc_pause_total_s")}
    try:
        js = jstat(target.pid, timeout, access_of(target))
    except JvmError as e:
        return {"reachable": False, "error": str(e)}
    return {"reachable": True, "eden_pct": js.get("E"), "old_pct": js.get("O"), "young_gcs": js.get("YGC"),
            "full_gcs": js.get("FGC"), "gc_time_s": js.get("GCT"),
            "recent_pauses_ms": [] if target.ssh else recent_pauses(target.pid)}


TAIL_BYTES = 64 * 1024


def recent_pauses(pid: int, n: int = 40) -> list[float]:
    """The last pauses in the JVM's own GC log (its tail only), oldest first; [] when there is no log."""
    import psutil

    from runbook.jvm.gclog.legacy import LegacyReader
    from runbook.jvm.gclog.read import sniff
    from runbook.jvm.gclog.stats import Acc
    from runbook.jvm.gclog.unified import parse_chunk

    try:
        p = psutil.Process(pid)
        path = parse_cmdline(p.cmdline(), p.cwd()).get("gc_log_path")
    except psutil.Error:
        return []
    if not path or "*" in path:
        return []
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            f.seek(max(0, size - TAIL_BYTES))
            tail = f.read()
    except OSError:
        return []
    tail = tail[tail.find(b"\n") + 1 :] if size > TAIL_BYTES else tail  # whole lines only
    tail = tail[: tail.rfind(b"\n") + 1]
    acc = Acc()
    if sniff(tail) == "legacy":
        r = LegacyReader(acc)
        r.feed_buffer(tail)
        r.finish()
    else:
        parse_chunk(acc, tail)
    return [ms for _, ms in sorted(zip(acc.series_t, acc.series_ms))][-n:]


def probe_thread_dump(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    """jcmd Thread.print, summarised: thread states, a deadlock if the JVM found one."""
    if target.pid is None:
        raise JvmError("a thread dump needs a local JVM (pid:N)")
    return dump_summary(thread_dump(target.pid, max(timeout, 10), access_of(target)))


def dump_summary(text: str) -> dict[str, Any]:
    """A thread dump's thread states, and whether the JVM found a deadlock."""
    states: dict[str, int] = {}
    for m in re.finditer(r"java\.lang\.Thread\.State: (\w+)", text):
        states[m[1]] = states.get(m[1], 0) + 1
    return {"threads": text.count('\n"'), "thread_states": states,
            "deadlock": "Found one Java-level deadlock" in text or "Found a total of" in text,
            "dump_head": text[:4000]}


def probe_class_histogram(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    """jcmd GC.class_histogram, top classes by bytes (note: it runs a full GC first on most collectors)."""
    if target.pid is None:
        raise JvmError("a class histogram needs a local JVM (pid:N)")
    rows = []
    for line in class_histogram(target.pid, max(timeout, 30), access_of(target)).splitlines():
        m = re.match(r"\s*\d+:\s+(\d+)\s+(\d+)\s+(\S+)", line)
        if m:
            rows.append({"instances": int(m[1]), "bytes": int(m[2]), "class": m[3]})
    return {"top_classes": rows[: int(params.get("top", 15))]}


def assess_diagnostics(facts: dict[str, Any]) -> list[Finding]:
    if facts.get("deadlock"):
        return [catalog.make("jvm.deadlock", {"thread_states": facts.get("thread_states"), "threads": facts.get("threads")})]
    return []
