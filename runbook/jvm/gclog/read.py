"""Open GC logs however they are kept, and stream them through the right reader.

Plain files, .gz and .zip are read in chunks (memory stays flat); a rotation set is read in order
as one timeline; the format (unified or legacy) is told per file from its first lines.
"""

from __future__ import annotations

import gzip
from array import array
import io
import os
import re
import zipfile
from typing import BinaryIO, Callable, Iterator

from runbook.jvm.gclog.legacy import LegacyReader
from runbook.jvm.gclog.stats import Acc
from runbook.jvm.gclog.unified import parse_chunk

CHUNK = 4 * 1024 * 1024
SNIFF = 64 * 1024


class GcLogError(Exception):
    pass


def _open(path: str) -> tuple[BinaryIO, int]:
    """A binary stream of the log's text, and its compressed or plain size (for progress)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb"), size  # type: ignore[return-value]
    if magic == b"PK\x03\x04":
        z = zipfile.ZipFile(path)
        names = [n for n in z.namelist() if not n.endswith("/")]
        if not names:
            raise GcLogError(f"{path}: the zip archive is empty")
        if len(names) > 1:
            raise GcLogError(f"{path}: the zip archive holds {len(names)} files; unzip it and name the logs")
        return z.open(names[0]), z.getinfo(names[0]).file_size
    return open(path, "rb"), size


def sniff(head: bytes) -> str | None:
    """'unified', 'legacy', or None (not a GC log we know)."""
    if b"\x00" in head:
        return None
    unified = legacy = 0
    for line in head.split(b"\n")[:400]:
        if not line.strip():
            continue
        if line.startswith(b"[") and (b"][" in line[:120] or b"GC(" in line[:200]) and (b"[gc" in line or b"GC(" in line or b"[safepoint" in line):
            unified += 1
        elif line.startswith(b"GC(") or line.startswith((b"Using G1", b"Using Parallel", b"Using Serial", b"Using Shenandoah", b"Using The Z")):
            unified += 1
        elif re.match(rb"^(?:\d{4}-\d\d-\d\dT[\d:.,]+(?:[+-]\d{4})?: ?)?(?:\d+[.,]\d+: ?)?\[(?:GC|Full GC|CMS|Pause|GC pause)", line):
            legacy += 1
        elif line.startswith((b"Java HotSpot", b"OpenJDK", b"CommandLine flags:")) or b"Total time for which" in line \
                or b"Application time:" in line or line.startswith((b"PSYoungGen", b" PSYoungGen", b" par new generation",
                                                                      b" def new generation", b" garbage-first heap")):
            legacy += 1
    if unified == 0 and legacy == 0:
        return None
    return "unified" if unified >= legacy else "legacy"


_NUM = re.compile(r"^(.*?)(?:\.(\d+))?(\.current)?$")


def order_rotation(paths: list[str]) -> list[str]:
    """A rotation set in time order: gc.log.0, gc.log.1, ..., gc.log.N.current, then gc.log (the live file).
    Files of different logs keep the order they were given in."""
    def key(p: str) -> tuple[str, int, int]:
        name = os.path.basename(p)
        for ext in (".gz", ".zip"):
            if name.endswith(ext):
                name = name[: -len(ext)]
        m = _NUM.match(name)
        assert m
        base, num, cur = m[1], m[2], m[3]
        if num is None and not cur:
            return base, 1 << 30, 0  # the current file of a JDK 9+ set is newest
        return base, int(num or 0), 1 if cur else 0

    groups: dict[str, list[str]] = {}
    first_seen: list[str] = []
    for p in paths:
        b = key(p)[0]
        if b not in groups:
            groups[b] = []
            first_seen.append(b)
        groups[b].append(p)
    out: list[str] = []
    for b in first_seen:
        out += _by_time(sorted(groups[b], key=key))
    return out


_WALL = re.compile(rb"(?:^|\[)(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?[+-]\d{4})(?:\]|: )", re.M)
_UPTIME = re.compile(rb"(?:\[(\d+(?:[.,]\d+)?)s\]|^(\d+\.\d+): )", re.M)


def _first_stamp(path: str) -> tuple[float | None, float | None]:
    """(wall-clock epoch, uptime) of the first stamped line in the file's head."""
    from runbook.jvm.gclog.timefmt import iso_to_epoch

    try:
        f, _ = _open(path)
        with f:
            head = f.read(64 * 1024)
    except (OSError, EOFError, zipfile.BadZipFile, gzip.BadGzipFile):
        return None, None
    wall = _WALL.search(head)
    up = _UPTIME.search(head)
    uptime = None
    if up:
        uptime = float((up[1] or up[2]).replace(b",", b"."))
    return (iso_to_epoch(wall[1]) if wall else None), uptime


