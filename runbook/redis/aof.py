"""The multi-part AOF on disk (Redis 7): its manifest and whether each file is whole."""

from __future__ import annotations

import os
from typing import Any

from runbook.access import LOCAL, READ_LIMIT, AccessError, is_dir, is_file
from runbook.redis.rdb import RdbError, read_header

MAX_SCAN = 256 * 1024 * 1024


def parse_manifest(path: str, acc: Any = None) -> tuple[list[dict[str, Any]], str]:
    """Lines `file NAME seq N type b|h|i`. Returns (entries, problem)."""
    try:
        data = (acc or LOCAL).read(path, 1024 * 1024)
    except AccessError as e:
        return [], f"cannot read manifest: {e}"
    if not data.strip():
        return [], "manifest is empty: redis-server exits at start (FATAL AOF MANIFEST FILE ERROR)"
    entries = []
    text = data.decode("utf-8", "replace")
    if not text.endswith("\n"):
        return [], "manifest is truncated (no final newline): redis-server exits at start"
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 6 or parts[0] != "file" or parts[2] != "seq" or parts[4] != "type":
            return [], f"manifest line {n} is malformed: redis-server exits at start"
        entries.append({"name": parts[1], "seq": parts[3], "type": parts[5]})
    if not any(e["type"] == "b" for e in entries):
        return entries, "manifest names no base file"
    return entries, ""


def scan_incr(path: str, size: int, acc: Any = None) -> tuple[int, bool]:
    """Count the commands of an AOF incr file; False when its last command is cut short."""
    acc = acc or LOCAL
    if size == 0:
        return 0, True
    if size > (MAX_SCAN if acc.local else READ_LIMIT):
        return -1, True  # too big to scan in a probe (or to bring over ssh); assume whole
    data = acc.read(path, size)
    i, n, count = 0, len(data), 0
    try:
        while i < n:
            if data[i : i + 1] == b"#":  # an annotation (aof-timestamp-enabled writes #TS:...): skipped at load
                i = data.index(b"\n", i) + 1
                continue
            if data[i : i + 1] != b"*":
                return count, False
            j = data.index(b"\r\n", i)
            argc = int(data[i + 1 : j])
            i = j + 2
            for _ in range(argc):
                if data[i : i + 1] != b"$":
                    return count, False
                j = data.index(b"\r\n", i)
                ln = int(data[i + 1 : j])
                i = j + 2 + ln + 2
                if i > n:
                    return count, False
            count += 1
    except ValueError:
        return count, False
    return count, True


def inspect_aof(dir_: str, appenddirname: str, appendfilename: str, acc: Any = None) -> dict[str, Any]:
    """The AOF a start would load from dir_, on the host of acc (this machine by default)."""
    acc = acc or LOCAL
    aof_dir = os.path.join(dir_, appenddirname)
    manifest = os.path.join(aof_dir, appendfilename + ".manifest")
    legacy = os.path.join(dir_, appendfilename)
    st = acc.stat_many([aof_dir, manifest, legacy])
    out: dict[str, Any] = {"dir": aof_dir, "manifest": manifest, "dir_exists": is_dir(st[aof_dir]),
                           "manifest_exists": is_file(st[manifest]), "files": [], "problems": [],
                           "legacy_file": legacy if is_file(st[legacy]) else None, "base_keys": None,
                           "incr_commands": 0, "fatal": False}
    if not out["manifest_exists"]:
        return out
    entries, problem = parse_manifest(manifest, acc)
    if problem:
        out["problems"].append(problem)
        out["fatal"] = "exits" in problem or "no base" in problem
    # history files (type h) are what a rewrite left to delete: redis-server never reads them
    entries = [e for e in entries if e["type"] != "h"]
    files = acc.stat_many([os.path.join(aof_dir, e["name"]) for e in entries])
    for e in entries:
        p = os.path.join(aof_dir, e["name"])
        rec: dict[str, Any] = {"name": e["name"], "type": e["type"], "exists": is_file(files[p])}
        if not rec["exists"]:
            out["problems"].append(f"{e['name']} is missing: redis-server exits at start (Unable to obtain the AOF file length)")
            out["fatal"] = True
            out["files"].append(rec)
            continue
        rec["size_bytes"] = size = files[p]["size"]
        try:
            if e["type"] == "b":
                if e["name"].endswith(".rdb"):
                    try:
                        h = read_header(p, acc)
                        rec["keys"] = h.keys
                        out["base_keys"] = h.keys
                        if not h.ends_with_eof:
                            out["problems"].append(f"base {e['name']} is truncated: redis-server exits at start (Short read)")
                            out["fatal"] = True
                    except RdbError as ex:
                        out["problems"].append(f"base {e['name']} cannot be read: {ex}")
                        out["fatal"] = True
                else:
                    count, whole = scan_incr(p, size, acc)
                    rec["commands"] = count
                    if not whole:
                        out["problems"].append(f"base {e['name']} is truncated: redis-server exits at start")
                        out["fatal"] = True
            elif e["type"] == "i":
                count, whole = scan_incr(p, size, acc)
                rec["commands"] = count
                out["incr_commands"] += max(count, 0)
                if not whole:
                    out["problems"].append(f"incr {e['name']} is cut short: its tail is dropped at start (aof-load-truncated)")
        except AccessError as ex:
            out["problems"].append(f"{e['name']} could not be read: {ex}")
            out["unread"] = True
        out["files"].append(rec)
    return out
