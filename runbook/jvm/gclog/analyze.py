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


def _exhausted(acc: Acc, r: dict[str, Any]) -> dict[str, Any] | None:
    """Back-to-back full GCs that free almost nothing: the live set no longer fits the heap (the JVM is at,
    or near, OutOfMemoryError). Judged on the last run of full GCs in the log."""
    n = len(acc.full_after)
    if n < 2:
        return None
    heap = acc.max_heap or (max(x for x in acc.full_total if not math.isnan(x)) if any(
        not math.isnan(x) for x in acc.full_total) else None)
    if not heap:
        return None
    def near_full(i: int) -> bool:
        """It left the heap at least 80% full and freed under a tenth of it; or it left the old generation
        full (98%): nothing the young generation holds can be promoted, so the next collection is full again."""
        before, after, total = acc.full_before[i], acc.full_after[i], acc.full_total[i]
        if acc.full_old[i] >= 0.98:  # nan compares false
            return True
        cap = total if not math.isnan(total) and total else heap
        freed = (before - after) if not math.isnan(before) else 0.0
        return not math.isnan(after) and after >= 0.8 * cap and freed < 0.1 * cap

    end = n
    freed_at = None
    # a JVM that dies of OutOfMemoryError often logs one last full GC that frees everything (its threads
    # are gone): a run of near-full ones just before it is still the death
    if n >= 3 and not near_full(n - 1) and near_full(n - 2) and acc.full_times[n - 1] - acc.full_times[n - 2] < 2.0:
        end, freed_at = n - 1, acc.full_times[n - 1]
    run = 0
    while run < end and near_full(end - 1 - run):
        run += 1
    if run < 2:
        return None
    n = end
    start = acc.full_times[n - run]
    end_of_log = not acc.segments or (acc.full_times[-1] >= acc.segments[-1][1] - max(5.0, 0.05 * r["duration_s"]))
    live = acc.full_after[n - 1]
    old = [acc.full_old[i] for i in range(n - run, n) if not math.isnan(acc.full_old[i])]
    return {"full_gcs_in_a_row": run, **({"old_gen_pct_after": round(100 * min(old), 1)} if old else {}), "live_set_mb": round(live / MB, 1), "max_heap_mb": round(heap / MB, 1),
            "live_set_pct_of_heap": round(100 * live / heap, 1),
            "since_s": None if math.isnan(start) else round(start, 3), "at_end_of_log": end_of_log,
            "then_freed_at_s": None if freed_at is None or math.isnan(freed_at) else round(freed_at, 3)}


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


def _allocation_rate(acc: Acc, duration: float) -> float | None:
    """MB/s allocated: the heap's growth between one collection and the next. A unified log that begins with
    its JVM's start (its "Using" line, which a rotated file does not repeat) began with an empty heap, so
    what the heap held at the first collection was allocated over the log too: without it a short log's
    rate was a fraction of the truth. (A legacy log's header is printed again at the top of each rotated
    file: there the heap before the first record is not known to be new.)"""
    allocated, span = acc.allocated, duration
    if acc.jvm_start_t is not None and acc.first_before and acc.segments:
        allocated += acc.first_before
        span += max(0.0, acc.segments[0][0] - acc.jvm_start_t)
    return round(allocated / MB / span, 3) if span > 0 and duration > 0 else None


def analyze(acc: Acc, *, long_pause_ms: float = LONG_PAUSE_MS) -> dict[str, Any]:
    duration = acc.duration_s
    import heapq

    by_kind = {k: sorted(v) for k, v in sorted(acc.pause_kinds.items())}
    if sum(len(v) for v in by_kind.values()) == len(acc.pause_ms):
        pauses = pause_stats(list(heapq.merge(*by_kind.values())), presorted=True)  # one sort per kind, no more
    else:
        pauses = pause_stats(acc.pause_ms)
    stalled_ms = acc.stall_ms + acc.pacing_ms  # application threads stopped outside pauses
    total_pause_s = (pauses["total_ms"] + stalled_ms) / 1000.0
    if duration > 0 and pauses["count"] and duration >= pauses["total_ms"] / 1000.0 * 0.5:
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
        "allocation_rate_mb_s": _allocation_rate(acc, duration),
        "promotion_rate_mb_s": round(acc.promoted / MB / duration, 3) if duration > 0 and acc.promotion_known else None,
        "full_gcs": full_count,
        "full_gc_interval_s": round(sum(intervals) / len(intervals), 3) if intervals else None,
        "full_gc_intervals": _intervals(full_ts, intervals, duration),
        "stalled_ms": round(stalled_ms, 3),
        "worst_window": _worst_window(acc, duration),
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
    result["series"] = {"t": list(acc.series_t), "pause_ms": list(acc.series_ms),
                        "after_t": list(acc.after_t), "after_b": list(acc.after_b)}
    return result


