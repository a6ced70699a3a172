"""The journal: one append-only JSON Lines file per session, flushed and fsynced per event.

A line cut short by a crash (SIGKILL mid-write) is reported and skipped when read;
every whole line before it is kept.
"""

from __future__ import annotations

import json
import os
import secrets as _random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.events import Event
from runbook.secrets import mask_mapping


class JournalError(Exception):
    pass


def state_dir() -> Path:
    """RUNBOOK_STATE_DIR, else $XDG_STATE_HOME/runbook, else ~/.local/state/runbook."""
    env = os.environ.get("RUNBOOK_STATE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "runbook"


def sessions_dir() -> Path:
    return state_dir() / "sessions"


def new_session_id(now: float | None = None) -> str:
    t = time.gmtime(now if now is not None else time.time())
    return time.strftime("%Y%m%dT%H%M%SZ", t) + "-" + _random.token_hex(3)


class Journal:
    """Writer. Each append is one line, written whole, flushed and fsynced before returning."""

    def __init__(self, path: Path, secrets: set[str] | None = None) -> None:
        self.path = path
        self.secrets: set[str] = set(secrets or ())
        path.parent.mkdir(parents=True, exist_ok=True)
        existing = read(path).events if path.exists() else []
        self.seq = existing[-1].seq if existing else 0
        created = not path.exists()
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if created:  # the new file's directory entry is durable too, not only its lines
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        if path.stat().st_size:
            # A crash may have left a half line: start ours on a fresh line.
            with open(path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    os.write(self._fd, b"\n")

    @property
    def session_id(self) -> str:
        return self.path.stem

    def append(self, event: Event) -> Event:
        self.seq += 1
        event.seq = self.seq
        record = mask_mapping(event.to_dict(), frozenset(self.secrets))
        line = (json.dumps(record, ensure_ascii=False, default=str, separators=(",", ":")) + "\n").encode()
        os.write(self._fd, line)
        os.fsync(self._fd)
        event.data = record["data"]  # every listener (screen, transcript, export) gets what the journal got
        return event

    def close(self) -> None:
        try:
            os.close(self._fd)
        except OSError:
            pass


@dataclass
class JournalRead:
    path: Path
    events: list[Event] = field(default_factory=list)
    damaged: list[int] = field(default_factory=list)  # line numbers that could not be read

    @property
    def started(self) -> Event | None:
        return next((e for e in self.events if e.kind == "session_started"), None)

    @property
    def ended(self) -> Event | None:
        return next((e for e in reversed(self.events) if e.kind == "session_ended"), None)

    def summary(self) -> dict[str, Any]:
        st = self.started
        end = self.ended
        last_step = next((e.step for e in reversed(self.events) if e.kind == "step_entered"), None)
        return {
            "session": self.path.stem,
            "started": st.ts if st else "",
            "playbook": (st.data.get("playbook_name") if st else "") or "",
            "mode": (st.data.get("mode") if st else "") or "",
            "status": end.data.get("outcome", "ended") if end else "interrupted",
            "last_step": last_step or "",
            "events": len(self.events),
        }


def read(path: Path) -> JournalRead:
    out = JournalRead(path)
    try:
        with open(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    out.events.append(Event.from_dict(json.loads(raw)))
                except (ValueError, KeyError, TypeError):
                    out.damaged.append(n)
    except OSError as e:
        raise JournalError(f"{path}: cannot read journal: {e.strerror}") from None
    return out


def find(session: str) -> Path:
    """A session by id, unique prefix, or path."""
    p = Path(session)
    if p.suffix == ".jsonl" and p.exists():
        return p
    d = sessions_dir()
    from runbook.journal.beside import is_beside

    matches = sorted(p for p in d.glob(f"{session}*.jsonl") if not is_beside(p)) if d.exists() else []
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise JournalError(f"no session {session!r} in {d}")
    raise JournalError(f"{session!r} matches {len(matches)} sessions; give more of the id")


def list_sessions() -> list[JournalRead]:
    d = sessions_dir()
    if not d.exists():
        return []
    from runbook.journal.beside import is_beside

    return [read(p) for p in sorted(d.glob("*.jsonl")) if not is_beside(p)]
