"""The accumulator: what a GC log says, gathered in one pass with flat memory.

Readers (unified.py, legacy.py) call its methods as they meet events; analyze.py turns it into
statistics and findings. Times are seconds on the JVM's clock (uptime, or wall time when only
dates are logged); a clock that goes backwards starts a new segment (a JVM restart).
"""

from __future__ import annotations

import math
import re
from array import array
from dataclasses import dataclass, field

MB = 1024 * 1024
UNIT = {b"B": 1, b"K": 1024, b"M": 1024**2, b"G": 1024**3}


def to_bytes(n: bytes, unit: bytes) -> float:
    """b"12.5", b"M" -> bytes (a decimal comma is read as a point)."""
    return float(n.replace(b",", b".")) * UNIT[unit]
SERIES_MAX = 20000  # points kept for charts; beyond this, pairs are merged (max pause kept)
WINDOW_S = 10.0  # pauses and stalls are also summed per window of the JVM's clock, for the worst stretch
NOT_CPU_RATIO = 2.0
_PACED = re.compile(rb"(\d+(?:\.\d+)?) of\s+\d+(?:\.\d+)? ms")  # a pause whose real time is over twice its CPU time was not GC work


@dataclass
class Counter:
    count: int = 0
    first_t: float | None = None
    last_t: float | None = None
    samples: list[str] = field(default_factory=list)

    def add(self, t: float | None, line: str | None) -> None:
        self.count += 1
        if t is not None:
            if self.first_t is None:
                self.first_t = t
            self.last_t = t
        if line is not None and len(self.samples) < 3:
            self.samples.append(line[:300])


