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
