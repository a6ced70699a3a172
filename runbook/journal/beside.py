"""Files beside a session's journal, written by other people than its driver: approvals of a break-glass
(`<session>.approvals.jsonl`, written by `runbook watch`) and the viewers of a session
(`<session>.viewers.jsonl`, written by `runbook watch` and `runbook serve`).

Each is append-only JSON lines, one record written whole per line, fsynced; a line cut short by a crash is
skipped when read. The session reads its approvals file and journals what it made of each record: these files
are what others said, the journal is what the session did with it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from runbook import jsonl
from runbook.events import utcnow

APPROVALS = "approvals"
VIEWERS = "viewers"


def beside(journal: Path, what: str) -> Path:
    """The file of that kind beside a journal: SESSION.approvals.jsonl, SESSION.viewers.jsonl."""
    return journal.with_name(f"{journal.stem}.{what}.jsonl")


def is_beside(path: Path) -> bool:
    """A file beside a journal, not a journal (session ids have no dot)."""
    return "." in path.stem


def append(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    """One record, written whole and fsynced before this returns; `at` (UTC) added when it has none."""
    record = {"at": utcnow(), **record}
    jsonl.append(path, record)
    return record


read = jsonl.read  # every whole record of the file (none when it does not exist yet)


def where_from() -> str:
    """Where this process's person is: the ssh client's address when over ssh, else this host's name."""
    ssh = os.environ.get("SSH_CONNECTION", "").split()
    host = socket.gethostname()
    return f"ssh from {ssh[0]} to {host}" if ssh else f"{host} (local terminal)"
