"""Journal events: plain data on the ground floor. Imports nothing of ours."""

from __future__ import annotations

import datetime as _dt
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

# Every kind of event a session can emit.
KINDS = (
    "session_started",
    "session_resumed",
    "step_entered",
    "waiting",
    "call_ended",
    "facts",
    "findings",
    "decision",
    "acknowledged",
    "guard",
    "confirmation",
    "confirmation_void",
    "action_intent",
    "action_result",
    "dry_run",
    "break_glass",
    "approval_requested",  # a break-glass waits for a second person (runbook watch)
    "approval",  # ... who approved it, for that evidence
    "approval_refused",  # ... denied, not given in time, cancelled by the driver, or not valid
    "approval_void",  # an approval whose evidence changed before the action ran
    "blocked",
    "note",
    "session_ended",
)


def utcnow() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Event:
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    step: str | None = None
    ts: str = field(default_factory=utcnow)
    seq: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "kind": self.kind, "step": self.step, "data": self.data}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Event":
        return cls(kind=d["kind"], data=d.get("data") or {}, step=d.get("step"), ts=d["ts"], seq=d.get("seq", 0))


class SignalExit(KeyboardInterrupt):
    """SIGTERM or SIGHUP: stop cleanly (sandboxes stopped, journals closed) and exit 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# Set when SIGTERM or SIGHUP arrives: threads that wait for a person (a session waiting for an answer in
# the TUI) stop waiting, so that the process can end (an interpreter waits for its worker threads).
TERMINATING = threading.Event()


# How long runbook may take to end after SIGTERM or SIGHUP before it ends anyway. The SignalExit raised in
# the main thread can land where it is swallowed or held up (an event loop's shutdown waiting for a worker
# thread): runbook would keep running, and keep its sandbox running, after its terminal went away.
EXIT_GRACE_S = 15.0
# What must be done even then (a sandbox's processes stopped): each called once, from the watchdog thread.
_FORCED_EXIT: list[Callable[[], None]] = []
_watchdog_started = False


def on_forced_exit(fn: Callable[[], None]) -> Callable[[], None]:
    """Have fn run if runbook is still alive EXIT_GRACE_S after a terminating signal; returns its remover."""
    _FORCED_EXIT.append(fn)

    def remove() -> None:
        if fn in _FORCED_EXIT:
            _FORCED_EXIT.remove(fn)

    return remove


def _watchdog(signum: int) -> None:
    import sys
    import time

    time.sleep(EXIT_GRACE_S)  # a clean end takes well under a second; only a stuck one gets here
    try:
        sys.stderr.write(f"runbook: still running {EXIT_GRACE_S:g} s after signal {signum}; ending now\n")
    except (OSError, ValueError):
        pass
    for fn in reversed(list(_FORCED_EXIT)):
        try:
            fn()
        except Exception:  # noqa: BLE001 - the rest still runs, and the process still ends
            pass
    end_now(128 + signum)


def end_now(code: int) -> None:
    """End the process at once, without waiting for worker threads: output flushed and atexit's work (ssh
    masters told to exit) done first."""
    import atexit
    import os
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    atexit._run_exitfuncs()
    os._exit(code)


def terminated(signum: int, frame: object = None) -> None:
    """The handler of SIGTERM and SIGHUP: raise SignalExit, and start the watchdog that ends the process if
    it has not ended EXIT_GRACE_S later. A terminal that goes away (a dropped ssh, a closed tmux) sends
    SIGCONT after SIGHUP; the TUI's own SIGCONT handler would then take the dead terminal back (a reader
    spinning on it, a writer blocked on it: a process that never ends and keeps its sandbox running), so
    from here on SIGCONT does nothing."""
    import signal

    global _watchdog_started
    if hasattr(signal, "SIGCONT"):
        signal.signal(signal.SIGCONT, signal.SIG_DFL)
    TERMINATING.set()
    if not _watchdog_started:
        _watchdog_started = True
        threading.Thread(target=_watchdog, args=(signum,), name="exit-watchdog", daemon=True).start()
    raise SignalExit(signum)
