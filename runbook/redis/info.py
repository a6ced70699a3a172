"""Fast parsing of INFO and CONFIG GET replies (the cost of checking many servers is here).

redis-py's own INFO parser builds nested dicts with per-value regex work; we split once and
convert only what looks numeric. Values from the server are data: never interpreted.
"""

from __future__ import annotations

from typing import Any


_NUMERIC_START = frozenset("0123456789-")


def _num(v: str) -> Any:
    if not v or v[0] not in _NUMERIC_START or (v[0] == "-" and not v[1:2].isdigit()):
        return v
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def _kv_list(v: str) -> dict[str, Any]:
    """'ip=127.0.0.1,port=6380,state=online,offset=42,lag=0' -> dict."""
    out: dict[str, Any] = {}
    for part in v.split(","):
        k, sep, val = part.partition("=")
        if sep:
            out[k] = _num(val)
    return out


def parse_info(raw: bytes | str) -> dict[str, Any]:
    """Flat dict of every INFO field; `dbN` and `slaveN` become dicts; `# Section` lines are skipped."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    out: dict[str, Any] = {}
    for line in text.split("\r\n" if "\r\n" in text else "\n"):
        if not line or line[0] == "#":
            continue
        k, sep, v = line.partition(":")
        if not sep:
            continue
        if (k.startswith("db") and k[2:].isdigit()) or (k.startswith("slave") and k[5:].isdigit()):
            out[k] = _kv_list(v)
        else:
            out[k] = _num(v)
    return out


def pairs_to_dict(reply: list[Any] | dict[Any, Any]) -> dict[str, str]:
    if isinstance(reply, dict):
        reply = [x for kv in reply.items() for x in kv]
    words = [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in reply]
    if len(words) % 2:
        words.append("")
    it = iter(words)
    return dict(zip(it, it))


def keyspace(info: dict[str, Any]) -> dict[str, int]:
    return {k: int(v.get("keys", 0)) for k, v in info.items() if k.startswith("db") and k[2:].isdigit() and isinstance(v, dict)}


def replicas(info: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    i = 0
    while f"slave{i}" in info:
        out.append(info[f"slave{i}"])
        i += 1
    return out
