"""The lines of a Redis log that matter (full resyncs, output-buffer disconnects, failed saves...),
counted from the tail of the log, on the server's host (runbook.access)."""

from __future__ import annotations

import os
import re
import time
from typing import Any

from runbook.access import LOCAL, AccessError
from runbook.secrets import mask_text

LOG_PATTERNS = {
    "output_buffer_disconnects": "for overcoming of output buffer limits",
    "partial_resync_refused": "for lack of backlog",
    "bgsave_for_sync": "Starting BGSAVE for SYNC",
    "cannot_attach_bgsave": "Can't attach the replica to the current BGSAVE",
    "full_resync_requested": "Full resync requested by replica",
    "bgsave_errors": "Background saving error",
    "no_master_link": "NOMASTERLINK",
    "overcommit_warning": "Memory overcommit must be enabled",
    "thp_warning": "Transparent Huge Pages",
    "aof_created_on_start": "on server start",
}
LOG_TAIL_BYTES = 512 * 1024


def log_facts(config: dict[str, Any] | None, cwd: str | None, acc: Any = LOCAL) -> dict[str, Any]:
    """Counts and samples of the log lines that matter, from the tail of a readable log file on the
    server's host (acc: this machine, or its host over ssh)."""
    logfile = (config or {}).get("logfile") or ""
    if not logfile:
        return {"readable": False, "reason": "logs go to stdout or syslog"}
    path = logfile if os.path.isabs(logfile) else os.path.join(cwd or "/", logfile)
    try:
        tail = acc.tail(path, LOG_TAIL_BYTES).decode("utf-8", "replace").splitlines()
    except AccessError as e:
        return {"readable": False, "path": path, "reason": str(e)}
    return {"readable": True, "path": path, **({} if acc.local else {"via": acc.name}), **count_log_lines(tail)}


def count_log_lines(tail: list[str]) -> dict[str, Any]:
    """The lines that matter in a log's tail: counts, the last of each (masked), and those of the last
    minute by the line's own time."""
    counts: dict[str, int] = {}
    recent: dict[str, int] = {}  # within RECENT_S of now, by the line's own time
    samples: dict[str, str] = {}
    now = time.time()
    for line in tail:
        for key, needle in LOG_PATTERNS.items():
            if needle in line:
                keys = [key]
                if key == "output_buffer_disconnects" and not _REPLICA_FLAGS.search(line):
                    keys.append("client_output_buffer_disconnects")  # a pub/sub or normal client, not a replica
                at = log_time(line)
                for k in keys:
                    counts[k] = counts.get(k, 0) + 1
                    samples[k] = mask_text(line)
                    if at is not None and now - at <= RECENT_S:
                        recent[k] = recent.get(k, 0) + 1
    return {"counts": counts, "recent": recent, "recent_s": RECENT_S, "samples": samples, "lines_read": len(tail)}


RECENT_S = 60
_REPLICA_FLAGS = re.compile(r" flags=[A-Za-z]*S")  # CLIENT LIST flags of the disconnected client: S is a replica
_LOG_TIME = re.compile(r"^\d+:[A-Z] (\d{1,2} \w{3} \d{4} \d{2}:\d{2}:\d{2})\.(\d{3}) ")


def log_time(line: str) -> float | None:
    """The time of a Redis log line ("1234:M 26 Nov 2026 23:48:30.325 # ..."), written in local time."""
    m = _LOG_TIME.match(line)
    if not m:
        return None
    try:
        return time.mktime(time.strptime(m[1], "%d %b %Y %H:%M:%S")) + int(m[2]) / 1000
    except (ValueError, OverflowError):
        return None
