"""Text from live systems, made safe for a terminal: control characters shown, never obeyed."""

from __future__ import annotations

import re

_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(s: object) -> str:
    """Escape control characters (ANSI escapes, backspaces, bells) so a value cannot drive the terminal."""
    return _CTRL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(s))


def human_bytes(n: float | int | None) -> str:
    """4866924743 -> '4.5 GiB'; 16384 -> '16.0 KiB'; 512 -> '512 B'."""
    if n is None:
        return "-"
    v = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(v) < 1024 or unit == "TiB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    return f"{v:.1f} TiB"


def plural(n: int, word: str, many: str = "") -> str:
    """plural(1, 'process', 'processes') -> '1 process'."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def human_value(v: object) -> str:
    """An evidence value for people: integral floats without '.0', big integers with separators, a list one
    item per line; text as it is (never markup, see printable)."""
    if isinstance(v, bool) or v is None:
        return str(v).lower() if isinstance(v, bool) else "-"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        v = int(v)
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if isinstance(v, float):
        return f"{v:,.3f}".rstrip("0").rstrip(".")
    if isinstance(v, (list, tuple)):
        return "\n".join(human_value(x) for x in v)
    if isinstance(v, dict):
        import json

        return json.dumps(v, default=str)
    return str(v)


# Evidence keys whose numbers are names, not quantities (a port is never "57,139"), and keys that are sizes,
# durations or rates. One formatter for every screen, text output and export.
_NAMES = ("port", "pid", "id", "run_id", "process_id", "offset", "seq", "db", "slot", "uid", "gid", "digest",
          "version", "fingerprint", "line", "col", "index", "epoch",
          "overcommit_memory")  # vm.overcommit_memory is a mode (0, 1, 2), not a size
_SIZES = ("used_memory", "used_memory_rss", "used_memory_peak", "used_memory_dataset", "maxmemory", "repl_backlog_size",
          "aof_current_size", "aof_base_size", "aof_buffer_length", "rdb_last_cow_size", "mem_total", "heap_used",
          "heap_max", "heap_committed", "limit", "swap", "size")


def human_duration(s: float) -> str:
    """0.0123 -> '12.3 ms'; 4.2 -> '4.2 s'; 125 -> '2 min 5 s'; 7322 -> '2 h 2 min'."""
    if s < 1:
        return f"{s * 1000:.1f} ms".replace(".0 ms", " ms")
    if s < 60:
        return f"{s:.1f} s".replace(".0 s", " s")
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60)} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60)} min"


def human_field(key: str, v: object) -> str:
    """An evidence value for people, by what its key says it is: a name (port, pid, id: as it is), a size
    (KiB, MiB, GiB), a duration (_s, _ms), a rate (_per_sec) or a count (with separators)."""
    if isinstance(v, (list, tuple)):
        return "\n".join(human_field(key, x) for x in v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return human_value(v)
    k = key.lower().rsplit(".", 1)[-1]
    words = k.split("_")
    if k in _NAMES or words[-1] in _NAMES or words[0] in ("port", "pid"):
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
    if k.endswith("_bytes") or k in _SIZES or k.endswith(("_memory", "_size_bytes")):
        return human_bytes(v) if abs(v) >= 1024 else f"{int(v)} B"
    if k.endswith(("_ms", "_msec")):
        return human_duration(v / 1000)
    if k.endswith(("_s", "_secs", "_seconds", "_age_s")) or k in ("uptime", "duration"):
        return human_duration(float(v))
    if k.endswith(("_per_sec", "_per_s", "ops_per_sec", "_rate")):
        return f"{human_count(v)}/s"
    return human_count(v)


def human_count(v: float | int) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        v = int(v)
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:,.3f}".rstrip("0").rstrip(".")