class Acc:
    def __init__(self) -> None:
        self.collector: str | None = None
        self.format: str | None = None
        self.jdk: str | None = None
        self.max_heap: int | None = None
        self.region_size: int | None = None
        # pauses
        self.pause_ms = array("d")
        self.pause_kinds: dict[str, array] = {}
        self.full_times = array("d")
        self.full_before = array("d")
        self.full_after = array("d")
        self.full_total = array("d")
        self.full_old = array("d")  # the old generation's fill after each full GC (0..1), where the log says
        # series for charts and slopes
        self.series_t = array("d")
        self.series_ms = array("d")
        self.after_t = array("d")
        self.after_b = array("d")
        # timeline
        self.segments: list[list[float]] = []  # [first_t, last_t]
        self.last_t: float | None = None
        self.restarts = 0
        self.last_after: float | None = None
        self.first_before: float | None = None  # the heap before this Acc's first collection (merge: what was allocated across)
        # the log's clock when its JVM started, if a unified log begins with that start (its heap then empty)
        self.jvm_start_t: float | None = None
        self.allocated = 0.0
        self.promoted = 0.0
        self.promotion_known = False
        self.young_promoted = 0.0  # over young collections: bytes promoted, and bytes left in survivors
        self.young_survived = 0.0
        self.old_full_before = 0.0  # over full collections: the old generation before and after
        self.old_full_after = 0.0
        self.old_full_count = 0
        self.stopped_ms = 0.0
        self.stopped_count = 0
        self.stopped_max_ms = 0.0
        self.ttsp_max_ms = 0.0  # time to safepoint
        self.ttsp_max_t: float | None = None
        self.cpu_events = 0
        self.sys_gt_user = 0
        self.sys_samples: list[str] = []
        self.concurrent_count = 0
        self.stall_ms = 0.0
        self.stalls = 0  # how many stalls: each a stop of application threads, as a pause is
        self.pacing_ms = 0.0  # Shenandoah: the average thread's pacing delays, summed over cycles
        self.windows: dict[int, float] = {}  # WINDOW_S bucket -> ms stopped (pauses and stalls)
        self.not_cpu_max: tuple[float, float] = (0.0, 0.0)  # (real s, user+sys s) of the worst pause off CPU
        self.flags: dict[str, Counter] = {}
        self.unparsed = 0
        self.unparsed_samples: list[str] = []
        self.lines = 0
        self.bytes = 0
        self.files: list[str] = []

    # -- clock
    def tick(self, t: float | None) -> float | None:
        if t is None:
            return None
        if self.last_t is None or not self.segments:
            self.segments.append([t, t])
        elif t < self.last_t - 1.0:
            # the clock went back: a new JVM (restart appended to the same file, or the next file of a set)
            self.restarts += 1
            self.segments.append([t, t])
            self.last_after = None
        else:
            seg = self.segments[-1]
            if t > seg[1]:
                seg[1] = t
        self.last_t = t
        return t

    def flag(self, name: str, t: float | None, line: str | None = None) -> None:
        c = self.flags.get(name)
        if c is None:
            c = self.flags[name] = Counter()
        c.add(t, line)

    def unknown(self, line: str) -> None:
        self.unparsed += 1
        if len(self.unparsed_samples) < 5:
            self.unparsed_samples.append(line[:200])

    # -- events
    def pause(self, t: float | None, kind: str | None, ms: float, before: float | None = None, after: float | None = None,
              total: float | None = None, full: bool = False, old_fill: float | None = None) -> None:
        t = self.tick(t)
        self.pause_ms.append(ms)
        if kind is not None:  # None: the caller has counted it in its kind already
            k = self.pause_kinds.get(kind)
            if k is None:
                k = self.pause_kinds[kind] = array("d")
            k.append(ms)
        if after is not None:
            self.heap_sample(t, before, after, None)
        if full:
            self.full_times.append(t if t is not None else math.nan)
            self.full_before.append(before if before is not None else math.nan)
            self.full_after.append(after if after is not None else math.nan)
            self.full_total.append(total if total is not None else math.nan)
            self.full_old.append(old_fill if old_fill is not None else math.nan)
        if total is not None and (self.max_heap is None or total > self.max_heap):
            self.max_heap = int(total)
        if t is not None:
            self.series_t.append(t)
            self.series_ms.append(ms)
            w = int(t // WINDOW_S)
            self.windows[w] = self.windows.get(w, 0.0) + ms

    def heap_sample(self, t: float | None, before: float | None, after: float, total: float | None) -> None:
        """The heap before and after a collection, pause or concurrent cycle: what was allocated since the
        last one, and the live-set series."""
        last = self.last_after
        if last is not None and before is not None and before > last:
            self.allocated += before - last
        elif last is None and self.first_before is None:
            self.first_before = before
        self.last_after = after
        if t is not None:
            self.after_t.append(t)
            self.after_b.append(after)
        if total is not None and (self.max_heap is None or total > self.max_heap):
            self.max_heap = int(total)

    def paced(self, line: bytes) -> None:
        """ "   11 of 23607 ms (  0.0%): <average total>": an average application thread was paced 11 ms."""
        m = _PACED.search(line)
        if m:
            self.pacing_ms += float(m[1])

    def stall(self, t: float | None, ms: float, kind: str, line: str) -> None:
        """Application threads stalled outside a pause (ZGC allocation or relocation stall)."""
        t = self.tick(t)
        self.flag(kind, t, line)
        self.stall_ms += ms
        self.stalls += 1
        if t is not None:
            w = int(t // WINDOW_S)
            self.windows[w] = self.windows.get(w, 0.0) + ms

    def compact(self) -> None:
        """Called between chunks: keeps the chart series and heap samples bounded (memory stays flat)."""
        while len(self.series_t) > SERIES_MAX:
            t, m = self.series_t, self.series_ms
            n = len(t) // 2 * 2
            t2 = t[0:n:2]
            m2 = array("d", map(max, m[0:n:2], m[1:n:2]))
            if n < len(t):
                t2.append(t[-1])
                m2.append(m[-1])
            self.series_t, self.series_ms = t2, m2
        while len(self.after_t) > SERIES_MAX * 2:
            # keep the lower of each pair: the floor of heap after GC is what the leak check reads
            t, b = self.after_t, self.after_b
            n = len(t) // 2 * 2
            self.after_t = t[0:n:2]
            self.after_b = array("d", map(min, b[0:n:2], b[1:n:2]))

    def promotion(self, amount: float) -> None:
        self.promotion_known = True
        if amount > 0:
            self.promoted += amount

    def stopped(self, t: float | None, ms: float, ttsp_ms: float | None = None) -> None:
        self.tick(t)
        self.stopped_ms += ms
        self.stopped_count += 1
        if ms > self.stopped_max_ms:
            self.stopped_max_ms = ms
        if ttsp_ms is not None and ttsp_ms > self.ttsp_max_ms:
            self.ttsp_max_ms = ttsp_ms
            self.ttsp_max_t = t

    def cpu(self, user: float, sys_: float, real: float, line: str | None = None) -> None:
        self.cpu_events += 1
        if sys_ > user and real >= 0.01:
            self.sys_gt_user += 1
            if line is not None and len(self.sys_samples) < 3:
                self.sys_samples.append(line[:300])
        self.off_cpu(self.last_t, user, sys_, real, line)

    def off_cpu(self, t: float | None, user: float, sys_: float, real: float, line: str | None) -> None:
        """A pause that took far longer than the CPU its GC threads used: the host, not the GC."""
        if real >= 0.1 and real > NOT_CPU_RATIO * (user + sys_):
            self.flag("not_cpu", t, line)
            if real > self.not_cpu_max[0]:
                self.not_cpu_max = (real, user + sys_)

    def merge(self, b: "Acc") -> None:
        """Append the accumulator of the next stretch of the same log (read by another process)."""
        for name in ("pause_ms", "full_times", "full_before", "full_after", "full_total", "full_old", "series_t", "series_ms", "after_t", "after_b"):
            getattr(self, name).extend(getattr(b, name))
        for kind, values in b.pause_kinds.items():
            self.pause_kinds.setdefault(kind, array("d")).extend(values)
        if b.segments:
            if self.segments and b.segments[0][0] >= self.segments[-1][1] - 1.0:
                # the same JVM goes on: what it allocated between the two stretches counts too
                if self.last_after is not None and b.first_before is not None and b.first_before > self.last_after:
                    self.allocated += b.first_before - self.last_after
                self.segments[-1][1] = max(self.segments[-1][1], b.segments[0][1])
                self.segments += b.segments[1:]
            else:
                if self.segments:
                    self.restarts += 1
                self.segments += b.segments
            self.last_t = b.last_t
        self.restarts += b.restarts
        if b.last_after is not None:
            self.last_after = b.last_after
        for name in ("allocated", "promoted", "young_promoted", "young_survived", "old_full_before", "old_full_after",
                     "old_full_count", "stopped_ms", "stopped_count", "cpu_events", "sys_gt_user", "concurrent_count",
                     "stall_ms", "stalls", "unparsed", "lines", "bytes"):
            setattr(self, name, getattr(self, name) + getattr(b, name))
        for w, ms in b.windows.items():
            self.windows[w] = self.windows.get(w, 0.0) + ms
        self.pacing_ms += b.pacing_ms
        if b.not_cpu_max[0] > self.not_cpu_max[0]:
            self.not_cpu_max = b.not_cpu_max
        self.promotion_known = self.promotion_known or b.promotion_known
        if b.stopped_max_ms > self.stopped_max_ms:
            self.stopped_max_ms = b.stopped_max_ms
        if b.ttsp_max_ms > self.ttsp_max_ms:
            self.ttsp_max_ms, self.ttsp_max_t = b.ttsp_max_ms, b.ttsp_max_t
        self.sys_samples = (self.sys_samples + b.sys_samples)[:3]
        self.unparsed_samples = (self.unparsed_samples + b.unparsed_samples)[:5]
        for name, c in b.flags.items():
            mine = self.flags.get(name)
            if mine is None:
                self.flags[name] = c
                continue
            mine.count += c.count
            if mine.first_t is None:
                mine.first_t = c.first_t
            if c.last_t is not None:
                mine.last_t = c.last_t
            mine.samples = (mine.samples + c.samples)[:3]
        self.collector = self.collector or b.collector
        self.jdk = self.jdk or b.jdk
        self.format = self.format or b.format
        self.region_size = self.region_size or b.region_size
        if b.max_heap and (self.max_heap is None or b.max_heap > self.max_heap):
            self.max_heap = b.max_heap

    @property
    def duration_s(self) -> float:
        return sum(max(0.0, b - a) for a, b in self.segments)

