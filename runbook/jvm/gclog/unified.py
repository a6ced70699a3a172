"""Unified logging (JDK 9+): -Xlog:gc*, any decorators or none, every collector.

The reader never looks at most lines: a handful of literal markers are found with one regex over
a whole chunk (C speed), and only those lines are parsed.
"""

from __future__ import annotations

import re
from typing import Iterable

from runbook.jvm.gclog.stats import Acc, to_bytes
from runbook.jvm.gclog.timefmt import iso_to_epoch

MARKERS = re.compile(
    rb"Pause |To-space exhausted|Allocation Stall \(|Total time for which|Safepoint \"|User=|Using |Version: "
    rb"|Old regions: |ParOldGen: |Tenured: |Heap region size: |Collection \(|Relocation Stall \(|<average total>|Concurrent cleanup "
    rb"|Allocated: "
)
_SIZE = re.compile(rb"(\d+(?:\.\d+)?)([BKMG])(?:\(\d+%\))?->(\d+(?:\.\d+)?)([BKMG])(?:\(\d+%\))?(?:\((\d+(?:\.\d+)?)([BKMG])\))?")
_MS = re.compile(rb"(\d+(?:[.,]\d+)?)ms\s*$")
_SECS = re.compile(rb"(\d+(?:\.\d+)?)s\s*$")
_TABLE_SIZE = re.compile(rb"(\d+)([KMG]) \(\d+%\)")  # a cell of ZGC's heap table: "368256M (7%)"
_CPU = re.compile(rb"User=(\d+(?:\.\d+)?)s Sys=(\d+(?:\.\d+)?)s Real=(\d+(?:\.\d+)?)s")
_STOPPED = re.compile(rb"stopped: (\d+(?:\.\d+)?) seconds(?:, Stopping threads took: (\d+(?:\.\d+)?) seconds)?")
_SAFEPOINT = re.compile(rb"Reaching safepoint: (\d+) ns.*?Total: (\d+) ns")
_KIND = re.compile(rb"Pause ((?:[A-Z][A-Za-z]*)(?: [A-Z][A-Za-z]*)*)")
COLLECTORS = [
    (b"G1", "G1"), (b"Parallel", "Parallel"), (b"Serial", "Serial"), (b"Concurrent Mark Sweep", "CMS"),
    (b"The Z Garbage Collector", "ZGC"), (b"ZGC", "ZGC"), (b"Shenandoah", "Shenandoah"),
]



_UPTIME_FIRST = re.compile(rb"\[(\d+\.\d+)s\]\[[a-z]+ *\]\[[a-z,]+ *\] ?")


def decorations(line: bytes) -> tuple[float | None, bytes]:
    """(time in seconds: uptime, else wall clock; None without decorators), and the message."""
    m = _UPTIME_FIRST.match(line)  # the default decorators, [uptime][level][tags]: the common case
    if m:
        return float(m[1]), line[m.end():].lstrip()
    i = 0
    up = wall = None
    n = len(line)
    while i < n and line[i] == 0x5B:  # "["
        j = line.find(b"]", i)
        if j < 0:
            break
        tok = line[i + 1 : j].strip()
        i = j + 1
        if not tok:
            continue
        c0 = tok[0]
        if 48 <= c0 <= 57:  # digit
            if tok.endswith(b"ms"):
                try:
                    v = int(tok[:-2])
                except ValueError:
                    continue
                if v > 100_000_000_000:  # timemillis: epoch
                    wall = v / 1000.0
                elif up is None:
                    up = v / 1000.0
            elif tok.endswith(b"ns"):
                try:
                    up = int(tok[:-2]) / 1e9 if up is None else up
                except ValueError:
                    continue
            elif tok.endswith(b"s"):
                try:
                    up = float(tok[:-1].replace(b",", b"."))
                except ValueError:
                    continue
            elif len(tok) >= 19 and tok[4:5] == b"-":
                wall = iso_to_epoch(tok)
            elif tok.isdigit():
                continue  # pid / tid
    rest = line[i:].lstrip()
    return (up if up is not None else wall), rest


