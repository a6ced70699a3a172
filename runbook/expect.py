"""The postcondition every action reports: what it should have made true, whether it is, and what was
seen. An action whose expectation is not met has failed, whatever its command answered.

Ground floor: imports nothing of ours.
"""

from __future__ import annotations

from typing import Any


def expect(result: dict[str, Any], what: str, met: bool, seen: Any) -> dict[str, Any]:
    result["expect"] = {"what": what, "met": bool(met), "seen": seen}
    result["ok"] = bool(result.get("ok", True)) and bool(met)
    if not met and not result.get("error"):
        result["error"] = f"expected {what}; saw {seen}"
    return result
