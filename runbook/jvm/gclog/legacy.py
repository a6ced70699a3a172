"""Legacy HotSpot logs (JDK 6-8): -XX:+PrintGCDetails with or without date and time stamps,
-verbose:gc, application stopped time, tenuring distribution, adaptive size lines; Serial,
ParNew/CMS, iCMS, Parallel, G1 (and JDK 8 Shenandoah).

Lines are gathered into records: a record starts at a line that begins with a time stamp, a date
stamp or `[GC`; other lines (tenuring tables, G1 details, the second half of a line split by a
concurrent phase) continue it. A concurrent phase printed in the middle of a record is cut out
and counted, so the record it interrupted is read whole.
"""

from __future__ import annotations

import re
from itertools import repeat
from operator import floordiv

from runbook.jvm.gclog.stats import WINDOW_S, Acc, to_bytes
from runbook.jvm.gclog.timefmt import iso_to_epoch

_HEAD = re.compile(rb"^(?:(\d{4}-\d\d-\d\dT[\d:.,]+(?:[+-]\d{4}|Z)?): ?)?(?:(\d+[.,]\d+): ?)?\[")
# A concurrent phase printed inside another record, with the stamps before it: found by its bracket (a
# literal, which re finds at memchr speed), then its stamps read back from there (a pattern that opened
# with the optional stamps was tried at every digit of a record: 66 us a record, a third of the reader's
# time on a CMS log).
_CONC_PHASE = re.compile(rb"\[(?:CMS-concurrent-|GC concurrent-|Concurrent )[^\[\]]*\](?: ?\[Times: [^\]]*\])?")
_CONC_STAMPS = re.compile(rb"(?:\d{4}-\d\d-\d\dT[\d:.,]+(?:[+-]\d{4}|Z)?: ?)?(?:\d+[.,]\d+: ?)?")
# the stamp characters before a phase are found by rstrip (C), not a Python loop back over each of the 41
# characters of "2010-04-21T07:15:11.794+0100: 45102.444: "
_STAMP_CHARS = b"0123456789-T:.,+Z "


def _cut_concurrent(text: bytes) -> bytes:
    """text without its concurrent phases and the date and uptime stamps just before each."""
    if b"oncurrent" not in text:
        return text
    out: list[bytes] = []
    pos = 0
    for m in _CONC_PHASE.finditer(text):
        s = m.start()
        lo = pos + len(text[pos:s].rstrip(_STAMP_CHARS))  # the stamps hold none of the other characters
        start = next((p for p in range(lo, s) if _CONC_STAMPS.fullmatch(text, p, s)), s)  # the leftmost
        out.append(text[pos:start])
        pos = m.end()
    if not out:
        return text
    out.append(text[pos:])
    return b"".join(out)


