"""Statistics and findings of a GC log: pure functions of the accumulator."""

from __future__ import annotations

import math
from typing import Any

from runbook.catalog import make
from runbook.findings import Finding, sort_findings
from runbook.jvm.gclog.stats import MB, Acc

LONG_PAUSE_MS = 1000.0
LOW_THROUGHPUT = 95.0

ADVICE_EXPLICIT = {
    "G1": "Add -XX:+ExplicitGCInvokesConcurrent (a concurrent cycle instead of a full GC), or -XX:+DisableExplicitGC.",
    "CMS": "Add -XX:+ExplicitGCInvokesConcurrent (and -XX:+CMSClassUnloadingEnabled), or -XX:+DisableExplicitGC.",
    "Parallel": "Parallel has no concurrent mode: add -XX:+DisableExplicitGC, or find and remove the caller.",
    "Serial": "Add -XX:+DisableExplicitGC, or find and remove the caller.",
    "Shenandoah": "Shenandoah runs System.gc() concurrently by default; if these are full pauses, check -XX:+ExplicitGCInvokesConcurrent.",
    "ZGC": "ZGC runs System.gc() as a normal concurrent cycle; find the caller if these are frequent.",
}
ADVICE_FULL = {
    "G1": "G1 full GCs mean it could not reclaim fast enough: lower -XX:InitiatingHeapOccupancyPercent, raise -XX:ConcGCThreads, or enlarge the heap.",
    "CMS": "Start CMS cycles earlier (-XX:CMSInitiatingOccupancyFraction=70 -XX:+UseCMSInitiatingOccupancyOnly) or enlarge the old generation.",
    "Parallel": "Parallel full GCs are its old-generation collections: if they are frequent, enlarge the old generation (-Xmx, -XX:NewRatio).",
    "Serial": "Enlarge the heap, or move to G1 or Parallel for a heap this busy.",
    "Shenandoah": "A Shenandoah full GC follows degenerated cycles: enlarge the heap or start cycles earlier.",
}


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    k = (len(sorted_values) - 1) * p
    lo = math.floor(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def pause_stats(values: Any, presorted: bool = False) -> dict[str, float]:
    v = values if presorted else sorted(values)
    n = len(v)
    total = float(sum(v))
    return {
        "count": n,
        "total_ms": round(total, 3),
        "mean_ms": round(total / n, 3) if n else 0.0,
        "p50_ms": round(percentile(v, 0.50), 3),
        "p90_ms": round(percentile(v, 0.90), 3),
        "p99_ms": round(percentile(v, 0.99), 3),
        "max_ms": round(v[-1], 3) if n else 0.0,
    }


def _slope(ts: Any, ys: Any) -> tuple[float, float]:
    """Least-squares slope (units per second) and R^2."""
    n = len(ts)
    if n < 3:
        return 0.0, 0.0
    mt = sum(ts) / n
    my = sum(ys) / n
    sxx = sum((t - mt) ** 2 for t in ts)
    syy = sum((y - my) ** 2 for y in ys)
    sxy = sum((t - mt) * (y - my) for t, y in zip(ts, ys))
    if sxx == 0 or syy == 0:
        return 0.0, 0.0
    b = sxy / sxx
    return b, (sxy * sxy) / (sxx * syy)


def _floor_series(ts: Any, ys: Any, buckets: int = 20) -> tuple[list[float], list[float]]:
    """The lowest heap-after-GC in each stretch of time: the live set, without the young garbage."""
    if len(ts) < buckets:
        return list(ts), list(ys)
    t0, t1 = ts[0], ts[-1]
    if t1 <= t0:
        return list(ts), list(ys)
    width = (t1 - t0) / buckets
    low: dict[int, tuple[float, float]] = {}
    for t, y in zip(ts, ys):
        b = min(int((t - t0) / width), buckets - 1)
        if b not in low or y < low[b][1]:
            low[b] = (t, y)
    pts = [low[k] for k in sorted(low)]
    return [p[0] for p in pts], [p[1] for p in pts]


def analyze(acc: Acc, *, long_pause_ms: float = LONG_PAUSE_MS) -> dict[str, Any]:
    duration = acc.duration_s
    import heapq

    by_kind = {k: sorted(v) for k, v in sorted(acc.pause_kinds.items())}
    if sum(len(v) for v in by_kind.values()) == len(acc.pause_ms):
        pauses = pause_stats(list(heapq.merge(*by_kind.values())), presorted=True)  # one sort per kind, no more
    else:
        pauses = pause_stats(acc.pause_ms)
    total_pause_s = pauses["total_ms"] / 1000.0
    if duration > 0 and pauses["count"] and duration >= total_pause_s * 0.5:
        throughput = max(0.0, 100.0 * (1.0 - total_pause_s / (duration + pauses["max_ms"] / 1000.0)))
    else:
        throughput = None
    full_count = len(acc.full_times)
    full_ts = [t for t in acc.full_times if not math.isnan(t)]
    intervals = [b - a for a, b in zip(full_ts, full_ts[1:]) if b >= a]
    result: dict[str, Any] = {
        "collector": acc.collector,
        "format": acc.format,
        "jdk": acc.jdk,
        "files": acc.files,
        "duration_s": round(duration, 3),
        "restarts": acc.restarts,
        "pauses": pauses,
        "pauses_by_kind": {k: pause_stats(v, presorted=True) for k, v in by_kind.items()},
        "throughput_pct": round(throughput, 3) if throughput is not None else None,
        "allocation_rate_mb_s": round(acc.allocated / MB / duration, 3) if duration > 0 else None,
        "promotion_rate_mb_s": round(acc.promoted / MB / duration, 3) if duration > 0 and acc.promotion_known else None,
        "full_gcs": full_count,
        "full_gc_interval_s": round(sum(intervals) / len(intervals), 3) if intervals else None,
        "stopped_ms": round(acc.stopped_ms, 3) if acc.stopped_count else None,
        "gc_pause_ms": pauses["total_ms"],
        "concurrent_phases": acc.concurrent_count,
        "max_heap_mb": round(acc.max_heap / MB, 1) if acc.max_heap else None,
        "events": {k: c.count for k, c in sorted(acc.flags.items())},
        "unparsed_lines": acc.unparsed,
        "unparsed_samples": acc.unparsed_samples,
        "lines": acc.lines,
        "bytes": acc.bytes,
    }
    result["findings"] = [f.to_dict() for f in sort_findings(findings(acc, result, long_pause_ms))]
    result["series"] = {"t": list(acc.series_t), "pause_ms": list(acc.series_ms)}
    return result


def _ev(acc: Acc, name: str, **extra: Any) -> dict[str, Any]:
    c = acc.flags[name]
    ev: dict[str, Any] = {"count": c.count}
    if c.first_t is not None:
        ev["first_s"] = round(c.first_t, 3)
        ev["last_s"] = round(c.last_t or c.first_t, 3)
    if c.samples:
        ev["sample_lines"] = c.samples
    ev.update(extra)
    return ev


def findings(acc: Acc, r: dict[str, Any], long_pause_ms: float) -> list[Finding]:
    out: list[Finding] = []
    coll = acc.collector or ""
    f = acc.flags
    if "explicit" in f:
        out.append(make("gc.explicit", _ev(acc, "explicit"), action=ADVICE_EXPLICIT.get(coll) or None))
    if r["full_gcs"]:
        explicit = f["explicit"].count if "explicit" in f else 0
        ev = {"count": r["full_gcs"], "from_system_gc": explicit, "mean_interval_s": r["full_gc_interval_s"],
              "pause_ms": r["pauses_by_kind"].get("Full", {}).get("max_ms")}
        if r["full_gcs"] > explicit or not explicit:
            often = r["full_gc_interval_s"] is not None and r["full_gc_interval_s"] < 60 and r["full_gcs"] >= 5
            out.append(make("gc.full", ev, escalated=often, action=ADVICE_FULL.get(coll) or None))
    if "concurrent_mode_failure" in f:
        out.append(make("gc.cms.concurrent_mode_failure", _ev(acc, "concurrent_mode_failure")))
    if "promotion_failed" in f:
        out.append(make("gc.promotion_failed", _ev(acc, "promotion_failed")))
    if "evacuation_failure" in f:
        out.append(make("gc.g1.evacuation_failure", _ev(acc, "evacuation_failure")))
    if "humongous" in f:
        out.append(make("gc.g1.humongous", _ev(acc, "humongous")))
    if "metaspace" in f:
        out.append(make("gc.metaspace", _ev(acc, "metaspace")))
    if "allocation_stall" in f:
        out.append(make("gc.zgc.allocation_stall", _ev(acc, "allocation_stall", total_stall_ms=round(acc.stall_ms, 3))))
    if "degenerated" in f:
        out.append(make("gc.shenandoah.degenerated", _ev(acc, "degenerated")))
    p = r["pauses"]
    if p["count"] and p["max_ms"] >= long_pause_ms:
        long = sum(1 for v in acc.pause_ms if v >= long_pause_ms)
        worst = max(r["pauses_by_kind"].items(), key=lambda kv: kv[1]["max_ms"])
        out.append(make("gc.pause.long", {"threshold_ms": long_pause_ms, "count": long, "max_ms": p["max_ms"],
                                          "longest_kind": worst[0], "p99_ms": p["p99_ms"]},
                        escalated=p["max_ms"] >= 5 * long_pause_ms))
    tp = r["throughput_pct"]
    if tp is not None and tp < LOW_THROUGHPUT and r["duration_s"] >= 10:
        out.append(make("gc.throughput.low", {"throughput_pct": round(tp, 2), "gc_pause_s": round(p["total_ms"] / 1000, 3),
                                              "duration_s": r["duration_s"]},
                        escalated=tp < 80))
    # heap: live set rising (leak) and heap too small (still full after full GCs)
    full_after = [a for a in acc.full_after if not math.isnan(a)]
    full_total = [t for t in acc.full_total if not math.isnan(t)]
    heap_max = acc.max_heap or (max(full_total) if full_total else None)
    if len(full_after) >= 3 and heap_max:
        ratios = [a / t for a, t in zip(full_after, full_total) if t]
        high = [x for x in ratios if x >= 0.8]
        if ratios and len(high) >= max(3, len(ratios) // 2):
            out.append(make("gc.heap.too_small", {"full_gcs": len(full_after), "full_gcs_leaving_heap_80pct_full": len(high),
                                                  "median_after_full_pct": round(100 * sorted(ratios)[len(ratios) // 2], 1),
                                                  "heap_mb": round(heap_max / MB, 1)}))
    if len(acc.after_t) >= 20 and heap_max and acc.restarts == 0:
        ts, ys = _floor_series(acc.after_t, acc.after_b)
        slope, r2 = _slope(ts, ys)
        span = (ts[-1] - ts[0]) if ts else 0
        growth = slope * span
        if slope > 0 and r2 >= 0.7 and span >= 300 and growth >= 0.2 * heap_max:
            out.append(make("gc.heap.leak", {"live_set_growth_mb_per_hour": round(slope * 3600 / MB, 2),
                                             "fit_r2": round(r2, 3), "over_s": round(span, 1),
                                             "live_set_start_mb": round(ys[0] / MB, 1), "live_set_end_mb": round(ys[-1] / MB, 1),
                                             "heap_mb": round(heap_max / MB, 1)}))
    # premature promotion: young collections tenure nearly everything that survives them (survivor spaces
    # do not age it), and full collections then find most of the old generation dead
    explicit_n = f["explicit"].count if "explicit" in f else 0
    if acc.young_promoted and acc.old_full_before and acc.old_full_count - explicit_n >= 3:
        tenured_share = acc.young_promoted / (acc.young_promoted + acc.young_survived)
        reclaimed = 1 - acc.old_full_after / acc.old_full_before
        if tenured_share >= 0.7 and reclaimed >= 0.3:
            out.append(make("gc.premature_promotion", {
                "promoted_share_of_survivors_pct": round(100 * tenured_share, 1),
                "old_gen_reclaimed_by_full_gcs_pct": round(100 * reclaimed, 1),
                "full_gcs": acc.old_full_count, "promotion_rate_mb_s": r["promotion_rate_mb_s"]}))
    if acc.cpu_events and acc.sys_gt_user >= max(3, acc.cpu_events // 20):
        out.append(make("gc.sys_time_high", {"events_sys_above_user": acc.sys_gt_user, "events_with_times": acc.cpu_events,
                                             "sample_lines": acc.sys_samples}))
    if acc.stopped_count:
        gc_ms = p["total_ms"]
        extra = acc.stopped_ms - gc_ms
        if (extra > 0.1 * max(gc_ms, 1) and extra > 1000) or acc.ttsp_max_ms >= 100:
            out.append(make("gc.safepoint.long", {"stopped_ms": round(acc.stopped_ms, 1), "gc_pause_ms": round(gc_ms, 1),
                                                  "stopped_outside_gc_ms": round(max(extra, 0), 1),
                                                  "max_time_to_safepoint_ms": round(acc.ttsp_max_ms, 3),
                                                  "max_stop_ms": round(acc.stopped_max_ms, 3)}))
    if acc.unparsed:
        out.append(make("gc.log.unparsed", {"lines": acc.unparsed, "samples": acc.unparsed_samples}))
    return out
