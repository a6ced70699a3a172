"""The legacy reader cuts a concurrent phase printed inside another record (with the stamps before it) by
finding its bracket first: the same cut as the one pattern that begins with the optional stamps, for any
text of the characters that matter."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.jvm.gclog.legacy import _cut_concurrent

# the definition: stamps, then the phase, then its [Times: ...]; leftmost, non-overlapping
WHOLE = re.compile(rb"(?:\d{4}-\d\d-\d\dT[\d:.,]+(?:[+-]\d{4}|Z)?: ?)?(?:\d+[.,]\d+: ?)?\[(?:CMS-concurrent-|GC concurrent-"
                   rb"|Concurrent )[^\[\]]*\](?: ?\[Times: [^\]]*\])?")
PIECES = [b"2010-04-21T05:55:34.183+0100: ", b"40324.728: ", b"1.5:", b"12", b"-", b"T", b"Z", b":", b" ", b",", b".",
          b"[CMS-concurrent-abortable-preclean: 0.430/3.259 secs]", b"[GC concurrent-mark-end, 0.01 secs]",
          b"[Concurrent ", b"]", b"[", b" [Times: user=4.02 sys=0.69, real=3.25 secs]", b"[Times: x]", b"CMS", b"secs]",
          b"(concurrent mode failure): 654882K->549171K(786432K)", b"oncurrent", b"\n"]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(PIECES) | st.binary(max_size=3), max_size=14).map(b"".join))
def test_the_cut_is_the_patterns(text: bytes) -> None:
    assert _cut_concurrent(text) == WHOLE.sub(b"", text)


def test_a_phase_inside_a_full_gc_is_cut_with_its_stamps() -> None:
    rec = (b"40321.479: [GC 40321.479: [ParNew (promotion failed): 235968K->235968K(235968K), 2.6617101 secs]40324.141: "
           b"[CMS2010-04-21T05:55:34.183+0100: 40324.728: [CMS-concurrent-abortable-preclean: 0.430/3.259 secs] "
           b"[Times: user=4.02 sys=0.69, real=3.25 secs] (concurrent mode failure): 654882K->549171K(786432K), 5.73 secs]")
    assert _cut_concurrent(rec) == (b"40321.479: [GC 40321.479: [ParNew (promotion failed): 235968K->235968K(235968K), "
                                    b"2.6617101 secs]40324.141: [CMS (concurrent mode failure): 654882K->549171K(786432K), 5.73 secs]")