_FRAG = re.compile(rb"\[([A-Za-z0-9][A-Za-z0-9 ()_-]*?) ?: ([^\[\]]*)\]")
_SIZE = re.compile(rb"(\d+(?:[.,]\d+)?)([BKMG])->(\d+(?:[.,]\d+)?)([BKMG])\((\d+(?:[.,]\d+)?)([BKMG])\)")
_G1HEAP = re.compile(rb"Heap: (\d+(?:\.\d+)?)([BKMG])\((\d+(?:\.\d+)?)([BKMG])\)->(\d+(?:\.\d+)?)([BKMG])\((\d+(?:\.\d+)?)([BKMG])\)")
_SECS = re.compile(rb", (\d+[.,]\d+) secs\]")
_KIND = re.compile(rb"[^\[(,:0-9]*")  # "GC", "Full GC", "GC pause", "GC--", "Pause Degenerated GC"...
_MS = re.compile(rb", (\d+(?:[.,]\d+)?) ms\]")
_TIMES = re.compile(rb"\[Times: user=(\d+[.,]\d+) sys=(\d+[.,]\d+), real=(\d+[.,]\d+) secs\]")
_STOPPED = re.compile(rb"stopped: (\d+[.,]\d+) seconds(?:, Stopping threads took: (\d+[.,]\d+) seconds)?")
_JDK = re.compile(rb"JRE \((1\.\d+\.\d+(?:_\d+)?|\d+(?:\.\d+)*)")
# a record's reference-processing fragments, put on a line of their own when a concurrent phase
# interrupted the record ("T: [Full GC" + "T: [GC concurrent-mark-start]" + "T: [SoftReference, ...")
_REFS = re.compile(rb"(?:\d{4}-\d\d-\d\dT[\d:.,]+(?:[+-]\d{4}|Z)?: ?)?(?:\d+[.,]\d+: ?)?\[(?:Soft|Weak|Final|Phantom|JNI Weak )Reference")
_RUN_ON = re.compile(rb"(?<=secs\]) (?=(?:\d{4}-\d\d-\d\dT[\d:.,]+(?:[+-]\d{4})?: )?\d+[.,]\d+: \[)")
RECORD_BRACKETS = (b"[GC ", b"[GC(", b"[GC--", b"[GC[", b"[Full GC", b"[CMS", b"[Pause", b"[Concurrent")
YOUNG = (b"ParNew", b"DefNew", b"PSYoungGen", b"ASParNew")
OLD = (b"CMS", b"Tenured", b"ParOldGen", b"PSOldGen")
HEAP_SUMMARY = ((b"PSYoungGen", "Parallel"), (b" PSYoungGen", "Parallel"), (b"ParOldGen", "Parallel"), (b"PSOldGen", "Parallel"),
                (b"par new generation", "CMS"), (b" par new generation", "CMS"), (b"concurrent mark-sweep", "CMS"),
                (b" concurrent mark-sweep", "CMS"), (b"def new generation", "Serial"), (b" def new generation", "Serial"),
                (b"tenured generation", "Serial"), (b" tenured generation", "Serial"), (b"garbage-first heap", "G1"),
                (b" garbage-first heap", "G1"), (b"Shenandoah Heap", "Shenandoah"))
SHENANDOAH_INFO = (b"Trigger:", b"Soft Max Heap", b"Reference processing", b"All times are", b"all workers",
                   b"Failed to", b"Good progress", b"Collectable Garbage", b"Immediate Garbage", b"Adaptive CSet",
                   b"Uncommitted", b"Concurrent", b"Pause", b"Cancelling", b"Heap:", b"Free set", b"Evacuation Reserve",
                   b"Mutator", b"Collector Reserve", b"Status:", b"Reserved region", b"Region", b"Unload classes",
                   b"Process weak", b"Total Pauses", b"Bytes allocated")
HEADER_PREFIXES = (b"Java HotSpot", b"OpenJDK", b"Memory:", b"CommandLine flags:", b"/proc/meminfo", b"Heap",
                   b"{Heap", b"}", b"Regions:", b"Humongous object threshold", b"Max TLAB", b"GC threads",
                   b"Heuristics", b"Shenandoah", b"Pacer", b"Initialize", b"Application time:", b"Desired survivor",
                   b"- age", b"Reference Processing", b"Cancelling", b"Capacity:", b"Periodic", b"Free:", b"Evacuation",
                   b"Adaptive", b"AdaptiveSize", b"PSAdaptiveSize", b"  ",
                   # Shenandoah's per-cycle reports: understood, nothing in them is a pause
                   b"Allocation pacing accrued", b"Collection set", b"All times are", b"Concurrent ", b"Trigger:")


def _f(b: bytes) -> float:
    return float(b.replace(b",", b"."))