# The fast way, for logs whose every line is decorated ("[uptime][level][tags] message"): two scans, each
# anchored on a literal that Python's re finds at memchr speed, instead of one scan for any of the markers
# anywhere (that alternation tries every capital letter of the file: 3.5x slower). A GC's own lines say
# "GC(n) " before their message; the other lines we read are messages of their own, right after "] ".
_GC_ID = re.compile(rb"GC\(\d+\) (?:[A-Za-z]: )?(?:User=(\d+(?:\.\d+)?)s Sys=(\d+(?:\.\d+)?)s Real=(\d+(?:\.\d+)?)s"
                    rb"|Old regions: (\d+)->(\d+)"
                    rb"|(Pause (?=[^\n]*ms\r?\n)|User=|To-space exhausted|Old regions: |ParOldGen: |Tenured: |Concurrent cleanup "
                    rb"|Allocation Stall \(|Relocation Stall \(|(?:Garbage|Major|Minor) Collection \(|Allocated: ))")
_CPU_TIMES, _OLD_REGIONS = 3, 5  # which of _GC_ID's forms matched (its lastindex): read from the match itself
_MESSAGE = re.compile(rb"\] (Using |Version: |Heap region size: |Total time for which|Safepoint \"|Allocation Stall \("
                      rb"|Relocation Stall \()")
_PACING = re.compile(rb"<average total>")
_CANON = {b"Garbage Collection (": b"Collection (", b"Major Collection (": b"Collection (",
          b"Minor Collection (": b"Collection ("}


def parse_chunk(acc: Acc, buf: bytes, decorated: bool = False) -> None:
    """Parse the whole lines of buf (it ends at a line boundary). decorated: every line of buf starts with
    a decoration (the caller has counted them), so the fast scans find every line the slow one would."""
    if not decorated:
        _parse_any(acc, buf)
        return
    rare = list(_MESSAGE.finditer(buf))
    if acc.collector in (None, "Shenandoah"):
        rare += _PACING.finditer(buf)
    matches: Iterable[re.Match[bytes]] = _GC_ID.finditer(buf)
    if rare:  # the collector, the JDK, safepoints, stalls: few lines, merged in the order of the file
        matches = sorted([*rare, *matches], key=lambda m: m.start())
    for m in matches:
        k = m.lastindex
        if m.re is _GC_ID:
            if k == _CPU_TIMES:  # the most frequent lines, read from the match alone
                user, sys_, real = float(m[1]), float(m[2]), float(m[3])
                line = None
                if sys_ > user or real >= 0.1:  # the only times the line is kept as a sample
                    line = decorations(_line_at(buf, m.start())[0])[1].decode("utf-8", "replace")
                acc.cpu(user, sys_, real, line)
                continue
            if k == _OLD_REGIONS:
                if acc.region_size:
                    acc.promotion((int(m[5]) - int(m[4])) * acc.region_size)
                continue
        s = m.start()
        marker = m[k] if k else m[0]
        # (a pause's start line, without the "ms" its end line has, is not matched at all)
        t, rest = decorations(_line_at(buf, s)[0])
        _handle(acc, t, rest, _CANON.get(marker, marker))


def _line_at(buf: bytes, s: int) -> tuple[bytes, int]:
    """The line of buf that holds position s (without its line break), and where it ends."""
    le = buf.find(b"\n", s)
    if le < 0:
        le = len(buf)
    return buf[buf.rfind(b"\n", 0, s) + 1 : le].rstrip(b"\r"), le


