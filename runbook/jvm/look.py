"""`runbook jvm check`: the one look at live JVMs, with what the playbooks' read-only probes of a JVM read
(runbook.jvm.live for the JVM itself, runbook.jvm.threads for its threads)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from runbook.findings import Finding, sort_findings
from runbook.jvm.live import (JvmError, assess, assess_diagnostics, dump_summary, java_processes, java_processes_over,
                              read_local, read_over, read_remote, thread_dump)

LOOK_S = 0.3  # the threads' CPU is sampled over this long, before the look's own reads load the machine


def look_local(pid: int, timeout: float) -> dict[str, Any]:
    """`jvm check` of a JVM on this machine: read_local, with what jvm.threads and jvm.thread_dump read
    in a playbook: each thread's CPU over LOOK_S (a hot thread, by name and frames) and a thread dump
    (deadlocks), which runs beside the look's jstat. The sample comes first: jstat and jcmd are JVMs of
    their own, and on a small machine they would take the CPU a hot thread is using.
    (jvm.memory's two samples seconds apart stay the playbooks'.)"""
    from concurrent.futures import ThreadPoolExecutor

    from runbook.access import LOCAL
    from runbook.jvm import threads

    sample: tuple[Any, ...] | str
    try:
        before = threads._ticks(pid, LOCAL)[0]
        t0 = time.monotonic()
        time.sleep(LOOK_S)
        after, comms = threads._ticks(pid, LOCAL)
        sample = (before, after, comms, time.monotonic() - t0)
    except ValueError as e:
        sample = str(e)
    with ThreadPoolExecutor(1) as pool:
        dumping = pool.submit(thread_dump, pid, max(timeout, 10))
        facts = read_local(pid, timeout)
        try:
            text: str | None = dumping.result()
        except JvmError as e:
            text = None
            facts["thread_dump_error"] = str(e)
    if not facts.get("reachable"):
        return facts
    if text is not None:
        facts["thread_dump"] = dump_summary(text)
    if isinstance(sample, tuple):  # named from the dump taken just after
        facts["threads"] = threads.facts_of(pid, *sample, text, LOCAL, {})
    else:
        facts["threads_error"] = sample
    return facts


def assess_look(facts: dict[str, Any]) -> list[Finding]:
    """Every finding of `jvm check`: the JVM's own, a deadlock in its thread dump, a hot thread."""
    from runbook.jvm import threads

    out = assess(facts)
    if facts.get("reachable"):
        out += assess_diagnostics(facts.get("thread_dump") or {})
        if facts.get("threads"):
            out += threads.assess(facts["threads"])
    return sort_findings(out)


def cli_check(args: Any) -> int:
    from runbook.findings import exit_code
    from runbook.text import printable as p

    from runbook.access import AccessError, ssh

    acc = None
    if getattr(args, "ssh", None):
        try:
            acc = ssh(args.ssh, tuple(args.ssh_option or ()))
        except ValueError as e:
            sys.stderr.write(f"runbook: {e}\n")
            return 3
    targets: list[Any] = []
    if args.pid:
        if args.pid.startswith(("http://", "https://")):
            targets = [args.pid]
        elif args.pid.isdigit():
            targets = [int(args.pid)]
        else:
            sys.stderr.write(f"runbook: {args.pid!r} is neither a PID nor an http(s) URL\n")
            return 3
    else:
        try:
            targets = java_processes_over(acc, args.timeout * 3) if acc else java_processes()
        except AccessError as e:
            sys.stderr.write(f"runbook: {e}\n")
            return 3
        if not targets:
            sys.stderr.write(f"runbook: no java process on {acc.name if acc else 'this machine'}\n")
            return 3
    reports = []
    codes = []
    for t in targets:
        if isinstance(t, int):
            facts = read_over(acc, t, args.timeout * 3) if acc else look_local(t, args.timeout)
        else:
            facts = read_remote(t, args.timeout)
        findings = assess_look(facts)
        code = 3 if not facts.get("reachable") else exit_code(findings)
        codes.append(code)
        reports.append({"target": facts.get("pid") or facts.get("url"), "facts": facts,
                        "findings": [f.to_dict() for f in findings]})
    if args.json:
        sys.stdout.write(json.dumps(reports, indent=2, default=str) + "\n")
    else:
        for r in reports:
            f = r["facts"]
            sys.stdout.write(f"{p(r['target'])}  {p(f.get('main') or f.get('source') or '')}\n")
            if not f.get("reachable"):
                sys.stdout.write(f"  could not read: {p(f.get('error'))}\n")
                continue
            if "xmx_bytes" in f:
                xmx = f"{f['xmx_bytes'] // 1048576} MB" if f.get("xmx_bytes") else "default"
                sys.stdout.write(f"  collector {p(f.get('collector'))}, -Xmx {xmx}, GC log {p(f.get('gc_log_path') or 'none')}"
                                 f" (rotation {'on' if f.get('gc_log_rotation') else 'off'})\n")
            if f.get("jstat"):
                js = f["jstat"]
                sys.stdout.write(f"  jstat: eden {js.get('E')}%  old {js.get('O')}%  young GCs {js.get('YGC')}  full GCs {js.get('FGC')}"
                                 f"  GC time {js.get('GCT')} s\n")
            if f.get("collectors"):
                for name, v in f["collectors"].items():
                    sys.stdout.write(f"  {p(name)}: {v['count']} collections, {v['time_ms']} ms\n")
            if f.get("source") == "actuator":
                sys.stdout.write(f"  GC pauses: {f.get('gc_pause_count')} totalling {f.get('gc_pause_total_s')} s, max {f.get('gc_pause_max_s')} s\n")
            for fd in r["findings"]:
                sys.stdout.write(f"  {fd['severity'].upper():8} {fd['id']}: {p(fd['title'])}\n")
                for k, v in fd["evidence"].items():
                    sys.stdout.write(f"           {p(k)}: {p(v)}\n")
                sys.stdout.write(f"           do:  {p(fd['action'])}\n")
    order = {2: 4, 3: 3, 1: 2, 0: 1}
    return max(codes, key=lambda c: order[c])
