"""An action runs in a runner of its own: a detached process (its own session, no terminal) that finishes
what it started even when runbook dies. A restart's stop and start are never left half done because the
engineer's terminal closed, Ctrl-C was pressed, or runbook was killed.

The runner records its progress in a file beside the session's journal (append-only JSON lines, fsynced):

    {"runner": PID, "created": EPOCH}   written by runbook as soon as the runner exists
    {"phase": "began"}                  written by the runner just before the action starts to act
    {"phase": "..."}                    the action's own progress (a restart: "stopped", "started")
    {"result": {...}}                   the action's result, masked

On resume, the record says what happened: a result (journal it, never run again), a runner still
running (wait for it), a runner that died after it began (lost: say so, never run again), or a runner
that never began (nothing was done: the step may run again, its guards read fresh).

The runner is given its instructions on stdin, never on its argv (a password is never visible in ps).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from runbook.jsonl import append as _append
from runbook.jsonl import read as read_record
from runbook.procs import still_running

_RECORD: Path | None = None  # in the runner: where progress() writes
_SECRETS: frozenset[str] = frozenset()  # in the runner: the target's secrets, masked in the record


def progress(phase: str, text: str) -> None:
    """An action says how far it got, in a word and in a sentence for the screen (no-op outside a runner)."""
    if _RECORD is not None:
        from runbook.secrets import mask_text

        _append(_RECORD, {"phase": phase, "text": mask_text(text, _SECRETS), "at": time.time()})


def state(path: Path) -> tuple[str, dict[str, Any]]:
    """What the record says: ("done", result), ("running", {"pid", "phase"}), ("lost", {"phase"}) or
    ("not_run", {})."""
    recs = read_record(path)
    result = next((r["result"] for r in recs if "result" in r), None)
    if result is not None:
        return "done", result
    runner = next((r for r in recs if "runner" in r), None)
    phases = [r["phase"] for r in recs if "phase" in r]
    phase = phases[-1] if phases else ""
    if runner and still_running(int(runner["runner"]), float(runner.get("created") or 0), slack_s=2.0):
        return "running", {"pid": runner["runner"], "phase": phase}
    if phases:
        return "lost", {"phase": phase}
    return "not_run", {}


def wait(path: Path, proc: subprocess.Popen[bytes] | None, on_phase: Callable[[dict[str, Any]], None] | None = None,
         tick: Callable[[], None] | None = None, poll_s: float = 0.1) -> dict[str, Any]:
    """Wait for the runner's result (its own steps are bounded by the action's timeouts). on_phase gets
    each progress record once; tick runs on every poll."""
    seen = 0
    while True:
        if tick:
            tick()
        recs = read_record(path)
        for r in recs[seen:]:
            if "phase" in r and r.get("text") and on_phase:
                on_phase(r)
        seen = len(recs)
        st, v = state(path)
        if st == "done":
            if proc is not None:
                proc.wait()
            return v
        if st != "running" and (proc is None or proc.poll() is not None):
            what = f"after {v['phase']!r}" if v.get("phase") else "before it began"
            return {"ok": False, "lost": True,
                    "error": f"the action's runner ended without a result ({what}): check the target"}
        time.sleep(poll_s)


def start(record: Path, action: str, target: Any, params: dict[str, Any], timeout: float) -> subprocess.Popen[bytes]:
    """Start the runner for one action, detached from this process and its terminal."""
    record.parent.mkdir(parents=True, exist_ok=True)
    err = open(record.with_suffix(".log"), "ab")
    try:
        # (imported, not run as __main__: the action's progress() is this module's)
        proc = subprocess.Popen([sys.executable, "-c", "import sys; from runbook.engine.runner import main; sys.exit(main())",
                                 str(record)], stdin=subprocess.PIPE,
                                stdout=err, stderr=err, start_new_session=True, close_fds=True)
    finally:
        err.close()
    import psutil

    try:
        created = psutil.Process(proc.pid).create_time()
    except psutil.Error:
        created = time.time()
    _append(record, {"runner": proc.pid, "created": created})
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"action": action, "target": target.to_dict(masked=False), "params": params,
                                 "timeout": timeout, "secrets": sorted(target.secrets())}).encode())
    proc.stdin.close()
    return proc


def main() -> int:
    global _RECORD, _SECRETS
    # The runner finishes what it began: the terminal's signals do not reach it (its own session), and
    # a SIGTERM or SIGHUP sent to it is ignored while it acts (SIGKILL is the only way to stop it).
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    record = Path(sys.argv[1])
    try:
        job = json.loads(sys.stdin.read())
        action, target_d, params, timeout = job["action"], job["target"], job["params"], float(job["timeout"])
    except (ValueError, KeyError, TypeError):
        return 2  # runbook died before it gave the job: nothing began, the record says so
    from runbook import registry
    from runbook.secrets import mask_mapping
    from runbook.targets import Target

    _RECORD, _SECRETS = record, frozenset(job.get("secrets") or ())
    _append(record, {"phase": "began", "at": time.time()})
    try:
        result = registry.ACTIONS[action].impl.run(Target.from_dict(target_d), params, timeout)
    except Exception as e:  # noqa: BLE001 - the record always gets a result
        result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    _append(record, {"result": mask_mapping(result, _SECRETS)})
    return 0

