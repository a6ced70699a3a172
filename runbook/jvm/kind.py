"""The JVM kind: a Java process by pid (`pid:N`, read with its own jcmd and jstat) or an HTTP endpoint."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from runbook.jvm import live
from runbook.jvm import memory
from runbook.jvm import threads
from runbook.jvm.rules import RULES
from runbook.kind import ActionSpec, GuardSpec, Kind, Panel, ProbeSpec
from runbook.text import human_bytes


def _claims(url: str) -> bool:
    if url.startswith("pid:"):
        if not url[4:].isdigit():
            raise ValueError(f"pid:N needs a number, got {url!r}")
        return True
    return urlsplit(url).scheme.lower() in ("http", "https")


PROBES = (
    ProbeSpec("jvm.check", live.probe, live.assess,
              "collector, heap settings, GC log and its rotation, heap dump settings"),
    ProbeSpec("jvm.thread_dump", live.probe_thread_dump, live.assess_diagnostics,
              "jcmd Thread.print: thread states and deadlocks (a safe diagnostic)"),
    ProbeSpec("jvm.threads", threads.probe, threads.assess,
              "per-thread CPU over params.interval_s (default 1) from /proc, named from a thread dump: the hottest "
              "threads, their kind (application, GC, JIT compiler) and top frames (params: hot_pct)",
              budget=lambda params, timeout: float(params.get("interval_s", 1.0))),
    ProbeSpec("jvm.memory", memory.probe, memory.assess,
              "two jstat -gc samples (params.interval_s, default 2), VM.flags, the code cache, RSS and the cgroup's"
              " memory limit (params: old_full_pct, metaspace_pct, codecache_pct)",
              budget=lambda params, timeout: float(params.get("interval_s", 2.0))),
    ProbeSpec("jvm.class_histogram", live.probe_class_histogram, live.assess_diagnostics,
              "jcmd GC.class_histogram: the top classes by bytes",
              intrusive="forces a full GC: it stops the JVM for as long as a full collection takes"),
    ProbeSpec("jvm.gc_log", live.probe_gc_log, live.assess_gc_log,
              "analysis of the JVM's GC log"),
)

GUARDS = (
    GuardSpec("jvm.disk_for_heap_dump", "jvm.check", live.guard_disk_for_heap_dump,
              "the dump directory has room for a dump the size of the heap"),
)

ACTIONS = (
    ActionSpec("jvm.save_thread_dumps", threads.SaveThreadDumps,
               "params.count thread dumps (default 3) params.interval_s apart into params.path, a new file",
               params={"path": "str", "count": "int", "interval_s": "int"}),
    ActionSpec("jvm.heap_dump", live.HeapDump,
               "jcmd PID GC.heap_dump params.path (pauses the JVM)",
               guards=("jvm.disk_for_heap_dump",), params={"path": "str"}),
)



def discover() -> dict[str, Any]:
    """The JVMs of this machine (their own jcmd's list)."""
    from runbook.targets import Target

    return {f"jvm-{pid}": Target(f"jvm-{pid}", f"pid:{pid}", "jvm") for pid in live.java_processes()}


class JvmPanel(Panel):
    """Heap generations, collections, and a chart: the recent pauses from its GC log when it has one, else
    the share of time in GC per poll."""

    charted = True

    def __init__(self) -> None:
        self.history: list[float] = []
        self.pauses: list[float] = []
        self._last: tuple[float, float] | None = None  # (gc time, when)

    def poll(self, target: Any, timeout: float) -> dict[str, Any]:
        return live.live_summary(target, timeout)

    def lines(self, s: dict[str, Any]) -> list[tuple[str, str, str]]:
        now, gc = time.monotonic(), s.get("gc_time_s")
        if gc is not None and self._last is not None and now > self._last[1]:
            rate = max(0.0, (gc - self._last[0]) / (now - self._last[1]) * 100)
            self.history = (self.history + [rate])[-60:]
        self._last = (gc, now) if gc is not None else None
        self.pauses = s.get("recent_pauses_ms") or []
        out = []
        if s.get("old_pct") is not None:
            out.append(("", f"eden {s.get('eden_pct')}%  old {s.get('old_pct')}%", ""))
        if s.get("heap_used_bytes") is not None:
            heap = f"heap {human_bytes(s['heap_used_bytes'])} of {human_bytes(s.get('heap_max_bytes') or 0)}"
            out.append(("", heap, ""))
        if s.get("young_gcs") is not None:
            out.append(("", f"young GCs {s.get('young_gcs'):.0f}  full GCs {s.get('full_gcs'):.0f}", ""))
        out.append(("", f"time in GC: {self.history[-1]:.1f}% of the last poll" if self.history
                    else "time in GC: measuring", ""))
        if self.pauses:
            out.append(("", f"last {len(self.pauses)} pauses (chart): max {max(self.pauses):.1f} ms, "
                            f"last {self.pauses[-1]:.1f} ms", ""))
        return out

    @property
    def chart(self) -> list[float] | None:
        return self.pauses or self.history or [0.0]


KIND = Kind("jvm", _claims, "pid:N or http(s):// (JVM)", PROBES, GUARDS, ACTIONS, RULES,
            record_probes=("jvm.check",), discover=discover, panel=JvmPanel)
