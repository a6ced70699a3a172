"""Timestamps of GC logs: ISO dates with offsets, parsed fast (cached per second)."""

from __future__ import annotations

import datetime as dt

_cache: dict[bytes, float] = {}


def iso_to_epoch(s: bytes) -> float | None:
    """b'2022-11-10T03:37:32.146-0800' -> epoch seconds (None when it is not a date)."""
    if len(s) < 19 or s[4:5] != b"-" or s[10:11] != b"T":
        return None
    head = s[:19]
    tz = b""
    frac = 0.0
    rest = s[19:]
    if rest[:1] in (b".", b","):
        j = 1
        while j < len(rest) and rest[j : j + 1].isdigit():
            j += 1
        try:
            frac = float(b"0." + rest[1:j])
        except ValueError:
            return None
        rest = rest[j:]
    tz = rest
    key = head + tz
    base = _cache.get(key)
    if base is None:
        try:
            txt = (head + tz).decode()
            if len(tz) == 5 and tz[:1] in (b"+", b"-"):
                txt = txt[:-2] + ":" + txt[-2:]
            d = dt.datetime.fromisoformat(txt)
            if d.tzinfo is None:
                d = d.replace(tzinfo=dt.timezone.utc)
            base = d.timestamp()
        except ValueError:
            return None
        if len(_cache) > 100000:
            _cache.clear()
        _cache[key] = base
    return base + frac
