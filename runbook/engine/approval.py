"""A second person's approval of a break-glass: what the session waits for, and what makes an approval valid.

The driver's break-glass is journalled as `approval_requested` (the action, its command, the guards and their
evidence, the written reason, the evidence digest). Anyone who watches the session (`runbook watch`, `runbook
serve`) sees it and may answer in the approvals file beside the journal; the session reads that file, and an
answer counts only when it names the request, the same evidence digest, the target's name typed in full, and an
approver other than the driver. Nothing here runs anything: the session does, once it is approved, after reading
its guards fresh once more (an approval of other evidence is void)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from runbook.journal import beside

DEFAULT_TIMEOUT_S = 600.0
POLL_S = 0.1


@dataclass(frozen=True)
class ApprovalPolicy:
    required: bool = False  # every break-glass of the session (runbook run --require-approval)
    timeout_s: float | None = None  # None: the playbook's approval_timeout_s, else DEFAULT_TIMEOUT_S
    from_answers: bool = False  # a headless run may take the approval from its answers file

    def to_dict(self) -> dict[str, Any]:
        return {"required": self.required, "timeout_s": self.timeout_s, "from_answers": self.from_answers}


def same_person(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def problem(record: dict[str, Any], request: dict[str, Any]) -> str:
    """Why an answer in the approvals file does not count for this request ("" when it does)."""
    approver = str(record.get("approver") or "").strip()
    if not approver:
        return "it names no approver"
    if same_person(approver, str(request.get("driver") or "")):
        return f"{approver} is the driver: a break-glass is approved by a second person"
    if record.get("decision") not in ("approve", "deny"):
        return f"{approver}'s answer is neither approve nor deny"
    if record.get("decision") == "deny":
        return ""  # a denial needs no more than a name
    if record.get("typed") != request.get("target"):
        return f"{approver} typed {record.get('typed')!r}, not the target's name {request.get('target')!r}"
    if record.get("digest") != request.get("digest"):
        return f"{approver} approved other evidence than the request's"
    return ""


def answer(path: Path, *, request: int, digest: str, approver: str, typed: str, decision: str, where: str,
           note: str = "") -> dict[str, Any]:
    """An approver's answer to the request (the seq of its approval_requested event), appended and fsynced."""
    rec = {"request": request, "decision": decision, "approver": approver.strip(), "typed": typed, "digest": digest,
           "from": where}
    if note:
        rec["note"] = note
    return beside.append(path, rec)


def open_request(events: list[Any]) -> Any:
    """The approval_requested event still waiting for an answer (None when none is)."""
    waiting = None
    for e in events:
        if e.kind == "approval_requested":
            waiting = e
        elif e.kind in ("approval", "approval_refused", "session_ended") and waiting is not None:
            if e.kind == "session_ended" or e.data.get("request") == waiting.seq:
                waiting = None
    return waiting


@dataclass
class Outcome:
    kind: str  # "approved", "denied", "timeout", "cancelled"
    record: dict[str, Any] | None = None


def wait(path: Path, request_seq: int, request: dict[str, Any], timeout_s: float,
         cancelled: Callable[[], bool], stopping: Callable[[], None],
         invalid: Callable[[dict[str, Any], str], None]) -> Outcome:
    """Read the approvals file until a valid answer to the request comes, the driver cancels, or the time is up.
    stopping() raises when the session must stop waiting (its screen went away, a signal); invalid() is told
    of each answer that does not count, once."""
    deadline = time.monotonic() + timeout_s
    seen = 0
    while True:
        records = beside.read(path)
        for rec in records[seen:]:
            if rec.get("request") != request_seq:
                continue
            why = problem(rec, request)
            if why:
                invalid(rec, why)
                continue
            return Outcome("approved" if rec.get("decision") == "approve" else "denied", rec)
        seen = len(records)
        if cancelled():
            return Outcome("cancelled")
        stopping()
        if time.monotonic() >= deadline:
            return Outcome("timeout")
        time.sleep(POLL_S)
