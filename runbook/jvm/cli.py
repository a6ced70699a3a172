"""`runbook gc analyze|compare` and `runbook jvm check`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def register(sub: Any) -> None:
    g = sub.add_parser("gc", help="GC logs: analyze, compare")
    gs = g.add_subparsers(dest="gc_cmd", metavar="analyze|compare", required=True)
    a = gs.add_parser("analyze", help="statistics and findings of one JVM's GC logs (a rotation set, .gz, .zip)")
    a.add_argument("files", nargs="+", metavar="FILE")
    a.add_argument("--json", action="store_true")
    a.add_argument("--pause-ms", type=float, default=1000.0, help="a pause at least this long is long (default 1000)")
    a.add_argument("--tui", action="store_true", help="open the report in the TUI, with pauses over time as a chart")
    a.set_defaults(fn=cmd_analyze)
    c = gs.add_parser("compare", help="several runs side by side (a collector-tuning benchmark)")
    c.add_argument("runs", nargs="+", metavar="RUN", help="a log file, or NAME=FILE[,FILE...] for a rotation set")
    c.add_argument("--json", action="store_true")
    c.set_defaults(fn=cmd_compare)
    j = sub.add_parser("jvm", help="live JVMs on this machine")
    js = j.add_subparsers(dest="jvm_cmd", metavar="check", required=True)
    jc = js.add_parser("check", help="read live JVMs: collector, heap, GC log and its rotation, heap dumps")
    jc.add_argument("pid", nargs="?", help="a PID, or http(s)://... (Jolokia or Spring Boot actuator)")
    jc.add_argument("--json", action="store_true")
    jc.add_argument("--timeout", type=float, default=3.0)
    jc.add_argument("--ssh", metavar="[USER@]HOST[:PORT]", help="the JVM's host, read over your own ssh with its jcmd and jstat")
    jc.add_argument("--ssh-option", action="append", default=[], metavar="KEY=VALUE", help="an ssh -o option (repeatable)")
    jc.set_defaults(fn=cmd_jvm_check)


def _progress() -> Any:
    if not sys.stderr.isatty():
        return None
    import time

    state = {"last": 0.0}

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if now - state["last"] < 0.1 and done < total:
            return
        state["last"] = now
        pct = 100 * done / total if total else 100
        bar = "#" * int(pct / 4)
        sys.stderr.write(f"\r  reading [{bar:<25}] {pct:5.1f}%  {done / 1048576:,.0f}/{total / 1048576:,.0f} MB")
        if done >= total:
            sys.stderr.write("\r" + " " * 70 + "\r")
        sys.stderr.flush()

    return show


def analyze_files(files: list[str], pause_ms: float = 1000.0) -> dict[str, Any]:
    from runbook.jvm.gclog.analyze import analyze
    from runbook.jvm.gclog.read import read_logs

    acc = read_logs(files, progress=_progress())
    return analyze(acc, long_pause_ms=pause_ms)


def cmd_analyze(args: argparse.Namespace) -> int:
    from runbook.findings import Finding, exit_code
    from runbook.jvm.gclog.read import GcLogError

    if args.tui:
        unreadable = [f for f in args.files if not os.access(f, os.R_OK) or os.path.isdir(f)]
        if unreadable:
            sys.stderr.write(f"runbook: cannot read {', '.join(unreadable)}\n")
            return 3
        from runbook.jvm.gclog.read import check_format

        try:  # what is not a GC log is said here, without a screen, as `gc analyze` says it
            for f in args.files:
                check_format(f)
        except GcLogError as e:
            sys.stderr.write(f"runbook: {e}\n")
            return 3
        return args.screens.gc_report(args.files)

    try:
        r = analyze_files(args.files, args.pause_ms)
    except GcLogError as e:
        sys.stderr.write(f"runbook: {e}\n")
        return 3
    if not r["pauses"]["count"] and not r["events"]:
        sys.stderr.write(f"runbook: {', '.join(args.files)}: no GC events found ({r['lines']} lines read"
                         f"{', ' + str(r['unparsed_lines']) + ' not understood' if r['unparsed_lines'] else ''})\n")
        if args.json:
            sys.stdout.write(json.dumps(_public(r), indent=2) + "\n")
        return 3
    if args.json:
        sys.stdout.write(json.dumps(_public(r), indent=2) + "\n")
    else:
        sys.stdout.write(render(r) + "\n")
    return exit_code([Finding.from_dict(f) for f in r["findings"]])


def _public(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k != "series"}


def render(r: dict[str, Any]) -> str:
    from runbook.text import human_value
    from runbook.text import printable as p

    def num(v: Any, unit: str = "") -> str:
        return "-" if v is None else f"{v:,.2f}{unit}" if isinstance(v, float) else f"{v}{unit}"

    lines = [f"{', '.join(p(f) for f in r['files'])}",
             f"  {r['collector'] or 'unknown collector'}, {r['format']} format" + (f", JDK {r['jdk']}" if r["jdk"] else "")
             + f", {num(r['duration_s'])} s of log" + (f", {r['restarts']} JVM restart(s)" if r["restarts"] else "")]
    ps = r["pauses"]
    lines.append(f"  pauses      {ps['count']:,} total {ps['total_ms'] / 1000:,.2f} s  mean {ps['mean_ms']:.1f} ms  "
                 f"p50 {ps['p50_ms']:.1f}  p90 {ps['p90_ms']:.1f}  p99 {ps['p99_ms']:.1f}  max {ps['max_ms']:.1f} ms")
    for kind, s in r["pauses_by_kind"].items():
        if not s["count"]:
            continue
        lines.append(f"    {kind:<22} {s['count']:>8,}  total {s['total_ms'] / 1000:>9,.2f} s  p99 {s['p99_ms']:>9.1f}  max {s['max_ms']:>9.1f} ms")
    lines.append(f"  throughput  {num(r['throughput_pct'], ' %')}   allocation {num(r['allocation_rate_mb_s'], ' MB/s')}"
                 f"   promotion {num(r['promotion_rate_mb_s'], ' MB/s')}")
    lines.append(f"  full GCs    {r['full_gcs']}" + (f" (every {r['full_gc_interval_s']:,.1f} s)" if r["full_gc_interval_s"] else "")
                 + (f"   stopped {r['stopped_ms'] / 1000:,.2f} s vs GC {r['gc_pause_ms'] / 1000:,.2f} s" if r["stopped_ms"] is not None else ""))
    for f in r["findings"]:
        lines.append(f"  {f['severity'].upper():8} {f['id']}: {p(f['title'])}")
        for k, v in f["evidence"].items():
            for n, line in enumerate(human_value(v).splitlines() or [""]):
                lines.append(f"           {p(k) + ':' if n == 0 else ' ' * (len(k) + 1)} {p(line)}")
        lines.append(f"           why: {p(f['why'])}")
        lines.append(f"           do:  {p(f['action'])}")
    if not r["findings"]:
        lines.append("  no findings")
    return "\n".join(lines)


def cmd_compare(args: argparse.Namespace) -> int:
    from runbook.jvm.gclog.read import GcLogError

    cols = []
    for run in args.runs:
        name, sep, files = run.partition("=")
        paths = files.split(",") if sep else [run]
        label = name if sep else os.path.basename(run)
        try:
            cols.append((label, analyze_files(paths)))
        except GcLogError as e:
            sys.stderr.write(f"runbook: {e}\n")
            return 3
    rows = [
        ("collector", lambda r: r["collector"] or "-"),
        ("duration s", lambda r: f"{r['duration_s']:,.1f}"),
        ("throughput %", lambda r: "-" if r["throughput_pct"] is None else f"{r['throughput_pct']:.2f}"),
        ("pauses", lambda r: f"{r['pauses']['count']:,}"),
        ("pause total s", lambda r: f"{r['pauses']['total_ms'] / 1000:,.2f}"),
        ("pause mean ms", lambda r: f"{r['pauses']['mean_ms']:.1f}"),
        ("pause p50 ms", lambda r: f"{r['pauses']['p50_ms']:.1f}"),
        ("pause p90 ms", lambda r: f"{r['pauses']['p90_ms']:.1f}"),
        ("pause p99 ms", lambda r: f"{r['pauses']['p99_ms']:.1f}"),
        ("pause max ms", lambda r: f"{r['pauses']['max_ms']:.1f}"),
        ("full GCs", lambda r: str(r["full_gcs"])),
        ("allocation MB/s", lambda r: "-" if r["allocation_rate_mb_s"] is None else f"{r['allocation_rate_mb_s']:,.1f}"),
        ("promotion MB/s", lambda r: "-" if r["promotion_rate_mb_s"] is None else f"{r['promotion_rate_mb_s']:,.1f}"),
        ("footprint MB", lambda r: "-" if r["max_heap_mb"] is None else f"{r['max_heap_mb']:,.0f}"),
        ("findings", lambda r: ", ".join(f["id"].removeprefix("gc.") for f in r["findings"] if f["severity"] != "info") or "-"),
    ]
    if args.json:
        sys.stdout.write(json.dumps({label: _public(r) for label, r in cols}, indent=2) + "\n")
        return 0
    width = max(12, *(len(label) for label, _ in cols))
    sys.stdout.write(f"{'':<16}" + "".join(f"{label[:width]:>{width + 2}}" for label, _ in cols) + "\n")
    for name, fn in rows:
        sys.stdout.write(f"{name:<16}" + "".join(f"{fn(r)[:width]:>{width + 2}}" for _, r in cols) + "\n")
    return 0


def cmd_jvm_check(args: argparse.Namespace) -> int:
    from runbook.jvm.look import cli_check

    return cli_check(args)