def _intervals(ts: list[float], intervals: list[float], duration: float) -> dict[str, Any] | None:
    """Full-GC intervals as a distribution, and whether the full GCs cluster: "102 of 118 in the last
    25 minutes" says more than a mean."""
    if not intervals:
        return None
    s = sorted(intervals)
    out: dict[str, Any] = {"min_s": round(s[0], 3), "p50_s": round(percentile(s, 0.5), 3),
                           "p90_s": round(percentile(s, 0.9), 3), "max_s": round(s[-1], 3)}
    n = len(ts)
    if n >= 5 and duration > 0:
        k = max(2, int(n * 0.8 + 0.5))  # the shortest stretch that holds 80% of them
        best = min(range(n - k + 1), key=lambda i: ts[i + k - 1] - ts[i])
        span = ts[best + k - 1] - ts[best]
        if span < 0.5 * (ts[-1] - ts[0]):
            where = "at the end of the log" if best + k == n else f"from {ts[best]:,.0f} s"
            out["cluster"] = f"{k} of {n} within {_dur(span)}, {where}"
            out["cluster_start_s"] = round(ts[best], 3)
    return out


def _dur(s: float) -> str:
    return f"{s / 60:,.1f} minutes" if s >= 120 else f"{s:,.1f} s"


def _worst_window(acc: Acc, duration: float) -> dict[str, Any] | None:
    """The stretch of the log where applications ran least: throughput per minute (pauses and stalls)."""
    if not acc.windows or duration <= 0:
        return None
    from runbook.jvm.gclog.stats import WINDOW_S

    per = 6 if duration >= 120 else 1  # a minute of 10-s windows, or single windows on a short log
    keys = sorted(acc.windows)
    best_start, best_ms = keys[0], -1.0
    for k in keys:
        ms = sum(acc.windows.get(k + i, 0.0) for i in range(per))
        if ms > best_ms:
            best_start, best_ms = k, ms
    length = WINDOW_S * per
    return {"start_s": round(best_start * WINDOW_S, 1), "length_s": length,
            "throughput_pct": round(max(0.0, 100.0 * (1 - best_ms / 1000.0 / length)), 2)}


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
        iv = r["full_gc_intervals"] or {}
        ev = {"count": r["full_gcs"], "from_system_gc": explicit,
              "interval_s": f"p50 {iv['p50_s']:,.1f}, p90 {iv['p90_s']:,.1f}, min {iv['min_s']:,.1f}" if iv else None,
              "cluster": iv.get("cluster"), "pause_ms": r["pauses_by_kind"].get("Full", {}).get("max_ms")}
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
    worst = r["worst_window"] or {}
    wtp = worst.get("throughput_pct")
    # a short log is judged by how many times it stopped the application (pauses and stalls), not by its seconds
    enough = r["duration_s"] >= 10 or p["count"] + acc.stalls >= 50
    low = min(x for x in (tp, wtp if enough else None, 100.0) if x is not None)
    if enough and low < LOW_THROUGHPUT:
        ev = {"throughput_pct": round(tp, 2) if tp is not None else None, "gc_pause_s": round(p["total_ms"] / 1000, 3),
              "stalled_s": round(r["stalled_ms"] / 1000, 3) if r["stalled_ms"] else None,
              "duration_s": r["duration_s"], "collections": p["count"]}
        if wtp is not None and wtp < (tp or 100) - 5:
            ev["worst_window"] = f"{wtp:.1f}% over {worst['length_s']:.0f} s from {worst['start_s']:,.0f} s"
        out.append(make("gc.throughput.low", ev, escalated=low < 80))
    if "not_cpu" in f:
        real, cpu = acc.not_cpu_max
        out.append(make("gc.pause.not_cpu", _ev(acc, "not_cpu", worst_real_s=round(real, 3),
                                                worst_user_plus_sys_s=round(cpu, 3))))
    exhausted = _exhausted(acc, r)
    if exhausted:
        out.append(make("gc.heap.exhausted", exhausted))
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