def _by_time(files: list[str]) -> list[str]:
    """A JDK rotation set is written round-robin (.2, .3, .0, .1, then the live file): its order is the
    time inside the files, not their numbers. Wall-clock stamps first; uptime when that is all there is
    (one JVM); the names' order when a file has neither."""
    if len(files) < 2:
        return files
    stamps = [_first_stamp(f) for f in files]
    if all(st[0] is not None for st in stamps):
        return [f for _, f in sorted(zip(stamps, files), key=lambda x: x[0][0])]
    if all(st[1] is not None for st in stamps):
        by_uptime = [f for _, f in sorted(zip(stamps, files), key=lambda x: x[0][1])]
        # uptime orders files of one JVM only: each must start after the one before it ended
        firsts = dict(zip(files, (st[1] for st in stamps)))
        lasts = {f: _last_uptime(f) for f in by_uptime}
        if all(lasts[a] is not None and firsts[b] >= lasts[a] for a, b in zip(by_uptime, by_uptime[1:])):  # type: ignore[operator]
            return by_uptime
    return files


def _last_uptime(path: str) -> float | None:
    """The uptime of the last stamped line of a plain file (its tail only)."""
    if path.endswith((".gz", ".zip")):
        return None
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 64 * 1024))
            tail = f.read()
    except OSError:
        return None
    found = _UPTIME.findall(tail)
    if not found:
        return None
    a, b = found[-1]
    return float((a or b).replace(b",", b"."))


def read_logs(paths: list[str], progress: Callable[[int, int], None] | None = None, workers: int | None = None) -> Acc:
    """Read one JVM's logs into an Acc. Raises GcLogError for files that cannot be read at all.

    workers: processes for one large plain file (None: one per CPU, up to 4; 1: this process only).
    """
    acc = Acc()
    ordered = order_rotation(paths)
    totals = []
    for p in ordered:
        if not os.path.exists(p):
            raise GcLogError(f"{p}: no such file")
        if os.path.isdir(p):
            raise GcLogError(f"{p}: is a directory; name the log files")
        totals.append(os.path.getsize(p))
    done = 0
    total = sum(totals)
    for p, size in zip(ordered, totals):
        try:
            _read_one(acc, p, lambda n: progress(done + n, total) if progress else None, workers)
        except (OSError, EOFError, zipfile.BadZipFile, gzip.BadGzipFile) as e:
            raise GcLogError(f"{p}: cannot read: {getattr(e, 'strerror', None) or e}") from None
        done += size
        acc.files.append(p)
    return acc


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while True:
        b = stream.read(CHUNK)
        if not b:
            return
        yield b


PARALLEL_MIN = 24 * 1024 * 1024


def _format(path: str, head: bytes) -> tuple[str, bool, bytes]:
    """The format of a log from its first SNIFF bytes: (format, old Mac line ends, the head with \n line
    ends); GcLogError when it is not a GC log the reader knows."""
    if not head.strip():
        raise GcLogError(f"{path}: the file is empty")
    cr_only = b"\r" in head and b"\n" not in head  # old Mac line ends
    if cr_only:
        head = head.replace(b"\r", b"\n")
    fmt = sniff(head)
    if fmt is None:
        kind = "binary data" if b"\x00" in head else "no GC log lines in its first 64 KB"
        raise GcLogError(f"{path}: not a GC log we can read ({kind})")
    return fmt, cr_only, head


def check_format(path: str) -> str:
    """What read_logs would find the file to be, from its start alone (GcLogError when not a GC log)."""
    try:
        stream, _ = _open(path)
        with stream:
            return _format(path, stream.read(SNIFF))[0]
    except (OSError, EOFError, zipfile.BadZipFile, gzip.BadGzipFile) as e:
        raise GcLogError(f"{path}: {getattr(e, 'strerror', None) or e}") from None


def _read_one(acc: Acc, path: str, progress: Callable[[int], None], workers: int | None = None) -> None:
    stream, size = _open(path)
    with stream:
        fmt, cr_only, head = _format(path, stream.read(SNIFF))
        if acc.format and acc.format != fmt:
            acc.flag("mixed_formats", None, path)
        acc.format = acc.format or fmt
        # a file of a rotation set starts a new stretch of the timeline (the clock may go back)
        acc.last_after = None
        n = workers if workers is not None else min(os.cpu_count() or 1, 4)
        plain = isinstance(stream, io.BufferedReader) and not cr_only
        if plain and n > 1 and size >= PARALLEL_MIN:
            _read_parallel(acc, path, fmt, size, n, progress)
            return
        _parse_stream(acc, fmt, _iter_with_head(head, stream), size, progress, cr_only, path)