def _parse_any(acc: Acc, buf: bytes) -> None:
    """Any line, decorated or not, other output mixed in: every marker looked for anywhere."""
    pos_end = -1
    for m in MARKERS.finditer(buf):
        s = m.start()
        if s < pos_end:
            continue  # a second marker on a line already handled
        line, pos_end = _line_at(buf, s)
        marker = m.group()
        if marker == b"Pause " and not line.endswith(b"ms"):
            continue  # the start line of a pause: its end line carries the duration
        t, rest = decorations(line)
        _handle(acc, t, rest, marker)


def _handle(acc: Acc, t: float | None, rest: bytes, marker: bytes) -> None:
    if marker == b"Pause ":
        _pause(acc, t, rest)
    elif marker == b"User=":
        m = _CPU.search(rest)
        if m:
            acc.cpu(float(m[1]), float(m[2]), float(m[3]), rest.decode("utf-8", "replace"))
    elif marker == b"To-space exhausted":
        acc.flag("evacuation_failure", t, rest.decode("utf-8", "replace"))
    elif marker in (b"Allocation Stall (", b"Relocation Stall ("):
        m = _MS.search(rest)
        ms = float(m[1].replace(b",", b".")) if m else 0.0
        acc.stall(t, ms, "allocation_stall" if marker[0:1] == b"A" else "relocation_stall", rest.decode("utf-8", "replace"))
    elif marker == b"Concurrent cleanup ":
        # Shenandoah's cleanup lines carry the heap before and after its concurrent cycle: without them
        # its allocation rate would only see the (sizeless) pauses
        size = _SIZE.search(rest)
        if size:
            t = acc.tick(t)
            total = to_bytes(size[5], size[6]) if size[5] else None
            acc.heap_sample(t, to_bytes(size[1], size[2]), to_bytes(size[3], size[4]), total)
    elif marker == b"Allocated: ":
        # ZGC's heap table: what the application allocated while the cycle ran, in its last column (Relocate
        # End). The cycle's own line ("96M(100%)->10M(10%)") says the heap at Mark Start and at Relocate End:
        # what was allocated in between is hidden in it, and under load a cycle runs long. Generational ZGC
        # prints it for the young generation ("y: Allocated:"); the old one's is what the young promoted.
        if b"GC(" not in rest or b"O: Allocated" in rest or b"o: Allocated" in rest:
            return
        cells = _TABLE_SIZE.findall(rest.split(b"Allocated: ", 1)[1])
        if cells:
            acc.allocated += to_bytes(*cells[-1])
    elif marker == b"<average total>":
        acc.paced(rest)  # Shenandoah: how long an average thread was paced in this cycle
    elif marker == b"Total time for which":
        m = _STOPPED.search(rest)
        if m:
            ttsp = float(m[2]) * 1000 if m[2] else None
            acc.stopped(t, float(m[1]) * 1000, ttsp)
    elif marker == b'Safepoint "':
        m = _SAFEPOINT.search(rest)
        if m:
            acc.stopped(t, int(m[2]) / 1e6, int(m[1]) / 1e6)
    elif marker == b"Using ":
        if rest.startswith(b"Using ") and not rest[6:7].isdigit():
            name = rest[6:]
            for key, coll in COLLECTORS:
                if name.startswith(key):
                    if acc.collector and acc.collector != coll:
                        acc.flag("collector_changed", t, rest.decode("utf-8", "replace"))
                    acc.collector = coll
                    acc.tick(t)
                    if t is not None and acc.first_before is None and acc.last_after is None and len(acc.segments) == 1:
                        acc.jvm_start_t = t  # printed as the JVM starts, before it allocated anything
                    break
    elif marker == b"Version: ":
        if acc.jdk is None:
            v = rest.split(b"Version: ", 1)[1].split()[0].decode("utf-8", "replace")
            acc.jdk = v.split("+")[0].split("-")[0]
    elif marker in (b"Old regions: ", b"ParOldGen: ", b"Tenured: "):
        if b"GC(" not in rest:
            return
        tail = rest.split(marker, 1)[1]
        m = _SIZE.match(tail) if marker != b"Old regions: " else re.match(rb"(\d+)->(\d+)", tail)
        if not m:
            return
        if marker == b"Old regions: ":
            if acc.region_size:
                acc.promotion((int(m[2]) - int(m[1])) * acc.region_size)
        else:
            acc.promotion(to_bytes(m[3], m[4]) - to_bytes(m[1], m[2]))
    elif marker == b"Heap region size: ":
        m = re.search(rb"Heap region size: (\d+)([KMG])", rest)
        if m:
            acc.region_size = int(to_bytes(m[1], m[2]))
    elif marker == b"Collection (":
        # ZGC: "Garbage Collection (Warmup) 100M(10%)->50M(5%)", generational: "Major/Minor Collection (...) ... 36.764s"
        if b"GC(" not in rest or not (rest.endswith(b"%)") or _SECS.search(rest)):
            return
        acc.tick(t)
        if acc.collector is None:
            acc.collector = "ZGC"
        if b"System.gc()" in rest:
            acc.flag("explicit", t, rest.decode("utf-8", "replace"))
        m = _SIZE.search(rest)
        if m and t is not None:
            acc.heap_sample(t, to_bytes(m[1], m[2]), to_bytes(m[3], m[4]), None)


