"""Text from live systems, made safe for a terminal: control characters shown, never obeyed."""

from __future__ import annotations

import re

_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(s: object) -> str:
    """Escape control characters (ANSI escapes, backspaces, bells) so a value cannot drive the terminal."""
    return _CTRL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(s))