# The common records, each whole on one line, found with one regex over a chunk: a young collection
# of ParNew, DefNew or PSYoungGen; and CMS's concurrent phase alone on its line, initial mark and remark.
# Everything between two such lines goes through the record reader.
_FAST = re.compile(
    rb"^(?:\d{4}-[0-9T:.+-]+: )?(\d++\.\d++): \[(?:"
    rb"GC (?:\([^)\n]*+\) )?(?:(?:\d{4}-[0-9T:.+-]+: )?\d++\.\d++: )?"
    rb"\[(ParNew|DefNew|PSYoungGen|ASParNew): (\d++)K->(\d++)K\(\d++K\)(?:, \d++\.\d++ secs)?\] "
    rb"(\d++)K->(\d++)K\((\d++)K\), (\d++\.\d++) secs\]"
    rb"|CMS-concurrent-[a-z-]++(?:: [\d./]++ secs)?\](?: \[Times: [^\]\n]*+\])?"
    rb"|GC ?(?:\(CMS (?:Initial Mark|Final Remark)\) ?)?(?:\[YG occupancy[^\n]*?)?\[1 CMS-(initial-mark|remark): "
    rb"\d++K\(\d++K\)\] \d++K\(\d++K\), (\d++\.\d++) secs\])"
    rb"(?: \[Times: user=(\d++\.\d++) sys=(\d++\.\d++), real=(\d++\.\d++) secs\])? *+\r?$",
    re.M,
)
_HINT = {b"ParNew": "CMS", b"ASParNew": "CMS", b"DefNew": "Serial", b"PSYoungGen": "Parallel"}


_DIGITS = b"0123456789.,"


def _last_size_outside(text: bytes, spans: list[tuple[int, int]]) -> re.Match[bytes] | None:
    """The last "before->after(total)" of a record that is not inside a generation fragment: the heap.
    Found from the end, arrow by arrow (a forward regex scan tries every digit of a long record)."""
    end = len(text)
    while True:
        i = text.rfind(b"->", 0, end)
        if i < 1:
            return None
        k = len(text[: i - 1].rstrip(_DIGITS))  # before the unit letter: where the number starts
        m = _SIZE.match(text, k)
        if m is not None:
            for a, b in spans:
                if a <= k < b:
                    break
            else:
                return m
        end = i