def _guess_collector(kind: str, rest: bytes) -> str | None:
    if b"G1 " in rest or kind in ("Young", "Remark", "Cleanup") and (b"(Normal)" in rest or b"(Mixed)" in rest or b"(Concurrent Start)" in rest or b"(Prepare Mixed)" in rest):
        return "G1"
    if kind in ("Mark Start", "Mark End", "Relocate Start"):
        return "ZGC"
    if kind in ("Init Mark", "Final Mark", "Init Update Refs", "Final Update Refs", "Degenerated GC", "Final Roots", "Final Evac"):
        return "Shenandoah"
    if kind in ("Initial Mark",):
        return "CMS"
    return None


_MS_TOKEN = re.compile(rb"(\d+(?:[.,]\d+)?)ms\s*")


def _ms(rest: bytes) -> re.Match[bytes] | None:
    """_MS.search(rest), 5x faster: the duration is the line's last word ("... 23M->5M(64M) 5.662ms")."""
    return _MS_TOKEN.fullmatch(rest, rest.rfind(b" ") + 1) or _MS.search(rest)


def _pause(acc: Acc, t: float | None, rest: bytes) -> None:
    m = _ms(rest)
    if not m:
        return  # the start line of a pause; its end line carries the duration
    ms = float(m[1].replace(b",", b"."))
    km = _KIND.search(rest)
    kind = km[1].decode() if km else "Pause"
    if acc.collector is None:
        acc.collector = _guess_collector(kind, rest)
    full = kind.startswith("Full")
    size = _SIZE.search(rest)
    before = after = total = None
    if size:
        before, after = to_bytes(size[1], size[2]), to_bytes(size[3], size[4])
        if size[5]:
            total = to_bytes(size[5], size[6])
    line = None
    if b"System.gc()" in rest:
        line = rest.decode("utf-8", "replace")
        acc.flag("explicit", t, line)
    if b"Humongous Allocation" in rest:
        acc.flag("humongous", t, line or rest.decode("utf-8", "replace"))
    if b"Evacuation Failure" in rest:
        acc.flag("evacuation_failure", t, line or rest.decode("utf-8", "replace"))
    if kind == "Degenerated GC":
        acc.flag("degenerated", t, line or rest.decode("utf-8", "replace"))
    if full:
        if b"Metadata GC Threshold" in rest or b"Metaspace" in rest or b"Last ditch" in rest:
            acc.flag("metaspace", t, line or rest.decode("utf-8", "replace"))
        if b"Allocation Failure" in rest or b"G1 Compaction" in rest:
            acc.flag("full_allocation_failure", t, line or rest.decode("utf-8", "replace"))
    acc.pause(t, kind, ms, before, after, total, full)