def _parse_stream(acc: Acc, fmt: str, chunks: Iterator[bytes], size: int, progress: Callable[[int], None],
                  cr_only: bool = False, path: str = "") -> None:
    carry = b""
    legacy = LegacyReader(acc) if fmt == "legacy" else None
    pos = 0
    for chunk in chunks:
        pos += len(chunk)
        if cr_only:
            chunk = chunk.replace(b"\r", b"\n")
        buf = carry + chunk
        cut = buf.rfind(b"\n") + 1
        if cut == 0:
            carry = buf
            if len(carry) > 16 * CHUNK:
                raise GcLogError(f"{path}: no line break in {len(carry)} bytes: not a text log")
            continue
        part, carry = buf[:cut], buf[cut:]
        acc.bytes += len(part)
        lines = part.count(b"\n")
        acc.lines += lines
        if legacy is not None:
            legacy.feed_buffer(part)
        else:
            _unified(acc, part, lines)
        acc.compact()
        progress(min(pos, size))
    if carry:
        acc.bytes += len(carry)
        acc.lines += 1
        if legacy is not None:
            legacy.feed_lines([carry])
        else:
            _unified(acc, carry + b"\n", 1)
    if legacy is not None:
        legacy.finish()
        if acc.collector is None and legacy.collector_hint:
            acc.collector = legacy.collector_hint


_RECORD_START = re.compile(rb"\n(?=(?:\d{4}-[0-9T:.+-]+: )?\d+[.,]\d+: \[(?:GC|Full GC))")


def _boundaries(path: str, fmt: str, size: int, n: int) -> list[int]:
    """Offsets that split the file into n stretches, each starting at a line (legacy: at a record)."""
    cuts = [0]
    with open(path, "rb") as f:
        for i in range(1, n):
            f.seek(size * i // n)
            window = f.read(1 << 20)
            m = _RECORD_START.search(window) if fmt == "legacy" else re.search(rb"\n", window)
            if m:
                cut = size * i // n + m.start() + 1
                if cut > cuts[-1]:
                    cuts.append(cut)
    cuts.append(size)
    return cuts


def _read_range(args: tuple[str, str, int, int, int | None]) -> Acc:
    path, fmt, start, end, region_size = args
    acc = Acc()
    acc.format = fmt
    acc.region_size = region_size  # said once at the start of the file; a later stretch needs it too

    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as f:
            f.seek(start)
            left = end - start
            while left > 0:
                b = f.read(min(CHUNK, left))
                if not b:
                    return
                left -= len(b)
                yield b

    _parse_stream(acc, fmt, chunks(), end - start, lambda n: None, path=path)
    # sorted here, in parallel: the merged arrays are then two sorted runs, which the final sort
    # merges in one pass (pause order does not matter to the statistics; the chart has its own series)
    acc.pause_ms = array("d", sorted(acc.pause_ms))
    acc.pause_kinds = {k: array("d", sorted(v)) for k, v in acc.pause_kinds.items()}
    return acc


def _quiet_worker() -> None:
    """A worker forked from the command line inherits its SIGTERM handler; the pool stops its workers
    with SIGTERM when it closes, which must end them silently, and Ctrl-C is the parent's to handle."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def worker_pool(n: int):
    """n forked workers (fork: nothing to import again) that end quietly."""
    import multiprocessing as mp

    return mp.get_context("fork").Pool(n, initializer=_quiet_worker)


def _read_parallel(acc: Acc, path: str, fmt: str, size: int, n: int, progress: Callable[[int], None]) -> None:
    """Stretches of one big file read by n processes, merged in order."""
    cuts = _boundaries(path, fmt, size, n)
    region_size = None
    if fmt == "unified":  # the file's start says what every stretch needs to know (G1's region size)
        with open(path, "rb") as f:
            head = f.read(SNIFF)
        start = Acc()
        parse_chunk(start, head[: head.rfind(b"\n") + 1])
        region_size = start.region_size
    jobs = [(path, fmt, a, b, region_size) for a, b in zip(cuts, cuts[1:])]
    with worker_pool(len(jobs)) as pool:
        done = 0
        for (_, _, a, b, _), part in zip(jobs, pool.imap(_read_range, jobs)):
            acc.merge(part)
            done += b - a
            progress(done)
    acc.compact()


_UNDECORATED = re.compile(rb"\n[^\[]")
_NOT_DECORATED = re.compile(rb"\n(?!\[|\n|GC\(|Using |\s)([^\n]*)")


def _unified(acc: Acc, part: bytes, lines: int) -> None:
    """Whole lines of a unified log. When every line is decorated (starts with "["), the fast scans read
    them; otherwise the general one, and the lines that are not log lines at all (other output mixed in)
    are counted."""
    decorated = part[:1] == b"[" and _UNDECORATED.search(part, 0, len(part) - 1) is None
    parse_chunk(acc, part, decorated)
    if not decorated and part.count(b"\n[") + 8 < lines:
        for m in _NOT_DECORATED.finditer(part):
            acc.unknown(m[1].decode("utf-8", "replace"))


def _iter_with_head(head: bytes, stream: BinaryIO) -> Iterator[bytes]:
    yield head
    yield from _chunks(stream)


def read_text(text: str) -> Acc:
    """For tests: a log given as text."""
    import tempfile

    with tempfile.NamedTemporaryFile("wb", suffix=".log", delete=False) as f:
        f.write(text.encode())
    try:
        return read_logs([f.name])
    finally:
        os.unlink(f.name)


__all__ = ["GcLogError", "read_logs", "order_rotation", "sniff", "io"]
