"""The accumulator: what a GC log says, gathered in one pass with flat memory.

Readers (unified.py, legacy.py) call its methods as they meet events; analyze.py turns it into
statistics and findings. Times are seconds on the JVM's clock (uptime, or wall time when only
dates are logged); a clock that goes backwards starts a new segment (a JVM restart).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from typing import Any

MB = 1024 * 1024
SERIES_MAX = 20000  # points kept for charts; beyond this, pairs are merged (max pause kept)


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
        self.full_after = array("d")
        self.full_total = array("d")
        # series for charts and slopes
        self.series_t = array("d")
        self.series_ms = array("d")
        self.after_t = array("d")
        self.after_b = array("d")
        self._step = 1
        self._skip = 0
        # timeline
        self.segments: list[list[float]] = []  # [first_t, last_t]
        self.last_t: float | None = None
        self.restarts = 0
        self.last_after: float | None = None
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
    def pause(self, t: float | None, kind: str, ms: float, before: float | None = None, after: float | None = None,
              total: float | None = None, full: bool = False) -> None:
        t = self.tick(t)
        self.pause_ms.append(ms)
        k = self.pause_kinds.get(kind)
        if k is None:
            k = self.pause_kinds[kind] = array("d")
        k.append(ms)
        if before is not None and after is not None:
            if self.last_after is not None and before > self.last_after:
                self.allocated += before - self.last_after
            self.last_after = after
            if t is not None:
                self.after_t.append(t)
                self.after_b.append(after)
        if full:
            self.full_times.append(t if t is not None else math.nan)
            self.full_after.append(after if after is not None else math.nan)
            self.full_total.append(total if total is not None else math.nan)
        if total and (self.max_heap is None or total > self.max_heap):
            self.max_heap = int(total)
        if t is not None:
            self._series(t, ms)
        if len(self.after_t) > SERIES_MAX * 2:
            self.after_t = self.after_t[::2]
            self.after_b = self.after_b[::2]

    def _series(self, t: float, ms: float) -> None:
        if self._skip:
            # merge into the last point: keep the larger pause
            self._skip -= 1
            if ms > self.series_ms[-1]:
                self.series_ms[-1] = ms
            return
        self.series_t.append(t)
        self.series_ms.append(ms)
        self._skip = self._step - 1
        if len(self.series_t) >= SERIES_MAX:
            t2, m2 = array("d"), array("d")
            for i in range(0, len(self.series_t) - 1, 2):
                t2.append(self.series_t[i])
                m2.append(max(self.series_ms[i], self.series_ms[i + 1]))
            self.series_t, self.series_ms = t2, m2
            self._step *= 2

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

    @property
    def duration_s(self) -> float:
        return sum(max(0.0, b - a) for a, b in self.segments)

    def to_state(self) -> dict[str, Any]:
        """Plain data, to merge results of files read in parallel."""
        return {k: v for k, v in self.__dict__.items()}
