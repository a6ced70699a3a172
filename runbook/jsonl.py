"""Append-only JSON-lines files: one record written whole per line and fsynced before the call returns; a
line cut short by a crash is skipped when read. The action runner's record and the files beside a journal
(approvals, viewers) are written and read through these.

Ground floor: imports nothing of ours.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def append(path: Path, record: dict[str, Any]) -> None:
    line = (json.dumps(record, ensure_ascii=False, default=str, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read(path: Path) -> list[dict[str, Any]]:
    """Every whole record of the file (none when it does not exist yet)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            v = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash
        if isinstance(v, dict):
            out.append(v)
    return out
