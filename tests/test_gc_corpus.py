"""Every log of ../shared/corpus/gc is read without an exception, with the right collector, format and problems."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from conftest import SHARED, runbook
from runbook.jvm.gclog.analyze import analyze
from runbook.jvm.gclog.read import GcLogError, order_rotation, read_logs

CORPUS = SHARED / "corpus" / "gc"
TK = CORPUS / "gctoolkit-testdata"
GV = CORPUS / "gcviewer"
GC = CORPUS / "garbagecat"

# file -> (collector, format, finding ids that must be there, {event: count} that must match)
EXPECTED = {
    TK / "gclogs__preunified__cms__parnew__details__1073_1.log": ("CMS", "legacy", {"gc.cms.concurrent_mode_failure", "gc.promotion_failed"}, {"concurrent_mode_failure": 90, "promotion_failed": 20}),
    TK / "gclogs__streaming__gcspike.log": ("G1", "legacy", {"gc.g1.evacuation_failure", "gc.g1.humongous"}, {"evacuation_failure": 53}),
    TK / "gclogs__preunified__g1gc__details__solaris__rightmove_parse_errors.log": ("G1", "legacy", {"gc.g1.humongous", "gc.sys_time_high"}, {}),
    TK / "gclogs__preunified__ps__details__gccause__180__ps.negative.recovery80.log": ("Parallel", "legacy", {"gc.full"}, {}),
    TK / "gclogs__preunified__ps__details__premature2.log": ("Parallel", "legacy", {"gc.premature_promotion"}, {}),
    TK / "gclogs__preunified__ps__details__memoryleak1.log": ("Parallel", "legacy", {"gc.heap.leak"}, {}),
    TK / "gclogs__preunified__ps__details__long_pause.log": ("Parallel", "legacy", {"gc.pause.long"}, {}),
    TK / "gclogs__preunified__g1gc__corrupted__full_concurrent_mark_failure.log": ("G1", "legacy", {"gc.full"}, {}),
    TK / "gclogs__unified__g1gc__jdk11_details.log.zip": ("G1", "unified", {"gc.g1.evacuation_failure", "gc.full"}, {"evacuation_failure": 122}),
    TK / "gclogs-rolling__rolling__jdk8__bbvc.log.32.current": ("Parallel", "legacy", {"gc.full"}, {}),
    TK / "gclogs__unified__cms__gc.log": ("CMS", "unified", set(), {}),
    TK / "gclogs__unified__parallel__parallelgc.log": ("Parallel", "unified", {"gc.full"}, {}),
    TK / "gclogs__unified__serial__factorization-serialgc-tip.log": ("Serial", "unified", {"gc.explicit"}, {}),
    TK / "gclogs__unified__g1gc__minimal.log": ("G1", "unified", set(), {}),
    TK / "gclogs__unified__g1gc__gc-no-age-timestamp.log": ("G1", "unified", set(), {}),
    TK / "shenandoah-logs__shenandoah__shenandoah.log.0": ("Shenandoah", "unified", set(), {}),
    TK / "shenandoah-logs__shenandoah__shenandoah.log.2": ("Shenandoah", "unified", {"gc.shenandoah.degenerated"}, {"degenerated": 5}),
    TK / "gclogs__preunified__cms__parnew__details__tenuring__BF653AA1-F897-4279-9570-2E4837D311E8-1405428823225.log.gz": ("CMS", "legacy", set(), {}),
    TK / "gclogs__preunified__icms__details__par.icms.wd.nt.log": ("CMS", "legacy", set(), {}),
    TK / "gclogs__preunified__serial__defnew__details__tenuring__180__serial180.log": ("Serial", "legacy", {"gc.explicit"}, {}),
    TK / "gclogs__preunified__cms__defnew__details__defnew.log": ("CMS", "legacy", set(), {}),
    TK / "gclogs__streaming__gc.log.gz": ("Parallel", "legacy", set(), {}),
    GV / "sample-ujl-zgc-gc-other.txt": ("ZGC", "unified", {"gc.zgc.allocation_stall"}, {"allocation_stall": 7}),
    GV / "sample-ujl-zgc-gc-all.txt": ("ZGC", "unified", set(), {}),
    GV / "SampleOpenJdk1_8_0-332.txt": ("Shenandoah", "legacy", {"gc.shenandoah.degenerated"}, {}),
    GV / "SampleShenandoahSeveralSystemGC.txt": ("Shenandoah", "unified", {"gc.explicit"}, {"explicit": 438}),
    GV / "Sample-ujl-shenandoah-jdk11-PauseDegeneratedGc.txt": ("Shenandoah", "unified", {"gc.shenandoah.degenerated"}, {}),
    GV / "Sample-ujl-shenandoah-jdk17.txt": ("Shenandoah", "unified", set(), {}),
    GV / "SampleSun1_8_0CMS_HeadDumpBeforeFullGc.txt": ("CMS", "legacy", {"gc.cms.concurrent_mode_failure"}, {}),
    GV / "sample-ujl-g1-gc-all_safepoint_os_cpu-to-space-exhausted.txt": ("G1", "unified", {"gc.g1.evacuation_failure"}, {}),
    GV / "sample-ujl-cms-gc-all_safepoint_os_cpu.txt": ("CMS", "unified", set(), {}),
    GV / "sample-ujl-jdk17-full-concurrent-cycle-g1-gc-all-safepont_os-cpu.txt": ("G1", "unified", set(), {}),
    GC / "dataset243.txt": ("ZGC", "unified", set(), {}),
    GC / "dataset278.txt": ("ZGC", "unified", set(), {}),
    GC / "dataset232.txt": ("G1", "unified", {"gc.g1.humongous"}, {}),
    GC / "dataset91.txt": ("CMS", "legacy", {"gc.cms.concurrent_mode_failure"}, {}),
    GC / "dataset69.txt": ("CMS", "legacy", {"gc.cms.concurrent_mode_failure"}, {}),
    GC / "dataset70.txt": ("CMS", "legacy", {"gc.cms.concurrent_mode_failure"}, {}),
}

pytestmark = pytest.mark.skipif(not CORPUS.exists(), reason="../shared/corpus/gc is not beside the project")


def _all_files() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*/*") if p.name not in ("LICENSE", "SOURCES.md"))


@pytest.mark.parametrize("path", _all_files(), ids=lambda p: p.name[-60:])
def test_every_corpus_log_reads_without_an_exception(path: Path) -> None:
    try:
        r = analyze(read_logs([str(path)], workers=1))
    except GcLogError as e:
        # the deliberately broken logs and the header-only log: a clear message naming the file
        assert str(path) in str(e)
        return
    assert r["format"] in ("unified", "legacy")
    for f in r["findings"]:
        assert set(f) == {"id", "severity", "title", "evidence", "why", "action"}
    expected = EXPECTED.get(path)
    if expected:
        collector, fmt, ids, events = expected
        assert r["collector"] == collector
        assert r["format"] == fmt
        assert ids <= {f["id"] for f in r["findings"]}, [f["id"] for f in r["findings"]]
        for name, count in events.items():
            assert r["events"].get(name) == count, (name, r["events"])


def test_expected_files_exist() -> None:
    assert all(p.exists() for p in EXPECTED), [p for p in EXPECTED if not p.exists()]


def test_json_contract_through_the_command() -> None:
    r = runbook("gc", "analyze", "--json", str(TK / "gclogs__preunified__ps__details__gccause__180__ps.negative.recovery80.log"))
    assert r.returncode == 2, r.stderr
    d = json.loads(r.stdout)
    for key in ("collector", "format", "jdk", "duration_s", "pauses", "throughput_pct", "allocation_rate_mb_s",
                "promotion_rate_mb_s", "full_gcs", "findings", "unparsed_lines"):
        assert key in d
    assert set(d["pauses"]) == {"count", "total_ms", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms"}
    assert d["full_gcs"] == 1940 and d["jdk"] == "8"
    assert d["pauses"]["p50_ms"] <= d["pauses"]["p90_ms"] <= d["pauses"]["p99_ms"] <= d["pauses"]["max_ms"]


def test_rotation_set_is_one_timeline_with_restarts() -> None:
    files = [str(TK / f"gclogs-rolling__rolling__jdk14__rollinglogs__short_restart_4.log{s}") for s in ("", ".1", ".2", ".3")]
    assert order_rotation(list(reversed(files))) == files[1:] + files[:1]
    r = analyze(read_logs(files))
    one = [analyze(read_logs([f])) for f in files]
    assert r["pauses"]["count"] == sum(x["pauses"]["count"] for x in one)
    assert r["restarts"] == 3 and r["collector"] == "G1"
    assert "gc.explicit" in {f["id"] for f in r["findings"]}


def test_jdk8_rotation_names_order() -> None:
    names = ["gc.log.2", "gc.log.10", "gc.log.0", "gc.log.3.current", "gc.log.1.gz"]
    assert order_rotation(names) == ["gc.log.0", "gc.log.1.gz", "gc.log.2", "gc.log.3.current", "gc.log.10"]


def test_gz_and_zip_read_like_the_plain_file(tmp_path) -> None:
    src = TK / "gclogs__preunified__cms__parnew__details__1073_1.log"
    gz = tmp_path / "gc.log.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    import zipfile

    zp = tmp_path / "gc.zip"
    with zipfile.ZipFile(zp, "w") as z:
        z.write(src, "gc.log")
    plain, a, b = (analyze(read_logs([str(p)])) for p in (src, gz, zp))
    for r in (a, b):
        assert r["pauses"] == plain["pauses"] and r["events"] == plain["events"]


def test_restart_inside_one_file_is_detected(tmp_path) -> None:
    src = (TK / "gclogs__unified__g1gc__minimal.log").read_bytes()
    twice = tmp_path / "gc.log"
    twice.write_bytes(src + src)
    once = analyze(read_logs([str(TK / "gclogs__unified__g1gc__minimal.log")]))
    r = analyze(read_logs([str(twice)]))
    assert r["restarts"] == 1
    assert r["pauses"]["count"] == 2 * once["pauses"]["count"]
    assert abs(r["duration_s"] - 2 * once["duration_s"]) < 1e-6


def test_big_file_read_by_processes_matches_one_process(tmp_path) -> None:
    src = (TK / "gclogs__preunified__cms__parnew__details__1073_1.log").read_bytes()
    big = tmp_path / "big.log"
    big.write_bytes(src * 40)  # ~30 MB: split across processes
    par = analyze(read_logs([str(big)]))
    one = analyze(read_logs([str(big)], workers=1))
    for key in ("pauses", "full_gcs", "events", "restarts", "duration_s"):
        assert par[key] == one[key], key


def test_compare_puts_runs_side_by_side() -> None:
    a = TK / "gclogs__unified__parallel__parallelgc.log"
    b = TK / "gclogs__unified__g1gc__minimal.log"
    r = runbook("gc", "compare", f"parallel={a}", f"g1={b}")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "parallel" in lines[0] and "g1" in lines[0]
    assert any(line.startswith("collector") and "Parallel" in line and "G1" in line for line in lines)
    assert any(line.startswith("throughput %") for line in lines)


@pytest.mark.parametrize("content, needle", [
    (b"", "empty"),
    (bytes(range(256)) * 100, "binary"),
    (b"# runbook\n\nThis is a README, not a GC log.\n" * 50, "not a GC log"),
])
def test_bad_files_give_a_clear_message_and_exit_3(tmp_path, content, needle) -> None:
    p = tmp_path / "gc.log"
    p.write_bytes(content)
    r = runbook("gc", "analyze", str(p))
    assert r.returncode == 3 and needle in r.stderr and "Traceback" not in r.stderr


def test_missing_file_directory_and_bad_archives(tmp_path) -> None:
    assert "no such file" in runbook("gc", "analyze", str(tmp_path / "nope.log")).stderr
    assert "directory" in runbook("gc", "analyze", str(tmp_path)).stderr
    bad = tmp_path / "gc.log.gz"
    bad.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    r = runbook("gc", "analyze", str(bad))
    assert r.returncode == 3 and "cannot read" in r.stderr and "Traceback" not in r.stderr


def test_truncated_log_is_read_up_to_the_cut(tmp_path) -> None:
    src = (TK / "gclogs__unified__g1gc__minimal.log").read_bytes()
    cut = tmp_path / "gc.log"
    cut.write_bytes(src[: len(src) // 2 + 17])  # cut in the middle of a line
    r = runbook("gc", "analyze", "--json", str(cut))
    assert r.returncode in (0, 1, 2), r.stderr
    assert json.loads(r.stdout)["pauses"]["count"] > 0


def test_header_only_log_names_its_collector() -> None:
    r = runbook("gc", "analyze", "--json", str(TK / "gclogs__preunified__ps__empty.log"))
    assert r.returncode == 3 and "no GC events" in r.stderr
    assert json.loads(r.stdout)["collector"] == "Parallel"


def _gctk(name: str) -> Path:
    return CORPUS / "gctoolkit-testdata" / name


def test_pauses_that_are_not_gc_work_are_named() -> None:
    from runbook.jvm.gclog.analyze import analyze
    from runbook.jvm.gclog.read import read_logs

    for name, worst in (("gclogs__preunified__ps__details__long_pause.log", 22.0),
                        ("gclogs__preunified__ps__details__premature2.log", 400.0)):
        r = analyze(read_logs([str(_gctk(name))]))
        f = {x["id"]: x for x in r["findings"]}["gc.pause.not_cpu"]
        assert f["evidence"]["worst_real_s"] >= worst and f["evidence"]["worst_user_plus_sys_s"] < worst / 2


def test_a_death_spiral_and_clustered_full_gcs_are_named() -> None:
    from runbook.jvm.gclog.analyze import analyze
    from runbook.jvm.gclog.read import read_logs

    r = analyze(read_logs([str(_gctk("gclogs__preunified__g1gc__details__reference__post17040__gc_with_overflow.log"))]))
    f = {x["id"]: x for x in r["findings"]}
    assert f["gc.heap.exhausted"]["evidence"]["live_set_pct_of_heap"] >= 95
    # the whole-log headline hides the worst minute: the worst window says it
    assert r["throughput_pct"] > 99 and r["worst_window"]["throughput_pct"] < 10
    assert "worst_window" in f["gc.throughput.low"]["evidence"]
    r = analyze(read_logs([str(_gctk("gclogs__preunified__cms__parnew__details__1073_1.log"))]))
    # its last full GCs leave the old generation full (786431K->786431K(786432K)) though the whole heap
    # is only about 77% full after them: nothing can be promoted, every young collection escalates
    e = {x["id"]: x for x in r["findings"]}["gc.heap.exhausted"]["evidence"]
    assert e["full_gcs_in_a_row"] >= 9 and e["old_gen_pct_after"] >= 98 and e["at_end_of_log"]
    assert re.match(r"\d+ of \d+ within [\d.]+ minutes", r["full_gc_intervals"]["cluster"])


def test_young_collections_that_escalate_are_full_gcs() -> None:
    r = analyze(read_logs([str(_gctk("gclogs__preunified__cms__parnew__details__1073_1.log"))]))
    assert r["full_gcs"] == 118  # [ParNew (promotion failed): ...][CMS: ...] records included
    assert r["pauses_by_kind"]["Young"]["max_ms"] < 1000  # no 8-second "young" pauses any more
    r = analyze(read_logs([str(_gctk("gclogs__preunified__serial__defnew__details__tenuring__180__serial180.log"))]))
    assert r["full_gcs"] == 16  # [DefNew: ...][Tenured: ...]


def test_a_full_gc_interrupted_by_a_concurrent_phase_stays_a_full_gc() -> None:
    """"T: [Full GC" + "T: [GC concurrent-mark-start]" + "T: [SoftReference, ..." is one full GC."""
    r = analyze(read_logs([str(_gctk("gclogs__preunified__g1gc__details__reference__post17040__gc_with_overflow.log"))]))
    assert set(r["pauses_by_kind"]) == {"Full", "Young", "Remark", "GC cleanup"}
    assert r["full_gcs"] == 402 and r["pauses_by_kind"]["Full"]["max_ms"] > 4300


def test_a_zgc_cycle_counts_what_was_allocated_while_it_ran() -> None:
    """A ZGC cycle's own line gives the heap at Mark Start and at Relocate End; what the application allocated
    in between is in the heap table's Allocated row (generational: the young generation's). Each of these logs
    holds one cycle, so that row is all the rate has."""
    for path, row in ((GV / "sample-ujl-zgc-gc-other.txt", "GC(25) Allocated: "), (GC / "dataset278.txt", "GC(34) y: Allocated: ")):
        lines = [x for x in path.read_text().splitlines() if row in x]
        assert len(lines) == 1, path.name
        allocated = int(re.findall(r"(\d+)M \(\d+%\)", lines[0])[-1])  # its last column: Relocate End
        r = analyze(read_logs([str(path)]))
        assert r["collector"] == "ZGC" and allocated > 0
        assert r["allocation_rate_mb_s"] == pytest.approx(allocated / r["duration_s"], rel=1e-3), path.name