class LegacyReader:
    def __init__(self, acc: Acc) -> None:
        self.acc = acc
        self.record: list[bytes] = []
        self.collector_hint: str | None = None

    def feed_buffer(self, buf: bytes) -> None:
        """Whole lines: common records on the fast path, the rest through the record reader.

        The fast loop keeps its state in locals (it runs once per young collection, so every attribute
        access saved shows in MB/s) and does what Acc.tick and Acc.pause do for a young pause; the state
        is written back before the record reader runs and at the end.
        """
        acc = self.acc
        young_ms = acc.pause_kinds.get("Young")
        if young_ms is None:
            from array import array

            young_ms = acc.pause_kinds["Young"] = array("d")
        # the fast path's times, pauses and heap-after values, added to the arrays in bulk at the end
        fast_t: list[float] = []
        fast_ms: list[float] = []
        fast_after: list[int] = []
        t_append, ms_append, after_append = fast_t.append, fast_ms.append, fast_after.append
        promoted_k = survived_k = allocated_k = 0
        cpu_events = sys_gt = 0
        max_total_k = 0
        last_ht = b""
        last_t = acc.last_t
        last_after_k = None if acc.last_after is None else acc.last_after / 1024
        seg = acc.segments[-1] if acc.segments else None
        rec = self.record  # the record reader's open record (the same list object throughout)
        last_gen = None

        def sync() -> None:
            acc.last_t = last_t
            acc.last_after = None if last_after_k is None else last_after_k * 1024

        pos = 0
        for m in _FAST.finditer(buf):
            st, end = m.span()
            if st > pos + 1:  # more than the line break between two fast lines
                sync()
                self.feed_lines(buf[pos:st].split(b"\n"))
                last_t = acc.last_t
                last_after_k = None if acc.last_after is None else acc.last_after / 1024
                seg = acc.segments[-1] if acc.segments else None
            pos = end
            t_, gen, yb, ya, hb, ha, ht, secs, phase, phase_secs, user, sys_, real = m.groups()
            if gen is None:
                if phase is None:  # a concurrent phase alone on its line: the open record may go on after it
                    acc.concurrent_count += 1
                    continue
                sync()
                if rec:
                    self.finish()
                if self.collector_hint in (None, "Serial"):
                    self.collector_hint = "CMS"
                if user is not None:
                    acc.cpu(float(user), float(sys_), float(real))
                acc.pause(float(t_), "Initial Mark" if phase == b"initial-mark" else "Remark", float(phase_secs) * 1000.0)
                last_t = acc.last_t
                seg = acc.segments[-1] if acc.segments else None
                continue
            if rec:
                sync()
                self.finish()
                last_t = acc.last_t
                last_after_k = None if acc.last_after is None else acc.last_after / 1024
                seg = acc.segments[-1] if acc.segments else None
            if gen != last_gen:  # the hint cannot change for the same generation again
                last_gen = gen
                if self.collector_hint is None or (self.collector_hint == "Serial" and gen != b"DefNew"):
                    self.collector_hint = _HINT[gen]
            t = float(t_)
            hb_k = int(hb)
            ha_k = int(ha)
            ya_k = int(ya)
            promoted = (int(yb) - ya_k) - (hb_k - ha_k)
            if promoted > 0:
                promoted_k += promoted
                survived_k += ya_k
            if user is not None:
                cpu_events += 1
                if sys_ != b"0.00" and float(sys_) > float(user) and float(real) >= 0.01:
                    sys_gt += 1
                    if len(acc.sys_samples) < 3:
                        acc.sys_samples.append(m.group().decode("utf-8", "replace")[:300])
                if real[0:1] != b"0" or real[2:3] != b"0":  # real >= 0.1 s: was it GC work?
                    acc.off_cpu(t, float(user), float(sys_), float(real), m.group().decode("utf-8", "replace"))
            ms = float(secs) * 1000.0
            ms_append(ms)
            # the clock: a step back of more than a second starts a new segment (Acc.tick)
            if seg is None or last_t is None or t < last_t - 1.0:
                acc.last_after = None if last_after_k is None else last_after_k * 1024
                acc.tick(t)
                seg = acc.segments[-1]
                if acc.last_after is None:
                    last_after_k = None
            elif t > seg[1]:
                seg[1] = t
            last_t = t
            if last_after_k is not None and hb_k > last_after_k:
                allocated_k += hb_k - last_after_k
            elif last_after_k is None and acc.first_before is None:
                acc.first_before = hb_k * 1024.0
            last_after_k = ha_k
            t_append(t)
            after_append(ha_k << 10)
            if ht != last_ht:
                last_ht = ht
                if int(ht) > max_total_k:
                    max_total_k = int(ht)
        sync()
        # pause order does not matter to the statistics; the chart and the heap samples are bucketed by time
        acc.pause_ms.extend(fast_ms)
        young_ms.extend(fast_ms)
        windows = acc.windows
        get = windows.get
        for w, ms_w in zip(map(int, map(floordiv, fast_t, repeat(WINDOW_S))), fast_ms):  # int(t // WINDOW_S)
            windows[w] = get(w, 0.0) + ms_w
        acc.series_t.extend(fast_t)
        acc.series_ms.extend(fast_ms)
        acc.after_t.extend(fast_t)
        acc.after_b.extend(fast_after)
        acc.promotion_known = acc.promotion_known or promoted_k > 0 or pos > 0
        acc.promoted += promoted_k * 1024
        acc.young_promoted += promoted_k * 1024
        acc.young_survived += survived_k * 1024
        acc.allocated += allocated_k * 1024
        acc.cpu_events += cpu_events
        acc.sys_gt_user += sys_gt
        if max_total_k and (acc.max_heap is None or max_total_k * 1024 > acc.max_heap):
            acc.max_heap = max_total_k * 1024
        if pos < len(buf):
            self.feed_lines(buf[pos:].split(b"\n"))

    def feed_lines(self, lines: list[bytes]) -> None:
        acc = self.acc
        rec = self.record
        for raw in lines:
            line = raw.rstrip(b"\r")
            if not line:
                continue
            if len(line) > 2000 and _RUN_ON.search(line):
                # records written one after another without line breaks: split them
                self.feed_lines(_RUN_ON.sub(b"\n", line).split(b"\n"))
                continue
            c = line[0]
            if c == 0x5B and (not line.startswith(RECORD_BRACKETS) or line.startswith(b"[GC Worker")):
                c = 0x20  # "[Parallel Time: ...": a G1 detail line printed without indentation
            if 48 <= c <= 57 or c == 0x5B:  # a digit or "[": a new record, or a concurrent phase on its own
                if b"[CMS-concurrent-" in line and line.count(b"[") <= 2 and b"mode" not in line:
                    acc.concurrent_count += 1  # "T: [CMS-concurrent-mark: 1.6/1.6 secs] [Times: ...]" (the common case)
                    continue
                if b"concurrent" in line[:80] or b"Concurrent" in line[:80]:
                    stripped = _cut_concurrent(line).strip()
                    if not stripped:
                        acc.concurrent_count += line.count(b"oncurrent-") or 1
                        if b"oncurrent mode" in line:
                            self._flags_only(line)
                        continue
                if b"Total time for which" in line:
                    m = _STOPPED.search(line)
                    if m:
                        h = _HEAD.match(line + b"[")
                        acc.stopped(self._time(h) if h else None, _f(m[1]) * 1000, _f(m[2]) * 1000 if m[2] else None)
                    continue
                if b"Application time:" in line:
                    continue
                if rec and _REFS.match(line):
                    rec.append(line)
                    continue
                if rec:
                    self._record(b"".join(rec))
                rec.clear()
                rec.append(line)
            elif line.startswith((b"Desired", b"- age")):
                continue  # the tenuring table inside a record: not needed, and it would split "[DefNew" from its sizes
            elif rec and c in (0x20, 0x3A, 0x09, 0x2C, 0x28):
                rec.append(line)  # continuation: " [Times...", ": 8704K->...", "(concurrent mode failure)", G1 details
            else:
                self._other(line)

    def finish(self) -> None:
        if self.record:
            self._record(b"".join(self.record))
            self.record.clear()

    def _other(self, line: bytes) -> None:
        acc = self.acc
        if line.startswith((b"CMS: abort preclean", b" CMS: abort preclean")):
            acc.concurrent_count += 1
            return
        if line.startswith(b"Total time for which"):
            m = _STOPPED.search(line)
            if m:
                acc.stopped(None, _f(m[1]) * 1000, _f(m[2]) * 1000 if m[2] else None)
            return
        if line.startswith(SHENANDOAH_INFO) or b"GC log file " in line or line.startswith(b"No shared spaces"):
            return
        for prefix, coll in HEAP_SUMMARY:
            if line.startswith(prefix):
                if acc.collector is None and self.collector_hint is None:
                    self.collector_hint = coll
                return
        if line.startswith((b"Java HotSpot", b"OpenJDK")):
            m = _JDK.search(line)
            if m:
                v = m[1].decode()
                jdk = v.split(".")[1] if v.startswith("1.") else v.split(".")[0]
                if acc.jdk and acc.last_t is not None:
                    acc.flag("restart_header", acc.last_t, line.decode("utf-8", "replace"))
                acc.jdk = jdk
            return
        if line.startswith(b"CommandLine flags:"):
            for flag, coll in ((b"UseConcMarkSweepGC", "CMS"), (b"UseParallelGC", "Parallel"), (b"UseParallelOldGC", "Parallel"),
                               (b"UseSerialGC", "Serial"), (b"UseG1GC", "G1"), (b"UseShenandoahGC", "Shenandoah")):
                if b"+" + flag in line:
                    acc.collector = coll
            m = re.search(rb"MaxHeapSize=(\d+)", line)
            if m:
                acc.max_heap = int(m[1])
            if b"CMSIncrementalMode" in line:
                acc.flag("icms", None)
            return
        if line.startswith(b"Pacing"):  # Shenandoah's summary: pacing summed over every thread
            return
        if line.endswith(b"<average total>"):  # per cycle: how long an average thread was paced
            acc.paced(line)
            return
        if line.startswith(HEADER_PREFIXES) or line[:1] in (b" ", b"\t"):
            return
        acc.unknown(line.decode("utf-8", "replace"))

    def _time(self, h: re.Match[bytes]) -> float | None:
        if h[2]:
            return _f(h[2])
        if h[1]:
            return iso_to_epoch(h[1])
        return None

    def _flags_only(self, text: bytes) -> None:
        acc = self.acc
        h = _HEAD.match(text)
        t = self._time(h) if h else None
        line = text.decode("utf-8", "replace")
        if b"concurrent mode failure" in text or b"concurrent mode interrupted" in text:
            acc.flag("concurrent_mode_failure", t, line)

    def _record(self, text: bytes) -> None:
        acc = self.acc
        h = _HEAD.match(text)
        if not h:
            acc.unknown(text.split(b"\n", 1)[0].decode("utf-8", "replace"))
            return
        t = self._time(h)
        if b"[CMS-concurrent-" in text or b"[GC concurrent-" in text or b"[Concurrent " in text:
            n_before = len(text)
            text = _cut_concurrent(text)
            if len(text) != n_before:
                acc.concurrent_count += 1
        kind = _KIND.match(text, h.end())[0].strip().decode("ascii", "replace") or "GC"
        # pause duration: the last ", N secs]" of the record (never [Times: ...])
        ms = None
        last = None
        for last in _SECS.finditer(text):
            pass
        if last is not None:
            ms = _f(last[1]) * 1000
        else:
            mm = _MS.search(text)
            if mm:
                ms = _f(mm[1])
        if ms is None:
            if kind.startswith(("CMS-concurrent", "GC concurrent", "Concurrent")) or b"-start]" in text:
                acc.concurrent_count += 1
                return
            if kind.startswith("Pause") and b"start]" in text:
                return
            acc.unknown(text.split(b"\n", 1)[0].decode("utf-8", "replace"))
            return
        line = None
        tm = _TIMES.search(text)
        if tm:
            acc.cpu(_f(tm[1]), _f(tm[2]), _f(tm[3]), None)
            if _f(tm[2]) > _f(tm[1]) and _f(tm[3]) >= 0.01 and len(acc.sys_samples) < 3:
                acc.sys_samples.append(text.split(b"\n", 1)[0].decode("utf-8", "replace")[:300])
        # generation fragments: young/old before and after, then the heap outside them
        young = old = None
        spans: list[tuple[int, int]] = []  # the generation fragments: the heap is the sizes outside them
        if b": " in text:
            for fm in _FRAG.finditer(text):
                spans.append(fm.span())
                label = fm[1]
                if b"Perm" in label or b"Metaspace" in label:
                    continue
                name = label.split(b" ", 1)[0]
                if name in YOUNG or name in OLD:
                    sm = _SIZE.search(fm[2])
                    if sm:
                        if name in YOUNG:
                            young = sm
                        else:
                            old = sm
                if self.collector_hint is None:
                    if name in (b"ParNew", b"CMS", b"ASParNew"):
                        self.collector_hint = "CMS"
                    elif name in (b"PSYoungGen", b"ParOldGen", b"PSOldGen"):
                        self.collector_hint = "Parallel"
                    elif name in (b"DefNew", b"Tenured"):
                        self.collector_hint = "Serial"
                elif self.collector_hint == "Serial" and b"CMS" in label:
                    self.collector_hint = "CMS"
                if self.collector_hint is None and b"CMS" in label:
                    self.collector_hint = "CMS"
        before = after = total = None
        g1 = _G1HEAP.search(text) if b"Heap: " in text else None
        if g1:
            before, after = to_bytes(g1[1], g1[2]), to_bytes(g1[5], g1[6])
            total = to_bytes(g1[7], g1[8])
            if self.collector_hint is None:
                self.collector_hint = "G1"
        else:
            sm = _last_size_outside(text, spans)
            if sm is not None:
                before, after, total = to_bytes(sm[1], sm[2]), to_bytes(sm[3], sm[4]), to_bytes(sm[5], sm[6])
        if self.collector_hint is None:
            if b"GC pause" in text or b"G1" in text:
                self.collector_hint = "G1"
            elif kind.startswith("Pause") and (b"Degenerated" in text or b"Init Mark" in text or b"Final Mark" in text):
                self.collector_hint = "Shenandoah"
        full = kind.startswith("Full GC") or kind.startswith("Pause Full")
        if not full:
            head = text[:512]
            # a young collection that escalated into the old generation is a full GC: CMS "[ParNew (promotion
            # failed): ...][CMS: ...]", Serial "[DefNew: ...][Tenured: ...]"; and a G1 "[Full GC" whose record
            # was split by reference-processing lines keeps its name further in
            full = b"[CMS: " in text or b"[Tenured: " in text or b"[Full GC" in head
        if young is not None and before is not None and after is not None:
            yb, ya = to_bytes(young[1], young[2]), to_bytes(young[3], young[4])
            promoted = (yb - ya) - (before - after)
            acc.promotion(promoted)
            if not full and promoted > 0:
                acc.young_promoted += promoted
                acc.young_survived += ya
        if full and old is not None:
            acc.old_full_before += to_bytes(old[1], old[2])
            acc.old_full_after += to_bytes(old[3], old[4])
            acc.old_full_count += 1
        low = text if len(text) < 4096 else text[:4096]
        if b"concurrent mode failure" in low or b"concurrent mode interrupted" in low:
            line = text.split(b"\n", 1)[0].decode("utf-8", "replace")
            acc.flag("concurrent_mode_failure", t, line)
            full = True
        if b"promotion failed" in low or kind == "GC--":
            line = line or text.split(b"\n", 1)[0].decode("utf-8", "replace")
            acc.flag("promotion_failed", t, line)
        if b"to-space exhausted" in low or b"to-space overflow" in low:
            line = line or text.split(b"\n", 1)[0].decode("utf-8", "replace")
            acc.flag("evacuation_failure", t, line)
        if b"System.gc()" in low or b"(System)" in low:
            line = line or text.split(b"\n", 1)[0].decode("utf-8", "replace")
            acc.flag("explicit", t, line)
        if b"Humongous" in low:
            line = line or text.split(b"\n", 1)[0].decode("utf-8", "replace")
            acc.flag("humongous", t, line)
        if b"Degenerated" in low:
            line = line or text.split(b"\n", 1)[0].decode("utf-8", "replace")
            acc.flag("degenerated", t, line)
        if full and (b"Metadata GC Threshold" in low or b"Last ditch" in low or b"Perm Gen" in low or b"(Permanent Generation)" in low):
            line = line or text.split(b"\n", 1)[0].decode("utf-8", "replace")
            acc.flag("metaspace", t, line)
        if "remark" in kind.lower() or b"CMS-remark" in low:
            kind = "Remark"
        elif b"CMS-initial-mark" in low or "Initial Mark" in kind:
            kind = "Initial Mark"
        elif kind.startswith("GC pause"):
            kind = "Young" if b"(young)" in low else "Mixed" if b"(mixed)" in low else "Pause"
        elif full:
            kind = "Full"
        elif kind in ("GC", "GC--"):
            kind = "Young"
        old_fill = None
        if full and old is not None:
            cap = to_bytes(old[5], old[6])
            old_fill = to_bytes(old[3], old[4]) / cap if cap else None
        acc.pause(t, kind, ms, before, after, total, full, old_fill)
