"""The legacy fast path's regex (possessive repeats, fewer groups) finds the same lines, with the same fields, as the
pattern it replaced, on every line of the corpus's logs and on lines made to sit at its edges."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from conftest import SHARED
from runbook.jvm.gclog.legacy import _FAST

CORPUS = SHARED / "corpus" / "gc"

# the pattern before (greedy repeats that give back; young total and the concurrent marker captured)
BEFORE = re.compile(
    rb"^(?:\d{4}-[0-9T:.+-]+: )?(\d+\.\d+): \[(?:"
    rb"GC (?:\([^)\n]*\) )?(?:(?:\d{4}-[0-9T:.+-]+: )?\d+\.\d+: )?"
    rb"\[(ParNew|DefNew|PSYoungGen|ASParNew): (\d+)K->(\d+)K\((\d+)K\)(?:, \d+\.\d+ secs)?\] "
    rb"(\d+)K->(\d+)K\((\d+)K\), (\d+\.\d+) secs\]"
    rb"|(CMS-concurrent-)[a-z-]+(?:: [\d./]+ secs)?\](?: \[Times: [^\]\n]*\])?"
    rb"|GC ?(?:\(CMS (?:Initial Mark|Final Remark)\) ?)?(?:\[YG occupancy[^\n]*?)?\[1 CMS-(initial-mark|remark): "
    rb"\d+K\(\d+K\)\] \d+K\(\d+K\), (\d+\.\d+) secs\])"
    rb"(?: \[Times: user=(\d+\.\d+) sys=(\d+\.\d+), real=(\d+\.\d+) secs\])? *\r?$",
    re.M,
)

EDGES = [
    b"1.5: [GC 1.5: [ParNew: 1K->2K(3K), 0.1 secs] 4K->5K(6K), 0.2 secs] [Times: user=0.01 sys=0.02, real=0.03 secs]   \r",
    b"1.5: [GC (Allocation Failure) 2020-01-01T00:00:00.000+0000: 1.5: [ParNew: 1K->2K(3K)] 4K->5K(6K), 0.2 secs]",
    b"2020-01-01T00:00:00.000+0000: 1.5: [GC [PSYoungGen: 1K->2K(3K)] 4K->5K(6K), 0.2 secs] [Times: user=0.01 sys=0.02, real=0.03 secs]",
    b"1.5: [GC [PSYoungGen: 1K->2K(3K)] 4K->5K(6K), 0.2 secs] [Times: user=0.01 sys=0.02, real=0.03 secs] x",
    b"1.5: [GC [PSYoungGen: 1K->2KK(3K)] 4K->5K(6K), 0.2 secs]",
    b"1.5: [CMS-concurrent-mark-start]",
    b"1.5: [CMS-concurrent-mark: 0.1/0.2 secs] [Times: user=0.01 sys=0.02, real=0.03 secs]  ",
    b"1.5: [CMS-concurrent--: 0.1/0.2 secs]]",
    b"1.5: [GC (CMS Initial Mark) [1 CMS-initial-mark: 1K(2K)] 3K(4K), 0.1 secs] [Times: user=0.01 sys=0.02, real=0.03 secs]",
    b"1.5: [GC[YG occupancy: 1 K (2 K)]1.5: [Rescan (parallel) , 0.1 secs][1 CMS-remark: 1K(2K)] 3K(4K), 0.1 secs]",
    b"1.5: [GC 1.5: [ParNew: 1K->2K(3K), 0.1 secs] 4K->5K(6K), 0.2 secs] [Times: user=0.01 sys=0.02, real=0.03 secs",
    b"1.5: [GC 1.5: [DefNew: 12345K->2K(3K), 0.1 secs] 4K->5K(6K), 0.2 secs]",
]


def _lines() -> list[bytes]:
    out = list(EDGES)
    for p in sorted(CORPUS.rglob("*")):
        if p.is_file() and p.name not in ("LICENSE", "SOURCES.md") and not p.name.endswith(".zip"):
            data = gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()
            out += data.split(b"\n")
    return out


@pytest.mark.skipif(not CORPUS.exists(), reason="../shared/corpus/gc is not beside the project")
def test_the_fast_regex_reads_what_the_one_before_read() -> None:
    found = 0
    for line in _lines():
        a, b = BEFORE.match(line), _FAST.match(line)
        assert (a is None) == (b is None), line
        if a is not None:
            found += 1
            g = a.groups()
            assert b.span() == a.span(), line
            assert b.groups() == g[:4] + g[5:9] + g[10:], line  # without the young total and the concurrent marker
    assert found > 10000
